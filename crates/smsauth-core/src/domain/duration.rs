//! NocoBase-style durations (`"10m"`, `"1d"`, `"7d"`) used by the token policy.

/// Parses `<number><unit>` with unit `s`, `m`, `h` or `d` into seconds. A bare number is seconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        's' => (&s[..s.len() - 1], 1),
        'm' => (&s[..s.len() - 1], 60),
        'h' => (&s[..s.len() - 1], 3600),
        'd' => (&s[..s.len() - 1], 86_400),
        c if c.is_ascii_digit() => (s, 1),
        _ => return None,
    };
    let n: i64 = num.trim().parse().ok()?;
    (n > 0).then_some(n)?.checked_mul(mult)
}

/// Formats seconds back into the largest exact unit.
pub fn format_duration(secs: i64) -> String {
    for (unit, mult) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs % mult == 0 {
            return format!("{}{unit}", secs / mult);
        }
    }
    format!("{secs}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_units() {
        assert_eq!(parse_duration("1d"), Some(86_400));
        assert_eq!(parse_duration("10m"), Some(600));
        assert_eq!(parse_duration("90"), Some(90));
        assert_eq!(parse_duration("0d"), None);
        assert_eq!(parse_duration("-1h"), None);
        assert_eq!(parse_duration("1w"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(format_duration(86_400), "1d");
        assert_eq!(format_duration(5400), "90m");
        assert_eq!(format_duration(61), "61s");
    }
}
