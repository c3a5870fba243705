//! What `tag --events` and `eval` share: the post-processing options and the check that a
//! model can detect events at all.

use livetag::bundle::{Bundle, OutputKind};
use livetag::sed::{ClassOverride, ClassSettings, EventSettings};

/// Sound event post-processing (see `src/sed.rs`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EventArgs {
    /// Onset threshold: an event starts when a class's median-filtered probability
    /// reaches it, 0 to 1 [default: 0.5].
    #[arg(long, value_name = "P", value_parser = super::limits::threshold)]
    pub on: Option<f32>,
    /// Offset threshold (<= --on): the event lasts while the probability stays at or
    /// above it, 0 to 1 [default: 0.3].
    #[arg(long, value_name = "P", value_parser = super::limits::threshold)]
    pub off: Option<f32>,
    /// Median filter length in frames for every class, odd, at most 1001; 1 turns it off
    /// [default: the bundle's `[events] median_frames`, else 5].
    #[arg(long, value_name = "FRAMES", value_parser = super::limits::median_frames)]
    pub median_frames: Option<usize>,
    /// Events shorter than this are rejected, 0 to 3600 [default: 0.2].
    #[arg(long, value_name = "SECS", value_parser = super::limits::event_secs)]
    pub min_duration: Option<f64>,
    /// Events of one class closer than this are merged, 0 to 3600 [default: 0, never].
    #[arg(long, value_name = "SECS", value_parser = super::limits::event_secs)]
    pub min_gap: Option<f64>,
    /// Per-class settings, repeatable: `LABEL:on=0.6,off=0.4,median=7,min=0.3,gap=0.1`
    /// (any of the keys).
    #[arg(long = "class", value_name = "LABEL:KEY=VALUE,...")]
    pub classes: Vec<ClassOverride>,
}

impl EventArgs {
    /// Whether any option was given.
    pub fn any(&self) -> bool {
        self.on.is_some()
            || self.off.is_some()
            || self.median_frames.is_some()
            || self.min_duration.is_some()
            || self.min_gap.is_some()
            || !self.classes.is_empty()
    }

    /// The settings, with per-class overrides resolved against the model's labels.
    pub fn settings(&self, bundle: &Bundle) -> anyhow::Result<EventSettings> {
        let defaults = ClassSettings::default();
        let default = ClassSettings {
            on: self.on.unwrap_or(defaults.on),
            off: self.off.unwrap_or(defaults.off),
            median_frames: self.median_frames.unwrap_or(defaults.median_frames),
            min_duration_secs: self.min_duration.unwrap_or(defaults.min_duration_secs),
            min_gap_secs: self.min_gap.unwrap_or(defaults.min_gap_secs),
        };
        default.validate("--on/--off/--median-frames/--min-duration/--min-gap")?;
        // The bundle's median lengths (one, or one per class) unless --median-frames says.
        let mut settings = if self.median_frames.is_some() {
            EventSettings::new(default)
        } else {
            bundle.event_settings(default)
        };
        for class in &self.classes {
            let index = bundle
                .labels
                .iter()
                .position(|l| *l == class.label)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--class {}: model {} has no label `{}`",
                        class.label,
                        bundle.name(),
                        class.label
                    )
                })?;
            let resolved = class.apply(*settings.for_class(index));
            let what = format!("--class {}", class.label);
            super::limits::class_settings(&resolved)
                .map_err(|reason| anyhow::anyhow!("{what}: {reason}"))?;
            resolved.validate(&what)?;
            settings.set_class(index, resolved);
        }
        Ok(settings)
    }
}

/// The frame rate of the bundle's framewise output, or an error that says what is missing.
pub fn require_framewise(bundle: &Bundle, what: &str) -> anyhow::Result<f64> {
    if let Some(rate) = bundle.framewise_output().and_then(|o| o.frame_rate_hz) {
        return Ok(rate);
    }
    let outputs: Vec<String> = bundle
        .spec
        .outputs
        .iter()
        .map(|o| {
            let kind = match o.kind {
                OutputKind::Clip => "clip",
                OutputKind::Framewise => "framewise",
            };
            format!("`{}` ({kind})", o.name)
        })
        .collect();
    anyhow::bail!(
        "model {} ({}) has no framewise output, which {what} needs: per-frame probabilities, \
         declared in bundle.toml as an [[outputs]] table with kind = \"framewise\" and \
         frame_rate_hz (docs/BUNDLE_FORMAT.md). Its outputs: {}",
        bundle.name(),
        bundle.dir.display(),
        outputs.join(", ")
    )
}
