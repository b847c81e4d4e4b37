//! Redis, for several smsauth instances that must share fast-changing state: the per-address
//! attempt counters and the send counters of SPEC §15.6 ([`RedisRateCounter`]), and the caches and change
//! notifications that need one place every instance sees. Each key carries the deployment's
//! prefix so that several deployments can share one Redis.

mod counter;
mod send_counters;

pub use counter::RedisRateCounter;
