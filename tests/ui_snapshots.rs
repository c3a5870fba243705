//! Snapshot tests of the window's panels, drawn by egui_kittest's headless wgpu renderer
//! from fixed pipeline events and a fixed clock. `UPDATE_SNAPSHOTS=1 cargo test --test
//! ui_snapshots` rewrites the PNGs under tests/snapshots/ after an intended change.

use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use livetag::engine::{LiveEventFinder, LiveUpdate};
use livetag::ontology::{Hierarchy, TopKMode};
use livetag::pipeline::{
    DisplayInfo, LiveMessage, LiveScores, ModelInputRows, Role, SpectrumColumn,
};
use livetag::ui::view::{LiveView, ViewSettings};
use livetag::ui::{Colormap, StatusLine};

const LABELS: [&str; 6] = ["speech", "music", "dog", "siren", "whistle", "rain"];
const BANDS: usize = 64;
const COLUMNS_PER_SEC: f64 = 100.0;
const MODEL_ROWS_PER_SEC: f64 = 50.0;
const MODEL_BANDS: usize = 32;

fn display() -> DisplayInfo {
    DisplayInfo {
        sample_rate_hz: 32_000,
        columns_per_sec: COLUMNS_PER_SEC,
        bands: BANDS,
        fmax_hz: 16_000.0,
        model_rows_per_sec: MODEL_ROWS_PER_SEC,
        model_row_width: MODEL_BANDS,
    }
}

/// Six seconds of a rising chirp over a noise floor, a model input that follows it, and a
/// "whistle" score that rises while "speech" falls. All times derive from `clock`, so the
/// latency figures are fixed too (every window reaches the screen 40 ms after capture).
fn fed_view(settings: &ViewSettings, clock: Instant) -> LiveView {
    let mut view = LiveView::new(
        "test-model".to_string(),
        LABELS.iter().map(|s| s.to_string()).collect(),
        Hierarchy::flat(LABELS.len()),
        display(),
        settings,
    );
    let seconds = 6.0;
    for column in 0..(seconds * COLUMNS_PER_SEC) as usize {
        let t = column as f64 / COLUMNS_PER_SEC;
        let peak = (t / seconds * BANDS as f64) as usize;
        let db = (0..BANDS)
            .map(|band| {
                if band.abs_diff(peak) <= 1 {
                    -25.0
                } else {
                    -85.0 + (band % 7) as f32
                }
            })
            .collect();
        let event = LiveMessage::Spectrum(SpectrumColumn {
            end_secs: t + 0.01,
            db,
        });
        assert!(view
            .ingest(LiveUpdate::Pipeline(event), clock, settings)
            .is_none());
    }
    for row in 0..(seconds * MODEL_ROWS_PER_SEC) as usize {
        let t = row as f64 / MODEL_ROWS_PER_SEC;
        let peak = (t / seconds * MODEL_BANDS as f64) as usize;
        let values = (0..MODEL_BANDS)
            .map(|b| if b == peak { 3.0 } else { 0.5 })
            .collect();
        let event = LiveMessage::ModelInput(ModelInputRows {
            end_secs: t + 0.02,
            width: MODEL_BANDS,
            values,
        });
        view.ingest(LiveUpdate::Pipeline(event), clock, settings);
    }
    for window in 0..50 {
        let end_secs = 1.0 + window as f64 * 0.1;
        let rise = window as f32 / 49.0;
        let mut scores = vec![0.05, 0.2, 0.02, 0.1, 0.1 + 0.8 * rise, 0.01];
        scores[0] = 0.9 - 0.8 * rise;
        let captured_at = clock + Duration::from_secs_f64(end_secs);
        let shown_at = captured_at + Duration::from_millis(40);
        let event = LiveMessage::Scores(LiveScores {
            role: Role::Tagger,
            end_secs,
            window_secs: 1.0,
            captured_at,
            inference_secs: 0.012,
            scores,
            silent: false,
            frames: Vec::new(),
            frame_rate_hz: None,
        });
        view.ingest(LiveUpdate::Pipeline(event), shown_at, settings);
    }
    view
}

fn settings() -> ViewSettings {
    ViewSettings {
        smoothing_secs: 0.0,
        visible_secs: 8.0,
        top_k: 4,
        ..ViewSettings::default()
    }
}

#[test]
fn spectrogram_and_timeline() {
    let settings = settings();
    let view = fed_view(&settings, Instant::now());
    // Raw scores (no smoothing): the last window's order.
    let top: Vec<usize> = view
        .rows(&ViewSettings {
            top_k: 2,
            ..settings.clone()
        })
        .iter()
        .map(|r| r.label)
        .collect();
    assert_eq!(top, vec![4, 1]);
    assert_eq!(view.latency_ms.percentile(50.0), Some(40.0));
    let mut harness = Harness::builder()
        .with_size(egui::vec2(800.0, 420.0))
        .build_ui_state(
            |ui, (view, settings): &mut (LiveView, ViewSettings)| {
                view.spectrogram_ui(ui, settings, 260.0);
                let _ = view.timeline_ui(ui, settings, 140.0);
            },
            (view, settings),
        );
    harness.run();
    harness.snapshot("spectrogram_and_timeline");
}

/// A speech lane under the spectrogram: speech from 2 s to 4 s (silero's 32 ms windows on
/// track 1), silence elsewhere. Speech events do not touch the tagger's bars or timing.
#[test]
fn speech_lane_under_the_spectrogram() {
    let settings = settings();
    let clock = Instant::now();
    let mut view = fed_view(&settings, clock);
    view.add_speech_lane("silero-vad".to_string(), "speech".to_string());
    let latency_before = view.latency_ms.len();
    for window in 0..(6.0f64 / 0.032) as usize {
        let end_secs = (window + 1) as f64 * 0.032;
        let probability = if (2.0..4.0).contains(&end_secs) {
            0.95
        } else {
            0.02
        };
        let event = LiveMessage::Scores(LiveScores {
            role: Role::Speech,
            end_secs,
            window_secs: 0.036,
            captured_at: clock,
            inference_secs: 0.0001,
            scores: vec![probability],
            silent: false,
            frames: Vec::new(),
            frame_rate_hz: None,
        });
        assert!(view
            .ingest(LiveUpdate::Pipeline(event), clock, &settings)
            .is_none());
    }
    assert_eq!(view.latency_ms.len(), latency_before);
    let top = view.rows(&ViewSettings {
        top_k: 1,
        ..settings.clone()
    });
    assert_eq!(top[0].label, 4);
    let mut harness = Harness::builder()
        .with_size(egui::vec2(800.0, 300.0))
        .build_ui_state(
            |ui, (view, settings, lane): &mut (LiveView, ViewSettings, Option<egui::Rect>)| {
                view.spectrogram_ui(ui, settings, 240.0);
                *lane = view.speech_lane_ui(ui, settings, 34.0);
            },
            (view, settings, None),
        );
    harness.run();
    let lane = harness.state().2.expect("a speech lane is drawn");
    let image = harness.render().unwrap();
    let scale = image.width() as f32 / 800.0;
    // Columns are as tall as the probability: at 80 % of the lane's height, speech (3 s)
    // is filled with the lane colour and silence (5 s) shows the background.
    let pixel_at = |secs: f32| {
        let x = lane.right() - (6.0 - secs) / 8.0 * lane.width();
        let y = lane.bottom() - 0.8 * lane.height();
        image.get_pixel((x * scale) as u32, (y * scale) as u32).0
    };
    let speech = pixel_at(3.0);
    let silence = pixel_at(5.0);
    assert!(
        speech[1] > 120 && speech[0] < 60,
        "speech column {speech:?}"
    );
    assert!(silence[1] < 40, "silence column {silence:?}");
    harness.snapshot("speech_lane");
}

#[test]
fn model_input_view_in_magma() {
    let settings = ViewSettings {
        show_model_input: true,
        colormap: Colormap::Magma,
        ..settings()
    };
    let view = fed_view(&settings, Instant::now());
    let mut harness = Harness::builder()
        .with_size(egui::vec2(600.0, 240.0))
        .build_ui_state(
            |ui, (view, settings): &mut (LiveView, ViewSettings)| {
                view.spectrogram_ui(ui, settings, 230.0);
            },
            (view, settings),
        );
    harness.run();
    harness.snapshot("model_input_magma");
}

#[test]
fn top_k_bars_with_a_class_threshold() {
    let mut settings = settings();
    settings
        .thresholds
        .entry("test-model".to_string())
        .or_default()
        .insert("music".to_string(), 0.1);
    let view = fed_view(&settings, Instant::now());
    let mut harness = Harness::builder()
        .with_size(egui::vec2(300.0, 120.0))
        .build_ui_state(
            |ui, (view, settings): &mut (LiveView, ViewSettings)| {
                let bars = view.top_k_ui(ui, settings);
                assert_eq!(bars.len(), 4);
            },
            (view, settings),
        );
    harness.run();
    harness.snapshot("top_k_bars");
}

#[test]
fn status_bar_shows_provider_latency_and_drops() {
    let line = StatusLine {
        source: "pulseaudio:virtmic @ 48000 Hz".to_string(),
        model: "musicnn-mtt".to_string(),
        provider: "CPU".to_string(),
        window: "2.00 s window every 40 ms, 23 % of each hop spent".to_string(),
        inference_ms: "12/19".to_string(),
        latency_ms: "41/57".to_string(),
        dropped_windows: 3,
        xruns: 0,
        overflow_frames: 0,
    };
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1100.0, 30.0))
        .build_ui(move |ui| line.ui(ui));
    harness.run();
    harness.get_by_label_contains("capture-to-screen p50/p99 41/57 ms");
    harness.get_by_label_contains("dropped windows 3, xruns 0, lost frames 0");
    harness.get_by_label_contains("model musicnn-mtt on CPU");
    harness.snapshot("status_bar");
}

/// The model card of the default model: measured compute next to the bundle's facts.
#[test]
fn model_card_of_musicnn() {
    let bundle = livetag::bundle::Bundle::load(&common_repo().join("models/musicnn-mtt")).unwrap();
    let runtime = livetag::inference::runtime(None).unwrap();
    let options = livetag::inference::SessionOptions {
        threads: Some(1),
        ..Default::default()
    };
    let compute = livetag::inference::profile::measure(&runtime, &bundle, &options).unwrap();
    let card = livetag::inference::profile::ModelCard::new(&bundle, "CPU".into(), Ok(compute));
    let mut harness = Harness::builder()
        .with_size(egui::vec2(760.0, 240.0))
        .build_ui(|ui| livetag::ui::view::model_card_ui(ui, &bundle, Some(&card)));
    harness.run();
    harness.get_by_label("787,160");
    harness.get_by_label_contains("M MACs per second of audio");
    // Where the profile saw the nodes run: every node of musicnn on the CPU provider.
    harness.get_by_label_contains("CPUExecutionProvider");
    harness.get_by_label("ISC");
}

fn common_repo() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Live sound events from a framewise output: "whistle" sounds from 2 s to 4 s and "dog"
/// for 0.15 s at 5 s. Windows of 1 s every 0.5 s carry 100 frames a second. The
/// whistle becomes an event drawn on the timeline; the dog spike is rejected as too short,
/// and the log says so.
#[test]
fn live_events_on_the_timeline_and_in_the_log() {
    let settings = settings();
    let clock = Instant::now();
    let mut view = LiveView::new(
        "test-model".to_string(),
        LABELS.iter().map(|s| s.to_string()).collect(),
        Hierarchy::flat(LABELS.len()),
        display(),
        &settings,
    );
    // The timeline's "now" is the newest spectrogram column.
    let column = SpectrumColumn {
        end_secs: 6.0,
        db: vec![-80.0; BANDS],
    };
    view.ingest(
        LiveUpdate::Pipeline(LiveMessage::Spectrum(column)),
        clock,
        &settings,
    );
    // Found as the engine finds them, then shown.
    let labels: Vec<String> = LABELS.iter().map(|s| s.to_string()).collect();
    let mut finder = LiveEventFinder::new(labels.clone(), 100.0, &Default::default()).unwrap();
    view.enable_event_log(finder.delay_secs());
    let classes = LABELS.len();
    for window in 0..11 {
        let end_secs = 1.0 + window as f64 * 0.5;
        let start_secs = end_secs - 1.0;
        let mut frames = Vec::new();
        for frame in 0..100 {
            let t = start_secs + frame as f64 / 100.0;
            let mut row = vec![0.02f32; classes];
            if (2.0..4.0).contains(&t) {
                row[4] = 0.9; // whistle
            }
            if (5.0..5.15).contains(&t) {
                row[2] = 0.95; // dog
            }
            frames.extend(row);
        }
        let scores = LiveScores {
            role: Role::Tagger,
            end_secs,
            window_secs: 1.0,
            captured_at: clock,
            inference_secs: 0.01,
            // whistle on top, so the timeline draws its line and its event span
            scores: (0..classes)
                .map(|c| if c == 4 { 0.8 } else { 0.1 })
                .collect(),
            silent: false,
            frames,
            frame_rate_hz: Some(100.0),
        };
        let decisions = finder.push(&scores);
        let open = finder.open_events(&labels);
        let sound_events = LiveUpdate::SoundEvents { decisions, open };
        view.ingest(
            LiveUpdate::Pipeline(LiveMessage::Scores(scores)),
            clock,
            &settings,
        );
        view.ingest(sound_events, clock, &settings);
    }
    let events = view.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].label, "whistle");
    assert!((events[0].onset_secs - 2.0).abs() < 1e-9, "{events:?}");
    assert!((events[0].offset_secs - 4.0).abs() < 1e-9, "{events:?}");
    let log = view.event_log();
    assert!(
        log.iter().any(|l| l.starts_with("accepted whistle")),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("rejected dog") && l.contains("too short")),
        "{log:?}"
    );
    let mut harness = Harness::builder()
        .with_size(egui::vec2(800.0, 200.0))
        .build_ui_state(
            |ui, (view, settings): &mut (LiveView, ViewSettings)| {
                let _ = view.timeline_ui(ui, settings, 190.0);
            },
            (view, settings),
        );
    harness.run();
    harness.snapshot("live_events");
}

/// AudioSet's long, nested names in a narrow panel: a barking dog, scored as CED-tiny scores
/// a real recording of one (Animal 0.86, Dog 0.79, Domestic animals 0.78, Bow-wow 0.33,
/// Bark 0.29), beside speech. Labels longer than the bar are cut with an ellipsis, never
/// drawn under the score.
fn audioset_bars(mode: TopKMode, shown: Vec<&'static str>) {
    let bundle = livetag::bundle::Bundle::load(&common_repo().join("models/ced-tiny")).unwrap();
    let index = |name: &str| bundle.labels.iter().position(|l| l == name).unwrap();
    let mut scores = vec![0.0f32; bundle.labels.len()];
    for (name, score) in [
        ("Animal", 0.86),
        ("Dog", 0.79),
        ("Domestic animals, pets", 0.78),
        ("Bow-wow", 0.33),
        ("Bark", 0.29),
        ("Speech", 0.41),
        ("Male speech, man speaking", 0.25),
        ("Speech synthesizer", 0.05),
    ] {
        scores[index(name)] = score;
    }
    let clock = Instant::now();
    let settings = ViewSettings {
        top_k_mode: mode,
        ..settings()
    };
    let mut view = LiveView::new(
        "ced-tiny".to_string(),
        bundle.labels.clone(),
        bundle.hierarchy.clone(),
        display(),
        &settings,
    );
    view.ingest(
        LiveUpdate::Pipeline(LiveMessage::Scores(LiveScores {
            role: Role::Tagger,
            end_secs: 2.0,
            window_secs: 2.0,
            captured_at: clock,
            inference_secs: 0.01,
            scores,
            silent: false,
            frames: Vec::new(),
            frame_rate_hz: None,
        })),
        clock,
        &settings,
    );
    let mut harness = Harness::builder()
        .with_size(egui::vec2(190.0, 110.0))
        .build_ui_state(
            move |ui, (view, settings): &mut (LiveView, ViewSettings)| {
                let bars = view.top_k_ui(ui, settings);
                let names: Vec<&str> = bars.iter().map(|(l, _)| l.as_str()).collect();
                assert_eq!(names, shown);
            },
            (view, settings),
        );
    harness.run();
    harness.snapshot(format!(
        "audioset_top_classes_{}",
        mode.name().replace('-', "_")
    ));
}

/// Dog stands for Animal and Domestic animals; Male speech (0.25, over half of Speech's
/// 0.41) stands for Speech and ranks by its score.
#[test]
fn audioset_top_classes_most_specific() {
    audioset_bars(
        TopKMode::MostSpecific,
        vec!["Dog", "Male speech, man speaking", "Bow-wow", "Bark"],
    );
}

/// The dog chain indented: Animal, then Domestic animals, then Dog.
#[test]
fn audioset_top_classes_grouped() {
    audioset_bars(
        TopKMode::Grouped,
        vec!["Animal", "Domestic animals, pets", "Dog", "Speech"],
    );
}

/// A window of digital silence: the panel says so, and the bars are greyed (their scores
/// describe no sound).
#[test]
fn a_silent_window_is_said_to_be_silent() {
    let settings = settings();
    let clock = Instant::now();
    let mut view = fed_view(&settings, clock);
    view.ingest(
        LiveUpdate::Pipeline(LiveMessage::Scores(LiveScores {
            role: Role::Tagger,
            end_secs: 6.5,
            window_secs: 1.0,
            captured_at: clock,
            inference_secs: 0.01,
            scores: vec![0.05, 0.31, 0.02, 0.1, 0.26, 0.01],
            silent: true,
            frames: Vec::new(),
            frame_rate_hz: None,
        })),
        clock,
        &settings,
    );
    let mut harness = Harness::builder()
        .with_size(egui::vec2(300.0, 150.0))
        .build_ui_state(
            |ui, (view, settings): &mut (LiveView, ViewSettings)| {
                view.top_k_ui(ui, settings);
            },
            (view, settings),
        );
    harness.run();
    harness.get_by_label_contains("silence: the last window heard no sound at all");
    harness.snapshot("top_k_bars_silent");
}
