//! Runs and the apply journal.
//!
//! A run is one execution of a mutating command. Each action of a run gets a journal entry that is
//! written as `started` *before* the AWS call and finished (`succeeded` or `failed`) after it, so the
//! journal never claims less than what may have happened: an entry still `started` after its run is
//! over means s3rec never learned the outcome, and the resource may be half-changed.

use std::fmt;

use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::{EntryId, RunId, StateDb, StateError, now_rfc3339};
use crate::plan::{Action, Address};

/// Where one journal entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Recorded before the AWS call; the outcome is not known yet (or never became known).
    Started,
    Succeeded,
    Failed,
    /// Not attempted, e.g. because something it depends on failed.
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Started => "started",
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        [Outcome::Started, Outcome::Succeeded, Outcome::Failed, Outcome::Skipped]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Every action succeeded.
    Succeeded,
    /// At least one action failed (independent work may still have completed).
    Failed,
    /// Stopped early on request (Ctrl-C), after recording what had happened.
    Cancelled,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Failed => "failed",
            RunOutcome::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<RunOutcome> {
        [RunOutcome::Succeeded, RunOutcome::Failed, RunOutcome::Cancelled]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of `runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: RunId,
    /// The command that ran (`apply`, `sync`, ...).
    pub command: String,
    pub environment: String,
    /// SHA-256 of the plan that was executed, when the command executes a plan.
    pub plan_sha256: Option<String>,
    /// Version of the s3rec that ran it.
    pub s3rec_version: String,
    /// Process id of that s3rec, to tell a run still going from one that died.
    pub pid: u32,
    pub started_at: String,
    /// `None` while the run is going, and forever if the process died before finishing it.
    pub finished_at: Option<String>,
    pub outcome: Option<RunOutcome>,
}

/// One row of `journal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub id: EntryId,
    pub run_id: RunId,
    pub address: Address,
    pub action: Action,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Milliseconds between start and finish, when finished.
    pub duration_ms: Option<i64>,
    pub outcome: Outcome,
    /// The error of a failed action, or why a skipped one was skipped.
    pub message: Option<String>,
}

/// The name stored for an action: its serde name, so the journal and the plan JSON agree.
fn action_str(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Delete => "delete",
        Action::Adopt => "adopt",
        Action::NoOp => "no_op",
    }
}

fn parse_action(s: &str) -> Option<Action> {
    [
        Action::Create,
        Action::Update,
        Action::Replace,
        Action::Delete,
        Action::Adopt,
        Action::NoOp,
    ]
    .into_iter()
    .find(|a| action_str(*a) == s)
}

/// The message of an interrupted entry that a later plan found converged.
const SETTLED: &str =
    "the outcome of this call was never learned; a later plan read the resource and found it as the manifest wants";

const RUN_COLUMNS: &str = "id, command, environment, plan_sha256, s3rec_version, pid, started_at, finished_at, outcome";

/// Journal columns, with the duration computed by SQLite from the two RFC 3339 timestamps.
const ENTRY_COLUMNS: &str = "j.id, j.run_id, j.address, j.action, j.started_at, j.finished_at, \
     CAST(round((julianday(j.finished_at) - julianday(j.started_at)) * 86400000.0) AS INTEGER), j.outcome, j.message";

impl StateDb {
    /// Records the start of a run and returns its id. Call [`StateDb::finish_run`] when it ends; a run
    /// that is never finished is how a crash shows up later.
    pub fn begin_run(
        &mut self,
        command: &str,
        environment: &str,
        plan_sha256: Option<&str>,
    ) -> Result<RunId, StateError> {
        let run = self.atomically(|db| {
            db.conn
                .prepare_cached(
                    "INSERT INTO runs (command, environment, plan_sha256, s3rec_version, pid, started_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        command,
                        environment,
                        plan_sha256,
                        env!("CARGO_PKG_VERSION"),
                        std::process::id(),
                        now_rfc3339(),
                    ])
                })
                .map_err(|e| db.err(e))?;
            let run = RunId(db.conn.last_insert_rowid());
            db.bump_serial()?;
            Ok(run)
        })?;
        self.open_runs.push(run);
        Ok(run)
    }

    /// Records how `run` ended. Entries still `started` are left as they are: their outcome is unknown
    /// (the run was cancelled during the call), and [`StateDb::interrupted_entries`] reports them.
    pub fn finish_run(&mut self, run: RunId, outcome: RunOutcome) -> Result<(), StateError> {
        let changed = self.atomically(|db| {
            let changed = db
                .conn
                .prepare_cached("UPDATE runs SET finished_at = ?2, outcome = ?3 WHERE id = ?1 AND finished_at IS NULL")
                .and_then(|mut stmt| stmt.execute(params![run.0, now_rfc3339(), outcome.as_str()]))
                .map_err(|e| db.err(e))?;
            if changed > 0 {
                db.bump_serial()?;
            }
            Ok(changed)
        })?;
        self.open_runs.retain(|r| *r != run);
        if changed == 0 {
            return Err(self.misuse(format!(
                "run {run} cannot be finished: it does not exist or already finished"
            )));
        }
        Ok(())
    }

    /// One run, if it exists.
    pub fn run(&self, id: RunId) -> Result<Option<RunRecord>, StateError> {
        let raw = self
            .conn
            .prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"))
            .and_then(|mut stmt| stmt.query_row([id.0], RawRun::from_row).optional())
            .map_err(|e| self.err(e))?;
        raw.map(|raw| raw.decode(self)).transpose()
    }

    /// The most recent `limit` runs, newest first.
    pub fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let raws = self
            .conn
            .prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT ?1"))
            .and_then(|mut stmt| {
                stmt.query_map([limit], RawRun::from_row)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| self.err(e))?;
        raws.into_iter().map(|raw| raw.decode(self)).collect()
    }

    /// Records that `action` on `address` is about to be sent to AWS. Call this *before* the call and
    /// [`StateDb::journal_finish`] after it, so a crash in between leaves the entry `started`.
    pub fn journal_start(&self, run: RunId, address: &Address, action: Action) -> Result<EntryId, StateError> {
        self.insert_entry(run, address, action, Outcome::Started, None)
    }

    /// Records how a started action ended: `Succeeded`, `Failed` (with the error), or `Skipped` when it
    /// was not sent after all.
    pub fn journal_finish(&self, entry: EntryId, outcome: Outcome, error: Option<&str>) -> Result<(), StateError> {
        if outcome == Outcome::Started {
            return Err(self.misuse(format!("journal entry {entry} cannot be finished as `started`")));
        }
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE journal SET outcome = ?2, finished_at = ?3, message = ?4 \
                 WHERE id = ?1 AND outcome = 'started'",
            )
            .and_then(|mut stmt| stmt.execute(params![entry.0, outcome.as_str(), now_rfc3339(), error]))
            .map_err(|e| self.err(e))?;
        if changed == 0 {
            return Err(self.misuse(format!(
                "journal entry {entry} cannot be finished: it does not exist or already finished"
            )));
        }
        Ok(())
    }

    /// Records an action of the plan that was not attempted, and why (e.g. "bucket.logs failed").
    pub fn journal_skip(
        &self,
        run: RunId,
        address: &Address,
        action: Action,
        reason: &str,
    ) -> Result<EntryId, StateError> {
        self.insert_entry(run, address, action, Outcome::Skipped, Some(reason))
    }

    /// Every entry of `run`, in the order they were recorded.
    pub fn journal(&self, run: RunId) -> Result<Vec<JournalEntry>, StateError> {
        self.entries(
            &format!("SELECT {ENTRY_COLUMNS} FROM journal j WHERE j.run_id = ?1 ORDER BY j.id"),
            run.0,
        )
    }

    /// Entries whose outcome s3rec never learned: still `started`, in a run that this handle is not
    /// running right now. Their action may be half-done, so a plan should warn about them.
    ///
    /// An entry stops being reported once a later action on the same address (or on a resource that
    /// contains it, like the bucket of a document) finished, because that later action re-read and
    /// re-wrote what the interrupted one may have left behind; or once a plan read the address and found
    /// it as the manifest wants ([`StateDb::settle_interrupted`]).
    pub fn interrupted_entries(&self) -> Result<Vec<JournalEntry>, StateError> {
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM journal j WHERE j.outcome = 'started' AND j.message IS NULL AND j.id > ?1 \
             AND NOT EXISTS (SELECT 1 FROM journal later WHERE later.id > j.id \
                 AND later.outcome IN ('succeeded', 'failed') \
                 AND (later.address = j.address \
                      OR substr(j.address, 1, length(later.address) + 1) = later.address || '.')) \
             ORDER BY j.id"
        );
        // `j.id > 0` admits every entry; the parameter only lets this query share `entries` with `journal`.
        let entries = self.entries(&sql, 0)?;
        Ok(entries
            .into_iter()
            .filter(|e| !self.open_runs.contains(&e.run_id))
            .collect())
    }

    /// Settles interrupted entries whose resources a later plan read and found converged. The outcome
    /// stays `started` (the call's own result was never learned, and a `started` entry has no finish
    /// time), but the entry gets a message saying how it was settled, and
    /// [`StateDb::interrupted_entries`] stops reporting it: a `started` entry has a message only then.
    pub fn settle_interrupted(&self, entries: &[EntryId]) -> Result<(), StateError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.atomically(|db| {
            for entry in entries {
                db.conn
                    .prepare_cached(
                        "UPDATE journal SET message = ?2 WHERE id = ?1 AND outcome = 'started' AND message IS NULL",
                    )
                    .and_then(|mut stmt| stmt.execute(params![entry.0, SETTLED]))
                    .map_err(|e| db.err(e))?;
            }
            Ok(())
        })
    }

    fn insert_entry(
        &self,
        run: RunId,
        address: &Address,
        action: Action,
        outcome: Outcome,
        message: Option<&str>,
    ) -> Result<EntryId, StateError> {
        let now = now_rfc3339();
        // A skipped entry starts and ends at once; a started one has no end yet.
        let finished_at = (outcome != Outcome::Started).then(|| now.clone());
        // Entries go only into open runs: a finished run's journal is a closed record.
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO journal (run_id, address, action, started_at, finished_at, outcome, message) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS \
                 (SELECT 1 FROM runs WHERE id = ?1 AND finished_at IS NULL)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    run.0,
                    address.as_str(),
                    action_str(action),
                    now,
                    finished_at,
                    outcome.as_str(),
                    message,
                ])
            })
            .map_err(|e| self.err(e))?;
        if inserted == 0 {
            return Err(self.misuse(format!(
                "cannot journal {address} in run {run}: the run does not exist or already finished"
            )));
        }
        Ok(EntryId(self.conn.last_insert_rowid()))
    }

    fn entries(&self, sql: &str, param: i64) -> Result<Vec<JournalEntry>, StateError> {
        let raws = self
            .conn
            .prepare_cached(sql)
            .and_then(|mut stmt| {
                stmt.query_map([param], RawEntry::from_row)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| self.err(e))?;
        raws.into_iter().map(|raw| raw.decode(self)).collect()
    }
}

struct RawRun {
    id: i64,
    command: String,
    environment: String,
    plan_sha256: Option<String>,
    s3rec_version: String,
    pid: i64,
    started_at: String,
    finished_at: Option<String>,
    outcome: Option<String>,
}

impl RawRun {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<RawRun> {
        Ok(RawRun {
            id: row.get(0)?,
            command: row.get(1)?,
            environment: row.get(2)?,
            plan_sha256: row.get(3)?,
            s3rec_version: row.get(4)?,
            pid: row.get(5)?,
            started_at: row.get(6)?,
            finished_at: row.get(7)?,
            outcome: row.get(8)?,
        })
    }

    fn decode(self, db: &StateDb) -> Result<RunRecord, StateError> {
        let outcome = match self.outcome.as_deref() {
            None => None,
            Some(s) => Some(
                RunOutcome::parse(s).ok_or_else(|| unknown_value(db, &format!("run {}", self.id), "run outcome", s))?,
            ),
        };
        Ok(RunRecord {
            id: RunId(self.id),
            command: self.command,
            environment: self.environment,
            plan_sha256: self.plan_sha256,
            s3rec_version: self.s3rec_version,
            // A pid that does not fit was not written by s3rec; 0 reads as "unknown".
            pid: u32::try_from(self.pid).unwrap_or(0),
            started_at: self.started_at,
            finished_at: self.finished_at,
            outcome,
        })
    }
}

struct RawEntry {
    id: i64,
    run_id: i64,
    address: String,
    action: String,
    started_at: String,
    finished_at: Option<String>,
    duration_ms: Option<i64>,
    outcome: String,
    message: Option<String>,
}

impl RawEntry {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<RawEntry> {
        Ok(RawEntry {
            id: row.get(0)?,
            run_id: row.get(1)?,
            address: row.get(2)?,
            action: row.get(3)?,
            started_at: row.get(4)?,
            finished_at: row.get(5)?,
            duration_ms: row.get(6)?,
            outcome: row.get(7)?,
            message: row.get(8)?,
        })
    }

    fn decode(self, db: &StateDb) -> Result<JournalEntry, StateError> {
        let what = format!("journal entry {}", self.id);
        let action = parse_action(&self.action).ok_or_else(|| unknown_value(db, &what, "action", &self.action))?;
        let outcome =
            Outcome::parse(&self.outcome).ok_or_else(|| unknown_value(db, &what, "outcome", &self.outcome))?;
        Ok(JournalEntry {
            id: EntryId(self.id),
            run_id: RunId(self.run_id),
            address: Address(self.address),
            action,
            started_at: self.started_at,
            finished_at: self.finished_at,
            duration_ms: self.duration_ms,
            outcome,
            message: self.message,
        })
    }
}

/// A stored word this binary does not know: most likely a newer s3rec wrote it.
fn unknown_value(db: &StateDb, what: &str, field: &str, value: &str) -> StateError {
    StateError::Unreadable {
        path: db.path.display().to_string(),
        address: what.to_string(),
        reason: format!("unknown {field} `{value}`"),
    }
}
