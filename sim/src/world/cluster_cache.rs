//! CAPI's ClusterCache health checking as the controllers read it
//! (`controllers/clustercache/cluster_accessor.go`: `Connect`, `HealthCheck`,
//! `GetHealthCheckingState`): once connected, a probe every 10s (`HealthProbe.Interval`); a
//! successful probe records `lastProbeSuccessTime` and clears the failures; after 5 consecutive
//! failures (`HealthProbe.FailureThreshold`) the accessor disconnects and reads fail with
//! `ErrClusterNotConnected`. Until then reads are answered from the informer cache (the last state
//! seen).
//!
//! Simplification: probes are derived from the times the workload API started and stopped
//! answering (noticed after each batch of world changes), on a 10s grid from the connection, rather
//! than run as timers; reconnection attempts before the first connection are not counted.

use super::World;

/// `HealthProbe.Interval`.
pub const PROBE_INTERVAL_MS: u64 = 10_000;
/// `HealthProbe.FailureThreshold`.
pub const FAILURE_THRESHOLD: u64 = 5;

/// One cluster's connection history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Link {
    /// Answering now.
    pub up: bool,
    /// Ever connected.
    pub ever_up: bool,
    /// When it last started answering.
    pub up_since_ms: u64,
    /// When it last stopped answering.
    pub down_since_ms: u64,
}

/// `clustercache.HealthCheckingState`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HealthCheckingState {
    /// `LastProbeSuccessTime` (`None`: zero).
    pub last_probe_success_ms: Option<u64>,
    /// `ConsecutiveFailures`.
    pub consecutive_failures: u64,
}

impl HealthCheckingState {
    /// Whether the accessor is still connected (fewer failures than the threshold).
    pub fn connected(&self) -> bool {
        self.last_probe_success_ms.is_some() && self.consecutive_failures < FAILURE_THRESHOLD
    }
}

impl World {
    /// The ClusterCache's health checking state of a cluster at `now`.
    pub fn health_checking_state(&self, cluster: &str, now: u64) -> HealthCheckingState {
        let Some(l) = self.links.get(cluster).filter(|l| l.ever_up) else { return HealthCheckingState::default() };
        let last_tick = |until: u64| l.up_since_ms + (until.saturating_sub(l.up_since_ms) / PROBE_INTERVAL_MS) * PROBE_INTERVAL_MS;
        if l.up {
            return HealthCheckingState { last_probe_success_ms: Some(last_tick(now)), consecutive_failures: 0 };
        }
        let success = last_tick(l.down_since_ms);
        HealthCheckingState { last_probe_success_ms: Some(success), consecutive_failures: now.saturating_sub(success) / PROBE_INTERVAL_MS }
    }
}
