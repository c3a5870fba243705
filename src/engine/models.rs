//! Opening models: a bundle by name or path, its ONNX Runtime session, and what the live
//! engine needs beside them (provider, model card). Used by the engine's loader threads and
//! by the CLI's file commands alike.

use std::path::PathBuf;
use std::sync::Arc;

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

/// Installed bundles that load. Slow (each bundle's ONNX graph is read): engine threads
/// only.
pub fn installed_models() -> Vec<InstalledModel> {
    catalog::list()
        .into_iter()
        .filter_map(|(path, loaded)| {
            let bundle = loaded.ok()?;
            Some(InstalledModel {
                name: bundle.name().to_string(),
                classes: bundle.labels.len(),
                path,
            })
        })
        .collect()
}
