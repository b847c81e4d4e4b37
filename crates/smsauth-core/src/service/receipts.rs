//! Delivery receipts (SPEC §15.3): a provider's report that an SMS reached the phone or did
//! not, authenticated by the provider module, recorded on the code it is about, counted in the
//! metrics and in the pumping windows `smsGuard:status` shows, and written to the audit log.

use serde_json::json;

use super::send_code::expand_env;
use super::{Core, ServiceError};
use crate::domain::phone::Phone;
use crate::ports::sms::{DeliveryState, ReceiptBatch, ReceiptError, ReceiptRequest};
use crate::ports::telemetry::SmsOutcome;

impl Core {
    /// Handles one push to `/api/smsDelivery:report/<verifier>`. Unknown message ids are
    /// ignored (a record may have been purged); a bad signature or token changes nothing.
    pub async fn delivery_report(
        &self,
        verifier: &str,
        request: &ReceiptRequest<'_>,
    ) -> Result<ReceiptBatch, ServiceError> {
        let verifier = self
            .sms_verifier_named(Some(verifier))
            .await
            .map_err(|_| ServiceError::NotFound)?;
        let provider = verifier.provider().ok_or(ServiceError::NotFound)?;
        let settings = expand_env(verifier.settings());
        let batch = self
            .providers
            .receipts(provider, &settings, request)
            .map_err(|e| match e {
                ReceiptError::Unauthenticated => ServiceError::ReceiptUnauthenticated,
                ReceiptError::Malformed(_) => ServiceError::invalid("INVALID_RECEIPT", "body"),
                ReceiptError::Unsupported => ServiceError::NotFound,
            })?;
        let now = self.clock.now();
        for r in &batch.receipts {
            let delivered = r.state == DeliveryState::Delivered;
            let Some(target) = self
                .otps
                .record_receipt(
                    &verifier.name,
                    &r.message_id,
                    delivered,
                    r.error_code.as_deref(),
                    now,
                )
                .await?
            else {
                continue;
            };
            if !target.changed {
                continue;
            }
            let phone = Phone::parse(&target.receiver, None).ok();
            let country = phone
                .as_ref()
                .and_then(|p| p.region().map(str::to_string))
                .unwrap_or_else(|| "unknown".into());
            if let Some(phone) = &phone {
                self.pumping_receipt(phone, delivered).await?;
            }
            let (outcome, kind) = if delivered {
                (SmsOutcome::Delivered, "sms.delivered")
            } else {
                (SmsOutcome::Undelivered, "sms.undelivered")
            };
            self.telemetry.sms(provider, &country, outcome);
            self.event(kind)
                .phone_text(&target.receiver)
                .verifier(&verifier.name)
                .detail(json!({ "messageId": r.message_id, "errorCode": r.error_code }))
                .record()
                .await;
        }
        Ok(batch)
    }
}
