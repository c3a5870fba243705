//! Bounds on the numeric command-line options, and the parsers of the library's named
//! choices, in one place.
//!
//! Each option is checked once, by clap, as it is read (these functions are its
//! `value_parser`), so a value out of range fails before any model or file is opened, and
//! its error says the bound and why. The library's choices ([`DevicePreference`],
//! [`EventFormat`]) know nothing of clap; [`provider`] and [`events_format`] list their
//! names to clap, which shows them in help and refuses any other. Without them a typo could ask for an unbounded amount
//! of memory or time: `--median-frames 100000001` allocated hundreds of MB and ran for
//! minutes, `--threads 1000` never finished, `--duration 1e20` panicked.

use std::time::Duration;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};

use livetag::inference::DevicePreference;
use livetag::sed::{ClassSettings, EventFormat};

/// `--provider`: `auto`, `cpu` or `cuda`.
pub fn provider() -> impl TypedValueParser<Value = DevicePreference> {
    let names = DevicePreference::ALL.map(|preference| {
        let value = PossibleValue::new(preference.name());
        match preference.help() {
            Some(help) => value.help(help),
            None => value,
        }
    });
    PossibleValuesParser::new(names).try_map(|name| name.parse::<DevicePreference>())
}

/// `--events-format`: `csv`, `json`, `audacity` or `dcase`.
pub fn events_format() -> impl TypedValueParser<Value = EventFormat> {
    PossibleValuesParser::new(EventFormat::ALL.map(EventFormat::name))
        .try_map(|name| name.parse::<EventFormat>())
}

/// `--top-k`: at most this many labels per record. Fewer labels than asked is fine (a
/// bundle with 3 labels shows 3 with the default 5); a bigger number is a typo, and every
/// record would carry that many rows. `--all-scores` prints every label.
pub const TOP_K_MAX: usize = 1000;

/// `--batch`: windows per inference call. The defaults are 4 on CPU and 64 on CUDA; ONNX
/// Runtime's activation memory grows with every window (musicnn: 877 MB at 16), and 1024
/// ten-second 16 kHz windows are already 655 MB of input alone.
pub const BATCH_MAX: usize = 1024;

/// `--threads`: intra-op threads per core at most. More threads than cores only contend
/// for them (ONNX Runtime spins its workers); 4 per core leaves room to experiment.
pub const THREADS_PER_CORE: usize = 4;
/// `--threads`: the ceiling whatever the machine, and the bound when its core count is
/// unknown. ONNX Runtime starts every thread it is given: 1000 never finished starting.
pub const THREADS_CAP: usize = 256;

/// `--median-frames`: the events module's bound (10 s of frames at 100 Hz).
pub const MEDIAN_FRAMES_MAX: usize = livetag::sed::MAX_MEDIAN_FRAMES;

/// `--min-duration` and `--min-gap`, seconds: an hour is longer than any event this
/// post-processing is meant for; more is likely milliseconds typed as seconds.
pub const EVENT_SECS_MAX: f64 = 3600.0;

/// `--hop-secs` and `--window-secs`, seconds: 10 minutes. Windows are held whole in memory
/// (and fed to the model whole), and no bundle takes windows longer than a minute.
pub const WINDOW_SECS_MAX: f64 = 600.0;

/// `listen --duration`: a year, far beyond any session, and far below where
/// `Duration`'s arithmetic overflows.
pub const DURATION_MAX: Duration = Duration::from_secs(366 * 24 * 3600);

/// Parses a whole number in `min..=max`; `why` explains the upper bound.
fn whole(text: &str, min: usize, max: usize, why: &str) -> Result<usize, String> {
    let text = text.trim();
    let value = match text.parse::<usize>() {
        Ok(value) => value,
        // Digits that do not fit a usize are too big, whatever the bound.
        Err(_) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => usize::MAX,
        Err(_) => return Err(format!("`{text}` is not a whole number")),
    };
    if value < min {
        return Err(format!("must be at least {min}, got {text}"));
    }
    if value > max {
        return Err(format!("{text} exceeds {max} ({why})"));
    }
    Ok(value)
}

/// Parses seconds: positive when `zero_ok` is false (else >= 0), at most `max`.
fn seconds(text: &str, zero_ok: bool, max: f64, why: &str) -> Result<f64, String> {
    let text = text.trim();
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    check_seconds(value, zero_ok, max, why).map_err(|reason| format!("{text}: {reason}"))
}

fn check_seconds(value: f64, zero_ok: bool, max: f64, why: &str) -> Result<f64, String> {
    if value.is_nan() || value < 0.0 || (!zero_ok && value == 0.0) {
        return Err(if zero_ok {
            "must be 0 or more seconds".to_string()
        } else {
            "must be more than 0 seconds".to_string()
        });
    }
    if value > max {
        return Err(format!("exceeds {max} s ({why})"));
    }
    Ok(value)
}

/// Checks a probability threshold.
fn check_threshold(value: f32) -> Result<f32, String> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{value} is not between 0 and 1 (thresholds compare with probabilities)"
        ))
    }
}

/// `--top-k`.
pub fn top_k(text: &str) -> Result<usize, String> {
    whole(
        text,
        1,
        TOP_K_MAX,
        "labels per record; --all-scores prints every label",
    )
}

/// `--batch`.
pub fn batch(text: &str) -> Result<usize, String> {
    whole(
        text,
        1,
        BATCH_MAX,
        "windows per inference call; memory grows with each, and the defaults are 4 on CPU, 64 on CUDA",
    )
}

/// The most `--threads` this machine takes, and why.
pub fn threads_max() -> (usize, String) {
    match std::thread::available_parallelism() {
        Ok(cores) => {
            let max = (cores.get() * THREADS_PER_CORE).min(THREADS_CAP);
            let why = if max == THREADS_CAP {
                format!("at most {THREADS_CAP}, whatever the machine")
            } else {
                format!(
                    "{THREADS_PER_CORE} per core on this machine's {cores} cores; more only contend for them"
                )
            };
            (max, why)
        }
        Err(_) => (
            THREADS_CAP,
            format!("this machine's core count is unknown, so at most {THREADS_CAP}"),
        ),
    }
}

/// `--threads`.
pub fn threads(text: &str) -> Result<usize, String> {
    let (max, why) = threads_max();
    whole(text, 1, max, &why)
}

/// `--median-frames`: odd (the filter is centred on its frame), at most
/// [`MEDIAN_FRAMES_MAX`].
pub fn median_frames(text: &str) -> Result<usize, String> {
    let frames = whole(
        text,
        1,
        MEDIAN_FRAMES_MAX,
        "10 s of frames at 100 Hz; the filter holds and sorts that many frames per class",
    )?;
    if frames % 2 == 0 {
        return Err(format!(
            "{frames} is even; the median filter is centred on its frame, so it needs an odd number of frames (1 = off)"
        ));
    }
    Ok(frames)
}

/// `--on` and `--off`.
pub fn threshold(text: &str) -> Result<f32, String> {
    let value: f32 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{}` is not a number", text.trim()))?;
    check_threshold(value)
}

/// `--min-duration` and `--min-gap`.
pub fn event_secs(text: &str) -> Result<f64, String> {
    seconds(text, true, EVENT_SECS_MAX, "longer than any event")
}

/// `--hop-secs` and `--window-secs`.
pub fn window_secs(text: &str) -> Result<f64, String> {
    seconds(
        text,
        false,
        WINDOW_SECS_MAX,
        "10 minutes; windows are held and scored whole",
    )
}

/// The same bounds on settings that `--class LABEL:on=...,min=...` changed (the median
/// length is bounded by `ClassSettings::validate` itself).
pub fn class_settings(settings: &ClassSettings) -> Result<(), String> {
    for (key, value) in [("on", settings.on), ("off", settings.off)] {
        check_threshold(value).map_err(|reason| format!("{key}: {reason}"))?;
    }
    for (key, value) in [
        ("min", settings.min_duration_secs),
        ("gap", settings.min_gap_secs),
    ] {
        check_seconds(value, true, EVENT_SECS_MAX, "longer than any event")
            .map_err(|reason| format!("{key}: {value}: {reason}"))?;
    }
    Ok(())
}

/// A duration in seconds, within (0, [`DURATION_MAX`]]; never panics.
pub fn duration(secs: f64) -> Result<Duration, String> {
    if secs.is_nan() || secs <= 0.0 {
        return Err("must be longer than 0".to_string());
    }
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if d.is_zero() => Err("is shorter than a nanosecond".to_string()),
        Ok(d) if d <= DURATION_MAX => Ok(d),
        _ => Err(format!(
            "exceeds {} days (a year); leave --duration out to run until stopped",
            DURATION_MAX.as_secs() / 86_400
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_in_range() {
        assert_eq!(top_k("5"), Ok(5));
        assert!(top_k("0").unwrap_err().contains("at least 1"));
        assert!(top_k("1001").unwrap_err().contains("exceeds 1000"));
        assert!(top_k("99999999999999999999999")
            .unwrap_err()
            .contains("exceeds 1000"));
        assert!(top_k("x").unwrap_err().contains("not a whole number"));
        assert!(median_frames("100000001")
            .unwrap_err()
            .contains("100000001 exceeds 1001 (10 s of frames at 100 Hz"));
        assert!(median_frames("4").unwrap_err().contains("even"));
        assert_eq!(median_frames("1001"), Ok(1001));
        assert!(batch("4097").unwrap_err().contains("exceeds 1024"));
        assert!(threads("1000").unwrap_err().contains("exceeds"));
        assert_eq!(threads("1"), Ok(1));
    }

    #[test]
    fn seconds_and_thresholds() {
        assert_eq!(window_secs("0.5"), Ok(0.5));
        assert!(window_secs("0").unwrap_err().contains("more than 0"));
        assert!(window_secs("NaN").is_err());
        assert!(window_secs("inf").unwrap_err().contains("exceeds 600 s"));
        assert!(window_secs("601").unwrap_err().contains("exceeds 600 s"));
        assert_eq!(event_secs("0"), Ok(0.0));
        assert!(event_secs("-1").is_err());
        assert!(event_secs("3601").is_err());
        assert_eq!(threshold("1"), Ok(1.0));
        assert!(threshold("1.5").unwrap_err().contains("between 0 and 1"));
        assert!(threshold("NaN").is_err());
    }

    #[test]
    fn durations_never_panic() {
        for secs in [1e20, f64::INFINITY, f64::MAX, 1e-12, 0.0, -1.0, f64::NAN] {
            assert!(duration(secs).is_err(), "{secs}");
        }
        assert_eq!(duration(2.0), Ok(Duration::from_secs(2)));
    }
}
