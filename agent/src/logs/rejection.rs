//! What a PutLogEvents answer's `rejectedLogEventsInfo` says about each event of the (sorted)
//! batch: a prefix too old or past the group's retention, a suffix too far ahead, everything
//! between accepted. Rejected events are never retried (they would be rejected again); they
//! are counted and logged by reason, and the checkpoint moves past them like past accepted
//! ones — nothing is dropped silently and nothing is retried forever.

/// Why the service refused an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rejected {
    /// Older than 14 days.
    TooOld,
    /// Older than the log group's retention.
    Expired,
    /// More than 2 hours ahead.
    TooNew,
}

impl Rejected {
    pub fn name(self) -> &'static str {
        match self {
            Rejected::TooOld => "too_old",
            Rejected::Expired => "expired",
            Rejected::TooNew => "too_new",
        }
    }
}

/// The indexes of `rejectedLogEventsInfo`, as the API gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RejectedInfo {
    /// Events from here on (inclusive) were too new.
    pub too_new_start: Option<i32>,
    /// Events before here (exclusive) were too old.
    pub too_old_end: Option<i32>,
    /// Events before here (exclusive) were past the retention.
    pub expired_end: Option<i32>,
}

/// How a batch of `len` events fared.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    pub accepted: usize,
    pub too_old: usize,
    pub expired: usize,
    pub too_new: usize,
}

impl RejectedInfo {
    /// The fate of event `index`: `None` if accepted.
    pub fn of(&self, index: usize) -> Option<Rejected> {
        let index = i64::try_from(index).unwrap_or(i64::MAX);
        let before = |end: Option<i32>| end.is_some_and(|end| index < i64::from(end));
        if before(self.expired_end) {
            Some(Rejected::Expired)
        } else if before(self.too_old_end) {
            Some(Rejected::TooOld)
        } else if self.too_new_start.is_some_and(|start| index >= i64::from(start)) {
            Some(Rejected::TooNew)
        } else {
            None
        }
    }

    /// The counts for a batch of `len` events.
    pub fn outcome(&self, len: usize) -> Outcome {
        let mut outcome = Outcome::default();
        for i in 0..len {
            match self.of(i) {
                None => outcome.accepted += 1,
                Some(Rejected::TooOld) => outcome.too_old += 1,
                Some(Rejected::Expired) => outcome.expired += 1,
                Some(Rejected::TooNew) => outcome.too_new += 1,
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::{Outcome, Rejected, RejectedInfo};

    #[test]
    fn nothing_rejected_means_all_accepted() {
        assert_eq!(
            RejectedInfo::default().outcome(5),
            Outcome {
                accepted: 5,
                ..Outcome::default()
            }
        );
    }

    #[test]
    fn too_old_is_a_prefix_with_an_exclusive_end() {
        let info = RejectedInfo {
            too_old_end: Some(2),
            ..RejectedInfo::default()
        };
        assert_eq!(info.of(1), Some(Rejected::TooOld));
        assert_eq!(info.of(2), None);
        assert_eq!(
            info.outcome(5),
            Outcome {
                accepted: 3,
                too_old: 2,
                ..Outcome::default()
            }
        );
    }

    #[test]
    fn expired_is_a_prefix_and_wins_over_too_old() {
        let info = RejectedInfo {
            too_old_end: Some(3),
            expired_end: Some(1),
            ..RejectedInfo::default()
        };
        let fates: Vec<Option<Rejected>> = (0..4).map(|i| info.of(i)).collect();
        assert_eq!(
            fates,
            [
                Some(Rejected::Expired),
                Some(Rejected::TooOld),
                Some(Rejected::TooOld),
                None
            ]
        );
    }

    #[test]
    fn too_new_is_a_suffix_with_an_inclusive_start() {
        let info = RejectedInfo {
            too_new_start: Some(3),
            ..RejectedInfo::default()
        };
        assert_eq!(info.of(2), None);
        assert_eq!(info.of(3), Some(Rejected::TooNew));
        assert_eq!(
            info.outcome(5),
            Outcome {
                accepted: 3,
                too_new: 2,
                ..Outcome::default()
            }
        );
    }

    #[test]
    fn all_three_at_once_and_indexes_beyond_the_batch() {
        let info = RejectedInfo {
            too_new_start: Some(4),
            too_old_end: Some(2),
            expired_end: Some(1),
        };
        assert_eq!(
            info.outcome(6),
            Outcome {
                accepted: 2,
                too_old: 1,
                expired: 1,
                too_new: 2
            }
        );
        let beyond = RejectedInfo {
            too_new_start: Some(10),
            too_old_end: Some(-1),
            expired_end: None,
        };
        assert_eq!(
            beyond.outcome(3),
            Outcome {
                accepted: 3,
                ..Outcome::default()
            }
        );
        assert_eq!(Rejected::Expired.name(), "expired");
    }
}
