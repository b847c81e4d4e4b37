//! The token codec: JWTs signed with Ed25519 (default) or HS256. Verification accepts exactly
//! the configured algorithm (RFC 8725 §3.1: never trust the token's own `alg`), so `none`, a
//! switch to HS256 with the public key as secret, or any other algorithm is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use smsauth_core::ports::tokens::{Claims, TokenCodec};
use uuid::Uuid;

const ISSUER: &str = "smsauth";
const AUDIENCE: &str = "smsauth";

/// The JSON claims; names follow NocoBase (`userId`, `temp`, `signInTime`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireClaims {
    user_id: i64,
    temp: bool,
    iat: i64,
    sign_in_time: i64,
    jti: Uuid,
    exp: i64,
    sub: String,
    iss: String,
    aud: String,
}

pub struct JwtCodec {
    header: Header,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Public keys of earlier signing keys (`smsauth keys rotate`), by `kid`, still trusted until
    /// the tokens they signed have expired.
    retired: Vec<(String, DecodingKey)>,
    validation: Validation,
    jwks: Option<Value>,
    /// Tokens whose signature was already checked, by SHA-256 of the whole token.
    verified: VerifiedTokens,
}

/// Signature checks already done. A client presents the same token on every request, and an
/// Ed25519 verification is most of the CPU of `auth:check`; the answer for a given token never
/// changes while the process runs (its keys are fixed at start-up), so it is kept. Expiry,
/// blacklist and session state are not part of this answer: they are checked on every request.
/// The map is keyed by a digest, so it holds no token, and is emptied when full.
#[derive(Default)]
struct VerifiedTokens(std::sync::Mutex<std::collections::HashMap<[u8; 32], Claims>>);

const VERIFIED_CAPACITY: usize = 50_000;

impl VerifiedTokens {
    fn key(token: &str) -> [u8; 32] {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(digest.as_ref());
        key
    }

    fn get(&self, key: &[u8; 32]) -> Option<Claims> {
        let map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(key).cloned()
    }

    fn put(&self, key: [u8; 32], claims: Claims) {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= VERIFIED_CAPACITY {
            map.clear();
        }
        map.insert(key, claims);
    }
}

/// An earlier Ed25519 signing key's public half, kept by `smsauth keys rotate`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetiredKey {
    pub kid: String,
    /// The raw 32-byte public key, base64url (the JWK `x`).
    pub x: String,
    /// Unix seconds after which no token it signed can be valid or renewed.
    pub keep_until: i64,
}

impl JwtCodec {
    /// Ed25519 from a PKCS#8 document.
    pub fn ed25519(pkcs8: &[u8]) -> anyhow::Result<JwtCodec> {
        JwtCodec::ed25519_with_retired(pkcs8, &[])
    }

    /// Ed25519 signing with `pkcs8`; tokens of the `retired` keys still verify, and their public
    /// keys stay in the JWKS, so a rotation signs nobody out.
    pub fn ed25519_with_retired(pkcs8: &[u8], retired: &[RetiredKey]) -> anyhow::Result<JwtCodec> {
        let (public, kid) = ed25519_public(pkcs8)?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.clone());
        let jwk = |x: &str, kid: &str| json!({ "kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig" });
        let mut keys = vec![jwk(&URL_SAFE_NO_PAD.encode(&public), &kid)];
        let mut old = Vec::new();
        for r in retired.iter().filter(|r| r.kid != kid) {
            let raw = URL_SAFE_NO_PAD
                .decode(&r.x)
                .ok()
                .filter(|raw| raw.len() == 32)
                .ok_or_else(|| anyhow::anyhow!("retired key {} is unreadable", r.kid))?;
            keys.push(jwk(&r.x, &r.kid));
            old.push((r.kid.clone(), DecodingKey::from_ed_der(&raw)));
        }
        Ok(JwtCodec {
            header,
            encoding: EncodingKey::from_ed_der(pkcs8),
            decoding: DecodingKey::from_ed_der(&public),
            retired: old,
            validation: validation(Algorithm::EdDSA),
            jwks: Some(json!({ "keys": keys })),
            verified: VerifiedTokens::default(),
        })
    }

    /// HS256 with a shared secret (at least 32 bytes, checked by the caller).
    pub fn hs256(secret: &[u8]) -> JwtCodec {
        JwtCodec {
            header: Header::new(Algorithm::HS256),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            retired: Vec::new(),
            validation: validation(Algorithm::HS256),
            jwks: None,
            verified: VerifiedTokens::default(),
        }
    }

    /// The JWKS document, for EdDSA.
    pub fn jwks(&self) -> Option<Value> {
        self.jwks.clone()
    }
}

/// The raw public key and key id of a PKCS#8 Ed25519 key.
pub fn ed25519_public(pkcs8: &[u8]) -> anyhow::Result<(Vec<u8>, String)> {
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8)
        .map_err(|e| anyhow::anyhow!("the Ed25519 signing key is unreadable: {e}"))?;
    let public = pair.public_key().as_ref().to_vec();
    let kid = key_id(&public);
    Ok((public, kid))
}

/// The key id: the first 12 bytes of the public key's SHA-256 (through aws-lc-rs, already
/// linked for the signatures), base64url.
pub(crate) fn key_id(public: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, public);
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..12])
}

fn validation(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    // Expiry is checked by the session rules against the injectable clock (renewal needs to read
    // expired tokens); everything else is checked here.
    v.validate_exp = false;
    v.leeway = 0;
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[AUDIENCE]);
    v
}

impl TokenCodec for JwtCodec {
    fn sign(&self, c: &Claims) -> anyhow::Result<String> {
        let wire = WireClaims {
            user_id: c.user_id,
            temp: true,
            iat: c.iat,
            sign_in_time: c.sign_in_time,
            jti: c.jti,
            exp: c.exp,
            sub: c.user_id.to_string(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        };
        Ok(jsonwebtoken::encode(&self.header, &wire, &self.encoding)?)
    }

    fn verify(&self, token: &str) -> Option<Claims> {
        if token.len() > 4096 {
            return None;
        }
        let digest = VerifiedTokens::key(token);
        if let Some(claims) = self.verified.get(&digest) {
            return Some(claims);
        }
        let claims = self.verify_signature(token)?;
        self.verified.put(digest, claims.clone());
        Some(claims)
    }
}

impl JwtCodec {
    fn verify_signature(&self, token: &str) -> Option<Claims> {
        // The `kid` only picks among our own keys; the algorithm stays pinned by `validation`.
        let kid = jsonwebtoken::decode_header(token).ok()?.kid;
        let key = match kid {
            Some(kid) if Some(&kid) != self.header.kid.as_ref() => {
                &self.retired.iter().find(|(k, _)| *k == kid)?.1
            }
            _ => &self.decoding,
        };
        let data = jsonwebtoken::decode::<WireClaims>(token, key, &self.validation).ok()?;
        let w = data.claims;
        (w.sub == w.user_id.to_string()).then_some(Claims {
            user_id: w.user_id,
            iat: w.iat,
            exp: w.exp,
            sign_in_time: w.sign_in_time,
            jti: w.jti,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            user_id: 7,
            iat: 1_700_000_000,
            exp: 1_700_086_400,
            sign_in_time: 1_700_000_000_000,
            jti: Uuid::nil(),
        }
    }

    fn ed() -> JwtCodec {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let doc = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        JwtCodec::ed25519(doc.as_ref()).unwrap()
    }

    #[test]
    fn round_trip_and_determinism() {
        let codec = ed();
        let t = codec.sign(&claims()).unwrap();
        assert_eq!(codec.verify(&t), Some(claims()));
        assert_eq!(
            t,
            codec.sign(&claims()).unwrap(),
            "renewal relies on deterministic signing"
        );
    }

    #[test]
    fn algorithm_is_pinned() {
        let ed = ed();
        let hs = JwtCodec::hs256(&[1u8; 32]);
        let hs_token = hs.sign(&claims()).unwrap();
        assert!(ed.verify(&hs_token).is_none());
        assert!(hs.verify(&ed.sign(&claims()).unwrap()).is_none());
        // alg:none with the same claims.
        let body = hs_token.split('.').nth(1).unwrap();
        let none = format!(
            "{}.{body}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#)
        );
        assert!(hs.verify(&none).is_none());
        assert!(ed.verify(&none).is_none());
    }
}
