//! One seed, split by purpose: every consumer (a controller's name generator, a manager's delays, the
//! world's timing jitter, each fault source) gets its own stream derived from the seed and a purpose
//! string, so adding draws in one place never shifts another.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// The run's seed and its per-purpose streams.
#[derive(Clone, Copy, Debug)]
pub struct RngTree {
    seed: u64,
}

impl RngTree {
    /// A tree for a seed.
    pub fn new(seed: u64) -> Self {
        RngTree { seed }
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The stream for a purpose.
    pub fn stream(&self, purpose: &str) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(xxh3_64_with_seed(purpose.as_bytes(), self.seed))
    }

    /// A derived seed for a purpose.
    pub fn derive(&self, purpose: &str) -> u64 {
        xxh3_64_with_seed(purpose.as_bytes(), self.seed)
    }
}

/// A uniform draw in `[lo, hi]`.
pub fn between(rng: &mut ChaCha8Rng, lo: u64, hi: u64) -> u64 {
    if hi <= lo {
        lo
    } else {
        lo + rng.next_u64() % (hi - lo + 1)
    }
}

/// True with probability `p`.
pub fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    if p <= 0.0 {
        false
    } else if p >= 1.0 {
        true
    } else {
        (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// Five characters of Kubernetes' generated-name alphabet (`utilrand.String(5)`).
pub fn name_suffix(rng: &mut ChaCha8Rng) -> String {
    let alphabet = capi_scenarios::outcome::NAME_SUFFIX_ALPHABET.as_bytes();
    (0..5).map(|_| alphabet[(rng.next_u32() as usize) % alphabet.len()] as char).collect()
}
