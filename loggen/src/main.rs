//! `loggen`: the command line over `skywatch_loggen`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context as _};
use clap::{Args, Command, FromArgMatches as _};
use skywatch_loggen::{generate, parse_rfc3339_ms, parse_size, write_fixtures, Kind, Options, Shape};

const DEFAULT_LINES: u64 = 10_000;

const ABOUT: &str = "Deterministic synthetic logs for logq tests and benchmarks";

const LONG_ABOUT: &str = "\
Deterministic synthetic logs for logq tests and benchmarks.

Each KIND writes one log format. The same --seed gives the same bytes on every
platform, so a benchmark input can be regenerated instead of shipped.
`loggen fixtures DIR` writes the small fixture set the Logs Insights
conformance corpus runs against: one <kind>.log per kind.";

const EXAMPLES: &str = "\
Examples:
  loggen app-json --bytes 1G -o app-1g.jsonl     1 GiB of JSON logs, whole lines only
  loggen app-json --shape varied --bytes 1G -o app-varied-1g.jsonl
  loggen access --lines 1000 --seed 7            1000 nginx lines on stdout
  loggen lambda --start 2024-06-01T12:00:00Z -n 50
  loggen fixtures tests/fixtures/logs";

#[derive(Args, Debug)]
struct GenArgs {
    /// Random seed: the same seed gives the same bytes everywhere
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Number of lines to write [default: 10000 unless --bytes is given]
    #[arg(short = 'n', long, value_name = "N", conflicts_with = "bytes")]
    lines: Option<u64>,
    /// Write at most SIZE bytes of whole lines (e.g. 1G, 500M, 64K; binary units)
    #[arg(long, value_name = "SIZE", value_parser = size_arg)]
    bytes: Option<u64>,
    /// Time of the first event, RFC 3339
    #[arg(long, value_name = "RFC3339", default_value = "2024-03-01T00:00:00Z", value_parser = start_arg)]
    start: i64,
    /// Write to FILE instead of stdout (and report the rate on stderr)
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Layout of JSON lines (app-json): plain (fixed key order, whole-number latencies) or
    /// varied (shuffled keys, decimal latencies, optional/nested/long members, non-ASCII text)
    #[arg(long, value_name = "SHAPE", default_value = "plain", value_parser = shape_arg)]
    shape: Shape,
}

fn shape_arg(s: &str) -> Result<Shape, String> {
    Shape::from_name(s).ok_or_else(|| format!("`{s}` is not a shape; use plain or varied"))
}

fn size_arg(s: &str) -> Result<u64, String> {
    parse_size(s).ok_or_else(|| format!("`{s}` is not a size; use e.g. 1G, 500M, 64K or a byte count"))
}

fn start_arg(s: &str) -> Result<i64, String> {
    parse_rfc3339_ms(s).ok_or_else(|| format!("`{s}` is not an RFC 3339 time like 2024-03-01T00:00:00Z"))
}

fn cli() -> Command {
    let mut cmd = Command::new("loggen")
        .version(env!("CARGO_PKG_VERSION"))
        .about(ABOUT)
        .long_about(LONG_ABOUT)
        .override_usage(
            "loggen <KIND> [--seed N] [--lines N | --bytes SIZE] [--start RFC3339] [-o FILE]\n       loggen fixtures DIR",
        )
        .after_help(EXAMPLES)
        .subcommand_value_name("KIND")
        .subcommand_help_heading("Kinds")
        .subcommand_required(true)
        .arg_required_else_help(true);
    for &kind in Kind::all() {
        cmd = cmd.subcommand(GenArgs::augment_args(
            Command::new(kind.name()).about(kind.description()),
        ));
    }
    cmd.subcommand(
        Command::new("fixtures")
            .about("Write the conformance fixture set (one <kind>.log per kind) into DIR")
            .arg(
                clap::Arg::new("dir")
                    .value_name("DIR")
                    .required(true)
                    .value_parser(clap::value_parser!(PathBuf)),
            ),
    )
}

fn run() -> anyhow::Result<()> {
    let matches = cli().get_matches();
    let Some((name, sub)) = matches.subcommand() else {
        bail!("no KIND given")
    };
    if name == "fixtures" {
        let Some(dir) = sub.get_one::<PathBuf>("dir") else {
            bail!("fixtures needs a DIR")
        };
        let paths = write_fixtures(dir).with_context(|| format!("writing fixtures to {}", dir.display()))?;
        let mut stdout = io::stdout().lock();
        for p in paths {
            writeln!(stdout, "{}", p.display())?;
        }
        return Ok(());
    }
    let Some(kind) = Kind::from_name(name) else {
        bail!("unknown kind `{name}`")
    };
    let args = GenArgs::from_arg_matches(sub)?;
    let opts = Options {
        seed: args.seed,
        lines: if args.bytes.is_none() {
            Some(args.lines.unwrap_or(DEFAULT_LINES))
        } else {
            args.lines
        },
        bytes: args.bytes,
        start_ms: args.start,
        shape: args.shape,
    };
    if let Some(path) = &args.output {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let started = Instant::now();
        let (lines, bytes) =
            generate(kind, &opts, &mut out).with_context(|| format!("writing {}", path.display()))?;
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "loggen: {lines} {kind} lines, {bytes} bytes to {} in {secs:.2} s ({:.0} MB/s)",
            path.display(),
            bytes as f64 / 1e6 / secs.max(1e-9)
        );
    } else {
        let mut out = BufWriter::with_capacity(1 << 20, io::stdout().lock());
        generate(kind, &opts, &mut out)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        // `loggen app-json | head` closes the pipe early; that is not a failure.
        Err(e)
            if e.downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loggen: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        cli().debug_assert();
    }

    #[test]
    fn every_kind_is_a_subcommand_and_lines_conflict_with_bytes() {
        for &k in Kind::all() {
            let m = cli()
                .try_get_matches_from(["loggen", k.name(), "--bytes", "1M"])
                .unwrap();
            assert_eq!(m.subcommand_name(), Some(k.name()));
        }
        assert!(cli()
            .try_get_matches_from(["loggen", "access", "-n", "5", "--bytes", "1M"])
            .is_err());
        assert!(cli()
            .try_get_matches_from(["loggen", "access", "--start", "yesterday"])
            .is_err());
        assert!(cli().try_get_matches_from(["loggen", "syslog"]).is_err());
    }
}
