//! The Python bundle writer (`tools/livetag_tools/common/bundle.py`) against livetag's reader:
//! `python3 -m livetag_tools.common.bundle_examples` writes one bundle of every kind, using
//! every key the writer knows (`tools/tests/test_bundle.py` checks that), and each must load
//! here, where unknown keys are refused. So a key added on one side only fails a test.
//!
//! Needs python3 (3.11 or later, standard library only), as tools/setup.sh does.

use std::path::Path;
use std::process::Command;

use livetag::bundle::Bundle;

#[test]
fn every_bundle_the_python_writer_makes_loads_in_livetag() {
    let out = tempfile::tempdir().unwrap();
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools");
    let run = Command::new("python3")
        .current_dir(&tools)
        .args(["-m", "livetag_tools.common.bundle_examples"])
        .arg(out.path())
        .output()
        .expect("python3 is needed to run the bundle writer's examples");
    assert!(
        run.status.success(),
        "bundle_examples failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let written: Vec<&str> = std::str::from_utf8(&run.stdout).unwrap().lines().collect();
    assert_eq!(written.len(), 3, "one bundle per kind: {written:?}");

    for folder in &written {
        let bundle = Bundle::load(Path::new(folder))
            .unwrap_or_else(|e| panic!("{folder}: {}", livetag::error_chain(&e)));
        match bundle.name() {
            "example-features" => {
                // Every optional key was read, not just accepted.
                assert_eq!(bundle.spec.model.file, "graph.onnx");
                assert_eq!(bundle.spec.model.trained_parameters, Some(1234));
                assert_eq!(bundle.labels.len(), 3);
                assert!(bundle.spec.ontology.is_some() && bundle.spec.live.is_some());
                // And it runs: the reference pair through the whole pipeline.
                let test = Command::new(env!("CARGO_BIN_EXE_livetag"))
                    .args(["inspect", "--self-test", folder])
                    .output()
                    .unwrap();
                let stdout = String::from_utf8_lossy(&test.stdout);
                assert!(stdout.contains("self-test: PASS"), "{folder}: {stdout}");
            }
            "example-state" => {
                assert_eq!(bundle.spec.state.len(), 1);
                assert_eq!(bundle.spec.constants.len(), 1);
            }
            "example-framewise" => assert_eq!(bundle.spec.outputs.len(), 2),
            other => panic!("unexpected example {other}"),
        }
    }
}
