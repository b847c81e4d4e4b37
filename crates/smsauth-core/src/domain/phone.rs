//! Phone numbers, normalised to E.164 before they touch a limit, a query or a provider (SPEC §7).

use std::fmt;
use std::str::FromStr;

use phonenumber::country;

use crate::domain::sms_policy::NumberType;

/// Longest raw input accepted; anything longer is refused before parsing.
pub const MAX_INPUT_CHARS: usize = 32;

/// A valid phone number in E.164 form (`+8613800138000`). The inner string is private so that
/// every `Phone` in the program has passed [`Phone::parse`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone {
    e164: String,
    region: Option<String>,
    /// Decided by the metadata from `e164` alone, so it never makes two equal numbers differ.
    kind: NumberType,
}

/// Why a phone input was refused. All reasons map to the same public error (`InvalidReceiver`);
/// the variants exist for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error("phone number is longer than {MAX_INPUT_CHARS} characters")]
    TooLong,
    #[error("phone number contains a character that is not allowed")]
    ForbiddenCharacter,
    #[error("phone number has no country code and no default region is configured")]
    NoRegion,
    #[error("phone number is not a valid number")]
    Invalid,
}

/// A default region (ISO 3166 alpha-2) for numbers written without a country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(country::Id);

impl FromStr for Region {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        country::Id::from_str(&s.trim().to_ascii_uppercase())
            .map(Region)
            .map_err(|_| format!("unknown region `{s}` (expected ISO 3166 alpha-2, e.g. CN)"))
    }
}

impl Phone {
    /// Parses user input into an E.164 number.
    ///
    /// Only ASCII digits, `+`, spaces, `-`, `.`, `(` and `)` are accepted. This refuses letters
    /// (vanity numbers), full-width or other non-ASCII digits, control, bidi and zero-width
    /// characters up front: they are how look-alike inputs sneak past string comparisons.
    pub fn parse(input: &str, default_region: Option<Region>) -> Result<Phone, PhoneError> {
        if input.chars().count() > MAX_INPUT_CHARS {
            return Err(PhoneError::TooLong);
        }
        if !input
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '.' | '(' | ')'))
        {
            return Err(PhoneError::ForbiddenCharacter);
        }
        let trimmed = input.trim();
        if !trimmed.chars().any(|c| c.is_ascii_digit()) {
            return Err(PhoneError::Empty);
        }
        if trimmed.matches('+').count() > 1 || (trimmed.contains('+') && !trimmed.starts_with('+'))
        {
            return Err(PhoneError::Invalid);
        }
        let international = trimmed.starts_with('+');
        if !international && default_region.is_none() {
            return Err(PhoneError::NoRegion);
        }
        let region = if international {
            None
        } else {
            default_region.map(|r| r.0)
        };
        let number = phonenumber::parse(region, trimmed).map_err(|_| PhoneError::Invalid)?;
        // Validity is phonenumber's own verdict, not "the type is known": `is_valid` matches the
        // national number with its leading zeros and `number_type` without them, so the two
        // disagree on numbers such as `+39 02…` (valid) and `+34 0612…` (not).
        if number.extension().is_some() || !number.is_valid() {
            return Err(PhoneError::Invalid);
        }
        // The type from the number just parsed, for the send's check (SPEC §15.1), instead of
        // a second parse of the E.164 form when the send asks.
        let kind = number_type(&number);
        let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
        let region = number.country().id().map(|id| id.as_ref().to_string());
        Ok(Phone { e164, region, kind })
    }

    /// A test number (SPEC §15.4), which the metadata may call invalid: `e164` is the caller's
    /// input already normalised and matched against an operator's entry.
    pub fn test_number(e164: &str) -> Phone {
        let number = phonenumber::parse(None, e164).ok();
        let region = number
            .as_ref()
            .and_then(|n| n.country().id())
            .map(|id| id.as_ref().to_string());
        Phone {
            e164: e164.to_string(),
            region,
            kind: number.as_ref().map_or(NumberType::Unknown, number_type),
        }
    }

    /// The number's type from the metadata (SPEC §15.1), found when it was parsed.
    pub fn number_type(&self) -> NumberType {
        self.kind
    }

    /// The number without its last four digits, the unit pumping detection counts by (SPEC
    /// §15.2): a pumping run walks the subscriber digits of a range it was sold.
    pub fn prefix(&self) -> &str {
        &self.e164[..self.e164.len().saturating_sub(4).max(1)]
    }

    /// The E.164 form, `+` included.
    pub fn as_str(&self) -> &str {
        &self.e164
    }

    /// The E.164 digits without the leading `+` (the form Aliyun documents).
    pub fn digits(&self) -> &str {
        &self.e164[1..]
    }

    /// The ISO 3166 region the number belongs to, when the metadata knows it.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The number with all but the country prefix and last four digits hidden, for logs and
    /// `publicInfo`: `+86*******8000`.
    pub fn masked(&self) -> String {
        mask(&self.e164)
    }
}

fn number_type(number: &phonenumber::PhoneNumber) -> NumberType {
    NumberType::from_metadata(number.number_type(&phonenumber::metadata::DATABASE))
}

/// Masks a stored E.164 string the same way as [`Phone::masked`].
pub fn mask(e164: &str) -> String {
    let chars: Vec<char> = e164.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let head = 3.min(chars.len());
    let tail = 4;
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

impl fmt::Debug for Phone {
    /// Debug output is masked so that a stray `{:?}` never writes a full number to the logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cn() -> Option<Region> {
        Some("CN".parse().unwrap())
    }

    #[test]
    fn formats_of_one_number_normalise_to_the_same_e164() {
        for input in [
            "+86 138-0013-8000",
            "+8613800138000",
            "13800138000",
            " 138 0013 8000 ",
        ] {
            assert_eq!(
                Phone::parse(input, cn()).unwrap().as_str(),
                "+8613800138000",
                "{input}"
            );
        }
    }

    #[test]
    fn national_number_without_region_is_refused() {
        assert_eq!(Phone::parse("13800138000", None), Err(PhoneError::NoRegion));
    }

    #[test]
    fn hostile_inputs_are_refused() {
        let cases = [
            ("", PhoneError::Empty),
            ("   ", PhoneError::Empty),
            ("+86１３８００１３８０００", PhoneError::ForbiddenCharacter),
            ("+86138\u{200B}00138000", PhoneError::ForbiddenCharacter),
            ("+86138\u{202E}00138000", PhoneError::ForbiddenCharacter),
            ("+8613800138000\n", PhoneError::ForbiddenCharacter),
            ("+1-800-FLOWERS", PhoneError::ForbiddenCharacter),
            ("+861380013800000000000000000000000", PhoneError::TooLong),
            ("+86+13800138000", PhoneError::Invalid),
            ("+861", PhoneError::Invalid),
        ];
        for (input, want) in cases {
            assert_eq!(Phone::parse(input, cn()), Err(want), "{input:?}");
        }
    }

    #[test]
    fn number_types_come_from_the_metadata() {
        use crate::domain::sms_policy::NumberType as T;
        for (number, want) in [
            ("+8613800138000", T::Mobile),
            ("+447400123456", T::Mobile),
            ("+12015550123", T::FixedLineOrMobile),
            ("+18005550199", T::TollFree),
            ("+19005550199", T::PremiumRate),
            ("+441212345678", T::FixedLine),
            ("+4915123456789", T::Mobile),
            ("+4930123456", T::FixedLine),
        ] {
            let p = Phone::parse(number, None).unwrap();
            assert_eq!(p.number_type(), want, "{number}");
        }
        let p = Phone::parse("+8613800138000", None).unwrap();
        assert_eq!(p.prefix(), "+861380013");
    }

    /// Validity is phonenumber's `is_valid`, and the type found in the parse is the type of
    /// the number parsed again from its E.164 form, over numbers of many countries (some with
    /// national numbers that start with 0, where the two lookups of the metadata differ): some
    /// valid, most not.
    #[test]
    fn validity_and_type_are_the_metadata_s() {
        let mut seed: u64 = 0x5eed;
        let mut digits = |n: usize| -> String {
            (0..n)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    char::from(b'0' + ((seed >> 33) % 10) as u8)
                })
                .collect()
        };
        let mut inputs: Vec<String> = [
            "+39 02 1234 5678",
            "+39 0340 1234567",
            "+34 0612345678",
            "+34 612345678",
            "+351 0912345678",
            "+225 07 01 23 45 67",
            "+242 06 123 4567",
        ]
        .map(String::from)
        .to_vec();
        for cc in [
            "1", "7", "20", "33", "34", "39", "44", "49", "55", "61", "81", "86", "91", "225",
            "234", "242", "971",
        ] {
            for len in 6..=12 {
                for lead in ["", "0", "00", "1", "13", "7", "9", "2", "3", "5"] {
                    inputs.push(format!("+{cc}{lead}{}", digits(len)));
                }
            }
        }
        let (mut valid, mut checked) = (0, 0);
        for input in &inputs {
            let Ok(number) = phonenumber::parse(None, input) else {
                continue;
            };
            checked += 1;
            let want = number.is_valid() && number.extension().is_none();
            let got = Phone::parse(input, None);
            assert_eq!(got.is_ok(), want, "{input}");
            if let Ok(p) = got {
                valid += 1;
                let again = phonenumber::parse(None, p.as_str()).unwrap();
                assert_eq!(p.number_type(), number_type(&again), "{input}");
            }
        }
        assert!(
            checked > 1000 && valid > 50,
            "{checked} checked, {valid} valid"
        );
        assert!(Phone::parse("+39 02 1234 5678", None).is_ok());
        assert!(Phone::parse("+225 07 01 23 45 67", None).is_ok());
        assert_eq!(
            Phone::parse("+34 0612345678", None),
            Err(PhoneError::Invalid)
        );
    }

    #[test]
    fn masking_keeps_prefix_and_last_four() {
        let p = Phone::parse("+8613800138000", None).unwrap();
        assert_eq!(p.masked(), "+86*******8000");
        assert_eq!(format!("{p:?}"), "Phone(+86*******8000)");
        assert_eq!(p.digits(), "8613800138000");
        assert_eq!(p.region(), Some("CN"));
    }

    #[test]
    fn arbitrary_ascii_never_panics() {
        let alphabet = b"0123456789+-() .";
        let mut state = 0x2545F4914F6CDD1Du64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 33) as usize;
            let s: String = (0..len)
                .map(|i| alphabet[((state >> (i % 60)) as usize + i) % alphabet.len()] as char)
                .collect();
            let _ = Phone::parse(&s, cn());
        }
    }
}
