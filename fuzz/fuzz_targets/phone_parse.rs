//! Phone parsing never panics, and what it accepts is a fixed point: the E.164 form parses to
//! itself, with or without a default region.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smsauth_core::domain::phone::{Phone, Region};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let region: Option<Region> = "CN".parse().ok();
    if let Ok(phone) = Phone::parse(input, region) {
        let e164 = phone.as_str();
        assert!(e164.starts_with('+') && e164[1..].bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(Phone::parse(e164, None).map(|p| p.as_str().to_string()).as_deref(), Ok(e164));
    }
});
