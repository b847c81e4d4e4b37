//! The SMS policy (SPEC §15.1): which destinations may be sent a code, how many SMS a day the
//! operator pays for, how pumping is detected, and whether numbers without an account are sent
//! anything. One object, edited at run time by `smsPolicy:update`; parsed here so that a policy
//! that reaches a use-case is valid.

use serde::{Deserialize, Serialize};

/// A number type from the phone-number metadata, with the names of SPEC §15.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NumberType {
    Mobile,
    FixedLineOrMobile,
    FixedLine,
    TollFree,
    PremiumRate,
    SharedCost,
    Voip,
    PersonalNumber,
    Pager,
    Uan,
    Voicemail,
    Unknown,
}

impl NumberType {
    pub fn as_str(self) -> &'static str {
        match self {
            NumberType::Mobile => "mobile",
            NumberType::FixedLineOrMobile => "fixed_line_or_mobile",
            NumberType::FixedLine => "fixed_line",
            NumberType::TollFree => "toll_free",
            NumberType::PremiumRate => "premium_rate",
            NumberType::SharedCost => "shared_cost",
            NumberType::Voip => "voip",
            NumberType::PersonalNumber => "personal_number",
            NumberType::Pager => "pager",
            NumberType::Uan => "uan",
            NumberType::Voicemail => "voicemail",
            NumberType::Unknown => "unknown",
        }
    }

    /// The metadata's classification. Types the policy has no name for (emergency, short codes,
    /// carrier-specific, …) are `Unknown`: none of them is a mobile phone a person signs in with.
    pub fn from_metadata(t: phonenumber::Type) -> NumberType {
        use phonenumber::Type as T;
        match t {
            T::Mobile => NumberType::Mobile,
            T::FixedLineOrMobile => NumberType::FixedLineOrMobile,
            T::FixedLine => NumberType::FixedLine,
            T::TollFree => NumberType::TollFree,
            T::PremiumRate => NumberType::PremiumRate,
            T::SharedCost => NumberType::SharedCost,
            T::Voip => NumberType::Voip,
            T::PersonalNumber => NumberType::PersonalNumber,
            T::Pager => NumberType::Pager,
            T::Uan => NumberType::Uan,
            T::Voicemail => NumberType::Voicemail,
            _ => NumberType::Unknown,
        }
    }
}

/// What pumping detection does when a window crosses its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum PumpingMode {
    /// Refuses sends to the blocked prefix or country.
    Enforce,
    /// Records, logs and counts what it would have blocked, and sends.
    Monitor,
    Off,
}

/// SPEC §15.2 thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct PumpingPolicy {
    pub mode: PumpingMode,
    pub prefix_window_minutes: u32,
    /// Sent-but-unverified codes per prefix within the window above which it is blocked.
    pub prefix_unverified_max: u32,
    pub country_window_minutes: u32,
    /// Sends per country within the window before its conversion is judged at all.
    pub country_min_sends: u32,
    /// Verified / sent below which a country is blocked (0 to 1).
    pub country_min_conversion: f64,
    pub block_minutes: u32,
}

impl Default for PumpingPolicy {
    fn default() -> Self {
        PumpingPolicy {
            mode: PumpingMode::Enforce,
            prefix_window_minutes: 60,
            prefix_unverified_max: 10,
            country_window_minutes: 60,
            country_min_sends: 50,
            country_min_conversion: 0.2,
            block_minutes: 60,
        }
    }
}

/// Daily SMS budgets over a rolling 24 hours; `0` or absent means none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Budgets {
    pub global_per_day: u32,
    /// ISO 3166 alpha-2 → SMS per rolling 24 h.
    pub per_country_per_day: std::collections::BTreeMap<String, u32>,
}

/// The whole policy, in its wire form (`smsPolicy:get`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct SmsPolicy {
    /// Empty: every country.
    pub allowed_countries: Vec<String>,
    /// Wins over the allow-list.
    pub denied_countries: Vec<String>,
    pub allowed_number_types: Vec<NumberType>,
    pub pumping: PumpingPolicy,
    pub budgets: Budgets,
    /// Whether a sign-in code is really sent to a phone that has no account and cannot sign up.
    pub send_without_account: bool,
}

impl Default for SmsPolicy {
    /// Mobile numbers only: in the metadata of some countries (the USA, Canada, China's
    /// landline ranges) a mobile and a landline cannot be told apart, so `fixed_line_or_mobile`
    /// is allowed too; landlines, toll-free, premium-rate and the rest are what SMS pumping
    /// uses and what no user signs in with.
    fn default() -> Self {
        SmsPolicy {
            allowed_countries: Vec::new(),
            denied_countries: Vec::new(),
            allowed_number_types: vec![NumberType::Mobile, NumberType::FixedLineOrMobile],
            pumping: PumpingPolicy::default(),
            budgets: Budgets::default(),
            send_without_account: false,
        }
    }
}

/// Why a policy was refused: the wire path of the bad field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid SMS policy field {0}")]
pub struct PolicyError(pub String);

/// Refuses values that are not ISO 3166 alpha-2 codes the metadata knows.
fn valid_country(code: &str) -> bool {
    code.len() == 2
        && code.bytes().all(|b| b.is_ascii_uppercase())
        && code.parse::<phonenumber::country::Id>().is_ok()
}

impl SmsPolicy {
    /// Parses a policy from its wire form: country codes are upper-cased, then every field is
    /// checked. A wrongly typed or unknown field is an error naming its path, never a default.
    pub fn from_json(value: serde_json::Value) -> Result<SmsPolicy, PolicyError> {
        if !value.is_object() {
            return Err(PolicyError("policy".into()));
        }
        let mut policy: SmsPolicy = serde_path_to_error_free(value)?;
        policy.normalise();
        policy.validate()?;
        Ok(policy)
    }

    fn normalise(&mut self) {
        for list in [&mut self.allowed_countries, &mut self.denied_countries] {
            for c in list.iter_mut() {
                *c = c.trim().to_ascii_uppercase();
            }
            list.sort();
            list.dedup();
        }
        // Duplicates dropped, the order kept: it is the order the operator wrote them in.
        let mut seen = Vec::with_capacity(self.allowed_number_types.len());
        self.allowed_number_types.retain(|t| {
            let first = !seen.contains(t);
            seen.push(*t);
            first
        });
        self.budgets.per_country_per_day = std::mem::take(&mut self.budgets.per_country_per_day)
            .into_iter()
            .map(|(k, v)| (k.trim().to_ascii_uppercase(), v))
            .collect();
    }

    pub fn validate(&self) -> Result<(), PolicyError> {
        let bad = |path: &str| Err(PolicyError(path.to_string()));
        if !self.allowed_countries.iter().all(|c| valid_country(c)) {
            return bad("allowedCountries");
        }
        if !self.denied_countries.iter().all(|c| valid_country(c)) {
            return bad("deniedCountries");
        }
        if !self
            .budgets
            .per_country_per_day
            .keys()
            .all(|c| valid_country(c))
        {
            return bad("budgets.perCountryPerDay");
        }
        let p = &self.pumping;
        // Windows of at most a day: counters are kept a day (SPEC §15.6); a block may last a week.
        let minutes = 1..=24 * 60;
        if !minutes.contains(&p.prefix_window_minutes) {
            return bad("pumping.prefixWindowMinutes");
        }
        if !minutes.contains(&p.country_window_minutes) {
            return bad("pumping.countryWindowMinutes");
        }
        if !(1..=7 * 24 * 60).contains(&p.block_minutes) {
            return bad("pumping.blockMinutes");
        }
        if p.prefix_unverified_max == 0 {
            return bad("pumping.prefixUnverifiedMax");
        }
        if p.country_min_sends == 0 {
            return bad("pumping.countryMinSends");
        }
        if !(0.0..=1.0).contains(&p.country_min_conversion) {
            return bad("pumping.countryMinConversion");
        }
        Ok(())
    }

    /// Whether codes may go to a number of `region` (ISO alpha-2; `None` when the metadata
    /// knows no region, which only an allow-list refuses).
    pub fn country_allowed(&self, region: Option<&str>) -> bool {
        match region {
            Some(r) => {
                !self.denied_countries.iter().any(|c| c == r)
                    && (self.allowed_countries.is_empty()
                        || self.allowed_countries.iter().any(|c| c == r))
            }
            None => self.allowed_countries.is_empty(),
        }
    }

    pub fn number_type_allowed(&self, t: NumberType) -> bool {
        self.allowed_number_types.contains(&t)
    }

    /// The daily budget of `region`, `0` for none.
    pub fn country_budget(&self, region: &str) -> u32 {
        self.budgets
            .per_country_per_day
            .get(region)
            .copied()
            .unwrap_or(0)
    }
}

/// Deserialises with the failing field's path (`pumping.mode`) in the error; the value itself
/// is never echoed.
fn serde_path_to_error_free(value: serde_json::Value) -> Result<SmsPolicy, PolicyError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        PolicyError(if path == "." || path.is_empty() {
            "policy".to_string()
        } else {
            path
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_default_is_the_documented_object() {
        let v = serde_json::to_value(SmsPolicy::default()).unwrap();
        assert_eq!(
            v,
            json!({"allowedCountries": [], "deniedCountries": [],
                "allowedNumberTypes": ["mobile", "fixed_line_or_mobile"],
                "pumping": {"mode": "enforce", "prefixWindowMinutes": 60, "prefixUnverifiedMax": 10,
                            "countryWindowMinutes": 60, "countryMinSends": 50,
                            "countryMinConversion": 0.2, "blockMinutes": 60},
                "budgets": {"globalPerDay": 0, "perCountryPerDay": {}},
                "sendWithoutAccount": false})
        );
    }

    #[test]
    fn partial_objects_fill_in_defaults_and_countries_are_normalised() {
        let p = SmsPolicy::from_json(json!({"deniedCountries": ["ru", " by"],
            "budgets": {"perCountryPerDay": {"cn": 5}}}))
        .unwrap();
        assert_eq!(p.denied_countries, ["BY", "RU"]);
        assert_eq!(p.country_budget("CN"), 5);
        assert_eq!(p.pumping, PumpingPolicy::default());
        assert!(!p.country_allowed(Some("RU")));
        assert!(p.country_allowed(Some("DE")));
    }

    #[test]
    fn bad_values_name_their_field() {
        for (v, field) in [
            (json!({"allowedCountries": ["XX"]}), "allowedCountries"),
            (json!({"allowedCountries": "CN"}), "allowedCountries"),
            (
                json!({"allowedNumberTypes": ["satellite"]}),
                "allowedNumberTypes[0]",
            ),
            (json!({"pumping": {"mode": "loud"}}), "pumping.mode"),
            (
                json!({"pumping": {"countryMinConversion": 1.5}}),
                "pumping.countryMinConversion",
            ),
            (
                json!({"pumping": {"prefixWindowMinutes": 0}}),
                "pumping.prefixWindowMinutes",
            ),
            (
                json!({"budgets": {"globalPerDay": -1}}),
                "budgets.globalPerDay",
            ),
            (json!({"surprise": true}), "surprise"),
            (json!([1]), "policy"),
        ] {
            let err = SmsPolicy::from_json(v.clone()).unwrap_err();
            assert_eq!(err.0, field, "{v}");
        }
    }

    #[test]
    fn the_deny_list_wins_and_unknown_regions_pass_only_without_an_allow_list() {
        let p = SmsPolicy::from_json(json!({"allowedCountries": ["CN", "DE"],
            "deniedCountries": ["DE"]}))
        .unwrap();
        assert!(p.country_allowed(Some("CN")));
        assert!(!p.country_allowed(Some("DE")));
        assert!(!p.country_allowed(Some("FR")));
        assert!(!p.country_allowed(None));
        assert!(SmsPolicy::default().country_allowed(None));
    }
}
