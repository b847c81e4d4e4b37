//! Tencent Cloud API 3.0 signatures, `TC3-HMAC-SHA256`.
//!
//! `CanonicalRequest = METHOD \n / \n query \n content-type:…\nhost:…\n \n
//! content-type;host \n hex(sha256(payload))`; `StringToSign = TC3-HMAC-SHA256 \n timestamp \n
//! date/service/tc3_request \n hex(sha256(CanonicalRequest))`; the signing key is the HMAC
//! chain `"TC3" + secret` → date → service → `tc3_request`.

use super::{hmac_sha256, sha256_hex};

pub const ALGORITHM: &str = "TC3-HMAC-SHA256";

pub struct Tc3Request<'a> {
    pub method: &'a str,
    pub query: &'a str,
    pub content_type: &'a str,
    /// The `Host` header as sent, with `:port` when not the default.
    pub host: &'a str,
    pub payload: &'a [u8],
    pub service: &'a str,
    /// Unix seconds; the credential scope date is its UTC day.
    pub timestamp: i64,
}

pub struct Signed {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
    pub authorization: String,
}

/// The UTC date `YYYY-MM-DD` of a Unix timestamp.
pub fn utc_date(timestamp: i64) -> String {
    let days = timestamp.div_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm), to avoid a date crate for one line.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

pub fn sign(req: &Tc3Request<'_>, secret_id: &str, secret_key: &str) -> Signed {
    let canonical_request = format!(
        "{}\n/\n{}\ncontent-type:{}\nhost:{}\n\ncontent-type;host\n{}",
        req.method,
        req.query,
        req.content_type,
        req.host,
        sha256_hex(req.payload)
    );
    let date = utc_date(req.timestamp);
    let scope = format!("{date}/{}/tc3_request", req.service);
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{scope}\n{}",
        req.timestamp,
        sha256_hex(canonical_request.as_bytes())
    );
    let k_date = hmac_sha256(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let k_service = hmac_sha256(&k_date, req.service.as_bytes());
    let k_signing = hmac_sha256(&k_service, b"tc3_request");
    let signature = hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()));
    let authorization = format!(
        "{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={signature}"
    );
    Signed {
        canonical_request,
        string_to_sign,
        signature,
        authorization,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Tencent Cloud's "Signature v3" document: CVM DescribeInstances at
    /// 1551113065 with the documentation's (masked) example keys.
    #[test]
    fn matches_the_published_example() {
        let payload = r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        let s = sign(
            &Tc3Request {
                method: "POST",
                query: "",
                content_type: "application/json; charset=utf-8",
                host: "cvm.tencentcloudapi.com",
                payload: payload.as_bytes(),
                service: "cvm",
                timestamp: 1_551_113_065,
            },
            "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
            "Gu5t9xGARNpq86cd98joQYCN3*******",
        );
        assert!(
            s.canonical_request
                .ends_with("35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064")
        );
        assert_eq!(
            s.string_to_sign,
            "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        assert_eq!(
            s.signature,
            "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
        );
        assert_eq!(
            s.authorization,
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
        );
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(1_551_113_065), "2019-02-25");
        assert_eq!(utc_date(1_798_761_599), "2026-12-31");
    }
}
