//! Refusals already known: once a send counter is full, it stays full until the retry time it
//! answered (a window's count only falls as time passes, or by a give-back of a send that did
//! not happen). Remembering that in memory lets this instance refuse the same client's next
//! requests without reading the store, so a client that keeps asking once a limit is spent
//! costs a hash lookup rather than store round trips. Each instance learns on its own; the
//! counters stay the authority, this only skips asking them when the answer is known.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

use crate::ports::counters::{Count, Full};

/// Keys remembered at most; beyond, the expired ones are dropped first.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Default)]
pub struct KnownRefusals {
    until: Mutex<HashMap<String, (DateTime<Utc>, Full)>>,
}

impl KnownRefusals {
    /// Remembers that `full` refuses until its retry time.
    pub fn remember(&self, full: &Full, now: DateTime<Utc>) {
        let mut map = self.until.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_KEYS {
            map.retain(|_, (until, _)| *until > now);
            if map.len() >= MAX_KEYS {
                return;
            }
        }
        let until = now + Duration::seconds(full.retry_after_secs);
        map.insert(full.key.clone(), (until, full.clone()));
    }

    /// The refusal one of `counts` is known to answer at `now`, with the time left.
    pub fn known(&self, counts: &[Count], now: DateTime<Utc>) -> Option<Full> {
        let map = self.until.lock().unwrap_or_else(|e| e.into_inner());
        counts.iter().find_map(|c| {
            let (until, full) = map.get(&c.key)?;
            (*until > now).then(|| Full {
                retry_after_secs: ((*until - now).num_milliseconds() + 999).max(1000) / 1000,
                ..full.clone()
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::counters::Counted;

    #[test]
    fn a_refusal_is_known_until_its_retry_time() {
        let k = KnownRefusals::default();
        let t = |s: i64| DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap();
        let ip = Count::new(Counted::IpHour, "ip-h:1.2.3.4", 3600, 20);
        let other = Count::new(Counted::IpHour, "ip-h:1.2.3.5", 3600, 20);
        assert!(k.known(std::slice::from_ref(&ip), t(0)).is_none());
        k.remember(
            &Full {
                what: Counted::IpHour,
                key: ip.key.clone(),
                retry_after_secs: 100,
            },
            t(0),
        );
        let known = k.known(&[other.clone(), ip.clone()], t(40)).unwrap();
        assert_eq!((known.what, known.retry_after_secs), (Counted::IpHour, 60));
        assert!(k.known(std::slice::from_ref(&other), t(40)).is_none());
        assert!(k.known(std::slice::from_ref(&ip), t(100)).is_none());
    }
}
