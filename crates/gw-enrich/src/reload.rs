//! Hot reload: an [`IntelHandle`] holds the current [`IntelSet`] behind an atomic pointer swap,
//! so readers never wait and never see a half-built set.
//!
//! Who triggers a reload is the caller's choice: poll [`IntelHandle::reload_if_changed`] (it only
//! `stat`s the files) from a timer thread, or call [`IntelHandle::reload`] from a SIGHUP handler
//! in the binary. A failed reload leaves the previous set in place.
//!
//! Feed updaters should replace list files atomically (write a sibling, then rename over it): a
//! poll that lands in the middle of an in-place rewrite loads the partial file, and the next poll
//! (which sees the final size and time) loads it again.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::{ArcSwap, Guard};

use crate::config::{IntelListConfig, validate_lists};
use crate::error::EnrichError;
use crate::intel::IntelSet;

/// What identifies a version of a list file without reading it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileStamp {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
    /// Changes when the file is replaced by a rename (the usual atomic update).
    inode: u64,
}

impl FileStamp {
    pub(crate) fn of(path: &Path) -> io::Result<FileStamp> {
        let meta = std::fs::metadata(path)?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Ok(FileStamp {
            path: path.to_path_buf(),
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        })
    }
}

/// What [`IntelHandle::reload_if_changed`] did.
#[derive(Clone, Debug)]
pub enum ReloadOutcome {
    /// No file changed; the current set stays.
    Unchanged,
    /// At least one file changed and the new set is now current.
    Reloaded(Arc<IntelSet>),
}

/// The current [`IntelSet`], replaceable while readers use it.
#[derive(Debug)]
pub struct IntelHandle {
    configs: Vec<IntelListConfig>,
    current: ArcSwap<IntelSet>,
    /// Serialises reloads so two pollers do not build the same set twice.
    reloading: Mutex<()>,
}

impl IntelHandle {
    /// Loads the lists once; fails if any file is missing or unreadable.
    pub fn load(configs: Vec<IntelListConfig>) -> Result<IntelHandle, EnrichError> {
        validate_lists(&configs)?;
        let set = IntelSet::load(&configs)?;
        Ok(IntelHandle {
            configs,
            current: ArcSwap::from_pointee(set),
            reloading: Mutex::new(()),
        })
    }

    /// A handle over a fixed set (no files to watch); `reload` rebuilds nothing.
    pub fn fixed(set: IntelSet) -> IntelHandle {
        IntelHandle {
            configs: Vec::new(),
            current: ArcSwap::from_pointee(set),
            reloading: Mutex::new(()),
        }
    }

    /// The current set, for a batch: lock-free and cheap; hold it for the batch, not forever
    /// (a held guard keeps the old set alive after a swap).
    #[inline]
    pub fn current(&self) -> Guard<Arc<IntelSet>> {
        self.current.load()
    }

    /// The current set as an owned `Arc`, for long-lived holders.
    pub fn snapshot(&self) -> Arc<IntelSet> {
        self.current.load_full()
    }

    /// Re-reads every list and swaps the new set in. On error the previous set stays current.
    pub fn reload(&self) -> Result<Arc<IntelSet>, EnrichError> {
        let _serial = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        self.reload_locked()
    }

    /// Reloads only if a list file's size, modification time or inode changed since the current
    /// set was loaded (or a file disappeared, which is reported as an error while the previous
    /// set stays current). Costs one `stat` per list when nothing changed.
    pub fn reload_if_changed(&self) -> Result<ReloadOutcome, EnrichError> {
        let _serial = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        if !self.changed()? {
            return Ok(ReloadOutcome::Unchanged);
        }
        self.reload_locked().map(ReloadOutcome::Reloaded)
    }

    fn changed(&self) -> Result<bool, EnrichError> {
        let current = self.current.load();
        for (config, old) in self.configs.iter().zip(&current.stamps) {
            let now = FileStamp::of(&config.path).map_err(|source| EnrichError::ReadList {
                name: config.name.clone(),
                path: config.path.clone(),
                source,
            })?;
            if &now != old {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn reload_locked(&self) -> Result<Arc<IntelSet>, EnrichError> {
        if self.configs.is_empty() {
            return Ok(self.current.load_full());
        }
        let set = Arc::new(IntelSet::load(&self.configs)?);
        self.current.store(Arc::clone(&set));
        Ok(set)
    }

    /// The list configurations this handle reloads from.
    pub fn configs(&self) -> &[IntelListConfig] {
        &self.configs
    }
}
