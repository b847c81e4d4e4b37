//! Administration rules that are more than storage: field validation for users, authenticators
//! and verifiers, provider settings checked against the provider's schema, and secret masking.

use serde_json::{Map, Value};

use super::{Core, ServiceError};
use crate::domain::authenticator::{AuthType, Authenticator, AuthenticatorDraft};
use crate::domain::password::{hash_password_async, password_length_ok};
use crate::domain::phone::Phone;
use crate::domain::user::{ROLE_ROOT, User, UserDraft};
use crate::domain::verifier::{
    SECRET_MASK, VERIFICATION_TYPE_SMS_OTP, Verifier, VerifierDraft, valid_verifier_name,
};
use crate::ports::store::{PageRequest, UserFilter};

/// Usernames: 1–50 characters, none of `@ . < > " ' /` (NocoBase's rule; `@` keeps usernames and
/// emails apart in the account field) and no control characters.
pub fn check_username(u: &str) -> Result<(), ServiceError> {
    let ok = (1..=50).contains(&u.chars().count())
        && !u
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || "@.<>\"'/".contains(c));
    ok.then_some(())
        .ok_or_else(|| ServiceError::invalid("INVALID_USERNAME", "username"))
}

/// A pragmatic email check: one `@`, a dot in the domain, no spaces, at most 254 characters.
pub fn check_email(e: &str) -> Result<(), ServiceError> {
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(e.split_once('@'), Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.contains('@')
                && !domain.starts_with('.') && !domain.ends_with('.'));
    ok.then_some(())
        .ok_or_else(|| ServiceError::invalid("INVALID_EMAIL", "email"))
}

/// Whether the user `draft` describes (applied over `existing`, where `None` keeps a field and
/// `Some("")` clears it) keeps a username, email or phone.
fn has_identifier(draft: &UserDraft, existing: Option<&User>) -> bool {
    let after = |new: &Option<String>, old: Option<&Option<String>>| match new.as_deref() {
        Some(v) => !v.is_empty(),
        None => old.is_some_and(|o| o.as_deref().is_some_and(|v| !v.is_empty())),
    };
    after(&draft.username, existing.map(|u| &u.username))
        || after(&draft.email, existing.map(|u| &u.email))
        || after(&draft.phone, existing.map(|u| &u.phone))
}

/// The options the server reads must have the type it reads them as; a wrong type would
/// otherwise be stored and then silently read as "off" or "none" (SPEC §15.7).
fn check_authenticator_options(options: &Value) -> Result<(), ServiceError> {
    let bad = |field: &str| ServiceError::invalid("INVALID_OPTIONS", format!("options.{field}"));
    let obj = options.as_object().ok_or_else(|| bad("options"))?;
    let Some(public) = obj.get("public").filter(|p| !p.is_null()) else {
        return Ok(());
    };
    let public = public.as_object().ok_or_else(|| bad("public"))?;
    match public.get("verifier") {
        None | Some(Value::Null) | Some(Value::String(_)) => {}
        Some(_) => return Err(bad("public.verifier")),
    }
    for flag in ["autoSignup", "allowSignUp"] {
        match public.get(flag) {
            None | Some(Value::Null) | Some(Value::Bool(_)) => {}
            Some(_) => return Err(bad(&format!("public.{flag}"))),
        }
    }
    Ok(())
}

/// User fields from an admin request, validated and normalised.
#[derive(Debug, Clone, Default)]
pub struct UserInput {
    pub nickname: Option<String>,
    pub username: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub password: Option<String>,
    pub roles: Option<Vec<String>>,
}

impl Core {
    pub async fn user_draft(&self, input: UserInput) -> Result<UserDraft, ServiceError> {
        let clean = |s: Option<String>| s.map(|s| s.trim().to_string());
        let username = clean(input.username);
        if let Some(u) = username.as_deref().filter(|u| !u.is_empty()) {
            check_username(u)?;
        }
        let email = clean(input.email);
        if let Some(e) = email.as_deref().filter(|e| !e.is_empty()) {
            check_email(e)?;
        }
        let phone = match clean(input.phone) {
            Some(p) if !p.is_empty() => Some(
                Phone::parse(&p, self.settings.default_region)
                    .map_err(|_| ServiceError::InvalidReceiver)?
                    .as_str()
                    .to_string(),
            ),
            other => other,
        };
        let password_hash = match input.password.filter(|p| !p.is_empty()) {
            Some(p) if !password_length_ok(&p) => {
                return Err(ServiceError::invalid("INVALID_PASSWORD", "password"));
            }
            Some(p) => Some(hash_password_async(&p).await?),
            None => None,
        };
        if let Some(nick) = &input.nickname
            && nick.chars().count() > 100
        {
            return Err(ServiceError::invalid("INVALID_NICKNAME", "nickname"));
        }
        Ok(UserDraft {
            nickname: input.nickname,
            username,
            email,
            phone,
            password_hash,
            roles: input.roles,
        })
    }

    /// Only `root` may grant the `root` role or change, sign out or delete a root user: an
    /// `admin` must not be able to take over or lock out the owner of the installation.
    async fn guard_root(
        &self,
        me: &User,
        target: Option<i64>,
        roles: Option<&[String]>,
    ) -> Result<(), ServiceError> {
        if me.is_root() {
            return Ok(());
        }
        if roles.is_some_and(|r| r.iter().any(|n| n == ROLE_ROOT)) {
            return Err(ServiceError::Forbidden);
        }
        if let Some(id) = target
            && let Some(user) = self.uncached.users.user(id).await?
            && user.is_root()
        {
            return Err(ServiceError::Forbidden);
        }
        Ok(())
    }

    pub async fn admin_users(
        &self,
        filter: UserFilter,
        page: PageRequest,
    ) -> Result<(Vec<User>, u64), ServiceError> {
        Ok(self.users.list_users(filter, page).await?)
    }

    pub async fn admin_user(&self, id: i64) -> Result<User, ServiceError> {
        self.users.user(id).await?.ok_or(ServiceError::NotFound)
    }

    /// Creates a user; it must have at least one of username, email and phone (SPEC §6.5), or
    /// nobody could ever sign in as it or find it again. Granting `root` is root's.
    pub async fn admin_create_user(
        &self,
        actor: &User,
        input: UserInput,
    ) -> Result<User, ServiceError> {
        self.guard_root(actor, None, input.roles.as_deref()).await?;
        let draft = self.user_draft(input).await?;
        if !has_identifier(&draft, None) {
            return Err(ServiceError::invalid("MISSING_IDENTIFIER", "username"));
        }
        Ok(self.users.create_user(draft, self.clock.now()).await?)
    }

    /// The first root user, at first start (no caller exists yet to check). Refused once a root
    /// user exists, so it can never serve as a way around [`Core::admin_create_user`].
    pub async fn create_first_root(&self, input: UserInput) -> Result<User, ServiceError> {
        if self.users.has_role_holder(ROLE_ROOT).await? {
            return Err(ServiceError::Forbidden);
        }
        let draft = self.user_draft(input).await?;
        Ok(self.users.create_user(draft, self.clock.now()).await?)
    }

    /// Updates a user; an update may not clear the last of its identifiers, and a root user
    /// (or the root role) is root's to change.
    pub async fn admin_update_user(
        &self,
        actor: &User,
        id: i64,
        input: UserInput,
    ) -> Result<User, ServiceError> {
        self.guard_root(actor, Some(id), input.roles.as_deref())
            .await?;
        let draft = self.user_draft(input).await?;
        let existing = self.admin_user(id).await?;
        if !has_identifier(&draft, Some(&existing)) {
            return Err(ServiceError::invalid("MISSING_IDENTIFIER", "username"));
        }
        Ok(self.users.update_user(id, draft, self.clock.now()).await?)
    }

    /// Deletes a user. Deleting oneself would lock the operator out mid-session.
    pub async fn admin_delete_user(&self, actor: &User, id: i64) -> Result<(), ServiceError> {
        if id == actor.id {
            return Err(ServiceError::Forbidden);
        }
        self.guard_root(actor, Some(id), None).await?;
        Ok(self.users.delete_user(id).await?)
    }

    /// Signs a user out everywhere: every token issued before now stops working.
    pub async fn admin_revoke_sessions(&self, actor: &User, id: i64) -> Result<(), ServiceError> {
        self.guard_root(actor, Some(id), None).await?;
        self.sessions
            .end_user_sessions(id, self.clock.now())
            .await?;
        self.event("session.revoked")
            .user(id)
            .detail(serde_json::json!({ "by": "revokeSessions", "actor": actor.id }))
            .record()
            .await;
        Ok(())
    }

    /// The user an operator's command names: a username, an email or a phone number. A shell
    /// on the server is already more than root, so the commands are not role-checked.
    pub async fn operator_find_user(&self, account: &str) -> Result<User, ServiceError> {
        let account = account.trim();
        if let Some((user, _)) = self.users.user_by_account(account).await? {
            return Ok(user);
        }
        if let Ok(phone) = Phone::parse(account, self.settings.default_region)
            && let Some(user) = self.users.user_by_phone(phone.as_str()).await?
        {
            return Ok(user);
        }
        Err(ServiceError::NotFound)
    }

    /// `smsauth users reset-password`: a new password (same rules as everywhere), which ends
    /// every session of the user in the same write.
    pub async fn operator_set_password(
        &self,
        user: &User,
        password: &str,
    ) -> Result<User, ServiceError> {
        let draft = self
            .user_draft(UserInput {
                password: Some(password.to_string()),
                ..UserInput::default()
            })
            .await?;
        if draft.password_hash.is_none() {
            return Err(ServiceError::invalid("INVALID_PASSWORD", "password"));
        }
        Ok(self
            .users
            .update_user(user.id, draft, self.clock.now())
            .await?)
    }

    /// `smsauth users grant-root`: adds `root` to the user's roles, keeping the others.
    pub async fn operator_grant_root(&self, user: &User) -> Result<User, ServiceError> {
        let mut roles: Vec<String> = user.roles.iter().map(|r| r.name.clone()).collect();
        if !roles.iter().any(|r| r == ROLE_ROOT) {
            roles.push(ROLE_ROOT.to_string());
        }
        let draft = UserDraft {
            roles: Some(roles),
            ..UserDraft::default()
        };
        Ok(self
            .users
            .update_user(user.id, draft, self.clock.now())
            .await?)
    }

    /// Checks an authenticator draft: a known type, a usable name, and for SMS an existing
    /// `sms-otp` verifier when one is named.
    pub async fn check_authenticator(
        &self,
        draft: &AuthenticatorDraft,
        existing: Option<&Authenticator>,
    ) -> Result<(), ServiceError> {
        if existing.is_none() {
            let name = draft.name.as_deref().unwrap_or("");
            if !valid_verifier_name(name) {
                return Err(ServiceError::invalid("INVALID_NAME", "name"));
            }
        }
        let auth_type = draft
            .auth_type
            .or(existing.map(|a| a.auth_type))
            .ok_or_else(|| ServiceError::invalid("INVALID_AUTH_TYPE", "authType"))?;
        if let Some(options) = &draft.options {
            check_authenticator_options(options)?;
            if auth_type == AuthType::Sms
                && let Some(name) = options
                    .pointer("/public/verifier")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
            {
                self.sms_verifier_named(Some(name)).await?;
            }
        }
        Ok(())
    }

    /// Validates a verifier draft against the provider schema. On update, settings sent back as
    /// the mask keep their stored value.
    pub async fn prepare_verifier(
        &self,
        mut draft: VerifierDraft,
        existing: Option<&Verifier>,
    ) -> Result<VerifierDraft, ServiceError> {
        if existing.is_none() && !draft.name.as_deref().is_some_and(valid_verifier_name) {
            return Err(ServiceError::invalid("INVALID_NAME", "name"));
        }
        let vtype = draft
            .verification_type
            .clone()
            .or(existing.map(|v| v.verification_type.clone()))
            .unwrap_or_else(|| VERIFICATION_TYPE_SMS_OTP.to_string());
        if vtype != VERIFICATION_TYPE_SMS_OTP {
            return Err(ServiceError::invalid(
                "INVALID_VERIFICATION_TYPE",
                "verificationType",
            ));
        }
        draft.verification_type = Some(vtype);
        let options = match (draft.options.take(), existing) {
            (Some(o), _) => o,
            (None, Some(v)) => v.options.clone(),
            (None, None) => Value::Null,
        };
        let provider = options
            .get("provider")
            .and_then(Value::as_str)
            .filter(|p| self.providers.provider_types().iter().any(|(n, _)| n == p))
            .ok_or_else(|| ServiceError::invalid("INVALID_PROVIDER_SETTINGS", "options.provider"))?
            .to_string();
        let mut settings = options
            .get("settings")
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        if !settings.is_object() {
            return Err(ServiceError::invalid(
                "INVALID_PROVIDER_SETTINGS",
                "options.settings",
            ));
        }
        if let Some(old) = existing.filter(|v| v.provider() == Some(provider.as_str())) {
            self.unmask_secrets(&provider, &mut settings, &old.settings());
        }
        self.providers
            .validate(
                &provider,
                &crate::service::send_code::expand_env(settings.clone()),
            )
            .map_err(|field| {
                ServiceError::invalid(
                    "INVALID_PROVIDER_SETTINGS",
                    format!("options.settings.{field}"),
                )
            })?;
        let name = draft
            .name
            .clone()
            .or(existing.map(|v| v.name.clone()))
            .unwrap_or_default();
        let mut out = serde_json::json!({ "provider": provider, "settings": settings });
        if let Some(fallbacks) = options.get("fallbacks").filter(|v| !v.is_null()) {
            out["fallbacks"] = self.check_fallbacks(&name, fallbacks).await?;
        }
        if let Some(routes) = options.get("routes").filter(|v| !v.is_null()) {
            out["routes"] = self.check_routes(&name, routes).await?;
        }
        draft.options = Some(out);
        Ok(draft)
    }

    /// `fallbacks`: up to 5 other existing `sms-otp` verifiers.
    async fn check_fallbacks(&self, own: &str, v: &Value) -> Result<Value, ServiceError> {
        let bad = || ServiceError::invalid("INVALID_PROVIDER_SETTINGS", "options.fallbacks");
        let list = v.as_array().filter(|a| a.len() <= 5).ok_or_else(bad)?;
        for item in list {
            let name = item.as_str().filter(|n| *n != own).ok_or_else(bad)?;
            self.sms_verifier_named(Some(name))
                .await
                .map_err(|_| bad())?;
        }
        Ok(v.clone())
    }

    /// `routes`: `{"CN": "<verifier>"}` with ISO 3166 alpha-2 keys and existing `sms-otp`
    /// verifiers (or this one) as values.
    async fn check_routes(&self, own: &str, v: &Value) -> Result<Value, ServiceError> {
        let map = v
            .as_object()
            .ok_or_else(|| ServiceError::invalid("INVALID_PROVIDER_SETTINGS", "options.routes"))?;
        let mut out = Map::new();
        for (region, target) in map {
            let bad = || {
                ServiceError::invalid(
                    "INVALID_PROVIDER_SETTINGS",
                    format!("options.routes.{region}"),
                )
            };
            let upper = region.to_ascii_uppercase();
            if upper.len() != 2 || upper.parse::<crate::domain::phone::Region>().is_err() {
                return Err(bad());
            }
            let name = target.as_str().ok_or_else(bad)?;
            if name != own {
                self.sms_verifier_named(Some(name))
                    .await
                    .map_err(|_| bad())?;
            }
            out.insert(upper, Value::String(name.to_string()));
        }
        Ok(Value::Object(out))
    }

    fn unmask_secrets(&self, provider: &str, settings: &mut Value, stored: &Value) {
        for field in self.providers.secret_fields(provider) {
            if settings.get(field).and_then(Value::as_str) == Some(SECRET_MASK)
                && let (Some(obj), Some(old)) = (settings.as_object_mut(), stored.get(field))
            {
                obj.insert(field.to_string(), old.clone());
            }
        }
    }

    /// A verifier as admins read it: secret settings replaced by the mask.
    pub fn masked_verifier(&self, mut v: Verifier) -> Verifier {
        let Some(provider) = v.provider().map(str::to_string) else {
            return v;
        };
        if let Some(settings) = v.options.get_mut("settings").and_then(Value::as_object_mut) {
            for field in self.providers.secret_fields(&provider) {
                if let Some(value) = settings.get_mut(field)
                    && value.as_str().is_some_and(|s| !s.is_empty())
                {
                    *value = Value::String(SECRET_MASK.to_string());
                }
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_emails() {
        assert!(check_username("alice_1").is_ok());
        for bad in ["", "a@b", "a b", "a.b", "<x>", &"x".repeat(51)] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
        assert!(check_email("a@example.com").is_ok());
        for bad in ["", "a", "a@b", "@b.c", "a@@b.c", "a b@c.d", "a@.c", "a@c."] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }
}
