//! The engine's handling of work-queue priorities: the initial list after a restart and every resync
//! enqueue at the priority queue's low priority, and a resync reaches the controllers' `For` watch
//! only (CAPI's `ResourceIsChanged` in front of every other watch).

use crate::kinds::Kind;
use crate::object::ObjKey;
use crate::runtime::priorityqueue::LOW_PRIORITY;
use crate::testing::{apply_yaml, run_for, sim};

const MACHINE: &str = r#"
apiVersion: cluster.x-k8s.io/v1beta2
kind: Machine
metadata:
  name: m-1
  namespace: default
  ownerReferences:
    - { apiVersion: cluster.x-k8s.io/v1beta2, kind: MachineSet, name: ms, uid: ms-uid, controller: true }
spec:
  clusterName: c
  bootstrap: { dataSecretName: data }
  infrastructureRef: { apiGroup: infrastructure.cluster.x-k8s.io, kind: DockerMachine, name: m-1 }
"#;

fn slot(s: &crate::engine::Sim, controller: &str) -> (usize, usize) {
    for (g, mgr) in s.mgmt[0].managers.iter().enumerate() {
        if let Some(c) = mgr.controllers.iter().position(|c| c.reconciler.name() == controller) {
            return (g, c);
        }
    }
    panic!("{controller}")
}

#[test]
fn a_resync_enqueues_for_objects_only_at_low_priority() {
    let mut s = sim(1);
    apply_yaml(&mut s, MACHINE);
    run_for(&mut s, 60_000);
    let (g, machine) = slot(&s, "machine");
    let (g2, machineset) = slot(&s, "machineset");
    let (m_key, ms_key) = (ObjKey::new(Kind::Machine, "default", "m-1"), ObjKey::new(Kind::MachineSet, "default", "ms"));
    assert!(!s.mgmt[0].managers[g2].controllers[machineset].queue.is_pending(&ms_key), "settled");
    s.resync(0, g);
    let q = &s.mgmt[0].managers[g].controllers[machine].queue;
    assert!(q.is_pending(&m_key));
    assert!(q.priority_of(&m_key).is_some_and(|p| p <= 0));
    assert!(!s.mgmt[0].managers[g2].controllers[machineset].queue.is_pending(&ms_key), "secondary watches drop resyncs");
}

#[test]
fn the_initial_list_after_a_restart_is_low_priority() {
    let mut s = sim(1);
    apply_yaml(&mut s, MACHINE);
    run_for(&mut s, 10_000);
    let (g, machine) = slot(&s, "machine");
    s.crash_manager(0, g);
    s.restart_manager(0, g);
    let m_key = ObjKey::new(Kind::Machine, "default", "m-1");
    assert_eq!(s.mgmt[0].managers[g].controllers[machine].queue.priority_of(&m_key), Some(LOW_PRIORITY));
}

#[test]
fn a_worker_of_a_crashed_process_is_forgotten() {
    let mut s = sim(1);
    apply_yaml(&mut s, MACHINE);
    run_for(&mut s, 10_000);
    let (g, machine) = slot(&s, "machine");
    let epoch = s.mgmt[0].managers[g].epoch;
    s.crash_manager(0, g);
    assert_eq!(s.mgmt[0].managers[g].epoch, epoch + 1);
    let key = ObjKey::new(Kind::Machine, "default", "m-1");
    s.worker_free((0, g, machine), key.clone(), epoch, 0, crate::runtime::workqueue::Requeue::After(1_000));
    assert!(!s.mgmt[0].managers[g].controllers[machine].queue.is_pending(&key), "the old worker's requeue is dropped");
}
