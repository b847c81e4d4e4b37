//! Token verification never panics on arbitrary input and never accepts what it did not sign.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smsauth::jwt::JwtCodec;
use smsauth_core::ports::tokens::TokenCodec;

fuzz_target!(|data: &[u8]| {
    static CODECS: std::sync::OnceLock<(JwtCodec, JwtCodec)> = std::sync::OnceLock::new();
    let (ed, hs) = CODECS.get_or_init(|| {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let doc = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        (JwtCodec::ed25519(doc.as_ref()).unwrap(), JwtCodec::hs256(&[7u8; 32]))
    });
    let Ok(token) = std::str::from_utf8(data) else { return };
    assert!(ed.verify(token).is_none());
    assert!(hs.verify(token).is_none());
});
