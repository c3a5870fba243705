//! Evaluation against a reference list: reading the list, and the metrics.
//!
//! **Lists** are CSV with a header (comma-separated; a header with tabs and no commas
//! makes the whole file tab-separated, as DCASE's `.tsv` lists are). Column names are
//! matched case-insensitively; the file column is `file` or `filename`. File paths are
//! relative to the list's folder. Every row has as many fields as the header: a missing
//! or an extra field is an error naming the line. A list is a regular file of at most
//! 64 MiB ([`MAX_LIST_BYTES`]).
//! - Tagging / scene classification: `file,label`, one row per file.
//! - Sound event detection (DCASE reference format): `file,onset,offset,event_label`, one
//!   row per event; a row with empty onset, offset and label lists a file without events.
//!
//! **Tagging metrics** (one true label per clip, scores ranked best first, ties broken by
//! label order):
//! - accuracy: clips whose top-1 label is the true one / clips;
//! - MAP@3 (DCASE 2018 task 2): 1, 1/2 or 1/3 when the true label is ranked 1st, 2nd or
//!   3rd, else 0, averaged over clips;
//! - macro-average accuracy (DCASE 2024 task 1): accuracy within each class (over the
//!   clips whose true label it is), averaged over the classes that occur in the list.
//!
//! **Event-based metrics** (sed_eval's `EventBasedMetrics` with `t_collar = 0.2`,
//! `percentage_of_length = 0.2`, onsets and offsets evaluated, as DCASE task 4 used it):
//! a detected event matches a reference event of the same file and label when
//! `|onset_det - onset_ref| <= 0.2 s` and
//! `|offset_det - offset_ref| <= max(0.2 s, 0.2 * (offset_ref - onset_ref))`; both bounds
//! inclusive, with 1 µs of slack for floating point. Each event matches at most one other:
//! per file and class, the largest possible one-to-one matching (sed_eval's "optimal"
//! matching). Then precision = matched / detected, recall = matched / reference,
//! F1 = 2PR / (P + R), each 0 when undefined. Micro: counts summed over all files and
//! classes. Macro: the mean of the class-wise F1 over every class that occurs in the
//! reference list or in the detections (the DCASE baseline's class list), a class with
//! nothing matched counting 0. sed_eval's own figure is given beside it: sed_eval makes a
//! class's precision NaN when it has no detections and its recall NaN when it has no
//! reference events, so its F is NaN, and `nanmean` leaves that class out of the average
//! ([`EventMetrics::macro_f1_sed_eval`]; 1.0 against 0.5 on a list where one of two
//! classes is never detected and the other perfectly).
//!
//! **Intersection-based metrics** (the F1 with DTC = GTC = 0.7 and PSDS scenarios 1 and 2
//! of DCASE 2021 task 4): [`psds`].

pub mod psds;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::sed::Event;

/// Slack for comparing times.
const TIME_SLACK_SECS: f64 = 1e-6;

/// The largest list read: 64 MiB, about a million rows, far more than any evaluation set
/// (DCASE's are thousands), and the whole file is held in memory.
pub const MAX_LIST_BYTES: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The list could not be read; the I/O error is the source.
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: line {line}: {problem}", path.display())]
    Line {
        path: PathBuf,
        line: usize,
        problem: LineProblem,
    },
    #[error("{}: {problem}", path.display())]
    List { path: PathBuf, problem: ListProblem },
    /// Refused before it is opened: a named pipe nobody writes to would block forever.
    #[error("{}: not a regular file ({kind})", path.display())]
    NotRegularFile { path: PathBuf, kind: &'static str },
    #[error("{}: {size} bytes; a list may hold at most {MAX_LIST_BYTES}", path.display())]
    TooLarge { path: PathBuf, size: u64 },
    #[error(
        "{}: line {line}: label `{label}` is not one of model {model}'s {count} labels ({hint})",
        path.display()
    )]
    UnknownLabel {
        path: PathBuf,
        line: usize,
        label: String,
        model: String,
        count: usize,
        hint: String,
    },
}

/// Why a reference list as a whole is refused ([`EvalError::List`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListProblem {
    #[error("the list is empty; it needs a header")]
    Empty,
    #[error("the header {header:?} has no `file` (or `filename`) column")]
    NoFileColumn { header: Vec<String> },
    #[error("the header {header:?} needs `file,label` (tagging) or `file,onset,offset,event_label` (event detection)")]
    NoLabelColumns { header: Vec<String> },
    #[error("the list names no files")]
    NoFiles,
}

/// Why one line of a reference list is refused ([`EvalError::Line`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LineProblem {
    #[error("a quoted field is not closed")]
    UnclosedQuote,
    /// `detail` names the extra fields or the missing columns.
    #[error("has {fields} fields, the header has {columns} ({detail})")]
    FieldCount {
        fields: usize,
        columns: usize,
        detail: String,
    },
    #[error("the file is empty")]
    EmptyFile,
    /// `what` is "onset" or "offset".
    #[error("{what} `{text}` is not a time in seconds (>= 0)")]
    NotSeconds { what: &'static str, text: String },
    #[error("offset {offset_secs} is before onset {onset_secs}")]
    OffsetBeforeOnset { onset_secs: f64, offset_secs: f64 },
    #[error("the event label is empty")]
    EmptyLabel,
    #[error("{name} is already listed on line {first}; tagging lists give one label per file")]
    Repeated { name: String, first: usize },
}

/// A tagging / classification reference: one labelled file.
#[derive(Debug, Clone, PartialEq)]
pub struct TagReference {
    /// Resolved against the list's folder.
    pub file: PathBuf,
    /// The file as written in the list.
    pub name: String,
    pub line: usize,
    pub label_index: usize,
}

/// One reference event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReferenceEvent {
    pub label_index: usize,
    pub onset_secs: f64,
    pub offset_secs: f64,
}

/// The reference events of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct EventReference {
    pub file: PathBuf,
    pub name: String,
    /// First line that names the file.
    pub line: usize,
    pub events: Vec<ReferenceEvent>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReferenceList {
    Tags(Vec<TagReference>),
    Events(Vec<EventReference>),
}

impl ReferenceList {
    pub fn files(&self) -> usize {
        match self {
            ReferenceList::Tags(items) => items.len(),
            ReferenceList::Events(files) => files.len(),
        }
    }
}

/// Reads a reference list; labels are checked against the model's `labels`.
/// Only regular files of at most [`MAX_LIST_BYTES`] are read.
pub fn read_list(path: &Path, model: &str, labels: &[String]) -> Result<ReferenceList, EvalError> {
    use std::io::Read;
    let io_error = |source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    };
    let irregular = |metadata: &std::fs::Metadata| {
        crate::audio::irregular_file_kind(metadata.file_type()).map(|kind| {
            EvalError::NotRegularFile {
                path: path.to_path_buf(),
                kind,
            }
        })
    };
    // Checked before opening (opening a named pipe waits for a writer), and again on the
    // opened file in case the path changed between.
    if let Some(error) = irregular(&std::fs::metadata(path).map_err(io_error)?) {
        return Err(error);
    }
    let file = std::fs::File::open(path).map_err(io_error)?;
    let metadata = file.metadata().map_err(io_error)?;
    if let Some(error) = irregular(&metadata) {
        return Err(error);
    }
    let mut bytes = Vec::new();
    file.take(MAX_LIST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > MAX_LIST_BYTES {
        return Err(EvalError::TooLarge {
            path: path.to_path_buf(),
            size: metadata.len().max(bytes.len() as u64),
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        io_error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ))
    })?;
    parse_list(&text, path, model, labels)
}

/// [`read_list`] on text already read; `path` names the list in errors and its folder
/// resolves the files.
pub fn parse_list(
    text: &str,
    path: &Path,
    model: &str,
    labels: &[String],
) -> Result<ReferenceList, EvalError> {
    let base = path.parent().unwrap_or(Path::new(""));
    let list_error = |problem: ListProblem| EvalError::List {
        path: path.to_path_buf(),
        problem,
    };
    let line_error = |line: usize, problem: LineProblem| EvalError::Line {
        path: path.to_path_buf(),
        line,
        problem,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let (header_line, header) = lines.next().ok_or_else(|| list_error(ListProblem::Empty))?;
    let tabs = header.contains('\t') && !header.contains(',');
    let header = split_row(header, tabs).map_err(|r| line_error(header_line, r))?;
    let column = |names: &[&str]| {
        header
            .iter()
            .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
    };
    let file_col = column(&["file", "filename"]).ok_or_else(|| {
        list_error(ListProblem::NoFileColumn {
            header: header.clone(),
        })
    })?;
    let label_index = |line: usize, label: &str| {
        labels
            .iter()
            .position(|l| l == label)
            .ok_or_else(|| EvalError::UnknownLabel {
                path: path.to_path_buf(),
                line,
                label: label.to_string(),
                model: model.to_string(),
                count: labels.len(),
                hint: label_hint(label, labels),
            })
    };
    let sed_cols = (
        column(&["onset"]),
        column(&["offset"]),
        column(&["event_label"]),
    );
    // Every row has exactly the header's fields: a missing one would shift the meaning of
    // the others, and an extra one would be dropped without a word.
    let split = |text: &str, line: usize| -> Result<Vec<String>, EvalError> {
        let row = split_row(text, tabs).map_err(|r| line_error(line, r))?;
        if row.len() == header.len() {
            return Ok(row);
        }
        let detail = if row.len() > header.len() {
            let extra: Vec<String> = row[header.len()..]
                .iter()
                .map(|f| format!("`{}`", f.trim()))
                .collect();
            format!("extra: {}", extra.join(", "))
        } else {
            let missing: Vec<String> = header[row.len()..]
                .iter()
                .map(|h| format!("`{}`", h.trim()))
                .collect();
            format!("missing: {}", missing.join(", "))
        };
        Err(line_error(
            line,
            LineProblem::FieldCount {
                fields: row.len(),
                columns: header.len(),
                detail,
            },
        ))
    };
    let field = |row: &[String], col: usize| row[col].trim().to_string();

    if let (Some(onset_col), Some(offset_col), Some(label_col)) = sed_cols {
        let mut files: Vec<EventReference> = Vec::new();
        // Position of each file in `files`: lists run to millions of rows.
        let mut index_of: std::collections::HashMap<String, usize> = Default::default();
        for (line, text) in lines {
            let row = split(text, line)?;
            let name = field(&row, file_col);
            if name.is_empty() {
                return Err(line_error(line, LineProblem::EmptyFile));
            }
            let (onset, offset, label) = (
                field(&row, onset_col),
                field(&row, offset_col),
                field(&row, label_col),
            );
            let index = *index_of.entry(name.clone()).or_insert_with(|| {
                files.push(EventReference {
                    file: base.join(&name),
                    name: name.clone(),
                    line,
                    events: Vec::new(),
                });
                files.len() - 1
            });
            if onset.is_empty() && offset.is_empty() && label.is_empty() {
                continue; // a file without events
            }
            let seconds = |what: &'static str, text: &str| {
                text.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| {
                        line_error(
                            line,
                            LineProblem::NotSeconds {
                                what,
                                text: text.to_string(),
                            },
                        )
                    })
            };
            let onset_secs = seconds("onset", &onset)?;
            let offset_secs = seconds("offset", &offset)?;
            if offset_secs < onset_secs {
                return Err(line_error(
                    line,
                    LineProblem::OffsetBeforeOnset {
                        onset_secs,
                        offset_secs,
                    },
                ));
            }
            if label.is_empty() {
                return Err(line_error(line, LineProblem::EmptyLabel));
            }
            files[index].events.push(ReferenceEvent {
                label_index: label_index(line, &label)?,
                onset_secs,
                offset_secs,
            });
        }
        if files.is_empty() {
            return Err(list_error(ListProblem::NoFiles));
        }
        return Ok(ReferenceList::Events(files));
    }

    let label_col = column(&["label", "scene_label"]).ok_or_else(|| {
        list_error(ListProblem::NoLabelColumns {
            header: header.clone(),
        })
    })?;
    let mut items: Vec<TagReference> = Vec::new();
    // The line each file was first listed on: lists run to millions of rows.
    let mut first_line: std::collections::HashMap<String, usize> = Default::default();
    for (line, text) in lines {
        let row = split(text, line)?;
        let name = field(&row, file_col);
        let label = field(&row, label_col);
        if name.is_empty() {
            return Err(line_error(line, LineProblem::EmptyFile));
        }
        if let Some(first) = first_line.get(&name) {
            return Err(line_error(
                line,
                LineProblem::Repeated {
                    name,
                    first: *first,
                },
            ));
        }
        first_line.insert(name.clone(), line);
        items.push(TagReference {
            file: base.join(&name),
            label_index: label_index(line, &label)?,
            name,
            line,
        });
    }
    if items.is_empty() {
        return Err(list_error(ListProblem::NoFiles));
    }
    Ok(ReferenceList::Tags(items))
}

/// Up to three labels that contain the unknown one (or that it contains), ignoring case.
fn label_hint(label: &str, labels: &[String]) -> String {
    let lower = label.to_lowercase();
    let close: Vec<&str> = labels
        .iter()
        .filter(|l| {
            let l = l.to_lowercase();
            !lower.is_empty() && (l.contains(&lower) || lower.contains(&l))
        })
        .take(3)
        .map(String::as_str)
        .collect();
    if close.is_empty() {
        let first: Vec<&str> = labels.iter().take(5).map(String::as_str).collect();
        let more = if labels.len() > 5 { ", ..." } else { "" };
        format!("they are {}{more}", first.join(", "))
    } else {
        format!("did you mean {}?", close.join(" or "))
    }
}

/// Splits one CSV row (RFC 4180 quotes), or one tab-separated row.
fn split_row(line: &str, tabs: bool) -> Result<Vec<String>, LineProblem> {
    if tabs {
        return Ok(line.split('\t').map(str::to_string).collect());
    }
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.trim().is_empty() && !was_quoted => {
                field.clear();
                quoted = true;
                was_quoted = true;
            }
            (false, ',') => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(LineProblem::UnclosedQuote);
    }
    fields.push(field);
    Ok(fields)
}

/// 1-based rank of `label` among `scores`, best first; ties go to the lower label index.
pub fn rank(scores: &[f32], label: usize) -> usize {
    let mine = scores[label];
    1 + scores
        .iter()
        .enumerate()
        .filter(|&(i, &s)| s.total_cmp(&mine).is_gt() || (s == mine && i < label))
        .count()
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassAccuracy {
    pub label_index: usize,
    pub clips: usize,
    pub correct: usize,
}

impl ClassAccuracy {
    pub fn accuracy(&self) -> f64 {
        ratio(self.correct, self.clips)
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TagMetrics {
    pub clips: usize,
    pub correct: usize,
    pub accuracy: f64,
    pub map_at_3: f64,
    pub macro_accuracy: f64,
    /// The classes that occur in the list, in label order.
    pub per_class: Vec<ClassAccuracy>,
}

/// Tagging metrics over clips given as (true label, one score per label).
pub fn tag_metrics<'a>(clips: impl IntoIterator<Item = (usize, &'a [f32])>) -> TagMetrics {
    let mut per_class: BTreeMap<usize, ClassAccuracy> = BTreeMap::new();
    let (mut count, mut correct, mut ap_sum) = (0usize, 0usize, 0.0f64);
    for (truth, scores) in clips {
        let r = rank(scores, truth);
        count += 1;
        let hit = r == 1;
        correct += usize::from(hit);
        if r <= 3 {
            ap_sum += 1.0 / r as f64;
        }
        let class = per_class.entry(truth).or_insert(ClassAccuracy {
            label_index: truth,
            clips: 0,
            correct: 0,
        });
        class.clips += 1;
        class.correct += usize::from(hit);
    }
    let per_class: Vec<ClassAccuracy> = per_class.into_values().collect();
    let macro_accuracy = if per_class.is_empty() {
        0.0
    } else {
        per_class.iter().map(ClassAccuracy::accuracy).sum::<f64>() / per_class.len() as f64
    };
    TagMetrics {
        clips: count,
        correct,
        accuracy: ratio(correct, count),
        map_at_3: if count == 0 {
            0.0
        } else {
            ap_sum / count as f64
        },
        macro_accuracy,
        per_class,
    }
}

/// Tolerances for matching events.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Collars {
    pub onset_secs: f64,
    pub offset_secs: f64,
    /// The offset collar is at least this fraction of the reference event's length.
    pub offset_fraction: f64,
}

impl Default for Collars {
    /// DCASE task 4 / sed_eval: 200 ms, and max(200 ms, 20 % of the length) for offsets.
    fn default() -> Self {
        Self {
            onset_secs: 0.2,
            offset_secs: 0.2,
            offset_fraction: 0.2,
        }
    }
}

impl Collars {
    /// Whether a detection matches a reference event of the same label.
    pub fn matches(&self, reference: &ReferenceEvent, detected: &Event) -> bool {
        let length = reference.offset_secs - reference.onset_secs;
        let offset_collar = self.offset_secs.max(self.offset_fraction * length);
        reference.label_index == detected.label_index
            && (detected.onset_secs - reference.onset_secs).abs()
                <= self.onset_secs + TIME_SLACK_SECS
            && (detected.offset_secs - reference.offset_secs).abs()
                <= offset_collar + TIME_SLACK_SECS
    }
}

/// Event counts of one class, or of all.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct EventCounts {
    pub reference: usize,
    pub detected: usize,
    pub matched: usize,
}

impl EventCounts {
    pub fn precision(&self) -> f64 {
        ratio(self.matched, self.detected)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.matched, self.reference)
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    fn add(&mut self, other: EventCounts) {
        self.reference += other.reference;
        self.detected += other.detected;
        self.matched += other.matched;
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventMetrics {
    pub collars: Collars,
    pub micro: EventCounts,
    /// Every class in the reference or the detections, by label index.
    pub per_class: BTreeMap<usize, EventCounts>,
    /// Every class counts; a class without a match counts 0.
    pub macro_f1: f64,
    /// sed_eval's `class_wise_average`: classes without detections or without reference
    /// events (F = NaN there) left out; `None` when that leaves none.
    pub macro_f1_sed_eval: Option<f64>,
}

/// Event-based metrics over files given as (reference events, detected events).
pub fn event_metrics<'a>(
    files: impl IntoIterator<Item = (&'a [ReferenceEvent], &'a [Event])>,
    collars: Collars,
) -> EventMetrics {
    let mut per_class: BTreeMap<usize, EventCounts> = BTreeMap::new();
    for (reference, detected) in files {
        let mut classes: Vec<usize> = reference
            .iter()
            .map(|e| e.label_index)
            .chain(detected.iter().map(|e| e.label_index))
            .collect();
        classes.sort_unstable();
        classes.dedup();
        for class in classes {
            let refs: Vec<&ReferenceEvent> = reference
                .iter()
                .filter(|e| e.label_index == class)
                .collect();
            let dets: Vec<&Event> = detected.iter().filter(|e| e.label_index == class).collect();
            let candidates: Vec<Vec<usize>> = refs
                .iter()
                .map(|r| {
                    (0..dets.len())
                        .filter(|&d| collars.matches(r, dets[d]))
                        .collect()
                })
                .collect();
            per_class.entry(class).or_default().add(EventCounts {
                reference: refs.len(),
                detected: dets.len(),
                matched: max_matching(&candidates, dets.len()),
            });
        }
    }
    let mut micro = EventCounts::default();
    per_class.values().for_each(|c| micro.add(*c));
    let macro_f1 = if per_class.is_empty() {
        0.0
    } else {
        per_class.values().map(EventCounts::f1).sum::<f64>() / per_class.len() as f64
    };
    let defined: Vec<f64> = per_class
        .values()
        .filter(|c| c.detected > 0 && c.reference > 0)
        .map(EventCounts::f1)
        .collect();
    let macro_f1_sed_eval =
        (!defined.is_empty()).then(|| defined.iter().sum::<f64>() / defined.len() as f64);
    EventMetrics {
        collars,
        micro,
        per_class,
        macro_f1,
        macro_f1_sed_eval,
    }
}

/// Size of a largest one-to-one matching: `candidates[r]` lists the right-hand items left
/// item `r` may take (augmenting paths, Kuhn's algorithm).
fn max_matching(candidates: &[Vec<usize>], right: usize) -> usize {
    fn augment(
        r: usize,
        candidates: &[Vec<usize>],
        seen: &mut [bool],
        owner: &mut [Option<usize>],
    ) -> bool {
        for &d in &candidates[r] {
            if seen[d] {
                continue;
            }
            seen[d] = true;
            if owner[d].is_none_or(|other| augment(other, candidates, seen, owner)) {
                owner[d] = Some(r);
                return true;
            }
        }
        false
    }
    let mut owner = vec![None; right];
    let mut matched = 0;
    for r in 0..candidates.len() {
        let mut seen = vec![false; right];
        if augment(r, candidates, &mut seen, &mut owner) {
            matched += 1;
        }
    }
    matched
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

#[cfg(test)]
mod tests;
