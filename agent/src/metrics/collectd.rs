//! The CloudWatch agent's `collectd` plugin: a UDP listener for collectd's network plugin
//! (binary protocol, security level `none`; default `udp://127.0.0.1:25826`), its value lists
//! turned into metrics as Telegraf's collectd input does: one metric per value named
//! `<name_prefix><plugin>_<data source>` (the data source names from `collectd_typesdb` when the
//! type is there, `value` for a single value, else the value's number), dimensions `host`,
//! `instance` (plugin instance), `type` and `type_instance` when set. The last value of each
//! series in a collection interval is sent.
//!
//! Signed or encrypted packets (security level `sign`/`encrypt`) are not read: they are
//! counted and named in the log. Malformed packets likewise.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::collect::Sample;

/// The default address, as the CloudWatch agent's.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:25826";

/// One value of a value list, with what identifies it.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub name: String,
    pub value: f64,
    pub tags: Vec<(String, String)>,
}

/// Data source names by type, from types.db files.
#[derive(Debug, Clone, Default)]
pub struct TypesDb {
    names: HashMap<String, Vec<String>>,
}

impl TypesDb {
    /// Adds the types of one types.db file.
    pub fn extend(&mut self, other: TypesDb) {
        self.names.extend(other.names);
    }

    fn get(&self, kind: &str) -> Option<&Vec<String>> {
        self.names.get(kind)
    }
}

/// The types of a types.db file (`if_octets rx:DERIVE:0:U, tx:DERIVE:0:U`).
pub fn read_types_db(text: &str) -> TypesDb {
    let mut types = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, sources)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        let names = sources
            .split(',')
            .filter_map(|s| s.trim().split(':').next().map(str::to_string))
            .filter(|s| !s.is_empty())
            .collect();
        types.insert(name.to_string(), names);
    }
    TypesDb { names: types }
}

/// Why a packet was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketError {
    /// Signed or encrypted (security level sign/encrypt).
    Secured,
    Malformed(String),
}

#[derive(Default, Clone)]
struct Identity {
    host: String,
    plugin: String,
    plugin_instance: String,
    kind: String,
    type_instance: String,
}

fn read_u64(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(..8)?.try_into().ok()?))
}

fn read_string(b: &[u8]) -> Result<String, PacketError> {
    let b = b
        .strip_suffix(&[0])
        .ok_or_else(|| PacketError::Malformed("a string without its NUL".into()))?;
    Ok(String::from_utf8_lossy(b).into_owned())
}

/// The values of one packet of collectd's binary protocol.
pub fn decode(packet: &[u8], prefix: &str, types: &TypesDb) -> Result<Vec<Value>, PacketError> {
    let mut out = Vec::new();
    let mut id = Identity::default();
    let mut rest = packet;
    while !rest.is_empty() {
        let (Some(kind), Some(len)) = (rest.get(..2), rest.get(2..4)) else {
            return Err(PacketError::Malformed("a part header cut short".into()));
        };
        let kind = u16::from_be_bytes([kind[0], kind[1]]);
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if len < 4 || len > rest.len() {
            return Err(PacketError::Malformed(format!(
                "a part of length {len} in {} bytes",
                rest.len()
            )));
        }
        let body = &rest[4..len];
        match kind {
            0x0000 => id.host = read_string(body)?,
            0x0002 => id.plugin = read_string(body)?,
            0x0003 => id.plugin_instance = read_string(body)?,
            0x0004 => id.kind = read_string(body)?,
            0x0005 => id.type_instance = read_string(body)?,
            0x0006 => out.extend(values(body, &id, prefix, types)?),
            0x0200 | 0x0210 => return Err(PacketError::Secured),
            // Times, intervals, messages, severities: not needed for the values.
            _ => {}
        }
        rest = &rest[len..];
    }
    Ok(out)
}

fn values(body: &[u8], id: &Identity, prefix: &str, types: &TypesDb) -> Result<Vec<Value>, PacketError> {
    let bad = |what: &str| PacketError::Malformed(what.to_string());
    let count = usize::from(u16::from_be_bytes(
        body.get(..2)
            .ok_or_else(|| bad("a values part cut short"))?
            .try_into()
            .map_err(|_| bad("a count"))?,
    ));
    let kinds = body
        .get(2..2 + count)
        .ok_or_else(|| bad("value types cut short"))?;
    let data = body.get(2 + count..).ok_or_else(|| bad("values cut short"))?;
    if data.len() != count * 8 {
        return Err(bad("values of the wrong length"));
    }
    let names = types.get(&id.kind).filter(|n| n.len() == count);
    let mut tags = Vec::new();
    for (key, value) in [
        ("host", &id.host),
        ("instance", &id.plugin_instance),
        ("type", &id.kind),
        ("type_instance", &id.type_instance),
    ] {
        if !value.is_empty() {
            tags.push((key.to_string(), value.clone()));
        }
    }
    let mut out = Vec::with_capacity(count);
    for (i, kind) in kinds.iter().enumerate() {
        let raw = &data[i * 8..i * 8 + 8];
        let value = match kind {
            // GAUGE is a little-endian double; COUNTER, DERIVE, ABSOLUTE big-endian integers.
            1 => f64::from_le_bytes(raw.try_into().map_err(|_| bad("a gauge"))?),
            0 | 3 => read_u64(raw).ok_or_else(|| bad("a counter"))? as f64,
            2 => read_u64(raw).ok_or_else(|| bad("a derive"))? as i64 as f64,
            other => return Err(PacketError::Malformed(format!("value type {other}"))),
        };
        let source = match names {
            Some(names) => names[i].clone(),
            None if count == 1 => "value".to_string(),
            None => i.to_string(),
        };
        let name = format!("{prefix}{}_{source}", id.plugin);
        // CloudWatch refuses names over 255 characters and dimension values over 1024, and
        // with them the whole request: such values are not taken.
        let fits = name.chars().count() <= 255 && tags.iter().all(|(_, v)| v.chars().count() <= 1024);
        if !fits {
            return Err(PacketError::Malformed(
                "a name or identifier CloudWatch would refuse".into(),
            ));
        }
        if value.is_finite() {
            out.push(Value {
                name,
                value,
                tags: tags.clone(),
            });
        }
    }
    Ok(out)
}

/// The last value of each series since the last collection, and what could not be read.
#[derive(Debug, Default)]
pub struct Latest {
    values: HashMap<(String, Vec<(String, String)>), f64>,
    pub secured_packets: u64,
    pub malformed_packets: u64,
}

impl Latest {
    pub fn add(&mut self, values: Vec<Value>) {
        for v in values {
            if self.values.len() < super::statsd::MAX_SERIES
                || self.values.contains_key(&(v.name.clone(), v.tags.clone()))
            {
                self.values.insert((v.name, v.tags), v.value);
            }
        }
    }

    pub fn take(&mut self) -> Vec<Sample> {
        self.values
            .drain()
            .map(|((name, tags), value)| Sample {
                field: "value",
                value,
                tags,
                named: Some((name, "None")),
            })
            .collect()
    }
}

/// What a listener fills and a collection drains.
pub type Shared = Arc<Mutex<Latest>>;

/// Takes one packet; returns the line to log at the first and each doubling of a refusal.
pub fn take_packet(latest: &Shared, packet: &[u8], prefix: &str, types: &TypesDb) -> Option<String> {
    let decoded = decode(packet, prefix, types);
    let mut l = latest.lock().unwrap_or_else(PoisonError::into_inner);
    match decoded {
        Ok(values) => {
            l.add(values);
            None
        }
        Err(PacketError::Secured) => {
            l.secured_packets += 1;
            l.secured_packets.is_power_of_two().then(|| {
                format!(
                    "collectd: {} signed or encrypted packet(s) not read (security level sign/encrypt is not supported yet: set collectd's SecurityLevel None)",
                    l.secured_packets
                )
            })
        }
        Err(PacketError::Malformed(why)) => {
            l.malformed_packets += 1;
            l.malformed_packets.is_power_of_two().then(|| {
                format!(
                    "collectd: a packet that is not collectd's binary protocol ({why}); {} so far",
                    l.malformed_packets
                )
            })
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::{decode, read_types_db, PacketError, TypesDb};

    fn part(kind: u16, body: &[u8]) -> Vec<u8> {
        let mut out = kind.to_be_bytes().to_vec();
        out.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    fn string(kind: u16, s: &str) -> Vec<u8> {
        let mut body = s.as_bytes().to_vec();
        body.push(0);
        part(kind, &body)
    }

    /// A packet as collectd's network plugin writes it: host, plugin, type, values.
    pub(crate) fn packet(host: &str, plugin: &str, kind: &str, gauge: f64, derives: &[i64]) -> Vec<u8> {
        let mut p = string(0x0000, host);
        p.extend(string(0x0002, plugin));
        p.extend(string(0x0004, kind));
        let mut body = 1u16.to_be_bytes().to_vec();
        body.push(1);
        body.extend_from_slice(&gauge.to_le_bytes());
        p.extend(part(0x0006, &body));
        if !derives.is_empty() {
            p.extend(string(0x0004, "if_octets"));
            p.extend(string(0x0003, "eth0"));
            let mut body = (derives.len() as u16).to_be_bytes().to_vec();
            body.extend(std::iter::repeat_n(2u8, derives.len()));
            for d in derives {
                body.extend_from_slice(&d.to_be_bytes());
            }
            p.extend(part(0x0006, &body));
        }
        p
    }

    #[test]
    #[allow(clippy::float_cmp)] // values decoded bit for bit
    fn value_lists_become_named_values_with_types_db_names() {
        let types =
            read_types_db("# comment\nif_octets\t\trx:DERIVE:0:U, tx:DERIVE:0:U\nmemory value:GAUGE:0:U\n");
        let values = decode(
            &packet("web-1", "memory", "memory", 1024.5, &[10, 20]),
            "collectd_",
            &types,
        )
        .unwrap();
        assert_eq!(values.len(), 3);
        assert_eq!(values[0].name, "collectd_memory_value");
        assert_eq!(values[0].value, 1024.5);
        assert_eq!(
            values[0].tags,
            [("host".into(), "web-1".into()), ("type".into(), "memory".into())]
        );
        assert_eq!(values[1].name, "collectd_memory_rx");
        assert_eq!(values[2].value, 20.0);
        assert!(values[2]
            .tags
            .contains(&("instance".to_string(), "eth0".to_string())));
        let without_types = decode(
            &packet("h", "interface", "x", 1.0, &[1, 2]),
            "",
            &TypesDb::default(),
        )
        .unwrap();
        assert_eq!(without_types[1].name, "interface_0");
    }

    #[test]
    fn secured_and_broken_packets_are_refused_by_kind_and_never_panic() {
        assert_eq!(
            decode(&part(0x0200, &[0; 40]), "", &TypesDb::default()),
            Err(PacketError::Secured)
        );
        let good = packet("h", "cpu", "cpu", 1.0, &[5]);
        for cut in 0..good.len() {
            let _ = decode(&good[..cut], "", &TypesDb::default());
        }
        let mut rng = 7u64;
        for _ in 0..2000 {
            let mut p = good.clone();
            rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let i = (rng >> 33) as usize % p.len();
            p[i] = (rng >> 17) as u8;
            let _ = decode(&p, "", &TypesDb::default());
        }
    }
}
