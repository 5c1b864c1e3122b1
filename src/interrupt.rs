//! Ctrl-C and SIGTERM.
//!
//! A command that changes things (`apply`, `sync`, `migrate run`) must not die between an AWS call and
//! the record of it when it can help it: a killed run leaves `started` journal rows, an `unfinished`
//! run and, for uploads, parts nobody completes. So while such work runs ([`Graceful`] is held), the
//! first signal only asks it to stop: it starts nothing new, lets the calls in flight finish (for at
//! most [`DRAIN`]), records the run as `cancelled`, releases its locks and exits with 130 (SIGINT) or
//! 143 (SIGTERM). A second signal, or a first one while nothing needs finishing (a plan, a prompt),
//! exits at once with the same code; what the state says then is what a kill leaves, which the journal
//! is built to report.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// How long the calls in flight may take to finish after the first signal before they are abandoned
/// (their journal rows then stay `started`, as after a kill).
pub const DRAIN: Duration = Duration::from_secs(30);

/// The signal that asked s3rec to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT: Ctrl-C on a terminal.
    Interrupt,
    /// SIGTERM: a service manager or CI runner stopping the job.
    Terminate,
}

impl Signal {
    /// The conventional exit code of a process stopped by this signal (128 + its number).
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    fn code(self) -> u8 {
        match self {
            Signal::Interrupt => 1,
            Signal::Terminate => 2,
        }
    }

    fn from_code(code: u8) -> Option<Signal> {
        match code {
            1 => Some(Signal::Interrupt),
            2 => Some(Signal::Terminate),
            _ => None,
        }
    }
}

/// The first signal received, as [`Signal::code`]; 0 while none was.
static RECEIVED: AtomicU8 = AtomicU8::new(0);
/// How many [`Graceful`] guards are alive.
static GRACEFUL: AtomicUsize = AtomicUsize::new(0);

fn notify() -> &'static Notify {
    static NOTIFY: OnceLock<Notify> = OnceLock::new();
    NOTIFY.get_or_init(Notify::new)
}

/// The signal that asked the current work to stop, if one did.
pub fn requested() -> Option<Signal> {
    Signal::from_code(RECEIVED.load(Ordering::SeqCst))
}

/// Resolves once a stop is requested (at once if one already was). For `select!` beside the work.
pub async fn wait() {
    loop {
        let notified = notify().notified();
        tokio::pin!(notified);
        // Registered before the check, so a signal between the check and the await is not missed.
        notified.as_mut().enable();
        if requested().is_some() {
            return;
        }
        notified.await;
    }
}

/// Held while work runs that should finish its calls in flight rather than die with them.
#[must_use = "the guard marks graceful work only while it is alive"]
pub struct Graceful(());

/// Marks the work that follows as graceful until the guard is dropped.
pub fn graceful() -> Graceful {
    GRACEFUL.fetch_add(1, Ordering::SeqCst);
    Graceful(())
}

impl Drop for Graceful {
    fn drop(&mut self) {
        GRACEFUL.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One loop's view of a stop request: once a signal arrives, [`Stop::may_start`] says no, and
/// [`Stop::guard`] lets the work in flight finish until the drain deadline, then gives up on it.
#[derive(Debug, Default)]
pub struct Stop {
    deadline: Option<tokio::time::Instant>,
}

impl Stop {
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Whether new work may start: false from the moment a stop is requested.
    pub fn may_start(&mut self) -> bool {
        if self.deadline.is_none() && requested().is_some() {
            self.deadline = Some(tokio::time::Instant::now() + DRAIN);
        }
        self.deadline.is_none()
    }

    /// Awaits `work` (typically the next task of a set to finish). A stop request while it waits starts
    /// the drain; `None` means the drain deadline passed first and the work in flight is abandoned.
    pub async fn guard<F: Future>(&mut self, work: F) -> Option<F::Output> {
        tokio::pin!(work);
        if self.deadline.is_none() {
            tokio::select! {
                out = &mut work => return Some(out),
                () = wait() => self.deadline = Some(tokio::time::Instant::now() + DRAIN),
            }
        }
        let deadline = self.deadline?;
        tokio::time::timeout_at(deadline, work).await.ok()
    }

    /// The signal that stopped this loop, once it did.
    pub fn stopped(&self) -> Option<Signal> {
        self.deadline.and(requested())
    }
}

/// Listens for SIGINT and SIGTERM for the life of the runtime it is spawned on.
#[cfg(unix)]
pub async fn listen() {
    use tokio::signal::unix::{SignalKind, signal};
    // The streams are made once: a signal that arrives while the first one is handled is still seen.
    let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        return;
    };
    loop {
        let signal = tokio::select! {
            _ = interrupt.recv() => Signal::Interrupt,
            _ = terminate.recv() => Signal::Terminate,
        };
        received(signal);
    }
}

/// Listens for Ctrl-C for the life of the runtime it is spawned on.
#[cfg(not(unix))]
pub async fn listen() {
    while tokio::signal::ctrl_c().await.is_ok() {
        received(Signal::Interrupt);
    }
}

fn received(signal: Signal) {
    let first = RECEIVED
        .compare_exchange(0, signal.code(), Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    if !first || GRACEFUL.load(Ordering::SeqCst) == 0 {
        eprintln!("\ns3rec: {} received, stopping now.", signal.name());
        std::process::exit(i32::from(signal.exit_code()));
    }
    eprintln!(
        "\ns3rec: {} received: starting nothing new, letting the calls in flight finish (at most {} s), then \
         recording the run as cancelled. Send it again to stop at once.",
        signal.name(),
        DRAIN.as_secs()
    );
    notify().notify_waiters();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(Signal::Interrupt.exit_code(), 130);
        assert_eq!(Signal::Terminate.exit_code(), 143);
        for s in [Signal::Interrupt, Signal::Terminate] {
            assert_eq!(Signal::from_code(s.code()), Some(s));
        }
        assert_eq!(Signal::from_code(0), None);
    }

    #[test]
    fn guards_count_graceful_work() {
        let before = GRACEFUL.load(Ordering::SeqCst);
        let a = graceful();
        let b = graceful();
        assert_eq!(GRACEFUL.load(Ordering::SeqCst), before + 2);
        drop(a);
        drop(b);
        assert_eq!(GRACEFUL.load(Ordering::SeqCst), before);
    }
}
