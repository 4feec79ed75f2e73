//! Route 53 public DNS query log lines:
//! `1.0 <timestamp> <hosted-zone-id> <query-name> <type> <rcode> <UDP|TCP> <edge-location> <resolver-ip> <edns-client-subnet|->`.

use super::LineGen;
use crate::clock::{self, Clock};
use crate::emit;
use crate::rng::{Rng, Weighted};

const ZONES: [(&str, &str); 3] = [
    ("Z1D633PJN98FT9", "example.com"),
    ("Z2FDTNDATAQYW2", "example.net"),
    ("Z3AADJGX6KTTL2", "example.org"),
];
const LABELS: [&str; 10] = [
    "", "www.", "api.", "cdn.", "mail.", "auth.", "app.", "staging.", "_dmarc.", "status.",
];
const TYPES: [(&str, u64); 9] = [
    ("A", 50),
    ("AAAA", 25),
    ("CNAME", 5),
    ("MX", 4),
    ("TXT", 6),
    ("NS", 3),
    ("SOA", 2),
    ("SRV", 2),
    ("HTTPS", 3),
];
const RCODES: [(&str, u64); 4] = [
    ("NOERROR", 880),
    ("NXDOMAIN", 90),
    ("SERVFAIL", 20),
    ("REFUSED", 10),
];
const BROKEN: [&str; 3] = ["legacy.example.net", "db.example.org", "vpn.example.com"];
const EDGES: [&str; 10] = [
    "IAD89-C1", "IAD66-C2", "FRA56-P7", "NRT57-C3", "SEA19-C2", "LHR62-C2", "SIN2-C1", "GRU3-C1", "SYD1-C1",
    "CDG50-C1",
];

pub struct Route53 {
    rng: Rng,
    clock: Clock,
    zones: Weighted,
    types: Weighted,
    rcodes: Weighted,
    edges: Weighted,
    resolvers: Vec<Vec<u8>>,
    resolver_weights: Weighted,
}

impl Route53 {
    pub fn new(seed: u64, start_ms: i64, mean_gap_ms: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut setup = rng.fork();
        let resolvers: Vec<Vec<u8>> = (0..60)
            .map(|i| {
                let mut ip = Vec::new();
                match i % 7 {
                    0 => emit::ipv4(&mut ip, [192, 0, 2, setup.range(1, 254) as u8]),
                    1 => emit::ipv6_doc(&mut ip, &mut setup),
                    _ => emit::public_ipv4(&mut ip, &mut setup),
                }
                ip
            })
            .collect();
        Route53 {
            rng,
            clock: Clock::new(start_ms, mean_gap_ms),
            zones: Weighted::new([6, 3, 1]),
            types: Weighted::new(TYPES.iter().map(|t| t.1)),
            rcodes: Weighted::new(RCODES.iter().map(|t| t.1)),
            edges: Weighted::zipf(EDGES.len()),
            resolver_weights: Weighted::zipf(resolvers.len()),
            resolvers,
        }
    }
}

impl LineGen for Route53 {
    fn line(&mut self, buf: &mut Vec<u8>) {
        let rng = &mut self.rng;
        let ts = self.clock.tick(rng);
        buf.extend_from_slice(b"1.0 ");
        clock::iso_ms(buf, ts);
        let rcode = RCODES[self.rcodes.sample(rng)].0;
        let (zone_id, zone) = if rcode == "SERVFAIL" {
            let name = rng.pick(&BROKEN);
            let zone = ZONES.iter().find(|z| name.ends_with(z.1)).unwrap_or(&ZONES[0]);
            (zone.0, name)
        } else {
            ZONES[self.zones.sample(rng)]
        };
        buf.push(b' ');
        buf.extend_from_slice(zone_id.as_bytes());
        buf.push(b' ');
        if rcode == "NXDOMAIN" {
            buf.push(b'x');
            emit::hex(buf, rng.next_u64(), 6);
            buf.push(b'.');
        } else if rcode != "SERVFAIL" {
            buf.extend_from_slice(rng.pick(&LABELS).as_bytes());
        }
        buf.extend_from_slice(zone.as_bytes());
        buf.push(b' ');
        buf.extend_from_slice(TYPES[self.types.sample(rng)].0.as_bytes());
        buf.push(b' ');
        buf.extend_from_slice(rcode.as_bytes());
        buf.extend_from_slice(if rng.per_mille(970) { b" UDP " } else { b" TCP " });
        buf.extend_from_slice(EDGES[self.edges.sample(rng)].as_bytes());
        buf.push(b' ');
        buf.extend_from_slice(&self.resolvers[self.resolver_weights.sample(rng)]);
        if rng.per_mille(300) {
            buf.push(b' ');
            let o = emit::public_octets(rng);
            emit::ipv4(buf, [o[0], o[1], o[2], 0]);
            buf.extend_from_slice(b"/24\n");
        } else {
            buf.extend_from_slice(b" -\n");
        }
    }
}
