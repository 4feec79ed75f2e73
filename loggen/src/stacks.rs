//! Error types and multi-line stack traces in the style of each service's
//! language, built once at start-up and stored JSON-escaped.

use crate::rng::Rng;
use crate::vocab::Lang;

#[derive(Debug)]
pub struct ErrorSample {
    pub kind: &'static str,
    /// The stack trace, JSON-escaped (`\n`, `\t`, `\"`), so a line stays one line.
    pub stack_json: Vec<u8>,
}

const JAVA: [(&str, &str); 5] = [
    (
        "java.lang.IllegalStateException",
        "Order {n} in unexpected state SHIPPED",
    ),
    (
        "java.lang.NullPointerException",
        "Cannot invoke \"com.example.Customer.getId()\" because \"customer\" is null",
    ),
    (
        "java.sql.SQLTransientConnectionException",
        "HikariPool-1 - Connection is not available, request timed out after 30000ms.",
    ),
    (
        "org.springframework.dao.DataIntegrityViolationException",
        "could not execute statement; constraint [uk_order_ref]",
    ),
    ("java.net.SocketTimeoutException", "Read timed out"),
];
const JAVA_FRAMES: [&str; 8] = [
    "Repository.save",
    "Service.process",
    "Service.validate",
    "Controller.create",
    "Controller.get",
    "Client.call",
    "Mapper.toEntity",
    "Handler.handle",
];

const NODE: [(&str, &str); 4] = [
    ("TypeError", "Cannot read properties of undefined (reading 'id')"),
    ("Error", "connect ECONNREFUSED 10.0.3.17:5432"),
    ("RangeError", "Invalid array length"),
    (
        "FetchError",
        "request to https://payments.internal/charge failed, reason: socket hang up",
    ),
];
const NODE_FRAMES: [&str; 6] = [
    "handler",
    "validateRequest",
    "loadUser",
    "processTicksAndRejections",
    "Router.handle",
    "next",
];

const PYTHON: [(&str, &str); 4] = [
    ("KeyError", "'user_id'"),
    ("ValueError", "invalid literal for int() with base 10: 'abc'"),
    ("TimeoutError", "timed out"),
    (
        "ConnectionError",
        "HTTPSConnectionPool(host='search.internal', port=443): Max retries exceeded",
    ),
];
const PYTHON_FRAMES: [(&str, &str); 5] = [
    ("handle", "result = service.process(event)"),
    ("process", "doc = self.index.lookup(key)"),
    ("lookup", "return self._client.get(key, timeout=self.timeout)"),
    ("score", "features = build_features(user, items)"),
    ("send", "resp = session.post(url, json=payload)"),
];

const GO: [(&str, &str); 3] = [
    (
        "runtime.Error",
        "runtime error: invalid memory address or nil pointer dereference",
    ),
    ("context.DeadlineExceeded", "context deadline exceeded"),
    (
        "runtime.Error",
        "runtime error: index out of range [3] with length 3",
    ),
];
const GO_FRAMES: [&str; 5] = [
    "(*Handler).Ship",
    "(*Client).Quote",
    "(*Store).Load",
    "routeLabel",
    "main.run",
];

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn stack_text(lang: Lang, service: &str, kind: &str, message: &str, rng: &mut Rng) -> String {
    use std::fmt::Write as _;
    let frames = 3 + rng.below(5) as usize;
    let mut s = String::new();
    match lang {
        Lang::Java => {
            let class = capitalize(service);
            let _ = write!(s, "{kind}: {message}");
            for _ in 0..frames {
                let f = rng.pick(&JAVA_FRAMES);
                let (cls, method) = f.split_once('.').unwrap_or((f, "run"));
                let _ = write!(
                    s,
                    "\n\tat com.example.{service}.{class}{cls}.{method}({class}{cls}.java:{})",
                    rng.range(20, 400)
                );
            }
            s.push_str("\n\tat java.base/java.lang.Thread.run(Thread.java:840)");
        }
        Lang::Node => {
            let _ = write!(s, "{kind}: {message}");
            for _ in 0..frames {
                let _ = write!(
                    s,
                    "\n    at {} (/app/src/{service}/{}.js:{}:{})",
                    rng.pick(&NODE_FRAMES),
                    rng.pick(&["index", "routes", "db", "client"]),
                    rng.range(5, 300),
                    rng.range(3, 40)
                );
            }
        }
        Lang::Python => {
            s.push_str("Traceback (most recent call last):");
            for _ in 0..frames {
                let (func, code) = rng.pick(&PYTHON_FRAMES);
                let _ = write!(
                    s,
                    "\n  File \"/app/{service}/{}.py\", line {}, in {func}\n    {code}",
                    rng.pick(&["handlers", "service", "index", "client"]),
                    rng.range(10, 400)
                );
            }
            let _ = write!(s, "\n{kind}: {message}");
        }
        Lang::Go => {
            let _ = write!(
                s,
                "panic: {message}\n\ngoroutine {} [running]:",
                rng.range(1, 900)
            );
            for _ in 0..frames {
                let _ = write!(
                    s,
                    "\nmain.{}(...)\n\t/app/{service}/{}.go:{} +0x{:x}",
                    rng.pick(&GO_FRAMES),
                    rng.pick(&["handler", "client", "store"]),
                    rng.range(10, 400),
                    rng.range(16, 900)
                );
            }
        }
    }
    s
}

/// JSON string escaping for ASCII text.
pub fn json_escape(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 16);
    for b in text.bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
    out
}

/// `count` error samples for one service.
pub fn samples(lang: Lang, service: &str, count: usize, rng: &mut Rng) -> Vec<ErrorSample> {
    let kinds: &[(&'static str, &str)] = match lang {
        Lang::Java => &JAVA,
        Lang::Node => &NODE,
        Lang::Python => &PYTHON,
        Lang::Go => &GO,
    };
    (0..count)
        .map(|_| {
            let (kind, message) = rng.pick(kinds);
            let message = message.replace("{n}", &rng.range(1000, 99_999).to_string());
            let text = stack_text(lang, service, kind, &message, rng);
            ErrorSample {
                kind,
                stack_json: json_escape(&text),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_are_multi_line_but_escaped_onto_one() {
        let mut rng = Rng::new(2);
        for lang in [Lang::Java, Lang::Node, Lang::Python, Lang::Go] {
            for s in samples(lang, "orders", 4, &mut rng) {
                let json = String::from_utf8(s.stack_json).unwrap();
                assert!(!json.contains('\n') && json.contains("\\n"), "{json}");
                let back: String = serde_json::from_str(&format!("\"{json}\"")).unwrap();
                assert!(back.lines().count() >= 3);
            }
        }
    }
}
