//! Signals and wall-time limits for every long-running command: the first SIGINT, SIGTERM or SIGHUP
//! raises the command's [`StopSignal`] (the run stops at its next check, writes its reports marked
//! interrupted and exits non-zero); a second one ends the process at once (its reports already say
//! "unfinished", see `capi_reports::Completion`).

use capi_scenarios::StopSignal;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::time::Duration;

/// The exit code of a run that was stopped early (as a shell reports SIGINT).
pub const INTERRUPTED_EXIT: u8 = 130;

/// A stop signal raised by the first SIGINT/SIGTERM/SIGHUP (a second one exits at once) and, when
/// `wall_limit` is given, by the wall clock.
pub fn install(wall_limit: Option<Duration>) -> StopSignal {
    let stop = StopSignal::new();
    match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(mut signals) => {
            let s = stop.clone();
            let spawned = std::thread::Builder::new().name("signals".into()).spawn(move || {
                for sig in signals.forever() {
                    let name = match sig {
                        SIGINT => "SIGINT",
                        SIGTERM => "SIGTERM",
                        _ => "SIGHUP",
                    };
                    if s.is_stopped() {
                        eprintln!("{name} again: exiting now (the reports say the run did not finish)");
                        std::process::exit(128 + sig);
                    }
                    eprintln!(
                        "{name}: stopping after the current event; reports will be marked interrupted (send it again to exit at once)"
                    );
                    s.stop(format!("interrupted by {name}"));
                }
            });
            if let Err(e) = spawned {
                eprintln!("warning: cannot watch for signals ({e}); Ctrl-C will end the run without reports marked interrupted");
            }
        }
        Err(e) => eprintln!("warning: cannot install signal handlers ({e}); Ctrl-C will end the run without reports marked interrupted"),
    }
    if let Some(limit) = wall_limit {
        stop.after(limit);
    }
    stop
}

/// Parse a wall-time limit (`90s`, `30m`, `1h 30m`): units are required.
pub fn parse_limit(text: &str) -> Result<Duration, String> {
    capi_scenarios::duration::parse_duration(text).map(|d| Duration::from_millis(d.as_ms()))
}
