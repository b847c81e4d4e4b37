//! OpenID Provider values (SPEC §16): registered clients, scopes and authorization codes.
//!
//! Everything a client sends is parsed here into values that are valid by construction; the
//! protocol endpoints and the store only ever see those.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The scopes this provider knows; others in a request are ignored (RFC 6749 §3.3 lets the
/// server grant fewer than asked, and relying parties commonly ask for extras).
pub const SCOPES: [&str; 5] = ["openid", "profile", "phone", "email", "offline_access"];

/// How many redirect URIs one client may register: enough for staging and production hosts,
/// few enough that a list stays reviewable.
pub const MAX_REDIRECT_URIS: usize = 10;
const MAX_URI_LEN: usize = 2000;
const MAX_NAME_CHARS: usize = 100;

/// The algorithm a client's ID tokens are signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTokenAlg {
    /// Mandatory to implement for OpenID Providers (OIDC Core §15.1), and the only algorithm
    /// many relying parties accept.
    Rs256,
    EdDsa,
}

impl IdTokenAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            IdTokenAlg::Rs256 => "RS256",
            IdTokenAlg::EdDsa => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Option<IdTokenAlg> {
        match s {
            "RS256" => Some(IdTokenAlg::Rs256),
            "EdDSA" => Some(IdTokenAlg::EdDsa),
            _ => None,
        }
    }
}

/// A registered application.
#[derive(Debug, Clone, PartialEq)]
pub struct OidcClient {
    pub client_id: String,
    pub name: String,
    /// The keyed hash of the secret; `None` for public clients.
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
    /// Trusted by the operator: no consent page.
    pub first_party: bool,
    pub id_token_alg: IdTokenAlg,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The fields of a create or update request; `None` keeps the stored value (or the default).
#[derive(Debug, Clone, Default)]
pub struct OidcClientDraft {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub public: Option<bool>,
    pub first_party: Option<bool>,
    pub id_token_alg: Option<String>,
}

/// The field a refused draft got wrong (its wire name) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftError {
    pub field: &'static str,
}

/// A client's fields after validation, merged over `base` (an update) or the defaults.
pub struct ValidClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
    pub first_party: bool,
    pub id_token_alg: IdTokenAlg,
}

impl OidcClientDraft {
    pub fn validate(self, base: Option<&OidcClient>) -> Result<ValidClient, DraftError> {
        let name = match (self.name, base) {
            (Some(n), _) => n.trim().to_string(),
            (None, Some(b)) => b.name.clone(),
            (None, None) => String::new(),
        };
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(DraftError { field: "name" });
        }
        let redirect_uris = match (self.redirect_uris, base) {
            (Some(v), _) => v,
            (None, Some(b)) => b.redirect_uris.clone(),
            (None, None) => Vec::new(),
        };
        if redirect_uris.is_empty()
            || redirect_uris.len() > MAX_REDIRECT_URIS
            || !redirect_uris.iter().all(|u| is_registrable_uri(u))
        {
            return Err(DraftError {
                field: "redirectUris",
            });
        }
        let post_logout_redirect_uris = match (self.post_logout_redirect_uris, base) {
            (Some(v), _) => v,
            (None, Some(b)) => b.post_logout_redirect_uris.clone(),
            (None, None) => Vec::new(),
        };
        if post_logout_redirect_uris.len() > MAX_REDIRECT_URIS
            || !post_logout_redirect_uris
                .iter()
                .all(|u| is_registrable_uri(u))
        {
            return Err(DraftError {
                field: "postLogoutRedirectUris",
            });
        }
        let id_token_alg = match (self.id_token_alg, base) {
            (Some(a), _) => IdTokenAlg::parse(&a).ok_or(DraftError {
                field: "idTokenSignedResponseAlg",
            })?,
            (None, Some(b)) => b.id_token_alg,
            (None, None) => IdTokenAlg::Rs256,
        };
        Ok(ValidClient {
            name,
            redirect_uris: dedup(redirect_uris),
            post_logout_redirect_uris: dedup(post_logout_redirect_uris),
            public: self.public.or(base.map(|b| b.public)).unwrap_or(false),
            first_party: self
                .first_party
                .or(base.map(|b| b.first_party))
                .unwrap_or(false),
            id_token_alg,
        })
    }
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|u| seen.insert(u.clone()));
    v
}

/// An absolute `http`/`https` URI with a host and no fragment (RFC 6749 §3.1.2), of sane length.
/// Comparison at the endpoints is exact string equality (OAuth 2.0 Security BCP, RFC 9700
/// §4.1.3), so what is registered is what must be sent. `http` is accepted because relying
/// parties on a private network or on loopback (RFC 8252 §7.3) use it.
pub fn is_registrable_uri(uri: &str) -> bool {
    // ASCII only: a URI is sent back in a `Location` header, which carries no other bytes.
    if uri.len() > MAX_URI_LEN
        || !uri.is_ascii()
        || uri.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return false;
    }
    let Some((scheme, rest)) = uri.split_once("://") else {
        return false;
    };
    if !matches!(scheme, "http" | "https") || uri.contains('#') {
        return false;
    }
    let host = rest.split(['/', '?']).next().unwrap_or("");
    !host.is_empty() && !host.contains('@')
}

/// The known scopes of a request, in the order of [`SCOPES`], without duplicates.
pub fn parse_scope(scope: &str) -> Vec<&'static str> {
    let asked: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    SCOPES.into_iter().filter(|s| asked.contains(s)).collect()
}

/// Whether `granted` (a stored space-separated scope) covers every scope of `asked`.
pub fn covers(granted: &str, asked: &[&str]) -> bool {
    let granted: Vec<&str> = granted.split(' ').collect();
    asked.iter().all(|s| granted.contains(s))
}

/// An authorization code as stored (by its keyed hash, never the code).
#[derive(Debug, Clone, PartialEq)]
pub struct AuthCode {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: i64,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    /// The S256 challenge, when one was sent.
    pub code_challenge: Option<String>,
    pub auth_time: DateTime<Utc>,
    /// `sms` or `pwd` (RFC 8176).
    pub amr: String,
    /// The provider's browser session the code was issued in.
    pub sid: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// What presenting a code found.
#[derive(Debug, Clone, PartialEq)]
pub enum Redemption {
    /// First presentation: the code is consumed now.
    Fresh(Box<AuthCode>),
    /// Presented before: the grant it produced has been ended (RFC 6749 §4.1.2).
    Replayed,
    /// No such code.
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable_uris() {
        assert!(is_registrable_uri("https://app.example/cb"));
        assert!(is_registrable_uri("http://127.0.0.1:8080/cb?x=1"));
        assert!(!is_registrable_uri("https://app.example/cb#frag"));
        assert!(!is_registrable_uri("javascript:alert(1)"));
        assert!(!is_registrable_uri("ftp://app.example/"));
        assert!(!is_registrable_uri("https:///cb"));
        assert!(!is_registrable_uri("https://user@evil.example/"));
        assert!(!is_registrable_uri("https://app.example/a b"));
        assert!(!is_registrable_uri("/relative"));
        assert!(!is_registrable_uri("https://app.example/é"));
    }

    #[test]
    fn scopes_are_filtered_and_ordered() {
        assert_eq!(
            parse_scope("phone  openid unknown openid"),
            vec!["openid", "phone"]
        );
        assert!(covers("openid phone profile", &["openid", "phone"]));
        assert!(!covers("openid", &["openid", "phone"]));
    }

    #[test]
    fn drafts_merge_over_the_stored_client() {
        let draft = OidcClientDraft {
            name: Some(" Grafana ".into()),
            redirect_uris: Some(vec![
                "https://g.example/cb".into(),
                "https://g.example/cb".into(),
            ]),
            ..Default::default()
        };
        let v = draft.validate(None).unwrap();
        assert_eq!(v.name, "Grafana");
        assert_eq!(v.redirect_uris, vec!["https://g.example/cb"]);
        assert_eq!(v.id_token_alg, IdTokenAlg::Rs256);
        assert!(!v.public && !v.first_party);
        let bad = OidcClientDraft {
            name: Some("x".into()),
            redirect_uris: Some(vec![]),
            ..Default::default()
        };
        assert_eq!(bad.validate(None).err().unwrap().field, "redirectUris");
        let alg = OidcClientDraft {
            name: Some("x".into()),
            redirect_uris: Some(vec!["https://a.example/".into()]),
            id_token_alg: Some("none".into()),
            ..Default::default()
        };
        assert_eq!(
            alg.validate(None).err().unwrap().field,
            "idTokenSignedResponseAlg"
        );
    }
}
