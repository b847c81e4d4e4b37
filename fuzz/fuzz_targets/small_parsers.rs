//! Submitted codes, durations, locales and verifier names: no panics on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smsauth_core::domain::duration::parse_duration;
use smsauth_core::domain::otp::OtpCode;
use smsauth_core::domain::verifier::valid_verifier_name;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Some(code) = OtpCode::parse(s) {
        assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
    }
    if let Some(secs) = parse_duration(s) {
        assert!(secs > 0);
    }
    let _ = valid_verifier_name(s);
    let _ = smsauth::i18n::Locale::from_tag(s);
});
