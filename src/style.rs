//! The colours of terminal output: one palette, and painting with it. Pure: whether to colour at all
//! (a terminal, `NO_COLOR`, `--color`) is decided by `output` and handed in as a flag.

use anstyle::{AnsiColor, Style};

/// Added lines and created resources.
pub const GREEN: Style = AnsiColor::Green.on_default();
/// Changed lines, updates and warnings.
pub const YELLOW: Style = AnsiColor::Yellow.on_default();
/// Removed lines and destroyed resources.
pub const RED: Style = AnsiColor::Red.on_default();
/// Adoptions.
pub const CYAN: Style = AnsiColor::Cyan.on_default();
/// The `Warning:` label.
pub const YELLOW_BOLD: Style = AnsiColor::Yellow.on_default().bold();
/// What stops the user: a failed check, a mismatched account.
pub const RED_BOLD: Style = AnsiColor::Red.on_default().bold();

/// `text` in `style` when `color` is on, else `text` as it is.
pub fn paint(style: Style, text: &str, color: bool) -> String {
    if color {
        format!("{}{text}{}", style.render(), style.render_reset())
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paints_only_when_asked() {
        assert_eq!(paint(GREEN, "+", true), "\x1b[32m+\x1b[0m");
        assert_eq!(paint(RED_BOLD, "x", false), "x");
        assert_eq!(
            anstream::adapter::strip_str(&paint(YELLOW_BOLD, "Warning:", true)).to_string(),
            "Warning:"
        );
    }
}
