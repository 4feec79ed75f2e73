//! The local metrics store: where datums go with no AWS configured, and what
//! `skywatch metrics`, logq and the alarm evaluator read.
//!
//! Format (documented in docs/local-store.md): a directory of newline-delimited JSON files, one
//! per UTC hour, named `YYYY-MM-DDTHH.ndjson`; one line per collected datum:
//!
//! ```text
//! {"timestamp":"2026-11-28T01:02:03.000Z","namespace":"CWAgent","name":"mem_used_percent",
//!  "unit":"Percent","value":23.4,"dimensions":{"host":"web-1"},"storage_resolution":60}
//! ```
//!
//! (one line per datum; wrapped here). Lines are appended whole and synced at each flush; a
//! line torn by a crash is skipped (and counted) by readers. Retention is bounded by age and by
//! total size: whole hour files are deleted oldest first.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// One value for PutMetricData or the local store.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    pub name: String,
    /// A CloudWatch standard unit name (`Percent`, `Bytes`, `None`…).
    pub unit: String,
    /// Sorted by name.
    pub dimensions: Vec<(String, String)>,
    pub value: f64,
    pub timestamp_ms: i64,
    /// 1 (high resolution) or 60.
    pub storage_resolution: i32,
}

/// How long and how much the store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_age_hours: u32,
    pub max_bytes: u64,
}

impl Default for Retention {
    /// Two weeks (CloudWatch keeps high-resolution data 3 hours, 1-minute data 15 days), at
    /// most 256 MiB.
    fn default() -> Retention {
        Retention {
            max_age_hours: 14 * 24,
            max_bytes: 256 << 20,
        }
    }
}

/// A datum read back from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDatum {
    pub namespace: String,
    pub datum: Datum,
}

/// Appends datums to the hour files of a directory.
#[derive(Debug)]
pub struct LocalMetricStore {
    dir: PathBuf,
    retention: Retention,
}

impl LocalMetricStore {
    /// Opens (creating) the store in `dir`.
    pub fn open(dir: &Path, retention: Retention) -> io::Result<LocalMetricStore> {
        crate::durable::create_private_dir_all(dir)?;
        Ok(LocalMetricStore {
            dir: dir.to_path_buf(),
            retention,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends `datums` (to the file of each one's hour) and syncs them to disk.
    pub fn append(&self, namespace: &str, datums: &[Datum]) -> io::Result<()> {
        let mut by_file: Vec<(String, Vec<u8>)> = Vec::new();
        for d in datums {
            let file = hour_file_name(d.timestamp_ms);
            let line = to_line(namespace, d);
            match by_file.iter_mut().find(|(f, _)| *f == file) {
                Some((_, bytes)) => bytes.extend_from_slice(line.as_bytes()),
                None => by_file.push((file, line.into_bytes())),
            }
        }
        for (file, bytes) in by_file {
            let mut f = crate::durable::open_private_append(&self.dir.join(file))?;
            // A line torn by a crash is closed first, so it stays the only bad line.
            let len = f.metadata()?.len();
            let mut last = [0u8; 1];
            if len > 0 && f.read_at(&mut last, len - 1)? == 1 && last[0] != b'\n' {
                f.write_all(b"\n")?;
            }
            f.write_all(&bytes)?;
            f.sync_data()?;
        }
        Ok(())
    }

    /// Deletes hour files beyond the retention (older than the age limit as of `now_ms`, then the
    /// oldest while over the size limit). Returns how many were deleted.
    pub fn prune(&self, now_ms: i64) -> io::Result<usize> {
        let files = hour_files(&self.dir)?;
        let oldest_kept = hour_file_name(now_ms - i64::from(self.retention.max_age_hours) * 3_600_000);
        let mut deleted = 0;
        let mut total: u64 = files.iter().map(|(_, size)| size).sum();
        for (path, size) in &files {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name < oldest_kept.as_str() || total > self.retention.max_bytes {
                fs::remove_file(path)?;
                total -= size;
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}

/// `YYYY-MM-DDTHH.ndjson` of the UTC hour of `ms`.
pub fn hour_file_name(ms: i64) -> String {
    let text = rfc3339_ms(ms);
    format!("{}.ndjson", &text[..13])
}

/// The hour files of a store, oldest first, with their sizes.
fn hour_files(dir: &Path) -> io::Result<Vec<(PathBuf, u64)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.len() == "YYYY-MM-DDTHH.ndjson".len() && name.ends_with(".ndjson") {
            files.push((entry.path(), entry.metadata()?.len()));
        }
    }
    files.sort();
    Ok(files)
}

fn to_line(namespace: &str, d: &Datum) -> String {
    let dimensions: serde_json::Map<String, serde_json::Value> = d
        .dimensions
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let line = serde_json::json!({
        "timestamp": rfc3339_ms(d.timestamp_ms),
        "namespace": namespace,
        "name": d.name,
        "unit": d.unit,
        "value": d.value,
        "dimensions": dimensions,
        "storage_resolution": d.storage_resolution,
    });
    format!("{line}\n")
}

/// What reading the store found: datums in the window, and lines that could not be read.
#[derive(Debug, Default)]
pub struct ReadResult {
    pub datums: Vec<StoredDatum>,
    pub malformed_lines: u64,
}

/// The datums stored at or after `since_ms`, oldest file first, in file order.
pub fn read_since(dir: &Path, since_ms: i64) -> io::Result<ReadResult> {
    let first = hour_file_name(since_ms);
    let mut result = ReadResult::default();
    let files = match hour_files(dir) {
        Ok(files) => files,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(result),
        Err(e) => return Err(e),
    };
    for (path, _) in files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name < first.as_str() {
            continue;
        }
        let text = fs::read(&path)?;
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            match from_line(line) {
                Some(stored) if stored.datum.timestamp_ms >= since_ms => result.datums.push(stored),
                Some(_) => {}
                None => result.malformed_lines += 1,
            }
        }
    }
    Ok(result)
}

fn from_line(line: &[u8]) -> Option<StoredDatum> {
    let v: serde_json::Value = serde_json::from_slice(line).ok()?;
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let timestamp_ms = parse_rfc3339_ms(v.get("timestamp")?.as_str()?)?;
    let dimensions = v
        .get("dimensions")?
        .as_object()?
        .iter()
        .map(|(k, x)| Some((k.clone(), x.as_str()?.to_string())))
        .collect::<Option<Vec<_>>>()?;
    Some(StoredDatum {
        namespace: text("namespace")?,
        datum: Datum {
            name: text("name")?,
            unit: text("unit")?,
            dimensions,
            value: v.get("value")?.as_f64()?,
            timestamp_ms,
            storage_resolution: i32::try_from(v.get("storage_resolution")?.as_i64()?).ok()?,
        },
    })
}

pub use skywatch_time::{parse_rfc3339_ms, rfc3339_ms};

#[cfg(test)]
mod tests {
    use super::Datum;
    use super::{hour_file_name, parse_rfc3339_ms, read_since, rfc3339_ms, LocalMetricStore, Retention};

    fn datum(name: &str, value: f64, timestamp_ms: i64) -> Datum {
        Datum {
            name: name.into(),
            unit: "Percent".into(),
            dimensions: vec![("host".into(), "web \"1\"".into())],
            value,
            timestamp_ms,
            storage_resolution: 60,
        }
    }

    #[test]
    fn times_round_trip() {
        for ms in [0, 1_764_291_723_004, 951_782_400_000, -1, 253_402_300_799_999] {
            assert_eq!(parse_rfc3339_ms(&rfc3339_ms(ms)), Some(ms), "{}", rfc3339_ms(ms));
        }
        assert_eq!(rfc3339_ms(1_764_291_723_004), "2025-11-28T01:02:03.004Z");
        assert_eq!(hour_file_name(1_764_291_723_004), "2025-11-28T01.ndjson");
        assert_eq!(parse_rfc3339_ms("2025-13-28T01:02:03.004Z"), None);
    }

    #[test]
    fn appended_datums_read_back_and_torn_lines_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalMetricStore::open(dir.path(), Retention::default()).unwrap();
        let hour = 3_600_000;
        let base = 1_764_288_000_000; // 2025-11-28T00:00Z
        store
            .append(
                "CWAgent",
                &[datum("a", 1.5, base + 10), datum("b", 2.0, base + hour + 5)],
            )
            .unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(hour_file_name(base)))
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"timestamp\":\"2025-11-28T00:0"))
            .unwrap();
        store.append("CWAgent", &[datum("a", 3.0, base + 20)]).unwrap();
        let all = read_since(dir.path(), base).unwrap();
        let names: Vec<(&str, f64)> = all
            .datums
            .iter()
            .map(|s| (s.datum.name.as_str(), s.datum.value))
            .collect();
        assert_eq!(names, [("a", 1.5), ("a", 3.0), ("b", 2.0)]);
        assert_eq!(all.malformed_lines, 1);
        assert_eq!(all.datums[0].datum, datum("a", 1.5, base + 10));
        assert_eq!(all.datums[0].namespace, "CWAgent");
        let later = read_since(dir.path(), base + 15).unwrap();
        assert_eq!(later.datums.len(), 2);
    }

    #[test]
    fn prune_deletes_whole_hours_by_age_then_size() {
        let dir = tempfile::tempdir().unwrap();
        let hour = 3_600_000;
        let base = 1_764_288_000_000;
        let store = LocalMetricStore::open(
            dir.path(),
            Retention {
                max_age_hours: 3,
                max_bytes: 1 << 20,
            },
        )
        .unwrap();
        for h in 0..6 {
            store
                .append("CWAgent", &[datum("a", 1.0, base + h * hour)])
                .unwrap();
        }
        assert_eq!(
            store.prune(base + 5 * hour).unwrap(),
            2,
            "hours 0 and 1 are over 3 hours old"
        );
        let tiny = LocalMetricStore::open(
            dir.path(),
            Retention {
                max_age_hours: 100,
                max_bytes: 1,
            },
        )
        .unwrap();
        assert_eq!(tiny.prune(base + 5 * hour).unwrap(), 4);
        assert!(read_since(dir.path(), 0).unwrap().datums.is_empty());
    }
}
