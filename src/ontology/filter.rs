//! Allow and deny lists: "only Animal", "everything but Music".

use super::Hierarchy;

/// One entry of an allow or deny list, as the user wrote it: a label, or (when the bundle
/// has an ontology) an ontology node by name or id, meaning that node's whole subtree.
pub type Selector = String;

/// Which classes may be shown. Empty `allow` allows every class; `deny` wins over `allow`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClassFilter {
    pub allow: Vec<Selector>,
    pub deny: Vec<Selector>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("\"{text}\" names no class of this model{hint}")]
    Unknown { text: String, hint: String },
    #[error("the allow and deny lists leave no class to show")]
    Empty,
}

impl ClassFilter {
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }

    /// Parses a `;`-separated list (labels contain commas: "Domestic animals, pets").
    pub fn parse_list(text: &str) -> Vec<Selector> {
        text.split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Per label, whether it may be shown. Every selector must name something.
    pub fn resolve(
        &self,
        labels: &[String],
        hierarchy: &Hierarchy,
    ) -> Result<Vec<bool>, FilterError> {
        let allow = self
            .allow
            .iter()
            .map(|s| matches(s, labels, hierarchy))
            .collect::<Result<Vec<_>, _>>()?;
        let deny = self
            .deny
            .iter()
            .map(|s| matches(s, labels, hierarchy))
            .collect::<Result<Vec<_>, _>>()?;
        let mask: Vec<bool> = (0..labels.len())
            .map(|label| {
                (allow.is_empty() || allow.iter().any(|m| m[label]))
                    && !deny.iter().any(|m| m[label])
            })
            .collect();
        if mask.iter().any(|&keep| keep) {
            Ok(mask)
        } else {
            Err(FilterError::Empty)
        }
    }
}

/// The labels `text` selects: a label by name (and, with an ontology, everything under it),
/// or an ontology node by name or id and everything under it.
fn matches(text: &str, labels: &[String], hierarchy: &Hierarchy) -> Result<Vec<bool>, FilterError> {
    let text = text.trim();
    let mut selected: Vec<bool> = labels
        .iter()
        .map(|l| l.eq_ignore_ascii_case(text))
        .collect();
    if let Some(ontology) = hierarchy.ontology() {
        // The ontology nodes meant: those of labels named `text` (a bundle's label may be
        // worded unlike the ontology's name), and nodes named or identified by `text`.
        let mut nodes: Vec<usize> = (0..labels.len())
            .filter(|&l| selected[l])
            .filter_map(|l| hierarchy.node(l))
            .collect();
        nodes.extend(ontology.find(text));
        for node in nodes {
            for (label, keep) in selected.iter_mut().enumerate() {
                *keep |= hierarchy.in_subtree(label, node);
            }
        }
    }
    if selected.iter().any(|&s| s) {
        return Ok(selected);
    }
    let lower = text.to_lowercase();
    let mut near: Vec<&str> = labels
        .iter()
        .filter(|l| l.to_lowercase().contains(&lower))
        .map(String::as_str)
        .take(3)
        .collect();
    if let Some(ontology) = hierarchy.ontology() {
        near.extend(
            ontology
                .nodes
                .iter()
                .filter(|n| n.name.to_lowercase().contains(&lower))
                .map(|n| n.name.as_str())
                .take(3usize.saturating_sub(near.len())),
        );
    }
    let hint = if near.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", near.join(" / "))
    };
    Err(FilterError::Unknown {
        text: text.to_string(),
        hint,
    })
}
