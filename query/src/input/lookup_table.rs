//! Lookup tables for `lookup` and `cidrlookup`: CSV files with a header row, found by name in the
//! lookup directory (`<name>.csv`, or the name as it is). Matching is exact and case-sensitive
//! on text; several match columns must all be equal; the first matching row wins. For
//! `cidrlookup` the match column holds networks (`10.0.0.0/8`, a bare address is one host) and
//! the most specific network that holds the address wins.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::exec::record_formats::csv_values;
use crate::functions::ip::Network;
use crate::input::InputError;

/// A table, bound to the columns one command matches on and copies.
#[derive(Debug)]
pub struct LookupTable {
    rows: Vec<Vec<String>>,
    /// Exact match: the key columns' cells → the first row with them.
    exact: HashMap<Vec<String>, usize>,
    /// cidrlookup: (network, row), most specific first, then in table order.
    networks: Vec<(Network, usize)>,
    /// Where each output column is in a row.
    outputs: Vec<usize>,
}

/// The column `cidrlookup` matches when the query names none: `cidr` if the table has one,
/// else the first column.
pub const DEFAULT_CIDR_COLUMN: &str = "cidr";

impl LookupTable {
    /// Loads table `name` from `dir`, matching on `keys` (for cidrlookup, one column; empty for
    /// the default) and copying `outputs`.
    pub fn load(
        dir: &Path,
        name: &str,
        keys: &[String],
        outputs: &[String],
        cidr: bool,
    ) -> Result<LookupTable, InputError> {
        let path = table_path(dir, name).ok_or_else(|| InputError {
            path: dir.join(format!("{name}.csv")).display().to_string(),
            reason: format!(
                "no lookup table '{name}' in {} (give --lookup-dir)",
                dir.display()
            ),
        })?;
        let failed = |reason: String| InputError {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read(&path).map_err(|e| failed(e.to_string()))?;
        let text =
            String::from_utf8(text).map_err(|_| failed("a lookup table must be UTF-8 text".to_string()))?;
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<String> = lines
            .next()
            .map(|l| {
                csv_values(l.trim_start_matches('\u{feff}'))
                    .into_iter()
                    .map(|c| c.trim().to_string())
                    .collect()
            })
            .ok_or_else(|| failed("the table is empty; it needs a header row".to_string()))?;
        let column = |name: &str| {
            header.iter().position(|h| h == name).ok_or_else(|| {
                failed(format!(
                    "the table has no column '{name}'; its columns are: {}",
                    header.join(", ")
                ))
            })
        };
        let key_columns: Vec<usize> = keys
            .iter()
            .map(|k| match (cidr, k.is_empty()) {
                (true, true) => Ok(header.iter().position(|h| h == DEFAULT_CIDR_COLUMN).unwrap_or(0)),
                _ => column(k),
            })
            .collect::<Result<_, _>>()?;
        let outputs = outputs.iter().map(|o| column(o)).collect::<Result<Vec<_>, _>>()?;
        let rows: Vec<Vec<String>> = lines.map(csv_values).collect();
        let mut table = LookupTable {
            rows,
            exact: HashMap::new(),
            networks: Vec::new(),
            outputs,
        };
        for (i, row) in table.rows.iter().enumerate() {
            let cells: Vec<String> = key_columns
                .iter()
                .map(|c| row.get(*c).cloned().unwrap_or_default())
                .collect();
            if cidr {
                if let Some(network) = cells.first().and_then(|c| Network::parse(c.trim())) {
                    table.networks.push((network, i));
                }
            } else {
                table.exact.entry(cells).or_insert(i);
            }
        }
        // Longest prefix first; a stable sort keeps table order among equals.
        table
            .networks
            .sort_by_key(|(network, _)| std::cmp::Reverse(network.prefix()));
        Ok(table)
    }

    /// The row whose key cells equal `keys` (texts), if any.
    pub fn exact_row(&self, keys: &[String]) -> Option<usize> {
        self.exact.get(keys).copied()
    }

    /// The row of the most specific network holding `address`, if any.
    pub fn network_row(&self, address: &str) -> Option<usize> {
        let ip: IpAddr = address.trim().parse().ok()?;
        self.networks
            .iter()
            .find(|(n, _)| n.contains(ip))
            .map(|(_, row)| *row)
    }

    /// Output column `k` of `row`; an empty cell is no value.
    pub fn output(&self, row: usize, k: usize) -> Option<&str> {
        let column = *self.outputs.get(k)?;
        self.rows
            .get(row)?
            .get(column)
            .map(String::as_str)
            .filter(|c| !c.is_empty())
    }
}

fn table_path(dir: &Path, name: &str) -> Option<PathBuf> {
    // A table name is one file name: no way out of the directory.
    if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
        return None;
    }
    [dir.join(format!("{name}.csv")), dir.join(name)]
        .into_iter()
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str, keys: &[&str], outputs: &[&str], cidr: bool) -> LookupTable {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.csv"), text).unwrap();
        let keys: Vec<String> = keys.iter().map(|s| (*s).to_string()).collect();
        let outputs: Vec<String> = outputs.iter().map(|s| (*s).to_string()).collect();
        LookupTable::load(dir.path(), "t", &keys, &outputs, cidr).unwrap()
    }

    #[test]
    fn exact_matches_take_the_first_row_and_every_key() {
        let t = table(
            "id,port,name\n1,80,web\n1,80,dup\n1,443,tls\n2,80,\n",
            &["id", "port"],
            &["name"],
            false,
        );
        let row = |k: &[&str]| t.exact_row(&k.iter().map(|s| (*s).to_string()).collect::<Vec<_>>());
        assert_eq!(row(&["1", "80"]).and_then(|r| t.output(r, 0)), Some("web"));
        assert_eq!(row(&["1", "443"]).and_then(|r| t.output(r, 0)), Some("tls"));
        assert_eq!(row(&["2", "80"]).and_then(|r| t.output(r, 0)), None);
        assert_eq!(row(&["1", "8"]), None);
    }

    #[test]
    fn the_most_specific_network_wins() {
        let t = table(
            "cidr,region\n10.0.0.0/8,wide\n10.1.0.0/16,narrow\n10.1.2.3,host\n::/0,v6\n",
            &[""],
            &["region"],
            true,
        );
        let region = |ip: &str| t.network_row(ip).and_then(|r| t.output(r, 0));
        assert_eq!(region("10.9.9.9"), Some("wide"));
        assert_eq!(region("10.1.9.9"), Some("narrow"));
        assert_eq!(region("10.1.2.3"), Some("host"));
        assert_eq!(region("2001:db8::1"), Some("v6"));
        assert_eq!(region("192.168.0.1"), None);
        assert_eq!(region("not an ip"), None);
    }

    #[test]
    fn a_missing_table_or_column_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = LookupTable::load(dir.path(), "nope", &[], &[], false).unwrap_err();
        assert!(err.reason.contains("no lookup table 'nope'"), "{err}");
        assert!(LookupTable::load(dir.path(), "../etc/passwd", &[], &[], false).is_err());
        std::fs::write(dir.path().join("t.csv"), "a,b\n1,2\n").unwrap();
        let err = LookupTable::load(dir.path(), "t", &["c".to_string()], &[], false).unwrap_err();
        assert!(
            err.reason.contains("no column 'c'; its columns are: a, b"),
            "{err}"
        );
    }
}
