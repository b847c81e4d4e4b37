//! The conformance stories (`smsauth-store-tests`) on both backends: a real SQLite file per
//! story always, and a fresh PostgreSQL database per story on the server named by
//! `SMSAUTH_TEST_DATABASE_URL` (skipped with a note when it is unset).

#![allow(clippy::expect_used)]

use std::sync::Arc;

use smsauth_store_sql::{PgStore, SqliteStore};
use smsauth_store_tests as stories;
use uuid::Uuid;

async fn sqlite() -> (tempfile::TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(&dir.path().join("t.db"))
        .await
        .expect("open");
    (dir, Arc::new(store))
}

async fn postgres() -> Option<Arc<PgStore>> {
    let Ok(base) = std::env::var("SMSAUTH_TEST_DATABASE_URL") else {
        eprintln!("SMSAUTH_TEST_DATABASE_URL is not set: PostgreSQL stories skipped");
        return None;
    };
    let name = format!("smsauth_store_{}", Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&base).await.expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .expect("create database");
    admin.close().await;
    let (prefix, _) = base.rsplit_once('/').expect("a database URL");
    Some(Arc::new(
        PgStore::connect(&format!("{prefix}/{name}"))
            .await
            .expect("open"),
    ))
}

/// A SQLite store backed up while a writer commits in a loop, reopened from the copy.
async fn restored_backup() -> (tempfile::TempDir, Arc<SqliteStore>) {
    use smsauth_store_sql::Store;
    let (dir, live) = sqlite().await;
    let writer = {
        let live = live.clone();
        tokio::spawn(async move {
            loop {
                live.probe().await.expect("a write during the backup");
            }
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let copy = dir.path().join("copy.db");
    live.backup(&copy).await.expect("backup");
    writer.abort();
    let restored = SqliteStore::open(&copy).await.expect("open the copy");
    (dir, Arc::new(restored))
}

/// Each story once per backend: `sqlite::<story>` and `postgres::<story>`.
macro_rules! on_both_backends {
    ($($story:ident),* $(,)?) => {
        mod sqlite_stories {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $story() {
                    let (_dir, store) = sqlite().await;
                    stories::$story(store).await;
                }
            )*
        }
        /// Each story also on a backup (`Store::backup`) of a SQLite store taken while
        /// writes were going on: the copy is a whole, working store.
        mod restored_sqlite_backup_stories {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $story() {
                    let (dir, store) = restored_backup().await;
                    stories::$story(store).await;
                    drop(dir);
                }
            )*
        }
        mod postgres_stories {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $story() {
                    let Some(store) = postgres().await else { return };
                    stories::$story(store).await;
                }
            )*
        }
    };
}

on_both_backends!(
    concurrent_first_sign_ins_create_one_user,
    concurrent_issues_and_attempts_have_one_winner,
    concurrent_wrong_codes_count_exactly,
    concurrent_disables_keep_one_authenticator_enabled,
    users_round_trip,
    links_and_bound_verifiers,
    configuration_round_trip,
    codes_and_throttle,
    receipts_move_a_sent_record_once,
    counters_are_exact,
    blocks_are_set_found_and_lifted,
    sms_configuration_and_audit_round_trip,
    throttle_counts_first_and_resets,
    sessions_renew_reuse_and_revoke,
    oidc_clients_codes_and_grants,
);
