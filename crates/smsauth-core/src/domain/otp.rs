//! One-time codes: generation from the OS CSPRNG, the keyed hash stored at rest, and the actions
//! a code can be issued for (SPEC §4).

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// What a code is for. The set is closed: an unknown action is refused before anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OtpAction {
    SignIn,
    BindVerifier,
    UnbindVerifier,
}

impl OtpAction {
    pub fn parse(s: &str) -> Option<OtpAction> {
        match s {
            "auth:signIn" => Some(OtpAction::SignIn),
            "verifiers:bind" => Some(OtpAction::BindVerifier),
            "verifiers:unbind" => Some(OtpAction::UnbindVerifier),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OtpAction::SignIn => "auth:signIn",
            OtpAction::BindVerifier => "verifiers:bind",
            OtpAction::UnbindVerifier => "verifiers:unbind",
        }
    }
}

/// A plain-text code. It exists only between generation and the provider call (or between the
/// request body and hashing); it is never stored and its `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct OtpCode(String);

impl OtpCode {
    /// Draws `digits` decimal digits uniformly from the OS CSPRNG (NIST SP 800-63B §5.1.3.1:
    /// an approved random bit generator, at least 20 bits of entropy for 6 digits).
    ///
    /// Uniformity comes from rejection sampling: 64-bit draws at or above the largest multiple
    /// of 10^digits are discarded, so no code is more likely than another. A failing OS
    /// generator is an error, never a panic and never a fallback to a weaker source.
    pub fn generate(digits: u8) -> Result<OtpCode, anyhow::Error> {
        use rand::TryRng;
        let digits = u32::from(digits.clamp(6, 10));
        let bound = 10u64.pow(digits);
        let zone = u64::MAX - (u64::MAX % bound);
        let mut rng = rand::rngs::SysRng;
        let n = loop {
            let x = rng
                .try_next_u64()
                .map_err(|e| anyhow::anyhow!("the OS random generator failed: {e}"))?;
            if x < zone {
                break x % bound;
            }
        };
        Ok(OtpCode(format!("{n:0width$}", width = digits as usize)))
    }

    /// Accepts a submitted code: 4 to 10 ASCII digits after trimming; anything else is `None`.
    pub fn parse(input: &str) -> Option<OtpCode> {
        let s = input.trim();
        ((4..=10).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| OtpCode(s.to_string()))
    }

    /// The digits, for the provider message only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpCode(***)")
    }
}

/// HMAC-SHA256 of `action|receiver|code` under the server key. Binding action and receiver into
/// the hash means a stolen row cannot be replayed for another phone or purpose, and the key means
/// a stolen database cannot be brute-forced offline over the 10^6 code space.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeHash([u8; 32]);

impl CodeHash {
    pub fn from_bytes(bytes: &[u8]) -> Option<CodeHash> {
        <[u8; 32]>::try_from(bytes).ok().map(CodeHash)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Constant-time comparison so response timing says nothing about how close a guess was.
    pub fn matches(&self, other: &CodeHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for CodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeHash(***)")
    }
}

/// The server key for code hashes. `Debug` never prints it.
#[derive(Clone)]
pub struct CodeHasher {
    key: Vec<u8>,
}

impl CodeHasher {
    pub fn new(key: Vec<u8>) -> CodeHasher {
        CodeHasher { key }
    }

    /// The audit log's search key for a phone (SPEC §15.5): HMAC-SHA256 under the same server
    /// key, with a label no code hash can produce (`audit-phone|`, where a code hash starts with
    /// an action name), so the log can be searched by exact number without storing it.
    pub fn phone_key(&self, e164: &str) -> [u8; 32] {
        let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        };
        mac.update(b"audit-phone|");
        mac.update(e164.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// A keyed hash of an OpenID Provider secret (an authorization code, a client secret),
    /// hex. The label keeps it apart from code hashes (which start with an action name) and
    /// from other kinds; the values hashed are 256-bit random strings, so a keyed hash is
    /// enough (NIST SP 800-63B §5.1.1.2 asks for a slow hash only for chosen secrets).
    pub fn secret_hash(&self, label: &str, secret: &str) -> String {
        let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        };
        mac.update(b"oidc-");
        mac.update(label.as_bytes());
        mac.update(b"|");
        mac.update(secret.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    pub fn hash(&self, action: OtpAction, receiver: &str, code: &OtpCode) -> CodeHash {
        // A 32-byte key is always accepted by HMAC; `new_from_slice` only fails for fixed-size MACs.
        let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        };
        mac.update(action.as_str().as_bytes());
        mac.update(b"|");
        mac.update(receiver.as_bytes());
        mac.update(b"|");
        mac.update(code.0.as_bytes());
        CodeHash(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for CodeHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeHasher(***)")
    }
}

/// Lifecycle of an OTP record (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpStatus {
    Pending,
    Sent,
    SendFailed,
    Used,
    Exhausted,
    Superseded,
}

impl OtpStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OtpStatus::Pending => "pending",
            OtpStatus::Sent => "sent",
            OtpStatus::SendFailed => "send_failed",
            OtpStatus::Used => "used",
            OtpStatus::Exhausted => "exhausted",
            OtpStatus::Superseded => "superseded",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_have_the_requested_length_and_only_digits() {
        for digits in [6u8, 8, 10] {
            let c = OtpCode::generate(digits).unwrap();
            assert_eq!(c.expose().len(), digits as usize);
            assert!(c.expose().bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn generated_codes_cover_the_leading_digit_uniformly_enough() {
        let mut firsts = [0u32; 10];
        for _ in 0..5000 {
            let c = OtpCode::generate(6).unwrap();
            firsts[(c.expose().as_bytes()[0] - b'0') as usize] += 1;
        }
        // Each bucket expects 500; a biased or constant generator lands far outside this band.
        assert!(
            firsts.iter().all(|&n| (350..650).contains(&n)),
            "{firsts:?}"
        );
    }

    #[test]
    fn hash_binds_action_receiver_and_code() {
        let h = CodeHasher::new(vec![7; 32]);
        let code = OtpCode::parse("123456").unwrap();
        let a = h.hash(OtpAction::SignIn, "+8613800138000", &code);
        assert!(a.matches(&h.hash(OtpAction::SignIn, "+8613800138000", &code)));
        assert!(!a.matches(&h.hash(OtpAction::BindVerifier, "+8613800138000", &code)));
        assert!(!a.matches(&h.hash(OtpAction::SignIn, "+8613800138001", &code)));
        let other_key = CodeHasher::new(vec![8; 32]);
        assert!(!a.matches(&other_key.hash(OtpAction::SignIn, "+8613800138000", &code)));
    }

    #[test]
    fn submitted_codes_are_parsed_strictly_and_debug_is_redacted() {
        assert!(OtpCode::parse(" 123456 ").is_some());
        for bad in ["", "12a456", "１２３４５６", "123", "12345678901"] {
            assert!(OtpCode::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(
            format!("{:?}", OtpCode::parse("123456").unwrap()),
            "OtpCode(***)"
        );
    }
}
