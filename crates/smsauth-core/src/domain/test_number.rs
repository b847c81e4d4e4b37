//! Test numbers (SPEC §15.4): fixed codes for numbers or prefixes an operator names, so app-store
//! reviewers, monitoring probes and load tests can sign in without an SMS being paid for.
//!
//! A pattern is an E.164 number (`+15550100`) or a prefix ending in `*` (`+1555010*`). Patterns
//! are matched against the caller's input before it is validated as a phone number, so that
//! fictional ranges the metadata calls invalid (`+1 555 01xx`) can serve.

use chrono::{DateTime, Utc};

use super::otp::OtpCode;

/// One entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TestNumber {
    pub id: i64,
    pub phone: String,
    pub code: String,
    pub expires_at: DateTime<Utc>,
    pub note: Option<String>,
}

/// A new or changed entry, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct TestNumberDraft {
    pub phone: String,
    pub code: String,
    pub expires_at: DateTime<Utc>,
    pub note: Option<String>,
}

/// The field a refused draft got wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TestNumberError {
    #[error("phone must be +<digits> or a prefix +<digits>*")]
    Phone,
    #[error("code must be 4 to 10 digits")]
    Code,
    #[error("note must be at most 200 characters")]
    Note,
}

/// `+` and 3 to 15 digits, optionally followed by `*`.
pub fn valid_pattern(p: &str) -> bool {
    let digits = p
        .strip_prefix('+')
        .map(|rest| rest.strip_suffix('*').unwrap_or(rest));
    digits.is_some_and(|d| (3..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

impl TestNumberDraft {
    pub fn new(
        phone: &str,
        code: &str,
        expires_at: DateTime<Utc>,
        note: Option<String>,
    ) -> Result<TestNumberDraft, TestNumberError> {
        let phone: String = phone
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        if !valid_pattern(&phone) {
            return Err(TestNumberError::Phone);
        }
        if !(4..=10).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TestNumberError::Code);
        }
        if note.as_ref().is_some_and(|n| n.chars().count() > 200) {
            return Err(TestNumberError::Note);
        }
        Ok(TestNumberDraft {
            phone,
            code: code.to_string(),
            expires_at,
            note,
        })
    }
}

/// The caller's input in the form patterns are written in: separators dropped, `+` kept.
/// `None` when it cannot be an international number at all.
pub fn normalise_input(raw: &str) -> Option<String> {
    let s: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = s.strip_prefix('+')?;
    ((3..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())).then_some(s)
}

impl TestNumber {
    pub fn matches(&self, e164: &str, now: DateTime<Utc>) -> bool {
        if self.expires_at <= now {
            return false;
        }
        match self.phone.strip_suffix('*') {
            Some(prefix) => e164.starts_with(prefix),
            None => self.phone == e164,
        }
    }

    pub fn otp_code(&self) -> Option<OtpCode> {
        OtpCode::parse(&self.code)
    }
}

/// The entry that applies to `e164` at `now`: an exact number before a prefix, the longest
/// prefix before a shorter one, so a specific entry can override a range.
pub fn find<'a>(
    entries: &'a [TestNumber],
    e164: &str,
    now: DateTime<Utc>,
) -> Option<&'a TestNumber> {
    entries
        .iter()
        .filter(|t| t.matches(e164, now))
        .max_by_key(|t| (!t.phone.ends_with('*'), t.phone.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(phone: &str, code: &str, expires_in: i64) -> TestNumber {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        TestNumber {
            id: 1,
            phone: phone.into(),
            code: code.into(),
            expires_at: now + chrono::Duration::seconds(expires_in),
            note: None,
        }
    }

    #[test]
    fn exact_numbers_win_over_prefixes_and_expired_entries_are_ignored() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let entries = [
            entry("+1555010*", "111111", 60),
            entry("+15550100", "222222", 60),
            entry("+155501*", "333333", 60),
            entry("+15550199", "444444", -1),
        ];
        assert_eq!(find(&entries, "+15550100", now).unwrap().code, "222222");
        assert_eq!(find(&entries, "+15550107", now).unwrap().code, "111111");
        assert_eq!(find(&entries, "+15550150", now).unwrap().code, "333333");
        assert_eq!(find(&entries, "+15550199", now).unwrap().code, "333333");
        assert!(find(&entries, "+8613800138000", now).is_none());
    }

    #[test]
    fn drafts_and_inputs_are_normalised() {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(
            TestNumberDraft::new("+1 555-010*", "246810", t, None)
                .unwrap()
                .phone,
            "+1555010*"
        );
        assert_eq!(
            TestNumberDraft::new("15550100", "246810", t, None),
            Err(TestNumberError::Phone)
        );
        assert_eq!(
            TestNumberDraft::new("+15550100", "12a4", t, None),
            Err(TestNumberError::Code)
        );
        assert_eq!(
            normalise_input(" +1 (555) 010-0 "),
            Some("+15550100".into())
        );
        assert_eq!(normalise_input("5550100"), None);
        assert_eq!(normalise_input("+1555abc"), None);
    }
}
