use super::*;

/// A model with AudioSet labels, each score made by hand.
const LABELS: &[(&str, &str)] = &[
    ("/m/0jbk", "Animal"),
    ("/m/068hy", "Domestic animals, pets"),
    ("/m/0bt9lr", "Dog"),
    ("/m/05tny_", "Bark"),
    ("/m/07rc7d9", "Bow-wow"),
    ("/m/01yrx", "Cat"),
    ("/m/09x0r", "Speech"),
    ("/m/04rlf", "Music"),
    ("/m/04szw", "Musical instrument"),
    ("/m/0342h", "Guitar"),
];

fn model() -> (Vec<String>, Hierarchy) {
    let ids: Vec<String> = LABELS.iter().map(|(id, _)| id.to_string()).collect();
    let labels = LABELS.iter().map(|(_, name)| name.to_string()).collect();
    let audioset = Ontology::named("audioset").expect("AudioSet is built in");
    (
        labels,
        Hierarchy::join(audioset, &ids).expect("all ids are AudioSet's"),
    )
}

fn index(name: &str) -> usize {
    LABELS.iter().position(|(_, n)| *n == name).unwrap()
}

fn names(rows: &[Ranked]) -> Vec<(String, usize)> {
    rows.iter()
        .map(|r| (LABELS[r.label].1.to_string(), r.depth))
        .collect()
}

/// The demos' complaint: a dog barking fills the top 5 with one dog.
fn barking() -> Vec<f32> {
    let mut scores = vec![0.0; LABELS.len()];
    for (name, score) in [
        ("Animal", 0.92),
        ("Domestic animals, pets", 0.85),
        ("Dog", 0.80),
        ("Bark", 0.60),
        ("Bow-wow", 0.20),
        ("Cat", 0.05),
        ("Speech", 0.30),
        ("Music", 0.10),
        ("Musical instrument", 0.04),
        ("Guitar", 0.03),
    ] {
        scores[index(name)] = score;
    }
    scores
}

#[test]
fn audioset_has_its_632_nodes_and_dog_sits_under_animal() {
    let audioset = Ontology::named("audioset").unwrap();
    assert_eq!(audioset.nodes.len(), 632);
    let dog = audioset.index_of("/m/0bt9lr").unwrap();
    let animal = audioset.index_of("/m/0jbk").unwrap();
    assert!(audioset.ancestors(dog).contains(&animal));
    assert!(Ontology::named("imagenet").is_none());
}

#[test]
fn all_mode_is_plain_score_order() {
    let (_, hierarchy) = model();
    let rows = rank(&barking(), &hierarchy, None, TopKMode::All, 5);
    assert_eq!(
        names(&rows),
        [
            ("Animal".into(), 0),
            ("Domestic animals, pets".into(), 0),
            ("Dog".into(), 0),
            ("Bark".into(), 0),
            ("Speech".into(), 0)
        ]
    );
}

#[test]
fn most_specific_mode_shows_bark_instead_of_the_dog_chain() {
    let (_, hierarchy) = model();
    let rows = rank(&barking(), &hierarchy, None, TopKMode::MostSpecific, 4);
    // Bark (0.60) is at least half of Dog (0.80), Domestic animals (0.85) and Animal (0.92):
    // all three give way. Bow-wow (0.20) is under half of Dog, so it hides nothing, and Music
    // (0.10) stays because Musical instrument (0.04) is under half of it.
    assert_eq!(
        names(&rows),
        [
            ("Bark".into(), 0),
            ("Speech".into(), 0),
            ("Bow-wow".into(), 0),
            ("Music".into(), 0)
        ]
    );
    let hidden: Vec<&str> = rows[0].hides.iter().map(|&l| LABELS[l].1).collect();
    assert_eq!(hidden, ["Animal", "Domestic animals, pets", "Dog"]);
    assert!(rows[1].hides.is_empty());
}

/// A shown child ranks by the strongest class it stands for, not by its own lower score.
#[test]
fn a_child_standing_for_its_parent_ranks_by_the_parent() {
    let (_, hierarchy) = model();
    let mut scores = vec![0.0; LABELS.len()];
    scores[index("Dog")] = 0.78;
    scores[index("Bark")] = 0.41;
    scores[index("Speech")] = 0.47;
    let rows = rank(&scores, &hierarchy, None, TopKMode::MostSpecific, 2);
    assert_eq!(names(&rows), [("Bark".into(), 0), ("Speech".into(), 0)]);
}

/// Bark takes over from Dog but not from Animal; Dog takes over from Animal. Animal still
/// belongs to the Bark row, through Dog, and lends it its score.
#[test]
fn hiding_follows_chains() {
    let (_, hierarchy) = model();
    let mut scores = vec![0.0; LABELS.len()];
    scores[index("Animal")] = 1.0;
    scores[index("Domestic animals, pets")] = 0.95;
    scores[index("Dog")] = 0.6;
    scores[index("Bark")] = 0.35;
    scores[index("Speech")] = 0.7;
    let rows = rank(&scores, &hierarchy, None, TopKMode::MostSpecific, 2);
    assert_eq!(names(&rows), [("Bark".into(), 0), ("Speech".into(), 0)]);
    let hidden: Vec<&str> = rows[0].hides.iter().map(|&l| LABELS[l].1).collect();
    assert_eq!(hidden, ["Animal", "Domestic animals, pets", "Dog"]);
}

/// Two children of one dog: only the stronger ranks by the dog's score.
#[test]
fn a_hidden_class_lends_its_score_to_one_row() {
    let (_, hierarchy) = model();
    let mut scores = vec![0.0; LABELS.len()];
    scores[index("Animal")] = 0.85;
    scores[index("Domestic animals, pets")] = 0.82;
    scores[index("Dog")] = 0.8;
    scores[index("Bark")] = 0.6;
    scores[index("Bow-wow")] = 0.45;
    scores[index("Speech")] = 0.7;
    let rows = rank(&scores, &hierarchy, None, TopKMode::MostSpecific, 3);
    assert_eq!(
        names(&rows),
        [
            ("Bark".into(), 0),
            ("Speech".into(), 0),
            ("Bow-wow".into(), 0)
        ]
    );
    // Bow-wow still names the dog it stands for; it just does not rank by it.
    assert_eq!(
        rows[2].hides,
        [
            index("Animal"),
            index("Domestic animals, pets"),
            index("Dog")
        ]
    );
}

#[test]
fn a_parent_stays_when_its_children_are_much_weaker() {
    let (_, hierarchy) = model();
    let mut scores = barking();
    scores[index("Bark")] = 0.39; // under half of Dog's 0.80
    let rows = rank(&scores, &hierarchy, None, TopKMode::MostSpecific, 2);
    // Dog stays; it covers Domestic animals (0.85) and Animal (0.92), being over half of each.
    assert_eq!(names(&rows), [("Dog".into(), 0), ("Bark".into(), 0)]);
    assert_eq!(rows[0].hides.len(), 2);
}

#[test]
fn grouped_mode_indents_children_under_their_parent() {
    let (_, hierarchy) = model();
    let mut scores = barking();
    scores[index("Speech")] = 0.9;
    let rows = rank(&scores, &hierarchy, None, TopKMode::Grouped, 6);
    assert_eq!(
        names(&rows),
        [
            ("Animal".into(), 0),
            ("Domestic animals, pets".into(), 1),
            ("Dog".into(), 2),
            ("Bark".into(), 3),
            ("Bow-wow".into(), 3),
            ("Speech".into(), 0),
        ]
    );
}

#[test]
fn a_flat_bundle_ranks_the_same_in_every_mode() {
    let scores = barking();
    let flat = Hierarchy::flat(scores.len());
    let all = rank(&scores, &flat, None, TopKMode::All, 5);
    assert_eq!(rank(&scores, &flat, None, TopKMode::MostSpecific, 5), all);
    assert_eq!(rank(&scores, &flat, None, TopKMode::Grouped, 5), all);
}

#[test]
fn nan_scores_rank_last_and_never_hide_a_parent() {
    let (_, hierarchy) = model();
    let mut scores = barking();
    scores[index("Bark")] = f32::NAN;
    let rows = rank(&scores, &hierarchy, None, TopKMode::MostSpecific, 1);
    assert_eq!(names(&rows), [("Dog".into(), 0)]);
}

#[test]
fn allow_a_subtree_deny_a_label() {
    let (labels, hierarchy) = model();
    let only_animals = ClassFilter {
        allow: vec!["animal".into()],
        deny: vec![],
    };
    let mask = only_animals.resolve(&labels, &hierarchy).unwrap();
    let kept: Vec<&str> = (0..labels.len())
        .filter(|&l| mask[l])
        .map(|l| LABELS[l].1)
        .collect();
    assert_eq!(
        kept,
        [
            "Animal",
            "Domestic animals, pets",
            "Dog",
            "Bark",
            "Bow-wow",
            "Cat"
        ]
    );

    // "Everything but Music", by MID, and an ontology node that is no label of the model:
    // "Human sounds" is abstract in AudioSet and holds Speech.
    let no_music = ClassFilter {
        allow: vec![],
        deny: vec!["/m/04rlf".into(), "Human sounds".into()],
    };
    let mask = no_music.resolve(&labels, &hierarchy).unwrap();
    let dropped: Vec<&str> = (0..labels.len())
        .filter(|&l| !mask[l])
        .map(|l| LABELS[l].1)
        .collect();
    assert_eq!(dropped, ["Speech", "Music", "Musical instrument", "Guitar"]);

    // A denied child no longer hides its parent.
    let no_bark = ClassFilter {
        allow: vec![],
        deny: vec!["Bark".into()],
    };
    let mask = no_bark.resolve(&labels, &hierarchy).unwrap();
    let rows = rank(
        &barking(),
        &hierarchy,
        Some(&mask),
        TopKMode::MostSpecific,
        1,
    );
    assert_eq!(names(&rows), [("Dog".into(), 0)]);
}

#[test]
fn filter_errors_name_the_entry() {
    let (labels, hierarchy) = model();
    let typo = ClassFilter {
        allow: vec!["Dgo".into()],
        deny: vec![],
    };
    let err = typo.resolve(&labels, &hierarchy).unwrap_err().to_string();
    assert!(err.contains("\"Dgo\" names no class"), "{err}");
    let near = ClassFilter {
        allow: vec!["domestic".into()],
        deny: vec![],
    };
    let err = near.resolve(&labels, &hierarchy).unwrap_err().to_string();
    assert!(err.contains("did you mean Domestic animals, pets"), "{err}");
    let nothing = ClassFilter {
        allow: vec!["Dog".into()],
        deny: vec!["Animal".into()],
    };
    assert_eq!(
        nothing.resolve(&labels, &hierarchy),
        Err(FilterError::Empty)
    );
    assert_eq!(
        ClassFilter::parse_list(" Dog ; Domestic animals, pets;;"),
        ["Dog", "Domestic animals, pets"]
    );
}

#[test]
fn joining_reports_unknown_and_repeated_ids_by_line() {
    let audioset = Ontology::named("audioset").unwrap();
    let err = Hierarchy::join(audioset, &["/m/0jbk".into(), "/m/nope".into()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 2: \"/m/nope\" is not an id in the audioset ontology"
    );
    let err = Hierarchy::join(audioset, &["/m/0jbk".into(), "/m/0jbk".into()]).unwrap_err();
    assert!(err.to_string().starts_with("lines 1 and 2 both name"));
}

#[test]
fn modes_parse_and_cycle() {
    assert_eq!("grouped".parse::<TopKMode>(), Ok(TopKMode::Grouped));
    assert!("specific".parse::<TopKMode>().is_err());
    assert_eq!(TopKMode::default(), TopKMode::MostSpecific);
    let mut mode = TopKMode::default();
    for _ in 0..3 {
        mode = mode.next();
    }
    assert_eq!(mode, TopKMode::default());
}

/// A bundle may word its labels its own way: naming the label still selects its subtree.
#[test]
fn a_label_worded_unlike_the_ontology_still_selects_its_subtree() {
    let (mut labels, hierarchy) = model();
    labels[index("Dog")] = "doggo".to_string();
    let filter = ClassFilter {
        allow: vec!["DOGGO".into()],
        deny: vec![],
    };
    let mask = filter.resolve(&labels, &hierarchy).unwrap();
    let kept: Vec<&str> = (0..labels.len())
        .filter(|&l| mask[l])
        .map(|l| LABELS[l].1)
        .collect();
    assert_eq!(kept, ["Dog", "Bark", "Bow-wow"]);
}
