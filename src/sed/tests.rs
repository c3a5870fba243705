//! Post-processing with hand-computed expected values.

use super::*;

fn settings(on: f32, off: f32, median_frames: usize, min_duration_secs: f64) -> EventSettings {
    EventSettings::new(ClassSettings {
        on,
        off,
        median_frames,
        min_duration_secs,
        min_gap_secs: 0.0,
    })
}

fn detector(labels: &[&str], rate: f64, settings: &EventSettings) -> EventDetector {
    EventDetector::new(
        labels.iter().map(|s| s.to_string()).collect(),
        rate,
        settings,
    )
    .unwrap()
}

/// One-class track at `rate` Hz, frames starting at 0.
fn run_track(det: &mut EventDetector, rate: f64, track: &[f32]) -> Vec<Decision> {
    let times: Vec<f64> = (0..track.len()).map(|k| k as f64 / rate).collect();
    det.run_all(&times, track)
}

fn event(label_index: usize, label: &str, onset: f64, offset: f64, peak: f32) -> Event {
    Event {
        label_index,
        label: label.into(),
        onset_secs: onset,
        offset_secs: offset,
        peak,
    }
}

/// Times compared to the microsecond, values exactly.
fn assert_same(got: &[Decision], want: &[Decision]) {
    let round = |d: &Decision| -> Decision {
        let r = |x: f64| (x * 1e6).round() / 1e6;
        match d.clone() {
            Decision::Accepted(mut e) => {
                e.onset_secs = r(e.onset_secs);
                e.offset_secs = r(e.offset_secs);
                Decision::Accepted(e)
            }
            Decision::Rejected {
                mut candidate,
                reason:
                    Rejection::TooShort {
                        duration_secs,
                        min_secs,
                    },
            } => {
                candidate.onset_secs = r(candidate.onset_secs);
                candidate.offset_secs = r(candidate.offset_secs);
                Decision::Rejected {
                    candidate,
                    reason: Rejection::TooShort {
                        duration_secs: r(duration_secs),
                        min_secs,
                    },
                }
            }
            Decision::Merged {
                label_index,
                label,
                gap_start_secs,
                gap_secs,
                min_gap_secs,
            } => Decision::Merged {
                label_index,
                label,
                gap_start_secs: r(gap_start_secs),
                gap_secs: r(gap_secs),
                min_gap_secs,
            },
        }
    };
    let got: Vec<Decision> = got.iter().map(round).collect();
    let want: Vec<Decision> = want.iter().map(round).collect();
    assert_eq!(got, want);
}

#[test]
fn hysteresis_opens_at_on_and_holds_down_to_off() {
    // 10 frames of 0.1 s. Frame 1 (0.4) is above `off` but never reached `on`: nothing.
    // Frame 2 reaches on (0.6): onset 0.2. Frames 3 (0.35) and 4 (0.3, equal to off) hold
    // it; frame 5 (0.2) ends it, so the offset is the end of frame 4: 0.5.
    // Frame 6 (0.45) again stays under on. Frame 8 (exactly 0.5) opens: 0.8-0.9.
    let track = [0.1, 0.4, 0.6, 0.35, 0.3, 0.2, 0.45, 0.29, 0.5, 0.1];
    let mut det = detector(&["dog"], 10.0, &settings(0.5, 0.3, 1, 0.0));
    let decisions = run_track(&mut det, 10.0, &track);
    assert_same(
        &decisions,
        &[
            Decision::Accepted(event(0, "dog", 0.2, 0.5, 0.6)),
            Decision::Accepted(event(0, "dog", 0.8, 0.9, 0.5)),
        ],
    );
}

#[test]
fn without_hysteresis_the_same_track_flickers() {
    // on = off = 0.5: only frames 2 and 8 are events; 0.35 no longer holds the first one.
    let track = [0.1, 0.4, 0.6, 0.35, 0.3, 0.2, 0.45, 0.29, 0.5, 0.1];
    let mut det = detector(&["dog"], 10.0, &settings(0.5, 0.5, 1, 0.0));
    assert_same(
        &run_track(&mut det, 10.0, &track),
        &[
            Decision::Accepted(event(0, "dog", 0.2, 0.3, 0.6)),
            Decision::Accepted(event(0, "dog", 0.8, 0.9, 0.5)),
        ],
    );
}

#[test]
fn decisions_come_as_soon_as_the_event_ends_plus_the_filter_delay() {
    let mut det = detector(&["dog"], 10.0, &settings(0.5, 0.3, 1, 0.0));
    assert_eq!(det.delay_frames(), 0);
    assert!(det.push(0.0, &[0.9]).is_empty());
    assert_eq!(det.open_events().len(), 1);
    assert_eq!(det.open_events()[0].onset_secs, 0.0);
    let decided = det.push(0.1, &[0.0]);
    assert_same(
        &decided,
        &[Decision::Accepted(event(0, "dog", 0.0, 0.1, 0.9))],
    );
    assert!(det.open_events().is_empty());

    // A 5-frame median delays every decision by 2 frames (0.1 s at 20 Hz).
    let mut det = detector(&["dog"], 20.0, &settings(0.5, 0.3, 5, 0.0));
    assert_eq!(det.delay_frames(), 2);
    assert!((det.delay_secs() - 0.1).abs() < 1e-12);
    let track = [0.0, 0.9, 0.9, 0.9, 0.0, 0.0, 0.0, 0.0];
    let mut when = Vec::new();
    for (k, &v) in track.iter().enumerate() {
        if !det.push(k as f64 / 20.0, &[v]).is_empty() {
            when.push(k);
        }
    }
    // Filtered, with the start mirrored (frame 0 sees 0.9 0 | 0 0.9 0.9): 0.9 for frames
    // 0-3, then 0. The event (0.0-0.2 s) ends at frame 4, which is filtered, and so
    // decided, when frame 6 arrives.
    assert_eq!(when, [6]);
    assert!(det.finish().is_empty());
}

#[test]
fn median_filter_matches_hand_computed_values() {
    // scipy.ndimage.median_filter(t, n, mode="reflect") gives the same numbers.
    let t = [0.9, 0.1, 0.8, 0.7, 0.0, 0.6, 0.2];
    assert_eq!(median_filter(&t, 1), t);
    assert_eq!(median_filter(&t, 3), [0.9, 0.8, 0.7, 0.7, 0.6, 0.2, 0.2]);
    assert_eq!(median_filter(&t, 5), [0.8, 0.8, 0.7, 0.6, 0.6, 0.2, 0.2]);
    // Shorter than the window: mirrored again (0.9 0.3 | 0.3 0.9 | 0.9 0.3).
    assert_eq!(median_filter(&[0.3, 0.9], 5), [0.9, 0.3]);
    assert!(median_filter(&[], 5).is_empty());
}

#[test]
fn median_filter_removes_short_spikes_and_fills_short_gaps() {
    // 20 Hz. Two-frame spike at frames 2-3: gone. Event at 8..=15 with a two-frame dropout
    // at 11-12: filled, one event 0.40-0.80 s.
    let mut track = vec![0.0f32; 20];
    track[2] = 1.0;
    track[3] = 1.0;
    track[8..16].fill(1.0);
    track[11] = 0.0;
    track[12] = 0.0;
    let mut det = detector(&["x"], 20.0, &settings(0.5, 0.3, 5, 0.0));
    assert_same(
        &run_track(&mut det, 20.0, &track),
        &[Decision::Accepted(event(0, "x", 0.4, 0.8, 1.0))],
    );
    // Without the filter: the spike, and the event in two halves.
    let mut det = detector(&["x"], 20.0, &settings(0.5, 0.3, 1, 0.0));
    assert_same(
        &run_track(&mut det, 20.0, &track),
        &[
            Decision::Accepted(event(0, "x", 0.1, 0.2, 1.0)),
            Decision::Accepted(event(0, "x", 0.4, 0.55, 1.0)),
            Decision::Accepted(event(0, "x", 0.65, 0.8, 1.0)),
        ],
    );
}

/// A small deterministic generator, so the test needs no crate.
fn lcg_track(seed: u64, len: usize) -> Vec<f32> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32) / (1u64 << 24) as f32
        })
        .collect()
}

#[test]
fn streaming_filter_equals_the_whole_track_filter() {
    // Two classes with different windows (3 and 7, so class 0 runs at the common delay of
    // 3 frames), every length from empty to longer than the buffer, mirrored ends included.
    let mut s = settings(0.5, 0.3, 3, 0.0);
    s.set_class(
        1,
        ClassSettings {
            median_frames: 7,
            ..s.default
        },
    );
    for len in 0..40 {
        let a = lcg_track(len as u64 + 1, len);
        let b = lcg_track(len as u64 + 1000, len);
        let mut det = detector(&["a", "b"], 10.0, &s);
        let rows: Vec<f32> = a.iter().zip(&b).flat_map(|(&x, &y)| [x, y]).collect();
        let times: Vec<f64> = (0..len).map(|k| k as f64 * 0.1).collect();
        for (k, row) in rows.chunks_exact(2).enumerate() {
            det.push(times[k], row);
        }
        // finish() resets, so look at the trace just before it.
        let mut trace_det = det.clone();
        let _ = trace_det.finish();
        let got_a: Vec<f32> = trace_det.trace.iter().map(|r| r[0]).collect();
        let got_b: Vec<f32> = trace_det.trace.iter().map(|r| r[1]).collect();
        assert_eq!(got_a, median_filter(&a, 3), "class a, {len} frames");
        assert_eq!(got_b, median_filter(&b, 7), "class b, {len} frames");
        // And the buffer never holds more than the filter needs.
        assert!(
            det.buf.len() <= 2 * (2 * 3 + 1),
            "{} values kept",
            det.buf.len()
        );
    }
}

#[test]
fn minimum_duration_rejects_with_the_reason_and_keeps_the_edge() {
    // 20 Hz, min 0.2 s. Frames 2-4: 0.15 s, rejected. Frames 10-13: 4 frames = 0.2 s
    // (0.5 + 0.2 is 0.7000000000000001 in floating point): accepted.
    let mut track = vec![0.0f32; 20];
    for k in [2, 3, 4] {
        track[k] = 0.8;
    }
    track[10..14].fill(0.9);
    let mut det = detector(&["x"], 20.0, &settings(0.5, 0.3, 1, 0.2));
    let decisions = run_track(&mut det, 20.0, &track);
    assert_same(
        &decisions,
        &[
            Decision::Rejected {
                candidate: event(0, "x", 0.1, 0.25, 0.8),
                reason: Rejection::TooShort {
                    duration_secs: 0.15,
                    min_secs: 0.2,
                },
            },
            Decision::Accepted(event(0, "x", 0.5, 0.7, 0.9)),
        ],
    );
    assert_eq!(
        decisions[0].to_string(),
        "rejected x 0.100-0.250 s (peak 0.800): too short: 0.15 s < 0.20 s min"
    );
    assert_eq!(
        decisions[1].to_string(),
        "accepted x 0.500-0.700 s (peak 0.900)"
    );
}

#[test]
fn minimum_gap_merges_before_the_duration_check() {
    // 10 Hz, min gap 0.25 s, min duration 0.3 s. Frames 1-2 (0.1-0.3) and 5-6 (0.5-0.7):
    // gap 0.2 s < 0.25, merged into 0.1-0.7 (each half alone would be too short). Frame 10
    // (1.0-1.1) comes 0.3 s after: not merged, and too short.
    let mut track = [0.0f32; 12];
    for (k, v) in [(1, 0.6), (2, 0.7), (5, 0.9), (6, 0.6), (10, 0.8)] {
        track[k] = v;
    }
    let mut s = settings(0.5, 0.3, 1, 0.3);
    s.default.min_gap_secs = 0.25;
    let mut det = detector(&["x"], 10.0, &s);
    let mut decisions = Vec::new();
    let mut decided_at = Vec::new();
    for (k, &v) in track.iter().enumerate() {
        let d = det.push(k as f64 / 10.0, &[v]);
        if !d.is_empty() {
            decided_at.push(k);
        }
        decisions.extend(d);
    }
    decisions.extend(det.finish());
    assert_same(
        &decisions,
        &[
            Decision::Merged {
                label_index: 0,
                label: "x".into(),
                gap_start_secs: 0.3,
                gap_secs: 0.2,
                min_gap_secs: 0.25,
            },
            Decision::Accepted(event(0, "x", 0.1, 0.7, 0.9)),
            Decision::Rejected {
                candidate: event(0, "x", 1.0, 1.1, 0.8),
                reason: Rejection::TooShort {
                    duration_secs: 0.1,
                    min_secs: 0.3,
                },
            },
        ],
    );
    // The merge is known at frame 5; the merged event once 0.25 s have passed after its
    // end (frame 10, at 1.0 s); the last candidate ends at frame 11, but the stream ends
    // before its gap has passed, so finish() decides it.
    assert_eq!(decided_at, [5, 10]);
    assert_eq!(
        decisions[0].to_string(),
        "merged x across 0.300-0.500 s: gap 0.20 s < 0.25 s min gap"
    );
}

#[test]
fn classes_have_their_own_settings_and_events() {
    // Class "b" needs 0.8 to start; the same track makes an event for "a" only.
    let mut s = settings(0.5, 0.3, 1, 0.0);
    s.set_class(
        1,
        ClassSettings {
            on: 0.8,
            off: 0.6,
            ..s.default
        },
    );
    let mut det = detector(&["a", "b"], 10.0, &s);
    let rows = [0.0, 0.0, 0.7, 0.7, 0.7, 0.7, 0.0, 0.9];
    let times = [0.0, 0.1, 0.2, 0.3];
    assert_same(
        &det.run_all(&times, &rows),
        &[
            Decision::Accepted(event(0, "a", 0.1, 0.3, 0.7)),
            Decision::Accepted(event(1, "b", 0.3, 0.4, 0.9)),
        ],
    );
    assert_eq!(det.settings(1).on, 0.8);
}

#[test]
fn an_event_still_open_at_the_end_is_closed_by_finish() {
    let mut det = detector(&["x"], 10.0, &settings(0.5, 0.3, 1, 0.0));
    assert!(det.push(0.0, &[0.2]).is_empty());
    assert!(det.push(0.1, &[0.7]).is_empty());
    assert!(det.push(0.2, &[0.6]).is_empty());
    assert_eq!(det.open_events()[0].last_secs, 0.30000000000000004);
    assert_same(
        &det.finish(),
        &[Decision::Accepted(event(0, "x", 0.1, 0.3, 0.7))],
    );
    assert!(det.open_events().is_empty(), "finish resets");
}

#[test]
fn bad_settings_are_refused_with_the_reason() {
    let labels = vec!["a".to_string()];
    let err = EventDetector::new(labels.clone(), 10.0, &settings(0.3, 0.5, 1, 0.0)).unwrap_err();
    assert!(
        err.to_string()
            .contains("must not exceed the onset threshold"),
        "{err}"
    );
    let err = EventDetector::new(labels.clone(), 10.0, &settings(0.5, 0.3, 4, 0.0)).unwrap_err();
    assert!(err.to_string().contains("odd number of frames"), "{err}");
    let err = EventDetector::new(labels.clone(), 0.0, &settings(0.5, 0.3, 1, 0.0)).unwrap_err();
    assert_eq!(err, SedError::FrameRate(0.0));
    let mut s = settings(0.5, 0.3, 1, 0.0);
    s.set_class(3, s.default);
    let err = EventDetector::new(labels, 10.0, &s).unwrap_err();
    assert!(err.to_string().contains("class 3"), "{err}");
}

#[test]
fn class_overrides_parse_from_the_command_line_form() {
    let o: ClassOverride = "Vehicle horn, car horn:on=0.7, median=3,gap=0.1"
        .parse()
        .unwrap();
    assert_eq!(o.label, "Vehicle horn, car horn");
    let applied = o.apply(ClassSettings::default());
    assert_eq!(
        applied,
        ClassSettings {
            on: 0.7,
            off: 0.3,
            median_frames: 3,
            min_duration_secs: 0.2,
            min_gap_secs: 0.1,
        }
    );
    let o: ClassOverride = "dog:off=0.1,min=0.5".parse().unwrap();
    assert_eq!(o.off, Some(0.1));
    assert_eq!(o.min_duration_secs, Some(0.5));
    for bad in [
        "dog",
        ":on=0.5",
        "dog:on",
        "dog:on=high",
        "dog:median=2.5",
        "dog:peak=1",
    ] {
        assert!(bad.parse::<ClassOverride>().is_err(), "{bad}");
    }
}

fn two_events() -> Vec<Event> {
    vec![
        event(0, "low", 0.5, 2.0, 0.990_39),
        event(1, "car, horn", 3.0, 3.8, 0.5),
    ]
}

fn export(format: EventFormat, files: &[(&str, Vec<Event>)]) -> String {
    let mut writer = EventWriter::new(Vec::new(), format).unwrap();
    for (file, events) in files {
        writer.write(file, events).unwrap();
    }
    String::from_utf8(writer.finish().unwrap()).unwrap()
}

#[test]
fn csv_export_text() {
    assert_eq!(
        export(
            EventFormat::Csv,
            &[("clips/a.wav", two_events()), ("b.wav", vec![])]
        ),
        "file,onset,offset,label,peak\n\
         clips/a.wav,0.500,2.000,low,0.990\n\
         clips/a.wav,3.000,3.800,\"car, horn\",0.500\n"
    );
}

#[test]
fn json_export_text() {
    assert_eq!(
        export(EventFormat::Json, &[("clips/a.wav", two_events())]),
        "[\n  {\"file\":\"clips/a.wav\",\"onset\":0.5,\"offset\":2.0,\"label\":\"low\",\"peak\":0.99},\n  \
         {\"file\":\"clips/a.wav\",\"onset\":3.0,\"offset\":3.8,\"label\":\"car, horn\",\"peak\":0.5}\n]\n"
    );
    assert_eq!(export(EventFormat::Json, &[("a.wav", vec![])]), "[]\n");
}

#[test]
fn audacity_export_text() {
    assert_eq!(
        export(EventFormat::Audacity, &[("clips/a.wav", two_events())]),
        "0.500000\t2.000000\tlow\n3.000000\t3.800000\tcar, horn\n"
    );
    let mut writer = EventWriter::new(Vec::new(), EventFormat::Audacity).unwrap();
    writer.write("a.wav", &two_events()).unwrap();
    assert!(writer.write("b.wav", &two_events()).is_err());
}

#[test]
fn dcase_export_text() {
    assert_eq!(
        export(EventFormat::Dcase, &[("clips/a.wav", two_events())]),
        "filename\tonset\toffset\tevent_label\n\
         a.wav\t0.500\t2.000\tlow\n\
         a.wav\t3.000\t3.800\tcar, horn\n"
    );
}

#[test]
fn accepted_events_are_ordered_by_onset() {
    let decisions = vec![
        Decision::Accepted(event(1, "b", 0.3, 0.4, 0.9)),
        Decision::Rejected {
            candidate: event(0, "a", 0.0, 0.1, 0.9),
            reason: Rejection::TooShort {
                duration_secs: 0.1,
                min_secs: 0.2,
            },
        },
        Decision::Accepted(event(0, "a", 0.1, 0.3, 0.7)),
    ];
    let events = accepted_events(&decisions);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].label, "a");
    assert_eq!(events[1].label, "b");
}

/// `tests/models/tiny-sed` (labels `low`, `high`) copied with `events` as its `[events]`
/// table.
fn tiny_sed_with_events(events: &str) -> (tempfile::TempDir, crate::bundle::Bundle) {
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/models/tiny-sed");
    let tmp = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), tmp.path().join(entry.file_name())).unwrap();
    }
    let spec = tmp.path().join("bundle.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(&spec, format!("{text}\n[events]\n{events}\n")).unwrap();
    let bundle = crate::bundle::Bundle::load(tmp.path()).unwrap();
    (tmp, bundle)
}

#[test]
fn per_class_median_lengths_from_the_bundle_filter_each_class_with_its_own() {
    let (_tmp, bundle) = tiny_sed_with_events("median_frames = [3, 5]");
    let settings = bundle.event_settings(ClassSettings::default());
    let mut det = EventDetector::new(bundle.labels.clone(), 20.0, &settings).unwrap();
    assert_eq!(det.settings(0).median_frames, 3);
    assert_eq!(det.settings(1).median_frames, 5);
    // The delay is the longest filter's half: 2 frames of 50 ms.
    assert_eq!(det.delay_frames(), 2);
    assert!((det.delay_secs() - 0.1).abs() < 1e-12);

    let low = [0.1f32, 0.9, 0.2, 0.8, 0.3, 0.7, 0.4, 0.0];
    let high = [0.9f32, 0.1, 0.6, 0.2, 0.7, 0.3, 0.8, 0.5];
    for (k, (&a, &b)) in low.iter().zip(&high).enumerate() {
        det.push(k as f64 / 20.0, &[a, b]);
    }
    let _ = det.finish();
    // scipy.ndimage.median_filter(track, size, mode="reflect") with size 3 and 5:
    let want_low = [0.1f32, 0.2, 0.8, 0.3, 0.7, 0.4, 0.4, 0.0];
    let want_high = [0.6f32, 0.6, 0.6, 0.3, 0.6, 0.5, 0.5, 0.5];
    let got_low: Vec<f32> = det.trace.iter().map(|r| r[0]).collect();
    let got_high: Vec<f32> = det.trace.iter().map(|r| r[1]).collect();
    assert_eq!(got_low, want_low);
    assert_eq!(got_high, want_high);
}

#[test]
fn one_median_length_from_the_bundle_applies_to_every_class() {
    let (_tmp, bundle) = tiny_sed_with_events("median_frames = 7");
    let base = ClassSettings {
        on: 0.6,
        ..ClassSettings::default()
    };
    let settings = bundle.event_settings(base);
    for class in 0..2 {
        assert_eq!(
            *settings.for_class(class),
            ClassSettings {
                median_frames: 7,
                ..base
            }
        );
    }
    // Without [events], the caller's settings stand.
    let plain = crate::bundle::Bundle::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/models/tiny-sed"),
    )
    .unwrap();
    assert_eq!(plain.event_settings(base), EventSettings::new(base));
}
