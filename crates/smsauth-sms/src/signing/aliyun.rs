//! Aliyun (Alibaba Cloud) OpenAPI V3 signatures, `ACS3-HMAC-SHA256`.
//!
//! CanonicalRequest = METHOD \n URI \n sorted-encoded-query \n canonical-headers \n
//! signed-headers \n hex(sha256(body)); StringToSign = "ACS3-HMAC-SHA256\n" +
//! hex(sha256(CanonicalRequest)); Signature = hex(HMAC-SHA256(secret, StringToSign)). Signed
//! headers are `host`, `content-type` when present, and every `x-acs-*` header.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::{hmac_sha256, sha256_hex};

pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// RFC 3986: everything but `A–Z a–z 0–9 - _ . ~` is percent-encoded (so space is `%20`).
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

/// `k=v&…` sorted by encoded key, both sides RFC 3986-encoded; used for the URL and the
/// signature alike so the two cannot disagree.
pub fn canonical_query(params: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> =
        params.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    pairs.sort();
    pairs
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The inputs of one signature.
pub struct Acs3Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    /// `(lower-case name, value)`; must include `host` and the `x-acs-*` headers.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

pub struct Signed {
    pub canonical_request: String,
    pub signed_headers: String,
    pub signature: String,
    pub authorization: String,
}

pub fn sign(req: &Acs3Request<'_>, access_key_id: &str, secret: &str) -> Signed {
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .filter(|(k, _)| k == "host" || k == "content-type" || k.starts_with("x-acs-"))
        .collect();
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        req.path,
        req.query,
        canonical_headers,
        signed_headers,
        sha256_hex(req.body)
    );
    let string_to_sign = format!("{ALGORITHM}\n{}", sha256_hex(canonical_request.as_bytes()));
    let signature = hex::encode(hmac_sha256(secret.as_bytes(), string_to_sign.as_bytes()));
    let authorization = format!(
        "{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"
    );
    Signed {
        canonical_request,
        signed_headers,
        signature,
        authorization,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Aliyun's "V3 request structure and signature" document: RunInstances
    /// on ECS with AccessKey `YourAccessKeyId` / `YourAccessKeySecret`.
    #[test]
    fn matches_the_published_example() {
        let query = canonical_query(&[
            ("RegionId", "cn-shanghai"),
            (
                "ImageId",
                "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
            ),
        ]);
        assert_eq!(
            query,
            "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai"
        );
        let empty = sha256_hex(b"");
        let headers = [
            ("host", "ecs.cn-shanghai.aliyuncs.com"),
            ("x-acs-action", "RunInstances"),
            ("x-acs-version", "2014-05-26"),
            ("x-acs-date", "2023-10-26T10:22:32Z"),
            ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
            ("x-acs-content-sha256", empty.as_str()),
        ];
        let s = sign(
            &Acs3Request {
                method: "POST",
                path: "/",
                query: &query,
                headers: &headers,
                body: b"",
            },
            "YourAccessKeyId",
            "YourAccessKeySecret",
        );
        assert_eq!(
            sha256_hex(s.canonical_request.as_bytes()),
            "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
        );
        assert_eq!(
            s.signature,
            "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
        );
        assert_eq!(
            s.authorization,
            "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
        );
    }

    #[test]
    fn encoding_is_rfc3986() {
        assert_eq!(encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(
            encode("a b*c+d/e=f&{\"code\":\"1\"}"),
            "a%20b%2Ac%2Bd%2Fe%3Df%26%7B%22code%22%3A%221%22%7D"
        );
        assert_eq!(encode("阿里云"), "%E9%98%BF%E9%87%8C%E4%BA%91");
    }
}
