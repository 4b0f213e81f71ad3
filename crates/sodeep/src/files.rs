//! Files written whole: a reader sees the old content or the new, never half of either
//! (`write → fsync → rename`).
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("note.txt");
//! sodeep::files::write_atomic(&path, b"kept whole")?;
//! assert_eq!(std::fs::read(&path)?, b"kept whole");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `bytes` to `path` and waits until they reach the disk.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = fs::File::create(path).map_err(|e| Error::io("cannot write", path, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io("cannot write", path, e))
}

/// Writes a file so that a reader never sees half of it: a path that does not exist yet, or a
/// regular file with a single link, is written to a temporary sibling that is then renamed over
/// it (keeping an existing file's permissions). Anything else (a device such as `/dev/stdout`,
/// a FIFO, a symbolic link, a file with several hard links) is written through in place, since
/// a rename would replace the node itself rather than write to it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let meta = fs::symlink_metadata(path).ok();
    let replaceable = match &meta {
        None => true,
        Some(m) => m.file_type().is_file() && single_link(m),
    };
    if !replaceable {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(path)
            .map_err(|e| Error::io("cannot write", path, e))?;
        return f
            .write_all(bytes)
            .and_then(|_| f.flush())
            .map_err(|e| Error::io("cannot write", path, e));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let written = write_synced(&tmp, bytes).and_then(|_| match &meta {
        Some(m) => fs::set_permissions(&tmp, m.permissions())
            .map_err(|e| Error::io("cannot write", &tmp, e)),
        None => Ok(()),
    });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io("cannot write", path, e)
    })
}

#[cfg(unix)]
fn single_link(m: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    m.nlink() <= 1
}

#[cfg(not(unix))]
fn single_link(_: &fs::Metadata) -> bool {
    true
}
