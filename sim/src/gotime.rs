//! Go's `time.Parse(time.RFC3339, ...)` as CAPI calls it on annotation values, with Go's error
//! texts, and `metav1.Time`'s serialization of the result (UTC, whole seconds).
//!
//! Source: Go's `src/time/format.go` (`Parse`, `parse`, `ParseError.Error`, `getnum`, the
//! `stdISO8601ColonTZ` branch), `k8s.io/apimachinery/pkg/apis/meta/v1/time.go: MarshalJSON`.
//! Only the RFC 3339 layout is restated.

use crate::controllers::topology::field::go_quote;

/// `time.RFC3339`.
pub const RFC3339: &str = "2006-01-02T15:04:05Z07:00";

/// An instant: seconds since the Unix epoch (UTC); sub-second digits are dropped.
pub type UnixSecs = i64;

fn parse_error(value: &str, value_elem: &str, layout_elem: &str) -> String {
    format!("parsing time {} as {}: cannot parse {} as {}", go_quote(value), go_quote(RFC3339), go_quote(value_elem), go_quote(layout_elem))
}

fn range_error(value: &str, what: &str) -> String {
    format!("parsing time {}: {what} out of range", go_quote(value))
}

/// `getnum`: one or two digits (exactly two when `fixed`).
fn getnum(s: &str, fixed: bool) -> Option<(i64, &str)> {
    let b = s.as_bytes();
    if b.is_empty() || !b[0].is_ascii_digit() {
        return None;
    }
    if b.len() < 2 || !b[1].is_ascii_digit() {
        if fixed {
            return None;
        }
        return Some((i64::from(b[0] - b'0'), &s[1..]));
    }
    Some((i64::from(b[0] - b'0') * 10 + i64::from(b[1] - b'0'), &s[2..]))
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in(month: i64, year: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count from 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `time.Parse(time.RFC3339, value)`, or Go's error text.
pub fn parse_rfc3339(value: &str) -> Result<UnixSecs, String> {
    let mut rest = value;
    fn num<'v>(value: &str, rest: &'v str, fixed: bool, elem: &str) -> Result<(i64, &'v str), String> {
        getnum(rest, fixed).ok_or_else(|| parse_error(value, rest, elem))
    }
    let lit = |rest: &'_ str, p: &str| -> Result<(), String> {
        if rest.starts_with(p) {
            Ok(())
        } else {
            Err(parse_error(value, rest, p))
        }
    };
    // stdLongYear: four digits.
    if rest.len() < 4 || !rest.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
        return Err(parse_error(value, rest, "2006"));
    }
    let year: i64 = rest[..4].parse().unwrap_or(0);
    rest = &rest[4..];
    lit(rest, "-")?;
    let (month, r) = num(value, &rest[1..], true, "01")?;
    if !(1..=12).contains(&month) {
        return Err(range_error(value, "month"));
    }
    rest = r;
    lit(rest, "-")?;
    let (day, r) = num(value, &rest[1..], true, "02")?;
    rest = r;
    lit(rest, "T")?;
    let (hour, r) = num(value, &rest[1..], false, "15")?;
    if !(0..24).contains(&hour) {
        return Err(range_error(value, "hour"));
    }
    rest = r;
    lit(rest, ":")?;
    let (minute, r) = num(value, &rest[1..], true, "04")?;
    if !(0..60).contains(&minute) {
        return Err(range_error(value, "minute"));
    }
    rest = r;
    lit(rest, ":")?;
    let (second, r) = num(value, &rest[1..], true, "05")?;
    if !(0..60).contains(&second) {
        return Err(range_error(value, "second"));
    }
    rest = r;
    // A fractional second after the seconds field is accepted though the layout has none.
    let b = rest.as_bytes();
    if b.len() >= 2 && (b[0] == b'.' || b[0] == b',') && b[1].is_ascii_digit() {
        let n = 1 + b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        rest = &rest[n..];
    }
    // stdISO8601ColonTZ: `Z`, or `±hh:mm`.
    let offset = if let Some(r) = rest.strip_prefix('Z') {
        rest = r;
        0
    } else {
        let b = rest.as_bytes();
        if b.len() < 6 || b[3] != b':' || (b[0] != b'+' && b[0] != b'-') {
            return Err(parse_error(value, rest, "Z07:00"));
        }
        let (hh, mm) = (getnum(&rest[1..3], true), getnum(&rest[4..6], true));
        let (Some((hh, _)), Some((mm, _))) = (hh, mm) else {
            return Err(parse_error(value, rest, "Z07:00"));
        };
        let sign = if b[0] == b'-' { -1 } else { 1 };
        rest = &rest[6..];
        sign * (hh * 3600 + mm * 60)
    };
    if !rest.is_empty() {
        return Err(format!("parsing time {}: extra text: {}", go_quote(value), go_quote(rest)));
    }
    if day < 1 || day > days_in(month, year) {
        return Err(range_error(value, "day"));
    }
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// `metav1.Time`'s JSON: RFC 3339 in UTC, whole seconds.
pub fn format_rfc3339_utc(t: UnixSecs) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::utc("2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z")]
    #[case::offset_moves_to_utc("2027-01-01T01:30:00+02:00", "2026-12-31T23:30:00Z")]
    #[case::negative_offset("2024-02-28T23:00:00-01:00", "2024-02-29T00:00:00Z")]
    #[case::fraction_dropped("2020-01-01T00:00:00.123456Z", "2020-01-01T00:00:00Z")]
    #[case::one_digit_hour("2020-01-01T5:00:00Z", "2020-01-01T05:00:00Z")]
    fn parses_and_prints_utc(#[case] text: &str, #[case] want: &str) {
        assert_eq!(format_rfc3339_utc(parse_rfc3339(text).unwrap()), want);
    }

    /// Texts as Go 1.2x prints them for `time.Parse(time.RFC3339, v)`.
    #[rstest]
    #[case::not_a_date("tomorrow", r#"parsing time "tomorrow" as "2006-01-02T15:04:05Z07:00": cannot parse "tomorrow" as "2006""#)]
    #[case::date_only("2020-01-01", r#"parsing time "2020-01-01" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "T""#)]
    #[case::space(
        "2020-01-01 00:00:00Z",
        r#"parsing time "2020-01-01 00:00:00Z" as "2006-01-02T15:04:05Z07:00": cannot parse " 00:00:00Z" as "T""#
    )]
    #[case::no_zone(
        "2020-01-01T00:00:00",
        r#"parsing time "2020-01-01T00:00:00" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "Z07:00""#
    )]
    #[case::month("2020-13-01T00:00:00Z", r#"parsing time "2020-13-01T00:00:00Z": month out of range"#)]
    #[case::day("2021-02-29T00:00:00Z", r#"parsing time "2021-02-29T00:00:00Z": day out of range"#)]
    #[case::extra("2020-01-01T00:00:00Zjunk", r#"parsing time "2020-01-01T00:00:00Zjunk": extra text: "junk""#)]
    fn errors_read_as_go_prints_them(#[case] text: &str, #[case] want: &str) {
        assert_eq!(parse_rfc3339(text).unwrap_err(), want);
    }
}
