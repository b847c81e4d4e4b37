//! SMS-pumping detection (SPEC §15.2).
//!
//! A pumping run sends codes to numbers of ranges the attacker was sold a share of, and never
//! verifies one. Per number prefix (the E.164 form without its last four digits) the server
//! counts codes sent and codes verified; per country too. The prefix rule is exact: the
//! sent-but-unverified count is a limit taken with the send's other limits (a verification gives
//! one back), so concurrent sends cannot slip past it, and at most `prefixUnverifiedMax` codes
//! go unverified to one prefix per window. The country rule judges conversion once enough codes
//! were sent. Crossing either blocks the prefix or country for `blockMinutes` (`enforce`), or
//! only reports what would have been blocked (`monitor`).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;

use super::{Core, ServiceError};
use crate::domain::phone::Phone;
use crate::domain::sms_policy::{PumpingMode, SmsPolicy};
use crate::domain::user::User;
use crate::ports::counters::{Count, Counted};

/// Rows `smsGuard:status` shows at most, per kind.
const STATUS_ROWS: usize = 50;

/// One prefix in the current window.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrefixStatus {
    pub prefix: String,
    pub country: Option<String>,
    pub sent: i64,
    pub verified: i64,
    /// Delivery receipts in the window (SPEC §15.3): a pumped range is often undeliverable.
    pub delivered: i64,
    pub undelivered: i64,
    pub blocked_until: Option<DateTime<Utc>>,
}

/// One country in the current window.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CountryStatus {
    pub country: String,
    pub sent: i64,
    pub verified: i64,
    pub delivered: i64,
    pub undelivered: i64,
    pub conversion: f64,
    pub blocked_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GuardStatus {
    pub prefixes: Vec<PrefixStatus>,
    pub countries: Vec<CountryStatus>,
}

/// One prefix's or country's window.
struct WindowRow {
    name: String,
    sent: i64,
    verified: i64,
    delivered: i64,
    undelivered: i64,
}

/// What `smsGuard:unblock` lifts.
#[derive(Debug, Clone)]
pub enum Unblock {
    Prefix(String),
    Country(String),
}

fn prefix_block(prefix: &str) -> String {
    format!("prefix:{prefix}")
}

fn country_block(country: &str) -> String {
    format!("country:{country}")
}

/// The pumping counters of one phone.
struct Windows {
    sent_prefix: Count,
    verified_prefix: Count,
    unverified_prefix: Count,
    sent_country: Option<Count>,
    verified_country: Option<Count>,
}

fn windows(policy: &SmsPolicy, phone: &Phone, enforce: bool) -> Windows {
    let p = &policy.pumping;
    let prefix_secs = i64::from(p.prefix_window_minutes) * 60;
    let country_secs = i64::from(p.country_window_minutes) * 60;
    let prefix = phone.prefix();
    let limit = if enforce { p.prefix_unverified_max } else { 0 };
    Windows {
        sent_prefix: Count::new(
            Counted::Tally,
            format!("pump-sent:p:{prefix}"),
            prefix_secs,
            0,
        )
        .listed(),
        verified_prefix: Count::new(
            Counted::Tally,
            format!("pump-ver:p:{prefix}"),
            prefix_secs,
            0,
        ),
        unverified_prefix: Count::new(
            Counted::PumpingPrefix,
            format!("pump-unv:p:{prefix}"),
            prefix_secs,
            limit,
        ),
        sent_country: phone.region().map(|c| {
            Count::new(Counted::Tally, format!("pump-sent:c:{c}"), country_secs, 0).listed()
        }),
        verified_country: phone
            .region()
            .map(|c| Count::new(Counted::Tally, format!("pump-ver:c:{c}"), country_secs, 0)),
    }
}

/// What pumping detection reads before a send is counted.
pub(super) struct Screened {
    /// Seconds until a block of the phone's prefix or country ends (`enforce`).
    pub(super) blocked_for: Option<i64>,
    /// The window totals [`Core::pumping_after_send`] judges (empty when detection is off).
    totals: Vec<i64>,
}

/// The counters `pumping_after_send` judges: sent and verified per prefix, then per country.
fn judged(w: &Windows) -> Vec<Count> {
    let mut counts = vec![w.sent_prefix.clone(), w.verified_prefix.clone()];
    if let (Some(s), Some(v)) = (&w.sent_country, &w.verified_country) {
        counts.push(s.clone());
        counts.push(v.clone());
    }
    counts
}

impl Core {
    /// Whether pumping detection refuses a send to `phone` before anything is counted (its
    /// prefix or country is blocked, in `enforce`; `monitor` only reports it), read together
    /// with the totals the send is judged by afterwards: one read of the store.
    pub(super) async fn pumping_block(
        &self,
        policy: &SmsPolicy,
        phone: &Phone,
        now: DateTime<Utc>,
    ) -> Result<Screened, ServiceError> {
        if policy.pumping.mode == PumpingMode::Off {
            return Ok(Screened {
                blocked_for: None,
                totals: Vec::new(),
            });
        }
        let mut keys = vec![prefix_block(phone.prefix())];
        if let Some(c) = phone.region() {
            keys.push(country_block(c));
        }
        let counts = judged(&windows(policy, phone, false));
        let (blocked, totals) = self
            .send_counters
            .blocked_and_totals(&keys, &counts, now)
            .await?;
        let Some(until) = blocked.iter().map(|(_, u)| *u).max() else {
            return Ok(Screened {
                blocked_for: None,
                totals,
            });
        };
        if policy.pumping.mode == PumpingMode::Monitor {
            tracing::warn!(phone = %phone, "pumping detection (monitor): this send would be blocked");
            return Ok(Screened {
                blocked_for: None,
                totals,
            });
        }
        Ok(Screened {
            blocked_for: Some(((until - now).num_seconds()).max(1)),
            totals,
        })
    }

    /// The counters a paid send adds to its limits: sent and unverified per prefix (the
    /// unverified one refuses in `enforce`), sent per country.
    pub(super) fn pumping_counts(&self, policy: &SmsPolicy, phone: &Phone) -> Vec<Count> {
        if policy.pumping.mode == PumpingMode::Off {
            return Vec::new();
        }
        let w = windows(policy, phone, policy.pumping.mode == PumpingMode::Enforce);
        let mut counts = vec![w.sent_prefix, w.unverified_prefix];
        counts.extend(w.sent_country);
        counts
    }

    /// A send was refused because its prefix is full of unverified codes: the prefix is blocked
    /// from now on, for the policy's block time, on every instance.
    pub(super) async fn pumping_prefix_full(
        &self,
        policy: &SmsPolicy,
        phone: &Phone,
        now: DateTime<Utc>,
    ) -> Result<i64, ServiceError> {
        let block = i64::from(policy.pumping.block_minutes) * 60;
        self.send_counters
            .block(
                &prefix_block(phone.prefix()),
                now + Duration::seconds(block),
                now,
            )
            .await?;
        tracing::warn!(prefix = %phone.prefix(), "pumping detection: prefix blocked");
        Ok(block)
    }

    /// After a paid send: judges the country's conversion and reports a prefix over its
    /// threshold in `monitor` mode, from the totals read before the send was counted (this
    /// send added one to each "sent" total since; concurrent sends are judged by their own
    /// reads, so a run over the threshold is caught by the sends that follow it).
    pub(super) async fn pumping_after_send(
        &self,
        policy: &SmsPolicy,
        phone: &Phone,
        screened: Screened,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let p = &policy.pumping;
        if p.mode == PumpingMode::Off {
            return Ok(());
        }
        // This send added one to each "sent" total (the even places) since the read.
        let mut totals = screened.totals;
        for sent in totals.iter_mut().step_by(2) {
            *sent += 1;
        }
        if p.mode == PumpingMode::Monitor
            && totals[0] - totals[1] > i64::from(p.prefix_unverified_max)
        {
            self.telemetry
                .sms_blocked(crate::ports::telemetry::BlockReason::Pumping);
            tracing::warn!(prefix = %phone.prefix(), "pumping detection (monitor): the prefix would be blocked");
        }
        if let (Some(country), [_, _, sent, verified]) = (phone.region(), totals.as_slice()) {
            let conversion = *verified as f64 / (*sent).max(1) as f64;
            if *sent >= i64::from(p.country_min_sends) && conversion < p.country_min_conversion {
                match p.mode {
                    PumpingMode::Enforce => {
                        let until = now + Duration::minutes(i64::from(p.block_minutes));
                        self.send_counters
                            .block(&country_block(country), until, now)
                            .await?;
                        tracing::warn!(
                            country,
                            sent,
                            verified,
                            "pumping detection: country blocked"
                        );
                    }
                    _ => {
                        tracing::warn!(
                            country,
                            sent,
                            verified,
                            "pumping detection (monitor): the country would be blocked"
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// A code to `phone` was verified: it counts as verified and gives back its unverified slot.
    pub(super) async fn pumping_verified(&self, phone: &Phone) -> Result<(), ServiceError> {
        let policy = self.sms_policy().await?;
        if policy.pumping.mode == PumpingMode::Off
            || self.test_number_for(phone.as_str()).await?.is_some()
        {
            return Ok(());
        }
        let now = self.clock.now();
        let w = windows(&policy, phone, false);
        let mut counts = vec![w.verified_prefix];
        counts.extend(w.verified_country);
        self.send_counters
            .shift(&counts, &[w.unverified_prefix], now)
            .await?;
        Ok(())
    }

    /// The windows of one kind (`p` prefixes, `c` countries) that counted sends, with their
    /// verified and delivery counts, the most sends first.
    async fn window_rows(
        &self,
        kind: &str,
        window_secs: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<WindowRow>, ServiceError> {
        let sent_prefix = format!("pump-sent:{kind}:");
        let sent = self
            .send_counters
            .active(&sent_prefix, window_secs, now, STATUS_ROWS)
            .await?;
        let names: Vec<String> = sent
            .iter()
            .map(|(k, _)| k.trim_start_matches(&sent_prefix).to_string())
            .collect();
        let counts: Vec<Count> = names
            .iter()
            .flat_map(|name| {
                ["pump-ver", "pump-del", "pump-undel"].map(|what| {
                    Count::new(
                        Counted::Tally,
                        format!("{what}:{kind}:{name}"),
                        window_secs,
                        0,
                    )
                })
            })
            .collect();
        let totals = self.send_counters.totals(&counts, now).await?;
        Ok(names
            .into_iter()
            .zip(sent)
            .zip(totals.chunks(3))
            .map(|((name, (_, sent)), t)| WindowRow {
                name,
                sent,
                verified: t.first().copied().unwrap_or(0),
                delivered: t.get(1).copied().unwrap_or(0),
                undelivered: t.get(2).copied().unwrap_or(0),
            })
            .collect())
    }

    /// A delivery receipt for a code sent to `phone`: counted in its prefix's and country's
    /// windows for `smsGuard:status`.
    pub(super) async fn pumping_receipt(
        &self,
        phone: &Phone,
        delivered: bool,
    ) -> Result<(), ServiceError> {
        let policy = self.sms_policy().await?;
        let p = &policy.pumping;
        if p.mode == PumpingMode::Off {
            return Ok(());
        }
        let what = if delivered { "pump-del" } else { "pump-undel" };
        let mut counts = vec![Count::new(
            Counted::Tally,
            format!("{what}:p:{}", phone.prefix()),
            i64::from(p.prefix_window_minutes) * 60,
            0,
        )];
        if let Some(c) = phone.region() {
            counts.push(Count::new(
                Counted::Tally,
                format!("{what}:c:{c}"),
                i64::from(p.country_window_minutes) * 60,
                0,
            ));
        }
        self.send_counters.take(&counts, self.clock.now()).await?;
        Ok(())
    }

    /// `smsGuard:status`: the current windows, the worst first.
    pub async fn guard_status(&self) -> Result<GuardStatus, ServiceError> {
        let policy = self.sms_policy().await?;
        let now = self.clock.now();
        let p = &policy.pumping;
        let blocks = self.send_counters.blocks(now).await?;
        let until = |key: &str| blocks.iter().find(|(k, _)| k == key).map(|(_, u)| *u);
        let prefix_secs = i64::from(p.prefix_window_minutes) * 60;
        let country_secs = i64::from(p.country_window_minutes) * 60;
        let rows = self.window_rows("p", prefix_secs, now).await?;
        let mut prefixes: Vec<PrefixStatus> = rows
            .into_iter()
            .map(|r| PrefixStatus {
                blocked_until: until(&prefix_block(&r.name)),
                country: Phone::test_number(&format!("{}0000", r.name))
                    .region()
                    .map(str::to_string),
                prefix: r.name,
                sent: r.sent,
                verified: r.verified,
                delivered: r.delivered,
                undelivered: r.undelivered,
            })
            .collect();
        prefixes.sort_by_key(|s| std::cmp::Reverse(s.sent - s.verified));
        let rows = self.window_rows("c", country_secs, now).await?;
        let mut countries: Vec<CountryStatus> = rows
            .into_iter()
            .map(|r| CountryStatus {
                blocked_until: until(&country_block(&r.name)),
                conversion: r.verified as f64 / r.sent.max(1) as f64,
                country: r.name,
                sent: r.sent,
                verified: r.verified,
                delivered: r.delivered,
                undelivered: r.undelivered,
            })
            .collect();
        countries.sort_by(|a, b| {
            a.conversion
                .total_cmp(&b.conversion)
                .then(b.sent.cmp(&a.sent))
        });
        // Blocks whose window has emptied are shown too: they are still in force.
        for (key, until) in &blocks {
            if let Some(prefix) = key.strip_prefix("prefix:")
                && !prefixes.iter().any(|s| s.prefix == prefix)
            {
                prefixes.push(PrefixStatus {
                    prefix: prefix.to_string(),
                    country: None,
                    sent: 0,
                    verified: 0,
                    delivered: 0,
                    undelivered: 0,
                    blocked_until: Some(*until),
                });
            }
            if let Some(country) = key.strip_prefix("country:")
                && !countries.iter().any(|s| s.country == country)
            {
                countries.push(CountryStatus {
                    country: country.to_string(),
                    sent: 0,
                    verified: 0,
                    delivered: 0,
                    undelivered: 0,
                    conversion: 0.0,
                    blocked_until: Some(*until),
                });
            }
        }
        Ok(GuardStatus {
            prefixes,
            countries,
        })
    }

    /// `smsGuard:unblock`: lifts a block and forgets the window that caused it, so the next
    /// send is not blocked again at once. Audited by the HTTP layer like every admin write.
    pub async fn guard_unblock(&self, actor: &User, what: Unblock) -> Result<(), ServiceError> {
        if !actor.is_admin() {
            return Err(ServiceError::Forbidden);
        }
        let (block, windows): (String, Vec<String>) = match &what {
            Unblock::Prefix(p) => (
                prefix_block(p),
                vec![
                    format!("pump-unv:p:{p}"),
                    format!("pump-sent:p:{p}"),
                    format!("pump-ver:p:{p}"),
                ],
            ),
            Unblock::Country(c) => (
                country_block(&c.to_ascii_uppercase()),
                vec![
                    format!("pump-sent:c:{}", c.to_ascii_uppercase()),
                    format!("pump-ver:c:{}", c.to_ascii_uppercase()),
                ],
            ),
        };
        let lifted = self.send_counters.unblock(&block).await?;
        self.send_counters.reset(&windows).await?;
        self.event("sms.unblocked")
            .user(actor.id)
            .detail(json!({ "block": block, "wasBlocked": lifted }))
            .record()
            .await;
        Ok(())
    }
}
