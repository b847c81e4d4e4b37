//! Request signing for the cloud SMS APIs. No maintained crate signs Aliyun ACS3 or Tencent TC3
//! requests, so these are written here over `hmac`/`sha2` and tested against the worked examples
//! in each provider's documentation.

pub mod aliyun;
pub mod tencent;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}
