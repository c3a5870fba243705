//! livetag's event metrics against the reference implementations: psds_eval 0.5.3,
//! sed_scores_eval 0.0.4 and sed_eval 0.2.1, whose numbers
//! `tools/livetag_tools/reference/sed_metrics.py` wrote to
//! `tests/fixtures/sed_metrics/CASE/reference.json` from the same framewise scores and
//! ground truth. Everything within 1e-3.
//!
//! - PSDS 1 and 2 over DESED's 50 thresholds, against psds_eval given the detections at
//!   those thresholds;
//! - PSDS 1 and 2 with every distinct score as a threshold, against sed_scores_eval's exact
//!   PSDS from the scores;
//! - at threshold 0.5, the intersection-based F1 (DTC = GTC = 0.7) against psds_eval (its
//!   classes without a true positive left out) and sed_scores_eval (they count 0), and the
//!   event-based F1 against sed_eval (micro, and its NaN-skipping class-wise average),
//!   given livetag's 1 µs of slack on the collars (plain sed_eval is printed beside it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use livetag::eval::psds::{
    dcase_thresholds, intersection_f1, psds, threshold_events, FileScores, TruthFile,
    INTERSECTION_F1_CRITERIA, PSDS1, PSDS2,
};
use livetag::eval::{event_metrics, Collars, ReferenceEvent};
use livetag::sed::Event;

const CLASSES: [&str; 3] = ["alarm", "dog", "speech"];
const TOLERANCE: f64 = 1e-3;
const CASES: [&str; 4] = [
    "few_false_alarms",
    "many_false_alarms",
    "confused",
    "one_class_missed",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sed_metrics")
}

/// Rows of a tab-separated file with a header, as strings.
fn rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

struct Case {
    names: Vec<String>,
    truth: Vec<TruthFile>,
    scores: Vec<FileScores>,
    reference: serde_json::Value,
}

fn load(name: &str) -> Case {
    let dir = fixtures().join(name);
    let durations: BTreeMap<String, f64> = rows(&dir.join("durations.tsv"))
        .into_iter()
        .map(|r| (r[0].clone(), r[1].parse().unwrap()))
        .collect();
    let names: Vec<String> = durations.keys().cloned().collect();
    let mut events: BTreeMap<String, Vec<ReferenceEvent>> = BTreeMap::new();
    for r in rows(&dir.join("ground_truth.tsv")) {
        let list = events.entry(r[0].clone()).or_default();
        if r.len() < 4 || r[3].is_empty() {
            continue;
        }
        list.push(ReferenceEvent {
            label_index: CLASSES.iter().position(|c| *c == r[3]).unwrap(),
            onset_secs: r[1].parse().unwrap(),
            offset_secs: r[2].parse().unwrap(),
        });
    }
    let truth = names
        .iter()
        .map(|n| TruthFile {
            events: events.remove(n).unwrap_or_default(),
            duration_secs: durations[n],
        })
        .collect();
    let scores = names
        .iter()
        .map(|n| {
            let table = rows(&dir.join("scores").join(n.replace(".wav", ".tsv")));
            FileScores {
                frame_rate_hz: 10.0,
                classes: CLASSES.len(),
                times_secs: table.iter().map(|r| r[0].parse().unwrap()).collect(),
                rows: table
                    .iter()
                    .flat_map(|r| r[2..].iter().map(|v| v.parse::<f32>().unwrap()))
                    .collect(),
            }
        })
        .collect();
    let reference =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    Case {
        names,
        truth,
        scores,
        reference,
    }
}

fn at_threshold(case: &Case, threshold: f64) -> Vec<Vec<ReferenceEvent>> {
    case.scores
        .iter()
        .map(|s| threshold_events(s, threshold))
        .collect()
}

/// Every distinct score, as a threshold that keeps it: the largest f32 below it, so that
/// `score > threshold` is `score >= value` (sed_scores_eval's change points).
fn every_score_threshold(case: &Case) -> Vec<f64> {
    let mut values: Vec<f32> = case
        .scores
        .iter()
        .flat_map(|s| s.rows.iter().copied())
        .collect();
    values.sort_by(f32::total_cmp);
    values.dedup();
    values
        .into_iter()
        .map(|v| f64::from(next_below(v)))
        .collect()
}

/// The largest f32 below `v` (finite `v`; `f32::next_down` needs Rust 1.86).
fn next_below(v: f32) -> f32 {
    if v > 0.0 {
        f32::from_bits(v.to_bits() - 1)
    } else if v == 0.0 {
        -f32::from_bits(1)
    } else {
        f32::from_bits(v.to_bits() + 1)
    }
}

fn number(v: &serde_json::Value, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_f64()
}

/// (metric, case, livetag, reference name, reference value)
type Row = (String, String, f64, &'static str, Option<f64>);

fn compare(case_name: &str) -> Vec<Row> {
    let case = load(case_name);
    assert!(!case.names.is_empty());
    let r = &case.reference;
    let mut out: Vec<Row> = Vec::new();
    let sweep: Vec<_> = dcase_thresholds(50)
        .into_iter()
        .map(|t| at_threshold(&case, t))
        .collect();
    let exact: Vec<_> = every_score_threshold(&case)
        .into_iter()
        .map(|t| at_threshold(&case, t))
        .collect();
    for (key, scenario) in [("psds1", PSDS1), ("psds2", PSDS2)] {
        let ours = psds(&case.truth, &sweep, &scenario).unwrap().value;
        out.push((
            format!("{key} (50 thresholds)"),
            case_name.into(),
            ours,
            "psds_eval",
            number(r, &[key, "psds_eval_sweep"]),
        ));
        let ours = psds(&case.truth, &exact, &scenario).unwrap().value;
        out.push((
            format!("{key} (every score)"),
            case_name.into(),
            ours,
            "sed_scores_eval",
            number(r, &[key, "sed_scores_eval_exact"]),
        ));
    }
    let half = at_threshold(&case, 0.5);
    let f = intersection_f1(&case.truth, &half, &INTERSECTION_F1_CRITERIA).unwrap();
    out.push((
        "intersection F1 @0.5, no-TP classes left out".into(),
        case_name.into(),
        f.macro_f1_defined_only.unwrap_or(f64::NAN),
        "psds_eval",
        number(r, &["intersection_f1_at_0.5", "psds_eval_defined_only"]),
    ));
    out.push((
        "intersection F1 @0.5, no-TP classes count 0".into(),
        case_name.into(),
        f.macro_f1_zero_filled,
        "sed_scores_eval",
        number(
            r,
            &["intersection_f1_at_0.5", "sed_scores_eval_zero_filled"],
        ),
    ));
    let detected: Vec<Vec<Event>> = half
        .iter()
        .map(|file| {
            file.iter()
                .map(|e| Event {
                    label_index: e.label_index,
                    label: CLASSES[e.label_index].into(),
                    onset_secs: e.onset_secs,
                    offset_secs: e.offset_secs,
                    peak: 1.0,
                })
                .collect()
        })
        .collect();
    let m = event_metrics(
        case.truth
            .iter()
            .zip(&detected)
            .map(|(t, d)| (t.events.as_slice(), d.as_slice())),
        Collars::default(),
    );
    out.push((
        "event F1 @0.5, micro".into(),
        case_name.into(),
        m.micro.f1(),
        "sed_eval + 1 µs slack",
        number(r, &["event_f1_at_0.5", "sed_eval_micro_with_1us_slack"]),
    ));
    out.push((
        "event F1 @0.5, macro, NaN classes left out".into(),
        case_name.into(),
        m.macro_f1_sed_eval.unwrap_or(f64::NAN),
        "sed_eval + 1 µs slack",
        number(
            r,
            &[
                "event_f1_at_0.5",
                "sed_eval_macro_nan_skipped_with_1us_slack",
            ],
        ),
    ));
    out
}

/// Plain sed_eval, for the record: it compares |Δt| <= collar exactly, so events exactly one
/// collar (two 100 ms frames) away count or not as the subtraction rounds; livetag allows
/// 1 µs (src/eval.rs), and matches sed_eval given the same slack (asserted above).
fn plain_sed_eval(case_name: &str) -> [(f64, f64); 2] {
    let r = load(case_name).reference;
    let get = |k: &str| number(&r, &["event_f1_at_0.5", k]).unwrap_or(f64::NAN);
    [
        (get("sed_eval_micro"), get("sed_eval_micro_with_1us_slack")),
        (
            get("sed_eval_macro_nan_skipped"),
            get("sed_eval_macro_nan_skipped_with_1us_slack"),
        ),
    ]
}

#[test]
fn metrics_agree_with_psds_eval_sed_scores_eval_and_sed_eval() {
    let mut failures = Vec::new();
    println!("| metric | case | livetag | reference | value | |Δ| |");
    println!("|---|---|---|---|---|---|");
    for case in CASES {
        for (metric, case, ours, who, theirs) in compare(case) {
            let theirs = theirs.unwrap_or_else(|| panic!("{case}: no {who} number for {metric}"));
            let delta = (ours - theirs).abs();
            println!("| {metric} | {case} | {ours:.6} | {who} | {theirs:.6} | {delta:.1e} |");
            // A NaN (a metric livetag left undefined) fails too.
            if delta.is_nan() || delta > TOLERANCE {
                failures.push(format!(
                    "{metric} on {case}: livetag {ours} vs {who} {theirs}"
                ));
            }
        }
    }
    for case in CASES {
        let [micro, macro_] = plain_sed_eval(case);
        println!(
            "{case}: plain sed_eval (no slack) micro {:.6} (with slack {:.6}), macro {:.6} (with slack {:.6})",
            micro.0, micro.1, macro_.0, macro_.1
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The cases differ where they should: a class never detected at 0.5 makes the two macro
/// conventions differ, so a test comparing them cannot pass by accident.
#[test]
fn the_fixtures_exercise_both_conventions() {
    let r = load("one_class_missed").reference;
    let left_out = number(&r, &["intersection_f1_at_0.5", "psds_eval_defined_only"]).unwrap();
    let zero = number(
        &r,
        &["intersection_f1_at_0.5", "sed_scores_eval_zero_filled"],
    )
    .unwrap();
    assert!((left_out - zero).abs() > 0.05, "{left_out} vs {zero}");
}

/// `livetag eval` on an event list, end to end: tiny-sed detects low 0.50-2.00 and high
/// 3.00-3.80 in every copy of sed.wav (and a high candidate at 2.60-2.75 that the
/// detector rejects as too short).
/// - a.wav: low 0.5-2.0 and high 3.0-3.8, both found exactly;
/// - b.wav: low 0.5-2.3, found (DTC 1.0, GTC 1.5 / 1.8 = 0.83); its high detection is a
///   false positive.
///
/// Intersection F1: low 2 TP, 0 FP: 1; high 1 TP, 1 FP: 2/3; macro 0.8333 both ways.
/// Event F1: low 1, high 2/3 (1 matched of 2 detected), micro 6/7.
/// PSDS: every threshold's high events on b.wav are false positives in 2 × 4 s of
/// audio, far above 100 per hour, and the 2.60-2.75 s run adds more: both PSDS are 0.
#[test]
fn eval_cli_reports_every_metric() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    for name in ["a.wav", "b.wav"] {
        std::fs::copy(
            repo.join("tests/fixtures/tiny/sed.wav"),
            tmp.path().join(name),
        )
        .unwrap();
    }
    let list = tmp.path().join("ref.csv");
    std::fs::write(
        &list,
        "file,onset,offset,event_label\na.wav,0.5,2.0,low\na.wav,3.0,3.8,high\nb.wav,0.5,2.3,low\n",
    )
    .unwrap();
    let run = |json: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_livetag"));
        cmd.arg("eval");
        if json {
            cmd.arg("--json");
        }
        let out = cmd
            .arg("--model")
            .arg(repo.join("tests/models/tiny-sed"))
            .arg(&list)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let report: serde_json::Value = serde_json::from_str(&run(true)).unwrap();
    assert_eq!(report["micro"]["f1"], 0.8571);
    assert_eq!(report["macro_f1"], 0.8333);
    assert_eq!(report["macro_f1_sed_eval"], 0.8333);
    let f = &report["intersection_f1"];
    assert_eq!(
        f["macro_f1_without_classes_lacking_a_true_positive"],
        0.8333
    );
    assert_eq!(f["macro_f1_counting_them_0"], 0.8333);
    assert_eq!(f["classes"][1]["label"], "high");
    assert_eq!(f["classes"][1]["true_positives"], 1);
    assert_eq!(f["classes"][1]["false_positives"], 1);
    assert_eq!(report["psds1"]["value"], 0.0);
    assert_eq!(report["psds2"]["alpha_ct"], 0.5);
    assert_eq!(report["psds2"]["value"], 0.0);
    let text = run(false);
    for line in [
        "intersection-based F1 (DTC 0.7, GTC 0.7), same events: macro 0.8333",
        "PSDS over 50 thresholds from 0.0100 to 0.9900",
        "PSDS1     0.0000  (DTC 0.7, GTC 0.7, CTTC 0.3, alpha_ct 0, alpha_st 1, max eFPR 100/h)",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
}
