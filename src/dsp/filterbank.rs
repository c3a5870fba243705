//! Filterbanks that map spectrum bins to bands, stored sparsely: a band touches only the
//! few bins under its triangle, so applying it costs O(bins) rather than O(bins x bands).

use super::FrontendError;

/// Mel scale formula.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MelScale {
    /// Slaney's Auditory Toolbox scale: linear below 1 kHz, logarithmic above (librosa default).
    Slaney,
    /// `2595 * log10(1 + f / 700)`.
    Htk,
}

/// Band weight normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MelNorm {
    /// Divide each triangle by its width in Hz (constant energy per band; librosa default).
    Slaney,
    /// Peak height 1.
    None,
}

/// Bands are computed this many at a time: for each bin under any of them, the bin's value
/// times its weight in each band, a multiply-add as wide as a vector register. Summing each
/// band on its own could not vectorise (a band covers a handful of bins, and the sum is one
/// sequential chain); it was a third of a mel front-end's instructions.
const LANES: usize = 8;

/// `LANES` consecutive bands (fewer in the last block), over the bins
/// `first_bin..first_bin + n_bins` that any of them covers. The weight of bin
/// `first_bin + j` in the block's band `lane` is `weights[offset + j][lane]`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct BandBlock {
    first_bin: usize,
    n_bins: usize,
    offset: usize,
}

/// A bins-to-bands matrix in block-sparse form: each block of bands stores only the bins
/// that one of its bands covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Filterbank {
    n_bins: usize,
    n_bands: usize,
    blocks: Vec<BandBlock>,
    weights: Vec<[f32; LANES]>,
}

impl Filterbank {
    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    pub fn n_bands(&self) -> usize {
        self.n_bands
    }

    /// `out[b] = sum_k weight[b][k] * spectrum[k]`. Both slices must have the right length.
    #[inline(always)]
    pub fn apply(&self, spectrum: &[f32], out: &mut [f32]) {
        for (block, dst) in self.blocks.iter().zip(out.chunks_mut(LANES)) {
            let bins = &spectrum[block.first_bin..block.first_bin + block.n_bins];
            let weights = &self.weights[block.offset..block.offset + block.n_bins];
            let mut sums = [0.0f32; LANES];
            for (&x, w) in bins.iter().zip(weights) {
                for lane in 0..LANES {
                    sums[lane] += x * w[lane];
                }
            }
            dst.copy_from_slice(&sums[..dst.len()]);
        }
    }

    fn from_dense_rows(n_bins: usize, rows: Vec<Vec<f32>>) -> Self {
        let mut weights = Vec::new();
        let blocks = rows
            .chunks(LANES)
            .map(|bands| {
                // Empty bands cover nothing and come out as zero, keeping their index.
                let (first_bin, end_bin) = (bands.iter().filter_map(|row| nonzero_span(row)))
                    .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
                    .unwrap_or((0, 0));
                let offset = weights.len();
                weights.extend((first_bin..end_bin).map(|bin| {
                    let mut lanes = [0.0f32; LANES];
                    for (lane, row) in lanes.iter_mut().zip(bands) {
                        *lane = row[bin];
                    }
                    lanes
                }));
                BandBlock {
                    first_bin,
                    n_bins: end_bin - first_bin,
                    offset,
                }
            })
            .collect();
        Self {
            n_bins,
            n_bands: rows.len(),
            blocks,
            weights,
        }
    }

    /// librosa's `filters.mel(sr, n_fft, n_mels, fmin, fmax, htk, norm)`, restricted to the
    /// first `n_bins` bins (which is `n_fft / 2 + 1` unless the Nyquist bin is dropped).
    #[allow(clippy::too_many_arguments)]
    pub fn mel(
        sample_rate_hz: f64,
        n_fft: usize,
        n_bins: usize,
        n_bands: usize,
        fmin_hz: f64,
        fmax_hz: f64,
        scale: MelScale,
        norm: MelNorm,
    ) -> Result<Self, FrontendError> {
        let nyquist_hz = sample_rate_hz / 2.0;
        if n_bands == 0 {
            return Err(FrontendError::InvalidParameter(
                "mel n_bands must be at least 1".into(),
            ));
        }
        if !(0.0..nyquist_hz + 1e-6).contains(&fmax_hz) || !(0.0..fmax_hz).contains(&fmin_hz) {
            return Err(FrontendError::InvalidParameter(format!(
                "mel needs 0 <= fmin_hz < fmax_hz <= Nyquist ({nyquist_hz} Hz), got fmin_hz {fmin_hz}, fmax_hz {fmax_hz}"
            )));
        }
        let (min_mel, max_mel) = (hz_to_mel(fmin_hz, scale), hz_to_mel(fmax_hz, scale));
        let mel_edges_hz: Vec<f64> = (0..n_bands + 2)
            .map(|i| {
                let mel = min_mel + (max_mel - min_mel) * i as f64 / (n_bands + 1) as f64;
                mel_to_hz(mel, scale)
            })
            .collect();
        // librosa: fftfreqs = linspace(0, sr / 2, 1 + n_fft // 2).
        let full_bins = n_fft / 2 + 1;
        let bin_hz = |k: usize| nyquist_hz * k as f64 / (full_bins - 1) as f64;
        let rows = (0..n_bands)
            .map(|i| {
                let lower_width = mel_edges_hz[i + 1] - mel_edges_hz[i];
                let upper_width = mel_edges_hz[i + 2] - mel_edges_hz[i + 1];
                let enorm = match norm {
                    MelNorm::Slaney => 2.0 / (mel_edges_hz[i + 2] - mel_edges_hz[i]),
                    MelNorm::None => 1.0,
                };
                (0..n_bins)
                    .map(|k| {
                        let lower = (bin_hz(k) - mel_edges_hz[i]) / lower_width;
                        let upper = (mel_edges_hz[i + 2] - bin_hz(k)) / upper_width;
                        // librosa stores the triangle as float32 and then scales it in place.
                        let weight = lower.min(upper).max(0.0) as f32;
                        (f64::from(weight) * enorm) as f32
                    })
                    .collect()
            })
            .collect();
        Ok(Self::from_dense_rows(n_bins, rows))
    }

    /// madmom's `LogarithmicFilterbank`: triangular filters centred on frequencies spaced
    /// `bands_per_octave` to the octave (anchored at `fref_hz`), each snapped to its nearest
    /// FFT bin. Bin `k` is at `k * sample_rate / n_fft`.
    #[allow(clippy::too_many_arguments)]
    pub fn logarithmic(
        sample_rate_hz: f64,
        n_fft: usize,
        n_bins: usize,
        bands_per_octave: u32,
        fmin_hz: f64,
        fmax_hz: f64,
        fref_hz: f64,
        norm_filters: bool,
        unique_filters: bool,
    ) -> Result<Self, FrontendError> {
        if bands_per_octave == 0 || !(fmin_hz > 0.0 && fmin_hz < fmax_hz) || fref_hz <= 0.0 {
            return Err(FrontendError::InvalidParameter(format!(
                "log_filterbank needs bands_per_octave >= 1 and 0 < fmin_hz < fmax_hz, got {bands_per_octave}, {fmin_hz}, {fmax_hz}"
            )));
        }
        let per_octave = f64::from(bands_per_octave);
        let left = ((fmin_hz / fref_hz).log2() * per_octave).floor() as i64;
        let right = ((fmax_hz / fref_hz).log2() * per_octave).ceil() as i64;
        let centres_hz: Vec<f64> = (left..right)
            .map(|i| fref_hz * 2f64.powf(i as f64 / per_octave))
            .filter(|&f| f >= fmin_hz && f <= fmax_hz)
            .collect();
        let bin_hz: Vec<f64> = (0..n_bins)
            .map(|k| k as f64 * sample_rate_hz / n_fft as f64)
            .collect();
        let mut bins: Vec<usize> = centres_hz
            .iter()
            .map(|&f| nearest_bin(&bin_hz, f))
            .collect();
        if unique_filters {
            bins.dedup();
        }
        if bins.len() < 3 {
            return Err(FrontendError::InvalidParameter(format!(
                "log_filterbank from {fmin_hz} Hz to {fmax_hz} Hz leaves fewer than 3 distinct bins; widen the range or raise n_fft"
            )));
        }
        let rows = bins
            .windows(3)
            .map(|triple| {
                let (start, mut centre, mut stop) = (triple[0], triple[1], triple[2]);
                // madmom keeps filters that would be too narrow as a single bin.
                if stop - start < 2 {
                    centre = start;
                    stop = start + 1;
                }
                let mut row = vec![0.0f32; n_bins];
                let rising = centre - start;
                let falling = stop - centre;
                // np.linspace(0, 1, n, endpoint=False) then np.linspace(1, 0, m, endpoint=False).
                for j in 0..rising {
                    row[start + j] = (j as f64 / rising as f64) as f32;
                }
                for j in 0..falling {
                    row[centre + j] = (1.0 - j as f64 / falling as f64) as f32;
                }
                if norm_filters {
                    let sum: f32 = row.iter().sum();
                    if sum > 0.0 {
                        row.iter_mut().for_each(|w| *w /= sum);
                    }
                }
                row
            })
            .collect();
        Ok(Self::from_dense_rows(n_bins, rows))
    }
}

/// The bins `first..end` between a row's first and last nonzero weight; None if all are zero.
fn nonzero_span(row: &[f32]) -> Option<(usize, usize)> {
    let first = row.iter().position(|&w| w != 0.0)?;
    let last = row.iter().rposition(|&w| w != 0.0)?;
    Some((first, last + 1))
}

fn nearest_bin(bin_hz: &[f64], freq_hz: f64) -> usize {
    // np.searchsorted (left), clipped to [1, len - 1], then step back if the lower bin is closer.
    let len = bin_hz.len();
    let index = bin_hz.partition_point(|&b| b < freq_hz).clamp(1, len - 1);
    let (left, right) = (bin_hz[index - 1], bin_hz[index]);
    if freq_hz - left < right - freq_hz {
        index - 1
    } else {
        index
    }
}

pub fn hz_to_mel(freq_hz: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 2595.0 * (1.0 + freq_hz / 700.0).log10(),
        MelScale::Slaney => {
            let f_sp = 200.0 / 3.0;
            let (min_log_hz, min_log_mel) = (1000.0, 1000.0 / f_sp);
            let logstep = 6.4f64.ln() / 27.0;
            if freq_hz >= min_log_hz {
                min_log_mel + (freq_hz / min_log_hz).ln() / logstep
            } else {
                freq_hz / f_sp
            }
        }
    }
}

pub fn mel_to_hz(mel: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 700.0 * (10f64.powf(mel / 2595.0) - 1.0),
        MelScale::Slaney => {
            let f_sp = 200.0 / 3.0;
            let (min_log_hz, min_log_mel) = (1000.0, 1000.0 / f_sp);
            let logstep = 6.4f64.ln() / 27.0;
            if mel >= min_log_mel {
                min_log_hz * (logstep * (mel - min_log_mel)).exp()
            } else {
                f_sp * mel
            }
        }
    }
}

/// librosa's `A_weighting(f, min_db=-80)` in dB.
pub fn a_weighting_db(freq_hz: f64) -> f64 {
    const MIN_DB: f64 = -80.0;
    let f_sq = freq_hz * freq_hz;
    let c = [12194.217f64, 20.598997, 107.65265, 737.86223].map(|x| x * x);
    let weight = 2.0
        + 20.0
            * (c[0].log10() + 2.0 * f_sq.log10()
                - (f_sq + c[0]).log10()
                - (f_sq + c[1]).log10()
                - 0.5 * (f_sq + c[2]).log10()
                - 0.5 * (f_sq + c[3]).log10());
    // At 0 Hz the formula gives -inf, which the floor turns into -80 dB, as librosa does.
    if weight.is_nan() {
        MIN_DB
    } else {
        weight.max(MIN_DB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks of bands (a whole one, then a partial one) holding bands that start at the
    /// first bin, end at the last, are narrow or wide, or are empty, against a plain dense
    /// product.
    #[test]
    fn band_blocks_match_the_dense_product() {
        for n_bins in [5usize, 8, 29, 513] {
            let mut spans = vec![(0, 1), (0, n_bins), (n_bins - 1, n_bins), (0, 0)];
            spans.extend((0..9).map(|i| (i * n_bins / 12, (i + 3) * n_bins / 12 + 1)));
            let rows: Vec<Vec<f32>> = spans
                .iter()
                .map(|&(start, stop)| {
                    (0..n_bins)
                        .map(|k| match (start..stop).contains(&k) {
                            true => 1.0 + (k % 7) as f32 * 0.25,
                            false => 0.0,
                        })
                        .collect()
                })
                .collect();
            let spectrum: Vec<f32> = (0..n_bins).map(|k| (k as f32 * 0.37).sin() + 1.5).collect();
            let bank = Filterbank::from_dense_rows(n_bins, rows.clone());
            let mut out = vec![f32::NAN; rows.len()];
            bank.apply(&spectrum, &mut out);
            for (band, (row, got)) in rows.iter().zip(&out).enumerate() {
                let want: f64 = (row.iter().zip(&spectrum))
                    .map(|(&w, &x)| f64::from(w) * f64::from(x))
                    .sum();
                assert!(
                    (f64::from(*got) - want).abs() <= 1e-5 * want.abs().max(1.0),
                    "{n_bins} bins, band {band}: {got} vs {want}"
                );
            }
        }
    }
}
