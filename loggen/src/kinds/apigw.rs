//! API Gateway (REST, stage `prod`) JSON access logs with the common
//! `$context` fields. Requests rejected before the integration (403, 429) log
//! `"integrationLatency":"-"`, as API Gateway does.

use super::LineGen;
use crate::clock::{self, Clock};
use crate::emit::{self, key, str_member, u64_member};
use crate::rng::{Rng, Weighted};

const RESOURCES: [(&str, &str, &str); 10] = [
    ("GET", "/orders", ""),
    ("GET", "/orders/{id}", "/orders/"),
    ("POST", "/orders", ""),
    ("GET", "/users/{id}", "/users/"),
    ("PUT", "/users/{id}", "/users/"),
    ("GET", "/products", ""),
    ("GET", "/products/{id}", "/products/"),
    ("POST", "/payments", ""),
    ("DELETE", "/orders/{id}", "/orders/"),
    ("GET", "/health", ""),
];

const STATUS: [(u64, u64); 9] = [
    (200, 850),
    (201, 30),
    (400, 30),
    (403, 20),
    (404, 30),
    (429, 10),
    (500, 15),
    (502, 10),
    (504, 5),
];

pub struct ApiGateway {
    rng: Rng,
    clock: Clock,
    resources: Weighted,
    statuses: Weighted,
}

impl ApiGateway {
    pub fn new(seed: u64, start_ms: i64, mean_gap_ms: u64) -> Self {
        ApiGateway {
            rng: Rng::new(seed),
            clock: Clock::new(start_ms, mean_gap_ms),
            resources: Weighted::zipf(RESOURCES.len()),
            statuses: Weighted::new(STATUS.iter().map(|s| s.1)),
        }
    }
}

impl LineGen for ApiGateway {
    fn line(&mut self, buf: &mut Vec<u8>) {
        let rng = &mut self.rng;
        let ts = self.clock.tick(rng);
        let (method, resource, id_prefix) = RESOURCES[self.resources.sample(rng)];
        let status = STATUS[self.statuses.sample(rng)].0;
        buf.extend_from_slice(b"{\"requestId\":\"");
        emit::uuid(buf, rng);
        buf.extend_from_slice(b"\",\"ip\":\"");
        emit::public_ipv4(buf, rng);
        buf.extend_from_slice(b"\",\"requestTime\":\"");
        clock::clf(buf, ts);
        buf.push(b'"');
        key(buf, "requestTimeEpoch");
        emit::i64(buf, ts);
        str_member(buf, "httpMethod", method);
        str_member(buf, "resourcePath", resource);
        buf.extend_from_slice(b",\"path\":\"/prod");
        if id_prefix.is_empty() {
            buf.extend_from_slice(resource.as_bytes());
        } else {
            buf.extend_from_slice(id_prefix.as_bytes());
            emit::u64(buf, rng.range(1, 99_999));
        }
        buf.push(b'"');
        u64_member(buf, "status", status);
        str_member(buf, "protocol", "HTTP/1.1");
        u64_member(
            buf,
            "responseLength",
            if status == 201 {
                0
            } else {
                rng.lognormal(800.0, 1.0) as u64
            },
        );
        let integration = match status {
            403 | 429 => None,
            504 => Some(29_000 + rng.below(20)),
            _ => Some((rng.lognormal(40.0, 0.8) as u64).max(1)),
        };
        let overhead = rng.range(1, 15);
        u64_member(buf, "responseLatency", integration.unwrap_or(0) + overhead);
        key(buf, "integrationLatency");
        match integration {
            Some(ms) => emit::u64(buf, ms),
            None => buf.extend_from_slice(b"\"-\""),
        }
        buf.extend_from_slice(b"}\n");
    }
}
