"""A small headless-Chromium driver over the DevTools protocol, for the web page's tests.

Usage: browser.py URL SCRIPT.json OUTDIR

SCRIPT.json is a list of steps, run in order:
  {"wait": "CSS selector", "timeout": 10}    until an element matches (polled, with a deadline)
  {"until": "JS expression", "timeout": 10}  until the expression is truthy (polled likewise)
  {"click": "CSS selector"}                  a real mouse click at the element's centre (or a
                                             dispatched click event when something covers it)
  {"drag": "CSS selector", "from": [x, y], "to": [x, y]}
                                             press, move and release, offsets from the
                                             element's top-left corner
  {"type": "CSS selector", "text": "...", "enter": true}
                                             replaces the field's text by typing, then Enter
  {"screenshot": "name.png"}                 saved into OUTDIR
  {"texts": "CSS selector", "as": "key"}     the textContent of every match, as a list
  {"eval": "JS expression", "as": "key"}     its value (promises awaited)

Prints one JSON object: the collected values by key, plus "console_errors" (console.error
calls and uncaught exceptions), "log_errors" (the browser's own error messages other than
failed requests, such as Content-Security-Policy violations) and "dialogs" (alert, confirm,
prompt: each dismissed and recorded). A wait that times out, or a step that cannot run, exits
with status 1 and a message on stderr holding the start of the page's text; the JSON printed
then has "error" and a screenshot "failure.png" is saved. Chromium is always killed at the end.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
START_TIMEOUT_S = 30
COMMAND_TIMEOUT_S = 30
DEFAULT_WAIT_S = 10
POLL_INTERVAL_S = 0.05


class StepFailed(Exception):
    pass


class Browser:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="skywatch-browser-")
        # A file, not a pipe nobody reads: chromium would block once the pipe is full.
        self.stderr = open(os.path.join(self.profile, "chromium.log"), "wb")
        self.process = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--remote-debugging-port=0", "--user-data-dir=" + self.profile,
             "--window-size=1280,800", "--no-first-run", "--no-default-browser-check",
             "--hide-scrollbars", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr)
        self.ws = None
        self.next_id = 0
        self.console_errors = []
        self.log_errors = []
        self.dialogs = []
        self.loaded = False

    def start(self):
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + START_TIMEOUT_S
        port = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                with open(self.stderr.name, "rb") as log:
                    tail = log.read().decode(errors="replace")[-2000:]
                raise StepFailed("chromium exited with status %s: %s" % (self.process.returncode, tail))
            try:
                with open(port_file) as f:
                    first = f.readline().strip()
                if first:
                    port = int(first)
                    break
            except (FileNotFoundError, ValueError):
                pass
            time.sleep(POLL_INTERVAL_S)
        if port is None:
            raise StepFailed("chromium did not write %s within %d s" % (port_file, START_TIMEOUT_S))
        with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=10) as answer:
            targets = json.load(answer)
        page = next((t for t in targets if t.get("type") == "page"), None)
        if page is None:
            raise StepFailed("chromium has no page target: %s" % targets)
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=COMMAND_TIMEOUT_S,
                                              suppress_origin=True)
        for domain in ("Runtime", "Page", "Log"):
            self.call(domain + ".enable")
        # The window size includes the (invisible) browser UI: pin the page's own viewport.
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})

    # ----- the protocol -----

    def send(self, method, params=None):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params or {}}))
        return self.next_id

    def call(self, method, params=None, timeout=COMMAND_TIMEOUT_S):
        """Sends a command and returns its result, handling the events that arrive meanwhile."""
        sent = self.send(method, params)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise StepFailed("no answer to %s within %d s" % (method, timeout))
            message = self.receive(left)
            if message is None:
                continue
            if message.get("id") == sent:
                if "error" in message:
                    raise StepFailed("%s failed: %s" % (method, message["error"].get("message")))
                return message.get("result", {})

    def receive(self, timeout):
        self.ws.settimeout(max(0.01, timeout))
        try:
            message = json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            return None
        if "method" in message:
            self.event(message["method"], message.get("params", {}))
        return message

    def pump(self, seconds):
        """Handles events for up to `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.receive(deadline - time.monotonic())

    def event(self, method, params):
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            texts = []
            for arg in params.get("args", []):
                texts.append(str(arg.get("value", arg.get("description", ""))))
            self.console_errors.append(" ".join(texts))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exception = details.get("exception", {})
            self.console_errors.append(exception.get("description") or details.get("text", "exception"))
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            if entry.get("level") == "error" and entry.get("source") != "network":
                self.log_errors.append(entry.get("text", ""))
        elif method == "Page.javascriptDialogOpening":
            self.dialogs.append({"type": params.get("type"), "message": params.get("message")})
            # Answered without waiting: the page is blocked until it is.
            self.send("Page.handleJavaScriptDialog", {"accept": False})
        elif method == "Page.loadEventFired":
            self.loaded = True

    def evaluate(self, expression, timeout=COMMAND_TIMEOUT_S):
        result = self.call("Runtime.evaluate", {
            "expression": expression, "returnByValue": True, "awaitPromise": True,
            "userGesture": True}, timeout=timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise StepFailed("evaluating %s threw: %s" % (expression[:200], text))
        return result.get("result", {}).get("value")

    # ----- steps -----

    def navigate(self, url):
        self.loaded = False
        self.call("Page.navigate", {"url": url})
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.loaded:
            left = deadline - time.monotonic()
            if left <= 0:
                raise StepFailed("%s did not finish loading within %d s" % (url, START_TIMEOUT_S))
            self.receive(left)

    def page_text(self):
        try:
            text = self.evaluate("document.body ? document.body.innerText : ''", timeout=5) or ""
        except (StepFailed, websocket.WebSocketException):
            return "(the page's text could not be read)"
        text = text.strip()
        return text[:1500] + ("…" if len(text) > 1500 else "")

    def wait(self, selector, timeout):
        deadline = time.monotonic() + timeout
        probe = "document.querySelector(%s) !== null" % json.dumps(selector)
        while True:
            if self.evaluate(probe):
                return
            if time.monotonic() >= deadline:
                raise StepFailed("timed out after %s s waiting for %s; the page says:\n%s"
                                 % (timeout, selector, self.page_text()))
            self.pump(POLL_INTERVAL_S)

    def until(self, expression, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if self.evaluate(expression):
                return
            if time.monotonic() >= deadline:
                raise StepFailed("timed out after %s s waiting until %s; the page says:\n%s"
                                 % (timeout, expression, self.page_text()))
            self.pump(POLL_INTERVAL_S)

    def box(self, selector):
        """The element's viewport rectangle, after scrolling it into view; fails when absent."""
        rect = self.evaluate("""(() => {
            const el = document.querySelector(%s);
            if (!el) return null;
            if (el.scrollIntoViewIfNeeded) el.scrollIntoViewIfNeeded(); else el.scrollIntoView({block: 'center'});
            const r = el.getBoundingClientRect();
            return {x: r.left, y: r.top, width: r.width, height: r.height,
                    vw: innerWidth, vh: innerHeight};
        })()""" % json.dumps(selector))
        if rect is None:
            raise StepFailed("no element matches %s; the page says:\n%s" % (selector, self.page_text()))
        return rect

    def mouse(self, kind, x, y, buttons):
        self.call("Input.dispatchMouseEvent", {
            "type": kind, "x": x, "y": y, "button": "left", "buttons": buttons,
            "clickCount": 1 if kind != "mouseMoved" else 0})

    def click(self, selector):
        rect = self.box(selector)
        x = rect["x"] + rect["width"] / 2
        y = rect["y"] + rect["height"] / 2
        # A real click when the element itself is what the pointer would hit there.
        reachable = 0 <= x < rect["vw"] and 0 <= y < rect["vh"] and self.evaluate("""(() => {
            const el = document.querySelector(%s);
            const hit = document.elementFromPoint(%f, %f);
            return Boolean(hit && (el === hit || el.contains(hit)));
        })()""" % (json.dumps(selector), x, y))
        if reachable:
            self.mouse("mouseMoved", x, y, 0)
            self.mouse("mousePressed", x, y, 1)
            self.mouse("mouseReleased", x, y, 0)
        else:
            self.evaluate("""document.querySelector(%s).dispatchEvent(
                new MouseEvent('click', {bubbles: true, cancelable: true, view: window}))"""
                          % json.dumps(selector))

    def drag(self, selector, start, end):
        rect = self.box(selector)
        x0, y0 = rect["x"] + start[0], rect["y"] + start[1]
        x1, y1 = rect["x"] + end[0], rect["y"] + end[1]
        self.mouse("mouseMoved", x0, y0, 0)
        self.mouse("mousePressed", x0, y0, 1)
        steps = 8
        for i in range(1, steps + 1):
            self.mouse("mouseMoved", x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps, 1)
        self.mouse("mouseReleased", x1, y1, 0)

    def type(self, selector, text, enter):
        found = self.evaluate("""(() => {
            const el = document.querySelector(%s);
            if (!el) return false;
            el.focus();
            if ('value' in el) { el.value = ''; el.dispatchEvent(new Event('input', {bubbles: true})); }
            return true;
        })()""" % json.dumps(selector))
        if not found:
            raise StepFailed("no element matches %s; the page says:\n%s" % (selector, self.page_text()))
        if text:
            self.call("Input.insertText", {"text": text})
        if enter:
            key = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13}
            self.call("Input.dispatchKeyEvent", dict(key, type="keyDown", text="\r"))
            self.call("Input.dispatchKeyEvent", dict(key, type="keyUp"))

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            if self.ws is not None:
                self.ws.close()
        except Exception:
            pass
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)


def run(browser, url, steps, outdir, collected):
    browser.start()
    browser.navigate(url)
    for number, step in enumerate(steps, 1):
        try:
            if "wait" in step:
                browser.wait(step["wait"], float(step.get("timeout", DEFAULT_WAIT_S)))
            elif "until" in step:
                browser.until(step["until"], float(step.get("timeout", DEFAULT_WAIT_S)))
            elif "click" in step:
                browser.click(step["click"])
            elif "drag" in step:
                browser.drag(step["drag"], step.get("from", [0, 0]), step.get("to", [0, 0]))
            elif "type" in step:
                browser.type(step["type"], step.get("text", ""), bool(step.get("enter")))
            elif "screenshot" in step:
                browser.screenshot(os.path.join(outdir, step["screenshot"]))
            elif "texts" in step:
                collected[step.get("as", step["texts"])] = browser.evaluate(
                    "Array.from(document.querySelectorAll(%s), e => e.textContent)" % json.dumps(step["texts"]))
            elif "eval" in step:
                collected[step.get("as", step["eval"])] = browser.evaluate(step["eval"])
            else:
                raise StepFailed("unknown step %s" % json.dumps(step))
        except StepFailed as e:
            raise StepFailed("step %d %s: %s" % (number, json.dumps(step), e)) from None
    # Let events already sent (a late console error, a dialog) arrive.
    browser.pump(0.2)


def main():
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    url, script, outdir = sys.argv[1:]
    with open(script) as f:
        steps = json.load(f)
    os.makedirs(outdir, exist_ok=True)
    collected = {}
    browser = Browser()
    status = 0
    try:
        run(browser, url, steps, outdir, collected)
    except (StepFailed, websocket.WebSocketException, OSError) as e:
        status = 1
        collected["error"] = str(e)
        sys.stderr.write("browser.py: %s\n" % e)
        try:
            browser.screenshot(os.path.join(outdir, "failure.png"))
        except Exception:
            pass
    finally:
        browser.close()
    collected["console_errors"] = browser.console_errors
    collected["log_errors"] = browser.log_errors
    collected["dialogs"] = browser.dialogs
    print(json.dumps(collected))
    return status


if __name__ == "__main__":
    sys.exit(main())
