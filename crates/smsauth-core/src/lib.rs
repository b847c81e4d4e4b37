//! The domain of smsauth: phone numbers, one-time codes, users, authenticators, verifiers and
//! tokens; the ports (traits) through which it reaches storage, SMS providers and time; and the
//! use-cases that combine them.
//!
//! This crate must not know about HTTP, SQL or any particular SMS provider: those live in the
//! crates that implement the ports, and only the `smsauth` binary wires them together.

pub mod cache;
pub mod domain;
pub mod ports;
pub mod service;
