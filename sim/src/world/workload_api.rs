//! What controllers do to a workload cluster through its API: cordon, evict a Pod, delete a Node,
//! remove or move etcd members and leadership, create a bootstrap token, patch a Node.
//! Restates the workload-cluster calls of CAPI's drain (`drain.Helper`), KCP's etcd client
//! (`internal/etcd`) and CABPK's token creation.

use super::{pods, workload};
use super::{EtcdRemoval, World, WorldEvent};
use workload::Node;

impl World {
    /// Cordon a Node (`drain.Helper.CordonNode`: a patch of `spec.unschedulable`, only when not yet).
    pub fn cordon_node(&mut self, cluster: &str, node: &str) -> Result<(), String> {
        let wl = self.workload_mut(cluster)?;
        let n = wl.nodes.get_mut(node).ok_or_else(|| format!("nodes \"{node}\" not found"))?;
        if !n.unschedulable {
            n.unschedulable = true;
            self.notice_node_now(cluster, node);
        }
        Ok(())
    }

    /// The eviction subresource of a Pod; the Pod terminates after the pod termination time (or
    /// `grace_ms` when given, as CAPI's drain asks for 1s on an unreachable Node).
    pub fn evict_pod(
        &mut self,
        cluster: &str,
        namespace: &str,
        name: &str,
        now: u64,
        grace_ms: Option<u64>,
    ) -> Result<(), pods::EvictError> {
        let drawn = self.draw(self.timing.pod_eviction_ms);
        let grace = grace_ms.unwrap_or(drawn);
        let wl = self.workload_mut(cluster).map_err(pods::EvictError::Internal)?;
        if wl.evict(namespace, name, now, grace)? {
            self.timers.push((now + grace, WorldEvent::PodsGone { cluster: cluster.to_string() }));
            self.notice_workload(cluster);
            self.dirty_views.insert(cluster.to_string());
        }
        Ok(())
    }

    /// Delete a Node object.
    pub fn delete_node(&mut self, cluster: &str, node: &str) -> Result<bool, String> {
        let wl = self.workload_mut(cluster)?;
        let removed = wl.nodes.remove(node);
        wl.drop_pods_of(node, 0);
        let found = removed.is_some();
        if let Some(n) = removed {
            self.notice_node(cluster, node, n.provider_id);
        }
        Ok(found)
    }

    /// Remove an etcd member (KCP, before a control-plane Machine goes).
    ///
    /// As KCP's `Workload.RemoveEtcdMember` goes through etcd (`controlplane/kubeadm/pkg/workload_cluster_etcd.go`):
    /// the member list needs quorum; the last member is never removed; and etcd's
    /// `--strict-reconfig-check` (on by default, `etcdserver: mayRemoveMember`) refuses to remove a
    /// member that answers when the members left that answer would not be a quorum of the members
    /// left (`etcdserver: unhealthy cluster`); a member that does not answer can always go.
    /// Simplification: etcd's member IDs are the member names here.
    pub fn remove_etcd_member(&mut self, cluster: &str, member: &str) -> Result<bool, String> {
        let wl = self.workload_mut(cluster)?;
        if !wl.etcd_quorum() {
            return Err("failed to list etcd members using etcd client: context deadline exceeded".into());
        }
        let Some(m) = wl.etcd.get(member) else { return Ok(false) };
        if wl.etcd.len() == 1 {
            return Err("cannot remove the last etcd member in the cluster".into());
        }
        let voting = wl.etcd.len();
        let active = wl.etcd.values().filter(|m| m.healthy).count();
        if m.healthy && active - 1 < 1 + (voting - 1) / 2 {
            return Err(format!(
                "failed to remove member from etcd: failed to remove etcd member: {member}: etcdserver: unhealthy cluster"
            ));
        }
        let (healthy_before, _) = wl.etcd_health();
        let removed = wl.etcd.remove(member).is_some();
        if wl.etcd_leader.as_deref() == Some(member) {
            wl.etcd_leader = wl.etcd.values().find(|m| m.healthy).map(|m| m.name.clone());
        }
        let (healthy_after, total_after) = wl.etcd_health();
        if removed {
            self.notice_workload(cluster);
            self.etcd_removals.push(EtcdRemoval {
                cluster: cluster.to_string(),
                member: member.to_string(),
                healthy_before,
                healthy_after,
                total_after,
            });
            self.note(format!("etcd member {member} removed from {cluster}"));
        }
        Ok(removed)
    }

    /// Move etcd leadership to a member.
    pub fn move_etcd_leader(&mut self, cluster: &str, to: &str) -> Result<(), String> {
        let wl = self.workload_mut(cluster)?;
        if wl.etcd.get(to).is_some_and(|m| m.healthy) {
            let changed = wl.etcd_leader.as_deref() != Some(to);
            wl.etcd_leader = Some(to.to_string());
            if changed {
                self.notice_workload(cluster);
            }
            Ok(())
        } else {
            Err(format!("etcd member {to} is not healthy"))
        }
    }

    /// Create a bootstrap token for a join.
    pub fn create_bootstrap_token(&mut self, cluster: &str) -> Result<String, String> {
        let wl = self.workload_mut(cluster)?;
        wl.bootstrap_tokens += 1;
        let t = wl.bootstrap_tokens as u64;
        self.notice_workload(cluster);
        Ok(format!("{t:06x}.{:016x}", t.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
    }

    /// Bind the Pods waiting for a Node that fits (a Node's labels or taints changed).
    pub fn schedule_pending_pods(&mut self, cluster: &str, now: u64) {
        if self.workloads.get_mut(cluster).is_some_and(|wl| wl.schedule_pending(now)) {
            self.dirty_views.insert(cluster.to_string());
        }
    }

    /// Patch a Node (labels, annotations, taints, providerID).
    pub fn patch_node(&mut self, cluster: &str, node: &str, f: impl FnOnce(&mut Node)) -> Result<(), String> {
        let wl = self.workload_mut(cluster)?;
        let n = wl.nodes.get_mut(node).ok_or_else(|| format!("nodes \"{node}\" not found"))?;
        let before = (n.provider_id.clone(), n.labels.clone(), n.annotations.clone(), n.taints.clone(), n.unschedulable);
        f(n);
        let after = (n.provider_id.clone(), n.labels.clone(), n.annotations.clone(), n.taints.clone(), n.unschedulable);
        if before != after {
            self.notice_node_now(cluster, node);
        }
        Ok(())
    }
}
