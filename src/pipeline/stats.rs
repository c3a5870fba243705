//! Percentiles over a sliding set of recent measurements (latency, inference time).

use std::collections::VecDeque;

/// The last `capacity` values of a measurement.
#[derive(Debug, Clone)]
pub struct Percentiles {
    values: VecDeque<f64>,
    capacity: usize,
}

impl Percentiles {
    pub fn new(capacity: usize) -> Self {
        Self {
            values: VecDeque::with_capacity(capacity),
            capacity: capacity.max(1),
        }
    }

    pub fn push(&mut self, value: f64) {
        if self.values.len() == self.capacity {
            self.values.pop_front();
        }
        self.values.push_back(value);
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The `p`-th percentile (0..=100, nearest rank), or `None` before any value.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if self.values.is_empty() {
            return None;
        }
        let mut sorted: Vec<f64> = self.values.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        Some(sorted[rank.clamp(1, sorted.len()) - 1])
    }

    /// The newest value.
    pub fn latest(&self) -> Option<f64> {
        self.values.back().copied()
    }

    pub fn max(&self) -> Option<f64> {
        self.values.iter().copied().reduce(f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::Percentiles;

    #[test]
    fn nearest_rank_percentiles_over_the_window() {
        let mut p = Percentiles::new(100);
        assert_eq!(p.percentile(50.0), None);
        for v in 1..=200 {
            p.push(v as f64);
        }
        // Only 101..=200 remain.
        assert_eq!(p.len(), 100);
        assert_eq!(p.percentile(50.0), Some(150.0));
        assert_eq!(p.percentile(99.0), Some(199.0));
        assert_eq!(p.percentile(100.0), Some(200.0));
        assert_eq!(p.percentile(0.0), Some(101.0));
        assert_eq!(p.max(), Some(200.0));
    }
}
