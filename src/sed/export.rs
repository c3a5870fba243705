//! Event lists as text: CSV, JSON, Audacity label tracks and DCASE event lists.
//!
//! | format | text |
//! |---|---|
//! | `csv` | header `file,onset,offset,label,peak`, then one row per event; seconds and peak with 3 decimals; the file as given |
//! | `json` | one array of `{"file", "onset", "offset", "label", "peak"}` objects (seconds and peak rounded to 3 decimals) |
//! | `audacity` | `onset\toffset\tlabel` per line, seconds with 6 decimals (Audacity's own export); one file only |
//! | `dcase` | header `filename\tonset\toffset\tevent_label`, then one row per event; the file's name without its folder, as DCASE lists name them; seconds with 3 decimals |

use std::io::{self, Write};
use std::path::Path;

use super::Event;

/// An event list format. Its names (`csv`, `json`, `audacity`, `dcase`) are what
/// [`FromStr`](std::str::FromStr) reads and [`Display`](std::fmt::Display) writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventFormat {
    #[default]
    Csv,
    Json,
    Audacity,
    Dcase,
}

/// A name that is not an [`EventFormat`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event list format `{0}` (choose csv, json, audacity or dcase)")]
pub struct UnknownEventFormat(pub String);

impl std::str::FromStr for EventFormat {
    type Err = UnknownEventFormat;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|format| format.name() == name)
            .ok_or_else(|| UnknownEventFormat(name.to_string()))
    }
}

impl std::fmt::Display for EventFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl EventFormat {
    /// Every format, in the order choices are listed.
    pub const ALL: [Self; 4] = [Self::Csv, Self::Json, Self::Audacity, Self::Dcase];

    pub fn name(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Audacity => "audacity",
            Self::Dcase => "dcase",
        }
    }

    /// Whether one output can hold the events of several files.
    pub fn holds_several_files(self) -> bool {
        self != EventFormat::Audacity
    }
}

/// Writes event lists of one or more files in one format: [`EventWriter::new`] writes
/// any header, [`EventWriter::write`] one file's events, [`EventWriter::finish`] closes.
pub struct EventWriter<W: Write> {
    out: W,
    format: EventFormat,
    items: usize,
    files: usize,
}

impl<W: Write> EventWriter<W> {
    pub fn new(mut out: W, format: EventFormat) -> io::Result<Self> {
        match format {
            EventFormat::Csv => writeln!(out, "file,onset,offset,label,peak")?,
            EventFormat::Dcase => writeln!(out, "filename\tonset\toffset\tevent_label")?,
            EventFormat::Json => write!(out, "[")?,
            EventFormat::Audacity => {}
        }
        Ok(Self {
            out,
            format,
            items: 0,
            files: 0,
        })
    }

    /// Writes the events of `file`, in the order given.
    pub fn write(&mut self, file: &str, events: &[Event]) -> io::Result<()> {
        self.files += 1;
        if self.files > 1 && !self.format.holds_several_files() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an Audacity label track holds the events of one file",
            ));
        }
        for event in events {
            self.event(file, event)?;
        }
        Ok(())
    }

    fn event(&mut self, file: &str, e: &Event) -> io::Result<()> {
        let out = &mut self.out;
        match self.format {
            EventFormat::Csv => writeln!(
                out,
                "{},{:.3},{:.3},{},{:.3}",
                csv_field(file),
                e.onset_secs,
                e.offset_secs,
                csv_field(&e.label),
                e.peak
            )?,
            EventFormat::Audacity => writeln!(
                out,
                "{:.6}\t{:.6}\t{}",
                e.onset_secs, e.offset_secs, e.label
            )?,
            EventFormat::Dcase => {
                let name = Path::new(file)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| file.to_string());
                writeln!(
                    out,
                    "{name}\t{:.3}\t{:.3}\t{}",
                    e.onset_secs, e.offset_secs, e.label
                )?
            }
            EventFormat::Json => {
                let number = |x: f64| serde_json::Value::from((x * 1e3).round() / 1e3);
                let separator = if self.items == 0 { "\n" } else { ",\n" };
                write!(
                    out,
                    "{separator}  {{\"file\":{},\"onset\":{},\"offset\":{},\"label\":{},\"peak\":{}}}",
                    serde_json::Value::from(file),
                    number(e.onset_secs),
                    number(e.offset_secs),
                    serde_json::Value::from(e.label.as_str()),
                    number(f64::from(e.peak)),
                )?
            }
        }
        self.items += 1;
        Ok(())
    }

    /// Closes the list (the JSON array) and hands the output back.
    pub fn finish(mut self) -> io::Result<W> {
        if self.format == EventFormat::Json {
            if self.items == 0 {
                writeln!(self.out, "]")?;
            } else {
                writeln!(self.out, "\n]")?;
            }
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Quotes a CSV field when it needs it.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}
