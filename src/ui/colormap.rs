//! Colour maps for the spectrograms: a 256-entry lookup table per map.

use eframe::egui::Color32;
use serde::{Deserialize, Serialize};

#[path = "colormap_data.rs"]
mod data;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Colormap {
    #[default]
    Viridis,
    Magma,
    Inferno,
    Grey,
}

impl Colormap {
    pub const ALL: [Colormap; 4] = [
        Colormap::Viridis,
        Colormap::Magma,
        Colormap::Inferno,
        Colormap::Grey,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Colormap::Viridis => "viridis",
            Colormap::Magma => "magma",
            Colormap::Inferno => "inferno",
            Colormap::Grey => "grey",
        }
    }

    pub fn next(self) -> Self {
        let at = Self::ALL.iter().position(|&c| c == self).unwrap_or(0);
        Self::ALL[(at + 1) % Self::ALL.len()]
    }

    /// 256 colours from low to high.
    pub fn lut(self) -> [Color32; 256] {
        let anchors: &[[u8; 3]] = match self {
            Colormap::Viridis => &data::VIRIDIS,
            Colormap::Magma => &data::MAGMA,
            Colormap::Inferno => &data::INFERNO,
            Colormap::Grey => &[[0, 0, 0], [255, 255, 255]],
        };
        let mut lut = [Color32::BLACK; 256];
        let segments = (anchors.len() - 1) as f32;
        for (i, colour) in lut.iter_mut().enumerate() {
            let at = i as f32 / 255.0 * segments;
            let lo = (at.floor() as usize).min(anchors.len() - 2);
            let t = at - lo as f32;
            let mix = |c: usize| {
                (anchors[lo][c] as f32 * (1.0 - t) + anchors[lo + 1][c] as f32 * t).round() as u8
            };
            *colour = Color32::from_rgb(mix(0), mix(1), mix(2));
        }
        lut
    }
}

#[cfg(test)]
mod tests {
    use super::Colormap;
    use eframe::egui::Color32;

    #[test]
    fn tables_run_from_the_maps_ends() {
        let viridis = Colormap::Viridis.lut();
        assert_eq!(viridis[0], Color32::from_rgb(68, 1, 84));
        assert_eq!(viridis[255], Color32::from_rgb(253, 231, 37));
        let grey = Colormap::Grey.lut();
        assert_eq!(grey[0], Color32::BLACK);
        assert_eq!(grey[128], Color32::from_gray(128));
        assert_eq!(Colormap::Grey.next(), Colormap::Viridis);
    }
}
