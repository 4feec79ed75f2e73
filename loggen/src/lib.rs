//! loggen: synthetic logs for testing and benchmarking `logq`.
//!
//! Two jobs share one set of generators: large files in the shape of the peer
//! benchmark's data (`generate`), and the small fixture log groups the Logs
//! Insights conformance corpus runs against (`write_fixtures`).
//!
//! The design decision is determinism: a seed gives the same bytes on every
//! platform and every run, so benchmark inputs can be regenerated instead of
//! shipped and fixture files can be rebuilt by a test and compared. That is why
//! there is no `rand` dependency and no libm call on the random path (the
//! `rng` module). The second decision is speed: a generator appends
//! each line to one reused byte buffer with hand-written number formatting,
//! and the buffer goes to the writer in large chunks, so gigabyte inputs take
//! seconds rather than minutes.
//!
//! Every line is ASCII and one line: text never contains a raw newline, and JSON
//! kinds escape theirs (`\n` inside stack traces).

mod clock;
mod emit;
mod kinds;
mod rng;
mod stacks;
mod varied;
mod vocab;

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub use clock::{parse_rfc3339_ms, DEFAULT_START_MS};
/// Every key an `app-json` line may carry, in the order lines write them: the
/// bulk keys first (`timestamp` … `job`), then the fixture-only extras.
pub use kinds::app_json::KEY_ORDER as APP_JSON_KEY_ORDER;
use kinds::LineGen;

/// A kind of log, named as on the command line and in fixture file names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `app-json`: JSON application logs.
    AppJson,
    /// `access`: nginx combined access log.
    Access,
    /// `lambda`: a Lambda function's log stream.
    Lambda,
    /// `vpc-flow`: VPC flow logs, default v2 format.
    VpcFlow,
    /// `route53`: Route 53 DNS query logs.
    Route53,
    /// `cloudtrail`: CloudTrail events as JSON lines.
    CloudTrail,
    /// `apigw`: API Gateway JSON access logs.
    ApiGateway,
    /// `app-text`: plain-text application lines for `parse`.
    AppText,
}

const ALL: [Kind; 8] = [
    Kind::AppJson,
    Kind::Access,
    Kind::Lambda,
    Kind::VpcFlow,
    Kind::Route53,
    Kind::CloudTrail,
    Kind::ApiGateway,
    Kind::AppText,
];

impl Kind {
    /// The kind named `s`: its [`name`](Kind::name), case-insensitive, with `_`
    /// for `-` accepted, plus a few spellings (`nginx`, `api-gateway`, `vpc`, …).
    pub fn from_name(s: &str) -> Option<Kind> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        let kind = match s.as_str() {
            "app-json" | "json" | "app" => Kind::AppJson,
            "access" | "nginx" | "access-log" => Kind::Access,
            "lambda" => Kind::Lambda,
            "vpc-flow" | "vpc" | "flow" | "vpcflow" => Kind::VpcFlow,
            "route53" | "route-53" | "dns" => Kind::Route53,
            "cloudtrail" | "cloud-trail" => Kind::CloudTrail,
            "apigw" | "api-gateway" | "apigateway" => Kind::ApiGateway,
            "app-text" | "text" => Kind::AppText,
            _ => return None,
        };
        Some(kind)
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::AppJson => "app-json",
            Kind::Access => "access",
            Kind::Lambda => "lambda",
            Kind::VpcFlow => "vpc-flow",
            Kind::Route53 => "route53",
            Kind::CloudTrail => "cloudtrail",
            Kind::ApiGateway => "apigw",
            Kind::AppText => "app-text",
        }
    }

    pub fn all() -> &'static [Kind] {
        &ALL
    }

    /// One line for `--help`.
    pub fn description(self) -> &'static str {
        match self {
            Kind::AppJson => "JSON application logs (the peer benchmark's app.jsonl shape), ~36 lines/s",
            Kind::Access => "nginx combined access log, incl. ~0.02 % malformed \"-\" 400 requests",
            Kind::Lambda => {
                "Lambda log stream: INIT_START/START/app lines/END/REPORT, cold starts, a timeout"
            }
            Kind::VpcFlow => "VPC flow logs, default v2 format, incl. NODATA and SKIPDATA records",
            Kind::Route53 => "Route 53 DNS query logs, NOERROR/NXDOMAIN/SERVFAIL/REFUSED",
            Kind::CloudTrail => "CloudTrail management events, one JSON record per line",
            Kind::ApiGateway => "API Gateway REST JSON access logs",
            Kind::AppText => "plain-text lines for glob/regex/logfmt/CSV parse",
        }
    }

    /// Mean gap between events in bulk output (for Lambda: between invocations).
    fn bulk_gap_ms(self) -> u64 {
        match self {
            Kind::AppJson => 28,
            Kind::Access => 33,
            Kind::Lambda | Kind::CloudTrail => 500,
            Kind::VpcFlow | Kind::AppText => 50,
            Kind::Route53 | Kind::ApiGateway => 40,
        }
    }

    /// Lines in this kind's fixture file.
    pub fn fixture_lines(self) -> u64 {
        match self {
            Kind::AppJson => 2000,
            Kind::Lambda | Kind::VpcFlow => 1500,
            Kind::CloudTrail => 600,
            Kind::Access | Kind::Route53 | Kind::ApiGateway | Kind::AppText => 1000,
        }
    }

    /// Mean event gap that makes the fixture span about three hours.
    fn fixture_gap_ms(self) -> u64 {
        const SPAN_MS: u64 = 3 * 3_600_000;
        // A Lambda invocation writes about 4.7 lines.
        let events = if self == Kind::Lambda {
            self.fixture_lines() * 10 / 47
        } else {
            self.fixture_lines()
        };
        SPAN_MS / events
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What to generate. With neither `lines` nor `bytes`, [`generate`] writes until
/// the writer fails; with both, it stops at whichever limit comes first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub seed: u64,
    pub lines: Option<u64>,
    pub bytes: Option<u64>,
    /// Time of the first event, epoch milliseconds UTC.
    pub start_ms: i64,
    /// How JSON lines are laid out (`app-json` only).
    pub shape: Shape,
}

/// How a JSON kind's lines are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shape {
    /// Keys in a fixed order, whole-number latencies: the first benchmark file's layout.
    #[default]
    Plain,
    /// The same events with shuffled key order, decimal latencies, optional, nested and long
    /// members and non-ASCII text (see `varied.rs`).
    Varied,
}

impl Shape {
    pub fn from_name(s: &str) -> Option<Shape> {
        match s {
            "plain" => Some(Shape::Plain),
            "varied" => Some(Shape::Varied),
            _ => None,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 42,
            lines: None,
            bytes: None,
            start_ms: DEFAULT_START_MS,
            shape: Shape::Plain,
        }
    }
}

/// Writes lines of `kind` until `lines` lines or `bytes` bytes are written (the
/// last line is never cut: generation stops before a line that would exceed
/// `bytes`) and returns (lines, bytes) written. Output is byte-for-byte the same
/// for the same `kind` and `opts` on every platform.
pub fn generate(kind: Kind, opts: &Options, out: &mut dyn Write) -> io::Result<(u64, u64)> {
    run(kind, opts, false, kind.bulk_gap_ms(), out)
}

/// The seed of the fixture set.
pub const FIXTURE_SEED: u64 = 20_240_301;

/// Writes the conformance fixture set into `dir` (created if missing): one file
/// per kind, `<kind>.log` (`app-json.log`, `lambda.log`, …), 600–2000 lines each
/// (`lambda.log` ends on the last whole invocation),
/// spanning about three hours from 2024-03-01T00:00:00Z. Fixed seed: the files
/// are the same on every run. Returns the paths in [`Kind::all`] order.
pub fn write_fixtures(dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut paths = Vec::new();
    for &kind in Kind::all() {
        let path = dir.join(format!("{}.log", kind.name()));
        let opts = Options {
            seed: FIXTURE_SEED,
            lines: Some(kind.fixture_lines()),
            bytes: None,
            start_ms: DEFAULT_START_MS,
            shape: Shape::Plain,
        };
        let mut text = Vec::new();
        run(kind, &opts, true, kind.fixture_gap_ms(), &mut text)?;
        if kind == Kind::Lambda {
            // End on a whole invocation: cut after the last REPORT line.
            if let Some(at) = text.windows(8).rposition(|w| w == b"\nREPORT ") {
                let end = text[at + 1..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(text.len(), |p| at + 2 + p);
                text.truncate(end);
            }
        }
        let mut file = File::create(&path)?;
        file.write_all(&text)?;
        file.sync_all()?;
        paths.push(path);
    }
    Ok(paths)
}

fn run(
    kind: Kind,
    opts: &Options,
    fixture: bool,
    gap_ms: u64,
    out: &mut dyn Write,
) -> io::Result<(u64, u64)> {
    // Each kind gets its own stream, so files made with one seed don't share values.
    let salt =
        (ALL.iter().position(|&k| k == kind).unwrap_or(0) as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let (seed, start) = (opts.seed ^ salt, opts.start_ms);
    match kind {
        Kind::AppJson if opts.shape == Shape::Varied => drive(
            &mut varied::Varied::new(kinds::app_json::AppJson::new(seed, start, gap_ms, fixture), seed),
            opts,
            out,
        ),
        Kind::AppJson => drive(
            &mut kinds::app_json::AppJson::new(seed, start, gap_ms, fixture),
            opts,
            out,
        ),
        Kind::Access => drive(
            &mut kinds::access::Access::new(seed, start, gap_ms, fixture),
            opts,
            out,
        ),
        Kind::Lambda => drive(
            &mut kinds::lambda::Lambda::new(seed, start, gap_ms, fixture),
            opts,
            out,
        ),
        Kind::VpcFlow => drive(&mut kinds::vpc_flow::VpcFlow::new(seed, start, gap_ms), opts, out),
        Kind::Route53 => drive(&mut kinds::route53::Route53::new(seed, start, gap_ms), opts, out),
        Kind::CloudTrail => drive(
            &mut kinds::cloudtrail::CloudTrail::new(seed, start, gap_ms),
            opts,
            out,
        ),
        Kind::ApiGateway => drive(&mut kinds::apigw::ApiGateway::new(seed, start, gap_ms), opts, out),
        Kind::AppText => drive(&mut kinds::app_text::AppText::new(seed, start, gap_ms), opts, out),
    }
}

/// Lines accumulate in one buffer that is handed to the writer every 256 KiB;
/// a line that would break the byte budget is truncated away before it is written.
fn drive(g: &mut impl LineGen, opts: &Options, out: &mut dyn Write) -> io::Result<(u64, u64)> {
    const CHUNK: usize = 256 * 1024;
    let max_lines = opts.lines.unwrap_or(u64::MAX);
    let max_bytes = opts.bytes.unwrap_or(u64::MAX);
    let mut buf = Vec::with_capacity(CHUNK + 64 * 1024);
    let (mut lines, mut bytes) = (0u64, 0u64);
    while lines < max_lines {
        let mark = buf.len();
        g.line(&mut buf);
        let len = (buf.len() - mark) as u64;
        if bytes.saturating_add(len) > max_bytes {
            buf.truncate(mark);
            break;
        }
        lines += 1;
        bytes += len;
        if buf.len() >= CHUNK {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    out.flush()?;
    Ok((lines, bytes))
}

/// Parses a size such as `1G`, `500M`, `64k`, `10MiB`, `2GB` or `1048576`.
/// Suffixes are binary (K = 1024), case-insensitive, with an optional `i`/`B`.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let n: u64 = s[..digits].parse().ok()?;
    let unit = s[digits..].trim_start().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_aliases_resolve() {
        for &k in Kind::all() {
            assert_eq!(Kind::from_name(k.name()), Some(k));
            assert_eq!(
                Kind::from_name(&k.name().to_uppercase().replace('-', "_")),
                Some(k)
            );
        }
        assert_eq!(Kind::from_name("nginx"), Some(Kind::Access));
        assert_eq!(Kind::from_name("api-gateway"), Some(Kind::ApiGateway));
        assert_eq!(Kind::from_name("syslog"), None);
    }

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("500M"), Some(500 << 20));
        assert_eq!(parse_size("64k"), Some(64 << 10));
        assert_eq!(parse_size("10MiB"), Some(10 << 20));
        assert_eq!(parse_size("2 GB"), Some(2 << 30));
        assert_eq!(parse_size("123"), Some(123));
        for bad in ["", "G", "1X", "1.5G", "-1", "99999999999999T"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn fixtures_span_about_three_hours() {
        for &k in Kind::all() {
            let gap = k.fixture_gap_ms();
            assert!((5000..=40_000).contains(&gap), "{k}: {gap} ms");
        }
    }
}
