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

/// The fixed window `now` falls in, for every counter implementation alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Unix seconds at which the window started (a multiple of its length).
    pub start: i64,
    pub secs: i64,
    now: i64,
}

impl Window {
    pub fn at(now: DateTime<Utc>, window_secs: i64) -> Window {
        let secs = window_secs.max(1);
        let t = now.timestamp();
        Window {
            start: t - t.rem_euclid(secs),
            secs,
            now: t,
        }
    }

    /// The answer for a full window: retry when it ends.
    pub fn refused(&self) -> Hit {
        Hit::Refused {
            retry_after_secs: (self.start + self.secs - self.now).max(1),
        }
    }
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
        let window = Window::at(now, window_secs);
        let start = window.start;
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (s, _)| *s == start);
        }
        let entry = map.entry(key.to_string()).or_insert((start, 0));
        if entry.0 != start {
            *entry = (start, 0);
        }
        if entry.1 >= limit {
            return Ok(window.refused());
        }
        entry.1 += 1;
        Ok(Hit::Allowed)
    }
}
