//! Class hierarchies, and the top classes a person is shown.
//!
//! A bundle may say which ontology its labels belong to (`[ontology] name = "audioset"`,
//! with one ontology id per label). Its labels are then joined to that ontology once, at
//! load, into a [`Hierarchy`]: for every label, its ancestors among the ontology's nodes and
//! among the model's own labels. Code never names a model; the only ontology livetag knows
//! by name is AudioSet's (632 nodes, from the `soundevents-dataset` crate, CC BY-SA 4.0,
//! Google).
//!
//! [`rank`] turns one row of scores into the rows shown, in one of three [`TopKMode`]s, after
//! a [`ClassFilter`] (allow and deny lists by label or by ontology subtree).

mod filter;
mod rank;

use std::collections::HashMap;
use std::sync::OnceLock;

pub use filter::{ClassFilter, FilterError, Selector};
pub use rank::{rank, Ranked, TopK, TopKMode, COMPARABLE_SCORE_RATIO};

/// The AudioSet ontology's attribution, for the About box, `inspect` and NOTICE.md; its
/// licence asks for it wherever it is redistributed.
pub const AUDIOSET_ATTRIBUTION: &str = "AudioSet ontology by Google Inc., CC BY-SA 4.0 \
     (via the soundevents-dataset crate)";

/// One node of an ontology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The ontology's own id, e.g. the AudioSet MID `/m/0bt9lr` (Dog).
    pub id: String,
    pub name: String,
    pub children: Vec<usize>,
    pub parents: Vec<usize>,
}

/// A directed acyclic graph of classes (a node may have several parents: AudioSet's
/// "Bow-wow" is under "Dog" only, but "Hiss" sits under "Cat", "Snake" and "Steam").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ontology {
    pub name: &'static str,
    pub attribution: &'static str,
    pub nodes: Vec<Node>,
    by_id: HashMap<String, usize>,
}

impl Ontology {
    /// The ontologies livetag knows, by the name a bundle uses.
    pub fn named(name: &str) -> Option<&'static Ontology> {
        match name {
            "audioset" => Some(audioset()),
            _ => None,
        }
    }

    /// Names a bundle may give in `[ontology] name`.
    pub const KNOWN: &'static [&'static str] = &["audioset"];

    /// Builds an ontology from `(id, name, child ids)` rows; children must be ids of rows.
    pub fn from_rows(
        name: &'static str,
        attribution: &'static str,
        rows: &[(&str, &str, Vec<&str>)],
    ) -> Self {
        let by_id: HashMap<String, usize> = rows
            .iter()
            .enumerate()
            .map(|(i, (id, _, _))| (id.to_string(), i))
            .collect();
        let mut nodes: Vec<Node> = rows
            .iter()
            .map(|(id, name, _)| Node {
                id: id.to_string(),
                name: name.to_string(),
                children: Vec::new(),
                parents: Vec::new(),
            })
            .collect();
        for (parent, (_, _, children)) in rows.iter().enumerate() {
            for child in children {
                if let Some(&child) = by_id.get(*child) {
                    nodes[parent].children.push(child);
                    nodes[child].parents.push(parent);
                }
            }
        }
        Self {
            name,
            attribution,
            nodes,
            by_id,
        }
    }

    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// Every node that `node` descends from, itself excluded, each once.
    pub fn ancestors(&self, node: usize) -> Vec<usize> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<usize> = self.nodes[node].parents.clone();
        let mut out = Vec::new();
        while let Some(n) = stack.pop() {
            if !std::mem::replace(&mut seen[n], true) {
                out.push(n);
                stack.extend(&self.nodes[n].parents);
            }
        }
        out.sort_unstable();
        out
    }

    /// Nodes whose name or id is `text` (names compared without regard to case).
    pub fn find(&self, text: &str) -> Vec<usize> {
        let text = text.trim();
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.id == text || n.name.eq_ignore_ascii_case(text))
            .map(|(i, _)| i)
            .collect()
    }
}

fn audioset() -> &'static Ontology {
    static AUDIOSET: OnceLock<Ontology> = OnceLock::new();
    AUDIOSET.get_or_init(|| {
        use soundevents_dataset::ontology::SoundEvent;
        let rows: Vec<(&str, &str, Vec<&str>)> = SoundEvent::events()
            .iter()
            .map(|e| {
                (
                    e.mid(),
                    e.name(),
                    e.children().iter().map(|c| c.mid()).collect(),
                )
            })
            .collect();
        Ontology::from_rows("audioset", AUDIOSET_ATTRIBUTION, &rows)
    })
}

/// A bundle's labels joined to an ontology, or a flat list when the bundle names none.
#[derive(Debug, Clone, PartialEq)]
pub struct Hierarchy {
    ontology: Option<&'static Ontology>,
    /// Per label: its ontology node.
    nodes: Vec<Option<usize>>,
    /// Per label: ontology nodes it descends from (not itself), sorted.
    node_ancestors: Vec<Vec<usize>>,
    /// Per label: the model's labels it descends from, sorted.
    label_ancestors: Vec<Vec<usize>>,
}

/// Why a bundle's label ids do not join its ontology.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    #[error("unknown ontology \"{name}\" (livetag knows: {})", Ontology::KNOWN.join(", "))]
    UnknownOntology { name: String },
    #[error("{ids} ids for {labels} labels; give one id per label, in label order")]
    Count { ids: usize, labels: usize },
    #[error("line {line}: \"{id}\" is not an id in the {ontology} ontology")]
    UnknownId {
        line: usize,
        id: String,
        ontology: &'static str,
    },
    #[error("lines {first} and {second} both name \"{id}\"; each class appears once")]
    Duplicate {
        first: usize,
        second: usize,
        id: String,
    },
}

impl Hierarchy {
    /// Labels with no hierarchy: every mode ranks them as [`TopKMode::All`] does.
    pub fn flat(labels: usize) -> Self {
        Self {
            ontology: None,
            nodes: vec![None; labels],
            node_ancestors: vec![Vec::new(); labels],
            label_ancestors: vec![Vec::new(); labels],
        }
    }

    /// Joins one ontology id per label to `ontology`.
    pub fn join(ontology: &'static Ontology, ids: &[String]) -> Result<Self, JoinError> {
        let mut nodes = Vec::with_capacity(ids.len());
        let mut label_of_node: HashMap<usize, usize> = HashMap::new();
        for (label, id) in ids.iter().enumerate() {
            let node = ontology.index_of(id).ok_or_else(|| JoinError::UnknownId {
                line: label + 1,
                id: id.clone(),
                ontology: ontology.name,
            })?;
            if let Some(first) = label_of_node.insert(node, label) {
                return Err(JoinError::Duplicate {
                    first: first + 1,
                    second: label + 1,
                    id: id.clone(),
                });
            }
            nodes.push(Some(node));
        }
        let node_ancestors: Vec<Vec<usize>> = nodes
            .iter()
            .map(|n| n.map(|n| ontology.ancestors(n)).unwrap_or_default())
            .collect();
        let label_ancestors = node_ancestors
            .iter()
            .map(|ancestors| {
                let mut labels: Vec<usize> = ancestors
                    .iter()
                    .filter_map(|n| label_of_node.get(n).copied())
                    .collect();
                labels.sort_unstable();
                labels
            })
            .collect();
        Ok(Self {
            ontology: Some(ontology),
            nodes,
            node_ancestors,
            label_ancestors,
        })
    }

    pub fn ontology(&self) -> Option<&'static Ontology> {
        self.ontology
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The model's labels that `label` descends from.
    pub fn label_ancestors(&self, label: usize) -> &[usize] {
        &self.label_ancestors[label]
    }

    /// Whether `ancestor` is `label` itself or one of its ancestors among the labels.
    pub fn is_self_or_ancestor(&self, ancestor: usize, label: usize) -> bool {
        ancestor == label || self.label_ancestors[label].binary_search(&ancestor).is_ok()
    }

    /// The ontology node of `label`.
    fn node(&self, label: usize) -> Option<usize> {
        self.nodes[label]
    }

    /// Whether `label` is ontology node `node` or lies in its subtree.
    fn in_subtree(&self, label: usize, node: usize) -> bool {
        self.nodes[label] == Some(node) || self.node_ancestors[label].binary_search(&node).is_ok()
    }
}

#[cfg(test)]
mod tests;
