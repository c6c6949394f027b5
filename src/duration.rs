//! Durations as users write them: `10s`, `1500ms`, `1m30s`, `2h`, `0.5s`,
//! or a bare number of seconds.

use std::time::Duration;

const EXPECTED: &str = "expected a duration such as 10s, 1500ms, 1m30s, 0.5s or 2 (seconds)";
const TOO_LONG: &str = "too long a duration (at most about 584 years)";

/// Parses a duration: one or more `<number><unit>` with units `ms`, `s`,
/// `m`, `h` and no spaces, or a bare number of seconds. Numbers are decimal
/// with a leading digit (`0.5`, not `.5`). Fractions finer than a
/// nanosecond are truncated; totals past `u64::MAX` nanoseconds are errors.
pub fn parse(text: &str) -> Result<Duration, String> {
    let invalid = || EXPECTED.to_string();
    let too_long = || TOO_LONG.to_string();
    if text.is_empty() {
        return Err(invalid());
    }
    if is_number(text) {
        return component_nanos(text, NANOS_PER_SEC)
            .map(Duration::from_nanos)
            .ok_or_else(too_long);
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let (number, tail) = rest.split_at(number_len);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let unit_nanos = match unit {
            "ms" => 1_000_000,
            "s" => NANOS_PER_SEC,
            "m" => 60 * NANOS_PER_SEC,
            "h" => 3600 * NANOS_PER_SEC,
            _ => return Err(invalid()),
        };
        if !is_number(number) {
            return Err(invalid());
        }
        total = component_nanos(number, unit_nanos)
            .and_then(|n| total.checked_add(n))
            .ok_or_else(too_long)?;
        rest = tail;
    }
    Ok(Duration::from_nanos(total))
}

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// `12` or `12.5`: digits, then optionally a point and more digits.
fn is_number(s: &str) -> bool {
    let (whole, fraction) = s.split_once('.').unwrap_or((s, "0"));
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && digits(fraction)
}

/// `number` (already checked by `is_number`) times `unit_nanos`, in
/// nanoseconds; `None` on overflow.
fn component_nanos(number: &str, unit_nanos: u64) -> Option<u64> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let whole: u64 = whole.parse().ok()?;
    let mut nanos = whole.checked_mul(unit_nanos)?;
    // Each fraction digit is worth a tenth of the one before it.
    let mut place = unit_nanos;
    for digit in fraction.bytes().map(|b| u64::from(b - b'0')) {
        place /= 10;
        if place == 0 {
            break;
        }
        nanos = nanos.checked_add(digit * place)?;
    }
    Some(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(parse("10s"), Ok(ms(10_000)));
        assert_eq!(parse("1500ms"), Ok(ms(1500)));
        assert_eq!(parse("1m30s"), Ok(ms(90_000)));
        assert_eq!(parse("2h"), Ok(ms(7_200_000)));
        assert_eq!(parse("0.5s"), Ok(ms(500)));
        assert_eq!(parse("5"), Ok(ms(5000)));
        assert_eq!(parse("2.25"), Ok(ms(2250)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(parse("1h1m1s1ms"), Ok(ms(3_661_001)));
        assert_eq!(parse("0.001ms"), Ok(Duration::from_nanos(1000)));
        assert_eq!(parse("1.0000000001s"), Ok(Duration::from_secs(1)));
    }

    #[test]
    fn rejects_everything_else_with_the_expected_form() {
        for text in [
            "", "1m30", "5 s", " 5s", "-1", "1.5.5s", ".5s", "5.s", "s", "10x", "1S", "10sec",
            "ms", "1mss", "5s ", "½s", "1e3", "+1",
        ] {
            assert_eq!(parse(text), Err(EXPECTED.to_string()), "{text}");
        }
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        for text in [
            "99999999999999999999",
            "5124096h",
            "18446744074s",
            "1h18446744074s",
        ] {
            assert_eq!(parse(text), Err(TOO_LONG.to_string()), "{text}");
        }
        assert!(parse("5124095h").is_ok());
    }
}
