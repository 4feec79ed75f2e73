//! `outputs = "auto"` that fell back to the local store at start (no credentials yet, no
//! region) looks again every `auto_recheck_interval`: once AWS can be reached, what is collected
//! from then on goes to CloudWatch (what went to the local store stays there, for logq). The
//! output in use is said in the log and on `/healthz`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_config::SdkConfig;
use skywatch_aws::SdkSettings;
use tokio::sync::watch;

/// The SDK configuration, once AWS can be reached.
pub type Reachable = watch::Receiver<Option<SdkConfig>>;

/// Looks for AWS every `every` until it can be reached, then hands the configuration over and
/// ends.
pub fn watch_for_aws(settings: SdkSettings, every: Duration) -> Reachable {
    let (tx, rx) = watch::channel(None);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            if tx.is_closed() {
                return;
            }
            let sdk = skywatch_aws::sdk_config(settings.clone()).await;
            if skywatch_aws::can_reach_aws(&sdk).await.is_ok() {
                let _ = tx.send(Some(sdk));
                return;
            }
        }
    });
    rx
}

/// What each output is, for the log and `/healthz`: `metrics` → `local store (…)`.
#[derive(Debug, Clone, Default)]
pub struct OutputStatus {
    outputs: Arc<Mutex<BTreeMap<&'static str, String>>>,
}

impl OutputStatus {
    /// Notes what `output` (`metrics`, `logs`) is now (the caller says it in the log).
    pub fn set(&self, output: &'static str, what: String) {
        self.outputs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(output, what);
    }

    /// One line per output: `metrics: local store …`.
    pub fn lines(&self) -> String {
        let mut text = String::new();
        for (output, what) in self.outputs.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            text.push_str(output);
            text.push_str(": ");
            text.push_str(what);
            text.push('\n');
        }
        text
    }
}
