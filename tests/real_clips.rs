//! The default model on real recordings: 31 sound effects from a Debian package
//! (gcompris-qt-data 3.1-2: animals, vehicles, doors, instruments, rain, applause; see
//! tests/fixtures/real_clips/NOTICE), each labelled by hand with the most specific AudioSet
//! class that is surely in it, before any model saw it (`livetag_tools.fixtures.real_clips`).
//!
//! A clip is right when its top-1 class, in the default most-specific mode, is its label,
//! a class also accepted for it, or an ancestor of one of them ("Dog" for a bark is right,
//! if less precise; so would "Animal" be, though most-specific mode rarely ends there). The
//! five clips CED-tiny gets wrong are listed with what it says; every other clip must be
//! right, and the totals are printed.

mod common;

use common::{open_shipped, repo, tag_windows};
use livetag::ontology::{TopK, TopKMode};
use livetag::tagger::TagSettings;

/// Clips CED-tiny misses at top-1 in most-specific mode, and what it says instead.
const KNOWN_MISSES: [(&str, &str); 5] = [
    // Regular ~11 Hz blade slaps in the spectrogram, yet the model hears a synthesizer.
    ("helicopter.wav", "Synthesizer"),
    // A tap filling a vessel: the model hears the sea.
    ("water_fill.wav", "Waves, surf"),
    // Three knocks on wood: the model says Typewriter, with Knock third.
    ("knock.wav", "Typewriter"),
    // An acoustic piano heard as "Electric piano" (0.53), a child of Piano (0.50): too
    // specific, and wrong.
    ("piano.wav", "Electric piano"),
    // Single snare hits heard as "Drum roll" (0.77), a child of Snare drum (0.79).
    ("snare_drum.wav", "Drum roll"),
];
/// Clips whose label (or an ancestor) is somewhere in the top 5, as measured: a floor
/// against regressions.
const MIN_TOP5: usize = 27;

struct Clip {
    file: String,
    accepted_ids: Vec<String>,
}

fn clips() -> Vec<Clip> {
    let text = std::fs::read_to_string(repo().join("tests/fixtures/real_clips/clips.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("file,mid,label,also_ok,source_package,source_file,licence")
    );
    lines
        .map(|line| {
            let fields = csv_fields(line);
            let mut accepted_ids = vec![fields[1].to_string()];
            accepted_ids.extend(
                fields[3]
                    .split(';')
                    .filter(|id| !id.is_empty())
                    .map(str::to_string),
            );
            Clip {
                file: fields[0].to_string(),
                accepted_ids,
            }
        })
        .collect()
}

/// One CSV line's fields; labels such as "Neigh, whinny" come quoted.
fn csv_fields(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[test]
fn ced_tiny_names_real_recordings() {
    let (bundle, mut runner) = open_shipped("ced-tiny");
    let ids: Vec<String> = std::fs::read_to_string(bundle.dir.join("label_ids.txt"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let label_of = |id: &str| {
        ids.iter()
            .position(|i| i == id)
            .unwrap_or_else(|| panic!("{id} is not a class of ced-tiny"))
    };
    let top = TopK::plain(5, TopKMode::MostSpecific);
    let clips = clips();
    assert!(clips.len() >= 20, "only {} clips", clips.len());
    let (mut top1, mut top5) = (0, 0);
    let mut wrong = Vec::new();
    for clip in &clips {
        let path = repo().join("tests/fixtures/real_clips").join(&clip.file);
        let samples = livetag::audio::load_mono(&path, bundle.input.sample_rate_hz).unwrap();
        let settings = TagSettings::new(&bundle.input, None, 4);
        let windows = tag_windows(&mut runner, &bundle.input, &samples, settings);
        // A clip's scores: the mean of its windows (one for clips up to 10 s).
        let mean: Vec<f32> = (0..bundle.labels.len())
            .map(|c| windows.iter().map(|w| w.scores[c]).sum::<f32>() / windows.len() as f32)
            .collect();
        let rows = top.rank(&mean, &bundle.hierarchy);
        let accepted: Vec<usize> = clip.accepted_ids.iter().map(|id| label_of(id)).collect();
        let right = |label: usize| {
            accepted
                .iter()
                .any(|&a| bundle.hierarchy.is_self_or_ancestor(label, a))
        };
        let names: Vec<String> = rows
            .iter()
            .map(|r| format!("{} {:.2}", bundle.labels[r.label], mean[r.label]))
            .collect();
        let hit1 = right(rows[0].label);
        let hit5 = rows.iter().any(|r| right(r.label));
        println!(
            "{:<24} {} {}  {}",
            clip.file,
            if hit1 { "top-1" } else { "     " },
            if hit5 { "top-5" } else { "     " },
            names.join(", ")
        );
        top1 += usize::from(hit1);
        top5 += usize::from(hit5);
        if !hit1 {
            wrong.push((clip.file.clone(), bundle.labels[rows[0].label].clone()));
        }
    }
    println!(
        "real clips, ced-tiny, most-specific mode: top-1 {top1}/{n}, top-5 {top5}/{n}",
        n = clips.len()
    );
    for (file, said) in &wrong {
        assert!(
            KNOWN_MISSES.contains(&(file.as_str(), said.as_str())),
            "{file}: top-1 is {said}, which is neither its label nor an ancestor of it"
        );
    }
    assert!(top5 >= MIN_TOP5, "top-5 {top5}/{}", clips.len());
}
