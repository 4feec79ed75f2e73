//! The `varied` shape of a JSON kind: the same events, written the way many services write
//! them rather than the way the benchmark's first file did — so that speed measured on one
//! file's layout is not mistaken for speed in general. Per line, at random (deterministically,
//! from the seed):
//!
//! - key order shuffled (the timestamp too);
//! - `latencyMs` a decimal with one to three places on 80 % of lines (`11.9`, `240.125`), an
//!   integer on the rest;
//! - optional keys left out (`userId` on a further 10 %, `host` on 5 %);
//! - a nested object (`ctx`: region, zone and a pod object) on 30 %;
//! - non-ASCII text appended to 20 % of messages (accents, CJK, an emoji);
//! - a long `payload` string (0.5–4 KB) on 5 %, and the `http`/`error` objects dropped on 20 %
//!   (short lines).

use serde_json::{Map, Value};

use crate::kinds::LineGen;
use crate::rng::Rng;

const REGIONS: [&str; 4] = ["eu-west-1", "us-east-1", "ap-northeast-1", "sa-east-1"];
const NON_ASCII: [&str; 5] = [
    " — Zürich",
    " (東京リージョン)",
    " ✓ réessayé",
    " Ωμέγα",
    " 🚀 déployé",
];

/// A generator whose lines are re-written in the varied shape.
pub struct Varied<G> {
    inner: G,
    rng: Rng,
    scratch: Vec<u8>,
}

impl<G: LineGen> Varied<G> {
    pub fn new(inner: G, seed: u64) -> Varied<G> {
        Varied {
            inner,
            rng: Rng::new(seed ^ 0x005e_ed0f_5a4e),
            scratch: Vec::new(),
        }
    }
}

impl<G: LineGen> LineGen for Varied<G> {
    fn line(&mut self, buf: &mut Vec<u8>) {
        self.scratch.clear();
        self.inner.line(&mut self.scratch);
        let text = self.scratch.strip_suffix(b"\n").unwrap_or(&self.scratch);
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(text) else {
            buf.extend_from_slice(&self.scratch);
            return;
        };
        let rng = &mut self.rng;
        let mut entries: Vec<(String, Value)> = Vec::with_capacity(map.len() + 2);
        let short = rng.per_mille(200);
        for (key, value) in map {
            let value = match key.as_str() {
                "latencyMs" => match value.as_u64() {
                    Some(ms) if rng.per_mille(800) => {
                        let places = rng.range(1, 3) as u32;
                        let scale = 10u64.pow(places);
                        let fraction = rng.below(scale);
                        let number = ms as f64 + fraction as f64 / scale as f64;
                        // Written with exactly `places` decimals, trailing zeros trimmed.
                        let mut digits = format!("{number:.*}", places as usize);
                        while digits.ends_with('0') {
                            digits.pop();
                        }
                        if digits.ends_with('.') {
                            digits.push('0');
                        }
                        match serde_json::from_str::<Value>(&digits) {
                            Ok(v) => v,
                            Err(_) => value,
                        }
                    }
                    _ => value,
                },
                "userId" if rng.per_mille(100) => continue,
                "host" if rng.per_mille(50) => continue,
                "http" | "error" if short => continue,
                "message" => match value.as_str() {
                    Some(m) if rng.per_mille(200) => Value::String(format!("{m}{}", rng.pick(&NON_ASCII))),
                    _ => value,
                },
                _ => value,
            };
            entries.push((key, value));
        }
        if rng.per_mille(300) {
            let mut pod = Map::new();
            pod.insert("id".into(), Value::from(rng.below(5000)));
            pod.insert("restarts".into(), Value::from(rng.below(4)));
            let mut ctx = Map::new();
            ctx.insert("region".into(), Value::from(rng.pick(&REGIONS)));
            ctx.insert(
                "zone".into(),
                Value::from(format!("{}", (b'a' + rng.below(3) as u8) as char)),
            );
            ctx.insert("pod".into(), Value::Object(pod));
            entries.push(("ctx".into(), Value::Object(ctx)));
        }
        if rng.per_mille(50) {
            let n = rng.range(500, 4000) as usize;
            let payload: String = (0..n)
                .map(|i| (b'a' + ((i * 7 + n) % 26) as u8) as char)
                .collect();
            entries.push(("payload".into(), Value::String(payload)));
        }
        rng.shuffle(&mut entries);
        let object: Map<String, Value> = entries.into_iter().collect();
        if serde_json::to_writer(&mut *buf, &Value::Object(object)).is_err() {
            buf.extend_from_slice(&self.scratch);
            return;
        }
        buf.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::app_json::AppJson;

    #[test]
    fn varied_lines_are_json_with_the_same_events_in_other_shapes() {
        let mut plain = AppJson::new(5, crate::clock::DEFAULT_START_MS, 28, false);
        let mut varied = Varied::new(AppJson::new(5, crate::clock::DEFAULT_START_MS, 28, false), 5);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut first_keys = std::collections::BTreeSet::new();
        let (mut decimals, mut non_ascii) = (0, 0);
        for _ in 0..2000 {
            a.clear();
            b.clear();
            plain.line(&mut a);
            varied.line(&mut b);
            let p: Value = serde_json::from_slice(&a).expect("plain JSON");
            let v: Value = serde_json::from_slice(&b).expect("varied JSON");
            assert_eq!(p["timestamp"], v["timestamp"]);
            assert_eq!(p["level"], v["level"]);
            assert_eq!(p["service"], v["service"]);
            let (pl, vl) = (p["latencyMs"].as_f64().unwrap(), v["latencyMs"].as_f64().unwrap());
            assert!(vl >= pl && vl < pl + 1.0, "{pl} {vl}");
            if !v["latencyMs"].is_u64() {
                decimals += 1;
            }
            if !v["message"].as_str().unwrap().is_ascii() {
                non_ascii += 1;
            }
            first_keys.insert(v.as_object().unwrap().keys().next().unwrap().clone());
        }
        assert!(decimals > 1400 && decimals < 1800, "{decimals}");
        assert!(non_ascii > 300, "{non_ascii}");
        assert!(first_keys.len() >= 6, "{first_keys:?}");
    }
}
