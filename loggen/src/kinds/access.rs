//! nginx `combined` access log lines:
//! `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`.
//! A few lines carry the request nginx writes for a connection that sent no
//! valid request line: `"-" 400 0`.

use super::LineGen;
use crate::clock::{self, Clock};
use crate::emit;
use crate::rng::{Rng, Weighted};
use crate::vocab::{self, Route, USER_AGENTS};

const API_STATUS: [(u64, u64); 13] = [
    (200, 780),
    (201, 30),
    (204, 20),
    (304, 40),
    (400, 20),
    (401, 20),
    (403, 10),
    (404, 40),
    (429, 10),
    (500, 15),
    (502, 8),
    (503, 5),
    (504, 2),
];
const STATIC_STATUS: [(u64, u64); 3] = [(200, 70), (304, 25), (404, 5)];

const REFERRERS: [&str; 5] = [
    "-",
    "https://www.example.com/",
    "https://www.example.com/products",
    "https://www.google.com/",
    "http://203.0.113.10/",
];

pub struct Access {
    rng: Rng,
    clock: Clock,
    malformed_per_million: u64,
    routes: Vec<Route>,
    route_weights: Weighted,
    clients: Vec<[u8; 4]>,
    client_weights: Weighted,
    agents: Weighted,
    api_status: Weighted,
    static_status: Weighted,
    referrers: Weighted,
}

impl Access {
    pub fn new(seed: u64, start_ms: i64, mean_gap_ms: u64, fixture: bool) -> Self {
        let mut rng = Rng::new(seed);
        let mut setup = rng.fork();
        let (routes, route_weights) = vocab::routes(&mut setup);
        let clients: Vec<[u8; 4]> = (0..20_000).map(|_| emit::public_octets(&mut setup)).collect();
        Access {
            rng,
            clock: Clock::new(start_ms, mean_gap_ms),
            // The peer data has 0.02 %; fixtures are small, so they get more.
            malformed_per_million: if fixture { 5000 } else { 200 },
            routes,
            route_weights,
            client_weights: Weighted::zipf(clients.len()),
            clients,
            agents: Weighted::zipf(USER_AGENTS.len()),
            api_status: Weighted::new(API_STATUS.iter().map(|s| s.1)),
            static_status: Weighted::new(STATIC_STATUS.iter().map(|s| s.1)),
            referrers: Weighted::new([55, 15, 15, 10, 5]),
        }
    }
}

impl LineGen for Access {
    fn line(&mut self, buf: &mut Vec<u8>) {
        let rng = &mut self.rng;
        let ts = self.clock.tick(rng);
        emit::ipv4(buf, self.clients[self.client_weights.sample(rng)]);
        buf.extend_from_slice(b" - - [");
        clock::clf(buf, ts);
        buf.extend_from_slice(b"] \"");
        if rng.below(1_000_000) < self.malformed_per_million {
            buf.extend_from_slice(b"-\" 400 0 \"-\" \"-\"\n");
            return;
        }
        let status;
        let bytes;
        if rng.per_mille(700) {
            let route = &self.routes[self.route_weights.sample(rng)];
            buf.extend_from_slice(route.method.as_bytes());
            buf.push(b' ');
            route.write_path(buf, rng);
            if route.method == "GET" && !route.has_id && rng.per_mille(150) {
                buf.extend_from_slice(b"?page=");
                emit::u64(buf, rng.range(1, 40));
                buf.extend_from_slice(b"&limit=20");
            }
            status = API_STATUS[self.api_status.sample(rng)].0;
            bytes = rng.lognormal(1500.0, 1.0) as u64;
        } else {
            buf.extend_from_slice(b"GET ");
            match rng.below(8) {
                0 | 1 => buf.push(b'/'),
                2 => buf.extend_from_slice(b"/favicon.ico"),
                3 => {
                    buf.extend_from_slice(b"/static/js/app.");
                    emit::hex(buf, rng.below(4), 8);
                    buf.extend_from_slice(b".js");
                }
                4 => buf.extend_from_slice(b"/static/css/main.css"),
                5 | 6 => {
                    buf.extend_from_slice(b"/images/products/");
                    emit::u64(buf, rng.range(1, 5000));
                    buf.extend_from_slice(b".jpg");
                }
                _ => buf.extend_from_slice(b"/robots.txt"),
            }
            status = STATIC_STATUS[self.static_status.sample(rng)].0;
            bytes = rng.lognormal(20_000.0, 1.2) as u64;
        }
        buf.extend_from_slice(if rng.per_mille(200) {
            b" HTTP/2.0\" "
        } else {
            b" HTTP/1.1\" "
        });
        emit::u64(buf, status);
        buf.push(b' ');
        emit::u64(buf, if status == 304 || status == 204 { 0 } else { bytes });
        buf.extend_from_slice(b" \"");
        buf.extend_from_slice(REFERRERS[self.referrers.sample(rng)].as_bytes());
        buf.extend_from_slice(b"\" \"");
        buf.extend_from_slice(USER_AGENTS[self.agents.sample(rng)].as_bytes());
        buf.extend_from_slice(b"\"\n");
    }
}
