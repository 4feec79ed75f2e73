//! The fixture logs every query test reads, generated once per test process.

use std::path::Path;
use std::sync::OnceLock;

/// "Now" for every case: 2024-03-02T00:00:00Z, a day after the fixtures start.
pub const NOW_MS: i64 = 1_709_337_600_000;

/// The fixture directory, generated once per test process.
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        // Under the target directory, not /tmp: the process never drops this static.
        let dir = tempfile::Builder::new()
            .prefix("logq-fixtures-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("temp dir");
        skywatch_loggen::write_fixtures(dir.path()).expect("write fixtures");
        dir
    })
    .path()
}
