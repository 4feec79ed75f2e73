//! A compact binary form of values, for the groups a stats stage spills to disk: written and
//! read back by this process only, so it needs no version and no portability beyond it.
//! Numbers are little-endian; `0.0` and `-0.0` are one value, as group keys see them.

use std::sync::Arc;

use crate::value::Value;

const NONE: u8 = 0;
const STR: u8 = 1;
const NUM: u8 = 2;
const TIME: u8 = 3;
const BOOL: u8 = 4;
const LIST: u8 = 5;
const MAP: u8 = 6;

pub fn put_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_le_bytes());
}

pub fn put_f64(out: &mut Vec<u8>, x: f64) {
    put_u64(out, x.to_bits());
}

pub fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u64(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Writes an optional value.
pub fn put_value(out: &mut Vec<u8>, value: Option<&Value>) {
    match value {
        None => out.push(NONE),
        Some(Value::Str(s)) => {
            out.push(STR);
            put_bytes(out, s.as_bytes());
        }
        Some(Value::Num(n)) => {
            out.push(NUM);
            put_f64(out, if *n == 0.0 { 0.0 } else { *n });
        }
        Some(Value::Time(ms)) => {
            out.push(TIME);
            put_u64(out, *ms as u64);
        }
        Some(Value::Bool(b)) => {
            out.push(BOOL);
            out.push(u8::from(*b));
        }
        Some(Value::List(items)) => {
            out.push(LIST);
            put_u64(out, items.len() as u64);
            for item in items.iter() {
                put_value(out, Some(item));
            }
        }
        Some(Value::Map(entries)) => {
            out.push(MAP);
            put_u64(out, entries.len() as u64);
            for (key, item) in entries.iter() {
                put_bytes(out, key.as_bytes());
                put_value(out, Some(item));
            }
        }
    }
}

/// Reads what the `put_` functions wrote, from the front of a slice it advances.
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// What is left to read.
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    pub fn u8(&mut self) -> Option<u8> {
        let (&first, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(first)
    }

    pub fn u64(&mut self) -> Option<u64> {
        let (head, rest) = self.rest.split_first_chunk::<8>()?;
        self.rest = rest;
        Some(u64::from_le_bytes(*head))
    }

    pub fn f64(&mut self) -> Option<f64> {
        self.u64().map(f64::from_bits)
    }

    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u64()?).ok()?;
        if len > self.rest.len() {
            return None;
        }
        let (head, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(head)
    }

    /// An optional value; `None` for malformed input, `Some(None)` for a missing value.
    #[allow(clippy::option_option)]
    pub fn value(&mut self) -> Option<Option<Value>> {
        Some(match self.u8()? {
            NONE => None,
            STR => Some(Value::str(std::str::from_utf8(self.bytes()?).ok()?)),
            NUM => Some(Value::Num(self.f64()?)),
            TIME => Some(Value::Time(self.u64()? as i64)),
            BOOL => Some(Value::Bool(self.u8()? != 0)),
            LIST => {
                let n = self.u64()?;
                let mut items = Vec::new();
                for _ in 0..n {
                    items.push(self.value()??);
                }
                Some(Value::List(Arc::new(items)))
            }
            MAP => {
                let n = self.u64()?;
                let mut entries = Vec::new();
                for _ in 0..n {
                    let key = std::str::from_utf8(self.bytes()?).ok()?.to_string();
                    entries.push((key, self.value()??));
                }
                Some(Value::Map(Arc::new(entries)))
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{put_value, Reader};
    use crate::value::Value;
    use std::sync::Arc;

    #[test]
    fn every_kind_of_value_reads_back_as_written() {
        let values = [
            None,
            Some(Value::str("")),
            Some(Value::str("a longer text than twenty-two bytes, with é")),
            Some(Value::Num(-2.5)),
            Some(Value::Num(1e300)),
            Some(Value::Time(-5)),
            Some(Value::Bool(true)),
            Some(Value::List(Arc::new(vec![Value::Num(1.0), Value::str("x")]))),
            Some(Value::Map(Arc::new(vec![("k".into(), Value::Bool(false))]))),
        ];
        let mut out = Vec::new();
        for v in &values {
            put_value(&mut out, v.as_ref());
        }
        let mut reader = Reader::new(&out);
        for v in &values {
            assert_eq!(reader.value(), Some(v.clone()));
        }
        assert!(reader.is_empty());
        // Cut anywhere: an error, never a panic.
        for cut in 0..out.len() {
            let mut reader = Reader::new(&out[..cut]);
            while let Some(Some(_) | None) = reader.value() {
                if reader.is_empty() {
                    break;
                }
            }
        }
    }

    #[test]
    fn minus_zero_is_zero() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        put_value(&mut a, Some(&Value::Num(0.0)));
        put_value(&mut b, Some(&Value::Num(-0.0)));
        assert_eq!(a, b);
    }
}
