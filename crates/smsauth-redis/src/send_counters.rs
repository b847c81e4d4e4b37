//! `SendCounters` in Redis (SPEC §15.6): each counter is a hash of bucket start → count, and one
//! Lua script judges every counter of a request and increments them all or none, atomically on
//! the server, so instances never overshoot a limit between them. One round trip per send.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use smsauth_core::ports::counters::{Count, Full, SendCounters};
use smsauth_core::ports::store::{StoreError, StoreResult};

use crate::RedisRateCounter;

/// KEYS: the counters' hashes, then the index of listed counters. ARGV[1] = now (unix
/// seconds), ARGV[2] = 1 to increment, 0 to only judge, ARGV[3] = the number of counters; then
/// per counter five values: bucket seconds, window seconds, limit, current bucket, 1 when
/// listed. Answers `{0}` when every counter has room (and, with ARGV[2] = 1, counted), else
/// `{i, bucket, count, …}`: the first full counter's index and its live buckets. Buckets older
/// than the window are deleted on the way.
pub(crate) const SCRIPT: &str = r"
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[3])
for i = 1, n do
  local base = 3 + (i - 1) * 5
  local bsecs = tonumber(ARGV[base + 1])
  local wsecs = tonumber(ARGV[base + 2])
  local limit = tonumber(ARGV[base + 3])
  if limit > 0 then
    local oldest = now - wsecs - bsecs
    local fields = redis.call('HGETALL', KEYS[i])
    local total = 0
    local live = {}
    for j = 1, #fields, 2 do
      local b = tonumber(fields[j])
      local c = tonumber(fields[j + 1])
      if b > oldest then
        total = total + c
        live[#live + 1] = b
        live[#live + 1] = c
      else
        redis.call('HDEL', KEYS[i], fields[j])
      end
    end
    if total >= limit then
      local out = {i}
      for _, v in ipairs(live) do out[#out + 1] = v end
      return out
    end
  end
end
if ARGV[2] == '1' then
  for i = 1, n do
    local base = 3 + (i - 1) * 5
    redis.call('HINCRBY', KEYS[i], ARGV[base + 4], 1)
    redis.call('EXPIRE', KEYS[i], tonumber(ARGV[base + 2]) + 2 * tonumber(ARGV[base + 1]))
    if ARGV[base + 5] == '1' then
      redis.call('ZADD', KEYS[n + 1], now, KEYS[i])
    end
  end
end
return {0}
";

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(anyhow::anyhow!("redis: {e}"))
}

impl RedisRateCounter {
    fn counter_key(&self, key: &str) -> String {
        format!("{}:cnt:{key}", self.prefix)
    }

    /// Listed counters by their last update (a sorted set), for [`SendCounters::active`].
    fn index_key(&self) -> String {
        format!("{}:cnt-index", self.prefix)
    }

    /// Blocks by their end in milliseconds (a sorted set).
    fn blocks_key(&self) -> String {
        format!("{}:blocks", self.prefix)
    }

    async fn judge(
        &self,
        counts: &[Count],
        now: DateTime<Utc>,
        take: bool,
    ) -> StoreResult<Option<Full>> {
        if counts.is_empty() {
            return Ok(None);
        }
        let mut invocation = self.send_script.prepare_invoke();
        invocation
            .arg(now.timestamp())
            .arg(if take { 1 } else { 0 })
            .arg(counts.len());
        for c in counts {
            invocation
                .key(self.counter_key(&c.key))
                .arg(c.bucket_secs())
                .arg(c.window_secs)
                .arg(c.limit)
                .arg(c.bucket_at(now))
                .arg(if c.listed { 1 } else { 0 });
        }
        invocation.key(self.index_key());
        let mut conn = self.conn.clone();
        let answer: Vec<i64> = invocation
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let Some((&index, buckets)) = answer.split_first() else {
            return Err(StoreError::Unavailable(anyhow::anyhow!(
                "redis: empty script answer"
            )));
        };
        if index == 0 {
            return Ok(None);
        }
        let Some(c) = usize::try_from(index - 1).ok().and_then(|i| counts.get(i)) else {
            return Err(StoreError::Unavailable(anyhow::anyhow!(
                "redis: bad script answer"
            )));
        };
        let pairs: Vec<(i64, i64)> = buckets.chunks_exact(2).map(|p| (p[0], p[1])).collect();
        Ok(Some(Full {
            what: c.what,
            key: c.key.clone(),
            retry_after_secs: c.judge(&pairs, now).unwrap_or(1),
        }))
    }
}

#[async_trait]
impl SendCounters for RedisRateCounter {
    async fn take(&self, counts: &[Count], now: DateTime<Utc>) -> StoreResult<Option<Full>> {
        self.judge(counts, now, true).await
    }

    async fn peek(&self, counts: &[Count], now: DateTime<Utc>) -> StoreResult<Option<Full>> {
        if counts.iter().all(|c| c.limit == 0) {
            return Ok(None);
        }
        self.judge(counts, now, false).await
    }

    async fn give_back(&self, counts: &[Count], taken_at: DateTime<Utc>) -> StoreResult<()> {
        let mut pipe = redis::pipe();
        for c in counts {
            pipe.hincr(self.counter_key(&c.key), c.bucket_at(taken_at), -1)
                .ignore();
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(unavailable)
    }

    async fn totals(&self, counts: &[Count], now: DateTime<Utc>) -> StoreResult<Vec<i64>> {
        let mut pipe = redis::pipe();
        for c in counts {
            pipe.hgetall(self.counter_key(&c.key));
        }
        let mut conn = self.conn.clone();
        let maps: Vec<std::collections::HashMap<i64, i64>> =
            pipe.query_async(&mut conn).await.map_err(unavailable)?;
        Ok(window_totals(counts, maps, now))
    }

    /// One round trip: the blocks' scores and the counters' hashes in one pipeline.
    async fn blocked_and_totals(
        &self,
        keys: &[String],
        counts: &[Count],
        now: DateTime<Utc>,
    ) -> StoreResult<(Vec<(String, DateTime<Utc>)>, Vec<i64>)> {
        if keys.is_empty() {
            return Ok((Vec::new(), self.totals(counts, now).await?));
        }
        let mut pipe = redis::pipe();
        pipe.cmd("ZMSCORE").arg(self.blocks_key()).arg(keys);
        for c in counts {
            pipe.hgetall(self.counter_key(&c.key));
        }
        let mut conn = self.conn.clone();
        let (scores, maps): (Vec<Option<i64>>, Vec<std::collections::HashMap<i64, i64>>) = {
            let values: Vec<redis::Value> =
                pipe.query_async(&mut conn).await.map_err(unavailable)?;
            let mut values = values.into_iter();
            let unreadable =
                |e: redis::ParsingError| StoreError::Unavailable(anyhow::anyhow!("redis: {e}"));
            let scores = redis::from_redis_value(values.next().unwrap_or(redis::Value::Nil))
                .map_err(unreadable)?;
            let maps = values
                .map(redis::from_redis_value)
                .collect::<Result<_, _>>()
                .map_err(unreadable)?;
            (scores, maps)
        };
        Ok((
            blocks_in_force(keys, scores, now),
            window_totals(counts, maps, now),
        ))
    }

    async fn reset(&self, keys: &[String]) -> StoreResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let full: Vec<String> = keys.iter().map(|k| self.counter_key(k)).collect();
        let mut conn = self.conn.clone();
        redis::cmd("DEL")
            .arg(full)
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn active(
        &self,
        key_prefix: &str,
        window_secs: i64,
        now: DateTime<Utc>,
        max: usize,
    ) -> StoreResult<Vec<(String, i64)>> {
        let probe = Count::new(
            smsauth_core::ports::counters::Counted::Tally,
            "",
            window_secs,
            0,
        );
        let mut conn = self.conn.clone();
        // Forget what no window can still hold (two days), then read what the window holds.
        redis::cmd("ZREMRANGEBYSCORE")
            .arg(self.index_key())
            .arg("-inf")
            .arg(now.timestamp() - 2 * 86_400)
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)?;
        let full_prefix = self.counter_key(key_prefix);
        let keys: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.index_key())
            .arg(probe.oldest_counted(now))
            .arg("+inf")
            .query_async::<Vec<String>>(&mut conn)
            .await
            .map_err(unavailable)?
            .into_iter()
            .filter(|k| k.starts_with(&full_prefix))
            .collect();
        let strip = self.counter_key("").len();
        let counts: Vec<Count> = keys
            .iter()
            .map(|k| Count::new(probe.what, &k[strip..], window_secs, 0))
            .collect();
        let totals = self.totals(&counts, now).await?;
        let mut out: Vec<(String, i64)> = counts
            .into_iter()
            .zip(totals)
            .filter(|(_, t)| *t > 0)
            .map(|(c, t)| (c.key, t))
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out.truncate(max);
        Ok(out)
    }

    async fn block(&self, key: &str, until: DateTime<Utc>, _now: DateTime<Utc>) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        // GT: a block already running longer is kept.
        redis::cmd("ZADD")
            .arg(self.blocks_key())
            .arg("GT")
            .arg(until.timestamp_millis())
            .arg(key)
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn blocked(
        &self,
        keys: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, DateTime<Utc>)>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let scores: Vec<Option<i64>> = redis::cmd("ZMSCORE")
            .arg(self.blocks_key())
            .arg(keys)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(blocks_in_force(keys, scores, now))
    }

    async fn blocks(&self, now: DateTime<Utc>) -> StoreResult<Vec<(String, DateTime<Utc>)>> {
        let mut conn = self.conn.clone();
        redis::cmd("ZREMRANGEBYSCORE")
            .arg(self.blocks_key())
            .arg("-inf")
            .arg(now.timestamp_millis())
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)?;
        let pairs: Vec<(String, i64)> = redis::cmd("ZRANGE")
            .arg(self.blocks_key())
            .arg(0)
            .arg(-1)
            .arg("REV")
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(pairs
            .into_iter()
            .filter_map(|(k, ms)| Some((k, DateTime::from_timestamp_millis(ms)?)))
            .filter(|(_, until)| *until > now)
            .collect())
    }

    async fn unblock(&self, key: &str) -> StoreResult<bool> {
        let mut conn = self.conn.clone();
        let removed: i64 = redis::cmd("ZREM")
            .arg(self.blocks_key())
            .arg(key)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(removed > 0)
    }
}

/// The keys whose block score (its end, in ms) is after `now`, with that end.
fn blocks_in_force(
    keys: &[String],
    scores: Vec<Option<i64>>,
    now: DateTime<Utc>,
) -> Vec<(String, DateTime<Utc>)> {
    keys.iter()
        .zip(scores)
        .filter_map(|(k, s)| {
            let until = DateTime::from_timestamp_millis(s?)?;
            (until > now).then(|| (k.clone(), until))
        })
        .collect()
}

/// Each counter's total over its window, from its hash of bucket → count.
fn window_totals(
    counts: &[Count],
    maps: Vec<std::collections::HashMap<i64, i64>>,
    now: DateTime<Utc>,
) -> Vec<i64> {
    counts
        .iter()
        .zip(maps)
        .map(|(c, m)| {
            let oldest = c.oldest_counted(now);
            m.into_iter()
                .filter(|(b, _)| *b > oldest)
                .map(|(_, n)| n)
                .sum()
        })
        .collect()
}
