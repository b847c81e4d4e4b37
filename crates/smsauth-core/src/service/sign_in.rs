//! Sign-in with an SMS code or a password, password sign-up and password change (SPEC §3.3–3.5,
//! §5.1).

use super::{Core, ServiceError};
use crate::domain::authenticator::{AuthType, Authenticator};
use crate::domain::otp::OtpAction;
use crate::domain::password::{self, password_length_ok};
use crate::domain::user::{User, UserDraft};
use crate::domain::verifier::Verifier;

/// A successful sign-in: the user and a fresh session token.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub token: String,
}

/// What a sign-in request carries, whichever authenticator type reads it: an SMS authenticator
/// reads `phone` and `code`, a password authenticator `account` and `password`. The HTTP layer
/// fills it from the wire names (`uuid` or legacy `phone`; `account`, or legacy `email` or
/// `username`).
#[derive(Debug, Clone, Default)]
pub struct SignInRequest {
    pub phone: Option<String>,
    pub code: Option<String>,
    pub account: Option<String>,
    pub password: Option<String>,
}

/// A password change: the current password (when the user has one), the new one and its
/// confirmation. No `Debug`: it holds passwords.
#[derive(Clone, Default)]
pub struct PasswordChange {
    pub old_password: Option<String>,
    pub new_password: Option<String>,
    pub confirm_password: Option<String>,
}

/// Sign-up fields as sent by the client.
#[derive(Debug, Clone, Default)]
pub struct SignUpRequest {
    pub username: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub confirm_password: Option<String>,
}

/// The throttle scope of password sign-ins (a row per account in `phone_throttle`).
const PASSWORD_THROTTLE: &str = "auth:password";

/// One throttle per account whatever its spelling: `Root`, ` root ` and `root` are one key.
fn account_throttle_key(account: &str) -> String {
    account.trim().to_lowercase()
}

impl Core {
    /// The enabled authenticator named by `X-Authenticator` (default `basic`). An unknown or
    /// disabled name is an explicit error, never a fall-back to another authenticator.
    pub async fn enabled_authenticator(&self, name: &str) -> Result<Authenticator, ServiceError> {
        self.config
            .authenticator_by_name(name)
            .await?
            .filter(|a| a.enabled)
            .ok_or(ServiceError::AuthenticatorNotFound)
    }

    /// Signs in with whatever the authenticator's type expects in `values`.
    pub async fn sign_in(
        &self,
        authenticator: &str,
        req: &SignInRequest,
        client_ip: &str,
    ) -> Result<SignedIn, ServiceError> {
        let result = self.sign_in_unaudited(authenticator, req, client_ip).await;
        let (kind, detail) = match &result {
            Ok(_) => ("signIn.success", serde_json::json!({})),
            Err(ServiceError::Unavailable(_) | ServiceError::Unexpected(_)) => return result,
            Err(e) => {
                // Guessing is repeated failure: repeats for one phone (or, without one, one
                // address) within a minute are folded into the next event, so a guessing run
                // costs the log a row a minute, not a row a guess.
                let reason = e.reason();
                let who = req.phone.as_deref().unwrap_or(client_ip);
                let key = format!("signIn.failure|{authenticator}|{reason}|{who}");
                let Some(repeats) = self.audit.admit(&key, self.clock.now()) else {
                    return result;
                };
                (
                    "signIn.failure",
                    serde_json::json!({ "reason": reason, "repeats": repeats }),
                )
            }
        };
        let mut event = self
            .event(kind)
            .ip(client_ip)
            .authenticator(authenticator)
            .detail(detail);
        if let Ok(signed_in) = &result {
            event = event.user(signed_in.user.id);
        }
        if let Some(raw) = req.phone.as_deref()
            && let Ok(phone) = self.phone_from(Some(raw)).await
        {
            event = event.phone(&phone);
        }
        event.record().await;
        result
    }

    async fn sign_in_unaudited(
        &self,
        authenticator: &str,
        req: &SignInRequest,
        client_ip: &str,
    ) -> Result<SignedIn, ServiceError> {
        let auth = self.enabled_authenticator(authenticator).await?;
        let user = match auth.auth_type {
            AuthType::Sms => self.sms_user(&auth, req, client_ip).await?,
            AuthType::Password => self.password_user(req, client_ip).await?,
        };
        let token = self.start_session(&user, &auth.name).await?;
        Ok(SignedIn { user, token })
    }

    /// The verifier an SMS authenticator uses: its own `verifier` option, else the default SMS
    /// verifier. A `verifier` in the request body is never consulted.
    pub async fn authenticator_verifier(
        &self,
        auth: &Authenticator,
    ) -> Result<Verifier, ServiceError> {
        match auth.sms_verifier() {
            Some(name) => self.sms_verifier_named(Some(&name)).await,
            None => self
                .config
                .default_sms_verifier()
                .await?
                .ok_or(ServiceError::InvalidVerifier),
        }
    }

    async fn sms_user(
        &self,
        auth: &Authenticator,
        req: &SignInRequest,
        client_ip: &str,
    ) -> Result<User, ServiceError> {
        let verifier = self.authenticator_verifier(auth).await?;
        let phone = self.phone_from(req.phone.as_deref()).await?;
        let code = req.code.as_deref();
        self.verify_code(OtpAction::SignIn, &verifier, &phone, code, client_ip)
            .await?;
        let now = self.clock.now();
        let e164 = phone.as_str();
        if let Some(user) = self.users.user_by_phone(e164).await? {
            self.users.link(&auth.name, user.id, e164, now).await?;
            return Ok(user);
        }
        if let Some(user) = self.users.linked_user(&auth.name, e164).await? {
            return Ok(user);
        }
        if auth.auto_signup() {
            return Ok(self.users.sign_up_by_phone(&auth.name, e164, now).await?);
        }
        Err(ServiceError::PhoneNotRegistered)
    }

    async fn password_user(
        &self,
        req: &SignInRequest,
        client_ip: &str,
    ) -> Result<User, ServiceError> {
        let account = req
            .account
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .ok_or(ServiceError::InvalidAccount)?;
        // Online guessing is throttled per client address like code guessing, and per account
        // (SPEC §5.6, NIST SP 800-63B rev 4 §3.2.2), so a botnet spread over many addresses
        // still gets a handful of guesses per account and hour. The account throttle delays,
        // it never locks: the owner gets in again when the delay ends.
        self.check_attempt_budget(client_ip).await?;
        let key = account_throttle_key(account);
        if let Some(until) = self
            .otps
            .throttle_attempt(
                PASSWORD_THROTTLE,
                &key,
                self.settings.password_throttle,
                self.clock.now(),
            )
            .await?
        {
            // Rounded up: "retry after 29 s" when 29.9 s remain would be refused again.
            let left_ms = (until - self.clock.now()).num_milliseconds();
            let retry_after_secs = ((left_ms + 999) / 1000).max(1);
            return Err(ServiceError::PasswordThrottled { retry_after_secs });
        }
        let pw = req.password.as_deref().unwrap_or("");
        if pw.chars().count() > password::MAX_PASSWORD_CHARS {
            password::verify_password_async("", None).await;
            return Err(ServiceError::InvalidCredentials);
        }
        let found = self.users.user_by_account(account).await?;
        let hash = found.as_ref().and_then(|(_, h)| h.as_deref());
        if password::verify_password_async(pw, hash).await
            && let Some((user, _)) = found
        {
            self.otps.throttle_reset(PASSWORD_THROTTLE, &key).await?;
            return Ok(user);
        }
        Err(ServiceError::InvalidCredentials)
    }

    /// Password sign-up through an Email/Password authenticator with `allowSignUp`.
    pub async fn sign_up(
        &self,
        authenticator: &str,
        req: SignUpRequest,
    ) -> Result<User, ServiceError> {
        let auth = self.enabled_authenticator(authenticator).await?;
        if auth.auth_type != AuthType::Password || !auth.allow_sign_up() {
            return Err(ServiceError::SignUpDisabled);
        }
        let username = req
            .username
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        let email = req
            .email
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        if username.is_none() && email.is_none() {
            return Err(ServiceError::invalid("INVALID_USERNAME", "username"));
        }
        if let Some(u) = &username {
            super::admin::check_username(u)?;
        }
        if let Some(e) = &email {
            super::admin::check_email(e)?;
        }
        let pw = req.password.unwrap_or_default();
        if !password_length_ok(&pw) {
            return Err(ServiceError::invalid("INVALID_PASSWORD", "password"));
        }
        if req.confirm_password.as_deref() != Some(pw.as_str()) {
            return Err(ServiceError::invalid(
                "PASSWORD_MISMATCH",
                "confirm_password",
            ));
        }
        let draft = UserDraft {
            nickname: username.clone(),
            username,
            email,
            password_hash: Some(password::hash_password_async(&pw).await?),
            ..UserDraft::default()
        };
        Ok(self.users.create_user(draft, self.clock.now()).await?)
    }

    /// Sets or changes the caller's password. A user who has one must give it; every token
    /// issued before the change stops working (SPEC §5.3), so a fresh one is returned.
    pub async fn change_password(
        &self,
        user: &User,
        change: &PasswordChange,
    ) -> Result<String, ServiceError> {
        let new = change.new_password.as_deref().unwrap_or("");
        if !password_length_ok(new) {
            return Err(ServiceError::invalid("INVALID_PASSWORD", "newPassword"));
        }
        if change.confirm_password.as_deref().is_some_and(|c| c != new) {
            return Err(ServiceError::invalid(
                "PASSWORD_MISMATCH",
                "confirmPassword",
            ));
        }
        if let Some(hash) = self.users.password_hash(user.id).await? {
            let old = change.old_password.as_deref().unwrap_or("");
            if !password::verify_password_async(old, Some(&hash)).await {
                return Err(ServiceError::invalid(
                    "OLD_PASSWORD_INCORRECT",
                    "oldPassword",
                ));
            }
        }
        let hash = password::hash_password_async(new).await?;
        self.users
            .set_password(user.id, &hash, self.clock.now())
            .await?;
        self.users
            .user(user.id)
            .await?
            .ok_or(ServiceError::NotExistUser)?;
        self.start_session(user, "basic").await
    }
}
