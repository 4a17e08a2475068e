//! Answers to repeated read-only queries, kept until anything changes.
//!
//! Dashboards send the same few queries again and again. An answer is kept with the audit log's
//! head as this process last saw it and with the count of writes made through this process;
//! it is served again only while both are unchanged, so a write through any process (seen by the
//! live feed) or a mutation here retires every answer kept before it. Answers that depend on
//! the clock ("now", open buckets) are kept at most `ttl`. Only single query operations that
//! answered without errors are kept, separately for each caller's key and response format.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use sha2::{Digest, Sha256};

use crate::service::unpoisoned::LockUnpoisoned;

/// Largest answer kept, and the most kept in all: past it, everything is dropped and refilled.
const MAX_ANSWER_BYTES: usize = 256 * 1024;
const MAX_TOTAL_BYTES: usize = 32 * 1024 * 1024;

pub type Key = [u8; 32];

/// The state of the data an answer was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    /// The last audit entry the live feed had seen.
    pub head: i64,
    /// Mutations executed by this process.
    pub local_writes: u64,
}

#[derive(Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Bytes,
    /// For metrics: the operation the answer is for.
    pub operation: String,
}

struct Kept {
    answer: Answer,
    version: Version,
    stored: Instant,
}

#[derive(Default)]
struct Entries {
    by_key: HashMap<Key, Kept>,
    bytes: usize,
}

pub struct ResponseCache {
    ttl: Duration,
    local_writes: AtomicU64,
    entries: Mutex<Entries>,
}

impl ResponseCache {
    /// A cache that keeps answers for `ttl`; zero turns it off.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            local_writes: AtomicU64::new(0),
            entries: Mutex::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// Identifies a request by everything its answer depends on besides the data.
    pub fn key(parts: &[&[u8]]) -> Key {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        hasher.finalize().into()
    }

    pub fn version(&self, head: i64) -> Version {
        Version {
            head,
            local_writes: self.local_writes.load(Ordering::Acquire),
        }
    }

    /// A mutation ran here: answers computed before it may be stale.
    pub fn written(&self) {
        self.local_writes.fetch_add(1, Ordering::AcqRel);
    }

    pub fn get(&self, key: &Key, now: Version) -> Option<Answer> {
        let entries = self.entries.lock_unpoisoned();
        let kept = entries.by_key.get(key)?;
        (kept.version == now && kept.stored.elapsed() < self.ttl).then(|| kept.answer.clone())
    }

    /// Keeps an answer computed from the data as of `version` (read before it was computed).
    pub fn put(&self, key: Key, version: Version, answer: Answer) {
        let size = answer.body.len();
        if !self.enabled() || size > MAX_ANSWER_BYTES {
            return;
        }
        let mut entries = self.entries.lock_unpoisoned();
        if entries.bytes + size > MAX_TOTAL_BYTES {
            entries.by_key.clear();
            entries.bytes = 0;
        }
        let kept = Kept {
            answer,
            version,
            stored: Instant::now(),
        };
        if let Some(replaced) = entries.by_key.insert(key, kept) {
            entries.bytes -= replaced.answer.body.len();
        }
        entries.bytes += size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(text: &str) -> Answer {
        Answer {
            status: StatusCode::OK,
            content_type: "application/json",
            body: Bytes::from(text.to_owned()),
            operation: "test".to_owned(),
        }
    }

    #[test]
    fn an_answer_is_served_until_the_data_or_the_clock_moves_on() {
        let cache = ResponseCache::new(Duration::from_millis(200));
        let key = ResponseCache::key(&[b"caller", b"{ platforms { code } }"]);
        let before = cache.version(7);
        cache.put(key, before, answer("first"));
        assert_eq!(cache.get(&key, cache.version(7)).unwrap().body, "first");

        // Another process committed a change: the feed's head moved.
        assert!(cache.get(&key, cache.version(8)).is_none());
        // A mutation ran here.
        cache.written();
        assert!(cache.get(&key, cache.version(7)).is_none());

        let now = cache.version(7);
        cache.put(key, now, answer("second"));
        assert_eq!(cache.get(&key, now).unwrap().body, "second");
        std::thread::sleep(Duration::from_millis(250));
        assert!(cache.get(&key, now).is_none(), "kept longer than its time");
    }

    #[test]
    fn different_callers_and_requests_do_not_share_answers() {
        let cache = ResponseCache::new(Duration::from_secs(60));
        let viewer = ResponseCache::key(&[b"viewer", b"{ a }"]);
        let auditor = ResponseCache::key(&[b"auditor", b"{ a }"]);
        // The boundary between parts counts: ("ab", "c") is not ("a", "bc").
        assert_ne!(
            ResponseCache::key(&[b"ab", b"c"]),
            ResponseCache::key(&[b"a", b"bc"])
        );
        cache.put(auditor, cache.version(1), answer("history"));
        assert!(cache.get(&viewer, cache.version(1)).is_none());
    }

    #[test]
    fn a_cache_with_no_time_keeps_nothing() {
        let cache = ResponseCache::new(Duration::ZERO);
        let key = ResponseCache::key(&[b"x"]);
        cache.put(key, cache.version(1), answer("x"));
        assert!(cache.get(&key, cache.version(1)).is_none());
    }
}
