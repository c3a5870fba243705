//! Metrics with hand-computed expected values, and list parsing.

use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn rank_breaks_ties_by_label_order() {
    let scores = [0.2, 0.5, 0.2, 0.1];
    assert_eq!(rank(&scores, 1), 1);
    assert_eq!(rank(&scores, 0), 2);
    assert_eq!(rank(&scores, 2), 3);
    assert_eq!(rank(&scores, 3), 4);
}

#[test]
fn tagging_metrics_by_hand() {
    // Labels a b c d. True label, its rank, MAP@3 term:
    //   a  [0.7 0.2 0.1 0.0]      rank 1  1
    //   b  [0.5 0.3 0.2 0.0]      rank 2  1/2
    //   c  [0.4 0.3 0.2 0.1]      rank 3  1/3
    //   c  [0.1 0.2 0.3 0.4]      rank 2  1/2
    //   d  [0.4 0.3 0.2 0.1]      rank 4  0
    //   a  [0.25 0.25 0.25 0.25]  rank 1 (tie, lower index first)  1
    // accuracy 2/6; MAP@3 (1 + 1/2 + 1/3 + 1/2 + 0 + 1) / 6 = 5/9;
    // class-wise accuracy a 2/2, b 0/1, c 0/2, d 0/1: macro 1/4.
    let clips: Vec<(usize, Vec<f32>)> = vec![
        (0, vec![0.7, 0.2, 0.1, 0.0]),
        (1, vec![0.5, 0.3, 0.2, 0.0]),
        (2, vec![0.4, 0.3, 0.2, 0.1]),
        (2, vec![0.1, 0.2, 0.3, 0.4]),
        (3, vec![0.4, 0.3, 0.2, 0.1]),
        (0, vec![0.25, 0.25, 0.25, 0.25]),
    ];
    let m = tag_metrics(clips.iter().map(|(t, s)| (*t, s.as_slice())));
    assert_eq!(m.clips, 6);
    assert_eq!(m.correct, 2);
    assert!(close(m.accuracy, 2.0 / 6.0), "{}", m.accuracy);
    assert!(close(m.map_at_3, 5.0 / 9.0), "{}", m.map_at_3);
    assert!(close(m.macro_accuracy, 0.25), "{}", m.macro_accuracy);
    let per: Vec<(usize, usize, usize)> = m
        .per_class
        .iter()
        .map(|c| (c.label_index, c.clips, c.correct))
        .collect();
    assert_eq!(per, [(0, 2, 2), (1, 1, 0), (2, 2, 0), (3, 1, 0)]);
}

#[test]
fn macro_accuracy_weighs_classes_not_clips() {
    // Three clips of class 0, all right; one of class 1, wrong: accuracy 3/4, macro 1/2.
    let right = [0.9f32, 0.1];
    let m = tag_metrics([
        (0, &right[..]),
        (0, &right[..]),
        (0, &right[..]),
        (1, &right[..]),
    ]);
    assert!(close(m.accuracy, 0.75));
    assert!(close(m.macro_accuracy, 0.5));
    assert!(close(m.map_at_3, (3.0 + 0.5) / 4.0));
}

fn det(label_index: usize, onset: f64, offset: f64) -> Event {
    Event {
        label_index,
        label: String::new(),
        onset_secs: onset,
        offset_secs: offset,
        peak: 1.0,
    }
}

fn refe(label_index: usize, onset: f64, offset: f64) -> ReferenceEvent {
    ReferenceEvent {
        label_index,
        onset_secs: onset,
        offset_secs: offset,
    }
}

#[test]
fn collars_are_inclusive_and_the_offset_collar_grows_with_length() {
    let c = Collars::default();
    let short = refe(0, 1.0, 1.5); // offset collar max(0.2, 0.1) = 0.2
    assert!(
        c.matches(&short, &det(0, 1.2, 1.5)),
        "onset 200 ms late: inside"
    );
    assert!(
        c.matches(&short, &det(0, 0.8, 1.5)),
        "onset 200 ms early: inside"
    );
    assert!(!c.matches(&short, &det(0, 1.201, 1.5)), "201 ms: outside");
    assert!(
        c.matches(&short, &det(0, 1.0, 1.7)),
        "offset 200 ms: inside"
    );
    assert!(!c.matches(&short, &det(0, 1.0, 1.71)));
    assert!(!c.matches(&short, &det(1, 1.0, 1.5)), "another label");
    let long = refe(0, 0.0, 2.0); // offset collar max(0.2, 0.4) = 0.4
    assert!(c.matches(&long, &det(0, 0.0, 2.4)));
    assert!(c.matches(&long, &det(0, 0.0, 1.6)));
    assert!(!c.matches(&long, &det(0, 0.0, 2.41)));
}

#[test]
fn event_f1_by_hand() {
    // Classes 0 (dog) and 1 (cat).
    // File 1: dog ref 1.0-3.0 vs det 1.2-3.3: onset off by exactly 0.2 (inside), offset
    //         by 0.3 <= max(0.2, 20% of 2.0 = 0.4): match.
    //         cat ref 0.5-0.7 vs det 0.71-0.9: onset off by 0.21: no match.
    // File 2: dog ref 0-1 vs det 0.1-1.25: offset off by 0.25 > max(0.2, 0.2): no match.
    //         cat det 2-3: nothing to match.
    // dog: 2 ref, 2 det, 1 matched: P = R = F = 1/2. cat: 1 ref, 2 det, 0: F = 0.
    // micro: 3 ref, 4 det, 1 matched: P 1/4, R 1/3, F 2/7. macro: (1/2 + 0) / 2 = 1/4.
    let file1_ref = vec![refe(0, 1.0, 3.0), refe(1, 0.5, 0.7)];
    let file1_det = vec![det(0, 1.2, 3.3), det(1, 0.71, 0.9)];
    let file2_ref = vec![refe(0, 0.0, 1.0)];
    let file2_det = vec![det(0, 0.1, 1.25), det(1, 2.0, 3.0)];
    let m = event_metrics(
        [
            (file1_ref.as_slice(), file1_det.as_slice()),
            (file2_ref.as_slice(), file2_det.as_slice()),
        ],
        Collars::default(),
    );
    assert_eq!(
        m.micro,
        EventCounts {
            reference: 3,
            detected: 4,
            matched: 1
        }
    );
    assert!(close(m.micro.precision(), 0.25));
    assert!(close(m.micro.recall(), 1.0 / 3.0));
    assert!(close(m.micro.f1(), 2.0 / 7.0), "{}", m.micro.f1());
    assert!(close(m.per_class[&0].f1(), 0.5));
    assert!(close(m.per_class[&1].f1(), 0.0));
    assert!(close(m.macro_f1, 0.25), "{}", m.macro_f1);
}

#[test]
fn events_match_one_to_one_and_the_matching_is_the_largest() {
    // Ref A (0.1-1.0) fits both detections; ref B (0.0-1.0) fits only X (0.0-1.0), since
    // Y starts 0.3 s after it. Taking X for A first would leave B unmatched; the largest
    // matching gives A-Y and B-X.
    let refs = vec![refe(0, 0.1, 1.0), refe(0, 0.0, 1.0)];
    let dets = vec![det(0, 0.0, 1.0), det(0, 0.3, 1.0)];
    let m = event_metrics([(refs.as_slice(), dets.as_slice())], Collars::default());
    assert_eq!(m.micro.matched, 2);
    // One detection cannot match two references.
    let dets = vec![det(0, 0.05, 1.0)];
    let m = event_metrics([(refs.as_slice(), dets.as_slice())], Collars::default());
    assert_eq!(m.micro.matched, 1);
    assert!(close(m.micro.precision(), 1.0));
    assert!(close(m.micro.recall(), 0.5));
}

#[test]
fn events_only_match_within_their_file() {
    let refs = vec![refe(0, 0.0, 1.0)];
    let none: Vec<Event> = vec![];
    let dets = vec![det(0, 0.0, 1.0)];
    let empty: Vec<ReferenceEvent> = vec![];
    let m = event_metrics(
        [
            (refs.as_slice(), none.as_slice()),
            (empty.as_slice(), dets.as_slice()),
        ],
        Collars::default(),
    );
    assert_eq!(m.micro.matched, 0);
    assert_eq!(m.micro.reference, 1);
    assert_eq!(m.micro.detected, 1);
}

fn labels() -> Vec<String> {
    ["dog", "cat", "Vehicle horn, car horn"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn tagging_lists_resolve_files_against_the_list_folder() {
    let text = "file,label\n\
                a.wav,dog\n\
                \"sub/b, c.wav\",\"Vehicle horn, car horn\"\n\
                \n\
                /abs/c.wav,cat\r\n";
    let list = parse_list(text, Path::new("/data/lists/test.csv"), "m", &labels()).unwrap();
    let ReferenceList::Tags(items) = list else {
        panic!("a tagging list")
    };
    let got: Vec<(PathBuf, usize, usize)> = items
        .iter()
        .map(|i| (i.file.clone(), i.label_index, i.line))
        .collect();
    assert_eq!(
        got,
        [
            (PathBuf::from("/data/lists/a.wav"), 0, 2),
            (PathBuf::from("/data/lists/sub/b, c.wav"), 2, 3),
            (PathBuf::from("/abs/c.wav"), 1, 5),
        ]
    );
}

#[test]
fn event_lists_group_rows_by_file_and_allow_files_without_events() {
    let text = "filename\tonset\toffset\tevent_label\n\
                a.wav\t0.5\t1.25\tdog\n\
                b.wav\t\t\t\n\
                a.wav\t2\t3\tcat\n";
    let list = parse_list(text, Path::new("ref.tsv"), "m", &labels()).unwrap();
    let ReferenceList::Events(files) = list else {
        panic!("an event list")
    };
    assert_eq!(files.len(), 2);
    assert_eq!(files[0].name, "a.wav");
    assert_eq!(files[0].events, [refe(0, 0.5, 1.25), refe(1, 2.0, 3.0)]);
    assert_eq!(files[1].name, "b.wav");
    assert!(files[1].events.is_empty());
}

#[test]
fn list_errors_name_the_line_and_the_problem() {
    let path = Path::new("list.csv");
    let err = |text: &str| {
        parse_list(text, path, "tiny", &labels())
            .unwrap_err()
            .to_string()
    };
    let e = err("file,label\na.wav,dog\nb.wav,Dog\n");
    assert_eq!(
        e,
        "list.csv: line 3: label `Dog` is not one of model tiny's 3 labels (did you mean dog?)"
    );
    let e = err("file,label\na.wav,bird\n");
    assert!(
        e.contains("line 2: label `bird`")
            && e.contains("they are dog, cat, Vehicle horn, car horn"),
        "{e}"
    );
    let e = err("file,onset,offset,event_label\na.wav,1,2,bird\n");
    assert!(e.contains("line 2: label `bird`"), "{e}");
    assert!(err("file,label\na.wav,dog\na.wav,cat\n").contains("already listed on line 2"));
    assert!(err("file,onset,offset,event_label\na.wav,2,1,dog\n").contains("before onset"));
    assert!(err("file,onset,offset,event_label\na.wav,x,1,dog\n").contains("onset `x`"));
    assert!(err("path,label\na.wav,dog\n").contains("no `file`"));
    assert!(err("file,class\na.wav,dog\n").contains("needs `file,label`"));
    assert!(err("file,label\na.wav\n").contains("line 2: has 1 fields"));
    assert!(err("").contains("empty"));
    assert!(err("file,label\n").contains("names no files"));
}

#[test]
fn sed_eval_leaves_out_classes_without_detections() {
    // dog found perfectly, cat never detected: livetag's macro (1 + 0) / 2 = 0.5; sed_eval's
    // cat has precision NaN, so F NaN, and its class-wise average is dog's 1.0.
    let refs = vec![refe(0, 0.0, 1.0), refe(1, 2.0, 3.0)];
    let dets = vec![det(0, 0.0, 1.0)];
    let m = event_metrics([(refs.as_slice(), dets.as_slice())], Collars::default());
    assert!(close(m.macro_f1, 0.5));
    assert_eq!(m.macro_f1_sed_eval, Some(1.0));
    // Nothing detected at all: sed_eval's average is undefined.
    let none: Vec<Event> = vec![];
    let m = event_metrics([(refs.as_slice(), none.as_slice())], Collars::default());
    assert_eq!(m.macro_f1_sed_eval, None);
    assert!(close(m.macro_f1, 0.0));
}
