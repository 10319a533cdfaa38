//! Which Machines a MachineSet deletes first when it scales down: deleting Machines (100), the
//! `cluster.x-k8s.io/delete-machine` annotation (80), unhealthy Machines (50: no nodeRef, `NodeHealthy`
//! False or `HealthCheckSucceeded` False), then per `spec.deletion.order`: Random 20 for all, Newest
//! 50 − age score, Oldest 50·(1 − e^(−age/10d)); ties by name.
//! Source: `core/reconcilers/machineset/machineset_deletion_order.go`.
//!
//! The in-place-update priority (75) is not modelled (the `InPlaceUpdates` gate is off by default).

use crate::controllers::common::keys;
use crate::controllers::conditions;
use crate::object::Object;
use std::sync::Arc;

const MUST_DELETE: f64 = 100.0;
const SHOULD_DELETE_FIRST: f64 = 80.0;
const BETTER_DELETE: f64 = 50.0;
const COULD_DELETE: f64 = 20.0;
const MUST_NOT_DELETE: f64 = 0.0;
const SECONDS_PER_TEN_DAYS: f64 = 864_000.0;

/// `spec.deletion.order`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// `Random` (the default): no preference beyond the fixed priorities; ties by name.
    Random,
    /// `Newest`.
    Newest,
    /// `Oldest`.
    Oldest,
}

impl Order {
    /// Parse `spec.deletion.order` (empty means Random).
    pub fn parse(v: Option<&str>) -> Result<Order, String> {
        match v.unwrap_or("") {
            "" | "Random" => Ok(Order::Random),
            "Newest" => Ok(Order::Newest),
            "Oldest" => Ok(Order::Oldest),
            other => Err(format!("Unsupported deletion order {other}. Must be one of 'Random', 'Newest', or 'Oldest'")),
        }
    }
}

/// `isMachineHealthy` (Unknown counts as healthy).
pub fn is_healthy(m: &Object) -> bool {
    m.str_at("/status/nodeRef/name").is_some_and(|n| !n.is_empty())
        && !conditions::is_false(m, "NodeHealthy")
        && !conditions::is_false(m, "HealthCheckSucceeded")
}

fn fixed(m: &Object) -> Option<f64> {
    if m.deleting() {
        Some(MUST_DELETE)
    } else if m.meta.annotations.contains_key(keys::DELETE_MACHINE) {
        Some(SHOULD_DELETE_FIRST)
    } else if !is_healthy(m) {
        Some(BETTER_DELETE)
    } else {
        None
    }
}

fn oldest_score(m: &Object, now: u64) -> f64 {
    if now < m.meta.creation_ms {
        return MUST_NOT_DELETE;
    }
    let age = (now - m.meta.creation_ms) as f64 / 1000.0;
    BETTER_DELETE * (1.0 - (-age / SECONDS_PER_TEN_DAYS).exp())
}

/// The delete priority of a Machine (higher goes first).
pub fn priority(order: Order, m: &Object, now: u64) -> f64 {
    if let Some(p) = fixed(m) {
        return p;
    }
    match order {
        Order::Random => COULD_DELETE,
        Order::Oldest => oldest_score(m, now),
        Order::Newest => BETTER_DELETE - oldest_score(m, now),
    }
}

/// The first `n` Machines to delete, by priority then name.
pub fn to_delete(machines: &[Arc<Object>], n: usize, order: Order, now: u64) -> Vec<Arc<Object>> {
    let mut v: Vec<(f64, Arc<Object>)> = machines.iter().map(|m| (priority(order, m, now), m.clone())).collect();
    v.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.name().cmp(b.1.name())));
    v.into_iter().take(n).map(|(_, m)| m).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::conditions::{Cond, Status};
    use crate::kinds::Kind;
    use rstest::rstest;

    const DAY: u64 = 86_400_000;

    /// A healthy Machine created `age_days` before `now` (10 days).
    fn m(name: &str, age_days: u64, extra: &str) -> Arc<Object> {
        let mut o = Object::new(Kind::Machine, "default", name);
        o.meta.creation_ms = 10 * DAY - age_days * DAY;
        o.set("/status/nodeRef/name", serde_json::json!(name));
        match extra {
            "deleting" => o.meta.deletion_ms = Some(10 * DAY),
            "annotated" => {
                o.meta.annotations.insert(keys::DELETE_MACHINE.into(), "yes".into());
            }
            "no-node" => {
                o.remove("/status/nodeRef");
            }
            "node-unhealthy" => conditions::set(&mut o, [Cond::new("NodeHealthy", Status::False, "NodeNotHealthy", "")], 0),
            "mhc-unhealthy" => conditions::set(&mut o, [Cond::new("HealthCheckSucceeded", Status::False, "NodeStartupTimeout", "")], 0),
            "node-unknown" => conditions::set(&mut o, [Cond::new("NodeHealthy", Status::Unknown, "X", "")], 0),
            _ => {}
        }
        Arc::new(o)
    }

    fn names(v: &[Arc<Object>]) -> Vec<&str> {
        v.iter().map(|m| m.name()).collect()
    }

    #[rstest]
    // Random: ties by name.
    #[case(Order::Random, vec![m("c", 1, ""), m("a", 5, ""), m("b", 3, "")], 2, vec!["a", "b"])]
    // Newest: youngest first.
    #[case(Order::Newest, vec![m("c", 1, ""), m("a", 5, ""), m("b", 3, "")], 2, vec!["c", "b"])]
    // Oldest: oldest first.
    #[case(Order::Oldest, vec![m("c", 1, ""), m("a", 5, ""), m("b", 3, "")], 2, vec!["a", "b"])]
    // The delete-machine annotation beats age, and deleting Machines beat the annotation.
    #[case(Order::Oldest, vec![m("old", 9, ""), m("ann", 1, "annotated"), m("del", 1, "deleting")], 2, vec!["del", "ann"])]
    #[case(Order::Newest, vec![m("new", 0, ""), m("ann", 9, "annotated")], 1, vec!["ann"])]
    #[case(Order::Random, vec![m("a", 1, ""), m("z", 1, "annotated")], 1, vec!["z"])]
    // Unhealthy beats healthy but loses to the annotation; Unknown NodeHealthy counts as healthy.
    #[case(Order::Random, vec![m("a", 1, ""), m("b", 1, "no-node"), m("c", 1, "annotated")], 2, vec!["c", "b"])]
    #[case(Order::Oldest, vec![m("a", 9, ""), m("b", 0, "node-unhealthy")], 1, vec!["b"])]
    #[case(Order::Newest, vec![m("a", 1, ""), m("b", 9, "mhc-unhealthy")], 1, vec!["b"])]
    // A brand-new healthy Machine under Newest scores 50 − 0 = 50, the same as an unhealthy one: name decides.
    #[case(Order::Newest, vec![m("b", 0, ""), m("a", 9, "mhc-unhealthy")], 1, vec!["a"])]
    #[case(Order::Random, vec![m("b", 1, "node-unknown"), m("a", 1, "")], 1, vec!["a"])]
    fn deletion_priority(#[case] order: Order, #[case] machines: Vec<Arc<Object>>, #[case] n: usize, #[case] want: Vec<&str>) {
        assert_eq!(names(&to_delete(&machines, n, order, 10 * DAY)), want);
    }

    #[test]
    fn order_parsing() {
        assert_eq!(Order::parse(None), Ok(Order::Random));
        assert_eq!(Order::parse(Some("Oldest")), Ok(Order::Oldest));
        assert!(Order::parse(Some("Smallest")).is_err());
    }
}
