//! The Cloud Map instances the xDS server sends as endpoints (`--cloud-map-file`): AWS
//! Cloud Map is gone, so the operator lists the instances in a file shaped like
//! `aws servicediscovery discover-instances` output (see [`appmesh_xds::cloud_map`]).
//! Like the access file, it is reloaded on SIGHUP and when it changes; a file that does not
//! parse is logged and the previous instances stay in force. Each successful load is a new
//! generation, which connected proxies get as new endpoints.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use appmesh_xds::CloudMap;
use tokio::sync::watch;

use crate::access::{stamp, Stamp};

/// The instances in force, numbered by load.
pub type Generation = (u64, Arc<CloudMap>);

/// The file and the instances it held at its last good load.
#[derive(Debug)]
pub struct CloudMapFile {
    path: Option<PathBuf>,
    stamp: Mutex<Option<Stamp>>,
    current: watch::Sender<Generation>,
}

impl CloudMapFile {
    /// Loads `path`; fails if it cannot be read or does not parse.
    pub fn open(path: &Path) -> anyhow::Result<CloudMapFile> {
        let map = load(path)?;
        tracing::info!(path = %path.display(), instances = map.len(), "Cloud Map instances loaded");
        Ok(CloudMapFile {
            path: Some(path.to_owned()),
            stamp: Mutex::new(stamp(path)),
            current: watch::Sender::new((1, Arc::new(map))),
        })
    }

    /// No file: no instance is known, and none will be.
    pub fn none() -> CloudMapFile {
        CloudMapFile {
            path: None,
            stamp: Mutex::new(None),
            current: watch::Sender::new((0, Arc::default())),
        }
    }

    /// The instances in force now, and every later load.
    pub fn subscribe(&self) -> watch::Receiver<Generation> {
        self.current.subscribe()
    }

    /// Re-reads the file if `force` or if it changed on disk since the last load.
    pub fn reload(&self, force: bool) {
        let Some(path) = &self.path else { return };
        let now = stamp(path);
        {
            let mut seen = self.stamp.lock().unwrap_or_else(|p| p.into_inner());
            if !force && *seen == now {
                return;
            }
            // Remembered even when the file is broken, so it is reported once.
            *seen = now;
        }
        match load(path) {
            Ok(map) => {
                tracing::info!(path = %path.display(), instances = map.len(), "Cloud Map instances reloaded");
                self.current.send_modify(|(generation, current)| {
                    *generation += 1;
                    *current = Arc::new(map);
                });
            }
            Err(e) => tracing::error!(error = %format!("{e:#}"),
                "Cloud Map instances not reloaded; the previous ones stay in force"),
        }
    }
}

fn load(path: &Path) -> anyhow::Result<CloudMap> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the Cloud Map file {}", path.display()))?;
    CloudMap::parse(&text)
        .map_err(|e| anyhow::anyhow!("the Cloud Map file {}: {e}", path.display()))
}
