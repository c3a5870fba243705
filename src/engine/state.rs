//! The live session's state machine, and the reconnect backoff.
//!
//! ```text
//!            LoadModel(tagger)         tagger ready, source wanted
//!   Idle ──────────────────► Loading ────────────────────────► Opening
//!    ▲  tagger failed           │                                 │ opened
//!    └──────────────────────────┘                                 ▼
//!                     retry ┌── Recovering { attempt } ◄──lost── Running ◄─┐
//!                     fails └──────────►│      ▲ open failed       │        │ switch
//!                                       │      └─── Opening        └────────┘ (source,
//!                                       └── opened ─► Running                  model, track)
//! ```
//!
//! Models are never lost on the way: a source that will not open, a pipeline that will not
//! start, and a lost device all hand the models back to wait for the next try.

use std::time::Duration;

/// Where the live session is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SessionState {
    /// Nothing runs and no tagger is loading (none asked for yet, or its model failed).
    Idle,
    /// The tagger's model is loading; nothing runs yet.
    Loading,
    /// Models are ready and the source is opening for the first time.
    Opening,
    Running,
    /// The source was lost (or never opened); `attempt` retries have failed so far, and
    /// the next comes in `retry_in`.
    Recovering {
        attempt: u32,
        retry_in: Duration,
    },
}

impl SessionState {
    /// The state `elapsed` after it was reported: a retry's countdown moves on.
    pub fn after(self, elapsed: Duration) -> Self {
        match self {
            SessionState::Recovering { attempt, retry_in } => SessionState::Recovering {
                attempt,
                retry_in: retry_in.saturating_sub(elapsed),
            },
            state => state,
        }
    }
}

impl std::fmt::Display for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionState::Idle => f.write_str("idle"),
            SessionState::Loading => f.write_str("loading the model"),
            SessionState::Opening => f.write_str("opening the source"),
            SessionState::Running => f.write_str("running"),
            SessionState::Recovering { attempt, retry_in } => write!(
                f,
                "reconnecting (attempt {}, next in {:.0} s)",
                attempt + 1,
                retry_in.as_secs_f64().ceil()
            ),
        }
    }
}

/// Delay before each reconnect attempt: `first`, doubling up to `max` (camilladsp's
/// `recovery_delay` does the same), so a device that is gone for good costs a try every
/// half minute, and one that comes straight back is found within a second or two.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The wait after `failed` failed attempts (0: the wait before the first).
    pub fn delay(&self, failed: u32) -> Duration {
        let factor = 1u32.checked_shl(failed.min(16)).unwrap_or(u32::MAX);
        self.first.saturating_mul(factor).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_from_one_second_to_thirty() {
        let backoff = Backoff::default();
        let secs: Vec<u64> = (0..8).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn states_read_as_the_status_bar_shows_them() {
        let state = SessionState::Recovering {
            attempt: 2,
            retry_in: Duration::from_millis(3500),
        };
        assert_eq!(state.to_string(), "reconnecting (attempt 3, next in 4 s)");
    }
}
