//! What the window shows, built from pipeline events alone: the scrolling spectrograms,
//! the smoothed scores, the probability history and the timing figures. It knows nothing
//! about threads or devices, so tests can feed it fixed events and a fixed clock.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use eframe::egui::{self, Align2, Color32, FontId, Rect, Sense, Stroke};
use egui_plot::{Legend, Line, Plot, PlotPoints, Polygon, Text};

use super::colormap::Colormap;
use super::spectrogram::{ColourScale, ScrollingImage};
use crate::engine::LiveUpdate;
use crate::ontology::{ClassFilter, Hierarchy, Ranked, TopKMode};
use crate::pipeline::{DisplayInfo, LiveMessage, Percentiles, ProbabilityTrail, Role};
use crate::sed::{Decision, Event};

/// Timing figures are percentiles over this many recent windows.
const TIMING_WINDOWS: usize = 500;
/// Distinct, colour-blind-friendly line colours (Okabe-Ito).
const LINE_COLOURS: [Color32; 6] = [
    Color32::from_rgb(230, 159, 0),
    Color32::from_rgb(86, 180, 233),
    Color32::from_rgb(0, 158, 115),
    Color32::from_rgb(240, 228, 66),
    Color32::from_rgb(204, 121, 167),
    Color32::from_rgb(213, 94, 0),
];

/// The view settings the user changes and the app persists.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ViewSettings {
    pub colormap: Colormap,
    pub db_low: f32,
    pub db_high: f32,
    /// Time constant of the score smoothing; 0 shows raw scores.
    pub smoothing_secs: f32,
    pub top_k: usize,
    /// How parents and children of an ontology share the top classes.
    pub top_k_mode: TopKMode,
    /// Per-model allow and deny lists (labels differ between models).
    pub class_lists: BTreeMap<String, ClassLists>,
    pub visible_secs: f32,
    pub show_model_input: bool,
    /// Threshold for classes without their own.
    pub default_threshold: f32,
    /// Per-model, per-label thresholds.
    pub thresholds: BTreeMap<String, BTreeMap<String, f32>>,
}

impl Default for ViewSettings {
    fn default() -> Self {
        Self {
            colormap: Colormap::Viridis,
            db_low: -100.0,
            db_high: -20.0,
            smoothing_secs: 0.3,
            top_k: 5,
            top_k_mode: TopKMode::default(),
            class_lists: BTreeMap::new(),
            visible_secs: 10.0,
            show_model_input: false,
            default_threshold: 0.5,
            thresholds: BTreeMap::new(),
        }
    }
}

/// One model's allow and deny lists as typed: `;`-separated labels or ontology classes.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ClassLists {
    pub only: String,
    pub except: String,
}

impl ClassLists {
    pub fn filter(&self) -> ClassFilter {
        ClassFilter {
            allow: ClassFilter::parse_list(&self.only),
            deny: ClassFilter::parse_list(&self.except),
        }
    }
}

impl ViewSettings {
    pub fn threshold(&self, model: &str, label: &str) -> f32 {
        self.thresholds
            .get(model)
            .and_then(|t| t.get(label))
            .copied()
            .unwrap_or(self.default_threshold)
    }
}

struct ScoreRow {
    end_secs: f64,
    scores: Vec<f32>,
}

/// Decisions the event log keeps.
const LOG_DECISIONS: usize = 200;

/// Sound events the engine found live. Every decision, accepted or not, goes to the log,
/// so the filtering is never hidden.
struct EventLog {
    /// How late decisions come (the median filter's delay).
    delay_secs: f64,
    accepted: VecDeque<Event>,
    /// Events begun and not yet ended, as of the newest window.
    open: Vec<Event>,
    /// Decisions as the log shows them (formatted once), with whether each was accepted.
    log: VecDeque<(bool, String)>,
}

impl EventLog {
    fn push(&mut self, decisions: Vec<Decision>, open: Vec<Event>, keep_after_secs: f64) {
        for decision in decisions {
            let line = decision.to_string();
            if let Decision::Accepted(event) = decision {
                self.accepted.push_back(event);
                self.log.push_back((true, line));
            } else {
                self.log.push_back((false, line));
            }
        }
        self.open = open;
        while self.log.len() > LOG_DECISIONS {
            self.log.pop_front();
        }
        while self
            .accepted
            .front()
            .is_some_and(|e| e.offset_secs < keep_after_secs)
        {
            self.accepted.pop_front();
        }
    }
}

/// The speech track under the spectrogram: one probability per speech-model window.
struct SpeechLane {
    model: String,
    label: String,
    history: ProbabilityTrail,
}

pub struct LiveView {
    pub model: String,
    pub labels: Vec<String>,
    pub hierarchy: Hierarchy,
    /// The lists as last seen, what the last valid ones allow, and why the current ones
    /// are not applied, if they are not.
    lists_seen: ClassLists,
    allowed: Option<Vec<bool>>,
    lists_error: Option<String>,
    /// The newest window heard digital silence: the bars describe no sound.
    silent: bool,
    pub display: DisplayInfo,
    spectrum: ScrollingImage,
    model_input: Option<ScrollingImage>,
    history: VecDeque<ScoreRow>,
    smoothed: Vec<f32>,
    speech: Option<SpeechLane>,
    events: Option<EventLog>,
    pub latency_ms: Percentiles,
    pub inference_ms: Percentiles,
}

impl LiveView {
    pub fn new(
        model: String,
        labels: Vec<String>,
        hierarchy: Hierarchy,
        display: DisplayInfo,
        settings: &ViewSettings,
    ) -> Self {
        let columns = (display.columns_per_sec * settings.visible_secs as f64).ceil() as usize;
        let spectrum =
            ScrollingImage::new("spectrogram", columns, display.bands, db_scale(settings));
        let model_input = (display.model_row_width > 0).then(|| {
            let rows = (display.model_rows_per_sec * settings.visible_secs as f64).ceil() as usize;
            ScrollingImage::new(
                "model input",
                rows,
                display.model_row_width,
                ColourScale {
                    colormap: settings.colormap,
                    low: 0.0,
                    high: 1.0,
                },
            )
        });
        Self {
            smoothed: vec![0.0; labels.len()],
            model,
            labels,
            hierarchy,
            lists_seen: ClassLists::default(),
            allowed: None,
            lists_error: None,
            silent: false,
            display,
            spectrum,
            model_input,
            history: VecDeque::new(),
            speech: None,
            events: None,
            latency_ms: Percentiles::new(TIMING_WINDOWS),
            inference_ms: Percentiles::new(TIMING_WINDOWS),
        }
    }

    /// Shows track 1's scores as the speech lane; `label` is the speech model's one class.
    pub fn add_speech_lane(&mut self, model: String, label: String) {
        self.speech = Some(SpeechLane {
            model,
            label,
            history: ProbabilityTrail::default(),
        });
    }

    /// Shows the sound events the engine finds, decided `delay_secs` late.
    pub fn enable_event_log(&mut self, delay_secs: f64) {
        self.events = Some(EventLog {
            delay_secs,
            accepted: VecDeque::new(),
            open: Vec::new(),
            log: VecDeque::new(),
        });
    }

    /// Accepted events still in view, oldest first.
    pub fn events(&self) -> Vec<Event> {
        self.events
            .as_ref()
            .map(|e| e.accepted.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The event log, oldest first: one line per decision.
    pub fn event_log(&self) -> Vec<String> {
        self.events
            .as_ref()
            .map(|e| e.log.iter().map(|(_, line)| line.clone()).collect())
            .unwrap_or_default()
    }

    pub fn has_speech_lane(&self) -> bool {
        self.speech.is_some()
    }

    /// Source time of the newest audio shown.
    pub fn now_secs(&self) -> f64 {
        self.spectrum.newest_end_secs()
    }

    pub fn has_scores(&self) -> bool {
        !self.history.is_empty()
    }

    /// Takes one live update; `now` is when it reaches the screen. Returns an error message
    /// to show, if the update was one.
    pub fn ingest(
        &mut self,
        update: LiveUpdate,
        now: Instant,
        settings: &ViewSettings,
    ) -> Option<String> {
        let message = match update {
            LiveUpdate::Pipeline(message) => message,
            LiveUpdate::SoundEvents { decisions, open } => {
                let keep_after = self.now_secs() - settings.visible_secs as f64 - 1.0;
                if let Some(events) = &mut self.events {
                    events.push(decisions, open, keep_after);
                }
                return None;
            }
        };
        match message {
            LiveMessage::Spectrum(column) => self.spectrum.push(&column.db, column.end_secs),
            LiveMessage::ModelInput(rows) => {
                if let Some(image) = &mut self.model_input {
                    for row in rows.values.chunks_exact(rows.width.max(1)) {
                        image.push(row, rows.end_secs);
                    }
                }
            }
            LiveMessage::Scores(scores) if scores.role != Role::Tagger => {
                if let Some(lane) = &mut self.speech {
                    lane.history
                        .push(&scores, settings.visible_secs as f64 + 1.0);
                }
            }
            LiveMessage::Scores(scores) => {
                self.latency_ms.push(
                    now.saturating_duration_since(scores.captured_at)
                        .as_secs_f64()
                        * 1e3,
                );
                self.inference_ms.push(scores.inference_secs * 1e3);
                self.silent = scores.silent;
                let alpha = match self.history.back() {
                    Some(last) if settings.smoothing_secs > 0.0 => {
                        let dt = (scores.end_secs - last.end_secs).max(0.0);
                        1.0 - (-dt / settings.smoothing_secs as f64).exp() as f32
                    }
                    _ => 1.0,
                };
                for (smooth, &raw) in self.smoothed.iter_mut().zip(&scores.scores) {
                    *smooth += alpha * (raw - *smooth);
                }
                self.history.push_back(ScoreRow {
                    end_secs: scores.end_secs,
                    scores: scores.scores,
                });
                let keep_after = scores.end_secs - settings.visible_secs as f64 - 1.0;
                while self
                    .history
                    .front()
                    .is_some_and(|row| row.end_secs < keep_after)
                {
                    self.history.pop_front();
                }
            }
            LiveMessage::Error(message) => return Some(message),
        }
        None
    }

    /// Applies this model's allow and deny lists when their text changed (typing resolves
    /// them once per keystroke, not once per frame). Lists that name nothing leave the last
    /// valid ones in force, and the error stays until they are fixed.
    pub fn apply_filter(&mut self, settings: &ViewSettings) -> Option<&str> {
        // Compared in place: this runs every frame, and only an edit may allocate.
        let empty = ClassLists::default();
        let lists = settings.class_lists.get(&self.model).unwrap_or(&empty);
        if *lists != self.lists_seen {
            let filter = lists.filter();
            self.lists_seen = lists.clone();
            if filter.is_empty() {
                (self.allowed, self.lists_error) = (None, None);
            } else {
                match filter.resolve(&self.labels, &self.hierarchy) {
                    Ok(mask) => (self.allowed, self.lists_error) = (Some(mask), None),
                    Err(e) => self.lists_error = Some(format!("View > only / except: {e}")),
                }
            }
        }
        self.lists_error.as_deref()
    }

    /// The top-k rows of the smoothed scores, in the settings' mode, after the filter.
    pub fn rows(&self, settings: &ViewSettings) -> Vec<Ranked> {
        crate::ontology::rank(
            &self.smoothed,
            &self.hierarchy,
            self.allowed.as_deref(),
            settings.top_k_mode,
            settings.top_k,
        )
    }

    pub fn smoothed(&self) -> &[f32] {
        &self.smoothed
    }

    /// The scrolling spectrogram, or the model's input when `show_model_input` is on.
    /// Returns where it was drawn.
    pub fn spectrogram_ui(
        &mut self,
        ui: &mut egui::Ui,
        settings: &ViewSettings,
        height: f32,
    ) -> Rect {
        let (rect, _) =
            ui.allocate_exact_size(egui::vec2(ui.available_width(), height), Sense::hover());
        let span_secs = settings.visible_secs as f64;
        let now_secs = self.now_secs();
        let painter = ui.painter_at(rect);
        let text_colour = Color32::from_white_alpha(220);
        let font = FontId::proportional(11.0);
        match (&mut self.model_input, settings.show_model_input) {
            (Some(image), true) => {
                let range = image.value_range().unwrap_or((0.0, 1.0));
                image.set_scale(ColourScale {
                    colormap: settings.colormap,
                    low: range.0,
                    high: range.1,
                });
                let rows_per_sec = self.display.model_rows_per_sec;
                image.paint(ui, rect, now_secs, span_secs, rows_per_sec);
                let bands = image.height();
                for band in [0, bands / 2, bands - 1] {
                    let y = rect.bottom() - (band as f32 + 0.5) / bands as f32 * rect.height();
                    painter.text(
                        egui::pos2(rect.left() + 4.0, y),
                        Align2::LEFT_CENTER,
                        format!("band {band}"),
                        font.clone(),
                        text_colour,
                    );
                }
                painter.text(
                    rect.right_top() + egui::vec2(-6.0, 4.0),
                    Align2::RIGHT_TOP,
                    format!("model input ({}, {bands} bands)", self.model),
                    font.clone(),
                    text_colour,
                );
            }
            (None, true) => {
                painter.rect_filled(rect, 0.0, Color32::BLACK);
                painter.text(
                    rect.center(),
                    Align2::CENTER_CENTER,
                    "this model takes the raw waveform: it has no input spectrogram",
                    font.clone(),
                    text_colour,
                );
            }
            _ => {
                self.spectrum.set_scale(db_scale(settings));
                let columns_per_sec = self.display.columns_per_sec;
                self.spectrum
                    .paint(ui, rect, now_secs, span_secs, columns_per_sec);
                for hz in [100.0, 250.0, 500.0, 1e3, 2e3, 4e3, 8e3, 16e3] {
                    if hz > self.display.fmax_hz {
                        break;
                    }
                    let band = self.display.hz_band(hz) as f32;
                    let y =
                        rect.bottom() - (band + 0.5) / self.display.bands as f32 * rect.height();
                    if y < rect.top() + 8.0 {
                        break;
                    }
                    painter.hline(
                        rect.left()..=rect.left() + 6.0,
                        y,
                        Stroke::new(1.0, text_colour),
                    );
                    let label = if hz >= 1e3 {
                        format!("{} kHz", hz / 1e3)
                    } else {
                        format!("{hz} Hz")
                    };
                    painter.text(
                        egui::pos2(rect.left() + 8.0, y),
                        Align2::LEFT_CENTER,
                        label,
                        font.clone(),
                        text_colour,
                    );
                }
            }
        }
        for second in 1..settings.visible_secs as usize {
            let x = rect.right() - (second as f64 / span_secs) as f32 * rect.width();
            painter.vline(
                x,
                rect.bottom() - 6.0..=rect.bottom(),
                Stroke::new(1.0, text_colour),
            );
            painter.text(
                egui::pos2(x, rect.bottom() - 8.0),
                Align2::CENTER_BOTTOM,
                format!("-{second} s"),
                font.clone(),
                text_colour,
            );
        }
        if self.spectrum.columns_written() == 0 {
            painter.text(
                rect.center(),
                Align2::CENTER_CENTER,
                "waiting for audio…",
                FontId::proportional(16.0),
                text_colour,
            );
        }
        rect
    }

    /// The speech lane, time-aligned with the spectrogram above it: each speech window is
    /// a column as tall as its probability, bright where it passes the threshold. Returns
    /// where it was drawn, if there is a lane.
    pub fn speech_lane_ui(
        &self,
        ui: &mut egui::Ui,
        settings: &ViewSettings,
        height: f32,
    ) -> Option<Rect> {
        let lane = self.speech.as_ref()?;
        let (rect, response) =
            ui.allocate_exact_size(egui::vec2(ui.available_width(), height), Sense::hover());
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, Color32::from_gray(18));
        let span_secs = settings.visible_secs as f64;
        let now_secs = self.now_secs();
        let x_at = |secs: f64| rect.right() - ((now_secs - secs) / span_secs) as f32 * rect.width();
        let threshold = settings.threshold(&lane.model, &lane.label);
        let colour = LINE_COLOURS[2];
        let mut previous_end: Option<f64> = None;
        for (end_secs, probability) in lane.history.points() {
            let start_secs = previous_end.unwrap_or(end_secs - 0.032).max(end_secs - 0.5);
            previous_end = Some(end_secs);
            if end_secs < now_secs - span_secs {
                continue;
            }
            let top = rect.bottom() - probability.clamp(0.0, 1.0) * rect.height();
            let column = Rect::from_min_max(
                egui::pos2(x_at(start_secs).max(rect.left()), top),
                egui::pos2(x_at(end_secs).min(rect.right()), rect.bottom()),
            );
            let fill = if probability >= threshold {
                colour
            } else {
                colour.gamma_multiply(0.35)
            };
            painter.rect_filled(column, 0.0, fill);
        }
        let y = rect.bottom() - threshold.clamp(0.0, 1.0) * rect.height();
        painter.hline(
            rect.x_range(),
            y,
            Stroke::new(1.0, Color32::from_white_alpha(90)),
        );
        let latest = lane.history.latest().unwrap_or(0.0);
        painter.text(
            rect.left_center() + egui::vec2(6.0, 0.0),
            Align2::LEFT_CENTER,
            format!("{} {latest:.2}", lane.label),
            FontId::proportional(13.0),
            Color32::from_white_alpha(230),
        );
        response.on_hover_text(format!(
            "speech track ({}): probability per window, threshold {threshold:.2}",
            lane.model
        ));
        Some(rect)
    }

    /// Top-k bars with scores and threshold marks. Right-click a bar to set its class's
    /// threshold. Returns each bar's label and rectangle, best first.
    pub fn top_k_ui(&self, ui: &mut egui::Ui, settings: &mut ViewSettings) -> Vec<(String, Rect)> {
        let mut drawn = Vec::new();
        if !self.has_scores() {
            ui.label("waiting for the first window…");
            return drawn;
        }
        if self.silent {
            ui.colored_label(
                ui.visuals().weak_text_color(),
                "silence: the last window heard no sound at all",
            );
        }
        let row_height = 22.0;
        let score_width_px = 40.0;
        for (rank, row) in self.rows(settings).into_iter().enumerate() {
            let label_index = row.label;
            let label = &self.labels[label_index];
            let score = self.smoothed[label_index];
            let threshold = settings.threshold(&self.model, label);
            let (rect, response) = ui
                .allocate_exact_size(egui::vec2(ui.available_width(), row_height), Sense::click());
            drawn.push((label.clone(), rect));
            let painter = ui.painter_at(rect);
            // Grouped mode: a child sits under its parent, indented.
            let indent = INDENT_PER_LEVEL_PX * row.depth as f32;
            let bar = Rect::from_min_max(
                rect.left_top() + egui::vec2(indent, 3.0),
                rect.right_bottom() - egui::vec2(0.0, 3.0),
            );
            painter.rect_filled(bar, 3.0, ui.visuals().extreme_bg_color);
            let fill = if self.silent {
                ui.visuals().weak_text_color().gamma_multiply(0.5)
            } else if score >= threshold {
                LINE_COLOURS[rank % LINE_COLOURS.len()]
            } else {
                LINE_COLOURS[rank % LINE_COLOURS.len()].gamma_multiply(0.45)
            };
            let filled = Rect::from_min_size(
                bar.min,
                egui::vec2(bar.width() * score.clamp(0.0, 1.0), bar.height()),
            );
            painter.rect_filled(filled, 3.0, fill);
            let mark_x = bar.left() + bar.width() * threshold.clamp(0.0, 1.0);
            painter.vline(
                mark_x,
                bar.y_range(),
                Stroke::new(2.0, ui.visuals().strong_text_color()),
            );
            let text_colour = ui.visuals().strong_text_color();
            // AudioSet names are long ("Domestic animals, pets"): the label gets the bar
            // less the score's column and is cut with an ellipsis; the tooltip has it whole.
            let label_width = (bar.width() - score_width_px - 12.0).max(10.0);
            let mut job = egui::text::LayoutJob::single_section(
                label.clone(),
                egui::TextFormat::simple(FontId::proportional(13.0), text_colour),
            );
            job.wrap = egui::text::TextWrapping::truncate_at_width(label_width);
            let galley = ui.fonts_mut(|f| f.layout_job(job));
            painter.galley(
                egui::pos2(bar.left() + 6.0, bar.center().y - galley.size().y / 2.0),
                galley,
                text_colour,
            );
            painter.text(
                bar.right_center() - egui::vec2(6.0, 0.0),
                Align2::RIGHT_CENTER,
                format!("{score:.2}"),
                FontId::monospace(12.0),
                text_colour,
            );
            let hides = if row.hides.is_empty() {
                String::new()
            } else {
                let names: Vec<&str> = row.hides.iter().map(|&l| self.labels[l].as_str()).collect();
                format!("\nshown instead of {}", names.join(" › "))
            };
            response
                .on_hover_text(format!(
                    "{label}: {score:.3}, threshold {threshold:.2} (right-click to change){hides}"
                ))
                .context_menu(|ui| {
                    let mut value = threshold;
                    ui.label(format!("threshold for \"{label}\""));
                    if ui
                        .add(egui::Slider::new(&mut value, 0.0..=1.0).text("threshold"))
                        .changed()
                    {
                        settings
                            .thresholds
                            .entry(self.model.clone())
                            .or_default()
                            .insert(label.clone(), value);
                    }
                    if ui.button("use the default").clicked() {
                        if let Some(map) = settings.thresholds.get_mut(&self.model) {
                            map.remove(label);
                        }
                        ui.close();
                    }
                });
        }
        drawn
    }

    /// Scores of the current top classes over the visible time, aligned with the
    /// spectrogram: x is seconds before its newest column. Returns the labels of the event
    /// spans it drew (for screenshot checks).
    pub fn timeline_ui(
        &self,
        ui: &mut egui::Ui,
        settings: &ViewSettings,
        height: f32,
    ) -> Vec<String> {
        let mut spans = Vec::new();
        let now_secs = self.now_secs();
        let span_secs = settings.visible_secs as f64;
        let classes: Vec<usize> = self
            .rows(settings)
            .into_iter()
            .take(LINE_COLOURS.len())
            .map(|row| row.label)
            .collect();
        Plot::new("timeline")
            .height(height)
            .legend(Legend::default().position(egui_plot::Corner::LeftTop))
            .show_axes([true, false])
            .default_x_bounds(-span_secs, 0.0)
            .default_y_bounds(0.0, 1.0)
            .allow_drag(false)
            .allow_zoom(false)
            .allow_scroll(false)
            .allow_boxed_zoom(false)
            .allow_double_click_reset(false)
            .set_margin_fraction(egui::vec2(0.0, 0.05))
            .x_axis_formatter(|mark, _| format!("{:.0} s", mark.value))
            .show(ui, |plot| {
                plot.set_plot_bounds_x(-span_secs..=0.0);
                plot.set_plot_bounds_y(0.0..=1.0);
                if let Some(events) = &self.events {
                    // Spans only for the classes drawn as lines, in their colours; the log
                    // lists the rest.
                    for event in events.accepted.iter().chain(&events.open) {
                        let Some(rank) = classes.iter().position(|&c| c == event.label_index)
                        else {
                            continue;
                        };
                        let colour = LINE_COLOURS[rank % LINE_COLOURS.len()];
                        let (x0, x1) = (event.onset_secs - now_secs, event.offset_secs - now_secs);
                        if x1 >= -span_secs {
                            spans.push(event.label.clone()); // not yet scrolled out of view
                        }
                        let span: PlotPoints =
                            vec![[x0, 0.0], [x1, 0.0], [x1, 1.0], [x0, 1.0]].into();
                        plot.polygon(
                            Polygon::new("", span)
                                .fill_color(colour.gamma_multiply(0.18))
                                .stroke(Stroke::new(1.0, colour)),
                        );
                        plot.text(
                            Text::new(
                                // Unnamed: the legend lists the lines only.
                                "",
                                [x0, 0.97].into(),
                                event.label.clone(),
                            )
                            .anchor(Align2::LEFT_TOP)
                            .color(colour),
                        );
                    }
                }
                for (rank, &class) in classes.iter().enumerate() {
                    let points: PlotPoints = self
                        .history
                        .iter()
                        .map(|row| [row.end_secs - now_secs, row.scores[class] as f64])
                        .collect();
                    plot.line(
                        Line::new(legend_name(&self.labels[class]), points)
                            .color(LINE_COLOURS[rank % LINE_COLOURS.len()])
                            .width(1.5),
                    );
                }
            });
        spans
    }
}

/// Pixels each grouped-mode level is indented by.
const INDENT_PER_LEVEL_PX: f32 = 14.0;
/// Longest legend entry, in characters: the legend sits over the plot.
const LEGEND_CHARS: usize = 24;

/// A label short enough for the timeline's legend.
fn legend_name(label: &str) -> String {
    if label.chars().count() <= LEGEND_CHARS {
        label.to_string()
    } else {
        let cut: String = label.chars().take(LEGEND_CHARS - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

/// The event log: every detection decision, newest first, accepted ones highlighted.
pub fn event_log_ui(ui: &mut egui::Ui, view: &LiveView) {
    let Some(events) = &view.events else {
        return;
    };
    ui.separator();
    ui.heading("Events");
    ui.label(format!(
        "decisions appear {:.2} s late (median filter)",
        events.delay_secs
    ));
    egui::ScrollArea::vertical()
        .max_height(200.0)
        .show(ui, |ui| {
            if events.log.is_empty() {
                ui.weak("no detections yet");
            }
            for (accepted, line) in events.log.iter().rev() {
                if *accepted {
                    ui.colored_label(LINE_COLOURS[2], line);
                } else {
                    ui.weak(line);
                }
            }
        });
}

/// The model card window's contents.
pub fn model_card_ui(
    ui: &mut egui::Ui,
    bundle: &crate::bundle::Bundle,
    card: Option<&crate::inference::profile::ModelCard>,
) {
    ui.label(&bundle.spec.model.description);
    egui::Grid::new("model card").striped(true).show(ui, |ui| {
        let mut row = |field: &str, value: String| {
            ui.strong(field);
            ui.label(value);
            ui.end_row();
        };
        row("licence", bundle.spec.model.licence.clone());
        row(
            "classes",
            format!("{} ({})", bundle.labels.len(), bundle.dir.display()),
        );
        row(
            "input",
            format!(
                "{} Hz, window {:.2} s",
                bundle.input.sample_rate_hz,
                bundle.input.window_rows as f64 * bundle.input.seconds_per_row()
            ),
        );
        match card {
            Some(card) => {
                for (field, value) in card.rows() {
                    row(field, value);
                }
            }
            None => row("compute", "not measured".to_string()),
        }
    });
}

fn db_scale(settings: &ViewSettings) -> ColourScale {
    ColourScale {
        colormap: settings.colormap,
        low: settings.db_low,
        high: settings.db_high,
    }
}
