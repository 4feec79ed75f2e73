//! Plain-text application lines in the shapes `parse` is written for: glob
//! (`<ts> [LEVEL] message`, `user=…, method:…, latency := 216`), regex,
//! logfmt, CSV rows, AWS SDK errors with `Status Code: 404;`, ENI ids, URLs,
//! embedded JSON payloads and IPv4 addresses. Shapes that are a bare record
//! (the `user=` line, CSV) carry no timestamp of their own, as such lines do.

use super::vpc_flow::ENIS;
use super::LineGen;
use crate::clock::{self, Clock};
use crate::emit;
use crate::rng::{Rng, Weighted};
use crate::vocab::{self, Messages, Route, FIRST_NAMES, LEVELS};

const METHODS: [&str; 5] = ["GET", "GET", "POST", "PUT", "DELETE"];
const EXCEPTIONS: [&str; 4] = [
    "DataIntegrityException",
    "TimeoutException",
    "IllegalArgumentException",
    "ResourceNotFoundException",
];
const SDK_ERRORS: [(u64, &str, &str); 6] = [
    (400, "InvalidRequest", "The request is invalid."),
    (403, "AccessDenied", "Access Denied"),
    (404, "NoSuchKey", "The specified key does not exist."),
    (
        409,
        "BucketAlreadyOwnedByYou",
        "Your previous request to create the named bucket succeeded.",
    ),
    (
        500,
        "InternalError",
        "We encountered an internal error. Please try again.",
    ),
    (503, "SlowDown", "Please reduce your request rate."),
];

pub struct AppText {
    rng: Rng,
    clock: Clock,
    shapes: Weighted,
    levels: Weighted,
    messages: Messages,
    routes: Vec<Route>,
    route_weights: Weighted,
}

impl AppText {
    pub fn new(seed: u64, start_ms: i64, mean_gap_ms: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut setup = rng.fork();
        let (routes, route_weights) = vocab::routes(&mut setup);
        AppText {
            messages: Messages::requests(&mut setup),
            rng,
            clock: Clock::new(start_ms, mean_gap_ms),
            shapes: Weighted::new([30, 12, 15, 10, 8, 5, 8, 6, 6]),
            levels: vocab::levels(),
            routes,
            route_weights,
        }
    }
}

impl LineGen for AppText {
    fn line(&mut self, buf: &mut Vec<u8>) {
        let rng = &mut self.rng;
        let ts = self.clock.tick(rng);
        let level = self.levels.sample(rng);
        match self.shapes.sample(rng) {
            0 => {
                clock::iso_ms(buf, ts);
                buf.extend_from_slice(b" [");
                buf.extend_from_slice(LEVELS[level].as_bytes());
                buf.extend_from_slice(b"] ");
                if level == 2 && rng.per_mille(500) {
                    buf.extend_from_slice(b"{foo=");
                    emit::u64(buf, rng.range(1, 9));
                    buf.extend_from_slice(b", bar=");
                    buf.extend_from_slice(rng.pick(&["data", "cache", "queue"]).as_bytes());
                    buf.extend_from_slice(b"} The error was: ");
                    buf.extend_from_slice(rng.pick(&EXCEPTIONS).as_bytes());
                } else {
                    self.messages.pick(level, rng).render(buf, rng, false, "");
                }
            }
            1 => {
                buf.extend_from_slice(b"user=");
                buf.extend_from_slice(rng.pick(&FIRST_NAMES[..8]).as_bytes());
                buf.extend_from_slice(b", method:");
                buf.extend_from_slice(rng.pick(&METHODS).as_bytes());
                buf.extend_from_slice(b", latency := ");
                emit::u64(buf, rng.lognormal(150.0, 0.7) as u64 + 1);
            }
            2 => {
                buf.extend_from_slice(b"ts=");
                clock::iso_ms(buf, ts);
                buf.extend_from_slice(b" level=");
                buf.extend_from_slice(["info", "warn", "error", "debug"][level].as_bytes());
                buf.extend_from_slice(b" msg=\"");
                // logfmt escapes quotes inside a quoted value with a backslash, as JSON does.
                self.messages.pick(level, rng).render(buf, rng, true, "");
                buf.extend_from_slice(b"\" duration=");
                emit::u64(buf, rng.lognormal(30.0, 1.0) as u64 + 1);
                let route = &self.routes[self.route_weights.sample(rng)];
                buf.extend_from_slice(b"ms method=");
                buf.extend_from_slice(route.method.as_bytes());
                buf.extend_from_slice(b" path=");
                route.write_path(buf, rng);
                buf.extend_from_slice(b" status=");
                emit::u64(buf, [200, 404, 500, 200][level]);
            }
            3 => {
                let route = &self.routes[self.route_weights.sample(rng)];
                buf.extend_from_slice(b"web-");
                emit::u64(buf, rng.range(1, 4));
                buf.push(b',');
                buf.extend_from_slice(route.method.as_bytes());
                buf.push(b',');
                route.write_path(buf, rng);
                buf.push(b',');
                emit::u64(buf, [200, 404, 500, 200][level]);
                buf.push(b',');
                emit::u64(buf, rng.lognormal(40.0, 0.9) as u64 + 1);
            }
            4 => {
                let (code, error, text) = rng.pick(&SDK_ERRORS);
                clock::iso_ms(buf, ts);
                buf.extend_from_slice(if code >= 500 { b" ERROR " } else { b" WARN " });
                buf.extend_from_slice(b"S3 request failed: ");
                buf.extend_from_slice(text.as_bytes());
                buf.extend_from_slice(b" (Service: Amazon S3; Status Code: ");
                emit::u64(buf, code);
                buf.extend_from_slice(b"; Error Code: ");
                buf.extend_from_slice(error.as_bytes());
                buf.extend_from_slice(b"; Request ID: ");
                emit::hex_upper(buf, rng.next_u64(), 16);
                buf.extend_from_slice(b"; Proxy: null)");
            }
            5 => {
                clock::iso_ms(buf, ts);
                buf.extend_from_slice(b" INFO Attached network interface ");
                buf.extend_from_slice(rng.pick(&ENIS).as_bytes());
                buf.extend_from_slice(b" to instance i-0");
                emit::hex(buf, rng.next_u64(), 16);
                buf.extend_from_slice(b" in subnet subnet-0");
                emit::hex(buf, rng.below(4), 16);
            }
            6 => {
                clock::iso_ms(buf, ts);
                buf.extend_from_slice(b" INFO ");
                buf.extend_from_slice(rng.pick(&METHODS).as_bytes());
                buf.extend_from_slice(b" status=");
                emit::u64(buf, [200, 404, 500, 200][level]);
                buf.extend_from_slice(b" url=/api/");
                buf.extend_from_slice(rng.pick(&["v1", "v2", "v2", "v3"]).as_bytes());
                buf.extend_from_slice(b"/users/");
                emit::u64(buf, rng.range(1, 99_999));
            }
            7 => {
                clock::iso_ms(buf, ts);
                buf.extend_from_slice(b" INFO ");
                let action = rng.pick(&["login", "logout", "update_profile"]);
                buf.extend_from_slice(action.as_bytes());
                buf.extend_from_slice(b" payload={\"user\":{\"name\":\"");
                buf.extend_from_slice(rng.pick(&FIRST_NAMES).as_bytes());
                buf.extend_from_slice(b"\",\"id\":");
                emit::u64(buf, rng.range(1, 5000));
                buf.extend_from_slice(b"},\"action\":\"");
                buf.extend_from_slice(action.as_bytes());
                buf.extend_from_slice(b"\"}");
            }
            _ => {
                clock::iso_ms(buf, ts);
                buf.extend_from_slice(b" WARN Blocked ");
                emit::u64(buf, rng.range(1, 50));
                buf.extend_from_slice(b" requests from 198.51.100.");
                emit::u64(buf, rng.range(1, 20));
                buf.extend_from_slice(b" via 10.0.");
                emit::u64(buf, rng.below(8));
                buf.push(b'.');
                emit::u64(buf, rng.range(4, 250));
            }
        }
        buf.push(b'\n');
    }
}
