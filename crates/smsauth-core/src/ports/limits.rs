//! Counters for limits that are not derived from stored OTP records (per-IP verification
//! attempts). An in-process implementation serves one instance; a shared one serves many.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A fixed-window counter: `hit` records one event under `key` and says whether it is within
/// `limit` events per `window_secs`. A `limit` of 0 means unlimited. `Err` means the counter's
/// store is unreachable; callers answer 503 rather than guess.
#[async_trait]
pub trait RateCounter: Send + Sync {
    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window_secs: i64,
        now: DateTime<Utc>,
    ) -> Result<Hit, anyhow::Error>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    Allowed,
    Refused { retry_after_secs: i64 },
}

/// Counters in this process's memory. Keys are pruned when their window has passed so the map
/// cannot grow without bound under a botnet's many addresses.
#[derive(Debug, Default)]
pub struct InMemoryRateCounter {
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

#[async_trait]
impl RateCounter for InMemoryRateCounter {
    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window_secs: i64,
        now: DateTime<Utc>,
    ) -> Result<Hit, anyhow::Error> {
        if limit == 0 {
            return Ok(Hit::Allowed);
        }
        let window_secs = window_secs.max(1);
        let t = now.timestamp();
        let start = t - t.rem_euclid(window_secs);
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (s, _)| *s == start);
        }
        let entry = map.entry(key.to_string()).or_insert((start, 0));
        if entry.0 != start {
            *entry = (start, 0);
        }
        if entry.1 >= limit {
            return Ok(Hit::Refused {
                retry_after_secs: (start + window_secs - t).max(1),
            });
        }
        entry.1 += 1;
        Ok(Hit::Allowed)
    }
}
