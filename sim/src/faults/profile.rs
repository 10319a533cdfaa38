//! Random fault profiles for swarm runs (TigerBeetle's swarm testing): each seed draws its own mix —
//! which fault kinds are on at all, how many of each, when, and against which objects — from its own
//! random stream, so that different seeds explore different combinations of rare events.

use capi_scenarios::model::{FaultKind, FaultSpec, FaultTarget};
use capi_scenarios::DurationMs;
use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;

use crate::engine::rng::{between, chance};

/// A named profile: the candidate fault kinds and the window faults are drawn in.
#[derive(Clone, Debug)]
pub struct Profile {
    /// Name.
    pub name: &'static str,
    /// Candidate kinds with the chance each is switched on for a seed.
    pub kinds: &'static [(FaultKind, f64)],
    /// Faults of an enabled kind per seed: `[min, max]`.
    pub per_kind: (u64, u64),
    /// Faults start within this window after the scenario starts.
    pub window_ms: u64,
}

const INFRA: &[(FaultKind, f64)] = &[
    (FaultKind::ContainerKill, 0.3),
    (FaultKind::ContainerPause, 0.3),
    (FaultKind::ContainerOom, 0.2),
    (FaultKind::LbKill, 0.15),
    (FaultKind::DockerRestart, 0.1),
    (FaultKind::ImageMissing, 0.1),
    (FaultKind::KubeadmInitFail, 0.1),
    (FaultKind::KubeadmJoinFail, 0.15),
    (FaultKind::KubeletStop, 0.3),
    (FaultKind::CniCrash, 0.15),
    (FaultKind::EtcdMemberLoss, 0.05),
    (FaultKind::Partition, 0.3),
    (FaultKind::SlowDisk, 0.2),
];

const CONTROL: &[(FaultKind, f64)] = &[
    (FaultKind::ControllerCrash, 0.4),
    (FaultKind::WatchDrop, 0.3),
    (FaultKind::StaleCache, 0.3),
    (FaultKind::ApiConflict, 0.4),
    (FaultKind::ApiThrottle, 0.2),
    (FaultKind::ApiLatency, 0.2),
    (FaultKind::WebhookUnavailable, 0.1),
];

const ALL: &[(FaultKind, f64)] = &[
    (FaultKind::ContainerKill, 0.2),
    (FaultKind::ContainerPause, 0.2),
    (FaultKind::ContainerOom, 0.1),
    (FaultKind::LbKill, 0.1),
    (FaultKind::DockerRestart, 0.05),
    (FaultKind::KubeadmJoinFail, 0.1),
    (FaultKind::KubeletStop, 0.2),
    (FaultKind::CniCrash, 0.1),
    (FaultKind::Partition, 0.2),
    (FaultKind::SlowDisk, 0.15),
    (FaultKind::ControllerCrash, 0.3),
    (FaultKind::WatchDrop, 0.2),
    (FaultKind::StaleCache, 0.2),
    (FaultKind::ApiConflict, 0.3),
    (FaultKind::ApiThrottle, 0.1),
    (FaultKind::ApiLatency, 0.1),
];

/// The profiles.
pub const PROFILES: &[Profile] = &[
    Profile { name: "default", kinds: ALL, per_kind: (1, 2), window_ms: 20 * 60 * 1000 },
    Profile { name: "infrastructure", kinds: INFRA, per_kind: (1, 3), window_ms: 20 * 60 * 1000 },
    Profile { name: "control-plane", kinds: CONTROL, per_kind: (1, 3), window_ms: 20 * 60 * 1000 },
    Profile { name: "none", kinds: &[], per_kind: (0, 0), window_ms: 0 },
];

/// A profile by name.
pub fn profile(name: &str) -> Result<&'static Profile, String> {
    PROFILES
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| format!("unknown fault profile `{name}`; known: {}", PROFILES.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")))
}

/// Draw a seed's fault schedule: faults with `after` offsets from the start, in time order.
pub fn draw(p: &Profile, rng: &mut ChaCha8Rng) -> Vec<FaultSpec> {
    let mut out = Vec::new();
    for (kind, chance_on) in p.kinds {
        if !chance(rng, *chance_on) {
            continue;
        }
        let n = between(rng, p.per_kind.0, p.per_kind.1);
        for _ in 0..n {
            out.push(draw_one(*kind, p.window_ms, rng));
        }
    }
    out.sort_by_key(|f| f.after.map_or(0, |d| d.as_ms()));
    out
}

fn draw_one(kind: FaultKind, window_ms: u64, rng: &mut ChaCha8Rng) -> FaultSpec {
    let after = DurationMs(between(rng, 0, window_ms) / 1000 * 1000);
    let index = Some((rng.next_u32() % 64) as usize);
    let control_plane = match rng.next_u32() % 3 {
        0 => Some(true),
        1 => Some(false),
        _ => None,
    };
    let secs = |lo: u64, hi: u64, rng: &mut ChaCha8Rng| Some(DurationMs(between(rng, lo, hi) * 1000));
    let target = FaultTarget { index, count: Some(1), control_plane, ..Default::default() };
    let mut f = FaultSpec {
        kind,
        target,
        after: Some(after),
        when: None,
        duration: None,
        probability: None,
        delay: None,
        factor: None,
        permanent: false,
    };
    match kind {
        FaultKind::ContainerPause | FaultKind::KubeletStop | FaultKind::Partition | FaultKind::CniCrash | FaultKind::LbKill => {
            f.duration = secs(20, 240, rng)
        }
        FaultKind::DockerRestart => f.duration = secs(10, 60, rng),
        FaultKind::ImageMissing | FaultKind::WebhookUnavailable => f.duration = secs(10, 120, rng),
        FaultKind::SlowDisk => {
            f.duration = secs(60, 600, rng);
            f.factor = Some(2.0 + (rng.next_u32() % 4) as f64);
        }
        FaultKind::WatchDrop | FaultKind::ApiConflict | FaultKind::ApiThrottle => {
            f.duration = secs(30, 300, rng);
            f.probability = Some([0.05, 0.1, 0.3][(rng.next_u32() % 3) as usize]);
        }
        FaultKind::StaleCache | FaultKind::ApiLatency => {
            f.duration = secs(30, 300, rng);
            f.delay = Some(DurationMs(between(rng, 200, 10_000)));
        }
        FaultKind::KubeadmInitFail | FaultKind::KubeadmJoinFail => f.permanent = false,
        FaultKind::ContainerKill | FaultKind::ContainerOom | FaultKind::EtcdMemberLoss | FaultKind::ControllerCrash => {}
    }
    f
}
