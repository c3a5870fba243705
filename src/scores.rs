//! What a model's scores become once scored, alike for files (`tagger`) and live audio
//! (the window's view): framewise outputs of overlapping windows stitched into one stream
//! of frames at absolute times ([`FrameStitcher`], [`FrameRow`]), and a window's best
//! classes ([`top_k`]). Kept apart from both paths so that they share one rule.

/// One row of a framewise output: one probability per label at an absolute time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameRow<'a> {
    /// Position on the output's frame grid: `round(window start * frame rate) + frame`.
    /// Strictly increasing along a stream.
    pub index: u64,
    /// Start of the frame, in seconds of input audio: window start + frame / frame rate.
    pub time_secs: f64,
    /// One probability per label (after the output's activation).
    pub scores: &'a [f32],
}

/// Turns per-window framewise outputs into one stream of frames.
///
/// Rule for overlapping windows: **each frame is taken once, from the first window that
/// covers it**; a later window only contributes the frames past the last one already
/// given (frame positions are compared on the output's grid, `round(start * rate) + k`).
/// Why not average the overlaps: averaging must hold every frame back until the last
/// window covering it has been scored (`window - hop` later, 0.5 s for a 1 s window at
/// 0.5 s hop), which the live detector cannot afford, and it would make the live and file
/// results differ. First-come keeps one rule for both, adds no delay, and with
/// `hop = window` it is exactly the model's output. Its cost: the frames at a window's end
/// see less right-hand context than they would in the middle of the next window.
/// Frames starting at or after `end_secs` (the silence a short file or a stateful model's
/// tail is padded with) are dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameStitcher {
    frame_rate_hz: f64,
    end_secs: f64,
    next_index: u64,
}

impl FrameStitcher {
    /// `end_secs`: where the real audio ends (`f64::INFINITY` for a live stream).
    pub fn new(frame_rate_hz: f64, end_secs: f64) -> Self {
        Self {
            frame_rate_hz,
            end_secs,
            next_index: 0,
        }
    }

    pub fn frame_rate_hz(&self) -> f64 {
        self.frame_rate_hz
    }

    /// Where the real audio ends, once known: a file's length is known only when its stream
    /// ends, after windows have been scored. Frames starting at or after it are dropped.
    pub fn set_end_secs(&mut self, end_secs: f64) {
        self.end_secs = end_secs;
    }

    /// Forgets which frames were given, for a new stream.
    pub fn reset(&mut self) {
        self.next_index = 0;
    }

    /// Hands over the frames of one window (`frames.len()` a multiple of `n_classes`)
    /// that no earlier window covered.
    pub fn window(
        &mut self,
        start_secs: f64,
        frames: &[f32],
        n_classes: usize,
        mut on_frame: impl FnMut(FrameRow<'_>),
    ) {
        let first = (start_secs * self.frame_rate_hz).round().max(0.0) as u64;
        for (k, scores) in frames.chunks_exact(n_classes.max(1)).enumerate() {
            let index = first + k as u64;
            let time_secs = start_secs + k as f64 / self.frame_rate_hz;
            if index < self.next_index || time_secs >= self.end_secs {
                continue;
            }
            self.next_index = index + 1;
            on_frame(FrameRow {
                index,
                time_secs,
                scores,
            });
        }
    }
}

/// Indices of the `k` best scores, best first.
pub fn top_k(scores: &[f32], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order.truncate(k);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (index, time, first score) of every frame handed over.
    fn stitch(
        stitcher: &mut FrameStitcher,
        start_secs: f64,
        frames: &[f32],
    ) -> Vec<(u64, f64, f32)> {
        let mut out = Vec::new();
        stitcher.window(start_secs, frames, 2, |f| {
            out.push((f.index, (f.time_secs * 1e9).round() / 1e9, f.scores[0]))
        });
        out
    }

    #[test]
    fn each_frame_comes_once_from_the_first_window_covering_it() {
        // 10 frames per second, 2 classes, windows of 4 frames every 2.
        let mut s = FrameStitcher::new(10.0, f64::INFINITY);
        let w0 = [0.0, 9.0, 0.1, 9.0, 0.2, 9.0, 0.3, 9.0];
        let w1 = [1.2, 9.0, 1.3, 9.0, 1.4, 9.0, 1.5, 9.0];
        assert_eq!(
            stitch(&mut s, 0.0, &w0),
            [(0, 0.0, 0.0), (1, 0.1, 0.1), (2, 0.2, 0.2), (3, 0.3, 0.3)]
        );
        // Frames 2 and 3 were given by the first window: only 4 and 5 are new.
        assert_eq!(stitch(&mut s, 0.2, &w1), [(4, 0.4, 1.4), (5, 0.5, 1.5)]);
        // A tail window aligned to the end of the audio, off the frame grid: it starts at
        // 0.37 s, position round(3.7) = 4, so its frames 2 and 3 are new, at its own times.
        assert_eq!(stitch(&mut s, 0.37, &w1), [(6, 0.57, 1.4), (7, 0.67, 1.5)]);
        s.reset();
        assert_eq!(stitch(&mut s, 0.2, &w1).len(), 4);
    }

    #[test]
    fn frames_of_the_padding_after_the_audio_are_dropped() {
        let mut s = FrameStitcher::new(10.0, 0.25);
        let w = [0.0, 0.0, 0.1, 0.0, 0.2, 0.0, 0.3, 0.0];
        assert_eq!(
            stitch(&mut s, 0.0, &w),
            [(0, 0.0, 0.0), (1, 0.1, 0.1), (2, 0.2, 0.2)]
        );
    }

    #[test]
    fn top_k_is_best_first_and_at_most_k() {
        let scores = [0.1, 0.9, 0.5, 0.7];
        assert_eq!(top_k(&scores, 2), [1, 3]);
        assert_eq!(top_k(&scores, 10), [1, 3, 2, 0]);
        assert!(top_k(&scores, 0).is_empty());
    }
}
