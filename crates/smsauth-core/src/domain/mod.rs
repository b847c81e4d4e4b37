//! Domain types: values that are valid by construction ("parse, don't validate").

pub mod authenticator;
pub mod duration;
pub mod oidc;
pub mod otp;
pub mod password;
pub mod phone;
pub mod sms_policy;
pub mod test_number;
pub mod token_policy;
pub mod user;
pub mod verifier;
