//! One module per subcommand. Each turns its flags into settings, does its work through the library, and
//! returns the process exit code; errors it cannot place in its output become miette reports in `main`.

pub mod schema;
pub mod validate;

use std::path::PathBuf;

/// Exit codes, documented in the README: 0 success / no changes, 1 error, 2 changes present.
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const CHANGES: u8 = 2;
}

/// The directory commands run in: `--chdir` or the current directory.
pub fn working_dir(chdir: Option<&std::path::Path>) -> std::io::Result<PathBuf> {
    let cwd = std::env::current_dir()?;
    Ok(match chdir {
        Some(dir) => cwd.join(dir),
        None => cwd,
    })
}
