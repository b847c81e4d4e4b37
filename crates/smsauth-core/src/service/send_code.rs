//! Issuing a code (SPEC §4.1): resolve action, verifier and receiver; record the code before the
//! provider is called; send; record the outcome.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{Core, ServiceError};
use serde_json::json;

use crate::domain::authenticator::AuthType;
use crate::domain::otp::{OtpAction, OtpCode};
use crate::domain::phone::Phone;
use crate::domain::sms_policy::SmsPolicy;
use crate::domain::test_number::TestNumber;
use crate::domain::user::User;
use crate::domain::verifier::{VERIFICATION_TYPE_SMS_OTP, Verifier};
use crate::ports::counters::{Count, Counted};
use crate::ports::otp_store::{IssueOutcome, NewOtp, SendOutcome};
use crate::ports::sms::{SendError, SmsMessage, SmsSender};
use crate::ports::telemetry::{BlockReason, SmsOutcome};

/// A send request as the API receives it, before any of it is trusted.
#[derive(Debug, Clone, Default)]
pub struct SendRequest {
    pub action: Option<String>,
    pub verifier: Option<String>,
    pub uuid: Option<String>,
    pub client_ip: String,
    pub locale: String,
}

/// The answer: the record id and when the code expires (the client counts down from it).
#[derive(Debug, Clone)]
pub struct Issued {
    pub id: Uuid,
    pub expires_at: DateTime<Utc>,
}

impl Core {
    /// Sends a code. `caller` is the signed-in user (`smsOTP:create`), `None` for
    /// `smsOTP:publicCreate`. Errors come in the order of SPEC §3.2.
    pub async fn send_code(
        &self,
        req: SendRequest,
        caller: Option<&User>,
    ) -> Result<Issued, ServiceError> {
        let action = req
            .action
            .as_deref()
            .and_then(OtpAction::parse)
            .ok_or(ServiceError::InvalidAction)?;
        let verifier = self.sms_verifier_named(req.verifier.as_deref()).await?;
        let sender = self.sender_for(&verifier)?;
        let receiver = self
            .receiver_for(action, &verifier, req.uuid.as_deref(), caller)
            .await?;
        self.send_through(
            action,
            &verifier,
            sender,
            receiver,
            &req.client_ip,
            &req.locale,
        )
        .await
    }

    /// Legacy `verifications:create {type, phone}`: the same flow through the default verifier.
    pub async fn send_code_legacy(
        &self,
        action: Option<String>,
        phone: Option<String>,
        client_ip: String,
        locale: String,
    ) -> Result<Issued, ServiceError> {
        let action = action
            .as_deref()
            .and_then(OtpAction::parse)
            .filter(|a| *a == OtpAction::SignIn)
            .ok_or(ServiceError::InvalidAction)?;
        let verifier = self
            .config
            .default_sms_verifier()
            .await?
            .ok_or(ServiceError::InvalidVerifier)?;
        let sender = self.sender_for(&verifier)?;
        let receiver = self.receiver(phone.as_deref()).await?;
        self.send_through(action, &verifier, sender, receiver, &client_ip, &locale)
            .await
    }

    /// A verifier by name that exists and is of type `sms-otp`.
    pub async fn sms_verifier_named(&self, name: Option<&str>) -> Result<Verifier, ServiceError> {
        let name = name
            .filter(|n| !n.is_empty())
            .ok_or(ServiceError::InvalidVerifier)?;
        self.config
            .verifier(name)
            .await?
            .filter(|v| v.verification_type == VERIFICATION_TYPE_SMS_OTP)
            .ok_or(ServiceError::InvalidVerifier)
    }

    /// Builds the verifier's provider; `{{$env.NAME}}` in settings is expanded here, so secrets
    /// may live in the environment rather than the database.
    pub(super) fn sender_for(
        &self,
        verifier: &Verifier,
    ) -> Result<Arc<dyn SmsSender>, ServiceError> {
        let provider = verifier.provider().ok_or(ServiceError::InvalidProvider)?;
        let settings = expand_env(verifier.settings());
        self.providers
            .build(provider, &settings)
            .ok_or(ServiceError::InvalidProvider)
    }

    pub fn parse_phone(&self, raw: Option<&str>) -> Result<Phone, ServiceError> {
        Phone::parse(raw.unwrap_or(""), self.settings.default_region)
            .map_err(|_| ServiceError::InvalidReceiver)
    }

    /// Sign-in and bind send to the number in the body; unbind sends to the number already
    /// bound, so a stolen session cannot move the binding to an attacker's phone.
    async fn receiver_for(
        &self,
        action: OtpAction,
        verifier: &Verifier,
        uuid: Option<&str>,
        caller: Option<&User>,
    ) -> Result<Receiver, ServiceError> {
        match action {
            OtpAction::SignIn => self.receiver(uuid).await,
            OtpAction::BindVerifier => {
                caller.ok_or(ServiceError::EmptyToken)?;
                self.receiver(uuid).await
            }
            OtpAction::UnbindVerifier => {
                let user = caller.ok_or(ServiceError::EmptyToken)?;
                let bound = self.users.bound_verifiers(user.id).await?;
                let entry = bound
                    .into_iter()
                    .find(|b| b.verifier == verifier.name)
                    .ok_or(ServiceError::NotBound)?;
                self.receiver(Some(&entry.uuid)).await
            }
        }
    }

    /// The caller's input as a receiver: a test number as written, else a valid number.
    async fn receiver(&self, raw: Option<&str>) -> Result<Receiver, ServiceError> {
        if let Some((phone, test)) = self.test_number_for(raw.unwrap_or("")).await? {
            return Ok(Receiver {
                phone,
                test: Some(test),
            });
        }
        Ok(Receiver {
            phone: self.parse_phone(raw)?,
            test: None,
        })
    }

    async fn send_through(
        &self,
        action: OtpAction,
        verifier: &Verifier,
        sender: Arc<dyn SmsSender>,
        receiver: Receiver,
        client_ip: &str,
        locale: &str,
    ) -> Result<Issued, ServiceError> {
        let Receiver { phone, test } = receiver;
        let phone = &phone;
        let country = phone.region().unwrap_or("unknown");
        let provider = verifier.provider().unwrap_or("unknown");
        let now = self.clock.now();
        // `folding` names what repeats of this refusal have in common: the phone for a refused
        // destination, the counter for a spent limit (one address asking for many phones is
        // one refusal repeated, not many).
        let blocked = |reason: BlockReason, folding: String| async move {
            self.telemetry.sms_blocked(reason);
            self.telemetry.sms(provider, country, SmsOutcome::Blocked);
            let key = format!("sms.blocked|{}|{folding}", reason.as_str());
            let Some(repeats) = self.audit.admit(&key, now) else {
                return;
            };
            self.event("sms.blocked")
                .phone(phone)
                .ip(client_ip)
                .verifier(&verifier.name)
                .detail(json!({
                    "reason": reason.as_str(),
                    "action": action.as_str(),
                    "repeats": repeats,
                }))
                .record()
                .await;
        };
        // Test numbers skip the policy, the limits and the budgets (SPEC §15.4).
        let (code, counts, suppressed, policy, screened) = match &test {
            Some(entry) => (
                entry.otp_code().ok_or(ServiceError::InvalidReceiver)?,
                Vec::new(),
                false,
                None,
                None,
            ),
            None => {
                // A limit this instance saw full answers before anything else is looked up.
                if let Some(full) = self
                    .refusals
                    .known(&self.limit_counts(phone, client_ip), now)
                {
                    blocked(BlockReason::Limit, full.key.clone()).await;
                    return Err(ServiceError::SendLimited {
                        retry_after_secs: full.retry_after_secs,
                        limit: full.what,
                    });
                }
                let policy = self.sms_policy().await?;
                if !policy.country_allowed(phone.region()) {
                    blocked(BlockReason::Country, phone.as_str().to_string()).await;
                    return Err(ServiceError::DestinationNotAllowed);
                }
                if !policy.number_type_allowed(phone.number_type()) {
                    blocked(BlockReason::NumberType, phone.as_str().to_string()).await;
                    return Err(ServiceError::DestinationNotAllowed);
                }
                let suppressed = action == OtpAction::SignIn
                    && !policy.send_without_account
                    && !self.may_sign_in(verifier, phone).await?;
                let screened = if suppressed {
                    None
                } else {
                    Some(self.pumping_block(&policy, phone, now).await?)
                };
                if let Some(retry_after_secs) = screened.as_ref().and_then(|s| s.blocked_for) {
                    blocked(BlockReason::Pumping, phone.prefix().to_string()).await;
                    return Err(ServiceError::SendLimited {
                        retry_after_secs,
                        limit: Counted::PumpingPrefix,
                    });
                }
                let mut counts = self.send_counts(&policy, phone, client_ip, !suppressed);
                if !suppressed {
                    counts.extend(self.pumping_counts(&policy, phone));
                }
                (
                    OtpCode::generate(self.settings.code_digits)?,
                    counts,
                    suppressed,
                    Some(policy),
                    screened,
                )
            }
        };
        if let Some(expires_at) = self
            .timed(
                "otp_live_code",
                self.otps.live_code(action, phone.as_str(), now),
            )
            .await?
        {
            return Err(live_code(expires_at, now));
        }
        let full = self
            .timed("counters_take", self.send_counters.take(&counts, now))
            .await?;
        if let Some(full) = full {
            // Only the limits of the settings, which cannot change while the process runs: a
            // budget or a pumping threshold an admin raises must be in force at once.
            if matches!(
                full.what,
                Counted::PhoneHour | Counted::PhoneDay | Counted::IpHour | Counted::GlobalHour
            ) {
                self.refusals.remember(&full, now);
            }
            let (reason, retry_after_secs) = match (full.what, &policy) {
                (Counted::PumpingPrefix, Some(policy)) => (
                    BlockReason::Pumping,
                    self.pumping_prefix_full(policy, phone, now).await?,
                ),
                (what, _) if what.is_budget() => (BlockReason::Budget, full.retry_after_secs),
                _ => (BlockReason::Limit, full.retry_after_secs),
            };
            let folding = match full.what {
                Counted::PumpingPrefix => phone.prefix().to_string(),
                _ => full.key.clone(),
            };
            blocked(reason, folding).await;
            return Err(ServiceError::SendLimited {
                retry_after_secs,
                limit: full.what,
            });
        }
        let expires_at = now + Duration::seconds(self.settings.code_ttl_secs);
        let id = Uuid::new_v4();
        let new = NewOtp {
            id,
            action,
            receiver: phone.as_str().to_string(),
            verifier: verifier.name.clone(),
            code_hash: self.hasher.hash(action, phone.as_str(), &code),
            expires_at,
            client_ip: client_ip.to_string(),
        };
        let issued = match self.timed("otp_issue", self.otps.issue(new, now)).await {
            Ok(issued) => issued,
            Err(e) => {
                // Nothing was recorded, so nothing was sent: what was counted goes back (best
                // effort; the store's failure is the answer).
                if let Err(back) = self.send_counters.give_back(&counts, now).await {
                    tracing::warn!(error = %back, "send counters not given back");
                }
                return Err(e.into());
            }
        };
        match issued {
            IssueOutcome::Created => {}
            IssueOutcome::LiveCodeExists { expires_at } => {
                // A concurrent send for the same phone won the race after our read; what this
                // one counted is given back.
                self.send_counters.give_back(&counts, now).await?;
                return Err(live_code(expires_at, now));
            }
        }
        if test.is_some() || suppressed {
            let why = if suppressed { "suppressed" } else { "test" };
            self.otps
                .mark_delivery(id, SendOutcome::NotSent(why), self.clock.now())
                .await?;
            let kind = if suppressed {
                "sms.blocked"
            } else {
                "sms.sent"
            };
            let detail = if suppressed {
                json!({ "reason": "noAccount", "action": action.as_str() })
            } else {
                json!({ "testNumber": true, "action": action.as_str() })
            };
            self.event(kind)
                .phone(phone)
                .ip(client_ip)
                .verifier(&verifier.name)
                .detail(detail)
                .record()
                .await;
            if suppressed {
                // The answer takes as long as a real send would have (SPEC §15.1).
                tokio::time::sleep(self.provider_latency.typical(&verifier.name)).await;
            }
            return Ok(Issued { id, expires_at });
        }
        let message = SmsMessage {
            to: phone.clone(),
            code,
            action,
            verifier: verifier.name.clone(),
            locale: locale.to_string(),
            ttl_secs: self.settings.code_ttl_secs,
            now,
        };
        let started = std::time::Instant::now();
        let result = self.deliver(verifier, sender, &message).await;
        let (outcome, kind) = match &result {
            Ok(_) => {
                self.provider_latency
                    .observe(&verifier.name, started.elapsed());
                (SmsOutcome::Sent, "sms.sent")
            }
            Err(_) => (SmsOutcome::Failed, "sms.failed"),
        };
        self.telemetry.sms(provider, country, outcome);
        if let (Some(policy), Some(screened)) = (&policy, screened) {
            self.pumping_after_send(policy, phone, screened, now)
                .await?;
        }
        let delivery = match &result {
            Ok((via, accepted)) => SendOutcome::Sent {
                via: via.clone(),
                message_id: accepted.message_id.clone(),
            },
            Err(_) => SendOutcome::Failed,
        };
        let via = match &result {
            Ok((via, _)) => Some(via.clone()),
            Err(_) => None,
        };
        self.timed(
            "otp_mark_delivery",
            self.otps.mark_delivery(id, delivery, self.clock.now()),
        )
        .await?;
        self.event(kind)
            .phone(phone)
            .ip(client_ip)
            .verifier(&verifier.name)
            .detail(json!({ "action": action.as_str(), "via": via }))
            .record()
            .await;
        match result {
            Ok(_) => Ok(Issued { id, expires_at }),
            Err(e) => {
                tracing::warn!(phone = %phone, verifier = %verifier.name, error = %e, "sms send failed");
                Err(match e {
                    SendError::InvalidReceiver => ServiceError::InvalidReceiver,
                    SendError::RateLimited => ServiceError::ProviderRateLimited,
                    SendError::Transient(_) | SendError::Failed(_) => ServiceError::SendFailed,
                })
            }
        }
    }

    /// The limits of SPEC §8 one send to `phone` from `ip` takes (those switched off left out).
    fn limit_counts(&self, phone: &Phone, ip: &str) -> Vec<Count> {
        let l = self.settings.send_limits;
        let (hour, day) = (3600, 86_400);
        let p = phone.as_str();
        let mut counts = vec![
            Count::new(
                Counted::PhoneHour,
                format!("phone-h:{p}"),
                hour,
                l.per_phone_hour,
            ),
            Count::new(
                Counted::PhoneDay,
                format!("phone-d:{p}"),
                day,
                l.per_phone_day,
            ),
            Count::new(Counted::IpHour, format!("ip-h:{ip}"), hour, l.per_ip_hour),
            Count::new(Counted::GlobalHour, "global-h", hour, l.global_hour),
        ];
        counts.retain(|c| c.limit > 0);
        counts
    }

    /// The counters one send takes (SPEC §8, §15.1): the per-phone, per-address and global
    /// limits always (so a phone without an account runs into the same limits as one with);
    /// the budgets only when an SMS is really paid for.
    fn send_counts(&self, policy: &SmsPolicy, phone: &Phone, ip: &str, paid: bool) -> Vec<Count> {
        let day = 86_400;
        let mut counts = self.limit_counts(phone, ip);
        if paid {
            if policy.budgets.global_per_day > 0 {
                counts.push(Count::new(
                    Counted::GlobalBudget,
                    "budget-d",
                    day,
                    policy.budgets.global_per_day,
                ));
            }
            if let Some(region) = phone.region() {
                let budget = policy.country_budget(region);
                if budget > 0 {
                    counts.push(Count::new(
                        Counted::CountryBudget,
                        format!("budget-d:{region}"),
                        day,
                        budget,
                    ));
                }
            }
        }
        counts.retain(|c| c.limit > 0);
        counts
    }

    /// Whether a sign-in with `phone` through `verifier` can succeed: the phone has an account,
    /// or an enabled SMS authenticator on this verifier signs new phones up (SPEC §15.1).
    async fn may_sign_in(&self, verifier: &Verifier, phone: &Phone) -> Result<bool, ServiceError> {
        // The configuration first (cached): with an authenticator that signs new phones up,
        // the answer needs no read of the users.
        let default = self.config.default_sms_verifier().await?.map(|v| v.name);
        let mut linking = Vec::new();
        for auth in self.config.authenticators().await? {
            if !auth.enabled || auth.auth_type != AuthType::Sms {
                continue;
            }
            let uses = match auth.sms_verifier() {
                Some(name) => name == verifier.name,
                None => default.as_deref() == Some(verifier.name.as_str()),
            };
            if !uses {
                continue;
            }
            if auth.auto_signup() {
                return Ok(true);
            }
            linking.push(auth.name);
        }
        if self.users.user_by_phone(phone.as_str()).await?.is_some() {
            return Ok(true);
        }
        for name in linking {
            if self
                .users
                .linked_user(&name, phone.as_str())
                .await?
                .is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// The answer while a code is live: retry when it expires, rounded up, so a client that waits
/// this long finds it expired.
fn live_code(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> ServiceError {
    let secs = ((expires_at - now).num_milliseconds() + 999).max(1000) / 1000;
    ServiceError::LiveCode {
        retry_after_secs: secs,
    }
}

/// Where a code goes: a phone, and the test-number entry it matched, if any.
#[derive(Debug, Clone)]
pub(super) struct Receiver {
    pub phone: Phone,
    pub test: Option<TestNumber>,
}

/// Replaces `{{$env.NAME}}` in every string of `value` by the environment variable `NAME`
/// (empty when unset).
pub fn expand_env(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(expand_env_str(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(expand_env).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, expand_env(v))).collect())
        }
        other => other,
    }
}

fn expand_env_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("{{$env.") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 7..];
        match after.find("}}") {
            Some(end) => {
                let name = after[..end].trim();
                out.push_str(&std::env::var(name).unwrap_or_default());
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_placeholders_are_expanded_everywhere() {
        // PATH is set in every test environment; an unset name expands to nothing.
        let path = std::env::var("PATH").unwrap_or_default();
        let v = serde_json::json!({"a": "x{{$env.PATH}}y", "b": ["{{ $env.SMSAUTH_SURELY_UNSET_VAR }}"], "c": 1, "d": "{{$env.unterminated"});
        let out = expand_env(v);
        assert_eq!(out["a"], format!("x{path}y"));
        assert_eq!(out["c"], 1);
        assert_eq!(out["d"], "{{$env.unterminated");
        // `{{ $env.X }}` with inner spaces is not the documented form and stays as written.
        assert_eq!(out["b"][0], "{{ $env.SMSAUTH_SURELY_UNSET_VAR }}");
    }
}
