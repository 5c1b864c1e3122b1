//! One module per subcommand. Each turns its flags into settings, does its work through the library, and
//! returns the process exit code; errors it cannot place in its output become miette reports in `main`.

pub mod apply;
pub mod completions;
pub mod cost;
pub mod doctor;
pub mod import;
pub mod migrate;
pub mod plan;
pub mod prices;
pub mod restore;
pub mod schema;
pub mod state;
pub mod sync;
pub mod validate;

/// Exit codes, documented in the README: 0 success / no changes, 1 error, 2 changes present.
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const CHANGES: u8 = 2;
    // A run stopped by a signal exits with 128 + the signal's number: `crate::interrupt::Signal::exit_code`.
}

/// Connects to the manifest's AWS (with the account guard), for the commands that talk to it.
pub(crate) async fn connect(ws: &crate::planner::Workspace) -> miette::Result<crate::planner::Connection> {
    crate::planner::connect(ws, &overrides_from_env())
        .await
        .map_err(|e| miette::miette!("{e}"))
}

/// [`connect`] for `sync`, which asks STS only where the caller's identity is used.
pub(crate) async fn connect_for_sync(ws: &crate::planner::Workspace) -> miette::Result<crate::planner::Connection> {
    crate::planner::connect_for_sync(ws, &overrides_from_env())
        .await
        .map_err(|e| miette::miette!("{e}"))
}

/// An error as miette shows it at the edge, with its hint under `help:` when it has one.
pub(crate) fn report(message: impl std::fmt::Display, hint: Option<String>) -> miette::Report {
    match hint {
        Some(hint) => miette::miette!(help = hint, "{message}"),
        None => miette::miette!("{message}"),
    }
}

/// Writes a command's data to `--out FILE` when given, else to stdout.
pub(crate) fn write_data(out: Option<&std::path::Path>, text: &str) -> miette::Result<()> {
    use miette::{IntoDiagnostic, WrapErr};
    match out {
        Some(path) => std::fs::write(path, text)
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot write {}", path.display())),
        None => crate::output::print_data(text).into_diagnostic(),
    }
}

/// Parses a duration flag (`30s`, `10m`, `1h 30m`).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| format!("{e} (write it like `30s`, `10m` or `1h`)"))
}

/// Runs `work` while `lease` holds the state, then ends the lease (last push, lock released) whatever the
/// work's outcome. A failed push turns a successful run into an error, since the state did not record it.
pub(crate) async fn finish_lease(
    lease: crate::backend::Lease,
    work: impl std::future::Future<Output = miette::Result<u8>>,
) -> miette::Result<u8> {
    let result = work.await;
    match (lease.finish().await, result) {
        (Ok(()), result) => result,
        (Err(e), Ok(_)) => Err(miette::miette!("{e}")),
        (Err(e), Err(first)) => {
            crate::output::print_error(&e);
            Err(first)
        }
    }
}

/// A multi-threaded tokio runtime for the commands that talk to AWS, listening for Ctrl-C and SIGTERM
/// (see `crate::interrupt`: graceful while a run changes things, immediate otherwise).
pub fn runtime() -> miette::Result<tokio::runtime::Runtime> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| miette::miette!("cannot start the async runtime: {e}"))?;
    runtime.spawn(crate::interrupt::listen());
    Ok(runtime)
}

/// Connection overrides from the environment: `S3REC_ENDPOINT_URL` points an environment at another
/// endpoint (an emulator, LocalStack, MinIO) without editing its manifest.
pub fn overrides_from_env() -> crate::aws::Overrides {
    crate::aws::Overrides {
        endpoint_url: std::env::var("S3REC_ENDPOINT_URL").ok().filter(|v| !v.is_empty()),
        ..crate::aws::Overrides::default()
    }
}

/// A byte progress bar on stderr when stderr is a terminal; `None` otherwise, where commands print a
/// line now and then instead, so CI logs show the job is alive without control characters.
pub(crate) fn progress_bar(template: &str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::stderr());
        let style = indicatif::ProgressStyle::with_template(template)
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    })
}

/// The progress of work in steps (migrations, restores): a bar on a terminal; otherwise a line every ten
/// seconds, so logs show the job is alive.
pub(crate) struct StepProgress {
    kind: &'static str,
    bar: Option<indicatif::ProgressBar>,
    plain: std::sync::Mutex<Plain>,
}

struct Plain {
    label: String,
    total: u64,
    done: u64,
    last: std::time::Instant,
}

const PLAIN_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

impl StepProgress {
    /// `kind` names the work in every line: `migration`, `restore`.
    pub(crate) fn new(kind: &'static str) -> StepProgress {
        let bar = progress_bar("{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}");
        StepProgress {
            kind,
            bar,
            plain: std::sync::Mutex::new(Plain {
                label: String::new(),
                total: 0,
                done: 0,
                last: std::time::Instant::now(),
            }),
        }
    }
}

impl crate::migrate::run::Progress for StepProgress {
    fn step(&self, migration: &str, what: &str, bytes: u64) {
        let label = format!("{}.{migration}: {what}", self.kind);
        eprintln!(
            "{label}{}...",
            if bytes > 0 {
                format!(" ({})", crate::words::size(bytes))
            } else {
                String::new()
            }
        );
        if let Some(bar) = &self.bar {
            bar.reset();
            bar.set_length(bytes);
            bar.set_prefix(label.clone());
        }
        let mut p = self.plain.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *p = Plain {
            label,
            total: bytes,
            done: 0,
            last: std::time::Instant::now(),
        };
    }

    fn bytes(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
            return;
        }
        let mut p = self.plain.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        p.done += n;
        if p.last.elapsed() >= PLAIN_EVERY {
            p.last = std::time::Instant::now();
            eprintln!(
                "{}: {}/{}",
                p.label,
                crate::words::size(p.done),
                crate::words::size(p.total)
            );
        }
    }

    fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
