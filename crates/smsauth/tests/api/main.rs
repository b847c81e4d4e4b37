//! The API suite: the real server on port 0, a fresh SQLite file per test, a fake SMS webhook
//! that checks signatures, and a clock the tests move.

// A failed unwrap is a failed test here, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod attack_mix;
mod bind;
mod commands;
mod connections;
mod failover;
mod helpers;
mod instances;
mod messages;
mod model;
mod oidc;
mod password;
mod process;
mod reference;
mod request_log;
mod robustness;
mod security;
mod send_code;
mod sign_in;
mod sms_defences;
mod storage;
mod tokens;
