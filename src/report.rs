//! Run reports: what s3rec tells an SNS topic after a run (`report:` in the manifest), as data.
//!
//! Pure: a [`RunSummary`] is built from the executor's [`crate::exec::Report`] and what the command
//! knows (environment, account, run id, duration), and rendered into an SNS subject and message here;
//! `aws::publish` sends them. See docs/reports.md for the format.
//!
//! One message serves two readers. A person reading e-mail gets plain text first; a program reading an
//! SQS queue or a Lambda gets the same facts as one JSON document after the line [`JSON_MARKER`], the
//! last part of the message. SNS protocol-specific messages (`MessageStructure: json`) would split the
//! two, but e-mail-json and HTTP subscribers would then get whichever variant SNS picks, and a reader of
//! a forwarded e-mail would lose the machine part; one message with both never surprises anyone.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::exec::{Report, Status};
use crate::plan::Action;
use crate::state::RunOutcome;

/// Version of the JSON document at the end of the message.
pub const FORMAT_VERSION: u32 = 1;

/// The line after which the message is one JSON document, to its end.
pub const JSON_MARKER: &str = "--- machine-readable report (JSON) ---";

/// SNS wants subjects of ASCII without line breaks or control characters, shorter than 100 characters.
pub const MAX_SUBJECT_CHARS: usize = 99;

/// At most this many failures are listed (the rest are counted), so that a run where everything failed
/// still fits SNS's 256 KiB message limit.
pub const MAX_FAILURES: usize = 25;

/// Error texts longer than this are cut, for the same reason.
pub const MAX_ERROR_CHARS: usize = 1000;

/// One failed change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub address: String,
    /// The plan's action: `create`, `update`, `replace`, `delete`.
    pub action: &'static str,
    pub error: String,
}

/// Changes that succeeded, by action, and those that failed or were skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub replaced: usize,
    pub deleted: usize,
    /// Existing resources recorded in the state without an AWS call.
    pub adopted: usize,
    pub failed: usize,
    /// Not attempted because a change they depend on failed.
    pub skipped: usize,
}

/// Everything a run report says about one run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// The command that ran: `apply` (later `sync`, `migrate`).
    pub command: String,
    pub environment: String,
    /// The AWS account, when STS said.
    pub account: Option<String>,
    /// The run's id in the state, which `s3rec state journal --run ID` shows.
    pub run_id: i64,
    /// The outcome recorded in the state.
    pub outcome: RunOutcome,
    pub counts: Counts,
    /// The first [`MAX_FAILURES`] failures, by address.
    pub failures: Vec<Failure>,
    /// Failures beyond [`MAX_FAILURES`], counted only.
    pub failures_omitted: usize,
    pub duration: Duration,
    /// What each sync mapping of the run did (empty when the run synced nothing).
    pub sync: Vec<SyncCounts>,
    /// What each migration of the run did (empty unless the run was `migrate`).
    pub migrations: Vec<MigrationCounts>,
    /// What each restore of the run did (empty unless the run was `restore`).
    pub restores: Vec<RestoreCounts>,
}

/// One restore's work in a run: for `restore --verify-only`, the proof that a backup can be read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreCounts {
    pub mapping: String,
    /// The point in time restored (RFC 3339), or `latest`.
    pub at: String,
    /// `verify-only` (read and checked, nothing written) or `in-place` (old versions made current).
    pub mode: &'static str,
    pub files: usize,
    pub bytes: u64,
    pub verified: usize,
    /// `in-place`: versions copied back onto their keys, and delete markers added.
    pub copied: usize,
    pub delete_markers: usize,
    pub failed: usize,
    pub refused: usize,
}

/// One migration's work in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationCounts {
    pub migration: String,
    pub bucket: String,
    /// The bucket's phase after the run (`wait`, `delete`, `done`, ...).
    pub phase: String,
    pub restores_requested: usize,
    /// Restores still outstanding after the run.
    pub restoring: usize,
    pub downloaded: usize,
    pub downloaded_bytes: u64,
    pub verified: usize,
    pub deleted: usize,
    pub failed: usize,
    pub refused: usize,
}

/// One sync mapping's work in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncCounts {
    pub mapping: String,
    pub uploaded: usize,
    pub uploaded_bytes: u64,
    pub unchanged: usize,
    pub deleted: usize,
    pub failed: usize,
}

impl RunSummary {
    /// Summarizes the executor's report of one run. `outcome` is the one recorded in the state, so the
    /// report and `s3rec state journal` always agree.
    pub fn new(
        command: &str,
        environment: &str,
        account: Option<&str>,
        run_id: i64,
        outcome: RunOutcome,
        report: &Report,
        duration: Duration,
    ) -> RunSummary {
        let counts = Counts {
            created: report.succeeded(Action::Create),
            updated: report.succeeded(Action::Update),
            replaced: report.succeeded(Action::Replace),
            deleted: report.succeeded(Action::Delete),
            adopted: report.succeeded(Action::Adopt),
            failed: report.failed(),
            skipped: report.skipped(),
        };
        let mut failures: Vec<Failure> = report
            .actions
            .iter()
            .filter_map(|a| match &a.status {
                Status::Failed(error) => Some(Failure {
                    address: a.address.clone(),
                    action: a.action.verb(),
                    error: cut(error, MAX_ERROR_CHARS),
                }),
                _ => None,
            })
            .collect();
        // The executor reports in the order changes finished, which differs between runs.
        failures.sort_by(|a, b| a.address.cmp(&b.address));
        let failures_omitted = failures.len().saturating_sub(MAX_FAILURES);
        failures.truncate(MAX_FAILURES);
        RunSummary {
            command: command.to_string(),
            environment: environment.to_string(),
            account: account.map(str::to_string),
            run_id,
            outcome,
            counts,
            failures,
            failures_omitted,
            duration,
            sync: Vec::new(),
            migrations: Vec::new(),
            restores: Vec::new(),
        }
    }

    /// Adds what sync mappings did in the run: their counts, and their failures (addressed
    /// `sync.NAME: FILE`) after the changes' failures, within the same [`MAX_FAILURES`].
    pub fn with_sync(mut self, outcomes: &[crate::sync::run::Outcome]) -> RunSummary {
        for o in outcomes {
            let failures = o
                .skipped
                .iter()
                .map(|s| (s.clone(), String::new()))
                .chain(o.failed.iter().cloned());
            let mut failed = 0;
            for (what, error) in failures {
                failed += 1;
                if self.failures.len() < MAX_FAILURES {
                    self.failures.push(Failure {
                        address: format!("sync.{}: {what}", o.mapping),
                        action: "upload",
                        error: cut(&error, MAX_ERROR_CHARS),
                    });
                } else {
                    self.failures_omitted += 1;
                }
            }
            self.sync.push(SyncCounts {
                mapping: o.mapping.clone(),
                uploaded: o.uploaded,
                uploaded_bytes: o.uploaded_bytes,
                unchanged: o.unchanged,
                deleted: o.deleted,
                failed,
            });
        }
        self
    }

    /// Adds what restores did in the run: their counts, and their failures and refused keys
    /// (addressed `restore.MAPPING: KEY`), within the same [`MAX_FAILURES`].
    pub fn with_restores(mut self, outcomes: &[crate::restore::run::Outcome], mode: &'static str) -> RunSummary {
        for o in outcomes {
            let problems = o
                .failed
                .iter()
                .map(|f| (f, "verify"))
                .chain(o.refused.iter().map(|r| (r, "refuse")));
            for ((key, error), action) in problems {
                if self.failures.len() < MAX_FAILURES {
                    self.failures.push(Failure {
                        address: format!("restore.{}: {key}", o.mapping),
                        action,
                        error: cut(error, MAX_ERROR_CHARS),
                    });
                } else {
                    self.failures_omitted += 1;
                }
            }
            self.restores.push(RestoreCounts {
                mapping: o.mapping.clone(),
                at: o.at.clone(),
                mode,
                files: o.files,
                bytes: o.bytes,
                verified: o.verified,
                copied: o.copied,
                delete_markers: o.delete_markers,
                failed: o.failed.len(),
                refused: o.refused.len(),
            });
        }
        self
    }

    /// Adds what migrations did in the run: their counts, and their failures and refused keys
    /// (addressed `migration.NAME: KEY`), within the same [`MAX_FAILURES`].
    pub fn with_migrations(mut self, outcomes: &[crate::migrate::run::Outcome]) -> RunSummary {
        for o in outcomes {
            let problems = o
                .failed
                .iter()
                .map(|f| (f, "migrate"))
                .chain(o.refused.iter().map(|r| (r, "refuse")));
            for ((key, error), action) in problems {
                if self.failures.len() < MAX_FAILURES {
                    self.failures.push(Failure {
                        address: format!("migration.{}: {key}", o.migration),
                        action,
                        error: cut(error, MAX_ERROR_CHARS),
                    });
                } else {
                    self.failures_omitted += 1;
                }
            }
            self.migrations.push(MigrationCounts {
                migration: o.migration.clone(),
                bucket: o.bucket.clone(),
                phase: o.phase.map_or("scan", |p| p.as_str()).to_string(),
                restores_requested: o.restores_requested,
                restoring: o.tally.restoring,
                downloaded: o.downloaded,
                downloaded_bytes: o.downloaded_bytes,
                verified: o.verified,
                deleted: o.deleted,
                failed: o.failed.len(),
                refused: o.refused.len(),
            });
        }
        self
    }
}

/// `40 verified, 1 failed` over every restore of the run.
fn restore_counts(r: &[RestoreCounts]) -> String {
    let sum = |f: fn(&RestoreCounts) -> usize| r.iter().map(f).sum::<usize>();
    nonzero(
        &[
            (sum(|c| c.verified), "verified"),
            (sum(|c| c.copied), "copied back"),
            (sum(|c| c.delete_markers), "delete markers"),
            (sum(|c| c.failed), "failed"),
            (sum(|c| c.refused), "refused"),
        ],
        "nothing to do",
    )
}

/// `40 downloaded, 12 restores requested, 1 failed` over every migration of the run.
fn migration_counts(m: &[MigrationCounts]) -> String {
    let sum = |f: fn(&MigrationCounts) -> usize| m.iter().map(f).sum::<usize>();
    nonzero(
        &[
            (sum(|c| c.restores_requested), "restores requested"),
            (sum(|c| c.downloaded), "downloaded"),
            (sum(|c| c.deleted), "deleted"),
            (sum(|c| c.failed), "failed"),
            (sum(|c| c.refused), "refused"),
        ],
        "nothing to do",
    )
}

/// `3 created, 1 updated, 2 failed`: the non-zero counts, or `no changes` when all are zero.
fn nonzero_counts(c: &Counts) -> String {
    nonzero(
        &[
            (c.created, "created"),
            (c.updated, "updated"),
            (c.replaced, "replaced"),
            (c.deleted, "deleted"),
            (c.adopted, "adopted"),
            (c.failed, "failed"),
            (c.skipped, "skipped"),
        ],
        "no changes",
    )
}

/// `120 uploaded, 3 deleted, 1 failed` over every sync mapping of the run.
fn sync_counts(sync: &[SyncCounts]) -> String {
    let sum = |f: fn(&SyncCounts) -> usize| sync.iter().map(f).sum::<usize>();
    nonzero(
        &[
            (sum(|c| c.uploaded), "uploaded"),
            (sum(|c| c.deleted), "deleted"),
            (sum(|c| c.failed), "failed"),
        ],
        "up to date",
    )
}

/// `N what` for each non-zero count, joined; `none` when all are zero.
fn nonzero(counts: &[(usize, &str)], none: &str) -> String {
    let parts: Vec<String> = counts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    if parts.is_empty() {
        none.to_string()
    } else {
        parts.join(", ")
    }
}

/// The SNS subject: `s3rec apply prod: succeeded (3 created, 1 updated)`, printable ASCII only and at
/// most [`MAX_SUBJECT_CHARS`] characters (cut with `...`).
pub fn subject(s: &RunSummary) -> String {
    let counts = match (s.sync.is_empty(), nonzero_counts(&s.counts).as_str()) {
        _ if !s.migrations.is_empty() => migration_counts(&s.migrations),
        _ if !s.restores.is_empty() => restore_counts(&s.restores),
        (true, changes) => changes.to_string(),
        (false, "no changes") => sync_counts(&s.sync),
        (false, changes) => format!("{changes}; sync {}", sync_counts(&s.sync)),
    };
    let text = format!(
        "s3rec {} {}: {} ({counts})",
        s.command,
        s.environment,
        s.outcome.as_str()
    );
    // SNS rejects the whole Publish call over a subject it does not like; a `?` for an exotic
    // character in an environment name is better than no report.
    let ascii: String = text
        .chars()
        .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' })
        .collect();
    if ascii.len() <= MAX_SUBJECT_CHARS {
        ascii
    } else {
        format!("{}...", &ascii[..MAX_SUBJECT_CHARS - 3])
    }
}

/// The JSON document at the end of the message.
#[derive(Serialize)]
struct JsonReport<'a> {
    format_version: u32,
    command: &'a str,
    environment: &'a str,
    account: Option<&'a str>,
    run_id: i64,
    outcome: &'static str,
    duration_ms: u128,
    counts: Counts,
    failures: &'a [Failure],
    failures_omitted: usize,
    #[serde(skip_serializing_if = "<[SyncCounts]>::is_empty")]
    sync: &'a [SyncCounts],
    #[serde(skip_serializing_if = "<[MigrationCounts]>::is_empty")]
    migrations: &'a [MigrationCounts],
    #[serde(skip_serializing_if = "<[RestoreCounts]>::is_empty")]
    restores: &'a [RestoreCounts],
}

/// The message: a plain-text report for people, then [`JSON_MARKER`] and the same facts as one
/// pretty-printed JSON document (format [`FORMAT_VERSION`]) for programs.
pub fn message(s: &RunSummary) -> String {
    let mut out = String::new();
    let c = &s.counts;
    let _ = writeln!(
        out,
        "s3rec {} of environment {} {}.\n",
        s.command,
        s.environment,
        s.outcome.as_str()
    );
    let field = |out: &mut String, name: &str, value: &str| {
        let _ = writeln!(out, "{:<12} {value}", format!("{name}:"));
    };
    field(&mut out, "Environment", &s.environment);
    field(&mut out, "Account", s.account.as_deref().unwrap_or("unknown"));
    field(&mut out, "Run", &s.run_id.to_string());
    field(&mut out, "Outcome", s.outcome.as_str());
    field(&mut out, "Duration", &crate::output::duration_text(s.duration));
    field(
        &mut out,
        "Changes",
        &format!(
            "{} created, {} updated, {} replaced, {} deleted{}",
            c.created,
            c.updated,
            c.replaced,
            c.deleted,
            if c.adopted > 0 {
                format!(", {} adopted", c.adopted)
            } else {
                String::new()
            }
        ),
    );
    field(&mut out, "Failed", &c.failed.to_string());
    field(&mut out, "Skipped", &c.skipped.to_string());
    for m in &s.sync {
        field(
            &mut out,
            &format!("Sync {}", m.mapping),
            &format!(
                "{} uploaded ({} bytes), {} unchanged, {} deleted, {} failed",
                m.uploaded, m.uploaded_bytes, m.unchanged, m.deleted, m.failed
            ),
        );
    }
    for m in &s.migrations {
        field(
            &mut out,
            &format!("Migration {}", m.migration),
            &format!(
                "bucket {}, phase {}: {} restores requested, {} restoring, {} downloaded ({} bytes), {} verified, {} deleted, {} failed, {} refused",
                m.bucket,
                m.phase,
                m.restores_requested,
                m.restoring,
                m.downloaded,
                m.downloaded_bytes,
                m.verified,
                m.deleted,
                m.failed,
                m.refused
            ),
        );
    }
    for r in &s.restores {
        field(
            &mut out,
            &format!("Restore {}", r.mapping),
            &format!(
                "{} as of {}: {} files ({} bytes), {} verified, {} copied back, {} delete markers, {} failed, {} refused",
                r.mode, r.at, r.files, r.bytes, r.verified, r.copied, r.delete_markers, r.failed, r.refused
            ),
        );
    }
    if !s.failures.is_empty() {
        out.push_str("\nFailures:\n");
        for f in &s.failures {
            // One line per failure: an error text cannot forge the JSON marker line.
            let error = f.error.replace(['\r', '\n'], " ");
            let _ = writeln!(out, "  - {} ({}): {error}", f.address, f.action);
        }
        if s.failures_omitted > 0 {
            let _ = writeln!(out, "  ... and {} more", s.failures_omitted);
        }
    }
    let _ = writeln!(
        out,
        "\nDetails: s3rec state journal -e {} --run {}",
        s.environment, s.run_id
    );
    let json = JsonReport {
        format_version: FORMAT_VERSION,
        command: &s.command,
        environment: &s.environment,
        account: s.account.as_deref(),
        run_id: s.run_id,
        outcome: s.outcome.as_str(),
        duration_ms: s.duration.as_millis(),
        counts: s.counts,
        failures: &s.failures,
        failures_omitted: s.failures_omitted,
        sync: &s.sync,
        migrations: &s.migrations,
        restores: &s.restores,
    };
    // Serializing plain strings and numbers cannot fail; should it ever, the text part still goes out.
    let json = serde_json::to_string_pretty(&json).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    let _ = write!(out, "\n{JSON_MARKER}\n{json}\n");
    out
}

/// `text` cut to at most `max` characters (on a character boundary), marked with `...` when cut.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::ActionReport;

    fn action(address: &str, action: Action, status: Status) -> ActionReport {
        ActionReport {
            address: address.to_string(),
            action,
            status,
            elapsed: Duration::from_millis(100),
            attempts: 1,
        }
    }

    fn succeeded_run() -> RunSummary {
        let report = Report {
            actions: vec![
                action("bucket.logs", Action::Create, Status::Succeeded),
                action("bucket.logs.versioning", Action::Create, Status::Succeeded),
                action("bucket.assets", Action::NoOp, Status::Succeeded),
                action("bucket.data.tags", Action::Update, Status::Succeeded),
                action("bucket.logs.tags", Action::Create, Status::Succeeded),
            ],
            cancelled: None,
        };
        RunSummary::new(
            "apply",
            "prod",
            Some("123456789012"),
            42,
            RunOutcome::Succeeded,
            &report,
            Duration::from_millis(12_345),
        )
    }

    fn failed_run() -> RunSummary {
        let report = Report {
            actions: vec![
                action(
                    "bucket.logs.lifecycle",
                    Action::Update,
                    Status::Failed("s3:PutLifecycleConfiguration on arn:aws:s3:::acme-logs was denied".into()),
                ),
                action("bucket.old", Action::Delete, Status::Succeeded),
                action("bucket.legacy", Action::Adopt, Status::Succeeded),
                action(
                    "bucket.b",
                    Action::Create,
                    Status::Failed("CreateBucket failed\n(BucketAlreadyExists)".into()),
                ),
                action(
                    "bucket.b.tags",
                    Action::Create,
                    Status::Skipped {
                        because: "bucket.b failed".into(),
                    },
                ),
            ],
            cancelled: None,
        };
        RunSummary::new(
            "apply",
            "dev",
            None,
            7,
            RunOutcome::Failed,
            &report,
            Duration::from_millis(850),
        )
    }

    #[test]
    fn the_subject_names_command_environment_outcome_and_nonzero_counts() {
        assert_eq!(
            subject(&succeeded_run()),
            "s3rec apply prod: succeeded (3 created, 1 updated)"
        );
        assert_eq!(
            subject(&failed_run()),
            "s3rec apply dev: failed (1 deleted, 1 adopted, 2 failed, 1 skipped)"
        );
    }

    #[test]
    fn the_subject_is_short_printable_ascii() {
        let mut run = succeeded_run();
        run.environment = format!("prød\n{}", "x".repeat(200));
        let s = subject(&run);
        assert_eq!(s.len(), MAX_SUBJECT_CHARS);
        assert!(s.starts_with("s3rec apply pr?d?xxx"), "{s}");
        assert!(s.ends_with("..."), "{s}");
        assert!(s.chars().all(|c| c.is_ascii_graphic() || c == ' '), "{s}");
    }

    #[test]
    fn a_successful_run_reads_as_text_then_json() {
        assert_eq!(
            message(&succeeded_run()),
            r#"s3rec apply of environment prod succeeded.

Environment: prod
Account:     123456789012
Run:         42
Outcome:     succeeded
Duration:    12.3 s
Changes:     3 created, 1 updated, 0 replaced, 0 deleted
Failed:      0
Skipped:     0

Details: s3rec state journal -e prod --run 42

--- machine-readable report (JSON) ---
{
  "format_version": 1,
  "command": "apply",
  "environment": "prod",
  "account": "123456789012",
  "run_id": 42,
  "outcome": "succeeded",
  "duration_ms": 12345,
  "counts": {
    "created": 3,
    "updated": 1,
    "replaced": 0,
    "deleted": 0,
    "adopted": 0,
    "failed": 0,
    "skipped": 0
  },
  "failures": [],
  "failures_omitted": 0
}
"#
        );
    }

    #[test]
    fn a_failed_run_lists_each_failure_with_address_and_error() {
        assert_eq!(
            message(&failed_run()),
            r#"s3rec apply of environment dev failed.

Environment: dev
Account:     unknown
Run:         7
Outcome:     failed
Duration:    850 ms
Changes:     0 created, 0 updated, 0 replaced, 1 deleted, 1 adopted
Failed:      2
Skipped:     1

Failures:
  - bucket.b (create): CreateBucket failed (BucketAlreadyExists)
  - bucket.logs.lifecycle (update): s3:PutLifecycleConfiguration on arn:aws:s3:::acme-logs was denied

Details: s3rec state journal -e dev --run 7

--- machine-readable report (JSON) ---
{
  "format_version": 1,
  "command": "apply",
  "environment": "dev",
  "account": null,
  "run_id": 7,
  "outcome": "failed",
  "duration_ms": 850,
  "counts": {
    "created": 0,
    "updated": 0,
    "replaced": 0,
    "deleted": 1,
    "adopted": 1,
    "failed": 2,
    "skipped": 1
  },
  "failures": [
    {
      "address": "bucket.b",
      "action": "create",
      "error": "CreateBucket failed\n(BucketAlreadyExists)"
    },
    {
      "address": "bucket.logs.lifecycle",
      "action": "update",
      "error": "s3:PutLifecycleConfiguration on arn:aws:s3:::acme-logs was denied"
    }
  ],
  "failures_omitted": 0
}
"#
        );
    }

    #[test]
    fn the_json_part_is_everything_after_the_marker() {
        let text = message(&failed_run());
        let (_, json) = text.split_once(&format!("\n{JSON_MARKER}\n")).expect("marker");
        let doc: serde_json::Value = serde_json::from_str(json).expect("JSON");
        assert_eq!(doc["counts"]["failed"], 2);
        assert_eq!(doc["failures"][1]["address"], "bucket.logs.lifecycle");
    }

    #[test]
    fn many_failures_are_capped_and_counted() {
        let report = Report {
            actions: (0..MAX_FAILURES + 3)
                .map(|i| {
                    action(
                        &format!("bucket.b{i:03}"),
                        Action::Create,
                        Status::Failed("é".repeat(MAX_ERROR_CHARS + 5)),
                    )
                })
                .collect(),
            cancelled: None,
        };
        let run = RunSummary::new("apply", "dev", None, 1, RunOutcome::Failed, &report, Duration::ZERO);
        assert_eq!(run.failures.len(), MAX_FAILURES);
        assert_eq!(run.failures_omitted, 3);
        assert_eq!(run.counts.failed, MAX_FAILURES + 3);
        assert_eq!(run.failures[0].error.chars().count(), MAX_ERROR_CHARS + 3);
        let text = message(&run);
        assert!(text.contains("  ... and 3 more\n"), "{text}");
        assert!(text.len() < 256 * 1024, "{}", text.len());
    }

    #[test]
    fn a_sync_run_reports_uploads_and_failures_per_mapping() {
        let outcome = crate::sync::run::Outcome {
            mapping: "office".to_string(),
            uploaded: 120,
            uploaded_bytes: 4096,
            unchanged: 10,
            deleted: 3,
            failed: vec![("a.txt".to_string(), "cannot be read: denied".to_string())],
            skipped: Vec::new(),
            links_skipped: 0,
            duration: Duration::from_secs(2),
            ..Default::default()
        };
        let s = RunSummary::new(
            "sync",
            "prod",
            Some("123456789012"),
            9,
            RunOutcome::Failed,
            &Report::default(),
            Duration::from_secs(2),
        )
        .with_sync(&[outcome]);
        assert_eq!(
            subject(&s),
            "s3rec sync prod: failed (120 uploaded, 3 deleted, 1 failed)"
        );
        let text = message(&s);
        assert!(
            text.contains("Sync office: 120 uploaded (4096 bytes), 10 unchanged, 3 deleted, 1 failed\n"),
            "{text}"
        );
        assert!(
            text.contains("  - sync.office: a.txt (upload): cannot be read: denied\n"),
            "{text}"
        );
        assert!(text.contains("\"sync\": ["), "{text}");
    }

    #[test]
    fn a_migrate_run_reports_each_migration_with_its_failures_and_refused_keys() {
        let outcome = crate::migrate::run::Outcome {
            migration: "retire".to_string(),
            bucket: "acme-old".to_string(),
            restores_requested: 12,
            downloaded: 40,
            downloaded_bytes: 5000,
            verified: 40,
            failed: vec![(
                "a.bin".to_string(),
                "verification failed twice: md5 differs".to_string(),
            )],
            refused: vec![("../x".to_string(), "it would escape the destination".to_string())],
            tally: crate::migrate::status::Tally {
                restoring: 3,
                ..Default::default()
            },
            phase: Some(crate::migrate::status::Phase::Wait),
            ..Default::default()
        };
        let s = RunSummary::new(
            "migrate",
            "prod",
            Some("123456789012"),
            11,
            RunOutcome::Failed,
            &Report::default(),
            Duration::from_secs(60),
        )
        .with_migrations(&[outcome]);
        assert_eq!(
            subject(&s),
            "s3rec migrate prod: failed (12 restores requested, 40 downloaded, 1 failed, 1 refused)"
        );
        let text = message(&s);
        assert!(
            text.contains("Migration retire: bucket acme-old, phase wait: 12 restores requested, 3 restoring, 40 downloaded (5000 bytes), 40 verified, 0 deleted, 1 failed, 1 refused\n"),
            "{text}"
        );
        assert!(
            text.contains("  - migration.retire: a.bin (migrate): verification failed twice"),
            "{text}"
        );
        assert!(
            text.contains("  - migration.retire: ../x (refuse): it would escape"),
            "{text}"
        );
        assert!(text.contains("\"migrations\": ["), "{text}");
    }
}
