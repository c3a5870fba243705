//! Intersection-based evaluation (Bilen et al., "A Framework for the Robust Evaluation of
//! Sound Event Detection", ICASSP 2020): the intersection-based F1 and the Polyphonic
//! Sound Detection Score (PSDS), as `psds_eval` 0.5.3 computes them from detections at a
//! set of thresholds, and as `sed_scores_eval` 0.0.4 computes them from scores (every
//! distinct score a threshold). Given the same operating points the two agree (psds_eval
//! fed sed_scores_eval's thresholds gave its PSDS to the last digit), and so does this
//! module: tests/eval_metrics.rs. Where they differ on an edge case, the choice is named.
//!
//! **Classes** are those with at least one ground-truth event of positive length
//! (psds_eval takes its classes from the ground truth). Detections of other classes are
//! not counted anywhere, as in psds_eval (sed_scores_eval would add such a class with a
//! TPR of 0 and count it among the "other classes" of the cross-trigger mean). Events of
//! zero length (offset = onset) are dropped, from the ground truth and the detections
//! alike. psds_eval refuses overlapping events of one class in a list; they are taken as
//! they are here.
//!
//! **Per file and class** (a detection `d`, the ground-truth events `g` of its class):
//! - intersection `|d ∩ g|` in seconds; the **DTC** holds when the detection's summed
//!   intersection with its class's ground truth is at least `dtc × |d|`;
//! - a ground-truth event is a **true positive** when its summed intersection with the
//!   detections that pass the DTC is at least `gtc × |g|` (the GTC);
//! - a detection failing the DTC is a **false positive**; it is also a **cross-trigger**
//!   on another class `c` when its summed intersection with `c`'s ground truth is at
//!   least `cttc × |d|` (the CTTC), counted once per class `c`.
//!
//! Sums are rounded to 1e-6 s before they are compared, as sed_scores_eval does
//! (`time_decimals = 6`), so that an intersection equal to a criterion on frame times
//! is not lost to floating point.
//!
//! **Rates** at one operating point (one set of detections): TPR of class `k` = true
//! positives / its ground-truth events; FPR = false positives per hour of audio (the sum of
//! the files' durations); the cross-trigger rate on class `c` = cross-triggers per hour of
//! `c`'s ground truth; the effective FPR = FPR + `alpha_ct` × the mean cross-trigger rate
//! over the other classes.
//!
//! **PSD-ROC** (psds_eval's `psd_roc_curves` without interpolation): each class's points
//! (eFPR, TPR) over the operating points, plus the point (0, 0); at every eFPR of any
//! class, a class's TPR is the best TPR among its points at or below that eFPR (a
//! staircase, never decreasing). Over the classes, eTPR = mean − `alpha_st` × standard
//! deviation (the population one), clipped at 0.
//!
//! **PSDS** = the area under the eTPR staircase from 0 to `max_efpr` (each step holds its
//! left value; the last one is extended to `max_efpr`), divided by `max_efpr`.
//!
//! **Operating points** come from framewise scores: [`threshold_events`] makes, for one
//! threshold, one event per run of consecutive frames whose score is strictly above it
//! (the DESED baseline's decoding; median filtering is done before, on the scores, which
//! gives the same events as filtering the thresholded frames, the median being an order
//! statistic). [`dcase_thresholds`] gives DESED's sweep.

use super::ReferenceEvent;

/// One hour: rates are per hour (psds_eval's default `duration_unit`).
pub const SECS_PER_HOUR: f64 = 3600.0;

/// Times are rounded to this many decimals before a criterion is checked.
const TIME_DECIMALS_SCALE: f64 = 1e6;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PsdsError {
    #[error("the ground truth has no event of positive length: no class to evaluate")]
    NoClasses,
    #[error("file {file}: duration {duration_secs} s; every file needs a positive duration")]
    Duration { file: usize, duration_secs: f64 },
    #[error("{files} files of ground truth but detections for {detected}")]
    FileCount { files: usize, detected: usize },
    #[error("no operating points: PSDS needs detections at one threshold at least")]
    NoOperatingPoints,
    #[error("{what} is {value}, outside {range}")]
    Parameter {
        what: &'static str,
        value: f64,
        range: &'static str,
    },
}

/// The three intersection criteria, each a fraction in `0..=1`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Criteria {
    /// Detection tolerance criterion.
    pub dtc: f64,
    /// Ground-truth intersection criterion.
    pub gtc: f64,
    /// Cross-trigger tolerance criterion.
    pub cttc: f64,
}

/// The intersection-based F1 of the DCASE 2021 task 4 results: DTC = GTC = 0.7.
pub const INTERSECTION_F1_CRITERIA: Criteria = Criteria {
    dtc: 0.7,
    gtc: 0.7,
    cttc: 0.3,
};

/// A PSDS setting.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Scenario {
    pub criteria: Criteria,
    /// Weight of the mean cross-trigger rate in the effective FPR.
    pub alpha_ct: f64,
    /// Weight of the standard deviation over classes subtracted from the mean TPR.
    pub alpha_st: f64,
    /// The area runs up to this effective FPR, per hour.
    pub max_efpr_per_hour: f64,
}

/// DCASE 2021 task 4, scenario 1 (reaction time matters: strict localisation).
pub const PSDS1: Scenario = Scenario {
    criteria: Criteria {
        dtc: 0.7,
        gtc: 0.7,
        cttc: 0.3,
    },
    alpha_ct: 0.0,
    alpha_st: 1.0,
    max_efpr_per_hour: 100.0,
};

/// DCASE 2021 task 4, scenario 2 (avoiding confusions between classes matters).
pub const PSDS2: Scenario = Scenario {
    criteria: Criteria {
        dtc: 0.1,
        gtc: 0.1,
        cttc: 0.3,
    },
    alpha_ct: 0.5,
    alpha_st: 1.0,
    max_efpr_per_hour: 100.0,
};

/// The ground truth of one file and its length.
#[derive(Debug, Clone, PartialEq)]
pub struct TruthFile {
    pub events: Vec<ReferenceEvent>,
    pub duration_secs: f64,
}

/// Counts at one operating point, for each class of [`classes`] in that order.
#[derive(Debug, Clone, PartialEq)]
pub struct IntersectionCounts {
    pub classes: Vec<usize>,
    /// Ground-truth events per class.
    pub reference: Vec<usize>,
    /// Seconds of ground truth per class.
    pub reference_secs: Vec<f64>,
    pub true_positives: Vec<usize>,
    pub false_positives: Vec<usize>,
    /// `cross_triggers[k][c]`: detections of class `k` that cross-trigger on class `c`.
    pub cross_triggers: Vec<Vec<usize>>,
    /// The sum of the files' durations.
    pub total_secs: f64,
}

/// The classes evaluated: label indices with a ground-truth event of positive length,
/// in increasing order.
pub fn classes(truth: &[TruthFile]) -> Vec<usize> {
    let mut classes: Vec<usize> = truth
        .iter()
        .flat_map(|f| f.events.iter())
        .filter(|e| e.offset_secs > e.onset_secs)
        .map(|e| e.label_index)
        .collect();
    classes.sort_unstable();
    classes.dedup();
    classes
}

fn round_time(secs: f64) -> f64 {
    (secs * TIME_DECIMALS_SCALE).round_ties_even() / TIME_DECIMALS_SCALE
}

/// Seconds two events overlap (0 when they do not).
pub fn intersection_secs(a: &ReferenceEvent, b: &ReferenceEvent) -> f64 {
    (a.offset_secs.min(b.offset_secs) - a.onset_secs.max(b.onset_secs)).max(0.0)
}

fn length(e: &ReferenceEvent) -> f64 {
    e.offset_secs - e.onset_secs
}

fn check_criteria(criteria: &Criteria) -> Result<(), PsdsError> {
    for (what, value) in [
        ("dtc", criteria.dtc),
        ("gtc", criteria.gtc),
        ("cttc", criteria.cttc),
    ] {
        if !(0.0..=1.0).contains(&value) {
            return Err(PsdsError::Parameter {
                what,
                value,
                range: "0 to 1",
            });
        }
    }
    Ok(())
}

fn check_truth(truth: &[TruthFile], detected: usize) -> Result<Vec<usize>, PsdsError> {
    if truth.len() != detected {
        return Err(PsdsError::FileCount {
            files: truth.len(),
            detected,
        });
    }
    if let Some((file, f)) = truth
        .iter()
        .enumerate()
        .find(|(_, f)| !(f.duration_secs > 0.0 && f.duration_secs.is_finite()))
    {
        return Err(PsdsError::Duration {
            file,
            duration_secs: f.duration_secs,
        });
    }
    let classes = classes(truth);
    if classes.is_empty() {
        return Err(PsdsError::NoClasses);
    }
    Ok(classes)
}

/// True positives, false positives and cross-triggers of one set of detections
/// (`detections[f]` holds file `f`'s).
pub fn intersection_counts(
    truth: &[TruthFile],
    detections: &[Vec<ReferenceEvent>],
    criteria: &Criteria,
) -> Result<IntersectionCounts, PsdsError> {
    check_criteria(criteria)?;
    let classes = check_truth(truth, detections.len())?;
    let n = classes.len();
    let slot = |label: usize| classes.binary_search(&label).ok();
    let mut counts = IntersectionCounts {
        reference: vec![0; n],
        reference_secs: vec![0.0; n],
        true_positives: vec![0; n],
        false_positives: vec![0; n],
        cross_triggers: vec![vec![0; n]; n],
        total_secs: truth.iter().map(|f| f.duration_secs).sum(),
        classes: classes.clone(),
    };
    for (file, dets) in truth.iter().zip(detections) {
        // Positive-length events of each evaluated class.
        let mut gts: Vec<Vec<&ReferenceEvent>> = vec![Vec::new(); n];
        for e in file.events.iter().filter(|e| length(e) > 0.0) {
            if let Some(k) = slot(e.label_index) {
                gts[k].push(e);
                counts.reference[k] += 1;
                counts.reference_secs[k] += length(e);
            }
        }
        let mut by_class: Vec<Vec<&ReferenceEvent>> = vec![Vec::new(); n];
        for d in dets.iter().filter(|d| length(d) > 0.0) {
            if let Some(k) = slot(d.label_index) {
                by_class[k].push(d);
            }
        }
        for k in 0..n {
            let dets = &by_class[k];
            // intersections[d][g] with this class's ground truth.
            let inter: Vec<Vec<f64>> = dets
                .iter()
                .map(|d| gts[k].iter().map(|g| intersection_secs(d, g)).collect())
                .collect();
            let dtc: Vec<bool> = dets
                .iter()
                .zip(&inter)
                .map(|(d, row)| {
                    round_time(row.iter().sum()) >= round_time(criteria.dtc * length(d))
                })
                .collect();
            counts.false_positives[k] += dtc.iter().filter(|&&ok| !ok).count();
            for (j, g) in gts[k].iter().enumerate() {
                let covered: f64 = inter
                    .iter()
                    .zip(&dtc)
                    .filter(|(_, &ok)| ok)
                    .map(|(row, _)| row[j])
                    .sum();
                if round_time(covered) >= round_time(criteria.gtc * length(g)) {
                    counts.true_positives[k] += 1;
                }
            }
            for (d, _) in dets.iter().zip(&dtc).filter(|(_, &ok)| !ok) {
                for c in (0..n).filter(|&c| c != k && !gts[c].is_empty()) {
                    let other: f64 = gts[c].iter().map(|g| intersection_secs(d, g)).sum();
                    if round_time(other) >= round_time(criteria.cttc * length(d)) {
                        counts.cross_triggers[k][c] += 1;
                    }
                }
            }
        }
    }
    Ok(counts)
}

/// One class's intersection-based F1.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassF1 {
    pub label_index: usize,
    pub reference: usize,
    pub true_positives: usize,
    pub false_positives: usize,
    /// 2TP / (2TP + FP + FN); `None` when there is no true positive (psds_eval's NaN).
    pub f1: Option<f64>,
}

/// The intersection-based F1 at one operating point, both class-average conventions.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IntersectionF1 {
    pub criteria: Criteria,
    pub per_class: Vec<ClassF1>,
    /// psds_eval's `compute_macro_f_score`: the mean over classes with a true positive
    /// (its F is NaN without one, and `nanmean` leaves it out); `None` when no class has.
    pub macro_f1_defined_only: Option<f64>,
    /// The mean over every class, a class without a true positive counting 0
    /// (sed_scores_eval's `fscore` macro average).
    pub macro_f1_zero_filled: f64,
}

/// The intersection-based F1 of one set of detections (psds_eval's definition: a
/// cross-trigger is a false positive too).
pub fn intersection_f1(
    truth: &[TruthFile],
    detections: &[Vec<ReferenceEvent>],
    criteria: &Criteria,
) -> Result<IntersectionF1, PsdsError> {
    let c = intersection_counts(truth, detections, criteria)?;
    let per_class: Vec<ClassF1> = (0..c.classes.len())
        .map(|k| {
            let tp = c.true_positives[k];
            let missed = c.reference[k] - tp;
            let f1 = (tp > 0).then(|| {
                2.0 * tp as f64 / (2.0 * tp as f64 + (c.false_positives[k] + missed) as f64)
            });
            ClassF1 {
                label_index: c.classes[k],
                reference: c.reference[k],
                true_positives: tp,
                false_positives: c.false_positives[k],
                f1,
            }
        })
        .collect();
    let defined: Vec<f64> = per_class.iter().filter_map(|c| c.f1).collect();
    Ok(IntersectionF1 {
        criteria: *criteria,
        macro_f1_defined_only: (!defined.is_empty())
            .then(|| defined.iter().sum::<f64>() / defined.len() as f64),
        macro_f1_zero_filled: per_class.iter().map(|c| c.f1.unwrap_or(0.0)).sum::<f64>()
            / per_class.len() as f64,
        per_class,
    })
}

/// One class's rates at one operating point.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ClassPoint {
    efpr_per_hour: f64,
    tpr: f64,
}

/// The effective FPR and the TPR of each class at one operating point.
fn class_points(counts: &IntersectionCounts, alpha_ct: f64) -> Vec<ClassPoint> {
    let n = counts.classes.len();
    (0..n)
        .map(|k| {
            let fpr = counts.false_positives[k] as f64 * SECS_PER_HOUR / counts.total_secs;
            // The mean cross-trigger rate over the other classes (psds_eval 0.5.3 leaves the
            // diagonal out with nanmean; sed_scores_eval averages over the others). With
            // one class there are none, and the term is 0.
            let ct_mean = if n > 1 && alpha_ct != 0.0 {
                (0..n)
                    .filter(|&c| c != k)
                    .map(|c| {
                        counts.cross_triggers[k][c] as f64 * SECS_PER_HOUR
                            / counts.reference_secs[c]
                    })
                    .sum::<f64>()
                    / (n - 1) as f64
            } else {
                0.0
            };
            ClassPoint {
                efpr_per_hour: fpr + alpha_ct * ct_mean,
                tpr: counts.true_positives[k] as f64 / counts.reference[k] as f64,
            }
        })
        .collect()
}

/// The PSD-ROC and the score.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Psds {
    pub scenario: Scenario,
    /// Area under the eTPR staircase up to `max_efpr_per_hour`, over `max_efpr_per_hour`.
    pub value: f64,
    /// The staircase: (effective FPR per hour, eTPR), each eTPR holding until the next
    /// point.
    pub roc: Vec<(f64, f64)>,
    pub operating_points: usize,
}

/// The PSDS of a system given its detections at several operating points
/// (`operating_points[t][f]`: file `f`'s detections at threshold `t`).
pub fn psds(
    truth: &[TruthFile],
    operating_points: &[Vec<Vec<ReferenceEvent>>],
    scenario: &Scenario,
) -> Result<Psds, PsdsError> {
    for (what, value, ok, range) in [
        (
            "alpha_ct",
            scenario.alpha_ct,
            (0.0..=1.0).contains(&scenario.alpha_ct),
            "0 to 1",
        ),
        (
            "alpha_st",
            scenario.alpha_st,
            scenario.alpha_st >= 0.0 && scenario.alpha_st.is_finite(),
            "0 and above",
        ),
        (
            "max_efpr",
            scenario.max_efpr_per_hour,
            scenario.max_efpr_per_hour > 0.0 && scenario.max_efpr_per_hour.is_finite(),
            "above 0",
        ),
    ] {
        if !ok {
            return Err(PsdsError::Parameter { what, value, range });
        }
    }
    if operating_points.is_empty() {
        return Err(PsdsError::NoOperatingPoints);
    }
    // Per class, its points: one per operating point, and (0, 0).
    let mut per_class: Vec<Vec<ClassPoint>> = Vec::new();
    for detections in operating_points {
        let counts = intersection_counts(truth, detections, &scenario.criteria)?;
        let points = class_points(&counts, scenario.alpha_ct);
        if per_class.is_empty() {
            per_class = vec![
                vec![ClassPoint {
                    efpr_per_hour: 0.0,
                    tpr: 0.0
                }];
                points.len()
            ];
        }
        for (class, point) in per_class.iter_mut().zip(points) {
            class.push(point);
        }
    }
    let roc = psd_roc(&mut per_class, scenario.alpha_st);
    Ok(Psds {
        scenario: *scenario,
        value: staircase_area(&roc, scenario.max_efpr_per_hour) / scenario.max_efpr_per_hour,
        roc,
        operating_points: operating_points.len(),
    })
}

/// The eTPR staircase over the union of the classes' eFPRs (see the module notes).
fn psd_roc(per_class: &mut [Vec<ClassPoint>], alpha_st: f64) -> Vec<(f64, f64)> {
    let mut xs: Vec<f64> = per_class
        .iter()
        .flatten()
        .map(|p| p.efpr_per_hour)
        .collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    for class in per_class.iter_mut() {
        class.sort_by(|a, b| a.efpr_per_hour.total_cmp(&b.efpr_per_hour));
    }
    // Each class's staircase at every x: the best TPR at or below it.
    let curves: Vec<Vec<f64>> = per_class
        .iter()
        .map(|class| {
            let mut best = 0.0f64;
            let mut i = 0;
            xs.iter()
                .map(|&x| {
                    while i < class.len() && class[i].efpr_per_hour <= x {
                        best = best.max(class[i].tpr);
                        i += 1;
                    }
                    best
                })
                .collect()
        })
        .collect();
    let n = curves.len() as f64;
    xs.iter()
        .enumerate()
        .map(|(j, &x)| {
            let mean = curves.iter().map(|c| c[j]).sum::<f64>() / n;
            let var = curves.iter().map(|c| (c[j] - mean).powi(2)).sum::<f64>() / n;
            (x, (mean - alpha_st * var.sqrt()).max(0.0))
        })
        .collect()
}

/// Area under a staircase from its first x up to `max_x`: each point's y holds until the
/// next point, and the last one's until `max_x` (psds_eval's `_auc`).
pub fn staircase_area(points: &[(f64, f64)], max_x: f64) -> f64 {
    let mut area = 0.0;
    for (i, &(x, y)) in points.iter().enumerate() {
        if x >= max_x {
            break;
        }
        let next = points.get(i + 1).map_or(max_x, |p| p.0.min(max_x));
        area += (next - x) * y;
    }
    area
}

/// DESED's threshold sweep: `n` thresholds `1/(2n), 3/(2n), ..., 1 - 1/(2n)` (50 in the
/// DCASE 2021 baseline: 0.01, 0.03, ..., 0.99).
pub fn dcase_thresholds(n: usize) -> Vec<f64> {
    (0..n)
        .map(|k| (2 * k + 1) as f64 / (2 * n) as f64)
        .collect()
}

/// Framewise scores of one file: `rows` holds `times_secs.len()` rows of `classes` values
/// (already median filtered); frame `i` covers `times_secs[i]` to
/// `times_secs[i] + 1 / frame_rate_hz`.
#[derive(Debug, Clone, PartialEq)]
pub struct FileScores {
    pub frame_rate_hz: f64,
    pub classes: usize,
    pub times_secs: Vec<f64>,
    pub rows: Vec<f32>,
}

/// Events at one threshold: per class, each run of consecutive frames with a score
/// strictly above `threshold`, from the start of its first frame to the end of its last.
/// Scores are compared as 64-bit numbers (0.05f32 is above 0.05), as sed_scores_eval's
/// `scores_to_event_list` compares them.
pub fn threshold_events(scores: &FileScores, threshold: f64) -> Vec<ReferenceEvent> {
    let frame_secs = 1.0 / scores.frame_rate_hz;
    let n = scores.classes.max(1);
    let mut events = Vec::new();
    for class in 0..scores.classes {
        let mut open: Option<usize> = None;
        let frames = scores.times_secs.len();
        for i in 0..=frames {
            let on = i < frames && f64::from(scores.rows[i * n + class]) > threshold;
            match (on, open) {
                (true, None) => open = Some(i),
                (false, Some(start)) => {
                    events.push(ReferenceEvent {
                        label_index: class,
                        onset_secs: scores.times_secs[start],
                        offset_secs: scores.times_secs[i - 1] + frame_secs,
                    });
                    open = None;
                }
                _ => {}
            }
        }
    }
    events
}

#[cfg(test)]
mod tests;
