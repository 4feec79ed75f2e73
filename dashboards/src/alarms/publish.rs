//! Alarm notifications to SNS that are not lost: each one is written to an outbox on disk
//! (one file, written atomically) before anything is sent, and removed only after SNS has
//! accepted it. A notification not yet delivered at a stop or a crash goes out after the next
//! start. Throttling, server and network errors are retried with backoff, in order; an auth
//! problem is waited out (credentials get fixed); a notification SNS refuses for good (no such
//! topic, a bad parameter) is moved to `undeliverable/`, named in the log and counted, never
//! dropped in silence. Actions that are not SNS topics (Lambda, EC2, Auto Scaling, SSM) cannot
//! run locally: they are named once and counted.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use skywatch_aws::{classify, ErrorClass, SendError};
use skywatch_backoff::Backoff;
use skywatch_runtime::Journal;
use skywatch_telemetry::{Counter, Desc, Family, Gauge, Registry};

/// One message for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Outgoing {
    pub topic_arn: String,
    pub subject: String,
    pub message: String,
    /// The alarm it is about, for the log.
    pub alarm_name: String,
}

/// The directory of notifications waiting for SNS.
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    /// A sequence that keeps file names in the order notifications were queued.
    next: Mutex<u64>,
}

/// The notifications waiting (with their files, oldest first), and the files set aside because
/// they could not be read.
pub type Pending = (Vec<(PathBuf, Outgoing)>, Vec<PathBuf>);

/// Where a notification refused for good is kept, inside the outbox.
const UNDELIVERABLE: &str = "undeliverable";

impl Outbox {
    /// Opens (creating, private to this user) the outbox in `dir`.
    pub fn open(dir: &Path) -> io::Result<Outbox> {
        skywatch_store::durable::create_private_dir_all(dir)?;
        let last = pending_files(dir)?
            .iter()
            .filter_map(|p| sequence_of(p))
            .max()
            .unwrap_or(0);
        Ok(Outbox {
            dir: dir.to_path_buf(),
            next: Mutex::new(last + 1),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Queues `notification`: on disk (synced) when this returns.
    pub fn push(&self, notification: &Outgoing) -> io::Result<()> {
        let sequence = {
            let mut next = self
                .next
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let sequence = *next;
            *next += 1;
            sequence
        };
        let bytes = serde_json::to_vec(notification).map_err(io::Error::other)?;
        let path = self.dir.join(format!("{sequence:020}.json"));
        skywatch_store::durable::write_atomically(&path, &bytes)
    }

    /// The notifications waiting, oldest first; a file that cannot be read is moved aside
    /// (to `undeliverable/`) and returned in the second list.
    pub fn pending(&self) -> io::Result<Pending> {
        let mut ready = Vec::new();
        let mut unreadable = Vec::new();
        for path in pending_files(&self.dir)? {
            let parsed = std::fs::read(&path)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Outgoing>(&bytes).ok());
            match parsed {
                Some(notification) => ready.push((path, notification)),
                None => unreadable.push(self.set_aside(&path)?),
            }
        }
        Ok((ready, unreadable))
    }

    /// How many notifications wait.
    pub fn len(&self) -> io::Result<usize> {
        Ok(pending_files(&self.dir)?.len())
    }

    pub fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Forgets a delivered notification.
    fn delivered(path: &Path) -> io::Result<()> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Moves a notification that cannot be delivered to `undeliverable/`; its new path.
    fn set_aside(&self, path: &Path) -> io::Result<PathBuf> {
        let dir = self.dir.join(UNDELIVERABLE);
        skywatch_store::durable::create_private_dir_all(&dir)?;
        let target = dir.join(path.file_name().unwrap_or_default());
        std::fs::rename(path, &target)?;
        Ok(target)
    }
}

/// The queued files (`<sequence>.json`) of `dir`, oldest first.
fn pending_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| sequence_of(p).is_some())
        .collect();
    files.sort();
    Ok(files)
}

fn sequence_of(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let digits = name.strip_suffix(".json")?;
    if digits.len() != 20 {
        return None;
    }
    digits.parse().ok()
}

/// The notifier's counters on `/metrics`.
#[derive(Debug, Clone)]
pub struct Counters {
    pub queued: Counter,
    pub published: Counter,
    /// Failed attempts by error class (each retried, or set aside when final).
    pub failures: Family<&'static str>,
    pub undeliverable: Counter,
    /// Actions that are not SNS topics, by service: they cannot run here.
    pub not_run: Family<&'static str>,
    pub waiting: Gauge,
}

impl Counters {
    pub fn register(registry: &Registry) -> Counters {
        Counters {
            queued: registry.counter(Desc::counter(
                "skywatch_alarms_notifications_queued_total",
                "Alarm notifications written to the outbox.",
            )),
            published: registry.counter(Desc::counter(
                "skywatch_alarms_notifications_published_total",
                "Alarm notifications SNS accepted.",
            )),
            failures: registry.family(Desc::counters_by(
                "skywatch_alarms_notification_failures_total",
                "Failed SNS Publish attempts, by error class.",
                "class",
            )),
            undeliverable: registry.counter(Desc::counter(
                "skywatch_alarms_notifications_undeliverable_total",
                "Alarm notifications SNS refused for good, kept in the outbox's undeliverable/.",
            )),
            not_run: registry.family(Desc::counters_by(
                "skywatch_alarms_actions_not_run_total",
                "Alarm actions that are not SNS topics and cannot run locally, by service.",
                "service",
            )),
            waiting: registry.gauge(Desc::gauge(
                "skywatch_alarms_notifications_waiting",
                "Alarm notifications in the outbox, not yet accepted by SNS.",
            )),
        }
    }
}

/// What one delivery round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Round {
    pub published: u64,
    pub undeliverable: u64,
    /// Still waiting (a transient failure stopped the round).
    pub waiting: u64,
    /// The failure that stopped the round, if one did.
    pub stopped_by: Option<String>,
}

/// Sends the outbox to SNS.
#[derive(Debug)]
pub struct Notifier {
    outbox: Outbox,
    client: aws_sdk_sns::Client,
    counters: Counters,
    journal: Journal,
    /// Failure kinds already named in the log (named again after a success).
    named: Mutex<BTreeSet<String>>,
    backoff: Backoff,
}

impl Notifier {
    pub fn new(
        outbox: Outbox,
        client: aws_sdk_sns::Client,
        counters: Counters,
        journal: Journal,
    ) -> Notifier {
        if let Ok(waiting) = outbox.len() {
            counters.waiting.set(waiting as u64);
        }
        Notifier {
            outbox,
            client,
            counters,
            journal,
            named: Mutex::new(BTreeSet::new()),
            backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(60)),
        }
    }

    /// A notifier with an SNS client made from `config`.
    pub fn with_config(
        outbox: Outbox,
        config: &aws_types::SdkConfig,
        counters: Counters,
        journal: Journal,
    ) -> Notifier {
        Notifier::new(outbox, aws_sdk_sns::Client::new(config), counters, journal)
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Queues the notifications for an alarm's actions: SNS topics to the outbox; any other
    /// action named (once per action) and counted.
    pub fn queue(
        &self,
        alarm_name: &str,
        actions: &[String],
        subject: &str,
        message: &str,
    ) -> io::Result<()> {
        for action in actions {
            if !is_sns_topic(action) {
                let service = action_service(action);
                self.counters.not_run.add(&service, 1);
                if self.first_time(&format!("action {action}")) {
                    self.journal.log(format_args!(
                        "alarm {alarm_name:?}: action {action} is not an SNS topic; only SNS actions run locally"
                    ));
                }
                continue;
            }
            self.outbox.push(&Outgoing {
                topic_arn: action.clone(),
                subject: subject.to_string(),
                message: message.to_string(),
                alarm_name: alarm_name.to_string(),
            })?;
            self.counters.queued.add(1);
        }
        self.update_waiting();
        Ok(())
    }

    fn first_time(&self, key: &str) -> bool {
        self.named
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.to_string())
    }

    fn update_waiting(&self) {
        if let Ok(waiting) = self.outbox.len() {
            self.counters.waiting.set(waiting as u64);
        }
    }

    /// Publishes what waits, oldest first, until the outbox is empty or a transient failure
    /// stops the round (the rest keeps its order for the next round).
    pub async fn deliver(&self) -> io::Result<Round> {
        let (ready, unreadable) = self.outbox.pending()?;
        let mut round = Round::default();
        for path in unreadable {
            self.counters.undeliverable.add(1);
            round.undeliverable += 1;
            self.journal.log(format_args!(
                "a notification in the outbox could not be read; moved to {}",
                path.display()
            ));
        }
        let mut ready = ready.into_iter();
        for (path, notification) in ready.by_ref() {
            let sent = self
                .client
                .publish()
                .topic_arn(&notification.topic_arn)
                .subject(&notification.subject)
                .message(&notification.message)
                .send()
                .await;
            match sent {
                Ok(_) => {
                    Outbox::delivered(&path)?;
                    self.counters.published.add(1);
                    round.published += 1;
                    let mut named = self
                        .named
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if named.remove("publish") {
                        self.journal.log("SNS Publish works again");
                    }
                }
                Err(e) => {
                    let error = classify(&e);
                    let class = error_class(&error);
                    self.counters.failures.add(&class.name(), 1);
                    if class == ErrorClass::Final {
                        let kept = self.outbox.set_aside(&path)?;
                        self.counters.undeliverable.add(1);
                        round.undeliverable += 1;
                        self.journal.log(format_args!(
                            "alarm {:?}: SNS refused the notification to {}: {error}; kept in {}",
                            notification.alarm_name,
                            notification.topic_arn,
                            kept.display()
                        ));
                        continue;
                    }
                    if self.first_time("publish") {
                        self.journal.log(format_args!(
                            "SNS Publish to {} failed ({}): {error}; notifications wait in {} and are retried",
                            notification.topic_arn,
                            class.name(),
                            self.outbox.dir().display()
                        ));
                    }
                    round.waiting = 1 + ready.len() as u64;
                    round.stopped_by = Some(error.to_string());
                    break;
                }
            }
        }
        self.update_waiting();
        Ok(round)
    }

    /// Delivers until the outbox is empty or `deadline` passes, backing off between rounds
    /// that a transient failure stopped. The last round's report.
    pub async fn deliver_until(&self, deadline: tokio::time::Instant) -> io::Result<Round> {
        let mut attempt = 0;
        loop {
            let round = self.deliver().await?;
            if round.stopped_by.is_none() {
                return Ok(round);
            }
            let wait = self.backoff.delay(attempt);
            attempt += 1;
            if tokio::time::Instant::now() + wait >= deadline {
                return Ok(round);
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// The delay before the next round after `failed_rounds` rounds in a row stopped early.
    pub fn retry_delay(&self, failed_rounds: u32) -> Duration {
        self.backoff.delay(failed_rounds)
    }
}

fn error_class(error: &SendError) -> ErrorClass {
    match error {
        SendError::Retry { class, .. } => *class,
        SendError::Rejected { .. } => ErrorClass::Final,
    }
}

/// Whether an action ARN names an SNS topic (`arn:<partition>:sns:<region>:<account>:<topic>`).
pub fn is_sns_topic(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    parts.len() == 6 && parts[0] == "arn" && parts[2] == "sns" && !parts[5].is_empty()
}

/// The service an action ARN belongs to, for counting (`lambda`, `automate`, `autoscaling`…).
fn action_service(arn: &str) -> &'static str {
    match arn.split(':').nth(2).unwrap_or_default() {
        "lambda" => "lambda",
        "automate" => "ec2",
        "autoscaling" => "autoscaling",
        "ssm" | "ssm-incidents" => "ssm",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(n: u32) -> Outgoing {
        Outgoing {
            topic_arn: "arn:aws:sns:us-east-1:123456789012:alarms".into(),
            subject: format!("ALARM: \"a{n}\" in US East (N. Virginia)"),
            message: format!("{{\"n\":{n}}}"),
            alarm_name: format!("a{n}"),
        }
    }

    #[test]
    fn the_outbox_keeps_order_across_reopening_and_sets_unreadable_files_aside() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        for n in 0..12 {
            outbox.push(&note(n)).unwrap();
        }
        drop(outbox);
        let outbox = Outbox::open(dir.path()).unwrap();
        outbox.push(&note(12)).unwrap();
        std::fs::write(dir.path().join(format!("{:020}.json", 999_999)), b"{torn").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"not ours").unwrap();
        let (ready, unreadable) = outbox.pending().unwrap();
        let names: Vec<String> = ready.iter().map(|(_, n)| n.alarm_name.clone()).collect();
        let expected: Vec<String> = (0..13).map(|n| format!("a{n}")).collect();
        assert_eq!(names, expected);
        assert_eq!(unreadable.len(), 1);
        assert!(unreadable[0].starts_with(dir.path().join(UNDELIVERABLE)));
        assert_eq!(outbox.len().unwrap(), 13);
    }

    #[test]
    fn only_sns_topics_are_topics() {
        assert!(is_sns_topic("arn:aws:sns:us-east-1:123456789012:alarms"));
        assert!(is_sns_topic("arn:aws-cn:sns:cn-north-1:123456789012:a-b_c"));
        assert!(!is_sns_topic("arn:aws:lambda:us-east-1:123456789012:function:f"));
        assert!(!is_sns_topic("arn:aws:automate:us-east-1:ec2:stop"));
        assert!(!is_sns_topic("arn:aws:sns:us-east-1:123456789012:"));
        assert_eq!(action_service("arn:aws:automate:us-east-1:ec2:stop"), "ec2");
    }
}
