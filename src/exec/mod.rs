//! The executor: runs exactly the changes of a plan, in graph order, with bounded concurrency, and
//! records every action in the journal and every success in the state.
//!
//! Independent work always completes; when an action fails, the changes that wait for it are skipped
//! (and journaled as skipped), never attempted. Journal rows are written before each AWS call, so a
//! crash leaves a `started` row saying the action may be half-done, and a re-run converges. A success is
//! journaled and recorded in the state in one transaction, so a crash never leaves one without the other.
//!
//! An action whose call ended without a clear answer (a lost response, a timeout, a reset after the
//! request was sent) is not guessed at: the resource is read again, and if it is now as the plan wants,
//! the action succeeded.

pub mod retry;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::aws::{self, Aws, AwsError};
use crate::interrupt;
use crate::plan::graph::{ChangeGraph, CycleError};
use crate::plan::{Action, Change, Plan, Resource, Value};
use crate::state::{EntryId, Outcome, ResourceRecord, RunId, StateDb, StateError};

/// How one change ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Succeeded,
    Failed(String),
    /// Not attempted because a change it depends on failed.
    Skipped {
        because: String,
    },
}

/// The result of one change.
#[derive(Debug, Clone)]
pub struct ActionReport {
    pub address: String,
    pub action: Action,
    pub status: Status,
    pub elapsed: Duration,
    pub attempts: u32,
}

/// Every change's outcome, in the order they finished.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub actions: Vec<ActionReport>,
    /// The signal that stopped the run before every change was attempted.
    pub cancelled: Option<interrupt::Signal>,
}

impl Report {
    pub fn failed(&self) -> usize {
        self.actions
            .iter()
            .filter(|a| matches!(a.status, Status::Failed(_)))
            .count()
    }

    pub fn skipped(&self) -> usize {
        self.actions
            .iter()
            .filter(|a| matches!(a.status, Status::Skipped { .. }))
            .count()
    }

    /// Succeeded changes with `action`.
    pub fn succeeded(&self, action: Action) -> usize {
        self.actions
            .iter()
            .filter(|a| a.action == action && a.status == Status::Succeeded)
            .count()
    }
}

/// Why execution could not run at all (as opposed to an action failing).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Cycle(#[from] CycleError),
    #[error(transparent)]
    State(#[from] StateError),
    /// The plan deletes or replaces resources the state does not manage (any more).
    #[error(
        "the plan would {}, but the state does not manage {}: s3rec never deletes or replaces what it does not \
         manage, so nothing was applied; make a new plan (s3rec plan -e ENV --out FILE) and review it",
        .0.iter().map(|u| format!("{} {}", u.verb, u.address)).collect::<Vec<_>>().join(", "),
        if .0.len() == 1 { "it" } else { "them" }
    )]
    Unmanaged(Vec<Unmanaged>),
}

/// A delete or replace whose resource is not in the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmanaged {
    pub address: String,
    /// `delete` or `replace`.
    pub verb: &'static str,
}

/// Refuses a plan that deletes or replaces anything the state does not manage at the moment it is
/// applied. The diff never plans that, but a saved plan is applied later, against a state that may have
/// changed (`state rm`, another copy): this is the last check before any AWS call. A bucket or IAM/SNS
/// resource counts as managed when the state records it at its address or, for a rename, under another
/// address with the same physical name; a part of an IAM/SNS resource when its owner is managed.
pub fn refuse_unmanaged(plan: &Plan, state: &StateDb) -> Result<(), ExecError> {
    let destructive: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
        .collect();
    if destructive.is_empty() {
        return Ok(());
    }
    let records = state.resources()?;
    let mut refused = Vec::new();
    for change in destructive {
        let managed = match &change.resource {
            // A document's delete or replace is at most a put of the document: nothing is removed.
            Resource::BucketDoc { .. } => true,
            Resource::Bucket { name, .. } => records
                .iter()
                .any(|r| r.address == change.address || (matches!(r.value, Value::Bucket { .. }) && r.name == *name)),
            Resource::Identity {
                kind, logical, name, ..
            } => {
                let owner = crate::plan::Address::identity(*kind, logical, None);
                records.iter().any(|r| {
                    r.address == owner
                        || matches!(
                            crate::diff::identity::parse_address(&r.address),
                            Some((k, _, None)) if k == *kind && r.name == *name
                        )
                })
            }
        };
        if !managed {
            refused.push(Unmanaged {
                address: change.address.to_string(),
                verb: change.action.verb(),
            });
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(ExecError::Unmanaged(refused))
    }
}

/// Progress reporting, so the executor stays free of terminal concerns.
pub trait Progress: Send + Sync {
    fn started(&self, change: &Change);
    fn finished(&self, report: &ActionReport);
}

/// What an action task hands back: the change's index, its result with the attempts made, how long it
/// took, and its journal entry.
type Finished = (usize, Result<(Option<Value>, u32), (String, u32)>, Duration, EntryId);

/// Runs `plan` against AWS. `parallelism` bounds the actions in flight; `root` is the project root,
/// under which access-key secret files are written.
pub async fn execute(
    plan: &Plan,
    aws: Arc<Aws>,
    state: &StateDb,
    run: RunId,
    parallelism: usize,
    root: &Path,
    progress: &dyn Progress,
) -> Result<Report, ExecError> {
    let root: Arc<PathBuf> = Arc::new(root.to_path_buf());
    let graph = ChangeGraph::new(&plan.changes, &plan.edges)?;
    let n = plan.changes.len();
    let mut waiting: Vec<usize> = (0..n).map(|i| graph.dependencies(i).len()).collect();
    let mut done = vec![false; n];
    let mut ready: Vec<usize> = (0..n).filter(|i| waiting[*i] == 0).rev().collect();
    let mut running: JoinSet<Finished> = JoinSet::new();
    let mut tasks: HashMap<tokio::task::Id, (usize, EntryId)> = HashMap::new();
    let mut report = Report::default();
    let parallelism = parallelism.max(1);
    let mut stop = interrupt::Stop::new();
    let mut started = vec![false; n];

    while !ready.is_empty() || !running.is_empty() {
        // Start what is ready, up to `parallelism` in flight, unless a signal asked to stop.
        while running.len() < parallelism && stop.may_start() {
            let Some(i) = ready.pop() else { break };
            started[i] = true;
            let change = plan.changes[i].clone();
            progress.started(&change);
            // The journal row comes first: if s3rec dies during the call, the state says so.
            let entry = state.journal_start(run, &change.address, change.action)?;
            let aws = aws.clone();
            let root = root.clone();
            let task = running.spawn(async move {
                let start = Instant::now();
                let result = retry::with_backoff(|| perform_checked(&aws, &change, &root))
                    .await
                    .map_err(|(e, attempts)| (e.to_string(), attempts));
                (i, result, start.elapsed(), entry)
            });
            tasks.insert(task.id(), (i, entry));
        }
        // After a signal, the actions in flight may finish until the drain deadline; past it they are
        // abandoned (dropping the set aborts them) and their journal rows stay `started`.
        let Some(Some(joined)) = stop.guard(running.join_next_with_id()).await else {
            break;
        };
        let (i, result, elapsed, entry) = match joined {
            Ok((_, finished)) => finished,
            Err(e) => {
                // A task that panicked is a bug in s3rec. Its change is reported and journaled as failed,
                // so its dependents are skipped and nothing is left looking as if it were still running.
                let Some(&(i, entry)) = tasks.get(&e.id()) else {
                    continue;
                };
                (
                    i,
                    Err((format!("s3rec stopped this action unexpectedly: {e}"), 0)),
                    Duration::ZERO,
                    entry,
                )
            }
        };
        done[i] = true;
        let change = &plan.changes[i];
        let (status, attempts) = match result {
            Ok((recorded, attempts)) => {
                succeeded(state, entry, change, recorded, run)?;
                for d in graph.dependents(i) {
                    waiting[d] -= 1;
                    if waiting[d] == 0 && !done[d] {
                        ready.push(d);
                    }
                }
                (Status::Succeeded, attempts)
            }
            Err((message, attempts)) => {
                state.journal_finish(entry, Outcome::Failed, Some(&message))?;
                for d in graph.descendants(i) {
                    if !done[d] {
                        // Marked done, it never enters the ready list, whatever else finishes.
                        done[d] = true;
                        let because = format!("{} failed", change.address);
                        skip(state, run, &plan.changes[d], because, progress, &mut report)?;
                    }
                }
                (Status::Failed(message), attempts)
            }
        };
        let r = ActionReport {
            address: change.address.to_string(),
            action: change.action,
            status,
            elapsed,
            attempts,
        };
        progress.finished(&r);
        report.actions.push(r);
    }
    if let Some(signal) = stop.stopped() {
        report.cancelled = Some(signal);
        // What never started is journaled as skipped, so the journal accounts for every change of the plan.
        let because = format!("not started: s3rec was stopped by {}", signal.name());
        for (i, change) in plan.changes.iter().enumerate() {
            if !done[i] && !started[i] {
                skip(state, run, change, because.clone(), progress, &mut report)?;
            }
        }
    }
    Ok(report)
}

/// Journals `change` as skipped (never attempted) and reports it.
fn skip(
    state: &StateDb,
    run: RunId,
    change: &Change,
    because: String,
    progress: &dyn Progress,
    report: &mut Report,
) -> Result<(), StateError> {
    state.journal_skip(run, &change.address, change.action, &because)?;
    let r = ActionReport {
        address: change.address.to_string(),
        action: change.action,
        status: Status::Skipped { because },
        elapsed: Duration::ZERO,
        attempts: 0,
    };
    progress.finished(&r);
    report.actions.push(r);
    Ok(())
}

/// Performs a change; when it fails, reads the resource again and counts the change as done if the
/// resource is now exactly as the plan wants. A call whose response was lost may have taken effect (and
/// the SDK's own retry of it may then have failed, e.g. on "already exists"), so an error alone does not
/// say the change did not happen. Throttling and the eventual-consistency codes say the request was not
/// carried out, so they are retried without a read.
async fn perform_checked(aws: &Aws, change: &Change, root: &Path) -> Result<Option<Value>, AwsError> {
    let error = match perform(aws, change, root).await {
        Ok(recorded) => return Ok(recorded),
        Err(e) => e,
    };
    if retry::retryable(&error) && !error.is_ambiguous() {
        return Err(error);
    }
    match crate::planner::current_value(aws, change).await {
        Ok(live) if live == change.after => {
            tracing::info!(address = %change.address, error = %error, "the call ended without a clear answer, but a fresh read shows the change in place");
            Ok(None)
        }
        // Not in place (or not readable now): the original error stands, and the retry policy decides.
        Ok(_) | Err(_) => Err(error),
    }
}

/// Journals a success and records its result in the state, in one transaction.
fn succeeded(
    state: &StateDb,
    entry: EntryId,
    change: &Change,
    recorded: Option<Value>,
    run: RunId,
) -> Result<(), StateError> {
    state.atomically(|state| {
        state.journal_finish(entry, Outcome::Succeeded, None)?;
        record(state, change, recorded, run)
    })
}

/// The AWS calls of one change. Every branch is idempotent; creating an access key refuses to overwrite
/// an existing secret file, and after a lost answer deletes the key its call may have made before it
/// creates another (`aws::iam`). Returns the
/// value to record when it differs from the plan's `after` (an access key's ID).
async fn perform(aws: &Aws, change: &Change, root: &Path) -> Result<Option<Value>, AwsError> {
    match (&change.resource, change.action) {
        // Adoptions and no-ops change only the state.
        (_, Action::Adopt | Action::NoOp) => Ok(None),
        (Resource::Bucket { name, region, .. }, Action::Create) => {
            aws::write::create_bucket(aws, name, region).await.map(|()| None)
        }
        (
            Resource::Bucket {
                name,
                region,
                current_region,
                force_destroy,
                ..
            },
            Action::Replace,
        ) => {
            let old = current_region.as_deref().unwrap_or(region);
            aws::write::delete_bucket(aws, name, old, *force_destroy).await?;
            aws::write::create_bucket(aws, name, region).await.map(|()| None)
        }
        (
            Resource::Bucket {
                name,
                region,
                force_destroy,
                ..
            },
            Action::Delete,
        ) => aws::write::delete_bucket(aws, name, region, *force_destroy)
            .await
            .map(|()| None),
        (Resource::Bucket { .. }, Action::Update) => Ok(None),
        (Resource::BucketDoc { bucket, region, .. }, Action::Create | Action::Update | Action::Replace) => {
            match &change.after {
                Some(Value::Doc(doc)) => aws::write::put_doc(aws, bucket, region, doc).await.map(|()| None),
                _ => Ok(None),
            }
        }
        (Resource::BucketDoc { .. }, Action::Delete) => Ok(None),
        (
            Resource::Identity {
                kind,
                name,
                arn,
                region,
                part,
                ..
            },
            action,
        ) => {
            let doc = |v: &Option<Value>| match v {
                Some(Value::Identity(d)) => Some(d.clone()),
                _ => None,
            };
            let (before, after) = (doc(&change.before), doc(&change.after));
            let write = aws::identity::Write {
                target: aws::identity::Target {
                    kind: *kind,
                    name,
                    arn,
                    region,
                },
                part: *part,
                action,
                before: before.as_ref(),
                after: after.as_ref(),
                root,
            };
            Ok(aws::identity::write(aws, &write).await?.map(Value::Identity))
        }
    }
}

/// Brings the state in line with a change that succeeded. `recorded` replaces the plan's `after`
/// when the call learned more (an access key's ID).
fn record(state: &StateDb, change: &Change, recorded: Option<Value>, run: RunId) -> Result<(), StateError> {
    let after = if change.after.is_some() {
        recorded.or_else(|| change.after.clone())
    } else {
        None
    };
    match (&after, change.action) {
        (None, _) | (_, Action::Delete) => {
            // A deleted or forgotten bucket takes its documents with it.
            for r in state.resources()? {
                if r.address.within(change.address.as_str()) {
                    state.remove_resource(&r.address)?;
                }
            }
            Ok(())
        }
        (Some(value), _) => {
            let (name, region, force_destroy, prevent_destroy) = match &change.resource {
                Resource::Bucket {
                    name,
                    region,
                    force_destroy,
                    prevent_destroy,
                    ..
                } => (name, region, *force_destroy, *prevent_destroy),
                Resource::BucketDoc { bucket, region, .. } => (bucket, region, false, false),
                Resource::Identity { name, region, .. } => (name, region, false, false),
            };
            let mut record = ResourceRecord::new(change.address.clone(), name, region, value.clone(), Some(run));
            record.force_destroy = force_destroy;
            record.prevent_destroy = prevent_destroy;
            state.upsert_resource(&record)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Resource;

    fn bucket_change(action: Action, logical: &str, name: &str) -> Change {
        Change {
            irreversible: None,
            cause: None,
            address: crate::plan::Address::bucket(logical),
            action,
            resource: Resource::Bucket {
                logical: logical.into(),
                name: name.into(),
                region: "us-east-1".into(),
                current_region: Some("us-west-2".into()),
                force_destroy: false,
                prevent_destroy: false,
            },
            before: Some(Value::Bucket {
                name: name.into(),
                region: "us-west-2".into(),
            }),
            after: None,
            reason: None,
        }
    }

    /// A saved plan that deletes or replaces a bucket the state no longer manages is refused before any
    /// AWS call; one it manages (at the address, or under another name) passes.
    #[test]
    fn deletes_and_replaces_of_resources_not_in_the_state_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDb::open(&dir.path().join("env.db")).expect("open");
        let mut plan: Plan = serde_json::from_str(&crate::plan::render::json(&crate::plan::Plan {
            format_version: crate::plan::PLAN_FORMAT_VERSION,
            environment: "t".into(),
            manifest_sha256: String::new(),
            account_id: None,
            targets: Vec::new(),
            changes: Vec::new(),
            edges: Vec::new(),
            warnings: Vec::new(),
            findings: Vec::new(),
            syncs: Vec::new(),
            state: None,
            migrations: Vec::new(),
            costs: Vec::new(),
        }))
        .expect("plan");
        plan.changes = vec![
            bucket_change(Action::Replace, "moved", "moved-b"),
            bucket_change(Action::Delete, "gone", "gone-b"),
            bucket_change(Action::Adopt, "new", "new-b"),
        ];
        let err = refuse_unmanaged(&plan, &state).expect_err("refused");
        let text = err.to_string();
        assert!(
            text.contains("replace bucket.moved, delete bucket.gone") && text.contains("nothing was applied"),
            "{text}"
        );
        let record = |address: &str, name: &str| {
            ResourceRecord::new(
                crate::plan::Address(address.into()),
                name,
                "us-west-2",
                Value::Bucket {
                    name: name.into(),
                    region: "us-west-2".into(),
                },
                None,
            )
        };
        state
            .upsert_resource(&record("bucket.moved", "moved-b"))
            .expect("record");
        state
            .upsert_resource(&record("bucket.old-name", "gone-b"))
            .expect("record");
        refuse_unmanaged(&plan, &state).expect("both managed");
    }

    /// A failure to record the resource (here, a trigger that refuses it) must not leave the journal
    /// saying `succeeded`: the two are one transaction, so the entry stays `started`.
    #[test]
    fn a_success_is_journaled_and_recorded_together_or_not_at_all() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("env.db");
        let mut state = StateDb::open(&path).expect("open");
        let change = Change {
            irreversible: None,
            cause: None,
            address: crate::plan::Address::bucket("logs"),
            action: Action::Create,
            resource: Resource::Bucket {
                logical: "logs".into(),
                name: "logs-bucket".into(),
                region: "us-east-1".into(),
                current_region: None,
                force_destroy: false,
                prevent_destroy: false,
            },
            before: None,
            after: Some(Value::Bucket {
                name: "logs-bucket".into(),
                region: "us-east-1".into(),
            }),
            reason: None,
        };
        let run = state.begin_run("apply", "test", None).expect("run");
        let entry = state.journal_start(run, &change.address, change.action).expect("start");
        let other = rusqlite::Connection::open(&path).expect("second connection");
        other
            .execute_batch(
                "CREATE TRIGGER refuse BEFORE INSERT ON resources BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
            )
            .expect("trigger");
        assert!(succeeded(&state, entry, &change, None, run).is_err());
        let journal = state.journal(run).expect("journal");
        assert_eq!(journal[0].outcome, Outcome::Started, "{journal:?}");
        assert!(state.resource(&change.address).expect("read").is_none());

        other.execute_batch("DROP TRIGGER refuse;").expect("drop trigger");
        succeeded(&state, entry, &change, None, run).expect("recorded");
        assert_eq!(state.journal(run).expect("journal")[0].outcome, Outcome::Succeeded);
        assert!(state.resource(&change.address).expect("read").is_some());
    }
}
