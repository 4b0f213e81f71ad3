//! A PyTorch reference process the benchmarks talk to over stdin/stdout: one request per
//! line, one answer per line, so that each case runs alternately in Rust and in PyTorch.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::error::{Error, Result};

/// A running PyTorch reference process.
pub(crate) struct TorchWorker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl TorchWorker {
    /// Starts `python script args…` and waits for its first line, which must start with
    /// `ready `; returns the rest of that line. `Err(reason)` if Python or the script's
    /// imports are not available.
    pub(crate) fn spawn(
        python: &Path,
        script: &Path,
        args: &[String],
    ) -> std::result::Result<(Self, String), String> {
        let mut child = Command::new(python)
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
        let stdin = child.stdin.take().expect("piped");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut first = String::new();
        let _ = stdout.read_line(&mut first);
        match first.trim().strip_prefix("ready ") {
            Some(v) => Ok((
                Self {
                    child,
                    stdin,
                    stdout,
                },
                v.to_string(),
            )),
            None => {
                let _ = child.kill();
                Err(format!("PyTorch is not importable by {}", python.display()))
            }
        }
    }

    /// Sends one request line and returns the reply line.
    pub(crate) fn ask(&mut self, request: &str) -> Result<String> {
        let fail = |what: String| Error::InvalidArgument(format!("PyTorch reference: {what}"));
        writeln!(self.stdin, "{request}").map_err(|e| fail(e.to_string()))?;
        self.stdin.flush().map_err(|e| fail(e.to_string()))?;
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .map_err(|e| fail(e.to_string()))?;
        if line.is_empty() {
            return Err(fail(format!("the script ended at request '{request}'")));
        }
        Ok(line.trim().to_string())
    }

    pub(crate) fn run(&mut self, case: &str) -> Result<f64> {
        let line = self.ask(case)?;
        line.parse().map_err(|_| {
            Error::InvalidArgument(format!("PyTorch reference: case {case} printed '{line}'"))
        })
    }
}

impl Drop for TorchWorker {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
    }
}

/// The median of `v` (the upper one of an even count).
pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
