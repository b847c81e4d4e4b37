//! Conformance stories for the store ports. Each backend's own test file opens a fresh store and
//! runs every story against it, so the backends are held to one behaviour, including under
//! concurrency. The stories use only the ports, never a backend's SQL.

// A failed expectation is a failed test here, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use smsauth_core::domain::authenticator::{AuthType, AuthenticatorDraft};
use smsauth_core::domain::otp::{CodeHasher, OtpAction, OtpCode};
use smsauth_core::domain::sms_policy::SmsPolicy;
use smsauth_core::domain::test_number::TestNumberDraft;
use smsauth_core::domain::token_policy::TokenPolicy;
use smsauth_core::domain::user::UserDraft;
use smsauth_core::domain::verifier::VerifierDraft;
use smsauth_core::ports::audit::{AuditEvent, AuditFilter, AuditStore};
use smsauth_core::ports::counters::{Count, Counted, SendCounters};
use smsauth_core::ports::oidc::OidcStore;
use smsauth_core::ports::otp_store::{
    Attempt, AttemptOutcome, IssueOutcome, NewOtp, OtpStore, ReceiptTarget, SendOutcome,
    ThrottlePolicy,
};
use smsauth_core::ports::store::{
    ConfigStore, Conflict, PageRequest, Renewal, Session, SessionStore, StoreError, UserFilter,
    UserStore,
};
use uuid::Uuid;

mod oidc;

pub use oidc::oidc_clients_codes_and_grants;

/// What a store must implement to be held to these stories.
pub trait Store:
    UserStore + ConfigStore + SessionStore + OtpStore + SendCounters + AuditStore + OidcStore + 'static
{
}
impl<T> Store for T where
    T: UserStore
        + ConfigStore
        + SessionStore
        + OtpStore
        + SendCounters
        + AuditStore
        + OidcStore
        + 'static
{
}

const PHONE: &str = "+8613800138000";

fn sent(message_id: &str) -> SendOutcome {
    SendOutcome::Sent {
        via: "v".into(),
        message_id: Some(message_id.into()),
    }
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn sms_authenticator(name: &str, enabled: bool) -> AuthenticatorDraft {
    AuthenticatorDraft {
        name: Some(name.into()),
        auth_type: Some(AuthType::Sms),
        enabled: Some(enabled),
        ..Default::default()
    }
}

/// Twelve concurrent first sign-ins of one phone create one user, one link and one role.
pub async fn concurrent_first_sign_ins_create_one_user<S: Store>(store: Arc<S>) {
    store
        .create_authenticator(sms_authenticator("sms", true), now())
        .await
        .unwrap();
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move { s.sign_up_by_phone("sms", PHONE, now()).await.unwrap().id })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let page = PageRequest {
        page: 1,
        page_size: 50,
    };
    let (users, count) = store.list_users(UserFilter::default(), page).await.unwrap();
    assert_eq!(count, 1, "{users:?}");
    assert_eq!(users[0].roles.len(), 1);
    let linked = store.linked_user("sms", PHONE).await.unwrap().unwrap();
    assert_eq!(linked.id, ids[0]);
}

/// Ten concurrent issues for one phone leave one live code; ten concurrent correct submissions
/// of it have exactly one winner.
pub async fn concurrent_issues_and_attempts_have_one_winner<S: Store>(store: Arc<S>) {
    let hasher = CodeHasher::new(vec![1; 32]);
    let code = OtpCode::parse("123456").unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let s = store.clone();
            let otp = NewOtp {
                id: Uuid::new_v4(),
                action: OtpAction::SignIn,
                receiver: PHONE.into(),
                verifier: "v".into(),
                code_hash: hasher.hash(OtpAction::SignIn, PHONE, &code),
                expires_at: now() + Duration::seconds(120),
                client_ip: "127.0.0.1".into(),
            };
            tokio::spawn(async move {
                let id = otp.id;
                let out = s.issue(otp, now()).await.unwrap();
                if out == IssueOutcome::Created {
                    s.mark_delivery(id, sent("m-1"), now()).await.unwrap();
                }
                out
            })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        if t.await.unwrap() == IssueOutcome::Created {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    let attempts: Vec<_> = (0..10)
        .map(|_| {
            let s = store.clone();
            let a = Attempt {
                action: OtpAction::SignIn,
                receiver: PHONE.into(),
                verifier: "v".into(),
                candidate: hasher.hash(OtpAction::SignIn, PHONE, &code),
            };
            tokio::spawn(async move {
                s.attempt(a, ThrottlePolicy::default(), now())
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut wins = 0;
    for t in attempts {
        if t.await.unwrap() == AttemptOutcome::Consumed {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
}

/// Concurrent wrong codes are each counted once, on the code and on the phone's throttle:
/// with five attempts per code, twelve at once give five `Wrong` and seven `Exhausted`, and
/// the throttle then holds exactly those five failures, whether its row was created by the
/// burst or already there (the eighth failure overall starts a delay, no sooner and no later).
pub async fn concurrent_wrong_codes_count_exactly<S: Store>(store: Arc<S>) {
    let hasher = CodeHasher::new(vec![2; 32]);
    let policy = ThrottlePolicy {
        free_failures: 8,
        first_delay_secs: 30,
        max_delay_secs: 3600,
        daily_cap: 100,
        per_code_attempts: 5,
    };
    let right = OtpCode::parse("123456").unwrap();
    let issue = |store: Arc<S>| {
        let otp = new_otp(&hasher, PHONE, &right, "127.0.0.1");
        async move {
            let id = otp.id;
            assert_eq!(
                store.issue(otp, now()).await.unwrap(),
                IssueOutcome::Created
            );
            store.mark_delivery(id, sent("m-w"), now()).await.unwrap();
        }
    };
    let burst = |n: usize, code: &str| {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let s = store.clone();
                let a = attempt(&hasher, PHONE, code);
                tokio::spawn(async move { s.attempt(a, policy, now()).await.unwrap() })
            })
            .collect();
        async move {
            let mut outcomes = Vec::new();
            for t in tasks {
                outcomes.push(t.await.unwrap());
            }
            outcomes
        }
    };
    let count = |outcomes: &[AttemptOutcome], want: AttemptOutcome| {
        outcomes.iter().filter(|o| **o == want).count()
    };
    issue(store.clone()).await;
    let first = burst(12, "654321").await;
    assert_eq!(count(&first, AttemptOutcome::Wrong), 5, "{first:?}");
    assert_eq!(count(&first, AttemptOutcome::Exhausted), 7, "{first:?}");
    issue(store.clone()).await;
    let second = burst(3, "654321").await;
    assert_eq!(count(&second, AttemptOutcome::Wrong), 3, "{second:?}");
    let after = burst(1, "123456").await;
    assert!(
        matches!(after[..], [AttemptOutcome::Blocked { .. }]),
        "eight failures start the delay: {after:?}"
    );
}

/// With two enabled authenticators, disabling both at once leaves exactly one enabled: the
/// last-enabled rule holds under concurrency, not only in sequence.
pub async fn concurrent_disables_keep_one_authenticator_enabled<S: Store>(store: Arc<S>) {
    let extra = store
        .create_authenticator(sms_authenticator("sms", true), now())
        .await
        .unwrap();
    let basic = store.authenticator_by_name("basic").await.unwrap().unwrap();
    let tasks: Vec<_> = [basic.id, extra.id]
        .into_iter()
        .map(|id| {
            let s = store.clone();
            let draft = AuthenticatorDraft {
                enabled: Some(false),
                ..Default::default()
            };
            tokio::spawn(async move { s.update_authenticator(id, draft, now()).await })
        })
        .collect();
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => {}
            Err(StoreError::Conflict(Conflict::LastAuthenticator)) => refused += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(refused, 1);
    let enabled = store
        .authenticators()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.enabled)
        .count();
    assert_eq!(enabled, 1);
}

fn page(page: u32, page_size: u32) -> PageRequest {
    PageRequest { page, page_size }
}

fn draft(username: &str, phone: Option<&str>, roles: Option<&[&str]>) -> UserDraft {
    UserDraft {
        nickname: Some(username.to_uppercase()),
        username: Some(username.into()),
        email: Some(format!("{username}@example.com")),
        phone: phone.map(str::to_string),
        password_hash: Some(format!("hash-of-{username}")),
        roles: roles.map(|r| r.iter().map(|s| s.to_string()).collect()),
    }
}

/// Users: create with roles, find by id, account and phone, update (set, keep, clear), unique
/// fields named in the conflict, unknown roles refused, search and paging, delete.
pub async fn users_round_trip<S: Store>(store: Arc<S>) {
    let ada = store
        .create_user(draft("ada", Some(PHONE), Some(&["admin"])), now())
        .await
        .unwrap();
    assert_eq!(
        ada.roles
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["admin"]
    );
    let bob = store
        .create_user(draft("bob", None, None), now())
        .await
        .unwrap();
    assert_eq!(bob.roles[0].name, "member", "the default role");
    assert_eq!(store.user(ada.id).await.unwrap().unwrap(), ada);
    // A user is read with every role (in name order), or with none.
    let cy = store
        .create_user(draft("cy", None, Some(&["member", "admin"])), now())
        .await
        .unwrap();
    let read = store.user(cy.id).await.unwrap().unwrap();
    assert_eq!(
        read.roles
            .iter()
            .map(|r| (r.name.as_str(), r.title.as_str()))
            .collect::<Vec<_>>(),
        [("admin", "Admin"), ("member", "Member")]
    );
    assert_eq!(read, cy);
    let dee = store
        .create_user(draft("dee", None, Some(&[])), now())
        .await
        .unwrap();
    assert!(dee.roles.is_empty());
    assert_eq!(store.user(dee.id).await.unwrap().unwrap(), dee);
    assert!(store.user(i64::MAX).await.unwrap().is_none());
    store.delete_user(cy.id).await.unwrap();
    store.delete_user(dee.id).await.unwrap();
    assert_eq!(
        store.user_by_phone(PHONE).await.unwrap().unwrap().id,
        ada.id
    );
    for account in ["ada", "ada@example.com"] {
        let (user, hash) = store.user_by_account(account).await.unwrap().unwrap();
        assert_eq!(user.id, ada.id);
        assert_eq!(hash.as_deref(), Some("hash-of-ada"));
    }
    assert!(store.user_by_account("nobody").await.unwrap().is_none());
    assert_eq!(
        store.password_hash(bob.id).await.unwrap().as_deref(),
        Some("hash-of-bob")
    );
    for (dup, field) in [
        (
            UserDraft {
                username: Some("ada".into()),
                ..Default::default()
            },
            "username",
        ),
        (
            UserDraft {
                username: Some("carl".into()),
                phone: Some(PHONE.into()),
                ..Default::default()
            },
            "phone",
        ),
    ] {
        match store.create_user(dup, now()).await {
            Err(StoreError::Conflict(Conflict::Duplicate(f))) => assert_eq!(f, field),
            other => panic!("expected a duplicate {field}: {other:?}"),
        }
    }
    match store
        .create_user(draft("dan", None, Some(&["emperor"])), now())
        .await
    {
        Err(StoreError::Conflict(Conflict::UnknownRole)) => {}
        other => panic!("expected an unknown role: {other:?}"),
    }
    let later = now() + Duration::seconds(5);
    let updated = store
        .update_user(
            bob.id,
            UserDraft {
                nickname: Some(String::new()),
                phone: Some("+8613900139000".into()),
                roles: Some(vec!["admin".into(), "member".into()]),
                ..Default::default()
            },
            later,
        )
        .await
        .unwrap();
    assert_eq!(updated.nickname, None, "Some(\"\") clears");
    assert_eq!(updated.username.as_deref(), Some("bob"), "None keeps");
    assert_eq!(updated.phone.as_deref(), Some("+8613900139000"));
    assert_eq!(updated.roles.len(), 2);
    assert_eq!(updated.updated_at, later);
    assert!(matches!(
        store.update_user(9_999, UserDraft::default(), later).await,
        Err(StoreError::NotFound)
    ));
    store.set_password(bob.id, "new-hash", later).await.unwrap();
    assert_eq!(
        store.password_hash(bob.id).await.unwrap().as_deref(),
        Some("new-hash")
    );
    assert_eq!(
        store
            .user(bob.id)
            .await
            .unwrap()
            .unwrap()
            .password_changed_at,
        Some(later)
    );
    assert!(store.has_role_holder("admin").await.unwrap());
    assert!(!store.has_role_holder("root").await.unwrap());
    let search = UserFilter {
        search: Some("8000".into()),
    };
    let (found, count) = store.list_users(search, page(1, 10)).await.unwrap();
    assert_eq!((count, found[0].id), (1, ada.id));
    let (first, count) = store
        .list_users(UserFilter::default(), page(1, 1))
        .await
        .unwrap();
    let (second, _) = store
        .list_users(UserFilter::default(), page(2, 1))
        .await
        .unwrap();
    assert_eq!(count, 2);
    assert_ne!(first[0].id, second[0].id);
    store.delete_user(ada.id).await.unwrap();
    assert!(store.user(ada.id).await.unwrap().is_none());
    assert!(matches!(
        store.delete_user(ada.id).await,
        Err(StoreError::NotFound)
    ));
}

/// Authenticator links and bound verifiers: a link follows its phone to another user, a second
/// bind of one verifier is refused, unbinding removes it.
pub async fn links_and_bound_verifiers<S: Store>(store: Arc<S>) {
    store
        .create_authenticator(sms_authenticator("sms", true), now())
        .await
        .unwrap();
    let first = store.sign_up_by_phone("sms", PHONE, now()).await.unwrap();
    assert_eq!(first.phone.as_deref(), Some(PHONE));
    assert_eq!(
        store.linked_user("sms", PHONE).await.unwrap().unwrap().id,
        first.id
    );
    let other = store
        .create_user(draft("eve", None, None), now())
        .await
        .unwrap();
    store.link("sms", other.id, PHONE, now()).await.unwrap();
    assert_eq!(
        store.linked_user("sms", PHONE).await.unwrap().unwrap().id,
        other.id
    );
    store
        .create_verifier(sms_verifier("v1", false), now())
        .await
        .unwrap();
    store
        .bind_verifier("v1", other.id, PHONE, now())
        .await
        .unwrap();
    match store
        .bind_verifier("v1", other.id, "+8613900139000", now())
        .await
    {
        Err(StoreError::Conflict(Conflict::AlreadyBound)) => {}
        other => panic!("expected already bound: {other:?}"),
    }
    let bound = store.bound_verifiers(other.id).await.unwrap();
    assert_eq!(bound.len(), 1);
    assert_eq!(
        (bound[0].verifier.as_str(), bound[0].uuid.as_str()),
        ("v1", PHONE)
    );
    store.unbind_verifier("v1", other.id).await.unwrap();
    assert!(store.bound_verifiers(other.id).await.unwrap().is_empty());
}

fn sms_verifier(name: &str, is_default: bool) -> VerifierDraft {
    VerifierDraft {
        name: Some(name.into()),
        title: Some(name.to_uppercase()),
        verification_type: Some("sms-otp".into()),
        is_default: Some(is_default),
        options: Some(serde_json::json!({"provider": "console", "settings": {}})),
        ..Default::default()
    }
}

/// Configuration: authenticator names unique, order kept and moved, one default verifier per
/// type, a verifier in use cannot go, the token policy round-trips.
pub async fn configuration_round_trip<S: Store>(store: Arc<S>) {
    let a = store
        .create_authenticator(sms_authenticator("a", true), now())
        .await
        .unwrap();
    let b = store
        .create_authenticator(sms_authenticator("b", false), now())
        .await
        .unwrap();
    match store
        .create_authenticator(sms_authenticator("a", true), now())
        .await
    {
        Err(StoreError::Conflict(Conflict::Duplicate("name"))) => {}
        other => panic!("expected a duplicate name: {other:?}"),
    }
    let names = |list: Vec<smsauth_core::domain::authenticator::Authenticator>| {
        list.into_iter().map(|a| a.name).collect::<Vec<_>>()
    };
    assert_eq!(
        names(store.authenticators().await.unwrap()),
        ["basic", "a", "b"]
    );
    store.move_authenticator(b.id, a.id, now()).await.unwrap();
    assert_eq!(
        names(store.authenticators().await.unwrap()),
        ["basic", "b", "a"]
    );
    let renamed = store
        .update_authenticator(
            a.id,
            AuthenticatorDraft {
                title: Some("Renamed".into()),
                options: Some(
                    serde_json::json!({"public": {"verifier": "v2", "autoSignup": true}}),
                ),
                ..Default::default()
            },
            now(),
        )
        .await
        .unwrap();
    assert_eq!(renamed.title.as_deref(), Some("Renamed"));
    assert_eq!(store.authenticator(a.id).await.unwrap().unwrap(), renamed);

    store
        .create_verifier(sms_verifier("v1", true), now())
        .await
        .unwrap();
    store
        .create_verifier(sms_verifier("v2", true), now())
        .await
        .unwrap();
    let defaults: Vec<String> = store
        .verifiers()
        .await
        .unwrap()
        .into_iter()
        .filter(|v| v.is_default)
        .map(|v| v.name)
        .collect();
    assert_eq!(defaults, ["v2"], "one default per type");
    assert_eq!(
        store.default_sms_verifier().await.unwrap().unwrap().name,
        "v2"
    );
    match store.delete_verifier("v2").await {
        Err(StoreError::Conflict(Conflict::VerifierInUse(by))) => assert_eq!(by, "a"),
        other => panic!("expected in use: {other:?}"),
    }
    store.delete_verifier("v1").await.unwrap();
    assert!(store.verifier("v1").await.unwrap().is_none());
    store.delete_authenticator(b.id).await.unwrap();
    assert!(store.authenticator(b.id).await.unwrap().is_none());

    let policy = TokenPolicy {
        token_ttl: 60,
        session_ttl: 3_600,
        renew_limit: 120,
    };
    store.set_token_policy(policy, now()).await.unwrap();
    assert_eq!(store.token_policy().await.unwrap(), policy);
}

fn new_otp(hasher: &CodeHasher, receiver: &str, code: &OtpCode, ip: &str) -> NewOtp {
    NewOtp {
        id: Uuid::new_v4(),
        action: OtpAction::SignIn,
        receiver: receiver.into(),
        verifier: "v".into(),
        code_hash: hasher.hash(OtpAction::SignIn, receiver, code),
        expires_at: now() + Duration::seconds(120),
        client_ip: ip.into(),
    }
}

fn attempt(hasher: &CodeHasher, receiver: &str, code: &str) -> Attempt {
    let code = OtpCode::parse(code).unwrap();
    Attempt {
        action: OtpAction::SignIn,
        receiver: receiver.into(),
        verifier: "v".into(),
        candidate: hasher.hash(OtpAction::SignIn, receiver, &code),
    }
}

/// Codes: one live code per phone, a `pending` code verifies (the send may have been lost in a
/// crash), wrong codes exhaust a code and then delay the phone, an expired code is not guessed
/// against, purged codes are gone.
pub async fn codes_and_throttle<S: Store>(store: Arc<S>) {
    let hasher = CodeHasher::new(vec![2; 32]);
    let code = OtpCode::parse("246810").unwrap();
    let first = new_otp(&hasher, PHONE, &code, "198.51.100.1");
    assert_eq!(
        store.issue(first, now()).await.unwrap(),
        IssueOutcome::Created
    );
    assert_eq!(
        store
            .live_code(OtpAction::SignIn, PHONE, now())
            .await
            .unwrap(),
        Some(now() + Duration::seconds(120))
    );
    match store
        .issue(new_otp(&hasher, PHONE, &code, "198.51.100.1"), now())
        .await
        .unwrap()
    {
        IssueOutcome::LiveCodeExists { expires_at } => {
            assert_eq!(expires_at, now() + Duration::seconds(120))
        }
        other => panic!("expected a live code: {other:?}"),
    }
    // Still pending (never marked sent): it verifies.
    let policy = ThrottlePolicy::default();
    assert_eq!(
        store
            .attempt(attempt(&hasher, PHONE, "246810"), policy, now())
            .await
            .unwrap(),
        AttemptOutcome::Consumed
    );
    assert_eq!(
        store
            .attempt(attempt(&hasher, PHONE, "246810"), policy, now())
            .await
            .unwrap(),
        AttemptOutcome::NoLiveCode,
        "a used code never succeeds again"
    );
    assert_eq!(
        store
            .live_code(OtpAction::SignIn, PHONE, now())
            .await
            .unwrap(),
        None
    );
    let second = new_otp(&hasher, PHONE, &code, "198.51.100.1");
    let id = second.id;
    assert_eq!(
        store.issue(second, now()).await.unwrap(),
        IssueOutcome::Created
    );
    store.mark_delivery(id, sent("m-2"), now()).await.unwrap();
    for _ in 0..5 {
        assert_eq!(
            store
                .attempt(attempt(&hasher, PHONE, "000000"), policy, now())
                .await
                .unwrap(),
            AttemptOutcome::Wrong
        );
    }
    // The fifth failure exhausted the code and started the phone's delay.
    match store
        .attempt(attempt(&hasher, PHONE, "246810"), policy, now())
        .await
        .unwrap()
    {
        AttemptOutcome::Blocked { until } => assert_eq!(until, now() + Duration::seconds(30)),
        other => panic!("expected blocked: {other:?}"),
    }
    let later = now() + Duration::seconds(31);
    assert_eq!(
        store
            .attempt(attempt(&hasher, PHONE, "246810"), policy, later)
            .await
            .unwrap(),
        AttemptOutcome::Exhausted
    );
    // An exhausted code is not live: a new one may be issued.
    let elsewhere = "+8613900139000";
    assert_eq!(
        store
            .issue(new_otp(&hasher, elsewhere, &code, "198.51.100.1"), later)
            .await
            .unwrap(),
        IssueOutcome::Created
    );
    // A right code after a wrong one clears the phone's failures: four more wrong ones on the
    // next code stay under the five free failures.
    let third = "+8613700137000";
    for round in 0..2 {
        let otp = new_otp(&hasher, third, &code, "198.51.100.1");
        assert_eq!(
            store.issue(otp, later).await.unwrap(),
            IssueOutcome::Created
        );
        for _ in 0..(1 + 3 * round) {
            assert_eq!(
                store
                    .attempt(attempt(&hasher, third, "000000"), policy, later)
                    .await
                    .unwrap(),
                AttemptOutcome::Wrong
            );
        }
        assert_eq!(
            store
                .attempt(attempt(&hasher, third, "246810"), policy, later)
                .await
                .unwrap(),
            AttemptOutcome::Consumed,
            "round {round}"
        );
    }
    // Expired: not guessed against, and not counted.
    let expired = later + Duration::seconds(121);
    assert_eq!(
        store
            .attempt(attempt(&hasher, elsewhere, "000000"), policy, expired)
            .await
            .unwrap(),
        AttemptOutcome::NoLiveCode
    );
    assert_eq!(
        store
            .record_receipt("v", "m-2", true, None, expired)
            .await
            .unwrap()
            .map(|t| t.receiver),
        Some(PHONE.to_string())
    );
    OtpStore::purge(&*store, expired + Duration::hours(26))
        .await
        .unwrap();
    assert_eq!(
        store
            .record_receipt("v", "m-2", true, None, expired)
            .await
            .unwrap(),
        None,
        "purged codes are gone"
    );
}

/// Delivery receipts move a sent record once, only for the verifier that sent it.
pub async fn receipts_move_a_sent_record_once<S: Store>(store: Arc<S>) {
    let hasher = CodeHasher::new(vec![4; 32]);
    let code = OtpCode::parse("135790").unwrap();
    let otp = new_otp(&hasher, PHONE, &code, "198.51.100.4");
    let id = otp.id;
    store.issue(otp, now()).await.unwrap();
    store.mark_delivery(id, sent("SM123"), now()).await.unwrap();
    assert_eq!(
        store
            .record_receipt("other", "SM123", true, None, now())
            .await
            .unwrap(),
        None,
        "another verifier's receipt cannot touch this record"
    );
    assert_eq!(
        store
            .record_receipt("v", "SM999", true, None, now())
            .await
            .unwrap(),
        None
    );
    let first = store
        .record_receipt("v", "SM123", false, Some("30003"), now())
        .await
        .unwrap();
    assert_eq!(
        first,
        Some(ReceiptTarget {
            receiver: PHONE.into(),
            changed: true
        })
    );
    let again = store
        .record_receipt("v", "SM123", true, None, now())
        .await
        .unwrap();
    assert_eq!(
        again,
        Some(ReceiptTarget {
            receiver: PHONE.into(),
            changed: false
        }),
        "a final state is never overwritten"
    );
    // A code that was never sent (a test number) takes no receipt.
    let otp = new_otp(&hasher, "+8613900139000", &code, "198.51.100.4");
    let id = otp.id;
    store.issue(otp, now()).await.unwrap();
    store
        .mark_delivery(id, SendOutcome::NotSent("test"), now())
        .await
        .unwrap();
    assert_eq!(
        store
            .live_code(OtpAction::SignIn, "+8613900139000", now())
            .await
            .unwrap(),
        Some(now() + Duration::seconds(120)),
        "a code not sent on purpose still stands"
    );
}

/// Counters: a limit of N admits N events per window under any concurrency, refuses with the
/// time until a slot frees, gives back, totals and resets, and purges old buckets.
pub async fn counters_are_exact<S: Store>(store: Arc<S>) {
    let limit = Count::new(Counted::GlobalHour, "global-h", 3600, 10);
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let s = store.clone();
            let c = limit.clone();
            tokio::spawn(async move { s.take(&[c], now()).await.unwrap().is_none() })
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        if t.await.unwrap() {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 10, "exactly the limit is admitted");
    let full = store
        .take(std::slice::from_ref(&limit), now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(full.what, Counted::GlobalHour);
    // Every event is in the bucket of `now`; it leaves the window a bucket and a window later.
    let bucket = limit.bucket_at(now());
    assert_eq!(
        full.retry_after_secs,
        bucket + 300 + 3600 - now().timestamp()
    );
    assert_eq!(
        store
            .peek(std::slice::from_ref(&limit), now())
            .await
            .unwrap(),
        Some(full)
    );
    // All or nothing: a full counter refuses the request and counts nothing on the others.
    let other = Count::new(Counted::PhoneHour, "phone-h:+1", 3600, 5);
    assert!(
        store
            .take(&[other.clone(), limit.clone()], now())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store
            .totals(std::slice::from_ref(&other), now())
            .await
            .unwrap(),
        vec![0]
    );
    store
        .give_back(std::slice::from_ref(&limit), now())
        .await
        .unwrap();
    assert_eq!(
        store
            .totals(std::slice::from_ref(&limit), now())
            .await
            .unwrap(),
        vec![9]
    );
    assert!(
        store
            .take(std::slice::from_ref(&limit), now())
            .await
            .unwrap()
            .is_none()
    );
    let later = now() + Duration::seconds(3600 + 300);
    assert!(
        store
            .peek(std::slice::from_ref(&limit), later)
            .await
            .unwrap()
            .is_none()
    );
    // Unlimited counters count.
    let tally = Count::new(Counted::Tally, "tally", 3600, 0);
    for _ in 0..3 {
        assert!(
            store
                .take(std::slice::from_ref(&tally), now())
                .await
                .unwrap()
                .is_none()
        );
    }
    assert_eq!(
        store
            .totals(std::slice::from_ref(&tally), now())
            .await
            .unwrap(),
        vec![3]
    );
    // A verification: one counted here, one given back there, in one step; a give-back never
    // takes a counter below zero, and the same counter named twice counts twice.
    let verified = Count::new(Counted::Tally, "verified", 3600, 0);
    let empty = Count::new(Counted::Tally, "empty", 3600, 0);
    store
        .shift(
            &[verified.clone(), verified.clone()],
            &[tally.clone(), empty.clone()],
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .totals(&[tally.clone(), verified.clone(), empty.clone()], now())
            .await
            .unwrap(),
        vec![2, 2, 0]
    );
    store
        .give_back(&[empty.clone(), verified.clone()], now())
        .await
        .unwrap();
    assert_eq!(
        store.totals(&[empty, verified], now()).await.unwrap(),
        vec![0, 1]
    );
    store.reset(&["tally".to_string()]).await.unwrap();
    assert_eq!(store.totals(&[tally], now()).await.unwrap(), vec![0]);
    OtpStore::purge(&*store, now() + Duration::hours(30))
        .await
        .unwrap();
    assert_eq!(store.totals(&[limit], now()).await.unwrap(), vec![0]);
}

/// Pumping blocks: set, extended only forward, looked up by key, listed, lifted.
pub async fn blocks_are_set_found_and_lifted<S: Store>(store: Arc<S>) {
    let (p, c) = ("prefix:+861380013".to_string(), "country:GB".to_string());
    let later = now() + Duration::minutes(60);
    store.block(&p, later, now()).await.unwrap();
    store
        .block(&p, now() + Duration::minutes(5), now())
        .await
        .unwrap();
    store
        .block(&c, now() + Duration::minutes(10), now())
        .await
        .unwrap();
    let found = store
        .blocked(&[p.clone(), "prefix:+86139".to_string()], now())
        .await
        .unwrap();
    assert_eq!(
        found,
        vec![(p.clone(), later)],
        "a shorter block does not shorten it"
    );
    assert_eq!(store.blocks(now()).await.unwrap().len(), 2);
    // The one read pumping detection makes before a send answers what the two reads answer.
    let sent = Count::new(Counted::Tally, "pump-sent:+86138", 3600, 0);
    let none = Count::new(Counted::Tally, "pump-verified:+86138", 3600, 0);
    store
        .take(std::slice::from_ref(&sent), now())
        .await
        .unwrap();
    store
        .take(std::slice::from_ref(&sent), now())
        .await
        .unwrap();
    let keys = [p.clone(), c.clone(), "prefix:+86139".to_string()];
    let counts = [sent.clone(), none.clone(), sent.clone()];
    let (blocked, totals) = store
        .blocked_and_totals(&keys, &counts, now())
        .await
        .unwrap();
    let mut blocked = blocked;
    blocked.sort();
    let mut separate = store.blocked(&keys, now()).await.unwrap();
    separate.sort();
    assert_eq!(blocked, separate);
    assert_eq!(blocked.len(), 2);
    assert_eq!(totals, vec![2, 0, 2]);
    assert_eq!(totals, store.totals(&counts, now()).await.unwrap());
    assert_eq!(
        store.blocked_and_totals(&[], &[], now()).await.unwrap(),
        (vec![], vec![])
    );
    let (blocked, totals) = store
        .blocked_and_totals(&[], std::slice::from_ref(&none), now())
        .await
        .unwrap();
    assert!(blocked.is_empty());
    assert_eq!(totals, vec![0]);
    assert!(
        store
            .blocked(std::slice::from_ref(&c), now() + Duration::minutes(11))
            .await
            .unwrap()
            .is_empty(),
        "an ended block is not found"
    );
    assert!(store.unblock(&p).await.unwrap());
    assert!(!store.unblock(&p).await.unwrap());
    assert_eq!(
        store.blocked(&[p, c.clone()], now()).await.unwrap().len(),
        1
    );
}

/// The SMS policy, test numbers and the audit log round-trip.
pub async fn sms_configuration_and_audit_round_trip<S: Store>(store: Arc<S>) {
    assert_eq!(store.sms_policy().await.unwrap(), None);
    let policy = SmsPolicy {
        denied_countries: vec!["RU".into()],
        ..SmsPolicy::default()
    };
    store.set_sms_policy(&policy, now()).await.unwrap();
    assert_eq!(store.sms_policy().await.unwrap(), Some(policy));

    let draft = TestNumberDraft::new("+1555010*", "246810", now(), Some("review".into())).unwrap();
    let t = store
        .create_test_number(draft.clone(), now())
        .await
        .unwrap();
    assert_eq!(t.phone, "+1555010*");
    match store.create_test_number(draft, now()).await {
        Err(StoreError::Conflict(Conflict::Duplicate("phone"))) => {}
        other => panic!("expected a duplicate phone: {other:?}"),
    }
    let changed = TestNumberDraft::new("+15550100", "135790", now(), None).unwrap();
    let t2 = store
        .update_test_number(t.id, changed, now())
        .await
        .unwrap();
    assert_eq!(
        (t2.phone.as_str(), t2.code.as_str()),
        ("+15550100", "135790")
    );
    assert_eq!(store.test_numbers().await.unwrap(), vec![t2.clone()]);
    store.delete_test_number(t2.id).await.unwrap();
    assert!(matches!(
        store.delete_test_number(t2.id).await,
        Err(StoreError::NotFound)
    ));

    let event = |kind: &str, minutes: i64, user: Option<i64>, key: Option<[u8; 32]>| AuditEvent {
        time: now() + Duration::minutes(minutes),
        kind: kind.into(),
        ip: Some("198.51.100.7".into()),
        user_id: user,
        phone_masked: key.map(|_| "+86*******8000".into()),
        phone_key: key,
        authenticator: None,
        verifier: Some("sms".into()),
        detail: serde_json::json!({"reason": "country"}),
    };
    store
        .append(&[
            event("sms.sent", 0, None, Some([1; 32])),
            event("sms.blocked", 1, None, Some([2; 32])),
            event("signIn.success", 2, Some(7), Some([1; 32])),
            event("sms_x", 3, None, None),
        ])
        .await
        .unwrap();
    let page = PageRequest {
        page: 1,
        page_size: 10,
    };
    let list = |f: AuditFilter| {
        let s = store.clone();
        async move { s.list(&f, page).await.unwrap() }
    };
    let (all, count) = list(AuditFilter::default()).await;
    assert_eq!(count, 4);
    assert_eq!(all[0].event.kind, "sms_x", "newest first");
    assert_eq!(all[3].event, event("sms.sent", 0, None, Some([1; 32])));
    let (sms, _) = list(AuditFilter {
        kind_prefix: Some("sms.".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(
        sms.len(),
        2,
        "the prefix is not a pattern: `_` and `.` are literal"
    );
    let (by_phone, _) = list(AuditFilter {
        phone_key: Some([1; 32]),
        ..Default::default()
    })
    .await;
    assert_eq!(by_phone.len(), 2);
    let (by_user, _) = list(AuditFilter {
        user_id: Some(7),
        since: Some(now() + Duration::minutes(2)),
        until: Some(now() + Duration::minutes(2)),
        ..Default::default()
    })
    .await;
    assert_eq!(by_user.len(), 1);
    let (second_page, count) = store
        .list(
            &AuditFilter::default(),
            PageRequest {
                page: 2,
                page_size: 3,
            },
        )
        .await
        .unwrap();
    assert_eq!((second_page.len(), count), (1, 4));
    assert_eq!(
        AuditStore::purge(&*store, now() + Duration::minutes(2), 1)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        AuditStore::purge(&*store, now() + Duration::minutes(2), 10)
            .await
            .unwrap(),
        1
    );
    assert_eq!(list(AuditFilter::default()).await.1, 2);
}

/// The failure throttle counts before the attempt is evaluated and resets on success.
pub async fn throttle_counts_first_and_resets<S: Store>(store: Arc<S>) {
    let policy = ThrottlePolicy::password();
    for _ in 0..10 {
        assert_eq!(
            store
                .throttle_attempt("pw", "root", policy, now())
                .await
                .unwrap(),
            None
        );
    }
    assert_eq!(
        store
            .throttle_attempt("pw", "root", policy, now())
            .await
            .unwrap(),
        Some(now() + Duration::seconds(30))
    );
    assert_eq!(
        store
            .throttle_attempt("pw", "other", policy, now())
            .await
            .unwrap(),
        None,
        "keys are apart"
    );
    store.throttle_reset("pw", "root").await.unwrap();
    assert_eq!(
        store
            .throttle_attempt("pw", "root", policy, now())
            .await
            .unwrap(),
        None
    );
}

fn session(user_id: i64, jti: Uuid, at: DateTime<Utc>) -> Session {
    Session {
        id: Uuid::new_v4(),
        jti,
        user_id,
        authenticator: "basic".into(),
        issued_at: at,
        sign_in_at: at,
        parent: None,
    }
}

/// Sessions: the current token is known, a renewal replaces it once and concurrent repeats
/// agree, a renewed token reused after the window ends the session, sign-out and revocation
/// end sessions, the blacklist answers.
pub async fn sessions_renew_reuse_and_revoke<S: Store>(store: Arc<S>) {
    let user = store
        .create_user(draft("sam", None, None), now())
        .await
        .unwrap();
    let old = Uuid::new_v4();
    store
        .insert_session(session(user.id, old, now()), now() - Duration::days(7))
        .await
        .unwrap();
    let state = store.token_state(old).await.unwrap();
    assert!(state.current && !state.blacklisted);
    let at = now() + Duration::days(1);
    let fresh = Uuid::new_v4();
    let renewed = store.renew(old, fresh, at, 10).await.unwrap();
    let Renewal::Renewed { jti, issued_at } = renewed.clone() else {
        panic!("expected a renewal: {renewed:?}");
    };
    assert_eq!(jti, fresh);
    assert_eq!(issued_at.timestamp(), at.timestamp());
    assert_eq!(
        store
            .renew(old, Uuid::new_v4(), at + Duration::seconds(5), 10)
            .await
            .unwrap(),
        renewed
    );
    assert!(!store.token_state(old).await.unwrap().current);
    assert!(store.token_state(fresh).await.unwrap().current);
    assert_eq!(
        store
            .renew(old, Uuid::new_v4(), at + Duration::seconds(11), 10)
            .await
            .unwrap(),
        Renewal::Reused
    );
    assert!(
        !store.token_state(fresh).await.unwrap().current,
        "reuse ended the session"
    );
    assert_eq!(
        store
            .renew(Uuid::new_v4(), Uuid::new_v4(), at, 10)
            .await
            .unwrap(),
        Renewal::Refused,
        "an unknown token"
    );
    // Sign-out and revocation.
    let a = Uuid::new_v4();
    let b = Uuid::new_v4();
    store
        .insert_session(session(user.id, a, at), at - Duration::days(7))
        .await
        .unwrap();
    store
        .insert_session(session(user.id, b, at), at - Duration::days(7))
        .await
        .unwrap();
    store.blacklist(a, at + Duration::days(1)).await.unwrap();
    store.end_session(a).await.unwrap();
    let state = store.token_state(a).await.unwrap();
    assert!(state.blacklisted && !state.current);
    store.end_user_sessions(user.id, at).await.unwrap();
    assert!(!store.token_state(b).await.unwrap().current);
    assert_eq!(
        store
            .user(user.id)
            .await
            .unwrap()
            .unwrap()
            .sessions_revoked_at,
        Some(at)
    );
    assert!(matches!(
        store.end_user_sessions(9_999, at).await,
        Err(StoreError::NotFound)
    ));
    // Expired blacklist entries go.
    SessionStore::purge(&*store, at + Duration::days(2))
        .await
        .unwrap();
    assert!(!store.token_state(a).await.unwrap().blacklisted);
    // Sessions signed in before the cut-off are purged at the next sign-in.
    let c = Uuid::new_v4();
    store
        .insert_session(session(user.id, c, at), at - Duration::days(7))
        .await
        .unwrap();
    let d = Uuid::new_v4();
    let much_later = at + Duration::days(8);
    store
        .insert_session(
            session(user.id, d, much_later),
            much_later - Duration::days(7),
        )
        .await
        .unwrap();
    assert!(!store.token_state(c).await.unwrap().current);
    assert!(store.token_state(d).await.unwrap().current);
    // A session started from a parent that this very insert's purge ends (an OIDC grant
    // redeemed just after its browser session's lifetime) is refused, not purged with it.
    let stale = session(user.id, Uuid::new_v4(), much_later);
    let child = Session {
        parent: Some(stale.id),
        ..session(user.id, Uuid::new_v4(), much_later)
    };
    store
        .insert_session(stale, much_later - Duration::days(7))
        .await
        .unwrap();
    let child_jti = child.jti;
    assert!(matches!(
        store
            .insert_session(child, much_later + Duration::seconds(1))
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(!store.token_state(child_jti).await.unwrap().current);
}
