//! Retries with exponential backoff and jitter: never a hot loop, never forever.
//!
//! The delay before attempt `n` (counting from 1 for the first retry) is drawn uniformly from
//! `[cap/2, cap]` with `cap = min(max_delay, initial_delay · 2^(n-1))`: doubling spreads load on
//! a struggling dependency, the jitter keeps many instances from retrying in lock step, and the
//! floor of half the cap keeps a retry from following a failure immediately.

use std::fmt::Display;
use std::time::Duration;

use rand::Rng as _;
use serde::Deserialize;

/// How often and how patiently to retry a transient failure.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Delay cap of the first retry, in milliseconds.
    pub initial_delay_ms: u64,
    /// Largest delay between two attempts, in milliseconds.
    pub max_delay_ms: u64,
    /// Attempts in all, the first included; 0 retries until the caller stops (for loops that
    /// must keep a service alive through an outage, such as polling a queue).
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_delay_ms: 100,
            max_delay_ms: 30_000,
            max_attempts: 8,
        }
    }
}

/// The delays of one sequence of attempts.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: RetryPolicy,
    failures: u32,
}

impl Backoff {
    /// A fresh sequence.
    #[must_use]
    pub const fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            failures: 0,
        }
    }

    /// A sequence with the policy's delays and no attempt limit, for loops that must keep a
    /// service alive through an outage (consuming, polling a queue, writing a checkpoint).
    #[must_use]
    pub fn endless(policy: &RetryPolicy) -> Self {
        Self::new(RetryPolicy {
            max_attempts: 0,
            ..policy.clone()
        })
    }

    /// Records a failure; the delay before the next attempt, the largest delay once a limited
    /// sequence is spent.
    pub fn pause(&mut self) -> Duration {
        self.next_delay()
            .unwrap_or(Duration::from_millis(self.policy.max_delay_ms))
    }

    /// Records a failure; the delay before the next attempt, or `None` when attempts are spent.
    pub fn next_delay(&mut self) -> Option<Duration> {
        self.failures = self.failures.saturating_add(1);
        if self.policy.max_attempts != 0 && self.failures >= self.policy.max_attempts {
            return None;
        }
        let doubling = 1_u64.checked_shl(self.failures - 1).unwrap_or(u64::MAX);
        let cap = self
            .policy
            .initial_delay_ms
            .saturating_mul(doubling)
            .min(self.policy.max_delay_ms)
            .max(1);
        Some(Duration::from_millis(
            rand::rng().random_range(cap.div_ceil(2)..=cap),
        ))
    }

    /// Failures recorded so far.
    #[must_use]
    pub const fn failures(&self) -> u32 {
        self.failures
    }

    /// Starts over after a success.
    pub const fn reset(&mut self) {
        self.failures = 0;
    }
}

/// Why [`retry`] gave up.
#[derive(Debug, thiserror::Error)]
pub enum RetryError<E> {
    /// The failure is not worth retrying.
    #[error("{0}")]
    Permanent(E),
    /// Every attempt failed transiently.
    #[error("gave up after {attempts} attempts: {last}")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: E,
    },
}

impl<E> RetryError<E> {
    /// The underlying error.
    pub fn into_inner(self) -> E {
        match self {
            Self::Permanent(error) | Self::Exhausted { last: error, .. } => error,
        }
    }
}

/// Runs `operation` until it succeeds, fails permanently (`is_transient` says no) or the policy's
/// attempts are spent, sleeping with backoff between attempts and logging each retry.
pub async fn retry<T, E, Op, Fut>(
    what: &str,
    policy: &RetryPolicy,
    mut operation: Op,
    is_transient: impl Fn(&E) -> bool,
) -> Result<T, RetryError<E>>
where
    E: Display,
    Op: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut backoff = Backoff::new(policy.clone());
    loop {
        match operation().await {
            Ok(value) => return Ok(value),
            Err(error) if !is_transient(&error) => return Err(RetryError::Permanent(error)),
            Err(error) => match backoff.next_delay() {
                Some(delay) => {
                    tracing::warn!(what, attempt = backoff.failures(), delay_ms = delay.as_millis() as u64, %error, "transient failure, retrying");
                    tokio::time::sleep(delay).await;
                }
                None => {
                    return Err(RetryError::Exhausted {
                        attempts: backoff.failures(),
                        last: error,
                    });
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[test]
    fn delays_double_within_jitter_and_stop_at_the_cap() {
        let mut backoff = Backoff::new(RetryPolicy {
            initial_delay_ms: 100,
            max_delay_ms: 1_000,
            max_attempts: 0,
        });
        let caps = [100, 200, 400, 800, 1_000, 1_000, 1_000];
        for cap in caps {
            let delay = backoff.next_delay().expect("unbounded").as_millis() as u64;
            assert!(
                (cap / 2..=cap).contains(&delay),
                "{delay} not in [{}, {cap}]",
                cap / 2
            );
        }
        for _ in 0..100 {
            assert!(
                backoff.next_delay().is_some(),
                "max_attempts 0 never gives up"
            );
        }
    }

    #[test]
    fn endless_sequences_never_give_up_and_pause_stays_capped() {
        let policy = RetryPolicy {
            initial_delay_ms: 10,
            max_delay_ms: 40,
            max_attempts: 2,
        };
        let mut endless = Backoff::endless(&policy);
        for _ in 0..100 {
            assert!(
                endless
                    .next_delay()
                    .is_some_and(|delay| delay <= Duration::from_millis(40))
            );
        }
        let mut limited = Backoff::new(policy);
        assert!(limited.pause() <= Duration::from_millis(10));
        // spent: the largest delay, not a hot loop
        assert_eq!(limited.pause(), Duration::from_millis(40));
    }

    #[test]
    fn attempts_are_bounded() {
        let mut backoff = Backoff::new(RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        });
        assert!(backoff.next_delay().is_some());
        assert!(backoff.next_delay().is_some());
        assert!(
            backoff.next_delay().is_none(),
            "the third failure is the last attempt"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_and_permanent_ones_are_not() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy {
            initial_delay_ms: 10,
            max_delay_ms: 100,
            max_attempts: 5,
        };
        let outcome: Result<u32, RetryError<&str>> = retry(
            "flaky",
            &policy,
            || async {
                let call = calls.fetch_add(1, Ordering::SeqCst);
                if call < 2 { Err("busy") } else { Ok(call) }
            },
            |_| true,
        )
        .await;
        assert_eq!(outcome.expect("third call succeeds"), 2);

        calls.store(0, Ordering::SeqCst);
        let permanent: Result<(), _> = retry(
            "broken",
            &policy,
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err("no such key")
            },
            |_| false,
        )
        .await;
        assert!(matches!(
            permanent,
            Err(RetryError::Permanent("no such key"))
        ));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let exhausted: Result<(), _> =
            retry("down", &policy, || async { Err("busy") }, |_| true).await;
        assert!(matches!(
            exhausted,
            Err(RetryError::Exhausted { attempts: 5, .. })
        ));
    }
}
