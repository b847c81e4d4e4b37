//! The development provider: writes the code to the log instead of sending it. It is the only
//! place a code is ever logged, and start-up warns when a verifier uses it.

use async_trait::async_trait;
use smsauth_core::ports::sms::{Accepted, SendError, SmsMessage, SmsSender};

#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleSender;

#[async_trait]
impl SmsSender for ConsoleSender {
    async fn send(&self, m: &SmsMessage) -> Result<Accepted, SendError> {
        tracing::warn!(
            target: "smsauth::console_sms",
            to = m.to.as_str(),
            code = m.code.expose(),
            action = m.action.as_str(),
            verifier = %m.verifier,
            "console SMS provider (development only): code issued"
        );
        Ok(Accepted::default())
    }
}
