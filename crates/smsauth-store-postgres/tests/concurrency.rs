//! The store's concurrency guarantees, exercised on a real SQLite file with many tasks at once:
//! one user per phone, one live code per (action, phone), one winner per code.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{Duration, Utc};
use smsauth_core::domain::authenticator::AuthenticatorDraft;
use smsauth_core::domain::otp::{CodeHasher, OtpAction, OtpCode};
use smsauth_core::ports::otp_store::{
    Attempt, AttemptOutcome, IssueOutcome, NewOtp, OtpStore, SendLimits, ThrottlePolicy,
};
use smsauth_core::ports::store::{ConfigStore, UserStore};
use smsauth_store_postgres::PgStore;
use uuid::Uuid;

const PHONE: &str = "+8613800138000";
const NO_LIMITS: SendLimits = SendLimits {
    per_phone_hour: 0,
    per_phone_day: 0,
    per_ip_hour: 0,
    global_hour: 0,
};

fn fixed_now() -> chrono::DateTime<Utc> {
    chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

/// A fresh database on the server named by `SMSAUTH_TEST_DATABASE_URL`; `None` (the test is
/// skipped with a note) when it is unset.
async fn store() -> Option<(String, Arc<PgStore>)> {
    let Ok(base) = std::env::var("SMSAUTH_TEST_DATABASE_URL") else {
        eprintln!("SMSAUTH_TEST_DATABASE_URL is not set: PostgreSQL store test skipped");
        return None;
    };
    let name = format!("smsauth_store_{}", Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    let store = PgStore::connect(&format!("{prefix}/{name}")).await.unwrap();
    Some((name, Arc::new(store)))
}

fn new_otp(hasher: &CodeHasher, code: &OtpCode, now: chrono::DateTime<Utc>) -> NewOtp {
    NewOtp {
        id: Uuid::new_v4(),
        action: OtpAction::SignIn,
        receiver: PHONE.into(),
        verifier: "v".into(),
        code_hash: hasher.hash(OtpAction::SignIn, PHONE, code),
        expires_at: now + Duration::seconds(120),
        client_ip: "127.0.0.1".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_sign_ins_of_one_phone_create_one_user() {
    let Some((_db, store)) = store().await else {
        return;
    };
    let now = fixed_now();
    let draft = AuthenticatorDraft {
        name: Some("sms".into()),
        auth_type: Some("SMS".into()),
        enabled: Some(true),
        ..Default::default()
    };
    store.create_authenticator(draft, now).await.unwrap();
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move { s.sign_up_by_phone("sms", PHONE, now).await.unwrap().id })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(count, 1);
    let links: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users_authenticators")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(links, 1);
    let user = store.user(ids[0]).await.unwrap().unwrap();
    assert_eq!(user.roles.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_issues_leave_one_live_code_and_one_consumption_wins() {
    let Some((_db, store)) = store().await else {
        return;
    };
    let hasher = CodeHasher::new(vec![1; 32]);
    let now = fixed_now();
    let code = OtpCode::parse("123456").unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (s, otp) = (store.clone(), new_otp(&hasher, &code, now));
            tokio::spawn(async move {
                let id = otp.id;
                let out = s.issue(otp, NO_LIMITS, now).await.unwrap();
                if out == IssueOutcome::Created {
                    s.mark_delivery(id, true, now).await.unwrap();
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
            tokio::spawn(async move { s.attempt(a, ThrottlePolicy::default(), now).await.unwrap() })
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
