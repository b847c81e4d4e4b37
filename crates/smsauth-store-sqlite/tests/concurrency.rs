//! The conformance stories (`smsauth-store-tests`) on a real SQLite file per story.

#![allow(clippy::expect_used)]

use std::sync::Arc;

use smsauth_store_sqlite::SqliteStore;
use smsauth_store_tests as stories;

async fn store() -> (tempfile::TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(&dir.path().join("t.db"))
        .await
        .expect("open");
    (dir, Arc::new(store))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_sign_ins_create_one_user() {
    let (_dir, s) = store().await;
    stories::concurrent_first_sign_ins_create_one_user(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_issues_and_attempts_have_one_winner() {
    let (_dir, s) = store().await;
    stories::concurrent_issues_and_attempts_have_one_winner(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_disables_keep_one_authenticator_enabled() {
    let (_dir, s) = store().await;
    stories::concurrent_disables_keep_one_authenticator_enabled(s).await;
}
