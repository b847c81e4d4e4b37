//! The SMS policy and test numbers as administrators read and change them (SPEC §15.1, §15.4).
//!
//! Administrators change the policy: it decides what SMS the operator pays for, not who may sign
//! in. Test numbers are root's: a fixed code for a number is a way to sign in as whoever owns
//! that number, so an administrator who could create one for root's phone would become root.

use serde_json::Value;

use super::{Core, ServiceError};
use crate::domain::phone::Phone;
use crate::domain::sms_policy::SmsPolicy;
use crate::domain::test_number::{self, TestNumber, TestNumberDraft, TestNumberError};
use crate::domain::user::User;

/// Merges `patch` into `base`: objects key by key, everything else replaced. An update names
/// only what changes (`{"budgets": {"globalPerDay": 500}}`).
fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(&k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, p) => *b = p,
    }
}

/// Test number fields as a request gives them; `None` is "not given".
#[derive(Debug, Clone, Default)]
pub struct TestNumberPatch {
    pub phone: Option<String>,
    pub code: Option<String>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub note: Option<String>,
}

fn invalid(field: &str) -> ServiceError {
    ServiceError::invalid("INVALID_TEST_NUMBER", field)
}

fn draft_of(
    phone: &str,
    code: &str,
    expires_at: chrono::DateTime<chrono::Utc>,
    note: Option<String>,
) -> Result<TestNumberDraft, ServiceError> {
    TestNumberDraft::new(phone, code, expires_at, note).map_err(|e| {
        invalid(match e {
            TestNumberError::Phone => "phone",
            TestNumberError::Code => "code",
            TestNumberError::Note => "note",
        })
    })
}

impl Core {
    /// The policy in force: the saved one, else the configured initial value.
    pub async fn sms_policy(&self) -> Result<SmsPolicy, ServiceError> {
        Ok(self
            .config
            .sms_policy()
            .await?
            .unwrap_or_else(|| self.settings.sms_policy.clone()))
    }

    /// Applies `patch` over the policy in force; a field that does not parse is refused with
    /// `INVALID_SMS_POLICY` naming it, and nothing changes.
    pub async fn update_sms_policy(
        &self,
        actor: &User,
        patch: Value,
    ) -> Result<SmsPolicy, ServiceError> {
        if !actor.is_admin() {
            return Err(ServiceError::Forbidden);
        }
        if !patch.is_object() {
            return Err(ServiceError::invalid("INVALID_SMS_POLICY", "policy"));
        }
        // Merged over the store's value, not a cached one another instance may have replaced.
        let current = self
            .uncached
            .config
            .sms_policy()
            .await?
            .unwrap_or_else(|| self.settings.sms_policy.clone());
        let mut value = serde_json::to_value(&current)
            .map_err(|e| ServiceError::Unexpected(anyhow::anyhow!(e)))?;
        merge(&mut value, patch);
        let policy = SmsPolicy::from_json(value).map_err(|e| ServiceError::Invalid {
            code: "INVALID_SMS_POLICY",
            field: e.0,
        })?;
        self.config
            .set_sms_policy(&policy, self.clock.now())
            .await?;
        Ok(policy)
    }

    /// Every test number; an administrator who is not root sees the codes masked, since a code
    /// signs in as whoever owns the number.
    pub async fn test_numbers(&self, actor: &User) -> Result<Vec<TestNumber>, ServiceError> {
        let mut all = self.config.test_numbers().await?;
        if !actor.is_root() {
            for t in &mut all {
                t.code = "******".into();
            }
        }
        Ok(all)
    }

    pub async fn create_test_number(
        &self,
        actor: &User,
        patch: TestNumberPatch,
    ) -> Result<TestNumber, ServiceError> {
        if !actor.is_root() {
            return Err(ServiceError::Forbidden);
        }
        let draft = draft_of(
            patch.phone.as_deref().ok_or(invalid("phone"))?,
            patch.code.as_deref().ok_or(invalid("code"))?,
            patch.expires_at.ok_or(invalid("expiresAt"))?,
            patch.note,
        )?;
        Ok(self
            .config
            .create_test_number(draft, self.clock.now())
            .await?)
    }

    /// Changes the fields `patch` names; the others keep their values.
    pub async fn update_test_number(
        &self,
        actor: &User,
        id: i64,
        patch: TestNumberPatch,
    ) -> Result<TestNumber, ServiceError> {
        if !actor.is_root() {
            return Err(ServiceError::Forbidden);
        }
        let current = self
            .uncached
            .config
            .test_numbers()
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or(ServiceError::NotFound)?;
        let draft = draft_of(
            patch.phone.as_deref().unwrap_or(&current.phone),
            patch.code.as_deref().unwrap_or(&current.code),
            patch.expires_at.unwrap_or(current.expires_at),
            patch.note.or(current.note),
        )?;
        Ok(self
            .config
            .update_test_number(id, draft, self.clock.now())
            .await?)
    }

    pub async fn delete_test_number(&self, actor: &User, id: i64) -> Result<(), ServiceError> {
        if !actor.is_root() {
            return Err(ServiceError::Forbidden);
        }
        Ok(self.config.delete_test_number(id).await?)
    }

    /// The test number entry for the caller's input, matched before the input is validated as
    /// a phone number (SPEC §15.4).
    pub(super) async fn test_number_for(
        &self,
        raw: &str,
    ) -> Result<Option<(Phone, TestNumber)>, ServiceError> {
        let Some(e164) = test_number::normalise_input(raw) else {
            return Ok(None);
        };
        let entries = self.config.test_numbers().await?;
        Ok(test_number::find(&entries, &e164, self.clock.now())
            .map(|t| (Phone::test_number(&e164), t.clone())))
    }

    /// A phone from the caller's input: a test number as written, else a valid number.
    pub async fn phone_from(&self, raw: Option<&str>) -> Result<Phone, ServiceError> {
        if let Some((phone, _)) = self.test_number_for(raw.unwrap_or("")).await? {
            return Ok(phone);
        }
        self.parse_phone(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::merge;
    use serde_json::json;

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let mut base = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1]});
        merge(&mut base, json!({"b": {"c": 9}, "e": [], "f": true}));
        assert_eq!(
            base,
            json!({"a": 1, "b": {"c": 9, "d": 3}, "e": [], "f": true})
        );
    }
}
