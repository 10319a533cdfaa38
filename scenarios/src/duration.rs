//! Durations as people write them in scenarios: `30m`, `90s`, `1h 30m`, `500ms`. A unit is required
//! (a bare `600` is refused rather than read as milliseconds), and durations longer than
//! [`crate::limits::MAX_DURATION_MS`] are refused rather than wrapped.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A non-negative duration in milliseconds, parsed from a humantime string with units (`"30m"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct DurationMs(pub u64);

impl DurationMs {
    /// `n` seconds.
    pub const fn secs(n: u64) -> Self {
        DurationMs(n * 1000)
    }
    /// `n` minutes.
    pub const fn mins(n: u64) -> Self {
        DurationMs(n * 60_000)
    }
    /// Milliseconds.
    pub const fn as_ms(self) -> u64 {
        self.0
    }
}

impl fmt::Display for DurationMs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(std::time::Duration::from_millis(self.0)))
    }
}

/// Parse `"30m"`-style text.
pub fn parse_duration(text: &str) -> Result<DurationMs, String> {
    let t = text.trim();
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(format!("duration `{t}` has no unit; write e.g. `{t}s`, `{t}m` or `{t}ms`"));
    }
    let d = humantime::parse_duration(t)
        .map_err(|e| format!("invalid duration `{text}` ({e}); expected e.g. `90s`, `30m`, `1h 30m`, `500ms`"))?;
    match u64::try_from(d.as_millis()) {
        Ok(ms) if ms <= crate::limits::MAX_DURATION_MS => Ok(DurationMs(ms)),
        _ => Err(format!("duration `{t}` is too long: at most 100 years")),
    }
}

impl<'de> Deserialize<'de> for DurationMs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = DurationMs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as `90s`, `30m` or `1h 30m`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DurationMs, E> {
                parse_duration(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<DurationMs, E> {
                Err(E::custom(format!("duration `{v}` has no unit; write e.g. `{v}s`, `{v}m` or `{v}ms`")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<DurationMs, E> {
                Err(E::custom(format!("duration `{v}` has no unit (and a duration cannot be negative); write e.g. `90s`")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<DurationMs, E> {
                Err(E::custom(format!("duration `{v}` has no unit; write e.g. `1.5s` or `90s`")))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for DurationMs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("90s", Ok(90_000))]
    #[case("1h 30m", Ok(5_400_000))]
    #[case("500ms", Ok(500))]
    #[case("600", Err("duration `600` has no unit; write e.g. `600s`, `600m` or `600ms`"))]
    #[case("1000000000000000h", Err("duration `1000000000000000h` is too long: at most 100 years"))]
    #[case("101y", Err("duration `101y` is too long: at most 100 years"))]
    fn units_are_required_and_overflow_is_refused(#[case] text: &str, #[case] want: Result<u64, &str>) {
        assert_eq!(parse_duration(text).map(|d| d.0).map_err(|e| e.to_string()), want.map_err(str::to_string));
    }

    #[test]
    fn bare_numbers_in_yaml_are_refused() {
        let e = serde_yaml::from_str::<DurationMs>("600").unwrap_err().to_string();
        assert!(e.contains("has no unit"), "{e}");
        assert_eq!(serde_yaml::from_str::<DurationMs>("10m").unwrap(), DurationMs::mins(10));
    }
}
