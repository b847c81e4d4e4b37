//! The token codec port: signs and verifies session tokens. The algorithm is chosen by the
//! implementation at start-up and pinned there; the core only sees claims.

use uuid::Uuid;

/// The claims of a session token (SPEC §5.2). `iat` and `exp` are seconds; `sign_in_time` is
/// milliseconds, as NocoBase writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub user_id: i64,
    pub iat: i64,
    pub exp: i64,
    pub sign_in_time: i64,
    pub jti: Uuid,
}

pub trait TokenCodec: Send + Sync {
    fn sign(&self, claims: &Claims) -> Result<String, anyhow::Error>;
    /// Checks signature, algorithm, issuer and audience, but not expiry: expired tokens must be
    /// readable so that they can be renewed (SPEC §5.4). `None` for anything unusable.
    fn verify(&self, token: &str) -> Option<Claims>;
}
