//! The one retry policy every provider uses: a bounded number of retries on transient errors
//! (429, 5xx, timeouts, broken connections), exponential backoff with jitter, and the server's
//! `Retry-After` honoured when it asks for a reasonable wait. Anything else, a refused connection
//! above all, is returned at once.

use pipewright_core::llm::LlmError;
use std::future::Future;
use std::time::Duration;

/// How often and how patiently a failed request is sent again.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (`LLM_MAX_RETRIES`); 0 sends once.
    pub max_retries: u32,
    /// The wait before the first retry; doubled for each further one.
    pub base_delay: Duration,
    /// The longest computed wait.
    pub max_delay: Duration,
    /// The longest `Retry-After` obeyed; a server asking for more gets its error returned, since
    /// waiting that long is worse than falling back.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Runs `attempt` until it succeeds, fails for good, or the retries are used up; returns the
    /// last result.
    pub async fn run<T, F, Fut>(&self, mut attempt: F) -> Result<T, LlmError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, LlmError>>,
    {
        let mut retries = 0;
        loop {
            let error = match attempt().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if !error.is_transient() || retries >= self.max_retries {
                return Err(error);
            }
            let wait = match error.retry_after() {
                Some(asked) if asked > self.max_retry_after => return Err(error),
                Some(asked) => asked,
                None => self.backoff(retries),
            };
            tokio::time::sleep(wait).await;
            retries += 1;
        }
    }

    /// The wait before retry number `retry` (0-based): `base × 2^retry`, capped, then scaled by a
    /// random factor in [0.5, 1.0] so that clients do not retry in lockstep.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exponential = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max_delay);
        exponential.mul_f64(0.5 + fastrand::f64() / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipewright_core::llm::ProviderKind;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn quick() -> RetryPolicy {
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_retry_after: Duration::from_millis(50),
        }
    }

    fn server_error() -> LlmError {
        LlmError::Server {
            provider: ProviderKind::Ollama,
            endpoint: "http://x".into(),
            status: 503,
            detail: String::new(),
        }
    }

    #[tokio::test]
    async fn transient_errors_are_retried_up_to_the_limit() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = quick()
            .run(|| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err(server_error()) }
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn lasting_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = quick()
            .run(|| {
                calls.fetch_add(1, Ordering::SeqCst);
                async {
                    Err(LlmError::Unreachable {
                        provider: ProviderKind::Ollama,
                        endpoint: "http://x".into(),
                        reason: "connection refused".into(),
                    })
                }
            })
            .await;
        assert!(matches!(result, Err(LlmError::Unreachable { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_retry_after_beyond_the_cap_is_returned_at_once() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = quick()
            .run(|| {
                calls.fetch_add(1, Ordering::SeqCst);
                async {
                    Err(LlmError::RateLimited {
                        provider: ProviderKind::OpenAi,
                        endpoint: "http://x".into(),
                        retry_after: Some(Duration::from_secs(3600)),
                        detail: String::new(),
                    })
                }
            })
            .await;
        assert!(matches!(result, Err(LlmError::RateLimited { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let policy = RetryPolicy::default();
        for retry in 0..6 {
            let wait = policy.backoff(retry);
            let full = (policy.base_delay * 2u32.pow(retry)).min(policy.max_delay);
            assert!(
                wait >= full / 2 && wait <= full,
                "{retry}: {wait:?} vs {full:?}"
            );
        }
        assert!(policy.backoff(40) <= policy.max_delay);
    }
}
