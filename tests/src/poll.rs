//! Waiting with a deadline. Tests never sleep a fixed time and hope; they poll a condition until it
//! holds or the deadline passes, and then fail saying what they waited for.

use std::time::{Duration, Instant};

/// Calls `check` every `every` until it returns `Some`, or returns `Err` naming `what` once
/// `timeout` has passed.
pub fn poll_until<T>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Result<T, String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        std::thread::sleep(every);
    }
}

/// The async twin of [`poll_until`], for tests running on tokio.
pub async fn poll_until_async<T, F, Fut>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut check: F,
) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::poll_until;
    use std::time::Duration;

    #[test]
    fn poll_returns_the_first_value_that_holds() {
        let mut calls = 0;
        let got = poll_until(
            "the third call",
            Duration::from_secs(5),
            Duration::from_millis(1),
            || {
                calls += 1;
                (calls == 3).then_some(calls)
            },
        );
        assert_eq!(got, Ok(3));
    }

    #[test]
    fn poll_times_out_naming_what_it_waited_for() {
        let got: Result<(), String> = poll_until(
            "never",
            Duration::from_millis(20),
            Duration::from_millis(5),
            || None,
        );
        assert_eq!(got, Err("timed out after 20ms waiting for never".to_string()));
    }
}
