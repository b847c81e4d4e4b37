//! The smsauth server: configuration, start-up, the HTTP surface and message catalogue. The
//! binary in `main.rs` only parses the command line and calls into here.

pub mod backend;
pub mod bootstrap;
pub mod commands;
pub mod configuration;
pub mod http;
pub mod i18n;
pub mod jwt;
pub mod keys;
pub mod oidc_keys;
pub mod serve;
pub mod startup;
pub mod telemetry;
pub mod ui;
