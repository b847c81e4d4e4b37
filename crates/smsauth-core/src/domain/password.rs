//! Password hashing with Argon2id (OWASP Password Storage Cheat Sheet; NIST SP 800-63B §5.1.1.2).

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// NIST SP 800-63B §3.1.1.2: at least 8 characters; allow at least 64. The upper bound stops
/// megabyte passwords from being used to burn CPU.
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;

pub fn password_length_ok(pw: &str) -> bool {
    (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&pw.chars().count())
}

/// Hashes a password into a PHC string (`$argon2id$v=19$…`) with a random salt. Costs tens of
/// milliseconds of CPU: async callers use [`hash_password_async`].
pub fn hash_password(pw: &str) -> Result<String, anyhow::Error> {
    Argon2::default()
        .hash_password(pw.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
}

/// Checks a password against a stored PHC string; a malformed hash is a mismatch.
pub fn verify_password(pw: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(pw.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// At most this many Argon2 computations run at once. Each takes ~19 MiB and tens of
/// milliseconds of a core; without a bound, a burst of password sign-ins would exhaust memory
/// (OWASP ASVS V2.4: the hashing cost must not become a denial-of-service lever). Process-wide
/// on purpose: the bound protects the machine, whichever request asks.
const MAX_CONCURRENT_HASHES: usize = 4;

fn hash_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(MAX_CONCURRENT_HASHES))
}

/// Runs a CPU-heavy closure on the blocking pool once a hashing slot is free.
async fn bounded<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, anyhow::Error> {
    let _slot = hash_slots().acquire().await?;
    Ok(tokio::task::spawn_blocking(f).await?)
}

/// [`hash_password`] on the blocking thread pool, so a burst of sign-ups does not stall the
/// async workers that serve every other request.
pub async fn hash_password_async(pw: &str) -> Result<String, anyhow::Error> {
    let pw = pw.to_string();
    bounded(move || hash_password(&pw)).await?
}

/// [`verify_password`] on the blocking thread pool; `None` for the hash means "no such
/// account" and burns the same time as a real check.
pub async fn verify_password_async(pw: &str, phc: Option<&str>) -> bool {
    let (pw, phc) = (pw.to_string(), phc.map(str::to_string));
    bounded(move || match phc {
        Some(phc) => verify_password(&pw, &phc),
        None => {
            burn_verification_time(&pw);
            false
        }
    })
    .await
    .unwrap_or(false)
}

/// Spends the same time as a real check when the account does not exist, so that an unknown
/// account and a wrong password cannot be told apart by timing (OWASP ASVS 2.2.1 / V6.3).
pub fn burn_verification_time(pw: &str) {
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if let Some(hash) = DUMMY.get_or_init(|| hash_password("smsauth-dummy-password").ok()) {
        let _ = verify_password(pw, hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", "not a hash"));
    }
}
