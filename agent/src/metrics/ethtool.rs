//! The CloudWatch agent's `ethtool` plugin (Telegraf's ethtool input): each interface's driver
//! statistics as `ethtool -S IFACE` prints them (the ENA driver's `bw_in_allowance_exceeded`,
//! `pps_allowance_exceeded`, … on EC2), named `ethtool_<statistic>`, dimensions `interface` and
//! `driver` (from `ethtool -i`). Values are sent as the driver counts them (cumulative), as the
//! CloudWatch agent sends them. Without the `ethtool` tool every scrape says so.

use std::process::Command;

/// `ethtool` from `$SKYWATCH_ETHTOOL`, else the PATH.
fn program() -> String {
    std::env::var("SKYWATCH_ETHTOOL").unwrap_or_else(|_| "ethtool".to_string())
}

fn run(args: &[&str]) -> Result<String, String> {
    let program = program();
    let mut command = Command::new(&program);
    command.args(args);
    let out = super::command::output_within(command, super::command::TIMEOUT).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            format!("{program} not found: the ethtool plugin needs the ethtool tool (apt-get install ethtool)")
        }
        _ => format!("cannot run {program}: {e}"),
    })?;
    if !out.status.success() {
        return Err(format!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The statistics of `ethtool -S` output (`     name: value` lines after a header).
pub fn parse_stats(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            let value = value.trim().parse::<f64>().ok()?;
            Some((name.trim().to_string(), value))
        })
        .collect()
}

/// The driver of `ethtool -i` output.
pub fn parse_driver(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("driver:"))
        .map(|d| d.trim().to_string())
}

/// One interface's driver and statistics.
pub fn read(interface: &str) -> Result<(String, Vec<(String, f64)>), String> {
    let stats = parse_stats(&run(&["-S", interface])?);
    let driver = run(&["-i", interface])
        .ok()
        .and_then(|t| parse_driver(&t))
        .unwrap_or_default();
    Ok((driver, stats))
}

#[cfg(test)]
mod tests {
    use super::{parse_driver, parse_stats};

    #[test]
    fn a_recorded_ena_answer_reads() {
        let stats = parse_stats("NIC statistics:\n     tx_timeout: 0\n     bw_in_allowance_exceeded: 12\n     queue_0_tx_cnt: 4096\n");
        assert_eq!(stats[1], ("bw_in_allowance_exceeded".to_string(), 12.0));
        assert_eq!(stats.len(), 3);
        assert_eq!(
            parse_driver("driver: ena\nversion: 2.8.0g\n").as_deref(),
            Some("ena")
        );
    }
}
