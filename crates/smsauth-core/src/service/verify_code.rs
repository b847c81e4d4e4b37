//! Checking a submitted code (SPEC §4.2). The store does the atomic part; this module adds the
//! per-client limit and turns outcomes into answers.

use super::{Core, ServiceError};
use crate::domain::otp::{OtpAction, OtpCode};
use crate::domain::phone::Phone;
use crate::domain::verifier::Verifier;
use crate::ports::limits::Hit;
use crate::ports::otp_store::{Attempt, AttemptOutcome};
use crate::ports::telemetry::VerifyOutcome;

/// Window of the per-client verification limit (SPEC §8: 30 per 5 minutes).
const VERIFY_WINDOW_SECS: i64 = 300;

impl Core {
    /// One credential check from `client_ip` against the per-address budget (SPEC §8: 30 per
    /// 5 minutes). Codes and passwords share it: both are guesses at a secret.
    pub async fn check_attempt_budget(&self, client_ip: &str) -> Result<(), ServiceError> {
        let key = format!("verify-ip:{client_ip}");
        let limit = self.settings.verify_per_ip_5min;
        let hit = self
            .counters
            .hit(&key, limit, VERIFY_WINDOW_SECS, self.clock.now())
            .await
            .map_err(ServiceError::Unavailable)?;
        match hit {
            Hit::Allowed => Ok(()),
            Hit::Refused { retry_after_secs } => {
                Err(ServiceError::VerifyLimited { retry_after_secs })
            }
        }
    }

    /// Consumes the code for (action, phone, verifier) or says why not. A success leaves the
    /// code `used` whatever the caller does next.
    pub async fn verify_code(
        &self,
        action: OtpAction,
        verifier: &Verifier,
        phone: &Phone,
        code: Option<&str>,
        client_ip: &str,
    ) -> Result<(), ServiceError> {
        let now = self.clock.now();
        self.check_attempt_budget(client_ip).await?;
        let code = code
            .and_then(OtpCode::parse)
            .ok_or(ServiceError::InvalidCode)?;
        let attempt = Attempt {
            action,
            receiver: phone.as_str().to_string(),
            verifier: verifier.name.clone(),
            candidate: self.hasher.hash(action, phone.as_str(), &code),
        };
        let outcome = self
            .timed(
                "otp_attempt",
                self.otps.attempt(attempt, self.settings.throttle, now),
            )
            .await?;
        let reported = match outcome {
            AttemptOutcome::Consumed => VerifyOutcome::Success,
            AttemptOutcome::Wrong => VerifyOutcome::WrongCode,
            AttemptOutcome::NoLiveCode => VerifyOutcome::NoCode,
            AttemptOutcome::Exhausted => VerifyOutcome::Exhausted,
            AttemptOutcome::Blocked { .. } => VerifyOutcome::Blocked,
        };
        self.telemetry
            .verification(phone.region().unwrap_or("unknown"), reported);
        match outcome {
            AttemptOutcome::Consumed => {
                self.pumping_verified(phone).await?;
                Ok(())
            }
            AttemptOutcome::Wrong | AttemptOutcome::NoLiveCode => {
                tracing::info!(phone = %phone, action = action.as_str(), "verification failed");
                Err(ServiceError::InvalidCode)
            }
            AttemptOutcome::Exhausted => Err(ServiceError::TooManyAttempts {
                retry_after_secs: None,
            }),
            AttemptOutcome::Blocked { until } => Err(ServiceError::TooManyAttempts {
                retry_after_secs: Some(((until - now).num_milliseconds() + 999).max(1000) / 1000),
            }),
        }
    }
}
