//! Progress on the terminal: a bar for training, a spinner for long jobs, and log lines that go
//! above either (or plainly to stderr when stderr is not a terminal, as in a log file).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `steps` steps with a message, the elapsed time and the estimate left.
pub fn bar(steps: u64) -> ProgressBar {
    let pb = ProgressBar::new(steps);
    pb.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} {msg} [{elapsed_precise} < {eta_precise}]",
        )
        .expect("a valid template"),
    );
    pb
}

/// A spinner with the elapsed time, drawn only on a terminal.
pub fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed}] {msg}").expect("a valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Prints `text` above the bar on a terminal, and plainly to stderr otherwise, where indicatif
/// draws nothing.
pub fn line(bar: &ProgressBar, text: &str) {
    if bar.is_hidden() {
        eprintln!("{text}");
    } else {
        bar.println(text);
    }
}
