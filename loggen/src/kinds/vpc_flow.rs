//! VPC flow log records in the default (version 2) format:
//! `version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status`,
//! with `NODATA` and `SKIPDATA` records (`-` in the flow fields), TCP, UDP and
//! ICMP flows, private addresses in 10.0.0.0/8, on-premises clients in
//! 192.0.2.0/24, and a NAT gateway talking to 203.0.113.5.

use super::LineGen;
use crate::clock::Clock;
use crate::emit;
use crate::rng::{Rng, Weighted};

const ACCOUNT: &str = "123456789012";

pub const ENIS: [&str; 8] = [
    "eni-0123456789abcdef0",
    "eni-0a1b2c3d4e5f60718",
    "eni-0f9e8d7c6b5a49382",
    "eni-02468ace13579bdf0",
    "eni-0badc0ffee0ddf00d",
    "eni-01234abcd5678ef90",
    "eni-0fedcba9876543210",
    "eni-0c0ffee1234567890",
];

pub struct VpcFlow {
    rng: Rng,
    clock: Clock,
    enis: Weighted,
    shapes: Weighted,
}

impl VpcFlow {
    pub fn new(seed: u64, start_ms: i64, mean_gap_ms: u64) -> Self {
        VpcFlow {
            rng: Rng::new(seed),
            clock: Clock::new(start_ms, mean_gap_ms),
            enis: Weighted::zipf(ENIS.len()),
            // inbound web, NAT egress, internal, on-prem, DNS/NTP (UDP), ICMP, NODATA, SKIPDATA
            shapes: Weighted::new([300, 150, 200, 120, 150, 30, 30, 20]),
        }
    }
}

fn private(rng: &mut Rng) -> [u8; 4] {
    [10, 0, rng.below(8) as u8, rng.range(4, 250) as u8]
}

impl LineGen for VpcFlow {
    fn line(&mut self, buf: &mut Vec<u8>) {
        let rng = &mut self.rng;
        let start = self.clock.tick(rng) / 1000;
        let end = start + rng.range(5, 60) as i64;
        buf.extend_from_slice(b"2 ");
        buf.extend_from_slice(ACCOUNT.as_bytes());
        buf.push(b' ');
        buf.extend_from_slice(ENIS[self.enis.sample(rng)].as_bytes());
        let shape = self.shapes.sample(rng);
        if shape >= 6 {
            buf.extend_from_slice(b" - - - - - - - ");
            emit::i64(buf, start);
            buf.push(b' ');
            emit::i64(buf, end);
            buf.extend_from_slice(if shape == 6 {
                b" - NODATA\n"
            } else {
                b" - SKIPDATA\n"
            });
            return;
        }
        let ephemeral = rng.range(32_768, 60_999);
        let (src, dst, sport, dport, proto) = match shape {
            0 => (
                emit::public_octets(rng),
                private(rng),
                ephemeral,
                rng.pick(&[443, 443, 80, 22]),
                6,
            ),
            1 => (private(rng), [203, 0, 113, 5], ephemeral, 443, 6),
            2 => (
                private(rng),
                private(rng),
                ephemeral,
                rng.pick(&[5432, 6379, 8080, 3306]),
                6,
            ),
            3 => (
                [192, 0, 2, rng.range(1, 254) as u8],
                private(rng),
                ephemeral,
                rng.pick(&[443, 22, 3389]),
                6,
            ),
            4 => (
                private(rng),
                rng.pick(&[[10, 0, 0, 2], [169, 254, 169, 123]]),
                ephemeral,
                53,
                17,
            ),
            _ => (private(rng), private(rng), 0, 0, 1),
        };
        // DNS goes to the resolver, NTP to the time service; the port follows the address.
        let dport = if proto == 17 && dst[0] == 169 { 123 } else { dport };
        let (src, dst, sport, dport) = if proto == 6 && rng.per_mille(400) {
            (dst, src, dport, sport)
        } else {
            (src, dst, sport, dport)
        };
        let packets = match proto {
            17 => rng.range(1, 4),
            1 => rng.range(1, 10),
            _ => (rng.lognormal(12.0, 1.2) as u64).max(1),
        };
        let bytes = packets * rng.range(40, if proto == 6 { 1500 } else { 200 });
        let action: &[u8] = if shape == 0 && rng.per_mille(150) || shape == 3 && rng.per_mille(100) {
            b" REJECT OK\n"
        } else {
            b" ACCEPT OK\n"
        };
        for addr in [src, dst] {
            buf.push(b' ');
            emit::ipv4(buf, addr);
        }
        for n in [sport, dport, proto, packets, bytes] {
            buf.push(b' ');
            emit::u64(buf, n);
        }
        buf.push(b' ');
        emit::i64(buf, start);
        buf.push(b' ');
        emit::i64(buf, end);
        buf.extend_from_slice(action);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::DEFAULT_START_MS;
    use crate::kinds::collect_lines;

    #[test]
    fn every_record_has_fourteen_fields() {
        let mut g = VpcFlow::new(3, DEFAULT_START_MS, 7000);
        let lines = collect_lines(&mut g, 2000);
        for l in &lines {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 14, "{l}");
            assert!(f[13] == "OK" || f[13] == "NODATA" || f[13] == "SKIPDATA", "{l}");
        }
        for needle in [
            " SKIPDATA",
            " NODATA",
            " 17 ",
            " 6 ",
            " 192.0.2.",
            " 203.0.113.5 ",
            "eni-0123456789abcdef0",
        ] {
            assert!(lines.iter().any(|l| l.contains(needle)), "no {needle}");
        }
    }
}
