//! Opening models: a bundle by name or path, its ONNX Runtime session, and what the live
//! engine needs beside them (provider, model card). Used by the engine's loader threads and
//! by the CLI's file commands alike.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::bundle::{catalog, Bundle, BundleError};
use crate::inference::profile::ModelCard;
use crate::inference::{DevicePreference, InferenceError, ModelRunner, SessionOptions};
use crate::pipeline::{Role, Scorer};

/// How models are run: the same for every model of a session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelOptions {
    pub provider: DevicePreference,
    /// ONNX Runtime intra-op threads; `None` lets ONNX Runtime choose.
    pub threads: Option<usize>,
    /// The ONNX Runtime library to load, else the usual search.
    pub ort_lib: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Inference(#[from] InferenceError),
    #[error("a speech track needs a one-class model; {name} has {classes} classes")]
    NotOneClass { name: String, classes: usize },
}

/// Loads the bundle `model` names: a folder, or an installed name (`None`: the default).
pub fn open_bundle(model: Option<&str>) -> Result<Bundle, ModelError> {
    let path = catalog::resolve(model)?;
    Ok(Bundle::load(&path)?)
}

/// Opens an ONNX Runtime session for a loaded bundle.
pub fn open_runner(bundle: &Bundle, options: &ModelOptions) -> Result<ModelRunner, ModelError> {
    let runtime = crate::inference::runtime(options.ort_lib.as_deref())?;
    let session = SessionOptions {
        device: options.provider,
        threads: options.threads,
        ..Default::default()
    };
    Ok(ModelRunner::new(&runtime, bundle, &session)?)
}

/// A model ready to run on live audio.
pub struct LoadedModel {
    pub bundle: Arc<Bundle>,
    pub scorer: Box<dyn Scorer>,
    /// The execution provider in use, as the status bar shows it.
    pub provider: String,
    /// Parameters and compute, measured once when a tagger loads.
    pub card: Option<ModelCard>,
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel")
            .field("bundle", &self.bundle.name())
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

/// Loads `model` for `role`: a speech model must have exactly one class. With `card`, the
/// tagger's model card is measured (it costs one more session, and only the window shows it).
pub fn load_for_role(
    role: Role,
    model: &str,
    options: &ModelOptions,
    card: bool,
) -> Result<LoadedModel, ModelError> {
    let bundle = open_bundle(Some(model))?;
    if role == Role::Speech && bundle.labels.len() != 1 {
        return Err(ModelError::NotOneClass {
            name: bundle.name().to_string(),
            classes: bundle.labels.len(),
        });
    }
    let runner = open_runner(&bundle, options)?;
    let provider = runner.provider().to_string();
    let card = (card && role == Role::Tagger).then(|| {
        ModelCard::measure(
            &bundle,
            options.provider,
            provider.clone(),
            options.ort_lib.as_deref(),
        )
    });
    Ok(LoadedModel {
        bundle: Arc::new(bundle),
        scorer: Box::new(runner),
        provider,
        card,
    })
}

/// An installed bundle, as the Model menu lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct InstalledModel {
    pub path: PathBuf,
    pub name: String,
    pub classes: usize,
}

/// Installed bundles that load, each read again only when one of its files changed: a
/// Model menu left open asks every few seconds, and reading a bundle reads its whole ONNX
/// graph (hundreds of MB for the big PANNs), which would compete with live inference.
#[derive(Debug, Default)]
pub struct InstalledCache {
    entries: Mutex<HashMap<PathBuf, (FolderStamp, Option<InstalledModel>)>>,
}

/// Name, length and modification time of each entry of a bundle folder.
type FolderStamp = Vec<(std::ffi::OsString, u64, Option<SystemTime>)>;

impl InstalledCache {
    /// The installed bundles that load, in search order. Engine threads only.
    pub fn list(&self) -> Vec<InstalledModel> {
        self.list_in(catalog::bundle_dirs())
    }

    /// The bundles among `dirs` that load.
    pub fn list_in(&self, dirs: Vec<PathBuf>) -> Vec<InstalledModel> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|path, _| dirs.contains(path));
        let mut listed = Vec::new();
        for dir in dirs {
            let stamp = folder_stamp(&dir);
            let cached = entries
                .get(&dir)
                .filter(|(seen, _)| *seen == stamp)
                .map(|(_, model)| model.clone());
            let model = cached.unwrap_or_else(|| {
                let model = Bundle::load(&dir).ok().map(|bundle| InstalledModel {
                    name: bundle.name().to_string(),
                    classes: bundle.labels.len(),
                    path: dir.clone(),
                });
                entries.insert(dir.clone(), (stamp, model.clone()));
                model
            });
            listed.extend(model);
        }
        listed
    }
}

fn folder_stamp(dir: &Path) -> FolderStamp {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut stamp: FolderStamp = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let meta = entry.metadata().ok()?;
            Some((entry.file_name(), meta.len(), meta.modified().ok()))
        })
        .collect();
    stamp.sort();
    stamp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy_bundle(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
            }
        }
    }

    #[test]
    fn a_bundle_is_read_again_only_when_its_files_change() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().join("tiny-sed");
        copy_bundle(&repo.join("tests/models/tiny-sed"), &dir);
        let cache = InstalledCache::default();
        let names = |cache: &InstalledCache| -> Vec<String> {
            cache
                .list_in(vec![dir.clone()])
                .into_iter()
                .map(|m| m.name)
                .collect()
        };
        assert_eq!(names(&cache), ["tiny-sed"]);

        // Garbage of the same length and time: not looked at again, so still listed.
        let model = dir.join("model.onnx");
        let meta = std::fs::metadata(&model).unwrap();
        let original = std::fs::read(&model).unwrap();
        std::fs::write(&model, vec![0u8; original.len()]).unwrap();
        let file = std::fs::File::options().write(true).open(&model).unwrap();
        file.set_modified(meta.modified().unwrap()).unwrap();
        assert_eq!(names(&cache), ["tiny-sed"]);

        // A changed file is read again: now the bundle is broken and left out.
        std::fs::write(&model, b"not onnx").unwrap();
        assert!(names(&cache).is_empty());
        std::fs::write(&model, &original).unwrap();
        assert_eq!(names(&cache), ["tiny-sed"]);
    }
}
