//! The send counters port (SPEC §15.6): send limits, daily budgets and pumping windows, counted
//! in O(1) per request and exactly across instances: in Redis (one atomic script) when it is
//! configured, else in the store (one transaction).
//!
//! A window of `W` seconds is counted in [`BUCKETS`] buckets of `W / BUCKETS` seconds. The count
//! of a window is the sum of every bucket that overlaps `(now − W, now]`, the oldest one whole,
//! so an event inside the window is never left out: a limit of N is never exceeded over any W
//! seconds, and a full window frees up at most one bucket (1/12 of it) later than an exact log
//! of events would. That is the trade for reading at most 13 small rows instead of every past
//! record.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::store::StoreResult;

/// Buckets per window.
pub const BUCKETS: i64 = 12;

/// What a counter stands for, so a refusal says which rule fired (a metric label and the
/// audit log's reason; the client only ever sees `RateLimit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counted {
    PhoneHour,
    PhoneDay,
    IpHour,
    GlobalHour,
    GlobalBudget,
    CountryBudget,
    /// Sent-but-unverified codes of one number prefix (SPEC §15.2): full means pumping.
    PumpingPrefix,
    /// Pumping windows: counted, never refused by the counter itself.
    Tally,
}

impl Counted {
    pub fn as_str(self) -> &'static str {
        match self {
            Counted::PhoneHour => "phone_hour",
            Counted::PhoneDay => "phone_day",
            Counted::IpHour => "ip_hour",
            Counted::GlobalHour => "global_hour",
            Counted::GlobalBudget => "global_budget",
            Counted::CountryBudget => "country_budget",
            Counted::PumpingPrefix => "pumping_prefix",
            Counted::Tally => "tally",
        }
    }

    /// Whether this is a spent budget rather than a rate limit (SPEC §15.1 vs §8).
    pub fn is_budget(self) -> bool {
        matches!(self, Counted::GlobalBudget | Counted::CountryBudget)
    }
}

/// One counter one request touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub key: String,
    pub window_secs: i64,
    /// At most this many events per window; `0` counts without a limit.
    pub limit: u32,
    pub what: Counted,
    /// Listed by [`SendCounters::active`] (the pumping windows `smsGuard:status` shows).
    pub listed: bool,
}

impl Count {
    pub fn new(what: Counted, key: impl Into<String>, window_secs: i64, limit: u32) -> Count {
        Count {
            key: key.into(),
            window_secs: window_secs.max(BUCKETS),
            limit,
            what,
            listed: false,
        }
    }

    /// The same counter, listed by [`SendCounters::active`].
    pub fn listed(mut self) -> Count {
        self.listed = true;
        self
    }

    /// Length of one bucket in seconds.
    pub fn bucket_secs(&self) -> i64 {
        (self.window_secs / BUCKETS).max(1)
    }

    /// The bucket `at` falls in (its start, unix seconds).
    pub fn bucket_at(&self, at: DateTime<Utc>) -> i64 {
        let t = at.timestamp();
        t - t.rem_euclid(self.bucket_secs())
    }

    /// Buckets that start after this are inside the window at `now`.
    pub fn oldest_counted(&self, now: DateTime<Utc>) -> i64 {
        now.timestamp() - self.window_secs - self.bucket_secs()
    }

    /// Given the window's buckets `(start, count)` before this request, `None` when one more
    /// event fits, else the seconds until it does.
    pub fn judge(&self, buckets: &[(i64, i64)], now: DateTime<Utc>) -> Option<i64> {
        if self.limit == 0 {
            return None;
        }
        let oldest = self.oldest_counted(now);
        let mut live: Vec<(i64, i64)> = buckets
            .iter()
            .copied()
            .filter(|(start, n)| *start > oldest && *n > 0)
            .collect();
        let mut total: i64 = live.iter().map(|(_, n)| n).sum();
        if total < i64::from(self.limit) {
            return None;
        }
        live.sort_unstable();
        // The window frees a slot when enough of its oldest buckets have left it: a bucket
        // starting at `s` is counted until `s + bucket + window`.
        let t = now.timestamp();
        for (start, n) in live {
            total -= n;
            if total < i64::from(self.limit) {
                return Some((start + self.bucket_secs() + self.window_secs - t).max(1));
            }
        }
        Some(1)
    }
}

/// A refusal: which counter is full and when it frees up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Full {
    pub what: Counted,
    pub key: String,
    pub retry_after_secs: i64,
}

#[async_trait]
pub trait SendCounters: Send + Sync {
    /// Counts one event under every counter when none of them is full; otherwise counts nothing
    /// and names the first full one. Atomic: with a limit of N, any number of concurrent calls
    /// over any number of instances succeed at most N times per window.
    async fn take(&self, counts: &[Count], now: DateTime<Utc>) -> StoreResult<Option<Full>>;
    /// Whether [`SendCounters::take`] would refuse, counting nothing: the cheap answer for a
    /// client that keeps asking once a limit is spent.
    async fn peek(&self, counts: &[Count], now: DateTime<Utc>) -> StoreResult<Option<Full>>;
    /// Gives back one event taken at `taken_at` (a send that did not happen after all).
    async fn give_back(&self, counts: &[Count], taken_at: DateTime<Utc>) -> StoreResult<()>;
    /// Counts one event under each of `add` (counters without a limit: nothing is judged) and
    /// gives one back under each of `release`, both at `now`: a verified code counts as
    /// verified and frees its unverified slot. Backends that can do it in one atomic step do;
    /// the default is a `take` and a `give_back`.
    async fn shift(&self, add: &[Count], release: &[Count], now: DateTime<Utc>) -> StoreResult<()> {
        self.take(add, now).await?;
        self.give_back(release, now).await
    }
    /// The current window total of each counter.
    async fn totals(&self, counts: &[Count], now: DateTime<Utc>) -> StoreResult<Vec<i64>>;
    /// [`SendCounters::blocked`] and [`SendCounters::totals`] together, in one read where the
    /// backend can: what pumping detection looks up before a send is counted.
    async fn blocked_and_totals(
        &self,
        keys: &[String],
        counts: &[Count],
        now: DateTime<Utc>,
    ) -> StoreResult<(Vec<(String, DateTime<Utc>)>, Vec<i64>)> {
        Ok((
            self.blocked(keys, now).await?,
            self.totals(counts, now).await?,
        ))
    }
    /// Forgets every bucket of `key` (an administrator lifted a block).
    async fn reset(&self, keys: &[String]) -> StoreResult<()>;
    /// The listed counters whose key starts with `key_prefix` and that counted something in the
    /// last `window_secs`, with their totals, at most `max` of them (the largest first).
    async fn active(
        &self,
        key_prefix: &str,
        window_secs: i64,
        now: DateTime<Utc>,
        max: usize,
    ) -> StoreResult<Vec<(String, i64)>>;

    /// Blocks `key` (`prefix:+86138`, `country:CN`) until `until`; a later block extends it.
    async fn block(&self, key: &str, until: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<()>;
    /// The keys of `keys` blocked at `now`, with the end of their block.
    async fn blocked(
        &self,
        keys: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, DateTime<Utc>)>>;
    /// Every block in force at `now`.
    async fn blocks(&self, now: DateTime<Utc>) -> StoreResult<Vec<(String, DateTime<Utc>)>>;
    /// Lifts a block; `false` when there was none.
    async fn unblock(&self, key: &str) -> StoreResult<bool>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(t, 0).unwrap()
    }

    #[test]
    fn a_full_window_frees_when_its_oldest_bucket_leaves() {
        let c = Count::new(Counted::PhoneHour, "k", 3600, 3);
        assert_eq!(c.bucket_secs(), 300);
        // A bucket start: 1_800_000_000 is a multiple of 300.
        let t0 = 1_800_000_000;
        // Two events in the first bucket, one in a later one.
        let buckets = [(t0, 2), (t0 + 900, 1)];
        let now = at(t0 + 1000);
        // Frees when the first bucket leaves: t0 + 300 + 3600.
        assert_eq!(c.judge(&buckets, now), Some(t0 + 3900 - (t0 + 1000)));
        assert_eq!(c.judge(&[(t0, 2)], now), None);
        // A bucket older than the window is not counted.
        assert_eq!(c.judge(&buckets, at(t0 + 3901)), None);
        // No limit, no refusal.
        let unlimited = Count::new(Counted::Tally, "k", 3600, 0);
        assert_eq!(unlimited.judge(&[(t0, 1000)], now), None);
    }

    #[test]
    fn no_event_inside_the_window_is_left_out() {
        // An event at any second of the last W seconds lies in a counted bucket.
        let c = Count::new(Counted::PhoneDay, "k", 86_400, 1);
        let now = at(1_800_000_123);
        for age in 0..86_400 {
            let when = at(now.timestamp() - age);
            assert!(c.bucket_at(when) > c.oldest_counted(now), "{age}");
        }
    }
}
