//! The conformance stories (`smsauth-store-tests`) on a fresh PostgreSQL database per story,
//! on the server named by `SMSAUTH_TEST_DATABASE_URL`; skipped with a note when it is unset.

#![allow(clippy::expect_used)]

use std::sync::Arc;

use smsauth_store_postgres::PgStore;
use smsauth_store_tests as stories;
use uuid::Uuid;

async fn store() -> Option<Arc<PgStore>> {
    let Ok(base) = std::env::var("SMSAUTH_TEST_DATABASE_URL") else {
        eprintln!("SMSAUTH_TEST_DATABASE_URL is not set: PostgreSQL store test skipped");
        return None;
    };
    let name = format!("smsauth_store_{}", Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&base).await.expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .expect("create database");
    let (prefix, _) = base.rsplit_once('/').expect("a database URL");
    Some(Arc::new(
        PgStore::connect(&format!("{prefix}/{name}"))
            .await
            .expect("open"),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_sign_ins_create_one_user() {
    let Some(s) = store().await else { return };
    stories::concurrent_first_sign_ins_create_one_user(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_issues_and_attempts_have_one_winner() {
    let Some(s) = store().await else { return };
    stories::concurrent_issues_and_attempts_have_one_winner(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_disables_keep_one_authenticator_enabled() {
    let Some(s) = store().await else { return };
    stories::concurrent_disables_keep_one_authenticator_enabled(s).await;
}
