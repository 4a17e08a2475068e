//! Requests per minute, per API key or, for callers without a key, per client address: a token
//! bucket each, refilled continuously, kept in memory (each server process counts its own).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::Limits;
use crate::service::audit::{Caller, Identity};
use crate::service::unpoisoned::LockUnpoisoned;

/// Refused keys an address may present per minute. Checking a key costs a database read and
/// its refusal an audit entry: past this, the address is answered 429 before either.
pub const REFUSED_KEYS_PER_MINUTE: u32 = 30;

/// Buckets idle this long are forgotten, so the table does not grow without end.
const FORGET_AFTER: Duration = Duration::from_secs(600);

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// What a bucket counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Budget {
    /// A caller's requests.
    Requests(Identity),
    /// The keys an address presented and had refused.
    RefusedKeys(IpAddr),
}

#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<Budget, Bucket>>,
}

impl RateLimiter {
    /// Takes a token for the caller, or says how long until one is free.
    pub fn admit(&self, caller: &Caller, limits: &Limits) -> Result<(), Duration> {
        let per_minute = match caller.principal.key_id {
            Some(_) => limits.rate_per_key,
            None => limits.rate_per_address,
        };
        self.take(
            Budget::Requests(caller.identity()),
            per_minute,
            Instant::now(),
        )
    }

    /// Whether `address` may still present a key; if its refused keys used up the minute's
    /// budget, how long until it may again.
    pub fn may_present_key(&self, address: IpAddr) -> Result<(), Duration> {
        self.check(
            Budget::RefusedKeys(address),
            REFUSED_KEYS_PER_MINUTE,
            Instant::now(),
            false,
        )
    }

    /// Counts a refused key against `address`.
    pub fn key_refused(&self, address: IpAddr) {
        let _ = self.take(
            Budget::RefusedKeys(address),
            REFUSED_KEYS_PER_MINUTE,
            Instant::now(),
        );
    }

    fn take(&self, budget: Budget, per_minute: u32, now: Instant) -> Result<(), Duration> {
        self.check(budget, per_minute, now, true)
    }

    fn check(
        &self,
        budget: Budget,
        per_minute: u32,
        now: Instant,
        consume: bool,
    ) -> Result<(), Duration> {
        let capacity = f64::from(per_minute.max(1));
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock_unpoisoned();
        if buckets.len() > 10_000 {
            buckets.retain(|_, bucket| now.duration_since(bucket.updated) < FORGET_AFTER);
        }
        let bucket = buckets.entry(budget).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            if consume {
                bucket.tokens -= 1.0;
            }
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: i32) -> Budget {
        Budget::Requests(Identity::Key(id))
    }

    #[test]
    fn a_full_bucket_empties_then_refills_with_time() {
        let limiter = RateLimiter::default();
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take(key(1), 3, start).is_ok());
        }
        let wait = limiter.take(key(1), 3, start).unwrap_err();
        assert!(
            wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(
            limiter.take(key(2), 3, start).is_ok(),
            "buckets are per caller"
        );
        assert!(limiter
            .take(key(1), 3, start + Duration::from_secs(20))
            .is_ok());
    }
}
