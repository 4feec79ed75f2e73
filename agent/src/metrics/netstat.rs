//! TCP connections by state and UDP sockets, from procfs `net/tcp`, `net/tcp6`, `net/udp` and
//! `net/udp6`, in the CloudWatch agent's `netstat` fields (Telegraf's netstat input: every
//! socket the kernel lists, IPv4 and IPv6 together).

use super::LineError;

/// The `tcp_*` fields in the kernel's state numbering (`include/net/tcp_states.h`), 1 to 11.
const TCP_STATES: [&str; 11] = [
    "tcp_established",
    "tcp_syn_sent",
    "tcp_syn_recv",
    "tcp_fin_wait1",
    "tcp_fin_wait2",
    "tcp_time_wait",
    "tcp_close",
    "tcp_close_wait",
    "tcp_last_ack",
    "tcp_listen",
    "tcp_closing",
];

/// Sockets of one `net/tcp`-shaped table by state: [none, established, …, closing].
pub fn count_tcp_states(file: &'static str, text: &str, counts: &mut [u64; 12]) -> Result<(), LineError> {
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        // `sl local_address rem_address st …`
        let state = line
            .split_ascii_whitespace()
            .nth(3)
            .and_then(|st| u8::from_str_radix(st, 16).ok())
            .ok_or_else(|| LineError {
                file,
                line: n + 1,
                text: line.to_string(),
                expected: "`sl local_address rem_address st …` with a hex state",
            })?;
        // States the kernel does not define count as `tcp_none` (as gopsutil's "NONE").
        let slot = if (1..=11).contains(&state) {
            usize::from(state)
        } else {
            0
        };
        counts[slot] += 1;
    }
    Ok(())
}

/// Sockets listed in a `net/udp`-shaped table.
pub fn count_sockets(text: &str) -> u64 {
    text.lines().skip(1).filter(|l| !l.trim().is_empty()).count() as u64
}

/// The fields from the counts of [`count_tcp_states`] and the UDP socket count.
pub fn fields(tcp: &[u64; 12], udp_sockets: u64) -> Vec<(&'static str, f64)> {
    let mut out = vec![("tcp_none", tcp[0] as f64)];
    out.extend(
        TCP_STATES
            .iter()
            .zip(&tcp[1..])
            .map(|(name, n)| (*name, *n as f64)),
    );
    out.push(("udp_socket", udp_sockets as f64));
    out
}

#[cfg(test)]
mod tests {
    use super::{count_sockets, count_tcp_states, fields};

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 23456 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D431 0100007F:1F90 06 00000000:00000000 03:00000D0B 00000000     0        0 0 3 0000000000000000
";

    #[test]
    fn sockets_are_counted_by_state() {
        let mut counts = [0; 12];
        count_tcp_states("net/tcp", TCP, &mut counts).unwrap();
        count_tcp_states(
            "net/tcp6",
            "  sl  local_address\n   0: 0:0 0:0 0A x\n",
            &mut counts,
        )
        .unwrap();
        let f = fields(&counts, count_sockets("  sl local\n 1: a b 07\n 2: a b 07\n"));
        let get = |name: &str| f.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        assert_eq!(get("tcp_listen"), Some(2.0));
        assert_eq!(get("tcp_established"), Some(1.0));
        assert_eq!(get("tcp_time_wait"), Some(1.0));
        assert_eq!(get("tcp_none"), Some(0.0));
        assert_eq!(get("udp_socket"), Some(2.0));
        assert_eq!(f.len(), 13);
        let err = count_tcp_states("net/tcp", "header\n 0: a b zz\n", &mut counts).unwrap_err();
        assert_eq!(err.line, 2);
    }
}
