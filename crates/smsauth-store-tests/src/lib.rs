//! Conformance stories for the store ports. Each backend's own test file opens a fresh store and
//! runs every story against it, so the backends are held to one behaviour, including under
//! concurrency. The stories use only the ports, never a backend's SQL.

// A failed expectation is a failed test here, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use smsauth_core::domain::authenticator::AuthenticatorDraft;
use smsauth_core::domain::otp::{CodeHasher, OtpAction, OtpCode};
use smsauth_core::ports::otp_store::{
    Attempt, AttemptOutcome, IssueOutcome, NewOtp, OtpStore, SendLimits, ThrottlePolicy,
};
use smsauth_core::ports::store::{
    ConfigStore, Conflict, PageRequest, StoreError, UserFilter, UserStore,
};
use uuid::Uuid;

/// What a store must implement to be held to these stories.
pub trait Store: UserStore + ConfigStore + OtpStore + 'static {}
impl<T: UserStore + ConfigStore + OtpStore + 'static> Store for T {}

const PHONE: &str = "+8613800138000";
const NO_LIMITS: SendLimits = SendLimits {
    per_phone_hour: 0,
    per_phone_day: 0,
    per_ip_hour: 0,
    global_hour: 0,
};

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn sms_authenticator(name: &str, enabled: bool) -> AuthenticatorDraft {
    AuthenticatorDraft {
        name: Some(name.into()),
        auth_type: Some("SMS".into()),
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
                let out = s.issue(otp, NO_LIMITS, now()).await.unwrap();
                if out == IssueOutcome::Created {
                    s.mark_delivery(id, true, now()).await.unwrap();
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
