//! Read-through caches in front of the store ports, for what is read on nearly every request
//! and written rarely: the authentication configuration (authenticators, verifiers, token
//! policy), users by id and the state of presented tokens (SPEC §5.3).
//!
//! The guarantees of SPEC §4–§6 stay exact on one instance: every write made through a cached
//! port invalidates what it can change before the write's caller gets its answer, and a read
//! that raced with an invalidation never stores its (possibly older) answer ([`TtlMap`]'s
//! epoch). What other processes write (other instances, `smsauth users …` on the same SQLite
//! file) is seen when an entry expires: entries live at most [`CacheSettings::ttl`], 500 ms by
//! default, so a sign-out, a role change, a deletion or an authenticator change reaches every
//! instance within one second. A ttl of zero switches caching off.

mod config;
mod sessions;
mod users;

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::ports::store::{ConfigStore, SessionStore, UserStore};

pub use config::CachedConfig;
pub use sessions::CachedSessions;
pub use users::CachedUsers;

/// How long entries live and how many of each kind are kept.
#[derive(Debug, Clone, Copy)]
pub struct CacheSettings {
    pub ttl: Duration,
    /// Entries per map; a full map is emptied and refilled (simple, and bounded).
    pub capacity: usize,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            ttl: Duration::from_millis(500),
            capacity: 20_000,
        }
    }
}

/// The three cached ports, sharing one set of maps so that a write through one port can
/// invalidate what another caches (a password change ends sessions; ending a user's sessions
/// changes the user's revocation time).
pub struct Cached {
    pub users: Arc<dyn UserStore>,
    pub config: Arc<dyn ConfigStore>,
    pub sessions: Arc<dyn SessionStore>,
}

/// Wraps the store ports in their caches, or returns them as they are when the ttl is zero.
pub fn wrap(
    users: Arc<dyn UserStore>,
    config: Arc<dyn ConfigStore>,
    sessions: Arc<dyn SessionStore>,
    settings: CacheSettings,
) -> Cached {
    if settings.ttl.is_zero() {
        return Cached {
            users,
            config,
            sessions,
        };
    }
    let maps = Arc::new(Maps {
        users: TtlMap::new(settings),
        tokens: TtlMap::new(settings),
        config: TtlMap::new(settings),
    });
    Cached {
        users: Arc::new(CachedUsers::new(users, maps.clone())),
        config: Arc::new(CachedConfig::new(config, maps.clone())),
        sessions: Arc::new(CachedSessions::new(sessions, maps)),
    }
}

/// Every cached kind, shared by the three wrappers.
pub(crate) struct Maps {
    pub users: TtlMap<i64, crate::domain::user::User>,
    pub tokens: TtlMap<uuid::Uuid, crate::ports::store::TokenState>,
    pub config: TtlMap<config::Key, config::Value>,
}

/// A map whose entries expire, with an epoch that makes invalidation race-free: a reader notes
/// the epoch before it asks the store and stores the answer only if no invalidation happened
/// meanwhile, so an answer read before a write can never outlive the write's invalidation.
pub(crate) struct TtlMap<K, V> {
    settings: CacheSettings,
    inner: Mutex<Inner<K, V>>,
}

struct Inner<K, V> {
    epoch: u64,
    entries: HashMap<K, (Instant, V)>,
}

impl<K: Eq + Hash, V: Clone> TtlMap<K, V> {
    fn new(settings: CacheSettings) -> Self {
        TtlMap {
            settings,
            inner: Mutex::new(Inner {
                epoch: 0,
                entries: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        // The maps hold plain data and no code panics while holding the lock; a poisoned lock
        // still holds a consistent map.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fresh entry for `key`, or the ticket to pass to [`TtlMap::insert`] after reading it.
    pub fn get(&self, key: &K) -> Result<V, Ticket> {
        let inner = self.lock();
        match inner.entries.get(key) {
            Some((at, v)) if at.elapsed() < self.settings.ttl => Ok(v.clone()),
            _ => Err(Ticket {
                epoch: inner.epoch,
                asked_at: Instant::now(),
            }),
        }
    }

    /// Stores `value` unless an invalidation happened since the ticket was taken. The entry's
    /// age counts from before the store was asked, so nothing is trusted longer than the ttl
    /// after the moment it could have been read.
    pub fn insert(&self, ticket: Ticket, key: K, value: V) {
        let mut inner = self.lock();
        if inner.epoch != ticket.epoch {
            return;
        }
        if inner.entries.len() >= self.settings.capacity {
            inner.entries.clear();
        }
        inner.entries.insert(key, (ticket.asked_at, value));
    }

    pub fn remove(&self, key: &K) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.entries.remove(key);
    }

    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.entries.clear();
    }
}

/// What a miss hands to the reader: the epoch it saw and when it was about to ask the store.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    epoch: u64,
    asked_at: Instant,
}

/// Runs its closure when dropped: a wrapper creates one before it hands a write to the store,
/// so the invalidation happens whether the write succeeds, fails, or its request is abandoned
/// (a client that disconnects drops the handler's future, possibly after the write committed).
pub(crate) struct ClearOnDrop<F: FnMut()>(pub F);

impl<F: FnMut()> Drop for ClearOnDrop<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

/// Reads `key` through `map`: the cached value, or `load`'s answer, stored when `keep` says so.
pub(crate) async fn read_through<K, V, E, F>(map: &TtlMap<K, V>, key: K, load: F) -> Result<V, E>
where
    K: Eq + Hash,
    V: Clone,
    F: std::future::Future<Output = Result<V, E>>,
{
    let ticket = match map.get(&key) {
        Ok(hit) => return Ok(hit),
        Err(ticket) => ticket,
    };
    let value = load.await?;
    map.insert(ticket, key, value.clone());
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_read_before_an_invalidation_is_not_stored() {
        let map: TtlMap<u8, u8> = TtlMap::new(CacheSettings::default());
        let Err(ticket) = map.get(&1) else {
            panic!("an empty map has no entry")
        };
        map.remove(&1);
        map.insert(ticket, 1, 7);
        assert!(map.get(&1).is_err(), "the stale answer was kept");
        let Err(ticket) = map.get(&1) else {
            panic!("still empty")
        };
        map.insert(ticket, 1, 8);
        assert_eq!(map.get(&1).ok(), Some(8));
    }

    #[test]
    fn entries_expire_and_the_map_stays_bounded() {
        let map: TtlMap<u8, u8> = TtlMap::new(CacheSettings {
            ttl: Duration::from_millis(20),
            capacity: 2,
        });
        for k in 0..3 {
            let Err(ticket) = map.get(&k) else {
                panic!("empty")
            };
            map.insert(ticket, k, k);
        }
        assert!(map.lock().entries.len() <= 2);
        assert_eq!(map.get(&2).ok(), Some(2));
        std::thread::sleep(Duration::from_millis(30));
        assert!(map.get(&2).is_err(), "an expired entry was answered");
    }
}
