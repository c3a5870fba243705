//! The window's panels. Each is a struct with a `ui` function that draws it and says what
//! the user asked for as [`Action`]s; the app applies them after the frame, so no panel
//! ever changes the session in the middle of drawing it, and none waits for anything.

pub mod banners;
pub mod dialogs;
pub mod menus;
pub mod model;
pub mod source;
pub mod status;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::engine::{Command, InstalledModel, Role, SessionInfo, SessionState};

use super::app::Settings;

/// What a panel asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Sent to the engine after the frame.
    Engine(Command),
    /// A dropped or chosen path: a bundle, or an audio file for demo mode.
    OpenPath {
        path: PathBuf,
        hint: Option<PathKind>,
    },
    TogglePause,
    SetSpeechTrack(bool),
    Show(Dialog),
    /// Ask the engine for the device list again.
    RefreshDevices,
    Quit,
}

/// What a chosen path is meant to be, when the user said so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    Model,
    Audio,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialog {
    OpenModel,
    OpenAudio,
    ModelCard,
    Shortcuts,
    About,
}

/// What every panel may read, and where it puts its actions.
pub struct PanelContext<'a> {
    pub settings: &'a mut Settings,
    pub session: Option<&'a SessionInfo>,
    pub state: SessionState,
    pub paused: bool,
    /// Models loading, by role.
    pub loading: &'a BTreeMap<Role, String>,
    /// The newest installed-model list the engine sent, if any.
    pub installed: Option<&'a [InstalledModel]>,
    pub actions: &'a mut Vec<Action>,
}

impl PanelContext<'_> {
    pub fn act(&mut self, action: Action) {
        self.actions.push(action);
    }

    pub fn command(&mut self, command: Command) {
        self.actions.push(Action::Engine(command));
    }

    /// The speech model the speech track runs.
    pub fn speech_model(&self) -> String {
        self.session
            .and_then(|s| s.speech.as_ref().map(|b| b.name().to_string()))
            .or_else(|| self.loading.get(&Role::Speech).cloned())
            .unwrap_or_else(|| crate::bundle::catalog::SPEECH_MODEL.to_string())
    }
}
