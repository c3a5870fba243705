//! A scrolling image of columns (the display spectrogram, or the model's input) kept in a
//! ring-shaped texture: each new column overwrites the oldest one with one small upload,
//! and drawing shifts the texture coordinates so the newest column sits at the right edge.

use eframe::egui::{self, Color32, ColorImage, Rect, TextureHandle, TextureOptions};

use super::colormap::Colormap;

/// How values become colours.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColourScale {
    pub colormap: Colormap,
    pub low: f32,
    pub high: f32,
}

impl ColourScale {
    fn index(&self, value: f32) -> usize {
        let t = (value - self.low) / (self.high - self.low).max(1e-6);
        if t.is_nan() {
            0
        } else {
            (t.clamp(0.0, 1.0) * 255.0) as usize
        }
    }
}

pub struct ScrollingImage {
    name: &'static str,
    /// Columns kept (the texture's width) and values per column (its height).
    width: usize,
    height: usize,
    /// All columns as values, column-major, so a colour change can repaint everything.
    values: Vec<f32>,
    /// Each column's lowest and highest finite value, so the held range is cheap per frame.
    column_ranges: Vec<Option<(f32, f32)>>,
    /// Columns written so far; the next one goes to `written % width`.
    written: u64,
    /// Source time of the newest column's end.
    newest_end_secs: f64,
    scale: ColourScale,
    lut: [Color32; 256],
    texture: Option<TextureHandle>,
    /// Columns written since the texture was last brought up to date.
    pending: Vec<usize>,
    repaint_all: bool,
}

impl ScrollingImage {
    pub fn new(name: &'static str, width: usize, height: usize, scale: ColourScale) -> Self {
        Self {
            name,
            width: width.max(1),
            height: height.max(1),
            values: vec![f32::NAN; width.max(1) * height.max(1)],
            column_ranges: vec![None; width.max(1)],
            written: 0,
            newest_end_secs: 0.0,
            lut: scale.colormap.lut(),
            scale,
            texture: None,
            pending: Vec::new(),
            repaint_all: true,
        }
    }

    pub fn height(&self) -> usize {
        self.height
    }

    pub fn columns_written(&self) -> u64 {
        self.written
    }

    pub fn newest_end_secs(&self) -> f64 {
        self.newest_end_secs
    }

    /// Adds a column (`height` values, lowest row first) ending at `end_secs`.
    pub fn push(&mut self, column: &[f32], end_secs: f64) {
        let x = (self.written % self.width as u64) as usize;
        let slot = &mut self.values[x * self.height..(x + 1) * self.height];
        for (dst, src) in slot
            .iter_mut()
            .zip(column.iter().chain(std::iter::repeat(&f32::NAN)))
        {
            *dst = *src;
        }
        self.column_ranges[x] = finite_range(slot.iter().copied());
        self.written += 1;
        self.newest_end_secs = end_secs;
        if !self.repaint_all {
            if self.pending.len() >= self.width {
                self.repaint_all = true;
                self.pending.clear();
            } else {
                self.pending.push(x);
            }
        }
    }

    pub fn set_scale(&mut self, scale: ColourScale) {
        if scale != self.scale {
            self.scale = scale;
            self.lut = scale.colormap.lut();
            self.repaint_all = true;
            self.pending.clear();
        }
    }

    /// Lowest and highest finite values held, for auto-ranged colours.
    pub fn value_range(&self) -> Option<(f32, f32)> {
        self.column_ranges
            .iter()
            .flatten()
            .copied()
            .reduce(|(lo, hi), (l, h)| (lo.min(l), hi.max(h)))
    }

    fn column_image(&self, x: usize) -> ColorImage {
        // Image rows run top to bottom; the lowest band belongs at the bottom.
        let column = &self.values[x * self.height..(x + 1) * self.height];
        let pixels = column
            .iter()
            .rev()
            .map(|&v| {
                if v.is_nan() {
                    Color32::BLACK
                } else {
                    self.lut[self.scale.index(v)]
                }
            })
            .collect();
        ColorImage::new([1, self.height], pixels)
    }

    fn full_image(&self) -> ColorImage {
        let mut pixels = vec![Color32::BLACK; self.width * self.height];
        for x in 0..self.width {
            let column = self.column_image(x);
            for (y, colour) in column.pixels.into_iter().enumerate() {
                pixels[y * self.width + x] = colour;
            }
        }
        ColorImage::new([self.width, self.height], pixels)
    }

    /// Brings the texture up to date: new columns one by one, everything only after a
    /// colour change.
    fn sync_texture(&mut self, ctx: &egui::Context) {
        let options = TextureOptions::LINEAR_REPEAT;
        let texture = match self.texture.take() {
            Some(mut texture) if self.repaint_all => {
                texture.set(self.full_image(), options);
                texture
            }
            Some(mut texture) => {
                for &x in &self.pending {
                    texture.set_partial([x, 0], self.column_image(x), options);
                }
                texture
            }
            None => ctx.load_texture(self.name, self.full_image(), options),
        };
        self.texture = Some(texture);
        self.pending.clear();
        self.repaint_all = false;
    }

    /// Draws the image into `rect` so that its right edge is source time `right_secs` and
    /// the rect spans `span_secs`, given `columns_per_sec`.
    pub fn paint(
        &mut self,
        ui: &egui::Ui,
        rect: Rect,
        right_secs: f64,
        span_secs: f64,
        columns_per_sec: f64,
    ) {
        self.sync_texture(ui.ctx());
        let Some(texture) = &self.texture else { return };
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, Color32::BLACK);
        // Place the ring so that its newest column ends at newest_end_secs.
        let image_secs = self.width as f64 / columns_per_sec;
        let newest_x = rect.right()
            - ((right_secs - self.newest_end_secs) / span_secs * rect.width() as f64) as f32;
        let image_width = (image_secs / span_secs * rect.width() as f64) as f32;
        let image_rect = Rect::from_min_max(
            egui::pos2(newest_x - image_width, rect.top()),
            egui::pos2(newest_x, rect.bottom()),
        );
        let oldest = (self.written % self.width as u64) as f32 / self.width as f32;
        let uv = Rect::from_min_max(egui::pos2(oldest, 0.0), egui::pos2(oldest + 1.0, 1.0));
        painter.image(texture.id(), image_rect, uv, Color32::WHITE);
    }
}

fn finite_range(values: impl Iterator<Item = f32>) -> Option<(f32, f32)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |range, v| match range {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}
