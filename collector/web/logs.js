// A trace's log lines: the events of the local log store that carry its trace id, oldest
// first, each with its stream and time, and the logq command that finds the same lines.

import {h, fill} from './dom.js';
import {ApiError, Unavailable, logs} from './api.js';
import {clockMs, dateTime} from './format.js';

export class TraceLogs {
  constructor() {
    this.root = document.getElementById('logs');
    this.sequence = 0;
  }

  /** Loads and shows the log lines of `traceId`. */
  async load(traceId) {
    const sequence = ++this.sequence;
    fill(this.root, h('p', {class: 'note', text: 'Loading log lines…'}));
    let answer;
    try {
      answer = await logs(traceId);
    } catch (error) {
      if (sequence !== this.sequence) return;
      const text = error instanceof Unavailable
        ? 'This collector does not serve log lines (it has no /ui/api/logs).'
        : `Could not load log lines: ${error instanceof ApiError ? error.message : String(error)}`;
      fill(this.root, h('p', {class: 'note', text}));
      return;
    }
    if (sequence !== this.sequence) return;
    const events = Array.isArray(answer.Events) ? answer.Events : [];
    const parts = [];
    if (answer.Logq) parts.push(command(String(answer.Logq)));
    if (!events.length) {
      parts.push(h('p', {class: 'note', text: 'No log lines carry this trace id in the local log store.'}));
    } else {
      const forms = idForms(traceId);
      parts.push(h('ol', {class: 'log-lines'}, events.map((event) => line(event, forms))));
    }
    const notes = [];
    if (answer.Truncated) notes.push(`Showing the first ${events.length} lines; run the command for all of them.`);
    if (answer.UnreadableChunks) notes.push(`${answer.UnreadableChunks} chunks of the store could not be read.`);
    if (notes.length) parts.push(h('p', {class: 'note', text: notes.join(' ')}));
    fill(this.root, parts);
  }
}

/** `message` as text nodes, with the trace id's forms marked. */
function marked(message, forms) {
  // ASCII only: toLowerCase() may change the length of other characters, and so the offsets.
  const lower = message.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const out = [];
  let at = 0;
  while (at < message.length) {
    let next = -1;
    let length = 0;
    for (const form of forms) {
      const found = lower.indexOf(form, at);
      if (found !== -1 && (next === -1 || found < next)) {
        next = found;
        length = form.length;
      }
    }
    if (next === -1) break;
    out.push(message.slice(at, next), h('mark', {text: message.slice(next, next + length)}));
    at = next + length;
  }
  out.push(message.slice(at));
  return out;
}

/** The forms a trace id takes in log lines: 1-xxxxxxxx-xxx… and its 32 hex digits. */
function idForms(traceId) {
  const lower = traceId.toLowerCase();
  const forms = [lower];
  const hex = lower.slice(2).replace(/-/g, '');
  if (/^[0-9a-f]{32}$/.test(hex)) forms.push(hex);
  return forms;
}

function line(event, forms) {
  const group = String(event.LogGroup ?? '');
  const stream = String(event.LogStream ?? '');
  const time = Number(event.Timestamp);
  return h('li', {class: 'log-line', 'data-log': ''},
    h('span', {class: 'log-time', text: Number.isFinite(time) ? clockMs(time) : '', title: Number.isFinite(time) ? dateTime(time / 1000) : ''}),
    h('span', {class: 'log-stream', text: stream || group, title: `${group} ${stream}`}),
    h('span', {class: 'log-message'}, marked(String(event.Message ?? ''), forms)));
}

/** The logq command in a box with a copy button. */
function command(text) {
  const code = h('code', {id: 'logq', text});
  const button = h('button', {type: 'button', class: 'copy', text: 'Copy'});
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch {
      // No clipboard access (an insecure origin): select the text for the user to copy.
      const range = document.createRange();
      range.selectNodeContents(code);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      button.textContent = 'Selected';
    }
    setTimeout(() => { button.textContent = 'Copy'; }, 1500);
  });
  return h('div', {class: 'command'}, h('span', {class: 'prompt', text: '$'}), code, button);
}
