//! Repeated keys in a JSON object: valid JSON to the letter, but one of the two values is lost
//! without a word. Found with a small serde visitor that walks the document and keeps key paths
//! in the config's own notation (`logs.logs_collected.files.collect_list[0].file_path`).

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The key path of the first key that repeats in its object, if any (none for invalid JSON:
/// the parser says what is wrong with that).
pub fn first(text: &str) -> Option<String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let mut found = None;
    Walk {
        path: String::new(),
        found: &mut found,
    }
    .deserialize(&mut de)
    .ok()?;
    found
}

struct Walk<'a> {
    path: String,
    found: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            let walk = Walk {
                path: format!("{}[{i}]", self.path),
                found: &mut *self.found,
            };
            if seq.next_element_seed(walk)?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if seen.contains(&key) {
                if self.found.is_none() {
                    *self.found = Some(path.clone());
                }
            } else {
                seen.push(key);
            }
            map.next_value_seed(Walk {
                path,
                found: &mut *self.found,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::first;

    #[test]
    fn the_first_repeated_key_is_named_by_its_path() {
        assert_eq!(
            first(r#"{"a":1,"b":{"c":[{"d":1,"d":2}]}}"#).as_deref(),
            Some("b.c[0].d")
        );
        assert_eq!(first(r#"{"agent":{},"agent":{}}"#).as_deref(), Some("agent"));
        assert_eq!(
            first(r#"{"a":{"x":1},"b":{"x":1}}"#),
            None,
            "the same key in two objects is fine"
        );
        assert_eq!(first("[1,2]"), None);
        assert_eq!(first("{"), None, "invalid JSON is the parser's to report");
    }
}
