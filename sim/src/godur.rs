//! Durations written as Go's `time.Duration.String()` writes them (`5m0s`, `10m0s`, `1h0m0s`, `1.5s`,
//! `250ms`, `0s`), because upstream formats every duration in its condition messages and events with
//! `%s`/`%v` of a `time.Duration` (or `metav1.Duration`). The simulator's clock counts milliseconds.

/// Go's `time.Duration.String()` for a duration of `ms` milliseconds (negative allowed).
pub fn go_duration_ms(ms: i64) -> String {
    go_duration_ns(i128::from(ms) * 1_000_000)
}

/// Go's `time.Duration.String()` for `ns` nanoseconds: `0s` for zero; under one second a single unit
/// (`ns`, `µs`, `ms`) with a trimmed fraction; otherwise `[Nh][Nm]N[.fff]s` where hours and minutes
/// appear once the duration reaches them and the seconds' fraction loses trailing zeros.
pub fn go_duration_ns(ns: i128) -> String {
    if ns == 0 {
        return "0s".to_string();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if u < 1_000_000_000 {
        let (unit, scale) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&with_fraction(u / scale, u % scale, scale));
        out.push_str(unit);
        return out;
    }
    let secs_total = u / 1_000_000_000;
    let frac = u % 1_000_000_000;
    let hours = secs_total / 3600;
    let minutes = (secs_total % 3600) / 60;
    let secs = secs_total % 60;
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&with_fraction(secs, frac, 1_000_000_000));
    out.push('s');
    out
}

/// `whole.fraction` with the fraction's trailing zeros (and a bare point) removed.
fn with_fraction(whole: u128, frac: u128, scale: u128) -> String {
    if frac == 0 {
        return whole.to_string();
    }
    let digits = scale.ilog10() as usize;
    let f = format!("{frac:0digits$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// Expectations from Go's `time/time_test.go` `durationTests` and from upstream's messages.
    #[rstest]
    #[case(0, "0s")]
    #[case(1, "1ns")]
    #[case(1_100, "1.1µs")]
    #[case(2_200_000, "2.2ms")]
    #[case(3_300_000_000, "3.3s")]
    #[case(4 * 60 * 1_000_000_000 + 5_000_000_000, "4m5s")]
    #[case(4 * 60 * 1_000_000_000 + 5_001_000_000, "4m5.001s")]
    #[case(5 * 3600 * 1_000_000_000 + 6 * 60 * 1_000_000_000 + 7_001_000_000, "5h6m7.001s")]
    #[case(8 * 60 * 1_000_000_000 + 1, "8m0.000000001s")]
    #[case(-1, "-1ns")]
    #[case(300 * 1_000_000_000, "5m0s")]
    #[case(3600 * 1_000_000_000, "1h0m0s")]
    fn formats_as_go(#[case] ns: i128, #[case] want: &str) {
        assert_eq!(go_duration_ns(ns), want);
    }

    #[rstest]
    #[case(600_000, "10m0s")]
    #[case(20_000, "20s")]
    #[case(1_500, "1.5s")]
    #[case(250, "250ms")]
    #[case(-60_000, "-1m0s")]
    fn formats_milliseconds(#[case] ms: i64, #[case] want: &str) {
        assert_eq!(go_duration_ms(ms), want);
    }
}
