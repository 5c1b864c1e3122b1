//! Where output goes and how it looks: stdout carries data, stderr carries progress and logs; colour is
//! used only on a terminal, never when NO_COLOR is set.

use std::io::{IsTerminal, Write};
use std::time::Duration;

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

/// How the cells of a [`table`] column line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    /// Numbers, as `ls -l` and `df` print them.
    Right,
}

/// A plain table: columns two spaces apart, no borders, no trailing spaces, so it reads in a terminal
/// and cuts cleanly with `awk`. The first row is the header, if the table has one. `align` gives each
/// column's alignment; columns it does not reach are left-aligned. One line per row, without newlines.
pub fn table(rows: &[Vec<String>], align: &[Align]) -> Vec<String> {
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    table.add_rows(rows.iter().map(|row| row.iter().map(String::as_str)));
    let last = table.column_count().saturating_sub(1);
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if i == last { 0 } else { 2 }));
        column.set_cell_alignment(match align.get(i) {
            Some(Align::Right) => comfy_table::CellAlignment::Right,
            Some(Align::Left) | None => comfy_table::CellAlignment::Left,
        });
    }
    table.lines().map(|line| line.trim_end().to_string()).collect()
}

/// A duration for people: `850 ms`, `12.3 s`, `4m 05s`. Exact enough to spot the slow action, short
/// enough for a column; the one format of the journal (`state journal`) and the run report.
pub fn duration_text(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        let secs = d.as_secs();
        format!("{}m {:02}s", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(rows: &[&[&str]]) -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| r.iter().map(ToString::to_string).collect())
            .collect()
    }

    #[test]
    fn tables_align_and_keep_no_trailing_spaces() {
        let rows = cells(&[&["A", "BB"], &["long-cell", "x"], &["s", ""]]);
        assert_eq!(table(&rows, &[]), ["A          BB", "long-cell  x", "s"]);
        let rows = cells(&[&["NAME", "N", "SIZE"], &["a", "7", "1.0 KiB"], &["bb", "12", "3 B"]]);
        assert_eq!(
            table(&rows, &[Align::Left, Align::Right, Align::Right]),
            ["NAME   N     SIZE", "a      7  1.0 KiB", "bb    12      3 B"]
        );
        assert!(table(&[], &[]).is_empty());
    }

    #[test]
    fn durations_read_at_a_glance() {
        let ms = Duration::from_millis;
        assert_eq!(duration_text(ms(0)), "0 ms");
        assert_eq!(duration_text(ms(850)), "850 ms");
        assert_eq!(duration_text(ms(12_345)), "12.3 s");
        assert_eq!(duration_text(ms(59_999)), "60.0 s");
        assert_eq!(duration_text(ms(245_000)), "4m 05s");
    }
}
