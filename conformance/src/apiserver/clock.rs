//! The served simulator's clock: simulated time follows the wall clock scaled by a speed factor
//! (1.0 = real time, 60 = one simulated minute per second). Reading the wall clock is allowed here,
//! outside the deterministic core; the core only ever sees the target time it is run up to.

use std::time::{Duration, Instant};

/// Maps wall time to simulated time.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start_wall: Instant,
    start_sim_ms: u64,
    speed: f64,
}

impl Clock {
    /// A clock starting now at simulated time `start_sim_ms`.
    pub fn new(start_sim_ms: u64, speed: f64) -> Clock {
        Clock { start_wall: Instant::now(), start_sim_ms, speed: if speed.is_finite() && speed > 0.0 { speed } else { 0.0 } }
    }

    /// The simulated time (ms) the simulation should have reached at `wall`.
    pub fn target_ms(&self, wall: Instant) -> u64 {
        let elapsed = wall.saturating_duration_since(self.start_wall).as_secs_f64();
        self.start_sim_ms + (elapsed * self.speed * 1000.0) as u64
    }

    /// The speed factor.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Wall time for a simulated duration (for messages; `None` when the clock stands still).
    pub fn wall_for(&self, sim: Duration) -> Option<Duration> {
        (self.speed > 0.0).then(|| Duration::from_secs_f64(sim.as_secs_f64() / self.speed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_wall_time() {
        let c = Clock::new(1000, 60.0);
        let later = c.start_wall + Duration::from_millis(500);
        assert_eq!(c.target_ms(later), 1000 + 30_000);
        assert_eq!(Clock::new(5, -1.0).target_ms(later), 5);
        assert_eq!(c.wall_for(Duration::from_secs(60)), Some(Duration::from_secs(1)));
    }
}
