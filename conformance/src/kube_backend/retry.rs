//! Retrying writes that fail transiently (connection dropped, 429, 5xx) with exponential backoff and
//! a bound on attempts and on total time. Only idempotent writes are retried blindly (server-side
//! apply, merge patches, gets); [`Idempotence`] says what a retry of the others means: a create whose
//! answer was lost may find `AlreadyExists`, a delete whose answer was lost may find `NotFound`, and
//! both then count as done.

use super::watch::{Backoff, TransportError};
use std::future::Future;
use std::time::Duration;

/// How often and how long to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (at least 1).
    pub max_attempts: u32,
    /// First backoff delay.
    pub backoff_base: Duration,
    /// Longest backoff delay.
    pub backoff_max: Duration,
    /// Give up once this much time has passed since the first attempt.
    pub deadline: Duration,
    /// Each attempt is abandoned after this long (a hung connection counts as a connection error).
    pub attempt_timeout: Duration,
    /// Retry `409 Conflict` (for writes that do not carry a resourceVersion precondition).
    pub retry_conflicts: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(4),
            deadline: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(30),
            retry_conflicts: true,
        }
    }
}

/// What repeating a write means when an earlier attempt may have taken effect unseen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotence {
    /// Repeating it is harmless (apply, merge patch, get).
    Idempotent,
    /// A create: `AlreadyExists` after a lost answer means it was created.
    Create,
    /// A delete: `NotFound` after a lost answer means it was deleted.
    Delete,
}

/// The result of a retried operation and how many attempts it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Retried<T> {
    /// `Ok(Some(v))`: done with an answer; `Ok(None)`: done, as a lost earlier attempt shows
    /// (see [`Idempotence`]); `Err`: the last error.
    pub result: Result<Option<T>, TransportError>,
    /// Attempts made.
    pub attempts: u32,
}

impl RetryPolicy {
    fn retryable(&self, e: &TransportError) -> bool {
        e.is_transient() || (self.retry_conflicts && matches!(e, TransportError::Api { code: 409, reason, .. } if reason == "Conflict"))
    }
}

/// Run `op` until it succeeds, fails permanently, or the policy gives up. `op` gets the attempt
/// number (1-based).
pub async fn with_retries<T, F, Fut>(policy: &RetryPolicy, idempotence: Idempotence, mut op: F) -> Retried<T>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, TransportError>>,
{
    let started = tokio::time::Instant::now();
    let mut backoff = Backoff::new(policy.backoff_base, policy.backoff_max);
    let mut attempt = 0;
    let mut lost_answer = false;
    loop {
        attempt += 1;
        let r = match tokio::time::timeout(policy.attempt_timeout, op(attempt)).await {
            Ok(r) => r,
            Err(_) => Err(TransportError::Connection(format!("no answer within {:?}", policy.attempt_timeout))),
        };
        let e = match r {
            Ok(v) => return Retried { result: Ok(Some(v)), attempts: attempt },
            Err(e) => e,
        };
        let done_unseen = lost_answer
            && match (&e, idempotence) {
                (TransportError::Api { code: 409, reason, .. }, Idempotence::Create) => reason == "AlreadyExists",
                (TransportError::Api { code: 404, .. }, Idempotence::Delete) => true,
                _ => false,
            };
        if done_unseen {
            return Retried { result: Ok(None), attempts: attempt };
        }
        lost_answer |= matches!(e, TransportError::Connection(_));
        let delay = backoff.next_delay();
        let out_of_time = started.elapsed() + delay > policy.deadline;
        if !policy.retryable(&e) || attempt >= policy.max_attempts.max(1) || out_of_time {
            return Retried { result: Err(e), attempts: attempt };
        }
        tokio::time::sleep(delay).await;
    }
}
