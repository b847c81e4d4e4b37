//! The bench's phone numbers: index `i` names one valid Dutch mobile number, so seeded users,
//! old code records and the flows' fresh phones never collide. Owns the numbering only; the SQL
//! that builds the same numbers inside the database lives next to the seeding statements and
//! must stay equal to [`phone`].

/// Dutch mobile numbers are `+31 6` then one of these digits then 7 more
/// (libphonenumber: `6[1-58]\d{7}`): 6 × 10⁷ numbers.
pub const SECOND_DIGITS: &str = "123458";

/// Numbers per second digit.
pub const BLOCK: u64 = 10_000_000;

/// How many distinct numbers there are.
pub const CAPACITY: u64 = 6 * BLOCK;

/// The `i`-th number in E.164 (`+31610000000` for 0). `i` wraps at [`CAPACITY`].
pub fn phone(i: u64) -> String {
    let i = i % CAPACITY;
    let digit = SECOND_DIGITS
        .as_bytes()
        .get((i / BLOCK) as usize)
        .map_or('1', |b| *b as char);
    format!("+316{digit}{:07}", i % BLOCK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_distinct_dutch_mobiles() {
        assert_eq!(phone(0), "+31610000000");
        assert_eq!(phone(BLOCK - 1), "+31619999999");
        assert_eq!(phone(BLOCK), "+31620000000");
        assert_eq!(phone(5 * BLOCK + 42), "+31680000042");
        assert_eq!(phone(CAPACITY), phone(0));
    }
}
