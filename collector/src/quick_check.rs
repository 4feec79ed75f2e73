//! The ingest path's check of a segment document: the facts the store needs (id, trace id,
//! start, end) and the same verdict as [`segment::parse`], read straight off the bytes with
//! borrowed strings and everything else skipped — no JSON tree is built, which is most of what
//! taking a datagram costs.
//!
//! It answers only when it is sure: for one JSON object whose every member it could read.
//! Anything else (an array of subsegments, a duplicate key, a member of a type it does not
//! expect, a document `segment::parse` refuses) gives `None`, and the caller asks
//! `segment::parse`, which has the last word and the error's code and place. A property test
//! holds the two to one answer.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::segment::{self, is_id, is_trace_id};

/// What the store keeps about a document besides its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub id: String,
    pub trace_id: String,
    pub start_time: f64,
    /// `None` while in progress.
    pub end_time: Option<f64>,
}

impl From<&segment::Document> for Facts {
    fn from(doc: &segment::Document) -> Facts {
        Facts {
            id: doc.id.clone(),
            trace_id: doc.trace_id.clone(),
            start_time: doc.start_time,
            end_time: doc.end_time,
        }
    }
}

/// Any JSON value, kept only when it is a scalar (what the checks look at).
enum Scalar<'a> {
    Str(Cow<'a, str>),
    Num(f64),
    Bool(bool),
    Null,
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Scalar<'a>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Num(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Num(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Num(v as f64))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'de>, A::Error> {
                while seq.next_element::<Checked>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
                while map.next_entry::<Checked, Checked>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// A subsegment list: the subsegments when it is an array (of objects), nothing otherwise —
/// as `segment::parse` ignores a `subsegments` that is not an array.
struct Subsegments<'a>(Vec<Sub<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for Subsegments<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Subsegments<'a>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Subsegments<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Subsegments<'de>, A::Error> {
                let mut subs = Vec::new();
                while let Some(sub) = seq.next_element::<Sub<'de>>()? {
                    subs.push(sub);
                }
                Ok(Subsegments(subs))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Subsegments<'de>, A::Error> {
                while map.next_entry::<Checked, Checked>()?.is_some() {}
                Ok(Subsegments(Vec::new()))
            }
            fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<Subsegments<'de>, E> {
                Ok(Subsegments(Vec::new()))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Subsegments<'de>, E> {
                Ok(Subsegments(Vec::new()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Subsegments<'de>, E> {
                Ok(Subsegments(Vec::new()))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Subsegments<'de>, E> {
                Ok(Subsegments(Vec::new()))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Subsegments<'de>, E> {
                Ok(Subsegments(Vec::new()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Subsegments<'de>, E> {
                Ok(Subsegments(Vec::new()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Subsegments<'de>, E> {
                Ok(Subsegments(Vec::new()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A subsegment: only a JSON object is one (an array of its members is not, as
/// `segment::parse` has it); anything else fails the read and `parse` decides.
struct Sub<'a>(Members<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for Sub<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Sub<'a>, D::Error> {
        Members::deserialize(d).map(Sub)
    }
}

/// The members the checks look at, of a segment or a subsegment. Every other member is read
/// through as [`Checked`] — numbers converted, strings decoded — so what the full parse would
/// refuse (a number out of range, a lone surrogate) fails here too. A member named twice fails
/// the read (the full parse keeps the last; it decides).
#[derive(Default)]
struct Members<'a> {
    id: Option<Scalar<'a>>,
    name: Option<Scalar<'a>>,
    start_time: Option<Scalar<'a>>,
    end_time: Option<Scalar<'a>>,
    in_progress: Option<Scalar<'a>>,
    trace_id: Option<Scalar<'a>>,
    parent_id: Option<Scalar<'a>>,
    kind: Option<Scalar<'a>>,
    subsegments: Option<Subsegments<'a>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Members<'a>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a segment object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                fn once<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
                    slot: &mut Option<T>,
                    map: &mut A,
                ) -> Result<(), A::Error> {
                    if slot.is_some() {
                        return Err(de::Error::custom("a member named twice"));
                    }
                    *slot = Some(map.next_value()?);
                    Ok(())
                }
                let mut m = Members::default();
                while let Some(key) = map.next_key::<Scalar<'de>>()? {
                    let Scalar::Str(key) = key else {
                        return Err(de::Error::custom("a key that is not a string"));
                    };
                    match key.as_ref() {
                        "id" => once(&mut m.id, &mut map)?,
                        "name" => once(&mut m.name, &mut map)?,
                        "start_time" => once(&mut m.start_time, &mut map)?,
                        "end_time" => once(&mut m.end_time, &mut map)?,
                        "in_progress" => once(&mut m.in_progress, &mut map)?,
                        "trace_id" => once(&mut m.trace_id, &mut map)?,
                        "parent_id" => once(&mut m.parent_id, &mut map)?,
                        "type" => once(&mut m.kind, &mut map)?,
                        "subsegments" => once(&mut m.subsegments, &mut map)?,
                        _ => {
                            map.next_value::<Checked>()?;
                        }
                    }
                }
                Ok(m)
            }
        }
        d.deserialize_map(V)
    }
}

/// Any JSON value read through and dropped, with its numbers and strings checked as the full
/// parse checks them (unlike `IgnoredAny`, which skips their bytes).
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Checked, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Checked;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_none<E: de::Error>(self) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
                while seq.next_element::<Checked>()?.is_some() {}
                Ok(Checked)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
                while map.next_entry::<Checked, Checked>()?.is_some() {}
                Ok(Checked)
            }
        }
        d.deserialize_any(V)
    }
}

fn str_of<'s>(s: Option<&'s Scalar<'_>>) -> Option<&'s str> {
    match s {
        Some(Scalar::Str(v)) => Some(v),
        _ => None,
    }
}

fn num_of(s: Option<&Scalar<'_>>) -> Option<f64> {
    match s {
        Some(Scalar::Num(n)) => Some(*n),
        _ => None,
    }
}

/// id, name, start and end as `segment::parse` takes them; `None` for anything it would refuse.
fn common(
    id: Option<&Scalar<'_>>,
    name: Option<&Scalar<'_>>,
    start: Option<&Scalar<'_>>,
    end: Option<&Scalar<'_>>,
    in_progress: Option<&Scalar<'_>>,
) -> Option<(f64, Option<f64>)> {
    let named = str_of(name).is_some_and(|n| segment::check_name(n).is_ok());
    if !named || !str_of(id).is_some_and(is_id) {
        return None;
    }
    let start = num_of(start)?;
    let in_progress = matches!(in_progress, Some(Scalar::Bool(true)));
    let end = num_of(end);
    if end.is_none() && !in_progress {
        return None;
    }
    Some((start, end.filter(|_| !in_progress)))
}

fn subsegments_ok(subs: Option<&Subsegments<'_>>) -> bool {
    subs.is_none_or(|Subsegments(list)| {
        list.iter().all(|Sub(s)| {
            common(
                s.id.as_ref(),
                s.name.as_ref(),
                s.start_time.as_ref(),
                s.end_time.as_ref(),
                s.in_progress.as_ref(),
            )
            .is_some()
                && subsegments_ok(s.subsegments.as_ref())
        })
    })
}

/// The facts of one document that `segment::parse` would take as one segment or independent
/// subsegment; `None` when unsure (ask `segment::parse`).
pub fn facts(document: &[u8]) -> Option<Facts> {
    // An object only (the derive would take an array too).
    if document.first() != Some(&b'{') {
        return None;
    }
    let top: Members<'_> = serde_json::from_slice(document).ok()?;
    let (start_time, end_time) = common(
        top.id.as_ref(),
        top.name.as_ref(),
        top.start_time.as_ref(),
        top.end_time.as_ref(),
        top.in_progress.as_ref(),
    )?;
    let trace_id = str_of(top.trace_id.as_ref()).filter(|t| is_trace_id(t))?;
    let independent = str_of(top.kind.as_ref()) == Some("subsegment");
    match &top.parent_id {
        Some(Scalar::Str(p)) if is_id(p) => {}
        Some(Scalar::Null) | None if !independent => {}
        _ => return None,
    }
    if !subsegments_ok(top.subsegments.as_ref()) {
        return None;
    }
    Some(Facts {
        id: str_of(top.id.as_ref())?.to_string(),
        trace_id: trace_id.to_string(),
        start_time,
        end_time,
    })
}

#[cfg(test)]
mod tests {
    use super::{facts, Facts};
    use crate::segment::parse;

    /// The slow path's facts when it takes `doc` as exactly one document.
    fn slow(doc: &[u8]) -> Option<Facts> {
        match parse(doc) {
            Ok(docs) if docs.len() == 1 && doc.first() == Some(&b'{') => Some(Facts::from(&docs[0])),
            _ => None,
        }
    }

    const GOOD: &str = r#"{"id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","name":"api","start_time":1.5,"end_time":2.5,"type":null,"subsegments":[{"id":"70de5b6f19ff9a0b","name":"db","start_time":1.6,"in_progress":true,"subsegments":[{"id":"70de5b6f19ff9a0c","name":"x","start_time":1,"end_time":2}]}],"http":{"request":{"method":"get"}},"annotations":{"a":null}}"#;

    #[test]
    fn a_document_the_slow_path_takes_gives_the_same_facts() {
        assert_eq!(facts(GOOD.as_bytes()), slow(GOOD.as_bytes()));
        assert!(facts(GOOD.as_bytes()).is_some());
        let in_progress = r#"{"id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","name":"api","start_time":1.5,"end_time":3,"in_progress":true}"#;
        assert_eq!(facts(in_progress.as_bytes()).unwrap().end_time, None);
        assert_eq!(slow(in_progress.as_bytes()).unwrap().end_time, None);
    }

    #[test]
    fn mutated_documents_get_one_answer_from_both_paths() {
        let mut rng = fastrand::Rng::with_seed(5);
        let pieces: [&[u8]; 21] = [
            b"null",
            b"\"x\"",
            b"1",
            b"true",
            b"{}",
            b"[]",
            b"\"70de5b6f19ff9a0z\"",
            b"\"\"",
            b",\"id\":\"70de5b6f19ff9a0a\"",
            b"\"subsegment\"",
            b"[1]",
            b"[{}]",
            b"-2.5e3",
            b"\"a\\u0041\"",
            b",\"subsegments\":{}",
            b"\"1-581cf771-a006649127e371903a2de97\"",
            b"[[\"70de5b6f19ff9a0b\",\"db\",1,2,null,null]]",
            b"[\"70de5b6f19ff9a0b\",\"db\",1,2]",
            b"1e400",
            b"\"\\ud800\"",
            b"\xff",
        ];
        let mut fast_answers = 0;
        for _ in 0..20_000 {
            let mut doc = GOOD.as_bytes().to_vec();
            for _ in 0..rng.usize(1..4) {
                // Replace a value after a colon, or splice a piece in somewhere.
                let at = rng.usize(..doc.len());
                if rng.bool() {
                    if let Some(colon) = doc[at..].iter().position(|b| *b == b':').map(|p| p + at + 1) {
                        let end = doc[colon..]
                            .iter()
                            .position(|b| *b == b',' || *b == b'}')
                            .map_or(doc.len(), |p| p + colon);
                        let piece = pieces[rng.usize(..pieces.len())];
                        doc.splice(colon..end, piece.iter().copied());
                    }
                } else {
                    let piece = pieces[rng.usize(..pieces.len())];
                    doc.splice(at..at, piece.iter().copied());
                }
            }
            let fast = facts(&doc);
            if let Some(f) = &fast {
                fast_answers += 1;
                assert_eq!(Some(f), slow(&doc).as_ref(), "{}", String::from_utf8_lossy(&doc));
            }
        }
        assert!(
            fast_answers > 500,
            "the fast path answered only {fast_answers} times"
        );
    }

    #[test]
    fn what_the_fast_path_cannot_read_is_left_to_the_slow_one() {
        for doc in [
            // A duplicate key: the slow path keeps the last one.
            r#"{"id":"70de5b6f19ff9a0a","id":"70de5b6f19ff9a0b","trace_id":"1-581cf771-a006649127e371903a2de979","name":"a","start_time":1,"end_time":2}"#,
            // An array of subsegments.
            r#"[{"type":"subsegment","id":"70de5b6f19ff9a0a","parent_id":"70de5b6f19ff9a0b","trace_id":"1-581cf771-a006649127e371903a2de979","name":"a","start_time":1,"end_time":2}]"#,
            // A subsegment that is not an object.
            r#"{"id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","name":"a","start_time":1,"end_time":2,"subsegments":[3]}"#,
            // Numbers out of range, lone surrogates and bytes that are not UTF-8 in members the
            // quick check skips.
            r#"{"id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","name":"a","start_time":1,"end_time":2,"x":1e400}"#,
            r#"{"id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","name":"a","start_time":1,"end_time":2,"x":{"y":"\ud800"}}"#,
            // A subsegment written as an array of its members.
            r#"{"id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","name":"a","start_time":1,"end_time":2,"subsegments":[["70de5b6f19ff9a0b","db",1,2,null,null]]}"#,
        ] {
            assert!(facts(doc.as_bytes()).is_none(), "{doc}");
        }
    }
}
