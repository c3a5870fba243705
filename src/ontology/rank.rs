//! The rows of a top-k list, in the chosen [`TopKMode`].

use super::Hierarchy;

/// How much of its parent's score a child needs for the parent to give way to it in
/// [`TopKMode::MostSpecific`]: a child at half its parent's score or more is taken as saying
/// the same thing more precisely ("Bark 0.6" over "Dog 0.8"); one far below it ("Bow-wow
/// 0.2") is not, and the parent stays.
pub const COMPARABLE_SCORE_RATIO: f32 = 0.5;

/// How a top-k list treats classes that are ancestors of other classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TopKMode {
    /// Every class on its own score, parents and children alike.
    All,
    /// A class is hidden while one of its descendants scores at least
    /// [`COMPARABLE_SCORE_RATIO`] of its score; the descendant (or a still more specific
    /// one) is shown in its place, names the classes it hides, and is ranked by the
    /// strongest score among itself and them: "Cluck 0.41" standing for "Chicken 0.78"
    /// ranks as 0.78, above an unrelated "Bird 0.47".
    #[default]
    MostSpecific,
    /// The top k by score, each child indented under its nearest shown ancestor.
    Grouped,
}

impl TopKMode {
    pub const ALL: [TopKMode; 3] = [TopKMode::MostSpecific, TopKMode::Grouped, TopKMode::All];

    pub fn name(self) -> &'static str {
        match self {
            TopKMode::All => "all",
            TopKMode::MostSpecific => "most-specific",
            TopKMode::Grouped => "grouped",
        }
    }

    /// The next mode, for a key that cycles through them.
    pub fn next(self) -> Self {
        let at = Self::ALL.iter().position(|&m| m == self).unwrap_or(0);
        Self::ALL[(at + 1) % Self::ALL.len()]
    }
}

impl std::fmt::Display for TopKMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for TopKMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == text)
            .ok_or_else(|| format!("\"{text}\" is not a top-k mode (all, most-specific, grouped)"))
    }
}

/// One row of a top-k list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    pub label: usize,
    /// Indentation: 0, or how many shown ancestors it sits under (grouped mode).
    pub depth: usize,
    /// Most-specific mode: the ancestors this row hides, most general first.
    pub hides: Vec<usize>,
}

/// The top `k` rows for `scores`. `allowed` (from [`super::ClassFilter::resolve`]) removes
/// classes before anything else, so a denied child never hides its parent. NaN scores rank
/// last.
pub fn rank(
    scores: &[f32],
    hierarchy: &Hierarchy,
    allowed: Option<&[bool]>,
    mode: TopKMode,
    k: usize,
) -> Vec<Ranked> {
    let n = scores.len().min(hierarchy.len());
    let shown = |label: usize| allowed.is_none_or(|a| a.get(label).copied().unwrap_or(false));
    let score = |label: usize| {
        let s = scores[label];
        if s.is_nan() {
            f32::NEG_INFINITY
        } else {
            s
        }
    };
    let by_score = |labels: &mut Vec<usize>| {
        labels.sort_by(|&a, &b| score(b).total_cmp(&score(a)).then(a.cmp(&b)));
    };
    let mut candidates: Vec<usize> = (0..n).filter(|&l| shown(l)).collect();
    match mode {
        TopKMode::All => {
            by_score(&mut candidates);
            candidates.truncate(k);
            candidates
                .into_iter()
                .map(|label| Ranked {
                    label,
                    depth: 0,
                    hides: Vec::new(),
                })
                .collect()
        }
        TopKMode::MostSpecific => {
            let gives_way = |child: usize, parent: usize| {
                score(child) >= COMPARABLE_SCORE_RATIO * score(parent)
                    && score(child) > f32::NEG_INFINITY
            };
            let mut covered = vec![false; n];
            for &child in &candidates {
                for &parent in hierarchy.label_ancestors(child) {
                    if parent < n && gives_way(child, parent) {
                        covered[parent] = true;
                    }
                }
            }
            candidates.retain(|&l| !covered[l]);
            let mut rows: Vec<(f32, Ranked)> = candidates
                .into_iter()
                .map(|label| {
                    let mut hides: Vec<usize> = hierarchy
                        .label_ancestors(label)
                        .iter()
                        .copied()
                        .filter(|&p| p < n && shown(p) && gives_way(label, p))
                        .collect();
                    hides.sort_by_key(|&p| hierarchy.label_ancestors(p).len());
                    let strongest = hides.iter().map(|&p| score(p)).fold(score(label), f32::max);
                    let row = Ranked {
                        label,
                        depth: 0,
                        hides,
                    };
                    (strongest, row)
                })
                .collect();
            rows.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.label.cmp(&b.1.label)));
            rows.truncate(k);
            rows.into_iter().map(|(_, row)| row).collect()
        }
        TopKMode::Grouped => {
            by_score(&mut candidates);
            candidates.truncate(k);
            grouped(&candidates, hierarchy)
        }
    }
}

/// Lays `chosen` (best first) out as a forest: each label under its deepest chosen
/// ancestor, siblings in score order.
fn grouped(chosen: &[usize], hierarchy: &Hierarchy) -> Vec<Ranked> {
    let parent_of = |label: usize| -> Option<usize> {
        hierarchy
            .label_ancestors(label)
            .iter()
            .copied()
            .filter(|a| chosen.contains(a))
            .max_by_key(|&a| hierarchy.label_ancestors(a).len())
    };
    let parents: Vec<Option<usize>> = chosen.iter().map(|&l| parent_of(l)).collect();
    let mut rows = Vec::with_capacity(chosen.len());
    let mut stack: Vec<(usize, usize)> = chosen
        .iter()
        .zip(&parents)
        .filter(|(_, p)| p.is_none())
        .map(|(&l, _)| (l, 0))
        .rev()
        .collect();
    while let Some((label, depth)) = stack.pop() {
        rows.push(Ranked {
            label,
            depth,
            hides: Vec::new(),
        });
        stack.extend(
            chosen
                .iter()
                .zip(&parents)
                .filter(|(_, p)| **p == Some(label))
                .map(|(&child, _)| (child, depth + 1))
                .rev(),
        );
    }
    rows
}

/// A resolved top-k setting: how many rows, which mode, and which classes may appear.
#[derive(Debug, Clone, PartialEq)]
pub struct TopK {
    pub k: usize,
    pub mode: TopKMode,
    /// Per label, whether the allow and deny lists let it be shown; `None`: all may.
    allowed: Option<Vec<bool>>,
}

impl TopK {
    /// Checks `filter` against the labels once, so ranking a row cannot fail.
    pub fn new(
        k: usize,
        mode: TopKMode,
        filter: &super::ClassFilter,
        labels: &[String],
        hierarchy: &Hierarchy,
    ) -> Result<Self, super::FilterError> {
        let allowed = if filter.is_empty() {
            None
        } else {
            Some(filter.resolve(labels, hierarchy)?)
        };
        Ok(Self { k, mode, allowed })
    }

    /// Every class, `k` rows.
    pub fn plain(k: usize, mode: TopKMode) -> Self {
        Self {
            k,
            mode,
            allowed: None,
        }
    }

    pub fn rank(&self, scores: &[f32], hierarchy: &Hierarchy) -> Vec<Ranked> {
        rank(
            scores,
            hierarchy,
            self.allowed.as_deref(),
            self.mode,
            self.k,
        )
    }
}
