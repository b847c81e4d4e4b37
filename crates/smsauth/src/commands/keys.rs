//! `smsauth keys rotate`: a new Ed25519 signing key in the data directory; the old public key
//! is kept (in the JWKS and for verification) until every token it signed has expired.

use std::sync::Arc;

use smsauth_core::ports::clock::SystemClock;
use smsauth_core::ports::telemetry::NoTelemetry;

use crate::configuration::Settings;

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    anyhow::ensure!(
        settings.jwt.algorithm != "HS256",
        "tokens use HS256 with a shared secret: a new secret signs everyone out; replace \
         jwt.secret (or the jwt-hs256.key file) and restart if that is what you want"
    );
    anyhow::ensure!(
        settings.jwt.private_key.is_none(),
        "the signing key comes from jwt.private_key in the settings, not from the data \
         directory; put a new key there and restart every instance"
    );
    // The token policy bounds how long an old token can still be used or renewed.
    let assembled =
        crate::startup::assemble(settings, Arc::new(SystemClock), Arc::new(NoTelemetry)).await?;
    let policy = assembled.core.config.token_policy().await;
    let now = assembled.core.clock.now().timestamp();
    assembled.store.close().await;
    let policy = policy?;
    let keep = policy
        .session_ttl
        .max(policy.token_ttl + policy.renew_limit);
    let r = crate::keys::rotate(&settings.data_dir, now, now + keep)?;
    let until = chrono::DateTime::from_timestamp(r.keep_until, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    println!(
        "new signing key {} in {}; the old key {} verifies its tokens until {until}. \
         Restart the server (every instance sharing this data directory) to sign with the new key.",
        r.new_kid,
        settings.data_dir.display(),
        r.retired_kid
    );
    Ok(())
}
