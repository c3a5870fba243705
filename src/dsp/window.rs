//! Assembles model windows from a stream of rows (feature frames, or single samples for
//! waveform models).
//!
//! Windows end every `hop_rows` rows. A fixed-length model's first window ends at
//! `window_rows`. With `grow_from_min` (live use of a variable-length model), the first
//! window ends at `min_rows` and grows by a hop at a time until it reaches `window_rows`,
//! so predictions start as early as the model allows. [`Windower::finish`] adds one last
//! window when the hop grid left a tail uncovered: aligned to the end of the stream, or,
//! for stateful models (`zero_padded_tail`), the next window on the grid with zeros after
//! the last row, so that no row is fed to the model's state twice (silero's own rule).

/// Where windows fall, in rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowPlan {
    pub window_rows: usize,
    pub min_rows: usize,
    pub hop_rows: usize,
    pub grow_from_min: bool,
    pub zero_padded_tail: bool,
}

/// One model window: rows `start_row .. end_row` of the stream, time-major.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    pub start_row: u64,
    pub end_row: u64,
    /// `(end_row - start_row) * width` values.
    pub data: &'a [f32],
}

impl Window<'_> {
    pub fn rows(&self) -> usize {
        (self.end_row - self.start_row) as usize
    }
}

pub struct Windower {
    plan: WindowPlan,
    width: usize,
    /// Rows from `buf_start_row` on, `width` values each.
    buf: Vec<f32>,
    buf_start_row: u64,
    total_rows: u64,
    next_end_row: u64,
    last_end_row: Option<u64>,
}

impl Windower {
    /// `plan` must have `1 <= min_rows <= window_rows` and `hop_rows >= 1`; the bundle
    /// loader guarantees it.
    pub fn new(plan: WindowPlan, width: usize) -> Self {
        Self {
            plan,
            width,
            // Trimming happens once the buffer holds two windows, so it never grows past that.
            buf: Vec::with_capacity(2 * (plan.window_rows + plan.hop_rows) * width),
            buf_start_row: 0,
            total_rows: 0,
            next_end_row: first_end_row(&plan),
            last_end_row: None,
        }
    }

    /// Forgets all rows; keeps the buffer's allocation.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.buf_start_row = 0;
        self.total_rows = 0;
        self.next_end_row = first_end_row(&self.plan);
        self.last_end_row = None;
    }

    /// Adds whole rows (`rows.len()` must be a multiple of the width) and emits the
    /// windows they complete.
    pub fn push(&mut self, rows: &[f32], mut on_window: impl FnMut(Window<'_>)) {
        for row in rows.chunks_exact(self.width) {
            self.buf.extend_from_slice(row);
            self.total_rows += 1;
            if self.total_rows == self.next_end_row {
                let start = self.total_rows.saturating_sub(self.plan.window_rows as u64);
                self.emit(start, self.total_rows, &mut on_window);
                self.next_end_row += self.plan.hop_rows as u64;
            }
        }
        self.trim();
    }

    /// Ends the stream: if rows after the last window remain, emits one more window ending
    /// at the last row (as long as the model allows: at least `min_rows`), or with
    /// `zero_padded_tail` the next window on the grid, zero-filled past the last row. Then
    /// resets.
    pub fn finish(&mut self, mut on_window: impl FnMut(Window<'_>)) {
        let end = self.total_rows;
        let covered = self.last_end_row.is_some_and(|last| last >= end);
        if !covered && self.plan.zero_padded_tail && end > 0 {
            let padded_end = self.next_end_row;
            let missing_rows = (padded_end - end) as usize;
            self.buf
                .resize(self.buf.len() + missing_rows * self.width, 0.0);
            let start = padded_end.saturating_sub(self.plan.window_rows as u64);
            self.emit(start, padded_end, &mut on_window);
        } else if !covered && end >= self.plan.min_rows as u64 {
            let start = end.saturating_sub(self.plan.window_rows as u64);
            self.emit(start, end, &mut on_window);
        }
        self.reset();
    }

    fn emit(&mut self, start_row: u64, end_row: u64, on_window: &mut impl FnMut(Window<'_>)) {
        let from = (start_row - self.buf_start_row) as usize * self.width;
        let to = (end_row - self.buf_start_row) as usize * self.width;
        on_window(Window {
            start_row,
            end_row,
            data: &self.buf[from..to],
        });
        self.last_end_row = Some(end_row);
    }

    /// Drops rows no future window can use, once enough have piled up that the copy is cheap
    /// per row.
    fn trim(&mut self) {
        let keep_rows = self.plan.window_rows as u64;
        let buffered_rows = self.total_rows - self.buf_start_row;
        if buffered_rows >= 2 * keep_rows + self.plan.hop_rows as u64 {
            let drop_rows = buffered_rows - keep_rows;
            self.buf.drain(..drop_rows as usize * self.width);
            self.buf_start_row += drop_rows;
        }
    }
}

fn first_end_row(plan: &WindowPlan) -> u64 {
    let rows = if plan.grow_from_min {
        plan.min_rows
    } else {
        plan.window_rows
    };
    rows as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(plan: WindowPlan, total: usize, chunk: usize) -> Vec<(u64, u64, Vec<f32>)> {
        let rows: Vec<f32> = (0..total).map(|r| r as f32).collect();
        let mut windower = Windower::new(plan, 1);
        let mut out = Vec::new();
        for piece in rows.chunks(chunk) {
            windower.push(piece, |w| {
                out.push((w.start_row, w.end_row, w.data.to_vec()))
            });
        }
        windower.finish(|w| out.push((w.start_row, w.end_row, w.data.to_vec())));
        out
    }

    #[test]
    fn fixed_windows_slide_by_hop_and_cover_the_tail() {
        let plan = WindowPlan {
            window_rows: 4,
            min_rows: 4,
            hop_rows: 3,
            grow_from_min: false,
            zero_padded_tail: false,
        };
        let spans: Vec<(u64, u64)> = windows(plan, 12, 5).iter().map(|w| (w.0, w.1)).collect();
        assert_eq!(spans, vec![(0, 4), (3, 7), (6, 10), (8, 12)]);
        for (start, end, data) in windows(plan, 12, 1) {
            let expected: Vec<f32> = (start..end).map(|r| r as f32).collect();
            assert_eq!(data, expected);
        }
    }

    #[test]
    fn a_stateful_tail_is_the_next_grid_window_padded_with_zeros() {
        // silero's shape in small: 1 row of context + 2 new rows, hop 2.
        let plan = WindowPlan {
            window_rows: 3,
            min_rows: 3,
            hop_rows: 2,
            grow_from_min: false,
            zero_padded_tail: true,
        };
        let out = windows(plan, 8, 3);
        let spans: Vec<(u64, u64)> = out.iter().map(|w| (w.0, w.1)).collect();
        assert_eq!(spans, vec![(0, 3), (2, 5), (4, 7), (6, 9)]);
        assert_eq!(out[3].2, vec![6.0, 7.0, 0.0]);
        // A stream that ends on the grid needs no tail.
        let spans: Vec<(u64, u64)> = windows(plan, 7, 3).iter().map(|w| (w.0, w.1)).collect();
        assert_eq!(spans, vec![(0, 3), (2, 5), (4, 7)]);
        // Shorter than one window: one window, zero-padded.
        assert_eq!(windows(plan, 2, 2)[0].2, vec![0.0, 1.0, 0.0]);
    }

    #[test]
    fn growing_windows_start_at_min_rows() {
        let plan = WindowPlan {
            window_rows: 6,
            min_rows: 2,
            hop_rows: 2,
            grow_from_min: true,
            zero_padded_tail: false,
        };
        let spans: Vec<(u64, u64)> = windows(plan, 10, 3).iter().map(|w| (w.0, w.1)).collect();
        assert_eq!(spans, vec![(0, 2), (0, 4), (0, 6), (2, 8), (4, 10)]);
    }

    #[test]
    fn short_stream_gives_one_window_only_if_at_least_min_rows() {
        let variable = WindowPlan {
            window_rows: 10,
            min_rows: 3,
            hop_rows: 10,
            grow_from_min: false,
            zero_padded_tail: false,
        };
        let spans: Vec<(u64, u64)> = windows(variable, 5, 2).iter().map(|w| (w.0, w.1)).collect();
        assert_eq!(spans, vec![(0, 5)]);
        assert!(windows(variable, 2, 2).is_empty());
    }

    #[test]
    fn long_streams_keep_the_buffer_bounded() {
        let plan = WindowPlan {
            window_rows: 8,
            min_rows: 8,
            hop_rows: 1,
            grow_from_min: false,
            zero_padded_tail: false,
        };
        let mut windower = Windower::new(plan, 3);
        let capacity = windower.buf.capacity();
        let row = [1.0f32; 3];
        let mut count = 0;
        for _ in 0..10_000 {
            windower.push(&row, |w| {
                assert_eq!(w.rows(), 8);
                count += 1;
            });
        }
        assert_eq!(count, 10_000 - 7);
        assert_eq!(
            windower.buf.capacity(),
            capacity,
            "the window buffer reallocated"
        );
    }
}
