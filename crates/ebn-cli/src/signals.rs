//! A graceful stop on SIGTERM and SIGINT, for training that must not lose work.
//!
//! SLURM sends SIGTERM to a job at its time limit, on `scancel` and on preemption, then
//! SIGKILL after `KillWait` seconds (30 s by default); Ctrl-C sends SIGINT. After
//! [`install`], the first such signal only sets a flag: training loops poll [`requested`]
//! between trials, write a checkpoint at that trial boundary and return [`Interrupted`], and
//! the command exits with 128 + the signal's number (143 for SIGTERM, 130 for SIGINT), the
//! status a killed process has, so that a scheduler never takes an interrupted task for a
//! finished one. A second signal ends the process at once, as if no handler were installed.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

struct Flags {
    stop: Arc<AtomicBool>,
    signal: Arc<AtomicUsize>,
}

static FLAGS: OnceLock<Flags> = OnceLock::new();

/// Installs the handlers (once per process; later calls do nothing).
pub fn install() -> anyhow::Result<()> {
    if FLAGS.get().is_some() {
        return Ok(());
    }
    let flags = Flags { stop: Arc::new(AtomicBool::new(false)), signal: Arc::new(AtomicUsize::new(0)) };
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // Order matters: the conditional shutdown looks at the flag before it is set, so the
        // first signal sets it and the second one terminates.
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&flags.stop))?;
        signal_hook::flag::register_usize(sig, Arc::clone(&flags.signal), sig as usize)?;
        signal_hook::flag::register(sig, Arc::clone(&flags.stop))?;
    }
    let _ = FLAGS.set(flags);
    Ok(())
}

/// The signal that asked the process to stop, if any (always `None` before [`install`]).
pub fn requested() -> Option<i32> {
    let flags = FLAGS.get()?;
    flags.stop.load(Ordering::SeqCst).then(|| flags.signal.load(Ordering::SeqCst) as i32)
}

/// A training stopped by a signal after writing its checkpoint: rerunning the same command
/// resumes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    /// The signal's number.
    pub signal: i32,
    /// What was saved, for the message.
    pub saved: String,
}

impl Interrupted {
    /// The exit status of an interrupted command: 128 + the signal.
    pub fn exit_status(&self) -> u8 {
        u8::try_from(128 + self.signal).unwrap_or(1)
    }

    /// The signal's name.
    pub fn signal_name(&self) -> &'static str {
        match self.signal {
            signal_hook::consts::SIGTERM => "SIGTERM",
            signal_hook::consts::SIGINT => "SIGINT",
            _ => "a signal",
        }
    }
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by {}: {}; run the same command again to resume", self.signal_name(), self.saved)
    }
}

impl std::error::Error for Interrupted {}
