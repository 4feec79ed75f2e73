//! Sending something to a backend until it is accepted, refused for good, or the part's stop
//! deadline comes — the one loop every sender uses (PutMetricData, PutLogEvents and the local
//! store today; PutTraceSegments and SNS Publish next).
//!
//! Design decision: the loop knows nothing of the request. The caller passes an attempt (an
//! async closure that sends what is still unsent and says what the backend made of it as a
//! [`Receipt`]), a [`Policy`] (backoff, which errors are final) and a [`Subject`] (how log lines
//! name it). The loop counts every failed attempt through the caller's hook, logs the first
//! failure and then only every power-of-two-th, retries with equal-jitter backoff, and treats
//! partial answers generically: items the backend refused for good (CloudWatch Logs'
//! `rejectedLogEventsInfo`, X-Ray's non-retryable `UnprocessedTraceSegments`) are summed by
//! reason and logged, items it left unprocessed but retryable make the loop try again with the
//! remainder. It gives up only at the stop deadline, and then says so — never silently.

use std::time::{Duration, Instant};

use skywatch_aws::SendError;
use skywatch_backoff::Backoff;
use skywatch_runtime::{Journal, ShutdownSignal};

/// The backoff every sender starts from: 200 ms doubling to 30 s, equal jitter.
pub const DEFAULT_BACKOFF: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));

/// How to retry.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub backoff: Backoff,
    /// Whether an error means the request is refused for good (no retry).
    pub is_final: fn(&SendError) -> bool,
}

impl Policy {
    /// Retries what is worth retrying as it is; a refusal ([`SendError::Rejected`]) is final.
    pub const fn refusals_are_final() -> Policy {
        Policy {
            backoff: DEFAULT_BACKOFF,
            is_final: |e| matches!(e, SendError::Rejected { .. }),
        }
    }
}

/// How log lines name what is being sent.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    /// What failed or went through: `PutMetricData`, `app/web-1: delivery`.
    pub what: String,
    /// Where refused items came from: `PutMetricData`, `app/web-1`.
    pub from: String,
    /// Who refuses items: `CloudWatch Logs`.
    pub service: &'a str,
    /// The items' name in the plural form used in counts: `event(s)`.
    pub items: &'a str,
}

/// What the backend made of one attempt that it answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Receipt {
    /// Items taken.
    pub accepted: u64,
    /// Items refused for good, by reason (`too_old`, `InvalidTraceId`…).
    pub refused: Vec<(String, u64)>,
    /// Items neither taken nor refused for good: the next attempt sends them again.
    pub unprocessed: u64,
}

impl Receipt {
    /// Everything taken.
    pub fn all(accepted: u64) -> Receipt {
        Receipt {
            accepted,
            ..Receipt::default()
        }
    }
}

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The backend answered for every item: the sum of the receipts, and how many attempts failed
    /// on the way.
    Delivered { receipt: Receipt, failed_attempts: u32 },
    /// The backend refused the request for good.
    Refused(SendError),
    /// The stop deadline came before the backend took it: `last` is the last failure (none if
    /// the deadline had passed before a first attempt); what was accepted meanwhile is in
    /// `partial`.
    DeadlinePassed {
        last: Option<SendError>,
        partial: Receipt,
    },
}

/// The retry loop's state, for senders whose attempt borrows what it sends mutably (write the
/// loop, hand each attempt's result to [`Retrying::after`]); [`until_accepted`] is the loop for
/// everyone else.
#[derive(Debug)]
pub struct Retrying<'a> {
    subject: &'a Subject<'a>,
    policy: &'a Policy,
    journal: &'a Journal,
    shutdown: ShutdownSignal,
    started: Instant,
    failed: u32,
    waits: u32,
    total: Receipt,
}

/// What to do after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Try again now (the backoff has been waited out).
    Again,
    Done(Outcome),
}

impl<'a> Retrying<'a> {
    pub fn new(
        subject: &'a Subject<'a>,
        policy: &'a Policy,
        journal: &'a Journal,
        shutdown: &ShutdownSignal,
    ) -> Retrying<'a> {
        Retrying {
            subject,
            policy,
            journal,
            shutdown: shutdown.clone(),
            started: Instant::now(),
            failed: 0,
            waits: 0,
            total: Receipt::default(),
        }
    }

    /// Whether an attempt may start: not once the stop deadline has passed (then the loop ends
    /// with [`Outcome::DeadlinePassed`]).
    pub fn may_attempt(&self) -> bool {
        self.shutdown.time_left() != Some(Duration::ZERO)
    }

    /// The outcome when [`Retrying::may_attempt`] said no.
    pub fn deadline_passed(&mut self) -> Outcome {
        Outcome::DeadlinePassed {
            last: None,
            partial: std::mem::take(&mut self.total),
        }
    }

    /// Runs one attempt, cut short at the stop deadline when stopping (`None` then: the loop
    /// should end with [`Retrying::deadline_passed`]). The backend may still take a request cut
    /// short: what it carried is sent again later, never lost.
    pub async fn attempt<T>(&self, attempt: impl std::future::Future<Output = T>) -> Option<T> {
        match self.shutdown.time_left() {
            None => Some(attempt.await),
            Some(left) => tokio::time::timeout(left, attempt).await.ok(),
        }
    }

    /// Takes an attempt's result: counts a failure through `on_failure`, logs, and either ends
    /// or waits out the backoff before the next attempt.
    pub async fn after(
        &mut self,
        result: Result<Receipt, SendError>,
        on_failure: impl FnOnce(&SendError),
    ) -> Step {
        let subject = self.subject;
        let error = match result {
            Ok(receipt) => {
                self.total.accepted += receipt.accepted;
                for (reason, n) in receipt.refused {
                    if n == 0 {
                        continue;
                    }
                    self.journal.log(format_args!(
                        "{}: {} refused {n} {} as {reason}",
                        subject.from, subject.service, subject.items
                    ));
                    match self.total.refused.iter_mut().find(|(r, _)| *r == reason) {
                        Some((_, count)) => *count += n,
                        None => self.total.refused.push((reason, n)),
                    }
                }
                if receipt.unprocessed == 0 {
                    if self.failed > 0 {
                        self.journal.log(format_args!(
                            "{} went through after {} retries, delivered after {:.1} s",
                            subject.what,
                            self.failed,
                            self.started.elapsed().as_secs_f64()
                        ));
                    }
                    return Step::Done(Outcome::Delivered {
                        receipt: std::mem::take(&mut self.total),
                        failed_attempts: self.failed,
                    });
                }
                // Some items are to be sent again: wait as after a throttle.
                SendError::retry(
                    skywatch_aws::ErrorClass::Throttled,
                    "unprocessed",
                    format!("{} {} left unprocessed", receipt.unprocessed, subject.items),
                )
            }
            Err(e) if (self.policy.is_final)(&e) => {
                on_failure(&e);
                return Step::Done(Outcome::Refused(e));
            }
            Err(e) => {
                on_failure(&e);
                // Logged at the 1st, 2nd, 3rd, 5th, 9th… failure.
                let retries_before = self.failed;
                self.failed = self.failed.saturating_add(1);
                if retries_before == 0 || retries_before.is_power_of_two() {
                    self.journal
                        .log(format_args!("{} failed, retrying: {e}", subject.what));
                }
                e
            }
        };
        let delay = self.policy.backoff.delay(self.waits);
        self.waits = self.waits.saturating_add(1);
        if self.shutdown.would_pass_deadline(delay) {
            return Step::Done(Outcome::DeadlinePassed {
                last: Some(error),
                partial: std::mem::take(&mut self.total),
            });
        }
        self.shutdown.sleep(delay).await;
        Step::Again
    }
}

/// Sends with `attempt` until the backend has answered for every item, refused the request, or
/// the stop deadline would pass before the next try. `on_failure` is called with every failed
/// attempt (count it).
pub async fn until_accepted<F, Fut>(
    subject: &Subject<'_>,
    policy: &Policy,
    journal: &Journal,
    shutdown: &ShutdownSignal,
    mut on_failure: impl FnMut(&SendError),
    mut attempt: F,
) -> Outcome
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Receipt, SendError>>,
{
    let mut retrying = Retrying::new(subject, policy, journal, shutdown);
    loop {
        if !retrying.may_attempt() {
            return retrying.deadline_passed();
        }
        let Some(result) = retrying.attempt(attempt()).await else {
            return retrying.deadline_passed();
        };
        if let Step::Done(outcome) = retrying.after(result, &mut on_failure).await {
            return outcome;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use skywatch_aws::{ErrorClass, SendError};
    use skywatch_backoff::Backoff;
    use skywatch_runtime::{shutdown_pair, Journal};

    use super::{until_accepted, Outcome, Policy, Receipt, Subject};

    const FAST: Policy = Policy {
        backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(2)),
        is_final: |e| matches!(e, SendError::Rejected { .. }),
    };

    fn subject() -> Subject<'static> {
        Subject {
            what: "test".into(),
            from: "test".into(),
            service: "Backend",
            items: "item(s)",
        }
    }

    fn throttled() -> SendError {
        SendError::retry(ErrorClass::Throttled, "Throttling", "slow down")
    }

    #[tokio::test]
    async fn retries_until_accepted_counting_each_failure_and_resending_the_unprocessed() {
        let (_handle, signal) = shutdown_pair();
        let mut answers = vec![
            Err(throttled()),
            Ok(Receipt {
                accepted: 3,
                refused: vec![("too_old".into(), 1)],
                unprocessed: 2,
            }),
            Err(throttled()),
            Ok(Receipt::all(2)),
        ]
        .into_iter();
        let mut failures = Vec::new();
        let outcome = until_accepted(
            &subject(),
            &FAST,
            &Journal::new("test"),
            &signal,
            |e| failures.push(e.kind().to_string()),
            || std::future::ready(answers.next().unwrap()),
        )
        .await;
        assert_eq!(
            outcome,
            Outcome::Delivered {
                receipt: Receipt {
                    accepted: 5,
                    refused: vec![("too_old".into(), 1)],
                    unprocessed: 0
                },
                failed_attempts: 2
            }
        );
        assert_eq!(failures, ["Throttling", "Throttling"]);
    }

    #[tokio::test]
    async fn an_attempt_in_flight_is_cut_short_at_the_deadline() {
        let (handle, signal) = shutdown_pair();
        handle.stop(Duration::from_millis(50));
        let started = std::time::Instant::now();
        let outcome = until_accepted(
            &subject(),
            &FAST,
            &Journal::new("test"),
            &signal,
            |_| {},
            std::future::pending::<Result<Receipt, SendError>>,
        )
        .await;
        assert!(
            matches!(outcome, Outcome::DeadlinePassed { last: None, .. }),
            "{outcome:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_final_error_ends_at_once_and_a_deadline_ends_the_retries() {
        let (handle, signal) = shutdown_pair();
        let refused = SendError::Rejected {
            class: ErrorClass::Final,
            kind: "InvalidParameter".into(),
            message: "no".into(),
        };
        let once = refused.clone();
        let outcome = until_accepted(
            &subject(),
            &FAST,
            &Journal::new("test"),
            &signal,
            |_| {},
            || std::future::ready(Err(once.clone())),
        )
        .await;
        assert_eq!(outcome, Outcome::Refused(refused));
        handle.stop(Duration::ZERO);
        let mut tries = 0;
        let outcome = until_accepted(
            &subject(),
            &FAST,
            &Journal::new("test"),
            &signal,
            |_| {},
            || {
                tries += 1;
                std::future::ready(Err(throttled()))
            },
        )
        .await;
        assert!(
            matches!(outcome, Outcome::DeadlinePassed { last: None, .. }),
            "{outcome:?}"
        );
        assert_eq!(tries, 0, "no attempt once the deadline has passed");
    }
}
