//! The OpenID Provider's signing keys and JWTs (SPEC §16): an RS256 key (RSA 2048, mandatory to
//! implement for OpenID Providers, OIDC Core §15.1) kept in the data directory like the Ed25519
//! key, and the Ed25519 key itself for clients that ask for EdDSA ID tokens.
//!
//! Tokens are compact JWS built and checked here with aws-lc-rs directly: the header is
//! always written by us, and verification accepts exactly one algorithm and one `typ` per token
//! kind (RFC 8725 §3.1, §3.11), so an ID token cannot be replayed as an access token, an access
//! token cannot pass as a refresh token, and a session token of the NocoBase API (issuer and
//! audience `smsauth`, no `typ` we accept) is none of them.

use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use smsauth_core::domain::oidc::IdTokenAlg;

/// The RS256 key file in the data directory (PKCS#8, mode 0600).
pub const RSA_KEY_FILE: &str = "oidc-rs256.pk8";

/// What a token is for, written as its header's `typ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `JWT`, the usual ID token type.
    Id,
    /// `at+jwt` (RFC 9068 §2.1).
    Access,
    /// `rt+jwt`: ours alone; relying parties treat it as opaque.
    Refresh,
}

impl TokenKind {
    fn typ(self) -> &'static str {
        match self {
            TokenKind::Id => "JWT",
            TokenKind::Access => "at+jwt",
            TokenKind::Refresh => "rt+jwt",
        }
    }
}

pub struct OidcKeys {
    rsa: RsaKeyPair,
    rsa_kid: String,
    rsa_jwk: Value,
    ed: Ed25519KeyPair,
    ed_kid: String,
}

impl std::fmt::Debug for OidcKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OidcKeys(rs256 {}, eddsa {})", self.rsa_kid, self.ed_kid)
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn generate_rsa() -> anyhow::Result<Vec<u8>> {
    let key = RsaKeyPair::generate(KeySize::Rsa2048)
        .map_err(|_| anyhow::anyhow!("cannot generate an RSA key"))?;
    let der = key
        .as_der()
        .map_err(|_| anyhow::anyhow!("cannot encode the RSA key"))?;
    Ok(der.as_ref().to_vec())
}

impl OidcKeys {
    /// Loads the RS256 key from `dir` (generating it on first start) and takes the Ed25519 key
    /// of the token codec.
    pub fn load(dir: &Path, ed25519_pkcs8: &[u8]) -> anyhow::Result<OidcKeys> {
        let der = crate::keys::load_or_create(&dir.join(RSA_KEY_FILE), generate_rsa)?;
        OidcKeys::from_der(&der, ed25519_pkcs8)
    }

    pub fn from_der(rsa_pkcs8: &[u8], ed25519_pkcs8: &[u8]) -> anyhow::Result<OidcKeys> {
        let rsa = RsaKeyPair::from_pkcs8(rsa_pkcs8).map_err(|e| {
            anyhow::anyhow!(
                "{RSA_KEY_FILE} is not a PKCS#8 RSA key ({e}); delete it to generate one"
            )
        })?;
        anyhow::ensure!(
            rsa.public_modulus_len() >= 256,
            "{RSA_KEY_FILE} holds an RSA key shorter than 2048 bits"
        );
        let public = rsa.public_key();
        let n = b64(public.modulus().big_endian_without_leading_zero());
        let e = b64(public.exponent().big_endian_without_leading_zero());
        let rsa_kid = crate::jwt::key_id(public.as_ref());
        let rsa_jwk =
            json!({ "kty": "RSA", "n": n, "e": e, "kid": rsa_kid, "alg": "RS256", "use": "sig" });
        let ed = Ed25519KeyPair::from_pkcs8(ed25519_pkcs8)
            .or_else(|_| Ed25519KeyPair::from_pkcs8_maybe_unchecked(ed25519_pkcs8))
            .map_err(|e| anyhow::anyhow!("the Ed25519 key is unusable: {e}"))?;
        let ed_kid = crate::jwt::key_id(ed.public_key().as_ref());
        Ok(OidcKeys {
            rsa,
            rsa_kid,
            rsa_jwk,
            ed,
            ed_kid,
        })
    }

    /// The RSA public key as a JWK, for the JWKS.
    pub fn rsa_jwk(&self) -> &Value {
        &self.rsa_jwk
    }

    /// The Ed25519 public key as a JWK.
    pub fn ed_jwk(&self) -> Value {
        json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(self.ed.public_key().as_ref()),
                "kid": self.ed_kid, "alg": "EdDSA", "use": "sig" })
    }

    /// Signs `claims` as a compact JWS.
    pub fn sign(&self, alg: IdTokenAlg, kind: TokenKind, claims: &Value) -> anyhow::Result<String> {
        let kid = match alg {
            IdTokenAlg::Rs256 => &self.rsa_kid,
            IdTokenAlg::EdDsa => &self.ed_kid,
        };
        let header = json!({ "alg": alg.as_str(), "typ": kind.typ(), "kid": kid });
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = match alg {
            IdTokenAlg::Rs256 => {
                let mut sig = vec![0u8; self.rsa.public_modulus_len()];
                self.rsa
                    .sign(
                        &signature::RSA_PKCS1_SHA256,
                        &aws_lc_rs::rand::SystemRandom::new(),
                        input.as_bytes(),
                        &mut sig,
                    )
                    .map_err(|_| anyhow::anyhow!("RSA signing failed"))?;
                sig
            }
            IdTokenAlg::EdDsa => self.ed.sign(input.as_bytes()).as_ref().to_vec(),
        };
        Ok(format!("{input}.{}", b64(&sig)))
    }

    /// Verifies one of our RS256 tokens of `kind` and returns its claims. Expiry and every
    /// other claim are the caller's to check.
    pub fn verify(&self, token: &str, kind: TokenKind) -> Option<Value> {
        let jws = Jws::parse(token)?;
        if jws.header.get("alg")?.as_str()? != "RS256"
            || jws.header.get("typ")?.as_str()? != kind.typ()
            || jws.header.get("kid")?.as_str()? != self.rsa_kid
        {
            return None;
        }
        self.rsa_signed(&jws).then(|| jws.claims()).flatten()
    }

    /// Reads the claims of an ID token we signed (either algorithm), ignoring its expiry: an
    /// `id_token_hint` at logout is usually expired (RP-Initiated Logout 1.0 §2).
    pub fn verify_id_token(&self, token: &str) -> Option<Value> {
        let jws = Jws::parse(token)?;
        if jws.header.get("typ")?.as_str()? != TokenKind::Id.typ() {
            return None;
        }
        let ok = match (
            jws.header.get("alg")?.as_str()?,
            jws.header.get("kid")?.as_str()?,
        ) {
            ("RS256", kid) if kid == self.rsa_kid => self.rsa_signed(&jws),
            ("EdDSA", kid) if kid == self.ed_kid => signature::UnparsedPublicKey::new(
                &signature::ED25519,
                self.ed.public_key().as_ref(),
            )
            .verify(jws.input.as_bytes(), &jws.signature)
            .is_ok(),
            _ => false,
        };
        ok.then(|| jws.claims()).flatten()
    }

    fn rsa_signed(&self, jws: &Jws<'_>) -> bool {
        signature::UnparsedPublicKey::new(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            self.rsa.public_key().as_ref(),
        )
        .verify(jws.input.as_bytes(), &jws.signature)
        .is_ok()
    }
}

/// A compact JWS split into its parts, its signature not yet checked.
struct Jws<'a> {
    header: Value,
    /// `header.payload`, what the signature covers.
    input: &'a str,
    payload: &'a str,
    signature: Vec<u8>,
}

impl<'a> Jws<'a> {
    fn parse(token: &'a str) -> Option<Jws<'a>> {
        // Our tokens are well under this; a longer input is not worth decoding.
        if token.len() > 8192 {
            return None;
        }
        let (input, s) = token.rsplit_once('.')?;
        let (h, payload) = input.split_once('.')?;
        if payload.contains('.') {
            return None;
        }
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
        Some(Jws {
            header,
            input,
            payload,
            signature: URL_SAFE_NO_PAD.decode(s).ok()?,
        })
    }

    fn claims(&self) -> Option<Value> {
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(self.payload).ok()?).ok()?;
        claims.is_object().then_some(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> OidcKeys {
        OidcKeys::from_der(
            &generate_rsa().unwrap(),
            &crate::keys::ed25519_pkcs8().unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn tokens_verify_only_as_their_kind() {
        let k = keys();
        let claims = json!({ "sub": "1" });
        let access = k
            .sign(IdTokenAlg::Rs256, TokenKind::Access, &claims)
            .unwrap();
        assert_eq!(k.verify(&access, TokenKind::Access), Some(claims.clone()));
        assert_eq!(k.verify(&access, TokenKind::Refresh), None);
        assert_eq!(k.verify(&access, TokenKind::Id), None);
        let id = k.sign(IdTokenAlg::EdDsa, TokenKind::Id, &claims).unwrap();
        assert_eq!(
            k.verify(&id, TokenKind::Id),
            None,
            "EdDSA is never an access token"
        );
        assert_eq!(k.verify_id_token(&id), Some(claims.clone()));
        let rs_id = k.sign(IdTokenAlg::Rs256, TokenKind::Id, &claims).unwrap();
        assert_eq!(k.verify_id_token(&rs_id), Some(claims));
    }

    #[test]
    fn tampered_and_foreign_tokens_are_refused() {
        let (a, b) = (keys(), keys());
        let t = a
            .sign(IdTokenAlg::Rs256, TokenKind::Access, &json!({"sub":"1"}))
            .unwrap();
        assert_eq!(b.verify(&t, TokenKind::Access), None);
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = b64(json!({"sub":"2"}).to_string().as_bytes());
        parts[1] = &forged;
        assert_eq!(a.verify(&parts.join("."), TokenKind::Access), None);
        let none = format!(
            "{}.{}.",
            b64(br#"{"alg":"none","typ":"at+jwt"}"#),
            b64(br#"{"sub":"1"}"#)
        );
        assert_eq!(a.verify(&none, TokenKind::Access), None);
        assert_eq!(a.verify("x.y", TokenKind::Access), None);
    }

    #[test]
    fn jwk_has_the_rsa_public_key() {
        let k = keys();
        let jwk = k.rsa_jwk();
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(jwk["n"].as_str().unwrap())
                .unwrap()
                .len(),
            256
        );
    }
}
