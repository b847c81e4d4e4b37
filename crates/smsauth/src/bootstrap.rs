//! First-start data: the root user from `INIT_ROOT_*` (or a generated password printed once),
//! and with `--dev` a console SMS verifier and an SMS authenticator with auto sign-up.

use secrecy::ExposeSecret;
use serde_json::json;
use smsauth_core::domain::authenticator::{AuthType, AuthenticatorDraft};
use smsauth_core::domain::user::{ROLE_ADMIN, ROLE_MEMBER, ROLE_ROOT};
use smsauth_core::domain::verifier::VerifierDraft;
use smsauth_core::service::Core;
use smsauth_core::service::admin::UserInput;

use crate::configuration::Settings;

const DEV_VERIFIER: &str = "sms-console";
const DEV_AUTHENTICATOR: &str = "sms";

pub async fn run(core: &Core, settings: &Settings) -> anyhow::Result<()> {
    ensure_root(core, settings).await?;
    if settings.dev {
        dev_setup(core).await?;
    }
    warn_about_console(core).await?;
    Ok(())
}

async fn ensure_root(core: &Core, settings: &Settings) -> anyhow::Result<()> {
    if core.users.has_role_holder(ROLE_ROOT).await? {
        return Ok(());
    }
    let init = &settings.init_root;
    let (password, generated) = match &init.password {
        Some(p) => (p.expose_secret().to_string(), false),
        None => (generate_password()?, true),
    };
    let input = UserInput {
        nickname: Some(
            init.nickname
                .clone()
                .unwrap_or_else(|| "Super Admin".into()),
        ),
        username: Some(init.username.clone().unwrap_or_else(|| "root".into())),
        email: init.email.clone(),
        phone: init.phone.clone(),
        password: Some(password.clone()),
        roles: Some(vec![
            ROLE_ROOT.into(),
            ROLE_ADMIN.into(),
            ROLE_MEMBER.into(),
        ]),
    };
    let user = core
        .create_first_root(input)
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the root user from INIT_ROOT_*: {e}"))?;
    let account = user.username.or(user.email).unwrap_or_default();
    if generated {
        // Printed once, to the terminal only, never to the structured log.
        println!(
            "\n  Root user created.\n    account:  {account}\n    password: {password}\n  Keep it now: it is not shown again. Set INIT_ROOT_PASSWORD to choose it.\n"
        );
    } else {
        tracing::info!(account = %account, "root user created from INIT_ROOT_*");
    }
    Ok(())
}

pub(crate) fn generate_password() -> anyhow::Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let bytes = crate::keys::random_bytes(20)?;
    // 256 is not a multiple of 57, so this is very slightly biased; at 20 characters the
    // password still carries over 110 bits.
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

async fn dev_setup(core: &Core) -> anyhow::Result<()> {
    let now = core.clock.now();
    if core.config.verifiers().await?.is_empty() {
        let draft = VerifierDraft {
            name: Some(DEV_VERIFIER.into()),
            title: Some("Console SMS (development)".into()),
            verification_type: Some("sms-otp".into()),
            is_default: Some(true),
            options: Some(json!({ "provider": "console", "settings": {} })),
            ..VerifierDraft::default()
        };
        core.config.create_verifier(draft, now).await?;
        tracing::info!(
            verifier = DEV_VERIFIER,
            "--dev: created a console SMS verifier"
        );
    }
    let has_sms = core
        .config
        .authenticators()
        .await?
        .iter()
        .any(|a| a.auth_type == AuthType::Sms);
    if !has_sms && core.config.verifier(DEV_VERIFIER).await?.is_some() {
        let draft = AuthenticatorDraft {
            name: Some(DEV_AUTHENTICATOR.into()),
            auth_type: Some(AuthType::Sms),
            title: Some("SMS".into()),
            enabled: Some(true),
            options: Some(json!({ "public": { "verifier": DEV_VERIFIER, "autoSignup": true } })),
            ..AuthenticatorDraft::default()
        };
        core.config.create_authenticator(draft, now).await?;
        tracing::info!(
            authenticator = DEV_AUTHENTICATOR,
            "--dev: created an SMS authenticator with auto sign-up"
        );
    }
    Ok(())
}

async fn warn_about_console(core: &Core) -> anyhow::Result<()> {
    for v in core.config.verifiers().await? {
        if v.provider() == Some("console") {
            tracing::warn!(
                verifier = %v.name,
                "verifier uses the console SMS provider: codes are written to this log and no SMS is sent; do not use it in production"
            );
        }
    }
    Ok(())
}
