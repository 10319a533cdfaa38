//! `maxSurge` / `maxUnavailable` / `maxInFlight` resolution (`intstr.GetScaledValueFromIntOrPercent`,
//! `mdutil.ResolveFenceposts`, `mdutil.MaxSurge`, `mdutil.MaxUnavailable`) and what the planners need to
//! know about a MachineDeployment's rollout strategy.
//! Sources: `core/reconcilers/machinedeployment/mdutil/util.go`, `k8s.io/apimachinery/pkg/util/intstr`.

use crate::object::Object;
use serde_json::Value;

/// The MachineDeployment strategy types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StrategyType {
    /// `RollingUpdate`.
    RollingUpdate,
    /// `OnDelete`.
    OnDelete,
    /// Anything else (including empty): CAPI refuses to reconcile it.
    Other(String),
}

/// `intstr.GetScaledValueFromIntOrPercent`: an integer is taken as is; a string must be `N%` and is
/// scaled against `total`, rounding up or down.
pub fn scaled_value(v: Option<&Value>, total: i64, round_up: bool) -> Result<i64, String> {
    let v = v.filter(|v| !v.is_null()).ok_or("nil value for IntOrString")?;
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| format!("invalid value for IntOrString: invalid type: {n} is not an integer")),
        Value::String(s) => {
            let digits =
                s.strip_suffix('%').ok_or_else(|| "invalid value for IntOrString: invalid type: string is not a percentage".to_string())?;
            let pct: i64 = digits.parse().map_err(|_| {
                format!("invalid value for IntOrString: invalid value \"{s}\": strconv.Atoi: parsing \"{digits}\": invalid syntax")
            })?;
            let scaled = pct.saturating_mul(total);
            Ok(if round_up { -((-scaled).div_euclid(100)) } else { scaled.div_euclid(100) })
        }
        other => Err(format!("invalid value for IntOrString: invalid type: neither int nor percentage ({other})")),
    }
}

/// `ResolveFenceposts`: maxSurge (rounded up) and maxUnavailable (rounded down); if both resolve
/// to zero, maxUnavailable becomes 1 (validation forbids explicit 0/0, but rounding can produce it).
pub fn resolve_fenceposts(max_surge: Option<&Value>, max_unavailable: Option<&Value>, desired: i64) -> Result<(i64, i64), String> {
    let surge = scaled_value(max_surge, desired, true)?;
    let mut unavailable = scaled_value(max_unavailable, desired, false)?;
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    Ok((surge, unavailable))
}

/// What the planners need to know about a MachineDeployment.
#[derive(Clone, Debug, PartialEq)]
pub struct Rollout {
    /// `spec.replicas` (the webhook always sets it).
    pub replicas: Option<i64>,
    /// `spec.rollout.strategy.type`.
    pub strategy: StrategyType,
    /// `spec.rollout.strategy.rollingUpdate.maxSurge`.
    pub max_surge: Option<Value>,
    /// `spec.rollout.strategy.rollingUpdate.maxUnavailable`.
    pub max_unavailable: Option<Value>,
}

impl Rollout {
    /// From a MachineDeployment.
    pub fn of(md: &Object) -> Rollout {
        let strategy = match md.str_at("/spec/rollout/strategy/type").unwrap_or("") {
            "RollingUpdate" => StrategyType::RollingUpdate,
            "OnDelete" => StrategyType::OnDelete,
            other => StrategyType::Other(other.to_string()),
        };
        Rollout {
            replicas: md.i64_at("/spec/replicas"),
            strategy,
            max_surge: md.at("/spec/rollout/strategy/rollingUpdate/maxSurge").cloned(),
            max_unavailable: md.at("/spec/rollout/strategy/rollingUpdate/maxUnavailable").cloned(),
        }
    }

    /// A rolling-update rollout (tests).
    pub fn rolling(replicas: i64, max_surge: Value, max_unavailable: Value) -> Rollout {
        Rollout {
            replicas: Some(replicas),
            strategy: StrategyType::RollingUpdate,
            max_surge: Some(max_surge),
            max_unavailable: Some(max_unavailable),
        }
    }

    /// `spec.replicas`, 0 when unset.
    pub fn desired(&self) -> i64 {
        self.replicas.unwrap_or(0)
    }

    /// Whether the strategy is RollingUpdate.
    pub fn is_rolling(&self) -> bool {
        self.strategy == StrategyType::RollingUpdate
    }

    /// `mdutil.MaxUnavailable`: 0 unless rolling; capped at replicas. A resolution error counts as 0
    /// (validation catches it), exactly as CAPI ignores it.
    pub fn max_unavailable(&self) -> i64 {
        let replicas = self.desired();
        if !self.is_rolling() || replicas == 0 {
            return 0;
        }
        let (_, unavailable) = resolve_fenceposts(self.max_surge.as_ref(), self.max_unavailable.as_ref(), replicas).unwrap_or((0, 0));
        unavailable.min(replicas)
    }

    /// `mdutil.MaxSurge`: 0 unless rolling.
    pub fn max_surge(&self) -> i64 {
        if !self.is_rolling() {
            return 0;
        }
        resolve_fenceposts(self.max_surge.as_ref(), self.max_unavailable.as_ref(), self.desired()).map(|(s, _)| s).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case(json!(1), 10, true, Ok(1))]
    #[case(json!("25%"), 10, true, Ok(3))]
    #[case(json!("25%"), 10, false, Ok(2))]
    #[case(json!("0%"), 10, true, Ok(0))]
    #[case(json!("100%"), 3, false, Ok(3))]
    #[case(json!("33%"), 3, true, Ok(1))]
    #[case(json!("33%"), 3, false, Ok(0))]
    #[case(json!("1"), 3, false, Err(()))]
    #[case(json!("abc%"), 3, false, Err(()))]
    fn int_or_percent(#[case] v: Value, #[case] total: i64, #[case] up: bool, #[case] want: Result<i64, ()>) {
        assert_eq!(scaled_value(Some(&v), total, up).map_err(|_| ()), want);
    }

    #[rstest]
    // surge rounds up, unavailable rounds down
    #[case(json!("25%"), json!("25%"), 10, (3, 2))]
    // both resolve to zero → unavailable 1
    #[case(json!(0), json!(0), 3, (0, 1))]
    #[case(json!("1%"), json!("1%"), 2, (1, 0))]
    #[case(json!("0%"), json!("1%"), 2, (0, 1))]
    #[case(json!(1), json!(0), 3, (1, 0))]
    fn fenceposts(#[case] surge: Value, #[case] unavailable: Value, #[case] desired: i64, #[case] want: (i64, i64)) {
        assert_eq!(resolve_fenceposts(Some(&surge), Some(&unavailable), desired).unwrap(), want);
    }

    #[test]
    fn max_unavailable_is_capped_and_zero_for_on_delete() {
        assert_eq!(Rollout::rolling(2, json!(0), json!(5)).max_unavailable(), 2);
        assert_eq!(Rollout::rolling(0, json!(0), json!(5)).max_unavailable(), 0);
        let mut r = Rollout::rolling(3, json!(1), json!(1));
        r.strategy = StrategyType::OnDelete;
        assert_eq!((r.max_unavailable(), r.max_surge()), (0, 0));
    }
}
