//! Progress of long lab runs: a bar on a terminal, nothing when stderr is a pipe or a file
//! (scripts read `--json`, not the bar).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar for `total` items of work called `what`, drawn on stderr when it is a terminal.
#[must_use]
pub fn bar(what: &str, total: usize) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:>10} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} ({per_sec}, {eta} left)",
    ) {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar
}
