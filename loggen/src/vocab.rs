//! Words the generators share: services, routes, user agents, people, and
//! message templates.
//!
//! Templates are written JSON-escaped (`\"` for a quote). A template keeps two
//! renderings of each literal, escaped for JSON lines and plain for text
//! lines, so neither path escapes at run time. Placeholders: `{n}` 1–999,
//! `{N}` 1000–999999, `{ms}` a duration, `{id}` 8 hex digits, `{user}` a
//! first name, `{ip}` a public IPv4, `{pct}` 50–99, `{word}` a search word,
//! `{field}` a field name, `{cents}` 00–99, `{job}` the current job's name.
//! `{e}` is not a placeholder: a template containing it is expanded at start-up
//! into one template per entity, which is how a hundred lines of source give
//! a few hundred distinct messages.

use crate::emit;
use crate::rng::{Rng, Weighted};

pub const ENTITIES: [&str; 8] = [
    "order", "user", "cart", "product", "payment", "invoice", "shipment", "session",
];

pub const FIRST_NAMES: [&str; 40] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj",
    "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yasmin", "zoe", "liam", "noah",
    "emma", "ava", "mia", "lucas", "mateo", "sofia", "chen", "wei", "hiro", "yuki", "arjun", "priya", "omar",
    "fatima", "lars", "ingrid", "diego",
];

const WORDS: [&str; 16] = [
    "red shoes",
    "laptop",
    "coffee",
    "usb-c cable",
    "desk lamp",
    "headphones",
    "backpack",
    "monitor",
    "keyboard",
    "water bottle",
    "sunglasses",
    "tent",
    "yoga mat",
    "phone case",
    "charger",
    "notebook",
];

const FIELDS: [&str; 8] = [
    "email", "quantity", "address", "currency", "sku", "zip", "phone", "name",
];

pub const JOBS: [&str; 8] = [
    "invoice-sweeper",
    "email-digest",
    "search-reindex",
    "cart-expiry",
    "report-builder",
    "payment-reconcile",
    "image-resize",
    "audit-export",
];

/// How a service's code fails: picks the shape of its stack traces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Java,
    Node,
    Python,
    Go,
}

#[derive(Debug)]
pub struct Service {
    pub name: &'static str,
    /// Median request latency in ms and the log-normal shape.
    pub median_ms: f64,
    pub sigma: f64,
    pub lang: Lang,
}

pub const SERVICES: [Service; 10] = [
    Service {
        name: "auth",
        median_ms: 12.0,
        sigma: 0.6,
        lang: Lang::Node,
    },
    Service {
        name: "orders",
        median_ms: 45.0,
        sigma: 0.7,
        lang: Lang::Java,
    },
    Service {
        name: "payments",
        median_ms: 120.0,
        sigma: 0.6,
        lang: Lang::Java,
    },
    Service {
        name: "inventory",
        median_ms: 30.0,
        sigma: 0.5,
        lang: Lang::Java,
    },
    Service {
        name: "search",
        median_ms: 80.0,
        sigma: 0.8,
        lang: Lang::Python,
    },
    Service {
        name: "users",
        median_ms: 20.0,
        sigma: 0.5,
        lang: Lang::Node,
    },
    Service {
        name: "cart",
        median_ms: 25.0,
        sigma: 0.6,
        lang: Lang::Node,
    },
    Service {
        name: "shipping",
        median_ms: 60.0,
        sigma: 0.7,
        lang: Lang::Go,
    },
    Service {
        name: "notifications",
        median_ms: 35.0,
        sigma: 0.9,
        lang: Lang::Python,
    },
    Service {
        name: "recommendations",
        median_ms: 150.0,
        sigma: 0.8,
        lang: Lang::Python,
    },
];

/// REST resources and the index into [`SERVICES`] that serves each.
const RESOURCES: [(&str, usize); 20] = [
    ("orders", 1),
    ("users", 5),
    ("carts", 6),
    ("products", 3),
    ("payments", 2),
    ("invoices", 2),
    ("shipments", 7),
    ("reviews", 9),
    ("sessions", 0),
    ("accounts", 5),
    ("coupons", 6),
    ("wishlists", 6),
    ("addresses", 5),
    ("refunds", 2),
    ("notifications", 8),
    ("subscriptions", 8),
    ("stores", 3),
    ("categories", 4),
    ("recommendations", 9),
    ("returns", 7),
];

/// (method, path before the id, whether an id follows, path after the id)
const ROUTE_SHAPES: [(&str, &str, bool, &str); 10] = [
    ("GET", "/api/", false, ""),
    ("GET", "/api/", true, ""),
    ("POST", "/api/", false, ""),
    ("PUT", "/api/", true, ""),
    ("DELETE", "/api/", true, ""),
    ("GET", "/api/", true, "/items"),
    ("GET", "/api/v1/", true, ""),
    ("GET", "/api/v2/", false, ""),
    ("PATCH", "/api/", true, ""),
    ("GET", "/api/", true, "/history"),
];

#[derive(Debug)]
pub struct Route {
    pub method: &'static str,
    /// The path up to the numeric id (or all of it when there is none).
    pub head: Vec<u8>,
    pub has_id: bool,
    pub tail: Vec<u8>,
    pub service: usize,
}

impl Route {
    #[inline]
    pub fn write_path(&self, buf: &mut Vec<u8>, rng: &mut Rng) {
        buf.extend_from_slice(&self.head);
        if self.has_id {
            emit::u64(buf, rng.range(1, 99_999));
            buf.extend_from_slice(&self.tail);
        }
    }
}

/// About 200 routes (every resource in every shape, plus health and static
/// files), shuffled by `rng` and weighted Zipf.
pub fn routes(rng: &mut Rng) -> (Vec<Route>, Weighted) {
    let mut routes = Vec::new();
    for (resource, service) in RESOURCES {
        for (method, prefix, has_id, tail) in ROUTE_SHAPES {
            let mut head = format!("{prefix}{resource}").into_bytes();
            if has_id {
                head.push(b'/');
            }
            routes.push(Route {
                method,
                head,
                has_id,
                tail: tail.as_bytes().to_vec(),
                service,
            });
        }
    }
    for (method, path, has_id, tail, service) in [
        ("GET", "/health", false, "", 0),
        ("GET", "/metrics", false, "", 4),
        ("GET", "/static/img/", true, ".png", 3),
        ("POST", "/api/login", false, "", 0),
    ] {
        routes.push(Route {
            method,
            head: path.as_bytes().to_vec(),
            has_id,
            tail: tail.as_bytes().to_vec(),
            service,
        });
    }
    rng.shuffle(&mut routes);
    let weights = Weighted::zipf(routes.len());
    (routes, weights)
}

pub const USER_AGENTS: [&str; 16] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36 Edg/121.0.0.0",
    "okhttp/4.12.0",
    "python-requests/2.31.0",
    "curl/8.5.0",
    "Go-http-client/2.0",
    "aws-sdk-js/3.525.0",
    "Apache-HttpClient/4.5.14 (Java/17.0.10)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "ELB-HealthChecker/2.0",
    "PostmanRuntime/7.36.3",
];

const INFO: &[&str] = &[
    "Created {e} {N}",
    "Updated {e} {N}",
    "Fetched {e} {N}",
    "Deleted {e} {N}",
    "Listed {n} {e}s for user {user}",
    r#"Cache hit for key \"{e}:{N}\""#,
    "Validated {e} payload in {ms} ms",
    r#"Published event \"{e}.updated\" for {e} {N}"#,
    "Loaded {e} {N} from database in {ms} ms",
    r#"{e} {N} status changed to \"active\""#,
    "Indexed {e} {N}",
    "Exported {n} {e} records",
    "Request completed",
    "Request started",
    "Health check passed",
    "User {user} logged in",
    "User {user} logged out",
    "Token refreshed for user {user}",
    "Served {n} items from cache",
    "Connection pool size is {n}",
    "Worker {n} resuming normal operations",
    r#"Config reloaded from \"/etc/app/config.yaml\""#,
    r#"Feature flag \"new-checkout\" evaluated to true"#,
    "Sent email to user {user}",
    "Scheduled job {id} queued",
    "Rate limiter window reset",
    r#"Search for \"{word}\" returned {n} results"#,
    "Payment authorized for amount {n}.{cents} USD",
    "Webhook delivered to partner {id}",
    "Listening on port 8080",
    "GC pause {ms} ms",
    "Opened connection to db-primary",
    "Upload of {N} bytes completed",
    "Redirecting to /login",
    "Session {id} created",
    "Retry succeeded after {n} attempts",
    "Flushed {n} metrics",
    "Received SIGHUP, reopening log files",
    "Consumer group rebalanced, assigned {n} partitions",
    r#"Signed URL issued for object \"uploads/{id}.png\""#,
    "Inventory reserved for order {N}",
    r#"Shipment {N} handed to carrier \"UPS\""#,
];

const WARN: &[&str] = &[
    "Slow query for {e} {N}: {ms} ms",
    "{e} {N} not found",
    r#"Validation failed for {e} {N}: field \"{field}\" is required"#,
    r#"Stale cache entry for \"{e}:{N}\""#,
    "Retrying {e} update {N} (attempt {n})",
    "Rate limit exceeded for user {user}",
    "Deprecated API version v1 called",
    "Request body larger than {n} KB",
    "Connection pool nearly exhausted ({n} of 1000 in use)",
    "Slow request: {ms} ms",
    "Invalid token for user {user}",
    r#"Circuit breaker half-open for \"payments-api\""#,
    "Disk usage at {pct}%",
    "Unauthorized access attempt from {ip}",
    "Retrying request after timeout ({ms} ms)",
    r#"Missing header \"X-Request-Id\""#,
    r#"Config key \"cache.ttl\" not set, using default"#,
];

const ERROR: &[&str] = &[
    "Failed to save {e} {N}: DataIntegrityException",
    "Failed to do: update {e} {N}",
    "Unhandled exception while processing {e} {N}",
    "Database connection timeout after {ms} ms",
    "Failed to do: charge card",
    "Failed to do: reserve inventory",
    "Failed to do: send email",
    r#"Upstream \"payments-api\" returned 503"#,
    "Upstream timeout after {ms} ms",
    "NullPointerException in request handler",
    "Connection reset by peer",
    "Out of memory: killed worker {n}",
    r#"Failed to publish message to queue \"orders-events\""#,
    "TLS handshake failed with {ip}",
    "IllegalStateException: order {N} already shipped",
    "Deadlock detected, transaction rolled back",
    "S3 PutObject failed: AccessDenied",
    r#"Unexpected response from \"inventory\": HTTP 500"#,
];

const DEBUG: &[&str] = &[
    r#"Cache miss for key \"{e}:{N}\""#,
    "Serialized {e} {N} in {ms} ms",
    "SQL: SELECT * FROM orders WHERE id = {N}",
    "Headers parsed in {ms} ms",
    "Entering handler {field}",
    "Exiting handler {field}",
    r#"Acquired lock \"job-{id}\""#,
    "Span {id} started",
    "Span {id} finished",
    "Token claims validated",
    "Feature flags refreshed ({n} flags)",
    r#"Request payload: {\"id\":{N},\"qty\":{n}}"#,
    "Pool stats idle={n} busy={n}",
    "Resolved host db-primary in {ms} ms",
];

const JOB_INFO: &[&str] = &[
    "Job {job} started",
    "Job {job} completed in {ms} ms",
    "Processed {n} messages from queue",
    "Job {job} resuming normal operations",
];
const JOB_WARN: &[&str] = &[
    "Job {job} retrying after a failed attempt",
    "Job {job} exceeded soft time limit",
];
const JOB_ERROR: &[&str] = &[
    "Job {job} failed: Failed to do: flush batch",
    "Job {job} failed: DatabaseConnectionTimeout",
];
const JOB_DEBUG: &[&str] = &["Job {job} heartbeat", "Job {job} checkpoint at offset {N}"];

/// Log levels, in the order [`Messages`] indexes them.
pub const LEVELS: [&str; 4] = ["INFO", "WARN", "ERROR", "DEBUG"];

#[derive(Clone, Copy, Debug)]
enum Var {
    Small,
    Big,
    Ms,
    Id,
    User,
    Ip,
    Pct,
    Word,
    Field,
    Cents,
    Job,
}

#[derive(Debug)]
enum Piece {
    Lit { json: Box<[u8]>, text: Box<[u8]> },
    Var(Var),
}

#[derive(Debug)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    fn parse(src: &str) -> Template {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut rest = src;
        while let Some(open) = rest.find('{') {
            lit.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let var = after.find('}').and_then(|close| {
                let v = match &after[..close] {
                    "n" => Var::Small,
                    "N" => Var::Big,
                    "ms" => Var::Ms,
                    "id" => Var::Id,
                    "user" => Var::User,
                    "ip" => Var::Ip,
                    "pct" => Var::Pct,
                    "word" => Var::Word,
                    "field" => Var::Field,
                    "cents" => Var::Cents,
                    "job" => Var::Job,
                    _ => return None,
                };
                Some((v, close))
            });
            if let Some((v, close)) = var {
                push_lit(&mut pieces, &mut lit);
                pieces.push(Piece::Var(v));
                rest = &after[close + 1..];
            } else {
                lit.push('{');
                rest = after;
            }
        }
        lit.push_str(rest);
        push_lit(&mut pieces, &mut lit);
        Template { pieces }
    }

    /// Appends the message, JSON-escaped when `json`, with fresh variable parts.
    #[inline]
    pub fn render(&self, buf: &mut Vec<u8>, rng: &mut Rng, json: bool, job: &str) {
        for piece in &self.pieces {
            match piece {
                Piece::Lit { json: j, text } => buf.extend_from_slice(if json { j } else { text }),
                Piece::Var(v) => match v {
                    Var::Small => emit::u64(buf, rng.range(1, 999)),
                    Var::Big => emit::u64(buf, rng.range(1000, 999_999)),
                    Var::Ms => emit::u64(buf, rng.lognormal(120.0, 1.0).min(60_000.0) as u64 + 1),
                    Var::Id => emit::hex(buf, rng.next_u64(), 8),
                    Var::User => buf.extend_from_slice(rng.pick(&FIRST_NAMES).as_bytes()),
                    Var::Ip => emit::public_ipv4(buf, rng),
                    Var::Pct => emit::u64(buf, rng.range(50, 99)),
                    Var::Word => buf.extend_from_slice(rng.pick(&WORDS).as_bytes()),
                    Var::Field => buf.extend_from_slice(rng.pick(&FIELDS).as_bytes()),
                    Var::Cents => emit::padded(buf, rng.below(100), 2),
                    Var::Job => buf.extend_from_slice(job.as_bytes()),
                },
            }
        }
    }
}

fn push_lit(pieces: &mut Vec<Piece>, lit: &mut String) {
    if !lit.is_empty() {
        let text = lit.replace("\\\"", "\"");
        pieces.push(Piece::Lit {
            json: lit.as_bytes().into(),
            text: text.into_bytes().into_boxed_slice(),
        });
        lit.clear();
    }
}

fn expand(sources: &[&str]) -> Vec<Template> {
    let mut out = Vec::new();
    for src in sources {
        if src.contains("{e}") {
            for e in ENTITIES {
                out.push(Template::parse(&src.replace("{e}", e)));
            }
        } else {
            out.push(Template::parse(src));
        }
    }
    out
}

/// Message templates per level (indexed like [`LEVELS`]), each set shuffled
/// and weighted Zipf so a few messages dominate, as in real logs.
#[derive(Debug)]
pub struct Messages {
    sets: [(Vec<Template>, Weighted); 4],
}

impl Messages {
    pub fn requests(rng: &mut Rng) -> Messages {
        Messages::build([INFO, WARN, ERROR, DEBUG], rng)
    }

    pub fn jobs(rng: &mut Rng) -> Messages {
        Messages::build([JOB_INFO, JOB_WARN, JOB_ERROR, JOB_DEBUG], rng)
    }

    fn build(sources: [&[&str]; 4], rng: &mut Rng) -> Messages {
        Messages {
            sets: sources.map(|s| {
                let mut templates = expand(s);
                rng.shuffle(&mut templates);
                let weights = Weighted::zipf(templates.len());
                (templates, weights)
            }),
        }
    }

    #[inline]
    pub fn pick(&self, level: usize, rng: &mut Rng) -> &Template {
        let (templates, weights) = &self.sets[level];
        &templates[weights.sample(rng)]
    }

    #[cfg(test)]
    pub fn count(&self) -> usize {
        self.sets.iter().map(|(t, _)| t.len()).sum()
    }
}

/// Levels weighted INFO/WARN/ERROR/DEBUG ≈ 80/10/3/7 %.
pub fn levels() -> Weighted {
    Weighted::new([800, 100, 30, 70])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_hundred_request_templates() {
        let n = Messages::requests(&mut Rng::new(1)).count();
        assert!((200..=300).contains(&n), "{n} templates");
    }

    #[test]
    fn templates_render_escaped_for_json_and_plain_for_text() {
        let t = Template::parse(r#"Search for \"{word}\" took {ms} ms {not a var}"#);
        let mut rng = Rng::new(9);
        let mut json = Vec::new();
        t.render(&mut json, &mut rng, true, "");
        let mut text = Vec::new();
        t.render(&mut text, &mut rng, false, "");
        let (json, text) = (String::from_utf8(json).unwrap(), String::from_utf8(text).unwrap());
        assert!(
            json.starts_with(r#"Search for \""#) && json.ends_with(" ms {not a var}"),
            "{json}"
        );
        assert!(
            text.starts_with("Search for \"") && !text.contains('\\'),
            "{text}"
        );
    }

    #[test]
    fn about_two_hundred_routes() {
        let (routes, weights) = routes(&mut Rng::new(1));
        assert_eq!(routes.len(), weights.len());
        assert!((190..=220).contains(&routes.len()));
    }
}
