//! One generator per log kind. Each keeps its own clock and randomness and
//! appends exactly one `\n`-terminated line per call.

pub mod access;
pub mod apigw;
pub mod app_json;
pub mod app_text;
pub mod cloudtrail;
pub mod lambda;
pub mod route53;
pub mod vpc_flow;

pub trait LineGen {
    /// Appends one complete line, ending in `\n`, to `buf`.
    fn line(&mut self, buf: &mut Vec<u8>);
}

#[cfg(test)]
pub fn collect_lines(g: &mut impl LineGen, n: usize) -> Vec<String> {
    let mut buf = Vec::new();
    for _ in 0..n {
        g.line(&mut buf);
    }
    let text = String::from_utf8(buf).expect("generators write ASCII");
    text.lines().map(str::to_owned).collect()
}
