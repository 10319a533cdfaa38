//! How many unhealthy Machines a MachineHealthCheck may remediate (`maxUnhealthy`,
//! `unhealthyRange`), restated from `TestIsAllowedRemediation` and `TestGetMaxUnhealthy`
//! (`machinehealthcheck_controller_test.go`).

use capi_sim::controllers::machinehealthcheck::{is_allowed_remediation, max_unhealthy};
use capi_sim::kinds::Kind;
use capi_sim::object::Object;
use rstest::rstest;
use serde_json::{json, Value};

fn limit_mhc(max: Option<Value>, range: Option<&str>) -> Object {
    let mut o = Object::new(Kind::MachineHealthCheck, "default", "h");
    if let Some(m) = max {
        o.set("/spec/remediation/triggerIf/unhealthyLessThanOrEqualTo", m);
    }
    if let Some(r) = range {
        o.set("/spec/remediation/triggerIf/unhealthyInRange", json!(r));
    }
    o
}

/// TestIsAllowedRemediation, every table entry (expected machines, current healthy, allowed).
#[rstest]
#[case::when_max_unhealthy_is_not_set(None, 3, 0, Some(true))]
#[case::when_max_unhealthy_is_not_an_int_or_percentage(Some(json!("abcdef")), 5, 2, None)]
#[case::when_max_unhealthy_is_an_int_less_than_current_unhealthy(Some(json!(1)), 3, 1, Some(false))]
#[case::when_max_unhealthy_is_an_int_equal_to_current_unhealthy(Some(json!(2)), 3, 1, Some(true))]
#[case::when_max_unhealthy_is_an_int_greater_than_current_unhealthy(Some(json!(3)), 3, 1, Some(true))]
#[case::when_max_unhealthy_is_a_percentage_less_than_current_unhealthy(Some(json!("50%")), 5, 2, Some(false))]
#[case::when_max_unhealthy_is_a_percentage_equal_to_current_unhealthy(Some(json!("60%")), 5, 2, Some(true))]
#[case::when_max_unhealthy_is_a_percentage_greater_than_current_unhealthy(Some(json!("70%")), 5, 2, Some(true))]
fn is_allowed(#[case] max: Option<Value>, #[case] expected: i64, #[case] healthy: i64, #[case] allowed: Option<bool>) {
    let got = is_allowed_remediation(&limit_mhc(max, None), expected, healthy);
    assert_eq!(got.as_ref().ok().map(|(a, _)| *a), allowed, "{got:?}");
}

/// TestGetMaxUnhealthy, every table entry: percentages of the expected machines round down.
#[rstest]
#[case::when_max_unhealthy_is_nil(None, 7, Ok(7))]
#[case::when_max_unhealthy_is_not_an_int_or_percentage(
    Some(json!("abcdef")),
    3,
    Err("invalid value for IntOrString: invalid type: string is not a percentage".to_string())
)]
#[case::when_max_unhealthy_is_an_int(Some(json!(3)), 2, Ok(3))]
#[case::when_max_unhealthy_is_40_percent_of_5(Some(json!("40%")), 5, Ok(2))]
#[case::when_max_unhealthy_is_60_percent_of_7(Some(json!("60%")), 7, Ok(4))]
fn get_max_unhealthy(#[case] max: Option<Value>, #[case] expected: i64, #[case] want: Result<i64, String>) {
    assert_eq!(max_unhealthy(&limit_mhc(max, None), expected), want);
}

/// `isAllowedRemediation` with `unhealthyInRange`: allowed inside `[min-max]` (the controller test
/// "within unhealthyRange" and "not within UnhealthyInRange"), remediationsAllowed = max - unhealthy;
/// a range with max below min is an error (`getUnhealthyRange`).
#[rstest]
#[case::inside("[1-3]", 3, 1, Ok((true, 1)))]
#[case::below("[3-5]", 3, 1, Ok((false, 3)))]
#[case::none_unhealthy("[1-2]", 3, 3, Ok((false, 2)))]
#[case::inverted("[3-1]", 3, 1, Err("max value 1 cannot be less than min value 3 for unhealthyRange".to_string()))]
fn unhealthy_in_range(#[case] range: &str, #[case] expected: i64, #[case] healthy: i64, #[case] want: Result<(bool, i64), String>) {
    assert_eq!(is_allowed_remediation(&limit_mhc(None, Some(range)), expected, healthy), want);
}
