//! The live engine's state machine, with no window, no sound card and no ONNX Runtime:
//! stand-in sources (a capture ring fed by a thread at real-time pace, which a test can
//! "unplug") and stand-in scorers (which a test can make panic) behind the real engine.
//!
//! Covered: a lost source, then backoff, then recovery; a panicked inference thread, whose
//! track keeps its role; a failed start that keeps its models; a model switch during
//! recovery.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use livetag::bundle::Bundle;
use livetag::capture::{
    capture_ring, CaptureError, InputDeviceInfo, LiveSource, SourceControl, SourceInfo, SourceKind,
    SourceRequest,
};
use livetag::engine::{
    Backend, Backoff, Command, EngineHandle, EngineOptions, InstalledModel, LiveUpdate,
    LoadedModel, ModelError, Role, SessionState, Update,
};
use livetag::inference::InferenceError;
use livetag::pipeline::{LiveMessage, Scorer};

const SOURCE_RATE_HZ: u32 = 16_000;
/// Short, so the tests run in seconds; the real backoff is 1 s doubling to 30 s.
const BACKOFF: Backoff = Backoff {
    first: Duration::from_millis(100),
    max: Duration::from_millis(400),
};
const WAIT: Duration = Duration::from_secs(20);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A model that says the same thing fast, and panics when its role is told to.
struct StandInScorer {
    role: Role,
    classes: usize,
    panic_role: Arc<Mutex<Option<Role>>>,
}

impl Scorer for StandInScorer {
    fn score(
        &mut self,
        _window: &[f32],
        _rows: usize,
        scores: &mut Vec<f32>,
    ) -> Result<(), InferenceError> {
        let mut panic_role = self.panic_role.lock().unwrap();
        if *panic_role == Some(self.role) {
            *panic_role = None;
            drop(panic_role);
            panic!("stand-in {} scorer told to panic", self.role);
        }
        scores.extend(std::iter::repeat_n(0.5, self.classes));
        Ok(())
    }
}

/// Keeps a stand-in source's feeder running; dropping it stops the feeder.
struct Feeder {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Sources and models for the engine, with switches a test flips.
#[derive(Default)]
struct StandIns {
    /// The "sound server": while down, sources do not open and running ones go silent.
    server_down: Arc<AtomicBool>,
    /// Source rate to report (an impossible one makes the pipeline refuse to start).
    source_rate_hz: Mutex<Option<u32>>,
    opens: AtomicUsize,
    loads: AtomicUsize,
    panic_role: Arc<Mutex<Option<Role>>>,
}

impl Backend for StandIns {
    fn open_source(&self, request: &SourceRequest) -> Result<LiveSource, CaptureError> {
        self.opens.fetch_add(1, Ordering::SeqCst);
        let name = match request {
            SourceRequest::Microphone(Some(name)) => name.as_str(),
            _ => "",
        };
        if name == "slow-broken" {
            // Long enough for a test to change something while the open is under way.
            std::thread::sleep(Duration::from_millis(500));
        }
        let broken = name.ends_with("broken");
        if self.server_down.load(Ordering::SeqCst) || broken {
            return Err(CaptureError::NoInputDevice);
        }
        let rate_hz = self
            .source_rate_hz
            .lock()
            .unwrap()
            .unwrap_or(SOURCE_RATE_HZ);
        let (mut writer, reader) = capture_ring(rate_hz, 4.0);
        let counters = Arc::clone(writer.counters());
        let stop = Arc::new(AtomicBool::new(false));
        let (feeder_stop, server_down) = (Arc::clone(&stop), Arc::clone(&self.server_down));
        // 10 ms blocks of a 440 Hz tone at real-time pace, as a device callback would.
        let thread = std::thread::spawn(move || {
            let block_frames = SOURCE_RATE_HZ as usize / 100;
            let mut phase = 0usize;
            let mut block = vec![0.0f32; block_frames];
            while !feeder_stop.load(Ordering::SeqCst) {
                if !server_down.load(Ordering::SeqCst) {
                    for sample in block.iter_mut() {
                        let t = phase as f32 / SOURCE_RATE_HZ as f32;
                        *sample = 0.3 * (2.0 * std::f32::consts::PI * 440.0 * t).sin();
                        phase += 1;
                    }
                    writer.write_mono(&block, Duration::ZERO);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let label = match request {
            SourceRequest::Microphone(name) => name.clone().unwrap_or("stand-in".into()),
            SourceRequest::File { path, .. } => path.display().to_string(),
        };
        Ok(LiveSource {
            reader,
            counters,
            info: SourceInfo {
                kind: SourceKind::Microphone,
                label,
                sample_rate_hz: rate_hz,
                channels: 1,
            },
            control: SourceControl::Custom(Box::new(Feeder {
                stop,
                thread: Some(thread),
            })),
        })
    }

    fn load_model(&self, role: Role, model: &str) -> Result<LoadedModel, ModelError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        let bundle = Bundle::load(&repo().join(model))?;
        Ok(LoadedModel {
            scorer: Box::new(StandInScorer {
                role,
                classes: bundle.labels.len(),
                panic_role: Arc::clone(&self.panic_role),
            }),
            bundle: Arc::new(bundle),
            provider: "stand-in".to_string(),
            card: None,
        })
    }

    fn list_devices(&self) -> Vec<InputDeviceInfo> {
        Vec::new()
    }

    fn list_installed(&self) -> Vec<InstalledModel> {
        Vec::new()
    }
}

const TAGGER: &str = "tests/models/tiny-tone";
const OTHER_TAGGER: &str = "tests/models/tiny-sed";
const SPEECH: &str = "models/silero-vad";

fn start(stand_ins: &Arc<StandIns>) -> EngineHandle {
    let backend: Arc<dyn Backend> = Arc::clone(stand_ins) as Arc<dyn Backend>;
    EngineHandle::spawn(
        backend,
        EngineOptions {
            backoff: BACKOFF,
            speech_model: Some(SPEECH.to_string()),
            ..EngineOptions::default()
        },
    )
    .unwrap()
}

/// Takes updates until `done` accepts one, and returns all taken, in order. Live updates
/// are drained meanwhile so the engine never drops any on our account.
fn wait_for(
    engine: &EngineHandle,
    what: &str,
    mut done: impl FnMut(&Update) -> bool,
) -> Vec<Update> {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        engine.live().try_iter().for_each(drop);
        if let Ok(update) = engine.updates().recv_timeout(Duration::from_millis(20)) {
            let finished = done(&update);
            seen.push(update);
            if finished {
                return seen;
            }
        }
    }
    panic!("no {what} within {WAIT:?}; updates: {seen:#?}");
}

/// Waits for scores from `role`, and returns the roles of every scores update seen.
fn wait_for_scores(engine: &EngineHandle, role: Role) -> Vec<Role> {
    let deadline = Instant::now() + WAIT;
    let mut roles = Vec::new();
    while Instant::now() < deadline {
        engine.updates().try_iter().for_each(drop);
        if let Ok(LiveUpdate::Pipeline(LiveMessage::Scores(scores))) =
            engine.live().recv_timeout(Duration::from_millis(20))
        {
            roles.push(scores.role);
            if scores.role == role {
                return roles;
            }
        }
    }
    panic!("no {role} scores within {WAIT:?}");
}

fn started_session(engine: &EngineHandle) -> Arc<livetag::engine::SessionInfo> {
    let updates = wait_for(engine, "session", |u| {
        matches!(u, Update::SessionStarted(_))
    });
    match updates.last() {
        Some(Update::SessionStarted(info)) => Arc::clone(info),
        _ => unreachable!(),
    }
}

fn load(engine: &EngineHandle, role: Role, model: &str) {
    engine.send(Command::LoadModel {
        role,
        model: model.to_string(),
    });
}

#[test]
fn a_lost_source_is_retried_with_growing_delays_and_recovers() {
    let stand_ins = Arc::new(StandIns::default());
    let engine = start(&stand_ins);
    load(&engine, Role::Tagger, TAGGER);
    engine.send(Command::SetSource(SourceRequest::Microphone(None)));
    started_session(&engine);
    wait_for_scores(&engine, Role::Tagger);

    // The server dies: the callbacks stop without any error, as a killed PulseAudio does.
    let died_at = Instant::now();
    stand_ins.server_down.store(true, Ordering::SeqCst);
    let updates = wait_for(&engine, "loss", |u| matches!(u, Update::SourceLost { .. }));
    let reported_after = died_at.elapsed();
    assert!(
        reported_after < Duration::from_secs(2),
        "the loss took {reported_after:?} to report"
    );
    let Some(Update::SourceLost { problem, .. }) = updates.last() else {
        unreachable!()
    };
    assert!(problem.contains("no audio"), "{problem}");

    // Three failed retries, each waiting twice as long as the one before, up to the cap.
    let mut delays = Vec::new();
    while delays.len() < 3 {
        let updates = wait_for(&engine, "failed retry", |u| {
            matches!(u, Update::RetryFailed { .. })
        });
        if let Some(Update::RetryFailed {
            retry_in, error, ..
        }) = updates.last()
        {
            assert!(error.contains("no input device"), "{error}");
            delays.push(*retry_in);
        }
        assert!(
            updates
                .iter()
                .any(|u| matches!(u, Update::State(SessionState::Recovering { .. })))
                || delays.len() > 1
        );
    }
    let ms: Vec<u128> = delays.iter().map(|d| d.as_millis()).collect();
    assert_eq!(ms, [200, 400, 400], "backoff after failures 1, 2, 3");

    // The server returns: the next retry reopens it, with the same model.
    let back_at = Instant::now();
    stand_ins.server_down.store(false, Ordering::SeqCst);
    let updates = wait_for(&engine, "recovery", |u| {
        matches!(u, Update::Recovered { .. })
    });
    let Some(Update::Recovered { outage, .. }) = updates.last() else {
        unreachable!()
    };
    // `since` is the last tick that saw audio: up to one 50 ms tick after it stopped.
    assert!(
        *outage + Duration::from_millis(60) >= back_at - died_at,
        "{outage:?}"
    );
    started_session(&engine);
    wait_for_scores(&engine, Role::Tagger);
    assert!(
        back_at.elapsed() < Duration::from_secs(3),
        "scores came back {:?} after the server",
        back_at.elapsed()
    );
    assert_eq!(
        stand_ins.loads.load(Ordering::SeqCst),
        1,
        "the model was kept"
    );
}

#[test]
fn a_panicked_tagger_is_reported_and_comes_back_in_its_role() {
    a_panicked_track_comes_back_in_its_role(Role::Tagger);
}

#[test]
fn a_panicked_speech_track_is_reported_and_comes_back_in_its_role() {
    a_panicked_track_comes_back_in_its_role(Role::Speech);
}

fn a_panicked_track_comes_back_in_its_role(panicking: Role) {
    let stand_ins = Arc::new(StandIns::default());
    let engine = start(&stand_ins);
    load(&engine, Role::Tagger, TAGGER);
    engine.send(Command::SetSpeechTrack(true));
    engine.send(Command::SetSource(SourceRequest::Microphone(None)));
    // The session restarts once the speech model is ready; wait for one with both.
    while started_session(&engine).speech.is_none() {}
    wait_for_scores(&engine, Role::Speech);
    wait_for_scores(&engine, Role::Tagger);
    let opens = stand_ins.opens.load(Ordering::SeqCst);

    *stand_ins.panic_role.lock().unwrap() = Some(panicking);
    let updates = wait_for(&engine, "lost track", |u| {
        matches!(u, Update::TrackLost { .. })
    });
    let Some(Update::TrackLost { role, message }) = updates.last() else {
        unreachable!()
    };
    assert_eq!(*role, panicking);
    assert!(message.contains("told to panic"), "{message}");

    // Its model is reloaded for the same role, and the session comes back with both
    // tracks, each in its own role.
    let updates = wait_for(
        &engine,
        "reload",
        |u| matches!(u, Update::ModelReady { role, .. } if *role == panicking),
    );
    assert!(updates
        .iter()
        .any(|u| matches!(u, Update::ModelLoading { role, .. } if *role == panicking)));
    let info = loop {
        let info = started_session(&engine);
        if info.speech.is_some() {
            break info;
        }
    };
    assert_eq!(info.tagger.name(), "tiny-tone");
    assert_eq!(info.speech.as_ref().unwrap().name(), "silero-vad");
    let roles: Vec<Role> = info.stats.tracks.iter().map(|t| t.role).collect();
    assert!(roles.contains(&Role::Tagger) && roles.contains(&Role::Speech));
    wait_for_scores(&engine, Role::Tagger);
    wait_for_scores(&engine, Role::Speech);
    if panicking == Role::Speech {
        // The tagger and its source ran on: the source was never opened again.
        assert_eq!(stand_ins.opens.load(Ordering::SeqCst), opens);
    }
}

#[test]
fn a_source_that_will_not_open_costs_no_model() {
    let stand_ins = Arc::new(StandIns::default());
    stand_ins.server_down.store(true, Ordering::SeqCst);
    let engine = start(&stand_ins);
    load(&engine, Role::Tagger, TAGGER);
    engine.send(Command::SetSource(SourceRequest::Microphone(None)));
    let updates = wait_for(&engine, "failed open", |u| {
        matches!(u, Update::SourceFailed { .. })
    });
    assert!(updates.iter().any(|u| matches!(
        u,
        Update::ModelReady {
            role: Role::Tagger,
            ..
        }
    )));
    wait_for(&engine, "retry", |u| {
        matches!(u, Update::RetryFailed { .. })
    });
    stand_ins.server_down.store(false, Ordering::SeqCst);
    started_session(&engine);
    wait_for_scores(&engine, Role::Tagger);
    assert_eq!(stand_ins.loads.load(Ordering::SeqCst), 1);
}

#[test]
fn a_pipeline_that_will_not_start_hands_its_models_back() {
    let stand_ins = Arc::new(StandIns::default());
    // A rate no resampler takes: the pipeline refuses to start.
    *stand_ins.source_rate_hz.lock().unwrap() = Some(1);
    let engine = start(&stand_ins);
    load(&engine, Role::Tagger, TAGGER);
    engine.send(Command::SetSource(SourceRequest::Microphone(None)));
    let updates = wait_for(&engine, "failed session", |u| {
        matches!(u, Update::SessionFailed { .. })
    });
    let Some(Update::SessionFailed { error: problem }) = updates.last() else {
        unreachable!()
    };
    assert!(
        problem.contains("cannot start the live session"),
        "{problem}"
    );
    // The model is still there: another source runs it without loading it again.
    *stand_ins.source_rate_hz.lock().unwrap() = None;
    engine.send(Command::SetSource(SourceRequest::Microphone(Some(
        "another".into(),
    ))));
    let info = started_session(&engine);
    assert_eq!(info.source.label, "another");
    wait_for_scores(&engine, Role::Tagger);
    assert_eq!(stand_ins.loads.load(Ordering::SeqCst), 1);
}

#[test]
fn a_model_switch_during_recovery_runs_when_the_source_returns() {
    let stand_ins = Arc::new(StandIns::default());
    let engine = start(&stand_ins);
    load(&engine, Role::Tagger, TAGGER);
    engine.send(Command::SetSource(SourceRequest::Microphone(None)));
    started_session(&engine);
    stand_ins.server_down.store(true, Ordering::SeqCst);
    wait_for(&engine, "loss", |u| matches!(u, Update::SourceLost { .. }));

    load(&engine, Role::Tagger, OTHER_TAGGER);
    let updates = wait_for(&engine, "new model", |u| {
        matches!(
            u,
            Update::ModelReady {
                role: Role::Tagger,
                ..
            }
        )
    });
    assert!(
        !updates
            .iter()
            .any(|u| matches!(u, Update::SessionStarted(_))),
        "nothing can start while the source is gone"
    );
    wait_for(&engine, "retry", |u| {
        matches!(u, Update::RetryFailed { .. })
    });
    stand_ins.server_down.store(false, Ordering::SeqCst);
    let info = started_session(&engine);
    assert_eq!(info.tagger.name(), "tiny-sed", "the newer model runs");
    wait_for_scores(&engine, Role::Tagger);
}

#[test]
fn a_source_that_fails_to_open_does_not_become_the_one_recovered() {
    let stand_ins = Arc::new(StandIns::default());
    let engine = start(&stand_ins);
    load(&engine, Role::Tagger, TAGGER);
    engine.send(Command::SetSource(SourceRequest::Microphone(Some(
        "a".into(),
    ))));
    started_session(&engine);
    engine.send(Command::SetSource(SourceRequest::Microphone(Some(
        "broken".into(),
    ))));
    wait_for(&engine, "failed switch", |u| {
        matches!(u, Update::SourceFailed { .. })
    });
    // "a" keeps running; when it is lost, it is "a" that comes back.
    stand_ins.server_down.store(true, Ordering::SeqCst);
    wait_for(&engine, "loss", |u| matches!(u, Update::SourceLost { .. }));
    stand_ins.server_down.store(false, Ordering::SeqCst);
    let info = started_session(&engine);
    assert_eq!(info.source.label, "a");
}

#[test]
fn a_change_made_while_a_failing_open_is_under_way_still_applies() {
    let stand_ins = Arc::new(StandIns::default());
    let engine = start(&stand_ins);
    load(&engine, Role::Tagger, TAGGER);
    engine.send(Command::SetSpeechTrack(true));
    engine.send(Command::SetSource(SourceRequest::Microphone(Some(
        "a".into(),
    ))));
    while started_session(&engine).speech.is_none() {}

    engine.send(Command::SetSource(SourceRequest::Microphone(Some(
        "slow-broken".into(),
    ))));
    engine.send(Command::SetSpeechTrack(false));
    wait_for(&engine, "failed switch", |u| {
        matches!(u, Update::SourceFailed { .. })
    });
    let info = started_session(&engine);
    assert_eq!(info.source.label, "a");
    assert!(info.speech.is_none(), "the speech track was turned off");
}
