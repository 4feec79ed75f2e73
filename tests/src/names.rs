//! Unique resource names. moto's state is shared by every test that talks to one server (and
//! `POST /moto-api/reset` is global), so each test names its own log groups, topics and namespaces.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `prefix-<pid>-<nanos>-<n>`: unique within this process (the counter) and across processes
/// (pid and clock). Only characters every AWS name accepts are added to `prefix`.
pub fn unique_name(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos}-{n}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::unique_name;
    use std::collections::HashSet;

    #[test]
    fn unique_names_do_not_repeat_and_keep_the_prefix() {
        let names: HashSet<String> = (0..1000).map(|_| unique_name("it-group")).collect();
        assert_eq!(names.len(), 1000);
        assert!(names.iter().all(|n| n.starts_with("it-group-")));
    }
}
