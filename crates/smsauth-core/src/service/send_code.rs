//! Issuing a code (SPEC §4.1): resolve action, verifier and receiver; record the code before the
//! provider is called; send; record the outcome.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{Core, ServiceError};
use crate::domain::otp::{OtpAction, OtpCode};
use crate::domain::phone::Phone;
use crate::domain::user::User;
use crate::domain::verifier::{VERIFICATION_TYPE_SMS_OTP, Verifier};
use crate::ports::otp_store::{IssueOutcome, NewOtp};
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
        let phone = self
            .receiver_for(action, &verifier, req.uuid.as_deref(), caller)
            .await?;
        self.send_through(
            action,
            &verifier,
            sender,
            phone,
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
        let phone = self.parse_phone(phone.as_deref())?;
        self.send_through(action, &verifier, sender, phone, &client_ip, &locale)
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
    ) -> Result<Phone, ServiceError> {
        match action {
            OtpAction::SignIn => self.parse_phone(uuid),
            OtpAction::BindVerifier => {
                caller.ok_or(ServiceError::EmptyToken)?;
                self.parse_phone(uuid)
            }
            OtpAction::UnbindVerifier => {
                let user = caller.ok_or(ServiceError::EmptyToken)?;
                let bound = self.users.bound_verifiers(user.id).await?;
                let entry = bound
                    .into_iter()
                    .find(|b| b.verifier == verifier.name)
                    .ok_or(ServiceError::NotBound)?;
                Phone::parse(&entry.uuid, None).map_err(|_| ServiceError::InvalidReceiver)
            }
        }
    }

    async fn send_through(
        &self,
        action: OtpAction,
        verifier: &Verifier,
        sender: Arc<dyn SmsSender>,
        phone: Phone,
        client_ip: &str,
        locale: &str,
    ) -> Result<Issued, ServiceError> {
        let country = phone.region().unwrap_or("unknown");
        let provider = verifier.provider().unwrap_or("unknown");
        if !self.region_allowed(&phone) {
            self.telemetry.sms_blocked(BlockReason::Country);
            self.telemetry.sms(provider, country, SmsOutcome::Blocked);
            return Err(ServiceError::InvalidReceiver);
        }
        let now = self.clock.now();
        let code = OtpCode::generate(self.settings.code_digits)?;
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
        let issued = self.timed(
            "otp_issue",
            self.otps.issue(new, self.settings.send_limits, now),
        );
        match issued.await? {
            IssueOutcome::Created => {}
            IssueOutcome::LiveCodeExists { expires_at } => {
                // Rounded up: a client that waits this long finds the code expired.
                let secs = ((expires_at - now).num_milliseconds() + 999).max(1000) / 1000;
                return Err(ServiceError::LiveCode {
                    retry_after_secs: secs,
                });
            }
            IssueOutcome::LimitReached {
                limit,
                retry_after_secs,
            } => {
                tracing::warn!(?limit, phone = %phone, client_ip, "send limit reached");
                self.telemetry.sms_blocked(BlockReason::Limit);
                self.telemetry.sms(provider, country, SmsOutcome::Blocked);
                return Err(ServiceError::SendLimited {
                    retry_after_secs,
                    limit,
                });
            }
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
        let result = self.deliver(verifier, sender, &message).await;
        let outcome = if result.is_ok() {
            SmsOutcome::Sent
        } else {
            SmsOutcome::Failed
        };
        self.telemetry.sms(provider, country, outcome);
        self.timed(
            "otp_mark_delivery",
            self.otps
                .mark_delivery(id, result.is_ok(), self.clock.now()),
        )
        .await?;
        match result {
            Ok(()) => Ok(Issued { id, expires_at }),
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

    fn region_allowed(&self, phone: &Phone) -> bool {
        let allowed = &self.settings.allowed_regions;
        allowed.is_empty()
            || phone
                .region()
                .is_some_and(|r| allowed.iter().any(|a| a.eq_ignore_ascii_case(r)))
    }
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
