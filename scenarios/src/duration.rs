//! Durations as people write them in scenarios: `30m`, `90s`, `1h 30m`, `500ms`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A non-negative duration in milliseconds, parsed from a humantime string (`"30m"`) or an integer
/// number of milliseconds.
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
    humantime::parse_duration(text.trim())
        .map(|d| DurationMs(d.as_millis() as u64))
        .map_err(|e| format!("invalid duration `{text}` ({e}); expected e.g. `90s`, `30m`, `1h 30m`, `500ms`"))
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
                Ok(DurationMs(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<DurationMs, E> {
                u64::try_from(v).map(DurationMs).map_err(|_| E::custom("a duration cannot be negative"))
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
