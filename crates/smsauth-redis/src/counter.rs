//! Rate counters in Redis, so that every instance draws from one budget. A fixed window per
//! key, checked and incremented by one Lua script (atomic on the server).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use smsauth_core::ports::limits::{Hit, RateCounter, Window};

/// KEYS[1] = window key; ARGV[1] = limit, ARGV[2] = window seconds. Returns the count after
/// this hit, or -1 when the window is already full (then nothing is counted).
const SCRIPT: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return -1 end
n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return n
";

pub struct RedisRateCounter {
    pub(crate) conn: ConnectionManager,
    pub(crate) prefix: String,
    script: redis::Script,
    pub(crate) send_script: redis::Script,
}

impl RedisRateCounter {
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<RedisRateCounter> {
        let client = redis::Client::open(url)?;
        // Fail fast when Redis is away: a check that cannot reach it answers 503 within about
        // a second instead of holding the request through long reconnection back-offs.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_with_config(client, config).await?;
        Ok(RedisRateCounter {
            conn,
            prefix: prefix.to_string(),
            script: redis::Script::new(SCRIPT),
            send_script: redis::Script::new(crate::send_counters::SCRIPT),
        })
    }
}

impl RedisRateCounter {
    /// Whether Redis answers, for readiness.
    pub async fn ping(&self) -> bool {
        let mut conn = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .is_ok()
    }
}

#[async_trait]
impl RateCounter for RedisRateCounter {
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
        let redis_key = format!("{}:rate:{key}:{}", self.prefix, window.start);
        let mut conn = self.conn.clone();
        let n: i64 = self
            .script
            .key(redis_key)
            .arg(limit)
            .arg(window.secs)
            .invoke_async(&mut conn)
            .await?;
        Ok(if n < 0 {
            window.refused()
        } else {
            Hit::Allowed
        })
    }
}
