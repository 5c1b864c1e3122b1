//! `s3rec doctor`: who the credentials are, whether they are for the manifest's account, and whether
//! they can read everything the manifest manages, with read-only calls; `--print-policy` prints the
//! least-privilege IAM policy s3rec itself needs to plan and apply the manifest.
//!
//! The IAM action of every document comes from one table, the registry's descriptors
//! ([`crate::model::kinds`], through [`crate::aws::probe::doc_access`]) (and of
//! every IAM and SNS call from [`crate::aws::probe::IDENTITY_ACCESS`]), so what a check reports as
//! missing is exactly what the printed policy grants.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::future::Future;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use miette::IntoDiagnostic;
use serde::Serialize;
use serde_json::{Value as Json, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

mod state_bucket;

use self::state_bucket::{RemoteState, StateGrants};
use super::exit;
use crate::aws::identity::Target;
use crate::aws::probe::{
    self, CALLER_IDENTITY_ACTION, CREATE_ACTION, DESTROY_ACTIONS, FORCE_DESTROY_BUCKET_ACTIONS,
    FORCE_DESTROY_OBJECT_ACTIONS, IDENTITY_ACCESS, LIST_ACTION, LIST_BUCKETS_ACTION, LOCATION_ACTION,
    MIGRATE_BUCKET_ACTIONS, MIGRATE_DELETE_OBJECT_ACTIONS, MIGRATE_OBJECT_ACTIONS, PASS_ROLE_ACTION, PUBLISH_ACTION,
    Probe, doc_access, identity_access,
};
use crate::aws::probe::{
    COST_BUCKET_ACTIONS, COST_INVENTORY_BUCKET_ACTIONS, COST_INVENTORY_OBJECT_ACTIONS, COST_OBJECT_ACTIONS,
    RESTORE_BUCKET_ACTIONS, RESTORE_IN_PLACE_OBJECT_ACTIONS, RESTORE_OBJECT_ACTIONS, SYNC_BUCKET_ACTIONS,
    SYNC_DELETE_OBJECT_ACTIONS, SYNC_OBJECT_ACTIONS,
};
use crate::aws::{self, Aws, CallerIdentity, DEFAULT_REGION};
use crate::cli::ColorChoice;
use crate::manifest::types::StateSettings;
use crate::model::desired::{self, Context, DesiredError};
use crate::model::identity::{self, DesiredIdentity, IdentityKind};
use crate::model::{DesiredBucket, Doc, DocKind, bucket_arn};
use crate::output::{print_data, stdout_color, table};
use crate::planner::{DEFAULT_READ_CONCURRENCY, Workspace};
use crate::style::{GREEN, RED_BOLD, YELLOW, paint};

/// Version of the JSON document printed by `doctor --format json`.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Environment to check (environments/<ENV>.yaml).
    #[arg(short, long, value_name = "ENV")]
    pub env: String,
    /// Print the least-privilege IAM policy s3rec needs to plan and apply this manifest, instead of checking.
    #[arg(long)]
    pub print_policy: bool,
    /// Output format of the checks on stdout (the policy of --print-policy is always JSON).
    #[arg(long, value_enum, default_value_t = DoctorFormat::Text)]
    pub format: DoctorFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DoctorFormat {
    Text,
    Json,
}

pub fn run(args: &DoctorArgs, color: ColorChoice) -> miette::Result<u8> {
    let Some(ws) = super::plan::workspace(&args.env, color)? else {
        return Ok(exit::ERROR);
    };
    let runtime = super::runtime()?;
    if args.print_policy {
        let policy = runtime.block_on(policy_for(&ws))?;
        let text = serde_json::to_string_pretty(&policy).into_diagnostic()?;
        print_data(&format!("{text}\n")).into_diagnostic()?;
        return Ok(exit::OK);
    }
    let m = &ws.manifest;
    let count = m.buckets.len();
    let others = m.iam.users.len() + m.iam.roles.len() + m.iam.policies.len() + m.sns.topics.len();
    eprintln!(
        "Checking {count} bucket{}{} of {} with read-only calls...",
        if count == 1 { "" } else { "s" },
        if others == 0 {
            String::new()
        } else {
            format!(" and {others} IAM/SNS resource{}", if others == 1 { "" } else { "s" })
        },
        ws.environment()
    );
    let report = runtime.block_on(diagnose(&ws))?;
    let text = match args.format {
        DoctorFormat::Text => render_text(&report, stdout_color(color)),
        DoctorFormat::Json => {
            let mut text = serde_json::to_string_pretty(&report).into_diagnostic()?;
            text.push('\n');
            text
        }
    };
    print_data(&text).into_diagnostic()?;
    Ok(if report.ok { exit::OK } else { exit::ERROR })
}

// ---------------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------------

/// Everything `doctor` found; also the `--format json` document.
#[derive(Debug, Serialize)]
struct Report {
    format_version: u32,
    environment: String,
    /// Whether everything is reachable and the account guard holds: exit code 0.
    ok: bool,
    caller: Option<Caller>,
    account_guard: Guard,
    default_region: String,
    /// Every region involved: the default one, the buckets' in the manifest and in AWS, and the topics',
    /// sorted. IAM is global and adds none.
    regions: Vec<String>,
    endpoint_url: Option<String>,
    checks: Vec<Check>,
    /// Problems that stopped checks from running at all.
    problems: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Caller {
    account: String,
    arn: String,
    user_id: String,
}

impl From<&CallerIdentity> for Caller {
    fn from(c: &CallerIdentity) -> Self {
        Caller {
            account: c.account.clone(),
            arn: c.arn.clone(),
            user_id: c.user_id.clone(),
        }
    }
}

/// The manifest's `aws.account_id` against the caller's account.
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum Guard {
    /// The manifest sets no `aws.account_id`.
    Unset,
    Matches {
        expected: String,
    },
    Mismatch {
        expected: String,
        actual: String,
    },
    /// A guard is set but STS did not say who the caller is, so plan and apply would stop.
    Unknown {
        expected: String,
    },
}

impl Guard {
    fn holds(&self) -> bool {
        matches!(self, Guard::Unset | Guard::Matches { .. })
    }
}

/// One probe: a row of the table.
#[derive(Debug, Serialize)]
struct Check {
    /// The address (`bucket.logs`, `bucket.logs.lifecycle`, `iam_user.app.inline_policy`,
    /// `sns_topic.alerts`), or `caller` for the STS check.
    resource: String,
    /// The physical bucket name, when the check is about a bucket.
    #[serde(skip_serializing_if = "Option::is_none")]
    bucket: Option<String>,
    /// The ARN of the IAM user, role or policy or the SNS topic, when the check is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    arn: Option<String>,
    /// The region the call went to; [`GLOBAL`] for IAM.
    region: String,
    /// The IAM action the call needs.
    check: &'static str,
    #[serde(flatten)]
    probe: Probe,
    /// Whether this row makes doctor exit 1.
    fails: bool,
    /// Something the call showed that works but should be fixed (the state bucket's versioning, public
    /// access block, encryption); it does not fail doctor.
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

/// Stands in for the caller's account when STS did not answer; it only ends up in ARNs the probes ignore.
const UNKNOWN_ACCOUNT: &str = "000000000000";

/// The region column of IAM checks: IAM is one global service, not a region.
const GLOBAL: &str = "global";

/// Connects, asks STS who the caller is, compares with the guard, and probes every bucket, IAM user,
/// role and policy, and SNS topic.
async fn diagnose(ws: &Workspace) -> miette::Result<Report> {
    let m = &ws.manifest;
    let aws = aws::connect(&m.aws, &super::overrides_from_env())
        .await
        .map_err(|e| miette::miette!("{e}"))?;
    let aws = Arc::new(aws);
    let default_region = aws.region().to_string();

    let identity = probe::probe_identity(&aws).await;
    let expected = m.aws.account_id.clone();
    let guard = match (&expected, &identity) {
        (None, _) => Guard::Unset,
        (Some(expected), Ok(id)) if id.account == *expected => Guard::Matches {
            expected: expected.clone(),
        },
        (Some(expected), Ok(id)) => Guard::Mismatch {
            expected: expected.clone(),
            actual: id.account.clone(),
        },
        (Some(expected), Err(_)) => Guard::Unknown {
            expected: expected.clone(),
        },
    };
    let identity_probe = match &identity {
        Ok(_) => Probe::Ok,
        Err(p) => p.clone(),
    };
    // Without a guard, plan and apply tolerate a missing STS (S3-compatible servers often have none);
    // a denied call is still a permission the policy grants, so it fails.
    let identity_fails = match &identity_probe {
        Probe::Ok | Probe::Missing => false,
        Probe::Denied { .. } => true,
        Probe::Error { .. } => expected.is_some(),
    };
    let mut checks = vec![Check {
        resource: "caller".to_string(),
        bucket: None,
        arn: None,
        region: default_region.clone(),
        check: CALLER_IDENTITY_ACTION,
        note: (matches!(identity_probe, Probe::Error { .. }) && !identity_fails).then(|| {
            "no aws.account_id guard is set, so plan and apply go on without STS, unless an ARN needs the \
             account ID"
                .to_string()
        }),
        probe: identity_probe,
        fails: identity_fails,
        warning: None,
    }];

    // The state bucket is not in the manifest, so nothing below looks at it.
    if let Some(remote) = RemoteState::of(&m.environment, &m.state, &default_region) {
        // The checks that read the state (orphaned access keys, uploads the sync index knows) work on the
        // working copy, refreshed here with one conditional GET; without it they are skipped, and say so.
        if let Some(backend) = crate::backend::Remote::of(&ws.manifest, ws.environment(), &default_region) {
            let db = ws.state_path();
            let refreshed = match crate::state::lock_run(&db) {
                Ok(_guard) => crate::backend::refresh(&aws, &backend, &db).await.map(|_| ()),
                // Another s3rec run on this machine holds the copy: read it as it is.
                Err(crate::state::StateError::RunInProgress { .. }) => Ok(()),
                Err(e) => Err(e.into()),
            };
            if let Err(e) = refreshed {
                eprintln!(
                    "The state in {} could not be read ({e}): the checks of orphaned access keys and of multipart \
                     uploads use this machine's copy as it is, if there is one.",
                    remote.url()
                );
            }
        }
        checks.extend(state_bucket::check_bucket(&aws, &remote).await);
        if let Some(backend) = crate::backend::Remote::of(&ws.manifest, ws.environment(), &default_region)
            && let Some(lock) = state_bucket::check_lock(&aws, &backend).await
        {
            checks.push(lock);
        }
    }

    let mut problems = Vec::new();
    let mut regions: BTreeSet<String> = BTreeSet::from([default_region.clone()]);
    // The probes need names, regions and which documents are managed, never the ARNs the account ID
    // goes into, so an unknown account must not stop them.
    let account = identity
        .as_ref()
        .ok()
        .map(|i| i.account.as_str())
        .or(expected.as_deref())
        .unwrap_or(UNKNOWN_ACCOUNT);
    let ctx = Context {
        manifest: m,
        account_id: Some(account),
        default_region: &default_region,
    };
    match desired::buckets(&ctx) {
        Ok(desired) => {
            regions.extend(desired.iter().map(|b| b.region.clone()));
            checks.extend(probe_buckets(&aws, &desired).await);
        }
        Err(e) => problems.push(format!("the buckets cannot be checked: {e}")),
    }

    // IAM and SNS probes name users and roles but reach policies and topics by ARN, so unlike the
    // bucket probes they need the real account: the caller's, or the one the guard names.
    let identity_ctx = Context {
        account_id: identity
            .as_ref()
            .ok()
            .map(|i| i.account.as_str())
            .or(expected.as_deref()),
        ..ctx
    };
    let secrets_dir = format!(".s3rec/secrets/{}", m.environment);
    match identity::identities(&identity_ctx, &secrets_dir) {
        Ok(desired) => checks.extend(probe_identities(&aws, &desired).await),
        Err(e) => problems.push(format!(
            "the IAM users, roles, policies and SNS topics cannot be checked: {e}"
        )),
    }

    problems.extend(orphan_access_keys(ws, &aws).await);
    checks.extend(sync_orphans(ws, &aws, &default_region).await);

    // Where the buckets are now, too: a bucket in another region than the manifest says is replaced.
    regions.extend(checks.iter().filter(|c| c.region != GLOBAL).map(|c| c.region.clone()));
    let ok = guard.holds() && problems.is_empty() && !checks.iter().any(|c| c.fails);
    Ok(Report {
        format_version: FORMAT_VERSION,
        environment: m.environment.clone(),
        ok,
        caller: identity.as_ref().ok().map(Caller::from),
        account_guard: guard,
        default_region,
        regions: regions.into_iter().collect(),
        endpoint_url: aws.endpoint_url().map(str::to_string),
        checks,
        problems,
    })
}

/// Probes every bucket, at most [`DEFAULT_READ_CONCURRENCY`] calls in flight; rows in manifest order.
/// Access keys of the IAM users s3rec manages that the state does not know: left by a create whose
/// answer was lost and whose cleanup failed, or made by hand. Nobody may hold their secret, and they
/// count against the user's limit of two keys.
async fn orphan_access_keys(ws: &Workspace, aws: &Aws) -> Vec<String> {
    use crate::model::identity::{AccessKeyDoc, IdentityDoc};
    use crate::plan::Value;
    // Doctor must not create a state database; without one, s3rec manages nothing yet. A state kept in
    // S3 was refreshed into its working copy by `diagnose`.
    if !ws.state_path().exists() {
        return Vec::new();
    }
    let records = match ws.open_state().and_then(|s| s.resources()) {
        Ok(records) => records,
        Err(e) => {
            return vec![format!(
                "the state cannot be read to look for orphaned access keys: {e}"
            )];
        }
    };
    let known: BTreeSet<(String, String)> = records
        .iter()
        .filter_map(|r| match &r.value {
            Value::Identity(IdentityDoc::AccessKey(AccessKeyDoc {
                access_key_id: Some(id),
                ..
            })) => Some((r.name.clone(), id.clone())),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for r in &records {
        let Value::Identity(IdentityDoc::User(user)) = &r.value else {
            continue;
        };
        let arn = identity::arn(IdentityKind::IamUser, UNKNOWN_ACCOUNT, GLOBAL, &user.path, &r.name);
        let target = Target {
            kind: IdentityKind::IamUser,
            name: &r.name,
            arn: &arn,
            region: GLOBAL,
        };
        match aws::identity::access_key_ids(aws, target).await {
            Ok(ids) => out.extend(
                ids.into_iter()
                    .filter(|id| !known.contains(&(r.name.clone(), id.clone())))
                    .map(|id| {
                        format!(
                            "{}: access key {id} of IAM user {} is not in the state (an orphan: nobody may hold its \
                         secret); if nothing uses it, delete it: aws iam delete-access-key --user-name {} \
                         --access-key-id {id}",
                            r.address, r.name, r.name
                        )
                    }),
            ),
            Err(e) if e.is_not_found() => {}
            Err(e) => out.push(format!("{}: its access keys cannot be listed: {e}", r.address)),
        }
    }
    out
}

async fn probe_buckets(aws: &Arc<Aws>, desired: &[DesiredBucket]) -> Vec<Check> {
    let permits = Arc::new(Semaphore::new(DEFAULT_READ_CONCURRENCY));
    let tasks = desired.iter().map(|bucket| {
        let aws = aws.clone();
        let permits = permits.clone();
        let bucket = bucket.clone();
        async move { probe_bucket(&aws, &permits, &bucket).await }
    });
    in_order(tasks.collect()).await
}

/// Probes every IAM user, role and policy and every SNS topic, at most [`DEFAULT_READ_CONCURRENCY`]
/// calls in flight; rows in the order of `desired`.
async fn probe_identities(aws: &Arc<Aws>, desired: &[DesiredIdentity]) -> Vec<Check> {
    let permits = Arc::new(Semaphore::new(DEFAULT_READ_CONCURRENCY));
    let tasks = desired.iter().map(|resource| {
        let aws = aws.clone();
        let permits = permits.clone();
        let resource = resource.clone();
        async move { probe_identity(&aws, &permits, &resource).await }
    });
    in_order(tasks.collect()).await
}

/// Runs each task on the runtime at once and concatenates their rows in the order the tasks were given.
async fn in_order<F>(tasks: Vec<F>) -> Vec<Check>
where
    F: Future<Output = Vec<Check>> + Send + 'static,
{
    let mut set = JoinSet::new();
    for (index, task) in tasks.into_iter().enumerate() {
        set.spawn(async move { (index, task.await) });
    }
    let mut rows: Vec<(usize, Vec<Check>)> = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(row) => rows.push(row),
            // A probe task only panics on a bug; say so rather than dropping its rows silently.
            Err(e) => rows.push((
                usize::MAX,
                vec![Check {
                    resource: "doctor".to_string(),
                    bucket: None,
                    arn: None,
                    region: String::new(),
                    check: "",
                    probe: Probe::Error {
                        message: format!("a check failed to run: {e}"),
                    },
                    fails: true,
                    warning: None,
                    note: None,
                }],
            )),
        }
    }
    rows.sort_by_key(|(index, _)| *index);
    rows.into_iter().flat_map(|(_, checks)| checks).collect()
}

/// The checks of one bucket: where it is, then listing and every managed document, concurrently.
///
/// A permit is held only around each single call, so bucket tasks never wait on each other's permits.
async fn probe_bucket(aws: &Aws, permits: &Semaphore, b: &DesiredBucket) -> Vec<Check> {
    let address = format!("bucket.{}", b.logical);
    let location = {
        let _permit = permits.acquire().await;
        probe::probe_location(aws, &b.name).await
    };
    // When the location cannot be read, the other calls still go to the manifest's region: they show
    // what else is (not) granted.
    let region = location.region.clone().unwrap_or_else(|| b.region.clone());
    let note = location.region.as_ref().filter(|live| **live != b.region).map(|live| {
        format!(
            "the bucket is in {live} but the manifest says {}: plan will replace it",
            b.region
        )
    });
    let row = |resource: String, check: &'static str, probe: Probe, note: Option<String>| Check {
        resource,
        bucket: Some(b.name.clone()),
        arn: None,
        region: region.clone(),
        check,
        fails: !probe.is_ok(),
        probe,
        warning: None,
        note,
    };
    let missing = location.probe == Probe::Missing;
    let mut checks = vec![row(address.clone(), LOCATION_ACTION, location.probe.clone(), note)];
    let kinds: Vec<DocKind> = b.docs.keys().copied().collect();
    if missing {
        checks.push(row(address.clone(), LIST_ACTION, Probe::Missing, None));
        for kind in kinds {
            checks.push(row(
                format!("{address}.{kind}"),
                doc_access(kind).read_action,
                Probe::Missing,
                None,
            ));
        }
        return checks;
    }
    let list = async {
        let _permit = permits.acquire().await;
        probe::probe_list(aws, &b.name, &region).await
    };
    let docs = futures_util::future::join_all(kinds.iter().map(|&kind| {
        let region = &region;
        async move {
            let _permit = permits.acquire().await;
            probe::probe_doc(aws, &b.name, region, kind).await
        }
    }));
    let (list, docs) = tokio::join!(list, docs);
    checks.push(row(address.clone(), LIST_ACTION, list, None));
    for (kind, probe) in kinds.into_iter().zip(docs) {
        checks.push(row(
            format!("{address}.{kind}"),
            doc_access(kind).read_action,
            probe,
            None,
        ));
    }
    checks
}

/// The checks of one IAM or SNS resource: whether it exists, then its other reads concurrently. A
/// resource that does not exist yet shows every read as missing, like a bucket that will be created.
async fn probe_identity(aws: &Aws, permits: &Semaphore, r: &DesiredIdentity) -> Vec<Check> {
    let target = Target {
        kind: r.kind,
        name: &r.name,
        arn: &r.arn,
        region: &r.region,
    };
    let region = match r.kind {
        IdentityKind::SnsTopic => r.region.clone(),
        IdentityKind::IamUser | IdentityKind::IamRole | IdentityKind::IamPolicy | IdentityKind::Account => {
            GLOBAL.to_string()
        }
    };
    let address = format!("{}.{}", r.kind, r.logical);
    let row = |call: probe::IdentityCall, probe: Probe| Check {
        resource: match call.part() {
            Some(part) => format!("{address}.{part}"),
            None => address.clone(),
        },
        bucket: None,
        arn: Some(r.arn.clone()),
        region: region.clone(),
        check: call.action(),
        fails: !probe.is_ok(),
        probe,
        warning: None,
        note: None,
    };
    let reads = identity_access(r.kind).reads;
    let Some((&first, rest)) = reads.split_first() else {
        return Vec::new();
    };
    let exists = {
        let _permit = permits.acquire().await;
        probe::probe_identity_exists(aws, target).await
    };
    let mut checks = vec![row(first, exists.probe.clone())];
    if exists.probe == Probe::Missing {
        checks.extend(rest.iter().map(|&call| row(call, Probe::Missing)));
        return checks;
    }
    let version = exists.default_version.as_deref();
    let probes = futures_util::future::join_all(rest.iter().map(|&call| async move {
        let _permit = permits.acquire().await;
        probe::probe_identity_read(aws, target, call, version).await
    }))
    .await;
    checks.extend(rest.iter().zip(probes).map(|(&call, probe)| row(call, probe)));
    checks
}

/// One row per bucket and prefix a sync mapping writes to: multipart uploads in progress there that the
/// sync index does not know (orphans, which cost storage until aborted) are listed in its note. They do
/// not fail doctor: the next `s3rec sync` aborts the ones it started.
async fn sync_orphans(ws: &Workspace, aws: &Aws, default_region: &str) -> Vec<Check> {
    use crate::sync::uploads::{self, ReconcileError};
    if ws.manifest.sync.is_empty() {
        return Vec::new();
    }
    // Without a state file the index knows no upload; doctor does not create one. A state kept in S3
    // was refreshed into its working copy by `diagnose`.
    let path = ws.state_path();
    let local = path.exists();
    let index = match local.then(|| {
        ws.open_state()
            .and_then(|_| crate::state::sync_index::SyncIndex::open(&path))
    }) {
        Some(Ok(index)) => Some(index),
        Some(Err(e)) => {
            eprintln!("warning: the sync index cannot be read ({e}): every multipart upload counts as unknown");
            None
        }
        None => None,
    };
    let mut checks = Vec::new();
    for (name, mapping) in &ws.manifest.sync {
        // A mapping that does not resolve is a validation error, reported by `validate` and `plan`.
        let Ok(spec) = crate::sync::spec::SyncSpec::new(&ws.manifest, name, mapping, &ws.root, default_region) else {
            continue;
        };
        for scope in spec.scopes() {
            let (probe, note) = match uploads::orphans(aws, index.as_ref(), &scope).await {
                Ok(found) if found.is_empty() => (Probe::Ok, None),
                Ok(found) => {
                    let listed: Vec<String> = found
                        .iter()
                        .map(|o| format!("{} (upload {})", o.key, o.upload_id))
                        .collect();
                    let note = format!(
                        "{} multipart upload(s) in progress that the sync index does not know, costing storage \
                         until aborted: {}; `s3rec sync` aborts the ones it started, \
                         `aws s3api abort-multipart-upload` the others",
                        found.len(),
                        listed.join(", ")
                    );
                    (Probe::Ok, Some(note))
                }
                Err(ReconcileError::Aws(e)) => (Probe::from_error(&e), None),
                Err(ReconcileError::State(e)) => (Probe::Error { message: e.to_string() }, None),
            };
            checks.push(Check {
                resource: format!("sync.{name}"),
                bucket: Some(scope.bucket.clone()),
                arn: None,
                region: scope.region.clone(),
                check: "s3:ListBucketMultipartUploads",
                fails: !probe.is_ok(),
                probe,
                warning: None,
                note,
            });
        }
    }
    checks
}

// ---------------------------------------------------------------------------------------------------
// Text output
// ---------------------------------------------------------------------------------------------------

/// The result column of one row.
fn result_text(check: &Check) -> String {
    match &check.probe {
        Probe::Ok => match &check.warning {
            Some(warning) => format!("WARNING: {warning}"),
            None => "ok".to_string(),
        },
        // Only the state bucket fails for being missing: no plan creates it.
        Probe::Missing if check.fails => format!(
            "error: bucket {} does not exist",
            check.bucket.as_deref().unwrap_or(&check.resource)
        ),
        Probe::Missing => "missing: will be created".to_string(),
        Probe::Denied { action, resource } => format!("DENIED: missing {action} on {resource}"),
        Probe::Error { message } => format!("error: {message}"),
    }
}

fn render_text(r: &Report, color: bool) -> String {
    let mut out = String::new();
    let field = |out: &mut String, name: &str, value: &str| {
        let _ = writeln!(out, "{name:<12}{value}");
    };
    field(&mut out, "Environment", &r.environment);
    match &r.caller {
        Some(c) => field(&mut out, "Caller", &format!("{} (account {})", c.arn, c.account)),
        None => field(
            &mut out,
            "Caller",
            "unknown: STS did not answer (see the `caller` check below)",
        ),
    }
    let account = match &r.account_guard {
        Guard::Unset => "no guard set (the manifest has no aws.account_id)".to_string(),
        Guard::Matches { expected } => format!("{expected} matches aws.account_id"),
        Guard::Mismatch { expected, actual } => paint(
            RED_BOLD,
            &format!(
                "MISMATCH: the credentials belong to account {actual} but aws.account_id is {expected}; \
                 plan and apply will refuse to run"
            ),
            color,
        ),
        Guard::Unknown { expected } => paint(
            RED_BOLD,
            &format!("UNKNOWN: aws.account_id is {expected} but STS did not say who the caller is"),
            color,
        ),
    };
    field(&mut out, "Account", &account);
    let regions: Vec<String> = r
        .regions
        .iter()
        .map(|region| {
            if *region == r.default_region {
                format!("{region} (default)")
            } else {
                region.clone()
            }
        })
        .collect();
    field(&mut out, "Regions", &regions.join(", "));
    if let Some(endpoint) = &r.endpoint_url {
        field(&mut out, "Endpoint", endpoint);
    }
    out.push('\n');

    let mut rows = vec![["RESOURCE", "REGION", "CHECK", "RESULT"].map(str::to_string).to_vec()];
    for c in &r.checks {
        let style = match &c.probe {
            Probe::Ok if c.warning.is_some() => YELLOW,
            Probe::Ok => GREEN,
            Probe::Missing | Probe::Denied { .. } | Probe::Error { .. } if c.fails => RED_BOLD,
            Probe::Missing | Probe::Denied { .. } | Probe::Error { .. } => YELLOW,
        };
        let mut result = paint(style, &result_text(c), color);
        if let Some(note) = &c.note {
            let _ = write!(result, " ({note})");
        }
        rows.push(vec![c.resource.clone(), c.region.clone(), c.check.to_string(), result]);
    }
    for line in table(&rows, &[]) {
        let _ = writeln!(out, "{line}");
    }
    for p in &r.problems {
        let _ = writeln!(out, "\nproblem: {p}");
    }

    let count = |f: fn(&Check) -> bool| r.checks.iter().filter(|c| f(c)).count();
    let ok = count(|c| c.probe == Probe::Ok && c.warning.is_none());
    let warnings = count(|c| c.probe == Probe::Ok && c.warning.is_some());
    let missing = count(|c| c.probe == Probe::Missing && !c.fails);
    let denied = count(|c| c.probe.is_denied());
    let errors = count(|c| matches!(c.probe, Probe::Error { .. }) || (c.probe == Probe::Missing && c.fails));
    let total = r.checks.len();
    let _ = write!(
        out,
        "\n{total} check{}: {ok} ok, {missing} missing (will be created), {denied} denied, {errors} error{}",
        if total == 1 { "" } else { "s" },
        if errors == 1 { "" } else { "s" }
    );
    // Only the state bucket's checks warn; reports without them keep their summary unchanged.
    if warnings > 0 {
        let _ = write!(out, ", {warnings} warning{}", if warnings == 1 { "" } else { "s" });
    }
    out.push_str(".\n");
    if r.ok {
        out.push_str("The credentials can read everything the manifest manages");
        if warnings > 0 {
            out.push_str(", but the warnings above deserve a fix");
        }
        out.push_str(".\n");
    } else {
        let mut reasons = Vec::new();
        if !r.account_guard.holds() {
            reasons.push("the account guard does not hold".to_string());
        }
        if denied > 0 {
            reasons.push(format!(
                "{denied} permission{} missing",
                if denied == 1 { " is" } else { "s are" }
            ));
        }
        if r.checks.iter().any(|c| c.fails && !c.probe.is_denied()) {
            reasons.push("some checks failed".to_string());
        }
        if !r.problems.is_empty() {
            reasons.push("some resources could not be checked".to_string());
        }
        let _ = write!(out, "{}: {}.", paint(RED_BOLD, "Not ready", color), reasons.join("; "));
        if denied > 0 {
            let _ = write!(
                out,
                " `s3rec doctor -e {} --print-policy` prints the policy s3rec needs.",
                r.environment
            );
        }
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------------------------------
// --print-policy
// ---------------------------------------------------------------------------------------------------

/// What the policy is made from: the desired buckets, IAM and SNS resources, and the ARN of the topic
/// run reports are published to.
struct Desired {
    buckets: Vec<DesiredBucket>,
    identities: Vec<DesiredIdentity>,
    report_topic: Option<String>,
    migrations: Vec<MigrationSource>,
    /// Where sync mappings write (and `restore` reads back).
    syncs: Vec<SyncDestination>,
    /// Where `cost --from inventory` reads each bucket's inventory reports: a bucket and key prefix.
    inventory_reports: Vec<(String, String)>,
    /// Where the `s3` state backend keeps the state; `None` for a local state.
    state: Option<StateGrants>,
    /// The account, for the ARNs `import` may read; `None` when unknown (they then name any account).
    account: Option<String>,
}

/// A bucket and key prefix a sync mapping writes under, and whether it deletes there.
struct SyncDestination {
    bucket: String,
    prefix: String,
    deletes: bool,
}

/// What a migration reads (and may delete): a bucket and a key prefix.
struct MigrationSource {
    bucket: String,
    prefix: String,
    deletes: bool,
}

fn desired_for_policy(ctx: &Context<'_>) -> Result<Desired, DesiredError> {
    let m = ctx.manifest;
    // Only the ARNs matter here; where access-key secrets would go does not.
    let secrets_dir = format!(".s3rec/secrets/{}", m.environment);
    let report_topic = match &m.report {
        Some(report) if !report.on.is_empty() => Some(desired::topic_arn(ctx, &report.topic, "report.topic")?),
        _ => None,
    };
    let migrations = m
        .migrations
        .values()
        .filter_map(|mig| {
            // A migration of a bucket the manifest does not define is a validation error, reported there.
            m.buckets.get(&mig.bucket).map(|b| MigrationSource {
                bucket: b.name.clone(),
                prefix: mig.prefix.clone(),
                deletes: mig.delete_source != crate::manifest::types::DeleteSource::Never,
            })
        })
        .collect();
    let syncs = m
        .sync
        .values()
        .flat_map(|mapping| {
            mapping
                .destinations()
                .into_iter()
                .filter_map(|(logical, prefix)| {
                    // A mapping into a bucket the manifest does not define is a validation error.
                    m.buckets.get(&logical).map(|b| SyncDestination {
                        bucket: b.name.clone(),
                        prefix,
                        deletes: mapping.delete,
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect();
    // A bucket without a usable inventory configuration has no report to read; `cost --from inventory`
    // says so when asked.
    let inventory_reports = m
        .buckets
        .iter()
        .filter_map(|(logical, b)| crate::cost::inventory::location(m, logical, b).ok())
        .map(|location| (location.bucket, location.prefix))
        .collect();
    Ok(Desired {
        buckets: desired::buckets(ctx)?,
        inventory_reports,
        identities: identity::identities(ctx, &secrets_dir)?,
        report_topic,
        migrations,
        syncs,
        state: StateGrants::new(&m.environment, &m.state, ctx.default_region, ctx.account_id)?,
        account: ctx.account_id.map(str::to_string),
    })
}

/// Builds the desired resources (offline when the manifest names the account or no ARN needs it) and
/// their policy.
async fn policy_for(ws: &Workspace) -> miette::Result<Json> {
    let m = &ws.manifest;
    let region = m.aws.region.as_deref().unwrap_or(DEFAULT_REGION);
    let offline = Context {
        manifest: m,
        account_id: m.aws.account_id.as_deref(),
        default_region: region,
    };
    let desired = match desired_for_policy(&offline) {
        Ok(desired) => desired,
        Err(DesiredError::AccountUnknown { .. }) => {
            // An IAM or SNS ARN needs the account and the manifest has no aws.account_id: ask STS.
            let aws = aws::connect(&m.aws, &super::overrides_from_env())
                .await
                .map_err(|e| miette::miette!("{e}"))?;
            let identity = aws.caller_identity().await.map_err(|e| {
                miette::miette!(
                    help = "set aws.account_id in the manifest to print the policy without credentials",
                    "the policy names ARNs that need the account ID: {e}"
                )
            })?;
            let ctx = Context {
                account_id: Some(&identity.account),
                default_region: aws.region(),
                ..offline
            };
            desired_for_policy(&ctx).map_err(|e| miette::miette!("{e}"))?
        }
        Err(e) => return Err(miette::miette!("{e}")),
    };
    Ok(least_privilege_policy(&m.state, &desired))
}

/// When s3rec may delete a bucket, which decides the delete actions it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Destroy {
    /// `prevent_destroy`, or neither `force_destroy` nor `state.prune`: s3rec never deletes it.
    Never,
    /// `state.prune`: deleted (when empty) once it leaves the manifest.
    WhenEmpty,
    /// `force_destroy`: emptied and deleted when it leaves the manifest or moves region.
    Force,
}

fn destroy_mode(b: &DesiredBucket, prune: bool) -> Destroy {
    if b.prevent_destroy {
        Destroy::Never
    } else if b.force_destroy {
        Destroy::Force
    } else if prune {
        Destroy::WhenEmpty
    } else {
        Destroy::Never
    }
}

/// `public_access_block` → `PublicAccessBlock`, for Sids (which allow only letters and digits).
fn camel(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// One statement being assembled: its actions and resources (sets, so the output is sorted).
#[derive(Default)]
struct Grant {
    actions: BTreeSet<&'static str>,
    resources: BTreeSet<String>,
    condition: Option<Json>,
}

/// The Sid of the statement for one kind of IAM or SNS resource (`IamUsers`, `SnsTopicsDestroy`).
fn identity_sid(kind: IdentityKind, destroy: bool) -> String {
    let base = match kind {
        IdentityKind::IamUser => "IamUsers",
        IdentityKind::IamRole => "IamRoles",
        IdentityKind::IamPolicy => "IamPolicies",
        IdentityKind::SnsTopic => "SnsTopics",
        IdentityKind::Account => "AccountSettings",
    };
    if destroy {
        format!("{base}Destroy")
    } else {
        base.to_string()
    }
}

/// The least-privilege identity policy for planning and applying these buckets, IAM users, roles and
/// policies, and SNS topics.
///
/// Buckets with the same documents and the same destroy rule share one statement, whose Sid is made
/// from exactly those (`BucketsVersioningTagsForceDestroy`), so it is stable as buckets come and go.
/// IAM and SNS resources of one kind share one statement (`IamUsers`, or `IamUsersDestroy` under
/// `state.prune`). Statements are sorted by Sid; actions and resources are sorted.
fn least_privilege_policy(state: &StateSettings, desired: &Desired) -> Json {
    let mut grants: BTreeMap<String, Grant> = BTreeMap::new();
    let mut grant = |sid: &str, actions: &[&'static str], resource: String| {
        let g = grants.entry(sid.to_string()).or_default();
        g.actions.extend(actions.iter().copied());
        g.resources.insert(resource);
    };

    grant("CallerIdentity", &[CALLER_IDENTITY_ACTION], "*".into());
    let mut roles: BTreeSet<String> = BTreeSet::new();
    for b in &desired.buckets {
        let destroy = destroy_mode(b, state.prune);
        let mut sid = String::from("Buckets");
        let mut actions = vec![CREATE_ACTION, LIST_ACTION, LOCATION_ACTION];
        for kind in b.docs.keys() {
            let access = doc_access(*kind);
            sid.push_str(&camel(kind.as_str()));
            actions.push(access.read_action);
            actions.extend(access.write_actions.iter().copied());
        }
        match destroy {
            Destroy::Never => {}
            Destroy::WhenEmpty => {
                sid.push_str("Destroy");
                actions.extend(DESTROY_ACTIONS.iter().copied());
            }
            Destroy::Force => {
                sid.push_str("ForceDestroy");
                actions.extend(DESTROY_ACTIONS.iter().copied());
                actions.extend(FORCE_DESTROY_BUCKET_ACTIONS.iter().copied());
                grant(
                    "BucketObjectsForceDestroy",
                    FORCE_DESTROY_OBJECT_ACTIONS,
                    format!("{}/*", bucket_arn(&b.name)),
                );
            }
        }
        grant(&sid, &actions, bucket_arn(&b.name));
        if let Some(Doc::Replication(Some(r))) = b.docs.get(&DocKind::Replication) {
            roles.insert(r.role_arn.clone());
        }
    }
    for role in roles {
        grant("PassReplicationRole", &[PASS_ROLE_ACTION], role);
    }
    // IAM and SNS resources have no per-resource destroy switch: like buckets without one, they are
    // deleted only when `state.prune` is on, so only then do they get the delete actions and the List
    // calls that only deletes make.
    for r in &desired.identities {
        let access = identity_access(r.kind);
        let mut actions: Vec<&'static str> = access.reads.iter().map(|call| call.action()).collect();
        actions.extend(access.extra_read_actions.iter().copied());
        actions.extend(access.write_actions.iter().copied());
        if state.prune {
            actions.extend(access.destroy_actions.iter().copied());
        }
        let resource = match r.kind {
            IdentityKind::Account => probe::ACCOUNT_RESOURCE.to_string(),
            IdentityKind::IamUser | IdentityKind::IamRole | IdentityKind::IamPolicy | IdentityKind::SnsTopic => {
                r.arn.clone()
            }
        };
        grant(&identity_sid(r.kind, state.prune), &actions, resource);
    }
    if let Some(topic) = &desired.report_topic {
        grant("PublishRunReports", &[PUBLISH_ACTION], topic.clone());
    }
    // `s3rec import`: one listing of the account's buckets, then every document (and the location) of
    // the buckets it adopts, and with --with-related the reads of the IAM and SNS resources they name.
    // Which buckets and resources those are is known only when it runs, hence the wildcards.
    grant("ImportListBuckets", &[LIST_BUCKETS_ACTION], "*".into());
    let mut bucket_reads: Vec<&'static str> = DocKind::ALL
        .into_iter()
        .map(|kind| doc_access(kind).read_action)
        .collect();
    bucket_reads.push(LOCATION_ACTION);
    grant("ImportReadBuckets", &bucket_reads, "arn:aws:s3:::*".into());
    let account = desired.account.as_deref().unwrap_or("*");
    for access in &IDENTITY_ACCESS {
        match access.kind {
            IdentityKind::IamUser | IdentityKind::IamRole | IdentityKind::IamPolicy | IdentityKind::SnsTopic => {}
            // Import writes buckets and the resources they name; it never reads the account's settings.
            IdentityKind::Account => continue,
        }
        let mut actions: Vec<&'static str> = access.reads.iter().map(|call| call.action()).collect();
        actions.extend(access.extra_read_actions.iter().copied());
        grant(
            &format!("Import{}", identity_sid(access.kind, false)),
            &actions,
            access.import_resource.replace("{account}", account),
        );
    }
    // `s3rec migrate`: listing versions of the bucket, reading and restoring objects under the prefix,
    // and deleting them only for migrations whose manifest deletes the source.
    for mig in &desired.migrations {
        let objects = format!("{}/{}*", bucket_arn(&mig.bucket), mig.prefix);
        grant("MigrationBuckets", MIGRATE_BUCKET_ACTIONS, bucket_arn(&mig.bucket));
        grant("MigrationObjects", MIGRATE_OBJECT_ACTIONS, objects.clone());
        if mig.deletes {
            grant("MigrationObjectsDelete", MIGRATE_DELETE_OBJECT_ACTIONS, objects);
        }
    }
    // `sync` (and `apply`, which runs it): listing and uploading under each destination prefix, aborting
    // its own uploads, deleting only for mappings with `delete`. `restore` reads the same places back,
    // and `--in-place` writes copies and delete markers there.
    for sync in &desired.syncs {
        let objects = format!("{}/{}*", bucket_arn(&sync.bucket), sync.prefix);
        grant("SyncBuckets", SYNC_BUCKET_ACTIONS, bucket_arn(&sync.bucket));
        grant("SyncObjects", SYNC_OBJECT_ACTIONS, objects.clone());
        if sync.deletes {
            grant("SyncObjectsDelete", SYNC_DELETE_OBJECT_ACTIONS, objects.clone());
        }
        grant("RestoreBuckets", RESTORE_BUCKET_ACTIONS, bucket_arn(&sync.bucket));
        grant("RestoreObjects", RESTORE_OBJECT_ACTIONS, objects.clone());
        grant("RestoreObjectsInPlace", RESTORE_IN_PLACE_OBJECT_ACTIONS, objects);
    }
    // `s3rec cost` (and `plan --cost`) list every bucket's versions and incomplete uploads.
    for b in &desired.buckets {
        grant("CostBuckets", COST_BUCKET_ACTIONS, bucket_arn(&b.name));
        grant("CostObjects", COST_OBJECT_ACTIONS, format!("{}/*", bucket_arn(&b.name)));
    }
    // `cost --from inventory` finds the latest report under each location and reads it.
    for (bucket, prefix) in &desired.inventory_reports {
        grant(
            "CostInventoryBuckets",
            COST_INVENTORY_BUCKET_ACTIONS,
            bucket_arn(bucket),
        );
        grant(
            "CostInventoryReports",
            COST_INVENTORY_OBJECT_ACTIONS,
            format!("{}/{prefix}*", bucket_arn(bucket)),
        );
    }
    // The `s3` state backend: its statements carry their own conditions, so they go in whole.
    for st in desired.state.iter().flat_map(StateGrants::statements) {
        let g = grants.entry(st.sid.to_string()).or_default();
        g.actions.extend(st.actions);
        g.resources.insert(st.resource);
        g.condition = st.condition;
    }

    // S3 is the only service s3rec hands the replication role to.
    if let Some(g) = grants.get_mut("PassReplicationRole") {
        g.condition = Some(json!({"StringEquals": {"iam:PassedToService": "s3.amazonaws.com"}}));
    }

    let statements: Vec<Json> = grants
        .into_iter()
        .map(|(sid, g)| {
            let mut s = serde_json::Map::new();
            s.insert("Sid".into(), json!(sid));
            s.insert("Effect".into(), json!("Allow"));
            s.insert("Action".into(), json!(g.actions));
            s.insert("Resource".into(), json!(g.resources));
            if let Some(condition) = g.condition {
                s.insert("Condition".into(), condition);
            }
            Json::Object(s)
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::types::StateBackend;
    use crate::model::{ReplicationDoc, VersioningState};

    fn bucket(logical: &str, docs: &[Doc]) -> DesiredBucket {
        DesiredBucket {
            logical: logical.to_string(),
            name: format!("acme-{logical}"),
            region: "us-east-1".to_string(),
            docs: docs.iter().map(|d| (d.kind(), d.clone())).collect(),
            prevent_destroy: false,
            force_destroy: false,
        }
    }

    /// The statement `sid` of `policy`.
    #[track_caller]
    fn statement(policy: &Json, sid: &str) -> Json {
        policy["Statement"]
            .as_array()
            .and_then(|all| all.iter().find(|s| s["Sid"] == sid))
            .cloned()
            .unwrap_or_else(|| panic!("no {sid} in {policy:#}"))
    }

    /// The policy without the `import` and `cost` statements, which every printed policy with buckets
    /// has (tested on their own).
    fn plan_only(mut policy: Json) -> Json {
        if let Some(statements) = policy["Statement"].as_array_mut() {
            statements.retain(|s| {
                !s["Sid"]
                    .as_str()
                    .is_some_and(|sid| sid.starts_with("Import") || sid.starts_with("Cost"))
            });
        }
        policy
    }

    #[test]
    fn import_gets_the_listing_every_document_read_and_the_related_reads_in_the_account() {
        let mut desired = only(Vec::new());
        desired.account = Some("123456789012".into());
        let policy = least_privilege_policy(&StateSettings::default(), &desired);
        let statement = |sid: &str| {
            policy["Statement"]
                .as_array()
                .and_then(|all| all.iter().find(|s| s["Sid"] == sid))
                .cloned()
                .unwrap_or_else(|| panic!("{sid} in {policy}"))
        };
        assert_eq!(statement("ImportListBuckets")["Action"], json!(["s3:ListAllMyBuckets"]));
        let reads = statement("ImportReadBuckets");
        for kind in DocKind::ALL {
            assert!(
                reads["Action"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(doc_access(kind).read_action))
            );
        }
        let users = statement("ImportIamUsers");
        assert_eq!(users["Resource"], json!(["arn:aws:iam::123456789012:user/*"]));
        assert!(
            users["Action"]
                .as_array()
                .unwrap()
                .contains(&json!("iam:ListUserPolicies"))
        );
        let topics = statement("ImportSnsTopics");
        assert_eq!(topics["Resource"], json!(["arn:aws:sns:*:123456789012:*"]));
        assert_eq!(
            topics["Action"],
            json!([
                "sns:GetTopicAttributes",
                "sns:ListSubscriptionsByTopic",
                "sns:ListTagsForResource"
            ])
        );
        for sid in ["ImportIamRoles", "ImportIamPolicies"] {
            statement(sid);
        }
        // Import never reads the account's settings, so it is granted nothing for them.
        let sids: Vec<&Json> = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["Sid"])
            .collect();
        assert!(!sids.contains(&&json!("ImportAccountSettings")), "{sids:?}");
    }

    fn only(buckets: Vec<DesiredBucket>) -> Desired {
        Desired {
            buckets,
            identities: Vec::new(),
            report_topic: None,
            migrations: Vec::new(),
            syncs: Vec::new(),
            inventory_reports: Vec::new(),
            state: None,
            account: None,
        }
    }

    fn identity(kind: IdentityKind, arn: &str) -> DesiredIdentity {
        DesiredIdentity {
            kind,
            logical: "x".into(),
            name: "x".into(),
            arn: arn.into(),
            region: "us-east-1".into(),
            main: crate::model::identity::IdentityDoc::Attachments(BTreeSet::new()),
            parts: BTreeMap::new(),
        }
    }

    #[test]
    fn migrations_read_their_prefix_and_delete_only_when_the_manifest_deletes() {
        let desired = Desired {
            buckets: Vec::new(),
            identities: Vec::new(),
            report_topic: None,
            migrations: vec![
                MigrationSource {
                    bucket: "old".into(),
                    prefix: "logs/".into(),
                    deletes: false,
                },
                MigrationSource {
                    bucket: "older".into(),
                    prefix: String::new(),
                    deletes: true,
                },
            ],
            syncs: Vec::new(),
            inventory_reports: Vec::new(),
            state: None,
            account: None,
        };
        let policy = plan_only(least_privilege_policy(&StateSettings::default(), &desired));
        let by_sid = |sid: &str| statement(&policy, sid);
        assert_eq!(
            by_sid("MigrationBuckets")["Action"],
            json!(["s3:ListBucket", "s3:ListBucketVersions"])
        );
        assert_eq!(
            by_sid("MigrationObjects")["Resource"],
            json!(["arn:aws:s3:::old/logs/*", "arn:aws:s3:::older/*"])
        );
        assert_eq!(
            by_sid("MigrationObjectsDelete"),
            json!({"Sid": "MigrationObjectsDelete", "Effect": "Allow",
                   "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion"], "Resource": ["arn:aws:s3:::older/*"]})
        );
    }

    #[test]
    fn inventory_reports_are_listed_and_read_where_cost_from_inventory_reads_them() {
        let desired = Desired {
            inventory_reports: vec![
                ("acme-inventory".into(), "reports/acme-data/all/".into()),
                ("acme-inventory".into(), "acme-logs/weekly/".into()),
            ],
            ..only(vec![bucket("data", &[])])
        };
        let policy = least_privilege_policy(&StateSettings::default(), &desired);
        assert_eq!(
            statement(&policy, "CostInventoryBuckets"),
            json!({"Sid": "CostInventoryBuckets", "Effect": "Allow",
                   "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::acme-inventory"]})
        );
        assert_eq!(
            statement(&policy, "CostInventoryReports"),
            json!({"Sid": "CostInventoryReports", "Effect": "Allow", "Action": ["s3:GetObject"],
                   "Resource": ["arn:aws:s3:::acme-inventory/acme-logs/weekly/*",
                                "arn:aws:s3:::acme-inventory/reports/acme-data/all/*"]})
        );
        // Without inventory configurations there is nothing to read.
        let policy = least_privilege_policy(&StateSettings::default(), &only(vec![bucket("data", &[])]));
        let sids: Vec<&Json> = policy["Statement"]
            .as_array()
            .expect("statements")
            .iter()
            .map(|s| &s["Sid"])
            .collect();
        assert!(!sids.contains(&&json!("CostInventoryReports")), "{sids:?}");
    }

    #[test]
    fn sync_destinations_get_uploads_restores_and_deletes_only_with_delete_and_every_bucket_its_cost_reads() {
        let desired = Desired {
            buckets: vec![bucket("docs", &[])],
            identities: Vec::new(),
            report_topic: None,
            migrations: Vec::new(),
            syncs: vec![
                SyncDestination {
                    bucket: "acme-docs".into(),
                    prefix: "office/".into(),
                    deletes: false,
                },
                SyncDestination {
                    bucket: "acme-photos".into(),
                    prefix: String::new(),
                    deletes: true,
                },
            ],
            inventory_reports: Vec::new(),
            state: None,
            account: None,
        };
        let policy = least_privilege_policy(&StateSettings::default(), &desired);
        let by_sid = |sid: &str| statement(&policy, sid);
        let objects = json!(["arn:aws:s3:::acme-docs/office/*", "arn:aws:s3:::acme-photos/*"]);
        assert_eq!(
            by_sid("SyncObjects"),
            json!({"Sid": "SyncObjects", "Effect": "Allow",
                   "Action": ["s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:PutObject"],
                   "Resource": objects})
        );
        assert_eq!(
            by_sid("SyncObjectsDelete")["Resource"],
            json!(["arn:aws:s3:::acme-photos/*"])
        );
        assert_eq!(
            by_sid("SyncBuckets")["Action"],
            json!(["s3:ListBucket", "s3:ListBucketMultipartUploads"])
        );
        assert_eq!(
            by_sid("RestoreObjects")["Action"],
            json!(["s3:GetObject", "s3:GetObjectVersion", "s3:RestoreObject"])
        );
        assert_eq!(by_sid("RestoreObjectsInPlace")["Resource"], objects);
        assert_eq!(
            by_sid("RestoreBuckets")["Resource"],
            json!(["arn:aws:s3:::acme-docs", "arn:aws:s3:::acme-photos"])
        );
        assert_eq!(
            by_sid("CostBuckets"),
            json!({"Sid": "CostBuckets", "Effect": "Allow",
                   "Action": ["s3:ListBucketMultipartUploads", "s3:ListBucketVersions"],
                   "Resource": ["arn:aws:s3:::acme-docs"]})
        );
        assert_eq!(by_sid("CostObjects")["Resource"], json!(["arn:aws:s3:::acme-docs/*"]));
    }

    #[test]
    fn iam_and_sns_resources_get_their_actions_on_their_arns_and_deletes_only_under_prune() {
        let user = "arn:aws:iam::123456789012:user/app";
        let role = "arn:aws:iam::123456789012:role/ci";
        let policy_arn = "arn:aws:iam::123456789012:policy/read";
        let topic = "arn:aws:sns:us-east-1:123456789012:alerts";
        let desired = Desired {
            buckets: Vec::new(),
            identities: vec![
                identity(IdentityKind::IamUser, user),
                identity(IdentityKind::IamRole, role),
                identity(IdentityKind::IamPolicy, policy_arn),
                identity(IdentityKind::SnsTopic, topic),
            ],
            report_topic: Some(topic.into()),
            migrations: Vec::new(),
            syncs: Vec::new(),
            inventory_reports: Vec::new(),
            state: None,
            account: None,
        };
        let policy = plan_only(least_privilege_policy(&StateSettings::default(), &desired));
        let statements = policy["Statement"].as_array().unwrap();
        let sids: Vec<&str> = statements.iter().map(|s| s["Sid"].as_str().unwrap()).collect();
        assert_eq!(
            sids,
            [
                "CallerIdentity",
                "IamPolicies",
                "IamRoles",
                "IamUsers",
                "PublishRunReports",
                "SnsTopics"
            ]
        );
        assert_eq!(
            statements[1],
            json!({"Sid": "IamPolicies", "Effect": "Allow",
                   "Action": ["iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion",
                              "iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions"],
                   "Resource": [policy_arn]})
        );
        assert_eq!(
            statements[4],
            json!({"Sid": "PublishRunReports", "Effect": "Allow", "Action": ["sns:Publish"], "Resource": [topic]})
        );
        assert_eq!(
            statements[5],
            json!({"Sid": "SnsTopics", "Effect": "Allow",
                   "Action": ["sns:CreateTopic", "sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic",
                              "sns:ListTagsForResource", "sns:SetTopicAttributes", "sns:Subscribe",
                              "sns:TagResource", "sns:Unsubscribe", "sns:UntagResource"],
                   "Resource": [topic]})
        );
        let text = policy.to_string();
        for absent in [
            "iam:DeleteUser",
            // ListUserPolicies is not here: every plan lists a user's inline policies (for the
            // findings), so it is a read, granted without prune too.
            "iam:ListGroupsForUser",
            "iam:DeleteRole",
            "sns:DeleteTopic",
        ] {
            assert!(
                !text.contains(&format!("\"{absent}\"")),
                "{absent} without prune: {text}"
            );
        }

        let pruning = StateSettings {
            prune: true,
            ..StateSettings::default()
        };
        let policy = plan_only(least_privilege_policy(&pruning, &desired));
        let users = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "IamUsersDestroy")
            .cloned()
            .unwrap_or_else(|| panic!("no IamUsersDestroy in {policy:#}"));
        assert_eq!(users["Resource"], json!([user]));
        for action in [
            "iam:DeleteUser",
            "iam:ListUserPolicies",
            "iam:ListGroupsForUser",
            "iam:GetUser",
        ] {
            assert!(users["Action"].as_array().unwrap().contains(&json!(action)), "{action}");
        }
        assert!(policy.to_string().contains("sns:DeleteTopic"));
    }

    #[test]
    fn sids_are_camel_case() {
        assert_eq!(camel("public_access_block"), "PublicAccessBlock");
        assert_eq!(camel("tags"), "Tags");
    }

    #[test]
    fn buckets_with_the_same_documents_share_a_statement() {
        let tags = Doc::Tags(BTreeMap::new());
        let desired = vec![
            bucket("a", std::slice::from_ref(&tags)),
            bucket("b", &[tags]),
            bucket("c", &[]),
        ];
        let policy = plan_only(least_privilege_policy(&StateSettings::default(), &only(desired)));
        assert_eq!(
            policy,
            json!({
                "Version": "2012-10-17",
                "Statement": [
                    {"Sid": "Buckets", "Effect": "Allow",
                     "Action": ["s3:CreateBucket", "s3:GetBucketLocation", "s3:ListBucket"],
                     "Resource": ["arn:aws:s3:::acme-c"]},
                    {"Sid": "BucketsTags", "Effect": "Allow",
                     "Action": ["s3:CreateBucket", "s3:GetBucketLocation", "s3:GetBucketTagging", "s3:ListBucket",
                                "s3:PutBucketTagging"],
                     "Resource": ["arn:aws:s3:::acme-a", "arn:aws:s3:::acme-b"]},
                    {"Sid": "CallerIdentity", "Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": ["*"]}
                ]
            })
        );
    }

    #[test]
    fn destroy_actions_follow_force_destroy_prune_and_prevent_destroy() {
        let mut forced = bucket("forced", &[]);
        forced.force_destroy = true;
        let mut kept = bucket("kept", &[]);
        kept.prevent_destroy = true;
        kept.force_destroy = true;
        let plain = bucket("plain", &[]);
        let state = StateSettings {
            prune: true,
            ..StateSettings::default()
        };
        let policy = plan_only(least_privilege_policy(&state, &only(vec![forced, kept, plain])));
        let statements = policy["Statement"].as_array().unwrap();
        let sids: Vec<&str> = statements.iter().map(|s| s["Sid"].as_str().unwrap()).collect();
        assert_eq!(
            sids,
            [
                "BucketObjectsForceDestroy",
                "Buckets",
                "BucketsDestroy",
                "BucketsForceDestroy",
                "CallerIdentity"
            ]
        );
        assert_eq!(statements[0]["Resource"], json!(["arn:aws:s3:::acme-forced/*"]));
        assert_eq!(
            statements[0]["Action"],
            json!(["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:DeleteObjectVersion"])
        );
        assert_eq!(statements[1]["Resource"], json!(["arn:aws:s3:::acme-kept"]));
        assert_eq!(statements[2]["Resource"], json!(["arn:aws:s3:::acme-plain"]));
        assert!(
            statements[2]["Action"]
                .as_array()
                .unwrap()
                .contains(&json!("s3:DeleteBucket"))
        );
        assert!(
            statements[3]["Action"]
                .as_array()
                .unwrap()
                .contains(&json!("s3:ListBucketMultipartUploads"))
        );
    }

    #[test]
    fn replication_passes_its_role_and_the_s3_state_backend_gets_its_object() {
        let replicated = bucket(
            "src",
            &[
                Doc::Versioning(VersioningState::Enabled),
                Doc::Replication(Some(ReplicationDoc {
                    role_arn: "arn:aws:iam::123456789012:role/replicator".into(),
                    rules: Vec::new(),
                })),
            ],
        );
        let state = StateSettings {
            backend: StateBackend::S3,
            bucket: Some("acme-state".into()),
            ..StateSettings::default()
        };
        let desired = Desired {
            state: StateGrants::new("prod", &state, "us-east-1", None).unwrap(),
            ..only(vec![replicated])
        };
        let policy = plan_only(least_privilege_policy(&state, &desired));
        let by_sid = |sid: &str| statement(&policy, sid);
        assert_eq!(
            by_sid("PassReplicationRole"),
            json!({"Sid": "PassReplicationRole", "Effect": "Allow", "Action": ["iam:PassRole"],
                   "Resource": ["arn:aws:iam::123456789012:role/replicator"],
                   "Condition": {"StringEquals": {"iam:PassedToService": "s3.amazonaws.com"}}})
        );
        assert_eq!(
            by_sid("StateObject")["Resource"],
            json!(["arn:aws:s3:::acme-state/s3rec/prod.db"])
        );
        assert_eq!(
            by_sid("BucketsVersioningReplication")["Action"],
            json!([
                "s3:CreateBucket",
                "s3:GetBucketLocation",
                "s3:GetBucketVersioning",
                "s3:GetReplicationConfiguration",
                "s3:ListBucket",
                "s3:PutBucketVersioning",
                "s3:PutReplicationConfiguration"
            ])
        );
    }

    /// The statements of the `s3` state backend, by Sid, from a policy made for `state` alone.
    fn state_statements(state: &StateSettings, account: Option<&str>) -> Vec<Json> {
        let desired = Desired {
            state: StateGrants::new("prod", state, "eu-west-1", account).unwrap(),
            ..only(Vec::new())
        };
        let policy = plan_only(least_privilege_policy(state, &desired));
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Sid"].as_str().unwrap().starts_with("State"))
            .cloned()
            .collect()
    }

    #[test]
    fn the_s3_state_backend_gets_exactly_its_object_its_lock_a_listing_of_both_and_doctors_reads() {
        let state = StateSettings {
            backend: StateBackend::S3,
            bucket: Some("acme-state".into()),
            key: Some("estate/prod.db".into()),
            ..StateSettings::default()
        };
        assert_eq!(
            state_statements(&state, None),
            vec![
                json!({"Sid": "StateBucketList", "Effect": "Allow", "Action": ["s3:ListBucket"],
                       "Resource": ["arn:aws:s3:::acme-state"],
                       "Condition": {"StringEquals": {"s3:prefix": ["estate/prod.db", "estate/prod.db.lock"]}}}),
                json!({"Sid": "StateBucketReadByDoctor", "Effect": "Allow",
                       "Action": ["s3:GetBucketPublicAccessBlock", "s3:GetBucketVersioning",
                                  "s3:GetEncryptionConfiguration", "s3:GetLifecycleConfiguration"],
                       "Resource": ["arn:aws:s3:::acme-state"]}),
                json!({"Sid": "StateLock", "Effect": "Allow",
                       "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:GetObject", "s3:PutObject"],
                       "Resource": ["arn:aws:s3:::acme-state/estate/prod.db.lock"]}),
                json!({"Sid": "StateObject", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                       "Resource": ["arn:aws:s3:::acme-state/estate/prod.db"]}),
            ]
        );
        // The state object itself is never deleted, and nothing else of the bucket is granted.
        let text = serde_json::to_string(&state_statements(&state, None)).unwrap();
        assert!(!text.contains("kms:"), "{text}");
        assert!(!text.contains("acme-state/*"), "{text}");

        // A local state grants nothing in S3, even with a bucket left in the settings.
        let local = StateSettings {
            backend: StateBackend::Local,
            ..state.clone()
        };
        assert_eq!(state_statements(&local, None), Vec::<Json>::new());
    }

    #[test]
    fn a_kms_key_adds_encrypt_decrypt_and_data_keys_on_that_key_in_the_state_region() {
        let state = StateSettings {
            backend: StateBackend::S3,
            bucket: Some("acme-state".into()),
            region: Some("us-west-2".into()),
            kms_key: Some("1234abcd-12ab-34cd-56ef-1234567890ab".into()),
            ..StateSettings::default()
        };
        let statements = state_statements(&state, Some("123456789012"));
        let kms = statements
            .iter()
            .find(|s| s["Sid"] == "StateKmsKey")
            .unwrap_or_else(|| panic!("no StateKmsKey in {statements:#?}"));
        assert_eq!(
            kms,
            &json!({"Sid": "StateKmsKey", "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                    "Resource": ["arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"]})
        );
        // Without the account, a key ID has no ARN: the policy asks STS (like IAM ARNs do).
        assert!(matches!(
            StateGrants::new("prod", &state, "eu-west-1", None),
            Err(DesiredError::AccountUnknown { .. })
        ));
    }

    #[test]
    fn every_document_read_action_is_granted() {
        let docs: Vec<Doc> = DocKind::ALL.into_iter().map(Doc::unconfigured).collect();
        let policy = plan_only(least_privilege_policy(
            &StateSettings::default(),
            &only(vec![bucket("all", &docs)]),
        ));
        let text = policy.to_string();
        for kind in DocKind::ALL {
            let access = doc_access(kind);
            assert!(text.contains(access.read_action), "{}", access.read_action);
            for w in access.write_actions {
                assert!(text.contains(w), "{w}");
            }
        }
    }

    #[test]
    fn a_state_bucket_row_warns_or_fails_for_being_missing() {
        let state_row = |probe: Probe, warning: Option<&str>| Check {
            resource: "state.bucket".into(),
            bucket: Some("acme-state".into()),
            arn: None,
            region: "us-east-1".into(),
            check: "s3:ListBucket",
            fails: probe != Probe::Ok,
            probe,
            warning: warning.map(str::to_string),
            note: None,
        };
        assert_eq!(
            result_text(&state_row(Probe::Ok, Some("versioning is off"))),
            "WARNING: versioning is off"
        );
        assert_eq!(
            result_text(&state_row(Probe::Missing, None)),
            "error: bucket acme-state does not exist"
        );
        let json = serde_json::to_value(state_row(Probe::Ok, Some("versioning is off"))).unwrap();
        assert_eq!(json["result"], "ok");
        assert_eq!(json["warning"], "versioning is off");
        assert_eq!(json["fails"], false);
    }

    #[test]
    fn rows_say_what_is_missing() {
        let check = Check {
            resource: "bucket.logs.lifecycle".into(),
            bucket: Some("acme-logs".into()),
            arn: None,
            region: "us-east-1".into(),
            check: "s3:GetLifecycleConfiguration",
            probe: Probe::Denied {
                action: "s3:GetLifecycleConfiguration".into(),
                resource: "arn:aws:s3:::acme-logs".into(),
            },
            fails: true,
            warning: None,
            note: None,
        };
        assert_eq!(
            result_text(&check),
            "DENIED: missing s3:GetLifecycleConfiguration on arn:aws:s3:::acme-logs"
        );
        let json = serde_json::to_value(&check).unwrap();
        assert_eq!(json["result"], "denied");
        assert_eq!(json["action"], "s3:GetLifecycleConfiguration");
        assert_eq!(json["fails"], true);
    }
}
