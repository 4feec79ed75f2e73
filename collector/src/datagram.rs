//! The X-Ray daemon's UDP protocol: each datagram is a header line (`{"format":"json",
//! "version":1}`), a newline, then one segment document. The header is read as JSON — not
//! compared as a string, so `{"version": 1, "format": "jSoN"}` is a header too, as the daemon
//! takes it — and anything else is rejected with its reason, to be counted.

/// The most a UDP datagram carries over IPv4 (and the daemon's 64 KiB buffer holds).
pub const MAX_DATAGRAM_BYTES: usize = 65_507;

/// Why a datagram was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// Nothing in it.
    Empty,
    /// Larger than a datagram can be (over TCP or a test; UDP cannot carry it).
    Oversize(usize),
    /// No newline: no header, or no document after it.
    NoHeader,
    /// A header that is not `{"format":"json","version":1}` (the reason).
    BadHeader(String),
    /// A header and nothing after it.
    NoDocument,
}

impl Rejected {
    /// The reason's name, as `/metrics` labels it.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejected::Empty => "empty",
            Rejected::Oversize(_) => "oversize",
            Rejected::NoHeader => "no_header",
            Rejected::BadHeader(_) => "bad_header",
            Rejected::NoDocument => "no_document",
        }
    }
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejected::Empty => f.write_str("an empty datagram"),
            Rejected::Oversize(n) => {
                write!(f, "{n} bytes, more than a datagram holds ({MAX_DATAGRAM_BYTES})")
            }
            Rejected::NoHeader => {
                f.write_str("no header line (a datagram is a header, a newline, then a segment document)")
            }
            Rejected::BadHeader(why) => write!(f, "a bad header: {why}"),
            Rejected::NoDocument => f.write_str("a header and no segment document after it"),
        }
    }
}

/// The segment document a datagram carries, after its header is checked.
pub fn document(datagram: &[u8]) -> Result<&[u8], Rejected> {
    if datagram.is_empty() {
        return Err(Rejected::Empty);
    }
    if datagram.len() > MAX_DATAGRAM_BYTES {
        return Err(Rejected::Oversize(datagram.len()));
    }
    let Some(newline) = datagram.iter().position(|&b| b == b'\n') else {
        return Err(Rejected::NoHeader);
    };
    check_header(&datagram[..newline])?;
    let body = &datagram[newline + 1..];
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Rejected::NoDocument);
    }
    Ok(body)
}

fn check_header(line: &[u8]) -> Result<(), Rejected> {
    let header: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| Rejected::BadHeader(format!("not JSON ({e})")))?;
    let format = header.get("format").and_then(serde_json::Value::as_str);
    if !format.is_some_and(|f| f.eq_ignore_ascii_case("json")) {
        return Err(Rejected::BadHeader(format!(
            "format is {}, not \"json\"",
            header
                .get("format")
                .map_or_else(|| "missing".to_string(), ToString::to_string)
        )));
    }
    if header.get("version").and_then(serde_json::Value::as_u64) != Some(1) {
        return Err(Rejected::BadHeader(format!(
            "version is {}, not 1",
            header
                .get("version")
                .map_or_else(|| "missing".to_string(), ToString::to_string)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{document, Rejected, MAX_DATAGRAM_BYTES};

    #[test]
    fn the_header_is_read_as_json_and_the_rest_is_the_document() {
        assert_eq!(
            document(b"{\"format\":\"json\",\"version\":1}\n{\"id\":1}"),
            Ok(&b"{\"id\":1}"[..])
        );
        // Spaces, key order and the format's case do not matter (the daemon compares EqualFold).
        assert_eq!(
            document(b"{ \"version\": 1, \"format\": \"jSoN\" }\n{}"),
            Ok(&b"{}"[..])
        );
    }

    #[test]
    fn every_bad_datagram_is_rejected_with_its_reason() {
        let cases: [(&[u8], &str); 7] = [
            (b"", "empty"),
            (b"{\"format\":\"json\",\"version\":1}", "no_header"),
            (b"{\"format\":\"json\",\"version\":1}\n", "no_document"),
            (b"{\"format\":\"json\",\"version\":2}\n{}", "bad_header"),
            (b"{\"format\":\"xml\",\"version\":1}\n{}", "bad_header"),
            (b"format=json\n{}", "bad_header"),
            (b"{\"format\":\"json\",\"version\":\"1\"}\n{}", "bad_header"),
        ];
        for (datagram, reason) in cases {
            let rejected = document(datagram).unwrap_err();
            assert_eq!(
                rejected.reason(),
                reason,
                "{:?}: {rejected}",
                String::from_utf8_lossy(datagram)
            );
        }
        let big = vec![b'x'; MAX_DATAGRAM_BYTES + 1];
        assert_eq!(document(&big), Err(Rejected::Oversize(MAX_DATAGRAM_BYTES + 1)));
    }

    #[test]
    fn any_bytes_give_a_document_or_a_reason_never_a_panic() {
        let mut rng = fastrand::Rng::with_seed(7);
        let header = b"{\"format\":\"json\",\"version\":1}\n";
        for _ in 0..20_000 {
            let len = rng.usize(0..200);
            let mut bytes: Vec<u8> = if rng.bool() { header.to_vec() } else { Vec::new() };
            bytes.extend((0..len).map(|_| rng.u8(..)));
            if let (true, Some(cut)) = (rng.bool(), bytes.len().checked_sub(1)) {
                bytes.truncate(rng.usize(0..=cut));
            }
            let _ = document(&bytes);
        }
    }
}
