//! The timing profile: how long the real things take (container start, kubeadm init/join, CNI
//! rollout...), as `[min, max]` ranges in milliseconds drawn from the seeded RNG. Loaded from
//! `fixtures/timing/*.yaml`; the default profile is compiled in.

use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

/// A `[min, max]` range in milliseconds.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub struct Range(pub u64, pub u64);

impl Range {
    /// Draw.
    pub fn draw(self, rng: &mut ChaCha8Rng) -> u64 {
        crate::engine::rng::between(rng, self.0, self.1)
    }
    /// The midpoint (for "how long does it take" summaries).
    pub fn typical(self) -> u64 {
        (self.0 + self.1) / 2
    }
}

/// The profile.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Timing {
    pub name: String,
    pub container_create_ms: Range,
    pub container_boot_ms: Range,
    pub lb_create_ms: Range,
    pub lb_reload_ms: Range,
    pub container_remove_ms: Range,
    pub kubeadm_init_ms: Range,
    pub kubeadm_join_control_plane_ms: Range,
    pub kubeadm_join_worker_ms: Range,
    pub node_register_ms: Range,
    pub cni_rollout_ms: Range,
    pub node_monitor_grace_ms: Range,
    pub pod_eviction_ms: Range,
    pub watch_delay_ms: Range,
    pub reconcile_ms: Range,
    pub gc_delay_ms: Range,
    pub resync_period_ms: Range,
    pub host_memory_mb: u64,
    pub node_memory_mb: u64,
    pub control_plane_extra_memory_mb: u64,
    pub worker_extra_memory_mb: u64,
    pub lb_memory_mb: u64,
}

/// The compiled-in default profile (`fixtures/timing/capd-default.yaml`).
pub const DEFAULT_PROFILE: &str = include_str!("../../../fixtures/timing/capd-default.yaml");

impl Default for Timing {
    /// Parsed once per process: every `SimConfig`/`SimOptions` default asks for it, and a swarm builds
    /// one per seed (parsing the YAML was 4% of a quick-start swarm run).
    fn default() -> Self {
        static DEFAULT: std::sync::OnceLock<Timing> = std::sync::OnceLock::new();
        DEFAULT.get_or_init(|| Timing::parse(DEFAULT_PROFILE).expect("the default timing profile parses")).clone()
    }
}

impl Timing {
    /// Parse a profile.
    pub fn parse(text: &str) -> Result<Timing, String> {
        // The message names the position but never repeats the file's values.
        serde_yaml::from_str(text)
            .map_err(|e| format!("invalid timing profile: {}", capi_scenarios::limits::without_values(&e.to_string())))
    }
}
