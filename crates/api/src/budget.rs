//! A query budget per token: a token bucket that refills at `per_minute` requests a minute and
//! holds at most `burst`. A request beyond the budget is answered 429 with `Retry-After`.
//!
//! The buckets live in memory, one per token that asked recently. Memory is bounded: a bucket
//! that has refilled completely is the same as no bucket, so it is dropped when the table is
//! full; if every bucket is still in use, the fullest one goes (its holder loses at most what
//! it had left). Only authenticated tokens get a bucket, so strangers cannot fill the table.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept at most.
pub const MAX_BUCKETS: usize = 10_000;

/// One token's bucket. Pure: the caller passes the time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn full(burst: u32, now: Instant) -> Bucket {
        Bucket {
            tokens: f64::from(burst),
            updated: now,
        }
    }

    fn refill(&mut self, per_minute: u32, burst: u32, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * f64::from(per_minute) / 60.0).min(f64::from(burst));
        self.updated = now;
    }

    /// Takes one request from the bucket, or says how long until one is available.
    pub fn take(&mut self, per_minute: u32, burst: u32, now: Instant) -> Result<(), Duration> {
        self.refill(per_minute, burst, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - self.tokens;
            Err(Duration::from_secs_f64(
                missing * 60.0 / f64::from(per_minute.max(1)),
            ))
        }
    }

    fn is_full(&self, per_minute: u32, burst: u32, now: Instant) -> bool {
        let mut copy = *self;
        copy.refill(per_minute, burst, now);
        copy.tokens >= f64::from(burst)
    }
}

/// The budgets of every token.
#[derive(Debug)]
pub struct Budget {
    per_minute: u32,
    burst: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Budget {
    /// Budgets of `per_minute` requests a minute with bursts of `burst` (both at least 1).
    pub fn new(per_minute: u32, burst: u32) -> Budget {
        Budget {
            per_minute: per_minute.max(1),
            burst: burst.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Charges one request to `who` (a token digest) at `now`; `Err` holds the wait before the
    /// next request would be accepted.
    pub fn charge(&self, who: &str, now: Instant) -> Result<(), Duration> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if !buckets.contains_key(who) && buckets.len() >= MAX_BUCKETS {
            let (per_minute, burst) = (self.per_minute, self.burst);
            buckets.retain(|_, b| !b.is_full(per_minute, burst, now));
            if buckets.len() >= MAX_BUCKETS
                && let Some(fullest) = buckets
                    .iter_mut()
                    .map(|(k, b)| {
                        b.refill(per_minute, burst, now);
                        (k.clone(), b.tokens)
                    })
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|(k, _)| k)
            {
                buckets.remove(&fullest);
            }
        }
        buckets
            .entry(who.to_owned())
            .or_insert_with(|| Bucket::full(self.burst, now))
            .take(self.per_minute, self.burst, now)
    }

    /// Buckets held now (for tests and the metrics gauge).
    pub fn tracked(&self) -> usize {
        self.buckets.lock().map_or(0, |b| b.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_steady_rate() {
        let start = Instant::now();
        let mut bucket = Bucket::full(3, start);
        for _ in 0..3 {
            assert_eq!(bucket.take(60, 3, start), Ok(()));
        }
        // 60 a minute: one a second. The fourth waits a second.
        let wait = bucket.take(60, 3, start).unwrap_err();
        assert!((wait.as_secs_f64() - 1.0).abs() < 1e-6, "{wait:?}");
        let later = start + Duration::from_millis(500);
        let wait = bucket.take(60, 3, later).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        assert_eq!(bucket.take(60, 3, start + Duration::from_secs(1)), Ok(()));
        // A long pause refills to the burst, not beyond.
        let much_later = start + Duration::from_secs(3_600);
        for _ in 0..3 {
            assert_eq!(bucket.take(60, 3, much_later), Ok(()));
        }
        assert!(bucket.take(60, 3, much_later).is_err());
    }

    #[test]
    fn tokens_have_separate_budgets() {
        let budget = Budget::new(1, 2);
        let now = Instant::now();
        assert!(budget.charge("a", now).is_ok());
        assert!(budget.charge("a", now).is_ok());
        let wait = budget.charge("a", now).unwrap_err();
        assert!(wait.as_secs() >= 59, "{wait:?}");
        assert!(budget.charge("b", now).is_ok());
    }

    #[test]
    fn memory_stays_bounded() {
        let budget = Budget::new(60, 5);
        let now = Instant::now();
        for i in 0..(MAX_BUCKETS + 500) {
            let _ = budget.charge(&format!("token-{i}"), now);
        }
        assert_eq!(budget.tracked(), MAX_BUCKETS);
        // Once the buckets have refilled they are dropped as new tokens arrive.
        let later = now + Duration::from_secs(60);
        assert!(budget.charge("new", later).is_ok());
        assert_eq!(budget.tracked(), 1);
    }
}
