//! Where output goes and how it looks: stdout carries data, stderr carries progress and logs; colour is
//! used only on a terminal, never when NO_COLOR is set.

use std::io::{IsTerminal, Write};

use crate::cli::ColorChoice;

/// Whether to colour output written to stderr.
pub fn stderr_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => no_color_unset() && std::io::stderr().is_terminal(),
    }
}

/// Whether to colour output written to stdout.
pub fn stdout_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => no_color_unset() && std::io::stdout().is_terminal(),
    }
}

/// NO_COLOR (https://no-color.org): set to any non-empty value, it turns colour off.
fn no_color_unset() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Writes data to stdout. A closed pipe (`s3rec plan | head`) is not an error: the reader has what it
/// wanted, so the write is dropped quietly.
pub fn print_data(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Prints an error that does not end the command (one mapping of several failed, say) the way a
/// command's final error is printed: through miette's handler (`  × message`), so that every error of
/// a run looks the same.
pub fn print_error(message: impl std::fmt::Display) {
    eprintln!("{:?}", miette::miette!("{message}"));
}
