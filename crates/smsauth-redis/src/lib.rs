//! Redis, for several smsauth instances that must share fast-changing state: today the
//! per-address attempt counters ([`RedisRateCounter`]), and the caches and change
//! notifications that need one place every instance sees. Each key carries the deployment's
//! prefix so that several deployments can share one Redis.

mod counter;

pub use counter::RedisRateCounter;
