//! Network interface counters from procfs `net/dev`, in the CloudWatch agent's field names.

use super::LineError;

/// The cumulative counters of one interface, as (field, value) in the schema's names.
pub type InterfaceCounters = (String, Vec<(&'static str, u64)>);

/// Every interface's counters. The two header lines are skipped; each other line is
/// `name: rx bytes packets errs drop fifo frame compressed multicast tx bytes packets errs drop …`.
pub fn parse_net_dev(text: &str) -> Result<Vec<InterfaceCounters>, LineError> {
    let mut interfaces = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if n < 2 || line.trim().is_empty() {
            continue;
        }
        let bad = || LineError {
            file: "net/dev",
            line: n + 1,
            text: line.to_string(),
            expected: "`interface: counters`",
        };
        let (name, counters) = line.split_once(':').ok_or_else(bad)?;
        let counters: Vec<u64> = counters
            .split_ascii_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        if counters.len() < 12 {
            return Err(bad());
        }
        interfaces.push((
            name.trim().to_string(),
            vec![
                ("bytes_recv", counters[0]),
                ("packets_recv", counters[1]),
                ("err_in", counters[2]),
                ("drop_in", counters[3]),
                ("bytes_sent", counters[8]),
                ("packets_sent", counters[9]),
                ("err_out", counters[10]),
                ("drop_out", counters[11]),
            ],
        ));
    }
    Ok(interfaces)
}
