"""Reference numbers for `livetag eval`'s event metrics from the reference implementations:
psds_eval (intersection-based F1, PSDS 1 and 2 over a threshold sweep), sed_scores_eval
(the same from the scores themselves) and sed_eval (event-based F1). tests/eval_metrics.rs
runs livetag's metrics on the same inputs and holds them to these numbers (1e-3).

    # from tools/ (the venv holds psds_eval, sed_scores_eval and sed_eval)
    py=$(./venv.sh metrics)
    $py -m livetag_tools.reference.sed_metrics      # writes tests/fixtures/sed_metrics/

Neither psds_eval's nor sed_scores_eval's sdist ships test data, so every case is built
here, seeded: framewise scores of a few clips (one row per frame, `onset offset CLASS...`,
sed_scores_eval's score table) and a ground truth list with the durations. Per case:

- detections at each threshold of DESED's sweep (50 thresholds, 0.01 to 0.99) made by
  sed_scores_eval's `scores_to_event_list` (frames with score > threshold), given to
  psds_eval 0.5.3 as operating points: PSDS 1 and 2;
- sed_scores_eval's exact PSDS from the scores (every distinct score is a threshold);
- at threshold 0.5: psds_eval's `compute_macro_f_score` (DTC = GTC = 0.7), whose classes
  without a true positive are NaN and left out, and sed_scores_eval's
  `intersection_based.fscore` macro average (they count 0); sed_eval's event-based F1
  (collars 0.2 s / 20 %), micro and its NaN-skipping class-wise average, as released and
  with livetag's 1 us of slack on the collars (see _slack_class).
"""

import argparse
import json
import pathlib
import warnings

import numpy as np
import pandas as pd

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "sed_metrics"
CLASSES = ["alarm", "dog", "speech"]
FRAME_RATE_HZ = 10.0
SWEEP = [(2 * k + 1) / 100 for k in range(50)]
SCENARIOS = {
    "psds1": dict(dtc=0.7, gtc=0.7, cttc=0.3, alpha_ct=0.0, alpha_st=1.0, max_efpr=100.0),
    "psds2": dict(dtc=0.1, gtc=0.1, cttc=0.3, alpha_ct=0.5, alpha_st=1.0, max_efpr=100.0),
}


def make_case(seed, files, spurious, confusion, quiet_class=None):
    """Scores that follow a random ground truth: a plateau at a random height per event,
    `spurious` false-alarm bumps per class and file, and with `confusion` the chance that
    an event also lights up the next class (cross-triggers for scenario 2). The class
    `quiet_class` never rises above 0.4 (never detected at 0.5)."""
    rng = np.random.default_rng(seed)
    truth, scores, durations = [], {}, {}
    for f in range(files):
        name = f"clip{f}.wav"
        duration = float(rng.choice([30.0, 45.0, 60.0]))
        frames = int(duration * FRAME_RATE_HZ)
        values = np.full((frames, len(CLASSES)), 0.02, np.float64)
        for k, label in enumerate(CLASSES):
            taken = np.zeros(frames, bool)
            for _ in range(int(rng.integers(1, 5))):
                start = int(rng.integers(0, frames - 40))
                end = min(frames, start + int(rng.integers(5, 60)))
                if taken[max(0, start - 5):end + 5].any():
                    continue  # psds_eval refuses overlapping events of one class
                taken[start:end] = True
                truth.append((name, start / FRAME_RATE_HZ, end / FRAME_RATE_HZ, label))
                # The model reacts late and stops early or late by a few frames.
                lag = int(rng.integers(-3, 6))
                a, b = max(0, start + lag), max(0, min(frames, end + int(rng.integers(-8, 8))))
                values[a:b, k] = np.maximum(values[a:b, k], rng.uniform(0.3, 0.95))
                if rng.random() < confusion:
                    other = (k + 1) % len(CLASSES)
                    values[a:b, other] = np.maximum(values[a:b, other], rng.uniform(0.2, 0.8))
            for _ in range(spurious):
                start = int(rng.integers(0, frames - 20))
                end = start + int(rng.integers(2, 20))
                values[start:end, k] = np.maximum(values[start:end, k], rng.uniform(0.05, 0.8))
        values += rng.normal(0.0, 0.03, values.shape)
        if quiet_class is not None:
            values[:, quiet_class] = np.minimum(values[:, quiet_class], 0.4)
        # Rounded to 4 decimals: the TSV holds them exactly as float32 parses them.
        scores[name] = np.round(np.clip(values, 0.0, 1.0), 4).astype(np.float32)
        durations[name] = duration
    return truth, scores, durations


def score_frame(values):
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    frames = values.shape[0]
    timestamps = np.arange(frames + 1) / FRAME_RATE_HZ
    return create_score_dataframe(values.astype(np.float64), timestamps, CLASSES)


def detections_at(score_frames, threshold):
    from sed_scores_eval.base_modules.detection import scores_to_event_list

    rows = []
    for name, frame in score_frames.items():
        for onset, offset, label in scores_to_event_list(frame, threshold):
            rows.append((name, float(onset), float(offset), label))
    return pd.DataFrame(rows, columns=["filename", "onset", "offset", "event_label"])


def reference_numbers(truth, scores, durations):
    import sed_eval
    from psds_eval import PSDSEval
    from sed_scores_eval import intersection_based

    gt_df = pd.DataFrame(truth, columns=["filename", "onset", "offset", "event_label"])
    meta_df = pd.DataFrame(list(durations.items()), columns=["filename", "duration"])
    frames = {name: score_frame(v) for name, v in scores.items()}
    gt_dict = {name: [] for name in scores}
    for name, onset, offset, label in truth:
        gt_dict[name].append((onset, offset, label))
    sweep_dets = {t: detections_at(frames, t) for t in SWEEP}
    out = {}
    for key, s in SCENARIOS.items():
        evaluator = PSDSEval(s["dtc"], s["gtc"], s["cttc"], ground_truth=gt_df, metadata=meta_df)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for t in SWEEP:
                evaluator.add_operating_point(sweep_dets[t])
            value = evaluator.psds(s["alpha_ct"], s["alpha_st"], s["max_efpr"]).value
        exact, *_ = intersection_based.psds(
            frames, gt_dict, durations, dtc_threshold=s["dtc"], gtc_threshold=s["gtc"],
            cttc_threshold=s["cttc"] if s["alpha_ct"] else None, alpha_ct=s["alpha_ct"],
            alpha_st=s["alpha_st"], unit_of_time="hour", max_efpr=s["max_efpr"])
        out[key] = {"psds_eval_sweep": float(value), "sed_scores_eval_exact": float(exact)}
    at_half = detections_at(frames, 0.5)
    evaluator = PSDSEval(0.7, 0.7, 0.3, ground_truth=gt_df, metadata=meta_df)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        macro, _ = evaluator.compute_macro_f_score(at_half)
    f, *_ = intersection_based.fscore(
        frames, gt_dict, 0.5, dtc_threshold=0.7, gtc_threshold=0.7)
    out["intersection_f1_at_0.5"] = {
        "psds_eval_defined_only": None if np.isnan(macro) else float(macro),
        "sed_scores_eval_zero_filled": float(f["macro_average"]),
    }
    out["event_f1_at_0.5"] = {}
    for suffix, kind in (("", sed_eval.sound_event.EventBasedMetrics),
                         ("_with_1us_slack", _slack_class())):
        metrics = kind(
            event_label_list=CLASSES, t_collar=0.2, percentage_of_length=0.2,
            evaluate_onset=True, evaluate_offset=True, event_matching_type="optimal")
        for name in scores:
            ref = [dict(filename=n, onset=a, offset=b, event_label=lab)
                   for n, a, b, lab in truth if n == name]
            est = [dict(filename=n, onset=a, offset=b, event_label=lab)
                   for n, a, b, lab in at_half.itertuples(index=False) if n == name]
            metrics.evaluate(reference_event_list=ref, estimated_event_list=est)
        overall = metrics.results_overall_metrics()["f_measure"]["f_measure"]
        macro = metrics.results_class_wise_average_metrics()["f_measure"]["f_measure"]
        out["event_f1_at_0.5"]["sed_eval_micro" + suffix] = float(overall)
        out["event_f1_at_0.5"]["sed_eval_macro_nan_skipped" + suffix] = (
            None if np.isnan(macro) else float(macro))
    return out


def _slack_class():
    """sed_eval's EventBasedMetrics with livetag's 1 us of slack on both collars.

    sed_eval compares |t_ref - t_est| <= collar exactly, so an event exactly one collar
    away (two 100 ms frames) is in or out depending on how the subtraction rounds
    (1.2 - 1.0 <= 0.2 but 1.5 - 1.3 > 0.2); livetag allows 1 us (src/eval.rs). Both
    figures are written: plain sed_eval, and sed_eval with the same slack, which livetag
    must match.
    """
    import math

    import sed_eval

    slack = 1e-6

    class EventBasedMetricsWithSlack(sed_eval.sound_event.EventBasedMetrics):
        @staticmethod
        def validate_onset(reference_event, estimated_event, t_collar=0.200):
            return math.fabs(reference_event["onset"] - estimated_event["onset"]) <= (
                t_collar + slack)

        @staticmethod
        def validate_offset(reference_event, estimated_event, t_collar=0.200,
                            percentage_of_length=0.5):
            length = reference_event["offset"] - reference_event["onset"]
            collar = max(t_collar, percentage_of_length * length)
            return math.fabs(reference_event["offset"] - estimated_event["offset"]) <= (
                collar + slack)

    return EventBasedMetricsWithSlack



def write_case(name, truth, scores, durations):
    import importlib.metadata as md

    folder = FIXTURES / name
    (folder / "scores").mkdir(parents=True, exist_ok=True)
    with open(folder / "ground_truth.tsv", "w") as f:
        f.write("filename\tonset\toffset\tevent_label\n")
        listed = {n for n, *_ in truth}
        for n, onset, offset, label in truth:
            f.write(f"{n}\t{onset:.6g}\t{offset:.6g}\t{label}\n")
        for n in scores:
            if n not in listed:
                f.write(f"{n}\t\t\t\n")
    with open(folder / "durations.tsv", "w") as f:
        f.write("filename\tduration\n")
        for n, d in durations.items():
            f.write(f"{n}\t{d:.6g}\n")
    for n, values in scores.items():
        with open(folder / "scores" / (n.removesuffix(".wav") + ".tsv"), "w") as f:
            f.write("onset\toffset\t" + "\t".join(CLASSES) + "\n")
            for i, row in enumerate(values):
                cells = "\t".join(f"{v:.4f}" for v in row)
                f.write(f"{i / FRAME_RATE_HZ:.6g}\t{(i + 1) / FRAME_RATE_HZ:.6g}\t{cells}\n")
    # The numbers are computed from what was written, read back, so that livetag and the
    # references see the same values.
    scores = {n: np.loadtxt(folder / "scores" / (n.removesuffix(".wav") + ".tsv"),
                            skiprows=1, ndmin=2)[:, 2:].astype(np.float32) for n in scores}
    numbers = reference_numbers(truth, scores, durations)
    numbers["versions"] = {p: md.version(p) for p in ("psds_eval", "sed_scores_eval", "sed_eval")}
    numbers["thresholds"] = "DESED sweep: (2k + 1) / 100, k = 0..49; F1 at 0.5; score > threshold"
    (folder / "reference.json").write_text(json.dumps(numbers, indent=1) + "\n")
    return numbers


CASES = {
    # name: (seed, files, spurious bumps per class and file, confusion, quiet class)
    "few_false_alarms": (1, 4, 1, 0.0, None),
    "many_false_alarms": (2, 6, 6, 0.0, None),
    "confused": (3, 6, 2, 0.6, None),
    "one_class_missed": (4, 5, 3, 0.3, 2),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", choices=sorted(CASES), action="append")
    args = parser.parse_args()
    for name in args.case or CASES:
        truth, scores, durations = make_case(*CASES[name])
        numbers = write_case(name, truth, scores, durations)
        print(name, json.dumps(numbers))


if __name__ == "__main__":
    main()
