//! The rows of a top-k list, in the chosen [`TopKMode`].

use super::Hierarchy;

/// How much of an ancestor's score a class needs for the ancestor to give way to it in
/// [`TopKMode::MostSpecific`]: a class at half its ancestor's score or more is taken as
/// saying the same thing more precisely ("Bark 0.6" over "Dog 0.8"); one far below it
/// ("Bow-wow 0.2") is not, and the ancestor stays.
pub const COMPARABLE_SCORE_RATIO: f32 = 0.5;

/// How a top-k list treats classes that are ancestors of other classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TopKMode {
    /// Every class on its own score, parents and children alike.
    All,
    /// A class is hidden while one of its descendants scores at least
    /// [`COMPARABLE_SCORE_RATIO`] of its score; the descendant (or a still more specific
    /// one) is shown in its place and names every class it stands for, through chains of
    /// such steps. A row ranks by the strongest score among itself and the hidden classes
    /// it stands for, each hidden class counting for its strongest row only: "Cluck 0.41"
    /// standing for "Chicken 0.78" ranks as 0.78, above an unrelated "Bird 0.47".
    #[default]
    MostSpecific,
    /// The top k by score, each child indented under its nearest shown ancestor.
    Grouped,
}

impl TopKMode {
    pub const MODES: [TopKMode; 3] = [TopKMode::MostSpecific, TopKMode::Grouped, TopKMode::All];

    pub fn name(self) -> &'static str {
        match self {
            TopKMode::All => "all",
            TopKMode::MostSpecific => "most-specific",
            TopKMode::Grouped => "grouped",
        }
    }

    /// The next mode, for a key that cycles through them.
    pub fn next(self) -> Self {
        let at = Self::MODES.iter().position(|&m| m == self).unwrap_or(0);
        Self::MODES[(at + 1) % Self::MODES.len()]
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
        Self::MODES
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
        TopKMode::MostSpecific => most_specific(&candidates, &score, hierarchy, k),
        TopKMode::Grouped => {
            by_score(&mut candidates);
            candidates.truncate(k);
            grouped(&candidates, hierarchy)
        }
    }
}

/// [`TopKMode::MostSpecific`] over the shown `candidates`.
fn most_specific(
    candidates: &[usize],
    score: &impl Fn(usize) -> f32,
    hierarchy: &Hierarchy,
    k: usize,
) -> Vec<Ranked> {
    let is_candidate = |label: usize| candidates.binary_search(&label).is_ok();
    let gives_way = |child: usize, ancestor: usize| {
        score(child) > f32::NEG_INFINITY && score(child) >= COMPARABLE_SCORE_RATIO * score(ancestor)
    };
    // A class is covered when a descendant takes over from it. A row stands for everything
    // it reaches through such steps, so a class covered only by a covered class still
    // belongs to a row (Bark -> Dog -> Animal).
    let takes_over = |label: usize| -> Vec<usize> {
        hierarchy
            .label_ancestors(label)
            .iter()
            .copied()
            .filter(|&a| is_candidate(a) && gives_way(label, a))
            .collect()
    };
    let covered: Vec<bool> = {
        let mut covered = vec![false; hierarchy.len()];
        for &label in candidates {
            for ancestor in takes_over(label) {
                covered[ancestor] = true;
            }
        }
        covered
    };
    let rows: Vec<Ranked> = candidates
        .iter()
        .copied()
        .filter(|&l| !covered[l])
        .map(|label| {
            let mut hides = Vec::new();
            let mut frontier = vec![label];
            while let Some(next) = frontier.pop() {
                for ancestor in takes_over(next) {
                    if !hides.contains(&ancestor) {
                        hides.push(ancestor);
                        frontier.push(ancestor);
                    }
                }
            }
            hides.sort_by_key(|&a| (hierarchy.label_ancestors(a).len(), a));
            Ranked {
                label,
                depth: 0,
                hides,
            }
        })
        .collect();
    // Each hidden class lends its score to one row only, the strongest that stands for it,
    // so Bark and Bow-wow under one Dog do not both rank as the dog.
    let mut rank_score: Vec<f32> = rows.iter().map(|r| score(r.label)).collect();
    let hidden: Vec<usize> = (0..hierarchy.len()).filter(|&l| covered[l]).collect();
    for ancestor in hidden {
        let owner = (0..rows.len())
            .filter(|&r| rows[r].hides.contains(&ancestor))
            .max_by(|&a, &b| score(rows[a].label).total_cmp(&score(rows[b].label)));
        if let Some(owner) = owner {
            rank_score[owner] = rank_score[owner].max(score(ancestor));
        }
    }
    let mut ranked: Vec<(f32, Ranked)> = rank_score.into_iter().zip(rows).collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.label.cmp(&b.1.label)));
    ranked.truncate(k);
    ranked.into_iter().map(|(_, row)| row).collect()
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
