//! The building blocks with values worked out by hand.

use super::*;

fn ev(label_index: usize, onset_secs: f64, offset_secs: f64) -> ReferenceEvent {
    ReferenceEvent {
        label_index,
        onset_secs,
        offset_secs,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn one_file(events: Vec<ReferenceEvent>, duration_secs: f64) -> Vec<TruthFile> {
    vec![TruthFile {
        events,
        duration_secs,
    }]
}

#[test]
fn intersection_is_the_overlap_in_seconds() {
    assert!(close(
        intersection_secs(&ev(0, 1.0, 3.0), &ev(0, 2.5, 4.0)),
        0.5
    ));
    assert_eq!(intersection_secs(&ev(0, 1.0, 2.0), &ev(0, 2.0, 4.0)), 0.0);
    assert_eq!(intersection_secs(&ev(0, 1.0, 2.0), &ev(0, 3.0, 4.0)), 0.0);
}

/// Ground truth: class 0 at 1-3 s, class 1 at 5-6 s, in 10 s.
/// - d1, class 0, 1.2-3.0: all of it on class 0's event (DTC 1.0); covers 1.8 of 2 s
///   (GTC 0.9): a true positive.
/// - d2, class 0, 5-6: nothing on class 0 (DTC 0): a false positive; all of it on class
///   1's event (1.0 >= CTTC 0.3): a cross-trigger on class 1.
/// - d3, class 1, 5.5-7.5: 0.5 of its 2 s on class 1 (DTC 0.25 < 0.7): a false positive,
///   and class 1's event is not found.
#[test]
fn dtc_gtc_and_cross_triggers_by_hand() {
    let truth = one_file(vec![ev(0, 1.0, 3.0), ev(1, 5.0, 6.0)], 10.0);
    let dets = vec![vec![ev(0, 1.2, 3.0), ev(0, 5.0, 6.0), ev(1, 5.5, 7.5)]];
    let c = intersection_counts(&truth, &dets, &INTERSECTION_F1_CRITERIA).unwrap();
    assert_eq!(c.classes, [0, 1]);
    assert_eq!(c.reference, [1, 1]);
    assert_eq!(c.true_positives, [1, 0]);
    assert_eq!(c.false_positives, [1, 1]);
    assert_eq!(c.cross_triggers, [vec![0, 1], vec![0, 0]]);
    assert!(close(c.reference_secs[0], 2.0) && close(c.reference_secs[1], 1.0));
    assert!(close(c.total_secs, 10.0));

    // Class 0: 2TP / (2TP + FP + FN) = 2 / 3; class 1 has no true positive: psds_eval's NaN.
    let f = intersection_f1(&truth, &dets, &INTERSECTION_F1_CRITERIA).unwrap();
    assert!(close(f.per_class[0].f1.unwrap(), 2.0 / 3.0));
    assert_eq!(f.per_class[1].f1, None);
    assert!(close(f.macro_f1_defined_only.unwrap(), 2.0 / 3.0));
    assert!(close(f.macro_f1_zero_filled, 1.0 / 3.0));

    // Scenario 2's loose criteria (0.1): d3 now passes the DTC (0.25) and covers half of
    // class 1's event (0.5 >= 0.1): a true positive. d2 still cross-triggers.
    let c = intersection_counts(&truth, &dets, &PSDS2.criteria).unwrap();
    assert_eq!(c.true_positives, [1, 1]);
    assert_eq!(c.false_positives, [1, 0]);
    assert_eq!(c.cross_triggers, [vec![0, 1], vec![0, 0]]);
}

#[test]
fn coverage_adds_up_over_detections_and_a_dtc_pass_is_never_a_false_positive() {
    // Two detections inside one 4 s event cover 1.5 + 1.5 = 3 s: 0.75 >= 0.7.
    let truth = one_file(vec![ev(0, 0.0, 4.0)], 10.0);
    let both = vec![vec![ev(0, 0.0, 1.5), ev(0, 2.0, 3.5)]];
    let c = intersection_counts(&truth, &both, &INTERSECTION_F1_CRITERIA).unwrap();
    assert_eq!((c.true_positives[0], c.false_positives[0]), (1, 0));
    // One of them covers 1.5 / 4 < 0.7: no true positive, yet it passes the DTC, so it is
    // no false positive either (psds_eval and sed_scores_eval count it as neither).
    let one = vec![vec![ev(0, 0.0, 1.5)]];
    let c = intersection_counts(&truth, &one, &INTERSECTION_F1_CRITERIA).unwrap();
    assert_eq!((c.true_positives[0], c.false_positives[0]), (0, 0));
}

#[test]
fn criteria_are_inclusive_despite_floating_point() {
    // 1.0 - 0.3 is 0.70000000000000007 and 0.7 * 1.0 is 0.69999999999999996: equal once
    // rounded to the microsecond, so the detection passes the DTC.
    let truth = one_file(vec![ev(0, 0.3, 5.0)], 10.0);
    let dets = vec![vec![ev(0, 0.0, 1.0)]];
    let c = intersection_counts(&truth, &dets, &INTERSECTION_F1_CRITERIA).unwrap();
    assert_eq!(c.false_positives[0], 0);
    // 0.69 s on the event: a false positive.
    let dets = vec![vec![ev(0, 0.0, 0.99)]];
    let c = intersection_counts(&truth, &dets, &INTERSECTION_F1_CRITERIA).unwrap();
    assert_eq!(c.false_positives[0], 1);
}

#[test]
fn staircase_area_holds_each_value_to_the_next_point_and_the_last_to_the_end() {
    let points = [(0.0, 0.0), (1.0, 0.5), (3.0, 1.0)];
    assert!(close(staircase_area(&points, 4.0), 0.5 * 2.0 + 1.0));
    assert!(close(staircase_area(&points, 2.0), 0.5));
    assert!(close(staircase_area(&points, 3.0), 1.0));
    assert!(close(staircase_area(&points, 100.0), 1.0 + 97.0));
}

/// One hour; class 0 at 10-20 s, class 1 at 30-40 s.
/// - high threshold: class 0 found, class 1 not: (eFPR, TPR) class 0 (0, 1), class 1 (0, 0);
/// - low threshold: both found, class 0 with one false positive (eFPR 1/h), class 1 with
///   two (2/h).
///
/// Staircases at x = 0, 1, 2: class 0 1, 1, 1; class 1 0, 0, 1; mean 0.5, 0.5, 1;
/// standard deviation 0.5, 0.5, 0. With alpha_st = 1: eTPR 0, 0, 1, area up to 100
/// = 98: PSDS 0.98. With alpha_st = 0: 0.5 + 0.5 + 98 = 99: 0.99.
#[test]
fn psds_by_hand() {
    let truth = one_file(vec![ev(0, 10.0, 20.0), ev(1, 30.0, 40.0)], 3600.0);
    let high = vec![vec![ev(0, 10.0, 20.0)]];
    let low = vec![vec![
        ev(0, 10.0, 20.0),
        ev(0, 100.0, 110.0),
        ev(1, 30.0, 40.0),
        ev(1, 200.0, 210.0),
        ev(1, 300.0, 310.0),
    ]];
    let ops = [high, low];
    let p = psds(&truth, &ops, &PSDS1).unwrap();
    assert_eq!(p.roc, [(0.0, 0.0), (1.0, 0.0), (2.0, 1.0)]);
    assert!(close(p.value, 0.98), "{}", p.value);
    let flat = Scenario {
        alpha_st: 0.0,
        ..PSDS1
    };
    assert!(close(psds(&truth, &ops, &flat).unwrap().value, 0.99));

    // A class 0 detection on class 1's event is a cross-trigger: 1 per 10 s of class 1,
    // 360 per hour; with alpha_ct = 0.5 and one other class, class 0's eFPR is
    // 1 false positive/h + 0.5 * 360 = 181.
    let crossed = vec![vec![ev(0, 10.0, 20.0), ev(0, 30.0, 40.0)]];
    let p = psds(&truth, &[crossed], &PSDS2).unwrap();
    assert!(p.roc.iter().any(|&(x, _)| close(x, 181.0)), "{:?}", p.roc);
}

#[test]
fn errors_name_what_is_missing() {
    let dets = vec![vec![ev(0, 0.0, 1.0)]];
    let no_events = one_file(vec![], 10.0);
    assert_eq!(
        psds(&no_events, std::slice::from_ref(&dets), &PSDS1).unwrap_err(),
        PsdsError::NoClasses
    );
    let no_duration = one_file(vec![ev(0, 0.0, 1.0)], 0.0);
    assert_eq!(
        intersection_f1(&no_duration, &dets, &INTERSECTION_F1_CRITERIA)
            .unwrap_err()
            .to_string(),
        "file 0: duration 0 s; every file needs a positive duration"
    );
    let truth = one_file(vec![ev(0, 0.0, 1.0)], 10.0);
    assert_eq!(
        psds(&truth, &[], &PSDS1).unwrap_err(),
        PsdsError::NoOperatingPoints
    );
}

#[test]
fn threshold_events_are_runs_strictly_above_the_threshold() {
    // 10 frames a second; class 0 crosses 0.5 on frames 1-2 and 4 (0.5 itself is not
    // above); class 1 never.
    let scores = FileScores {
        frame_rate_hz: 10.0,
        classes: 2,
        times_secs: vec![0.0, 0.1, 0.2, 0.3, 0.4],
        rows: vec![0.2, 0.0, 0.6, 0.0, 0.7, 0.0, 0.5, 0.0, 0.9, 0.0],
    };
    let events = threshold_events(&scores, 0.5);
    assert_eq!(events.len(), 2);
    assert!(close(events[0].onset_secs, 0.1) && close(events[0].offset_secs, 0.3));
    assert!(close(events[1].onset_secs, 0.4) && close(events[1].offset_secs, 0.5));
    assert!(events.iter().all(|e| e.label_index == 0));
    // 0.05f32 is 0.0500000007: above the threshold 0.05.
    let one = FileScores {
        frame_rate_hz: 10.0,
        classes: 1,
        times_secs: vec![0.0],
        rows: vec![0.05],
    };
    assert_eq!(threshold_events(&one, 0.05).len(), 1);
}

#[test]
fn dcase_thresholds_are_the_desed_sweep() {
    let t = dcase_thresholds(50);
    assert_eq!(t.len(), 50);
    assert!(close(t[0], 0.01) && close(t[1], 0.03) && close(t[49], 0.99));
}
