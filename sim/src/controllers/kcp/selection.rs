//! KCP's choices among Machines: the failure domain for a new Machine (`PickFewest`), the Machine to
//! delete on scale-down or rollout (delete annotation, outdated, unhealthy, failure domain with most
//! Machines via `PickMost`, oldest), the Machine to hand etcd leadership to, and the Machine to
//! remediate first.
//! Sources: `util/failuredomains/failure_domains.go`, `controlplane/kubeadm/pkg/control_plane.go`,
//! `controlplane/kubeadm/reconcilers/kubeadmcontrolplane/{scale.go,kubeadmcontrolplane_controller.go,remediation.go}`.
//!
//! Determinism: CAPI builds the failure-domain candidates from a Go map, so equal candidates come out
//! in arbitrary order; here ties go to the failure domain whose name sorts first.

use super::scope::{self, cond, failure_domain, has_delete_annotation, has_node, oldest_first};
use crate::controllers::common::keys;
use crate::controllers::conditions;
use crate::object::Object;
use std::cmp::Ordering;

/// Per-failure-domain counts: (name, priority Machines, all Machines), in `fds` order.
fn count(fds: &[String], all: &[&Object], priority: &[&Object]) -> Vec<(String, usize, usize)> {
    fds.iter()
        .map(|fd| {
            let n_all = all.iter().filter(|m| failure_domain(m) == fd).count();
            let n_prio = priority.iter().filter(|m| failure_domain(m) == fd).count();
            (fd.clone(), n_prio, n_all)
        })
        .collect()
}

/// `PickFewest`: the failure domain with the fewest priority (up-to-date, not deleting) Machines,
/// then the fewest Machines overall, then the first name. `None` without failure domains.
pub fn pick_fewest(fds: &[String], all: &[&Object], priority: &[&Object]) -> Option<String> {
    let mut c = count(fds, all, priority);
    c.sort_by(|a, b| a.1.cmp(&b.1).then(a.2.cmp(&b.2)).then_with(|| a.0.cmp(&b.0)));
    c.into_iter().next().map(|x| x.0)
}

/// `PickMost`: the failure domain with the most eligible Machines, then the most Machines overall,
/// then the first name; `None` when no failure domain holds an eligible Machine.
pub fn pick_most(fds: &[String], all: &[&Object], eligible: &[&Object]) -> Option<String> {
    let mut c = count(fds, all, eligible);
    c.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then_with(|| a.0.cmp(&b.0)));
    c.into_iter().next().filter(|x| x.1 > 0).map(|x| x.0)
}

/// `FailureDomainWithMostMachines`: Machines outside the known failure domains go first (the
/// failure domain of the oldest of them, possibly ""), else `PickMost`.
pub fn failure_domain_with_most(fds: &[String], all: &[&Object], eligible: &[&Object]) -> String {
    let mut outside: Vec<&Object> = eligible.iter().copied().filter(|m| !fds.iter().any(|fd| fd == failure_domain(m))).collect();
    if !outside.is_empty() {
        outside.sort_by(|a, b| oldest_first(a, b));
        return failure_domain(outside[0]).to_string();
    }
    pick_most(fds, all, eligible).unwrap_or_default()
}

/// `MachineInFailureDomainWithMostMachines`: the oldest eligible Machine in that failure domain.
pub fn machine_in_fd_with_most<'a>(fds: &[String], all: &[&Object], eligible: &[&'a Object]) -> Option<&'a Object> {
    let fd = failure_domain_with_most(fds, all, eligible);
    let mut in_fd: Vec<&'a Object> = eligible.iter().copied().filter(|m| failure_domain(m) == fd).collect();
    in_fd.sort_by(|a, b| oldest_first(a, b));
    in_fd.first().copied()
}

/// Whether a Machine reports a component condition False (Unknown does not count).
pub fn has_unhealthy_components(m: &Object, etcd_managed: bool) -> bool {
    scope::component_conditions(etcd_managed).iter().any(|t| conditions::is_false(m, t))
}

/// `selectMachineForInPlaceUpdateOrScaleDown`: the eligible set is the first non-empty of outdated
/// Machines with the delete annotation, any Machine with it, outdated Machines with unhealthy
/// components, outdated Machines, all Machines; then the oldest one in the failure domain with most.
pub fn select_for_scale_down<'a>(fds: &[String], all: &[&'a Object], outdated: &[&'a Object], etcd_managed: bool) -> Option<&'a Object> {
    let pick = |v: Vec<&'a Object>| if v.is_empty() { None } else { Some(v) };
    let eligible = pick(outdated.iter().copied().filter(|m| has_delete_annotation(m)).collect())
        .or_else(|| pick(all.iter().copied().filter(|m| has_delete_annotation(m)).collect()))
        .or_else(|| pick(outdated.iter().copied().filter(|m| has_unhealthy_components(m, etcd_managed)).collect()))
        .or_else(|| pick(outdated.to_vec()))
        .unwrap_or_else(|| all.to_vec());
    machine_in_fd_with_most(fds, all, &eligible)
}

/// `getCandidatesForEtcdLeadership`: Machines with a Node, not deleting, not the deleting one; etcd
/// healthy first, then MHC-healthy, then up to date, then newest.
pub fn leadership_candidates<'a>(machines: &[&'a Object], leaving: &str) -> Vec<&'a Object> {
    let mut c: Vec<&'a Object> = machines.iter().copied().filter(|m| has_node(m) && !m.deleting() && m.name() != leaving).collect();
    let key = |m: &Object| {
        (
            !conditions::is_true(m, cond::ETCD_MEMBER),
            !conditions::is_true(m, cond::HEALTH_CHECK_SUCCEEDED),
            !conditions::is_true(m, cond::UP_TO_DATE),
        )
    };
    c.sort_by(|a, b| key(a).cmp(&key(b)).then_with(|| oldest_first(b, a)));
    c
}

/// One "this Machine is more broken" test of the remediation order.
type Check = Box<dyn Fn(&Object) -> bool>;

/// `pickMachineToBeRemediated` as an ordering (Less = remediate first): the remediate-machine
/// annotation, no Node, etcd member / etcd pod issues, API server, controller manager, scheduler,
/// kubeadm labels; then oldest.
pub fn remediation_order(a: &Object, b: &Object, etcd_managed: bool) -> Ordering {
    let checks: Vec<Check> = {
        let mut v: Vec<Check> =
            vec![Box::new(|m: &Object| m.meta.annotations.contains_key(keys::REMEDIATE_MACHINE)), Box::new(|m: &Object| !has_node(m))];
        if etcd_managed {
            v.push(Box::new(|m: &Object| !conditions::is_true(m, cond::ETCD_MEMBER)));
            v.push(Box::new(|m: &Object| !conditions::is_true(m, cond::ETCD_POD)));
        }
        for t in [cond::API_SERVER, cond::CONTROLLER_MANAGER, cond::SCHEDULER, cond::NODE_LABELS] {
            v.push(Box::new(move |m: &Object| !conditions::is_true(m, t)));
        }
        v
    };
    for f in &checks {
        match (f(a), f(b)) {
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
    }
    oldest_first(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::conditions::{Cond, Status};
    use crate::kinds::Kind;
    use rstest::rstest;
    use serde_json::json;

    /// A Machine created `hours_ago` before a base time, in a failure domain.
    fn m(name: &str, fd: &str, hours_before: i64) -> Object {
        let mut o = Object::new(Kind::Machine, "default", name);
        o.meta.creation_ms = ((100 - hours_before) * 3_600_000) as u64;
        if !fd.is_empty() {
            o.set("/spec/failureDomain", json!(fd));
        }
        o.set("/status/nodeRef/name", json!(name));
        o
    }

    fn annotated(mut o: Object) -> Object {
        o.meta.annotations.insert(keys::DELETE_MACHINE.into(), String::new());
        o
    }

    fn unhealthy(mut o: Object, t: &str) -> Object {
        conditions::set(&mut o, [Cond::new(t, Status::False, "Failed", "")], 0);
        o
    }

    /// The machines of CAPI's `TestSelectMachineForInPlaceUpdateOrScaleDown`.
    fn fixture() -> Vec<Object> {
        vec![
            m("machine-1", "one", -1),
            m("machine-2", "one", 3),
            m("machine-3", "one", 4),
            m("machine-4", "two", 1),
            m("machine-5", "two", 2),
            m("machine-6", "two", 7),
            annotated(m("machine-7", "two", 5)),
            annotated(m("machine-8", "two", 6)),
            m("machine-9", "two", 5),
            unhealthy(m("machine-10", "two", 4), cond::API_SERVER),
            unhealthy(m("machine-11", "two", 3), cond::ETCD_MEMBER),
        ]
    }

    fn pick<'a>(all: &'a [Object], names: &[&str]) -> Vec<&'a Object> {
        names.iter().map(|n| all.iter().find(|m| m.name() == *n).expect("fixture machine")).collect()
    }

    #[rstest]
    #[case::outdated_oldest_in_fd_with_most(&["machine-1", "machine-2", "machine-3", "machine-4", "machine-5"], &["machine-5"], "machine-5")]
    #[case::no_outdated_oldest_in_largest_fd(&["machine-1", "machine-2", "machine-3", "machine-4"], &[], "machine-3")]
    #[case::single_annotated_outdated(&["machine-6", "machine-7", "machine-8"], &["machine-6", "machine-7"], "machine-7")]
    #[case::oldest_annotated_first(&["machine-6", "machine-7", "machine-8"], &["machine-7", "machine-8"], "machine-8")]
    #[case::annotated_not_outdated(&["machine-6", "machine-7", "machine-8"], &[], "machine-8")]
    #[case::annotated_outdated_beats_fd(&["machine-1", "machine-2", "machine-3", "machine-4", "machine-5"], &["machine-7", "machine-3"], "machine-7")]
    #[case::annotated_among_many_outdated(&["machine-1", "machine-2", "machine-3", "machine-4"], &["machine-5", "machine-3", "machine-8", "machine-7", "machine-6", "machine-1", "machine-2"], "machine-8")]
    #[case::unhealthy_api_server_first(&["machine-9", "machine-10", "machine-11"], &["machine-9", "machine-10"], "machine-10")]
    #[case::oldest_unhealthy_first(&["machine-9", "machine-10", "machine-11"], &["machine-9", "machine-10", "machine-11"], "machine-10")]
    fn scale_down_victim(#[case] all: &[&str], #[case] outdated: &[&str], #[case] want: &str) {
        let fx = fixture();
        let fds = vec!["one".to_string(), "two".to_string()];
        let got = select_for_scale_down(&fds, &pick(&fx, all), &pick(&fx, outdated), true).map(|m| m.name().to_string());
        assert_eq!(got.as_deref(), Some(want));
    }

    #[test]
    fn machines_outside_known_failure_domains_go_first() {
        let all = [m("a", "one", 1), m("b", "gone", 0), m("c", "", 2)];
        let refs: Vec<&Object> = all.iter().collect();
        let fds = vec!["one".to_string()];
        // c (no failure domain) is older than b (unknown failure domain).
        assert_eq!(select_for_scale_down(&fds, &refs, &[], true).map(|m| m.name()), Some("c"));
    }

    #[rstest]
    #[case::no_machines(&["a", "b", "c"], &[], &[], Some("a"))]
    #[case::one_in_a(&["a", "b", "c"], &[("a1", "a")], &["a1"], Some("b"))]
    #[case::a_and_b(&["a", "b", "c"], &[("a1", "a"), ("b1", "b")], &["a1", "b1"], Some("c"))]
    #[case::rollout_old_everywhere(&["a", "b", "c"], &[("a1-old", "a"), ("b1-old", "b"), ("c1-old", "c")], &[], Some("a"))]
    #[case::rollout_one_new(&["a", "b", "c"], &[("a1-new", "a"), ("b1-old", "b"), ("c1-old", "c")], &["a1-new"], Some("b"))]
    #[case::rollout_two_new(&["a", "b", "c"], &[("a1-new", "a"), ("b1-new", "b"), ("c1-old", "c")], &["a1-new", "b1-new"], Some("c"))]
    #[case::tie_on_new_fewest_overall(&["a", "b"], &[("a1-new", "a"), ("b1-new", "b"), ("b2-old", "b")], &["a1-new", "b1-new"], Some("a"))]
    #[case::unknown_fd_ignored(&["a"], &[("x", "z")], &[], Some("a"))]
    #[case::no_failure_domains(&[], &[("x", "a")], &[], None)]
    fn pick_fewest_table(#[case] fds: &[&str], #[case] machines: &[(&str, &str)], #[case] up_to_date: &[&str], #[case] want: Option<&str>) {
        let fds: Vec<String> = fds.iter().map(|s| s.to_string()).collect();
        let all: Vec<Object> = machines.iter().map(|(n, fd)| m(n, fd, 0)).collect();
        let refs: Vec<&Object> = all.iter().collect();
        let prio: Vec<&Object> = all.iter().filter(|o| up_to_date.contains(&o.name())).collect();
        assert_eq!(pick_fewest(&fds, &refs, &prio).as_deref(), want);
    }

    #[rstest]
    #[case::one_machine(&["a", "b"], &[("m", "a")], Some("a"))]
    #[case::no_fd_on_machine(&["a"], &[("m", "")], None)]
    #[case::mismatched_fd(&["a"], &[("m", "b")], None)]
    #[case::no_machines(&["a", "b"], &[], None)]
    fn pick_most_table(#[case] fds: &[&str], #[case] machines: &[(&str, &str)], #[case] want: Option<&str>) {
        let fds: Vec<String> = fds.iter().map(|s| s.to_string()).collect();
        let all: Vec<Object> = machines.iter().map(|(n, fd)| m(n, fd, 0)).collect();
        let refs: Vec<&Object> = all.iter().collect();
        assert_eq!(pick_most(&fds, &refs, &refs).as_deref(), want);
    }

    #[test]
    fn leadership_goes_to_healthy_newest() {
        let mut a = m("a", "", 3);
        let mut b = m("b", "", 1);
        let c = m("c", "", 2);
        for o in [&mut a, &mut b] {
            conditions::set(o, [Cond::t(cond::ETCD_MEMBER, "Healthy")], 0);
        }
        let all = [a, b, c];
        let refs: Vec<&Object> = all.iter().collect();
        let names: Vec<&str> = leadership_candidates(&refs, "a").iter().map(|m| m.name()).collect();
        assert_eq!(names, vec!["b", "c"]);
    }

    #[test]
    fn remediation_prefers_missing_node_then_oldest() {
        let mut no_node = m("z", "", 0);
        no_node.remove("/status/nodeRef");
        let old = m("a", "", 5);
        let new = m("b", "", 1);
        let mut v = [&new, &old, &no_node];
        v.sort_by(|x, y| remediation_order(x, y, true));
        let names: Vec<&str> = v.iter().map(|m| m.name()).collect();
        assert_eq!(names, vec!["z", "a", "b"]);
    }
}
