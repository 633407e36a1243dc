//! Persistence of the hot-swappable state (API keys now, the grant table with them): one JSON
//! document written atomically (write, fsync, rename, fsync the folder) on every change and
//! read at start. No file means an empty state; a corrupt file stops start-up.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::authn::api_key::ApiKey;

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct State {
    #[serde(default)]
    pub api_keys: Vec<ApiKey>,
    /// The grant table as last accepted (validated again when loaded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<serde_json::Value>,
}

pub struct Store {
    path: Option<PathBuf>,
    /// Writers take turns, so two changes never interleave their files.
    write: Mutex<()>,
}

impl Store {
    pub fn new(path: Option<PathBuf>) -> Self {
        Self { path, write: Mutex::new(()) }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Reads the state; a missing file is an empty state, anything unreadable is an error.
    pub fn load(&self) -> Result<State, String> {
        let Some(path) = &self.path else { return Ok(State::default()) };
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| format!("state file {} is corrupt: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(format!("cannot read state file {}: {e}", path.display())),
        }
    }

    /// Reads, changes and writes the state as one step (writers take turns).
    pub fn update(&self, change: impl FnOnce(&mut State)) -> Result<(), String> {
        if self.path.is_none() {
            return Ok(());
        }
        let _turn = self.write.lock().map_err(|_| "state writer poisoned".to_string())?;
        let mut state = self.load()?;
        change(&mut state);
        self.write(&state)
    }

    fn write(&self, state: &State) -> Result<(), String> {
        let Some(path) = &self.path else { return Ok(()) };
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| e.to_string())?;
        let tmp = path.with_extension("tmp");
        let io = |e: std::io::Error| format!("cannot write state file {}: {e}", path.display());
        {
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(&bytes).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_missing_and_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(Some(dir.path().join("state.json")));
        assert_eq!(store.load().unwrap(), State::default());
        let s = State { api_keys: vec![], grants: Some(serde_json::json!({"version": 3, "grants": []})) };
        store.update(|st| *st = s.clone()).unwrap();
        assert_eq!(store.load().unwrap(), s);
        std::fs::write(dir.path().join("state.json"), b"{not json").unwrap();
        assert!(store.load().unwrap_err().contains("corrupt"));
    }
}
