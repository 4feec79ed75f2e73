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

use super::evaluate::Transition;

/// One message for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Outgoing {
    /// Its name in the outbox: the state change's time (zero-padded, so names sort in the
    /// order of the changes) and a hash of the change and the topic. The same change for the
    /// same topic always has the same key, so queuing it twice (a retry after a crash) writes
    /// one file.
    pub key: String,
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
        Ok(Outbox {
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Queues `notification` under its key: on disk (synced) when this returns. Queuing the
    /// same notification again rewrites the same file.
    pub fn push(&self, notification: &Outgoing) -> io::Result<()> {
        if !is_key(&notification.key) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{:?} is not an outbox key", notification.key),
            ));
        }
        let bytes = serde_json::to_vec(notification).map_err(io::Error::other)?;
        let path = self.dir.join(format!("{}.json", notification.key));
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
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let stem = name.strip_suffix(".json").unwrap_or(&name).to_string();
        // Never over an earlier one (the same notification refused twice keeps both records).
        let mut target = dir.join(&name);
        let mut n = 1;
        while target.exists() {
            target = dir.join(format!("{stem}.{n}.json"));
            n += 1;
        }
        std::fs::rename(path, &target)?;
        Ok(target)
    }
}

/// The queued files (`<key>.json`) of `dir`, oldest first. An entry that cannot be read is
/// an error: a notification must not be passed over in silence.
fn pending_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let queued = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
            .is_some_and(is_key);
        if queued {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Outbox keys: 20 digits, `-`, 16 hex digits.
fn is_key(key: &str) -> bool {
    let Some((time, hash)) = key.split_once('-') else {
        return false;
    };
    time.len() == 20
        && time.bytes().all(|b| b.is_ascii_digit())
        && hash.len() == 16
        && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The key of the notification of a state change (`alarm_arn` entering `state` at
/// `timestamp_ms`) for `topic`.
pub fn key_for(alarm_arn: &str, timestamp_ms: i64, state: &str, topic: &str) -> String {
    // FNV-1a: stable across builds and platforms, which the std hasher is not.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [alarm_arn, state, topic, &timestamp_ms.to_string()] {
        for byte in part.bytes().chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{:020}-{hash:016x}", timestamp_ms.max(0))
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

    /// The notifications of a state change for its actions: one per SNS topic, keyed by the
    /// change and the topic. Any other action is named (once per action) and counted: it
    /// cannot run locally.
    pub fn prepare(&self, transition: &Transition, subject: &str, message: &str) -> Vec<Outgoing> {
        let mut out = Vec::new();
        for action in &transition.actions {
            if !is_sns_topic(action) {
                let service = action_service(action);
                self.counters.not_run.add(&service, 1);
                if self.first_time(&format!("action {action}")) {
                    self.journal.log(format_args!(
                        "alarm {:?}: action {action} is not an SNS topic; only SNS actions run locally",
                        transition.alarm_name
                    ));
                }
                continue;
            }
            out.push(Outgoing {
                key: key_for(
                    &transition.alarm_arn,
                    transition.timestamp_ms,
                    transition.new_state.as_str(),
                    action,
                ),
                topic_arn: action.clone(),
                subject: subject.to_string(),
                message: message.to_string(),
                alarm_name: transition.alarm_name.clone(),
            });
        }
        out
    }

    /// Writes `notifications` to the outbox; the ones that could not be written come back
    /// with the first error (nothing is lost: the caller keeps them and tries again).
    pub fn enqueue(&self, notifications: Vec<Outgoing>) -> Result<(), (Vec<Outgoing>, io::Error)> {
        let mut left = notifications.into_iter();
        while let Some(n) = left.next() {
            if let Err(e) = self.outbox.push(&n) {
                let mut kept = vec![n];
                kept.extend(left);
                self.update_waiting();
                return Err((kept, e));
            }
            self.counters.queued.add(1);
        }
        self.update_waiting();
        Ok(())
    }

    /// [`Notifier::prepare`] then [`Notifier::enqueue`].
    pub fn queue(&self, transition: &Transition, subject: &str, message: &str) -> io::Result<()> {
        self.enqueue(self.prepare(transition, subject, message))
            .map_err(|(_, e)| e)
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
        // Order is kept per topic: a topic that fails keeps the rest of its notifications
        // waiting behind the failed one, while other topics go on.
        let mut stopped_topics: BTreeSet<String> = BTreeSet::new();
        for (path, notification) in ready {
            if stopped_topics.contains(&notification.topic_arn) {
                round.waiting += 1;
                continue;
            }
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
                    self.counters.published.add(1);
                    round.published += 1;
                    if let Err(e) = Outbox::delivered(&path) {
                        self.journal.log(format_args!(
                            "alarm {:?}: the notification to {} was published but {} cannot be removed ({e}); it may be sent again",
                            notification.alarm_name,
                            notification.topic_arn,
                            path.display()
                        ));
                    }
                    let mut named = self
                        .named
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if named.remove(&format!("publish {}", notification.topic_arn)) {
                        self.journal.log(format_args!(
                            "SNS Publish to {} works again",
                            notification.topic_arn
                        ));
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
                    if self.first_time(&format!("publish {}", notification.topic_arn)) {
                        self.journal.log(format_args!(
                            "SNS Publish to {} failed ({}): {error}; its notifications wait in {} and are retried",
                            notification.topic_arn,
                            class.name(),
                            self.outbox.dir().display()
                        ));
                    }
                    round.waiting += 1;
                    round.stopped_by = Some(error.to_string());
                    stopped_topics.insert(notification.topic_arn.clone());
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
        let topic = "arn:aws:sns:us-east-1:123456789012:alarms";
        Outgoing {
            key: key_for(
                "arn:aws:cloudwatch:us-east-1:123456789012:alarm:a",
                i64::from(n) * 1000,
                "ALARM",
                topic,
            ),
            topic_arn: topic.into(),
            subject: format!("ALARM: \"a{n}\" in US East (N. Virginia)"),
            message: format!("{{\"n\":{n}}}"),
            alarm_name: format!("a{n}"),
        }
    }

    #[test]
    fn the_outbox_keeps_the_order_of_the_changes_and_a_notification_queued_twice_once() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        for n in (0..12).rev() {
            outbox.push(&note(n)).unwrap();
        }
        drop(outbox);
        let outbox = Outbox::open(dir.path()).unwrap();
        // A retry after a crash writes the same file again.
        outbox.push(&note(3)).unwrap();
        outbox.push(&note(12)).unwrap();
        let torn = format!("{}.json", key_for("x", 999_999, "OK", "t"));
        std::fs::write(dir.path().join(&torn), b"{torn").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"not ours").unwrap();
        let (ready, unreadable) = outbox.pending().unwrap();
        let names: Vec<String> = ready.iter().map(|(_, n)| n.alarm_name.clone()).collect();
        let expected: Vec<String> = (0..13).map(|n| format!("a{n}")).collect();
        assert_eq!(names, expected);
        assert_eq!(unreadable.len(), 1);
        assert!(unreadable[0].starts_with(dir.path().join(UNDELIVERABLE)));
        assert_eq!(outbox.len().unwrap(), 13);
        // Set aside twice under one name: both kept.
        std::fs::write(dir.path().join(&torn), b"{torn again").unwrap();
        let (_, again) = outbox.pending().unwrap();
        assert_ne!(again[0], unreadable[0]);
        assert!(again[0].exists() && unreadable[0].exists());
    }

    #[test]
    fn keys_are_stable_and_differ_by_change_and_topic() {
        let a = key_for("arn:a", 1_000, "ALARM", "arn:sns:t1");
        assert_eq!(a, key_for("arn:a", 1_000, "ALARM", "arn:sns:t1"));
        assert!(is_key(&a) && a.starts_with("00000000000000001000-"));
        for other in [
            key_for("arn:b", 1_000, "ALARM", "arn:sns:t1"),
            key_for("arn:a", 1_001, "ALARM", "arn:sns:t1"),
            key_for("arn:a", 1_000, "OK", "arn:sns:t1"),
            key_for("arn:a", 1_000, "ALARM", "arn:sns:t2"),
        ] {
            assert_ne!(a, other);
        }
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
