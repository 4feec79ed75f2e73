//! Exponential backoff with "equal jitter" for retrying throttled or failed calls.
//!
//! Attempt n waits d/2 + a random share of d/2, where d = min(base × 2ⁿ, max): the wait grows
//! fast, never exceeds `max`, never drops below half the nominal delay (so a fleet of agents
//! backs off for real), and agents that failed together spread out instead of retrying in
//! lockstep. The CloudWatch agent uses the same shape (200 ms base, 60 s cap). Polling for a
//! result (logq's CloudWatch mode) uses the nominal delays [`stretched`] instead: never sooner.

use std::time::Duration;

/// A backoff schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    pub const fn new(base: Duration, max: Duration) -> Backoff {
        Backoff { base, max }
    }

    /// The nominal (unjittered) delay before retry number `attempt` (0 for the first retry).
    pub fn nominal(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The delay before retry number `attempt`, jittered with `unit` in [0, 1) (pass
    /// [`random_unit`] outside tests).
    pub fn delay_with(&self, attempt: u32, unit: f64) -> Duration {
        let nominal = self.nominal(attempt);
        let half = nominal / 2;
        half + half.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// The delay before retry number `attempt`, randomly jittered.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_with(attempt, random_unit())
    }
}

/// `delay` stretched by a share `unit` in [0, 1) of a tenth more: for polling, which must not
/// come sooner than asked but should not come in step with every other client.
pub fn stretched(delay: Duration, unit: f64) -> Duration {
    delay + (delay / 10).mul_f64(unit.clamp(0.0, 1.0))
}

/// A random number in [0, 1).
pub fn random_unit() -> f64 {
    fastrand::f64()
}

#[cfg(test)]
mod tests {
    use super::Backoff;
    use std::time::Duration;

    const B: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(60));

    #[test]
    fn doubles_up_to_the_cap() {
        let ms: Vec<u128> = (0..12).map(|n| B.nominal(n).as_millis()).collect();
        assert_eq!(
            ms,
            [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000, 60000]
        );
        assert_eq!(B.nominal(u32::MAX), Duration::from_secs(60), "no overflow");
    }

    #[test]
    fn jitter_stays_between_half_and_the_whole() {
        assert_eq!(B.delay_with(3, 0.0), Duration::from_millis(800));
        assert_eq!(B.delay_with(3, 0.5), Duration::from_millis(1200));
        assert!(B.delay_with(3, 0.999_999) <= Duration::from_millis(1600));
        for n in 0..20 {
            let d = B.delay(n);
            assert!(d >= B.nominal(n) / 2 && d <= B.nominal(n), "{n}: {d:?}");
        }
    }
}
