//! Conformance stories for the OpenID Provider's storage (SPEC §16): clients, consents, codes
//! consumed once under concurrency, and grants that end with the session they came from.

use std::sync::Arc;

use chrono::Duration;
use smsauth_core::domain::oidc::{AuthCode, IdTokenAlg, OidcClient, Redemption};
use smsauth_core::ports::store::{Session, StoreError};
use uuid::Uuid;

use super::{Store, draft, now};

fn client(id: &str) -> OidcClient {
    OidcClient {
        client_id: id.into(),
        name: "Grafana".into(),
        secret_hash: Some("hash".into()),
        redirect_uris: vec!["https://g.example/cb".into()],
        post_logout_redirect_uris: vec![],
        public: false,
        first_party: true,
        id_token_alg: IdTokenAlg::Rs256,
        created_at: now(),
        updated_at: now(),
    }
}

fn code(hash: &str, client_id: &str, user_id: i64, sid: Uuid) -> AuthCode {
    AuthCode {
        code_hash: hash.into(),
        client_id: client_id.into(),
        user_id,
        redirect_uri: "https://g.example/cb".into(),
        scope: "openid phone".into(),
        nonce: Some("n".into()),
        code_challenge: None,
        auth_time: now(),
        amr: "sms".into(),
        sid,
        expires_at: now() + Duration::seconds(60),
    }
}

fn session(id: Uuid, user_id: i64, authenticator: &str, parent: Option<Uuid>) -> Session {
    Session {
        id,
        jti: Uuid::new_v4(),
        user_id,
        authenticator: authenticator.into(),
        issued_at: now(),
        sign_in_at: now(),
        parent,
    }
}

/// Clients round-trip, consents merge, codes are consumed once by one of many concurrent
/// presentations (a replay ends the grant), and ending a session ends its grants.
pub async fn oidc_clients_codes_and_grants<S: Store>(store: Arc<S>) {
    let user = store
        .create_user(draft("olga", None, None), now())
        .await
        .unwrap();
    let mut c = client("oc_1");
    store.create_client(&c).await.unwrap();
    assert!(matches!(
        store.create_client(&c).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.client("oc_1").await.unwrap(), Some(c.clone()));
    c.name = "Grafana Prod".into();
    c.id_token_alg = IdTokenAlg::EdDsa;
    c.redirect_uris.push("https://g2.example/cb".into());
    store.update_client(&c).await.unwrap();
    assert_eq!(store.clients().await.unwrap(), vec![c.clone()]);
    assert!(matches!(
        store.update_client(&client("oc_none")).await,
        Err(StoreError::NotFound)
    ));

    assert_eq!(store.consent(user.id, "oc_1").await.unwrap(), None);
    store
        .save_consent(user.id, "oc_1", "openid", now())
        .await
        .unwrap();
    store
        .save_consent(user.id, "oc_1", "openid phone", now())
        .await
        .unwrap();
    assert_eq!(
        store.consent(user.id, "oc_1").await.unwrap().as_deref(),
        Some("openid phone")
    );

    // The browser session the code is issued in.
    let browser = Uuid::new_v4();
    let browser_session = session(browser, user.id, "sms", None);
    store
        .insert_session(browser_session.clone(), now() - Duration::days(7))
        .await
        .unwrap();
    store
        .insert_code(&code("h1", "oc_1", user.id, browser))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move { s.redeem_code("h1", now(), Uuid::new_v4()).await })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let fresh: Vec<usize> = answers
        .iter()
        .enumerate()
        .filter(|(_, a)| matches!(a, Ok(Redemption::Fresh(_))))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(fresh.len(), 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .filter(|a| !matches!(a, Ok(Redemption::Fresh(_))))
            .all(|a| matches!(a, Ok(Redemption::Replayed)))
    );
    let Ok(Redemption::Fresh(got)) = &answers[fresh[0]] else {
        unreachable!()
    };
    assert_eq!(**got, code("h1", "oc_1", user.id, browser));
    assert!(store.code_replayed("h1").await.unwrap());
    assert_eq!(
        store
            .redeem_code("nope", now(), Uuid::new_v4())
            .await
            .unwrap(),
        Redemption::Unknown
    );

    // A replay after the grant exists ends it.
    store
        .insert_code(&code("h2", "oc_1", user.id, browser))
        .await
        .unwrap();
    let grant = Uuid::new_v4();
    assert!(matches!(
        store.redeem_code("h2", now(), grant).await.unwrap(),
        Redemption::Fresh(_)
    ));
    let g = session(grant, user.id, "oidc:oc_1", Some(browser));
    store
        .insert_session(g.clone(), now() - Duration::days(7))
        .await
        .unwrap();
    assert!(!store.code_replayed("h2").await.unwrap());
    assert!(store.token_state(g.jti).await.unwrap().current);
    assert_eq!(
        store
            .redeem_code("h2", now(), Uuid::new_v4())
            .await
            .unwrap(),
        Redemption::Replayed
    );
    assert!(!store.token_state(g.jti).await.unwrap().current);

    // Grants end with the browser session, by its token or by its id.
    let (g1, g2) = (
        session(Uuid::new_v4(), user.id, "oidc:oc_1", Some(browser)),
        session(Uuid::new_v4(), user.id, "oidc:oc_1", Some(browser)),
    );
    for g in [&g1, &g2] {
        store
            .insert_session(g.clone(), now() - Duration::days(7))
            .await
            .unwrap();
    }
    let found = store.session(g1.jti).await.unwrap().unwrap();
    assert_eq!((found.id, found.parent), (g1.id, Some(browser)));
    store.end_session(browser_session.jti).await.unwrap();
    assert!(!store.token_state(g1.jti).await.unwrap().current);
    assert!(!store.token_state(g2.jti).await.unwrap().current);
    let other = Uuid::new_v4();
    store
        .insert_session(
            session(other, user.id, "sms", None),
            now() - Duration::days(7),
        )
        .await
        .unwrap();
    let child = session(Uuid::new_v4(), user.id, "oidc:oc_1", Some(other));
    store
        .insert_session(child.clone(), now() - Duration::days(7))
        .await
        .unwrap();
    store.end_session_by_id(other).await.unwrap();
    assert!(!store.token_state(child.jti).await.unwrap().current);
    // No grant can be started from a session that has ended.
    let orphan = session(Uuid::new_v4(), user.id, "oidc:oc_1", Some(other));
    assert!(matches!(
        store
            .insert_session(orphan.clone(), now() - Duration::days(7))
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(!store.token_state(orphan.jti).await.unwrap().current);

    // Deleting the client ends its grants, consents and codes.
    let last = session(Uuid::new_v4(), user.id, "oidc:oc_1", None);
    store
        .insert_session(last.clone(), now() - Duration::days(7))
        .await
        .unwrap();
    store
        .insert_code(&code("h3", "oc_1", user.id, browser))
        .await
        .unwrap();
    store.delete_client("oc_1").await.unwrap();
    assert!(!store.token_state(last.jti).await.unwrap().current);
    assert_eq!(store.consent(user.id, "oc_1").await.unwrap(), None);
    assert_eq!(
        store
            .redeem_code("h3", now(), Uuid::new_v4())
            .await
            .unwrap(),
        Redemption::Unknown
    );
    assert!(matches!(
        store.delete_client("oc_1").await,
        Err(StoreError::NotFound)
    ));

    // Expired codes are purged, except a redeemed one whose grant lives: its late replay
    // still ends the grant.
    store.create_client(&client("oc_2")).await.unwrap();
    let browser2 = session(Uuid::new_v4(), user.id, "sms", None);
    store
        .insert_session(browser2.clone(), now() - Duration::days(7))
        .await
        .unwrap();
    for hash in ["h4", "h5"] {
        store
            .insert_code(&code(hash, "oc_2", user.id, browser2.id))
            .await
            .unwrap();
    }
    let grant = Uuid::new_v4();
    assert!(matches!(
        store.redeem_code("h5", now(), grant).await.unwrap(),
        Redemption::Fresh(_)
    ));
    let g = session(grant, user.id, "oidc:oc_2", Some(browser2.id));
    store
        .insert_session(g.clone(), now() - Duration::days(7))
        .await
        .unwrap();
    store
        .purge_codes(now() + Duration::seconds(61))
        .await
        .unwrap();
    assert_eq!(
        store
            .redeem_code("h4", now(), Uuid::new_v4())
            .await
            .unwrap(),
        Redemption::Unknown
    );
    let later = now() + Duration::seconds(3600);
    assert_eq!(
        store
            .redeem_code("h5", later, Uuid::new_v4())
            .await
            .unwrap(),
        Redemption::Replayed
    );
    assert!(!store.token_state(g.jti).await.unwrap().current);
    // Once the grant is gone, so is its code.
    store.purge_codes(later).await.unwrap();
    assert_eq!(
        store
            .redeem_code("h5", later, Uuid::new_v4())
            .await
            .unwrap(),
        Redemption::Unknown
    );
}
