//! JSON application logs: one compact object per line, keys in a fixed order.
//!
//! The bulk shape matches the peer benchmark's `app.jsonl`. In fixture mode
//! each line also carries the extra fields the conformance corpus filters on
//! (`@level`, `error-code`, JSON-in-string, arrays, coordinates, ...), always
//! after the bulk keys and in the order of [`KEY_ORDER`].

use super::LineGen;
use crate::clock::{self, Clock};
use crate::emit::{self, key, str_member, u64_member};
use crate::rng::{Rng, Weighted};
use crate::stacks::{self, ErrorSample};
use crate::vocab::{self, Messages, Route, FIRST_NAMES, JOBS, LEVELS, SERVICES, USER_AGENTS};

/// Every key an AppJson line may carry, in the order it is written.
pub const KEY_ORDER: &[&str] = &[
    // The bulk shape.
    "timestamp",
    "level",
    "message",
    "requestId",
    "userId",
    "method",
    "path",
    "status",
    "latencyMs",
    "service",
    "host",
    "http",
    "error",
    "job",
    // Fixture extras on many lines.
    "@level",
    "msg",
    "severity",
    "server",
    "latency",
    "bytes",
    "clientIp",
    "sessionId",
    // Fixture topic groups, at most one per line.
    "detail-type",
    "source",
    "account",
    "error-code",
    "roles",
    "trimmedData",
    "items",
    "events",
    "srcLat",
    "srcLon",
    "dstLat",
    "dstLon",
    "latencyStr",
    "countStr",
    "bytesStr",
    "ratioStr",
    "name",
    "comment",
    "query",
    "rawQuery",
    "user",
    "token",
    "tags",
    "email",
    "delta",
    "x",
    "y",
    "z",
    "variance",
    "myfield1",
    "myfield2",
    "myfield3",
    "range",
    "accountId",
    "duration",
    "requests",
    "startTimeMs",
    "eventTime",
    "f1",
    "f2",
    "f3",
    "statusCode",
    "Type",
    "users",
    "user.id",
    "status_code",
    "request",
    "eventType",
    "transactionId",
    "orderId",
    "customerId",
    "paymentStatus",
    "amount",
    "failureReason",
    "errorType",
    "endpoint",
    "responseTime",
    "cpu",
    "memory",
    "cpu_user",
    "cpu_system",
    "a",
    "b",
    "price",
    "tax",
    "qty",
    "session_id",
    "client_ip",
    "client_platform",
    "deviceId",
    "IPaddress",
    "action",
    "id",
    "department",
    "Controller",
    "Time",
    "svc",
    "function",
    "process",
    "Fault",
    "Operation",
    "plan",
];

const ERROR: usize = 2;

const STATUS_BY_LEVEL: [&[(u16, u64)]; 4] = [
    &[(200, 800), (201, 80), (204, 50), (302, 20), (304, 50)],
    &[
        (400, 25),
        (401, 10),
        (403, 10),
        (404, 35),
        (409, 5),
        (422, 5),
        (429, 10),
    ],
    &[(500, 50), (502, 20), (503, 20), (504, 10)],
    &[(200, 1)],
];

const POD_CHARS: &[u8; 27] = b"bcdfghjklmnpqrstvwxz2456789";

const CITIES: [(i64, i64); 12] = [
    (476_062, -1_223_321),
    (407_128, -740_060),
    (515_074, -1278),
    (356_762, 1_396_503),
    (-338_688, 1_512_093),
    (-235_505, -466_333),
    (501_109, 86821),
    (190_760, 728_777),
    (13521, 1_038_198),
    (-262_041, 280_473),
    (455_152, -1_226_784),
    (423_601, -710_589),
];

pub struct AppJson {
    rng: Rng,
    clock: Clock,
    start_ms: i64,
    fixture: bool,
    levels: Weighted,
    statuses: [Weighted; 4],
    messages: Messages,
    job_messages: Messages,
    routes: Vec<Route>,
    route_weights: Weighted,
    users: Weighted,
    agents: Weighted,
    hosts: Vec<Vec<Vec<u8>>>,
    errors: Vec<Vec<ErrorSample>>,
    groups: Weighted,
    last_request_id: [u8; 36],
}

/// What the bulk part of a line decided, for the fixture extras to agree with.
struct Facts {
    level: usize,
    ts: i64,
    service: usize,
    status: Option<u16>,
    latency_centi: u64,
    user: Option<u64>,
}

impl AppJson {
    pub fn new(seed: u64, start_ms: i64, mean_gap_ms: u64, fixture: bool) -> Self {
        let mut rng = Rng::new(seed);
        let mut setup = rng.fork();
        let (routes, route_weights) = vocab::routes(&mut setup);
        let hosts = SERVICES
            .iter()
            .map(|s| {
                let deployment: String = (0..10).map(|_| setup.pick(POD_CHARS) as char).collect();
                (0..4)
                    .map(|_| {
                        let pod: String = (0..5).map(|_| setup.pick(POD_CHARS) as char).collect();
                        format!("{}-{deployment}-{pod}", s.name).into_bytes()
                    })
                    .collect()
            })
            .collect();
        let errors = SERVICES
            .iter()
            .map(|s| stacks::samples(s.lang, s.name, 6, &mut setup))
            .collect();
        AppJson {
            messages: Messages::requests(&mut setup),
            job_messages: Messages::jobs(&mut setup),
            rng,
            clock: Clock::new(start_ms, mean_gap_ms),
            start_ms,
            fixture,
            levels: vocab::levels(),
            statuses: STATUS_BY_LEVEL.map(|t| Weighted::new(t.iter().map(|&(_, w)| w))),
            routes,
            route_weights,
            users: Weighted::zipf(100_000),
            agents: Weighted::zipf(USER_AGENTS.len()),
            hosts,
            errors,
            groups: Weighted::new([30, 5, 5, 6, 6, 5, 6, 5, 6, 5, 5, 5, 4, 5, 5, 5]),
            last_request_id: [b'0'; 36],
        }
    }

    fn request_id(&mut self, buf: &mut Vec<u8>) {
        // In fixtures a request often logs more than once (earliest/latest per requestId).
        if self.fixture && self.rng.per_mille(150) {
            buf.extend_from_slice(&self.last_request_id);
        } else {
            let at = buf.len();
            emit::uuid(buf, &mut self.rng);
            self.last_request_id.copy_from_slice(&buf[at..]);
        }
    }
}

impl LineGen for AppJson {
    fn line(&mut self, buf: &mut Vec<u8>) {
        let rng = &mut self.rng;
        let now = self.clock.tick(rng);
        // 30 % of lines are written a little late: up to 250 ms behind the clock.
        let ts = if rng.per_mille(300) {
            (now - rng.below(251) as i64).max(self.start_ms)
        } else {
            now
        };
        let level = self.levels.sample(rng);
        let worker = rng.per_mille(40);

        buf.extend_from_slice(b"{\"timestamp\":\"");
        clock::iso_ms(buf, ts);
        buf.extend_from_slice(b"\",\"level\":\"");
        buf.extend_from_slice(LEVELS[level].as_bytes());
        buf.extend_from_slice(b"\",\"message\":\"");
        let (route, job) = if worker {
            let job = rng.pick(&JOBS);
            self.job_messages.pick(level, rng).render(buf, rng, true, job);
            (None, Some(job))
        } else {
            self.messages.pick(level, rng).render(buf, rng, true, "");
            (Some(self.route_weights.sample(rng)), None)
        };
        buf.extend_from_slice(b"\",\"requestId\":\"");
        self.request_id(buf);
        let rng = &mut self.rng;
        buf.push(b'"');

        let user = if rng.per_mille(900) {
            let id = self.users.sample(rng) as u64 + 1;
            buf.extend_from_slice(b",\"userId\":\"user-");
            emit::u64(buf, id);
            buf.push(b'"');
            Some(id)
        } else {
            None
        };

        let mut status = None;
        let service = match route {
            Some(index) => {
                let route = &self.routes[index];
                let code = STATUS_BY_LEVEL[level][self.statuses[level].sample(rng)].0;
                status = Some(code);
                str_member(buf, "method", route.method);
                buf.extend_from_slice(b",\"path\":\"");
                route.write_path(buf, rng);
                buf.push(b'"');
                u64_member(buf, "status", u64::from(code));
                route.service
            }
            None => rng.below(SERVICES.len() as u64) as usize,
        };

        let svc = &SERVICES[service];
        let mut latency_ms = if worker {
            rng.lognormal(800.0, 1.0)
        } else {
            rng.lognormal(svc.median_ms, svc.sigma)
        };
        if status.is_some_and(|s| s >= 500) && rng.per_mille(500) {
            latency_ms += rng.range(1000, 4000) as f64;
        }
        let latency_centi = ((latency_ms * 100.0).round() as u64).clamp(100, 600_000_000);
        u64_member(buf, "latencyMs", latency_centi / 100);
        str_member(buf, "service", svc.name);
        buf.extend_from_slice(b",\"host\":\"");
        buf.extend_from_slice(&self.hosts[service][rng.below(self.hosts[service].len() as u64) as usize]);
        buf.push(b'"');

        // 55 % of all lines: 57.3 % of the 96 % that are requests.
        if !worker && rng.per_mille(573) {
            buf.extend_from_slice(b",\"http\":{\"userAgent\":\"");
            buf.extend_from_slice(USER_AGENTS[self.agents.sample(rng)].as_bytes());
            buf.extend_from_slice(b"\",\"clientIp\":\"");
            emit::public_ipv4(buf, rng);
            buf.extend_from_slice(b"\"}");
        }
        if level == ERROR && rng.per_mille(700) {
            let samples = &self.errors[service];
            let e = &samples[rng.below(samples.len() as u64) as usize];
            buf.extend_from_slice(b",\"error\":{\"type\":\"");
            buf.extend_from_slice(e.kind.as_bytes());
            buf.extend_from_slice(b"\",\"stack\":\"");
            buf.extend_from_slice(&e.stack_json);
            buf.extend_from_slice(b"\"}");
        }
        if let Some(job) = job {
            buf.extend_from_slice(b",\"job\":{\"name\":\"");
            buf.extend_from_slice(job.as_bytes());
            buf.extend_from_slice(b"\",\"runId\":\"");
            emit::hex(buf, rng.next_u64(), 12);
            buf.extend_from_slice(b"\",\"attempt\":");
            emit::u64(buf, if rng.per_mille(900) { 1 } else { rng.range(2, 5) });
            buf.push(b'}');
        }
        if self.fixture {
            self.extras(
                buf,
                &Facts {
                    level,
                    ts,
                    service,
                    status,
                    latency_centi,
                    user,
                },
            );
        }
        buf.extend_from_slice(b"}\n");
    }
}

impl AppJson {
    fn extras(&mut self, buf: &mut Vec<u8>, f: &Facts) {
        let rng = &mut self.rng;
        let level = LEVELS[f.level];
        if rng.per_mille(250) {
            str_member(buf, "@level", level);
            key(buf, "msg");
            buf.push(b'"');
            self.messages.pick(f.level, rng).render(buf, rng, true, "");
            buf.push(b'"');
        }
        if rng.per_mille(600) {
            let severity = ["INFO", "WARNING", "ERROR", "DEBUG"][f.level];
            str_member(buf, "severity", severity);
            key(buf, "server");
            buf.extend_from_slice(if rng.per_mille(850) {
                b"\"prod-"
            } else {
                b"\"staging-"
            });
            buf.extend_from_slice(SERVICES[f.service].name.as_bytes());
            buf.push(b'-');
            emit::u64(buf, rng.range(1, 3));
            buf.push(b'"');
        }
        if f.status.is_some() {
            key(buf, "latency");
            emit::fixed(buf, f.latency_centi as i64, 2);
            u64_member(buf, "bytes", rng.lognormal(2000.0, 1.5) as u64);
        }
        if rng.per_mille(500) {
            key(buf, "clientIp");
            buf.push(b'"');
            match rng.below(10) {
                0 | 1 => emit::ipv6_doc(buf, rng),
                2 => emit::ipv4(
                    buf,
                    [
                        10,
                        rng.below(256) as u8,
                        rng.below(256) as u8,
                        rng.range(1, 254) as u8,
                    ],
                ),
                3 => emit::ipv4(buf, [192, 168, rng.below(256) as u8, rng.range(1, 254) as u8]),
                4 => emit::ipv4(
                    buf,
                    [rng.pick(&[127u8, 169, 0, 240]), 0, 0, rng.range(1, 254) as u8],
                ),
                _ => emit::public_ipv4(buf, rng),
            }
            buf.push(b'"');
        }
        if rng.per_mille(300) {
            key(buf, "sessionId");
            buf.extend_from_slice(b"\"sess-");
            emit::hex(buf, rng.next_u64(), 12);
            buf.push(b'"');
        }
        match self.groups.sample(rng) {
            1 => {
                let (detail, source) = rng.pick(&[
                    ("EC2 Instance State-change Notification", "aws.ec2"),
                    ("Scheduled Event", "aws.events"),
                    ("AWS API Call via CloudTrail", "aws.cloudtrail"),
                    ("Order Placed", "com.example.orders"),
                    ("Payment Failed", "com.example.payments"),
                ]);
                str_member(buf, "detail-type", detail);
                str_member(buf, "source", source);
                str_member(buf, "account", "123456789012");
            }
            2 => str_member(buf, "error-code", rng.pick(&["102", "104", "205", "500"])),
            3 => {
                key(buf, "roles");
                buf.extend_from_slice(b"\"[");
                for i in 0..rng.range(1, 3) {
                    if i > 0 {
                        buf.push(b',');
                    }
                    buf.extend_from_slice(b"\\\"");
                    buf.extend_from_slice(
                        rng.pick(&["admin", "reader", "writer", "billing", "support"])
                            .as_bytes(),
                    );
                    buf.extend_from_slice(b"\\\"");
                }
                buf.extend_from_slice(b"]\"");
                key(buf, "trimmedData");
                buf.extend_from_slice(b"\"[");
                for i in 0..rng.range(1, 3) {
                    if i > 0 {
                        buf.push(b',');
                    }
                    buf.extend_from_slice(b"{\\\"accountId\\\":\\\"");
                    buf.extend_from_slice(
                        rng.pick(&["111122223333", "123456789012", "444455556666"])
                            .as_bytes(),
                    );
                    buf.extend_from_slice(b"\\\",\\\"droppedSpans\\\":");
                    emit::u64(buf, rng.below(40));
                    buf.push(b'}');
                }
                buf.extend_from_slice(b"]\"");
            }
            4 => {
                key(buf, "items");
                buf.push(b'[');
                for i in 0..rng.range(1, 4) {
                    if i > 0 {
                        buf.push(b',');
                    }
                    buf.extend_from_slice(b"\"sku-");
                    emit::u64(buf, 1000 + rng.below(20) * 37);
                    buf.push(b'"');
                }
                buf.push(b']');
                key(buf, "events");
                buf.push(b'[');
                for i in 0..rng.range(1, 3) {
                    if i > 0 {
                        buf.push(b',');
                    }
                    buf.extend_from_slice(b"{\"name\":\"");
                    buf.extend_from_slice(
                        rng.pick(&["page_view", "add_to_cart", "checkout", "signup"])
                            .as_bytes(),
                    );
                    buf.extend_from_slice(b"\",\"ts\":");
                    emit::i64(buf, f.ts - rng.below(5000) as i64);
                    buf.push(b'}');
                }
                buf.push(b']');
            }
            5 => {
                for (lat, lon) in [("srcLat", "srcLon"), ("dstLat", "dstLon")] {
                    let (la, lo) = rng.pick(&CITIES);
                    key(buf, lat);
                    emit::fixed(buf, la + rng.below(1001) as i64 - 500, 4);
                    key(buf, lon);
                    emit::fixed(buf, lo + rng.below(1001) as i64 - 500, 4);
                }
            }
            6 => {
                key(buf, "latencyStr");
                buf.push(b'"');
                if rng.per_mille(100) {
                    buf.extend_from_slice(b"n/a");
                } else {
                    emit::fixed(buf, f.latency_centi as i64, 2);
                }
                buf.push(b'"');
                key(buf, "countStr");
                buf.push(b'"');
                emit::u64(buf, rng.below(500));
                buf.push(b'"');
                key(buf, "bytesStr");
                buf.push(b'"');
                emit::u64(buf, rng.lognormal(4000.0, 1.0) as u64);
                buf.push(b'"');
                key(buf, "ratioStr");
                buf.push(b'"');
                emit::fixed(buf, rng.below(1001) as i64, 3);
                buf.push(b'"');
            }
            7 => {
                let who = rng.pick(&FIRST_NAMES);
                key(buf, "name");
                buf.push(b'"');
                let pad = if rng.per_mille(500) { "  " } else { "" };
                for part in [pad, who, pad] {
                    buf.extend_from_slice(part.as_bytes());
                }
                buf.push(b'"');
                if !rng.per_mille(250) {
                    str_member(
                        buf,
                        "comment",
                        rng.pick(&["", "   ", "looks good", "needs review"]),
                    );
                }
                let q = rng.pick(&["red shoes", "usb c cable", "coffee & tea", "size 42"]);
                str_member(buf, "query", q);
                key(buf, "rawQuery");
                buf.push(b'"');
                for b in q.bytes() {
                    match b {
                        b' ' => buf.extend_from_slice(b"%20"),
                        b'&' => buf.extend_from_slice(b"%26"),
                        _ => buf.push(b),
                    }
                }
                buf.push(b'"');
                str_member(buf, "user", who);
                key(buf, "token");
                buf.push(b'"');
                emit::base64(buf, format!("user:{who}").as_bytes());
                buf.push(b'"');
                str_member(
                    buf,
                    "tags",
                    rng.pick(&["a,b,c", "web,mobile", "beta", "eu,us,apac,latam"]),
                );
                key(buf, "email");
                buf.push(b'"');
                buf.extend_from_slice(who.as_bytes());
                buf.extend_from_slice(b"@example.com\"");
            }
            8 => {
                key(buf, "delta");
                emit::i64(buf, rng.below(2001) as i64 - 1000);
                for k in ["x", "y", "z"] {
                    key(buf, k);
                    emit::fixed(buf, rng.below(100_000) as i64 - 50_000, 2);
                }
                key(buf, "variance");
                emit::fixed(buf, rng.below(1_000_000) as i64, 2);
                for k in ["myfield1", "myfield2", "myfield3"] {
                    u64_member(buf, k, rng.below(1000));
                }
                u64_member(buf, "range", rng.range(100, 6000));
                u64_member(buf, "accountId", rng.pick(&[123_456_789_012, 111_122_223_333]));
                u64_member(buf, "duration", f.latency_centi / 100);
                u64_member(buf, "requests", rng.range(1, 500));
                u64_member(buf, "startTimeMs", (f.ts - rng.below(60_000) as i64) as u64);
                key(buf, "eventTime");
                buf.push(b'"');
                clock::iso_secs(buf, f.ts);
                buf.push(b'"');
            }
            9 => {
                key(buf, "f1");
                buf.push(b'"');
                if f.level == ERROR || rng.per_mille(100) {
                    buf.extend_from_slice(
                        rng.pick(&[
                            "java.lang.IllegalStateException",
                            "Unhandled exception",
                            "TimeoutException",
                        ])
                        .as_bytes(),
                    );
                } else {
                    buf.extend_from_slice(rng.pick(&["ok", "retry", "cache miss"]).as_bytes());
                }
                buf.push(b'"');
                u64_member(buf, "f2", rng.below(100));
                str_member(buf, "f3", rng.pick(&["alpha", "beta", "gamma"]));
                u64_member(
                    buf,
                    "statusCode",
                    rng.pick(&[200, 201, 300, 301, 400, 404, 500, 503]),
                );
                key(buf, "Type");
                match rng.below(5) {
                    0 => buf.extend_from_slice(b"\"foo\""),
                    1 => buf.extend_from_slice(b"\"bar\""),
                    2 => buf.extend_from_slice(b"\"baz\""),
                    3 => buf.push(b'1'),
                    _ => buf.push(b'2'),
                }
            }
            10 => {
                key(buf, "users");
                buf.push(b'[');
                for i in 0..rng.range(1, 3) {
                    if i > 0 {
                        buf.push(b',');
                    }
                    buf.extend_from_slice(b"{\"name\":\"");
                    buf.extend_from_slice(rng.pick(&FIRST_NAMES).as_bytes());
                    buf.extend_from_slice(b"\",\"action\":\"");
                    buf.extend_from_slice(rng.pick(&["GetData", "PutData", "DeleteData"]).as_bytes());
                    buf.extend_from_slice(b"\"}");
                }
                buf.push(b']');
                key(buf, "user.id");
                buf.push(b'"');
                emit::u64(buf, rng.pick(&[123, 456, 789]));
                buf.push(b'"');
                u64_member(buf, "status_code", u64::from(f.status.unwrap_or(200)));
                key(buf, "request");
                buf.extend_from_slice(b"{\"method\":\"GET\",\"url\":\"/api/orders/");
                emit::u64(buf, rng.range(1, 99_999));
                buf.extend_from_slice(b"\",\"headers\":{\"accept\":\"application/json\"}}");
            }
            11 => {
                let payment = rng.per_mille(500);
                str_member(
                    buf,
                    "eventType",
                    if payment {
                        "PAYMENT_PROCESSED"
                    } else {
                        "ORDER_CREATED"
                    },
                );
                key(buf, "transactionId");
                buf.extend_from_slice(b"\"txn-");
                emit::u64(buf, rng.range(1, 400));
                buf.push(b'"');
                key(buf, "orderId");
                buf.extend_from_slice(b"\"o-");
                emit::u64(buf, rng.range(10_000, 99_999));
                buf.push(b'"');
                key(buf, "customerId");
                buf.extend_from_slice(b"\"c-");
                emit::u64(buf, rng.range(1, 300));
                buf.push(b'"');
                let status = rng.pick(&["SUCCESS", "SUCCESS", "SUCCESS", "FAILED", "PENDING"]);
                if payment {
                    str_member(buf, "paymentStatus", status);
                }
                key(buf, "amount");
                emit::fixed(buf, rng.range(100, 50_000) as i64, 2);
                if payment && status == "FAILED" {
                    str_member(
                        buf,
                        "failureReason",
                        rng.pick(&["card_declined", "insufficient_funds", "fraud_suspected"]),
                    );
                }
            }
            12 => {
                str_member(
                    buf,
                    "errorType",
                    rng.pick(&["DatabaseConnectionTimeout", "DeadlockDetected", "ValidationError"]),
                );
                key(buf, "endpoint");
                buf.push(b'"');
                self.routes[self.route_weights.sample(rng)].write_path(buf, rng);
                buf.push(b'"');
                u64_member(buf, "responseTime", f.latency_centi / 100);
            }
            13 => {
                for (k, hi) in [
                    ("cpu", 10_000),
                    ("memory", 10_000),
                    ("cpu_user", 8000),
                    ("cpu_system", 2000),
                ] {
                    key(buf, k);
                    emit::fixed(buf, rng.below(hi) as i64, 2);
                }
                u64_member(buf, "a", rng.below(100));
                u64_member(buf, "b", rng.below(100));
                key(buf, "price");
                emit::fixed(buf, rng.range(100, 20_000) as i64, 2);
                key(buf, "tax");
                emit::fixed(buf, rng.range(0, 2000) as i64, 2);
                u64_member(buf, "qty", rng.range(1, 10));
            }
            14 => {
                key(buf, "session_id");
                buf.extend_from_slice(b"\"s-");
                emit::u64(buf, rng.range(1, 60));
                buf.push(b'"');
                key(buf, "client_ip");
                buf.extend_from_slice(b"\"198.51.100.");
                emit::u64(buf, rng.range(1, 6));
                buf.push(b'"');
                str_member(buf, "client_platform", rng.pick(&["ios", "android", "web"]));
                key(buf, "deviceId");
                buf.extend_from_slice(b"\"dev-");
                emit::hex(buf, rng.below(40), 4);
                buf.push(b'"');
            }
            15 => {
                key(buf, "IPaddress");
                buf.extend_from_slice(b"\"198.51.100.");
                emit::u64(buf, rng.below(4));
                buf.push(b'"');
                str_member(buf, "action", rng.pick(&["login", "logout", "view", "purchase"]));
                u64_member(buf, "id", rng.range(1, 20));
                str_member(
                    buf,
                    "department",
                    rng.pick(&["engineering", "sales", "support", "finance"]),
                );
                str_member(
                    buf,
                    "Controller",
                    rng.pick(&["OrdersController", "UsersController", "CartController"]),
                );
                u64_member(buf, "Time", f.latency_centi / 100);
                str_member(buf, "svc", SERVICES[f.service].name);
                str_member(buf, "function", rng.pick(&["worker_loop", "reconcile", "flush"]));
                key(buf, "process");
                buf.extend_from_slice(b"\"pid-");
                emit::u64(buf, rng.range(100, 32_000));
                buf.push(b'"');
                u64_member(buf, "Fault", u64::from(f.status.is_some_and(|s| s >= 500)));
                str_member(buf, "Operation", rng.pick(&["GetItem", "PutItem", "Query"]));
                str_member(
                    buf,
                    "plan",
                    if f.user.is_some_and(|u| u % 3 == 0) {
                        "pro"
                    } else {
                        "free"
                    },
                );
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::collect_lines;

    /// The keys of a JSON object in the order they appear in the text.
    fn keys_in_order(line: &str) -> Vec<String> {
        struct Keys(Vec<String>);
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = Vec<String>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                mut self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                while let Some(k) = map.next_key::<String>()? {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    self.0.push(k);
                }
                Ok(self.0)
            }
        }
        let mut de = serde_json::Deserializer::from_str(line);
        serde::Deserializer::deserialize_map(&mut de, Keys(Vec::new())).unwrap()
    }

    #[test]
    fn fixture_lines_keep_the_canonical_key_order_and_cover_every_key() {
        let mut g = AppJson::new(11, clock::DEFAULT_START_MS, 5000, true);
        let mut seen = vec![false; KEY_ORDER.len()];
        for line in collect_lines(&mut g, 3000) {
            let mut last = None;
            for k in keys_in_order(&line) {
                let at = KEY_ORDER
                    .iter()
                    .position(|&c| c == k)
                    .unwrap_or_else(|| panic!("unknown key {k}"));
                assert!(last < Some(at), "{k} out of order in {line}");
                last = Some(at);
                seen[at] = true;
            }
        }
        let missing: Vec<_> = KEY_ORDER
            .iter()
            .zip(&seen)
            .filter(|(_, s)| !**s)
            .map(|(k, _)| k)
            .collect();
        assert!(missing.is_empty(), "never written: {missing:?}");
    }
}
