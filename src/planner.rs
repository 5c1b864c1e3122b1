//! Making a plan: the one place that joins the manifest, live AWS and the state. It reads; the pure
//! `diff` and `plan::graph` decide.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::aws::{self, Aws, AwsError, CallerIdentity, Overrides};
use crate::backend::{self, BackendError, Lease, LeaseRequest, Remote};
use crate::diff::identity::{IdentityInputs, ManagedIdentity};
use crate::diff::{self, DiffError, Inputs, Managed};
use crate::exec::retry;
use crate::import::{related, unmanaged};
use crate::manifest::load::{DiscoveryError, find_environment, find_project_root};
use crate::manifest::types::StateBackend;
use crate::manifest::{Loaded, Manifest, load};
use crate::model::desired::{self, Context, DesiredError};
use crate::model::identity::{self, DesiredIdentity, IdentityDoc, IdentityKind, ObservedIdentity, PartKind};
use crate::model::{DocKind, ObservedBucket};
use crate::plan::graph::{ChangeGraph, CycleError};
use crate::plan::{Action, Address, Change, Edge, PLAN_FORMAT_VERSION, Plan, Value};
use crate::state::{StateDb, StateError, state_path};

/// Buckets read at once by default; AWS and emulators both take this without throttling.
pub const DEFAULT_READ_CONCURRENCY: usize = 16;

/// A loaded, valid environment manifest and where it lives.
#[derive(Debug)]
pub struct Workspace {
    pub root: PathBuf,
    pub loaded: Loaded,
    pub manifest: Manifest,
    pub manifest_sha256: String,
}

/// Why a workspace could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error("cannot determine the working directory: {0}")]
    Cwd(std::io::Error),
    /// The manifest has errors; the caller renders `loaded.problems`.
    #[error("{} is not valid", .0.sources_display())]
    Invalid(Box<Loaded>),
}

/// Finds and loads environment `env`.
pub fn open_workspace(env: &str) -> Result<Workspace, WorkspaceError> {
    let cwd = std::env::current_dir().map_err(WorkspaceError::Cwd)?;
    let path = find_environment(&cwd, env)?;
    let root = find_project_root(&cwd)?;
    let loaded = load(&path);
    let Some(manifest) = loaded.manifest.clone() else {
        return Err(WorkspaceError::Invalid(Box::new(loaded)));
    };
    let manifest_sha256 = manifest_digest(&loaded);
    Ok(Workspace {
        root,
        loaded,
        manifest,
        manifest_sha256,
    })
}

/// SHA-256 over every file of the manifest (the environment and its `extends` chain), in load order.
pub fn manifest_digest(loaded: &Loaded) -> String {
    let mut hasher = Sha256::new();
    for id in loaded.sources.ids() {
        hasher.update(loaded.sources.display(id).as_bytes());
        hasher.update([0]);
        hasher.update(loaded.sources.text(id).as_bytes());
        hasher.update([0]);
    }
    crate::model::hex(&hasher.finalize())
}

impl Workspace {
    pub fn environment(&self) -> &str {
        &self.manifest.environment
    }

    /// The state database this workspace works on: the local backend's file, or the S3 backend's working
    /// copy (`.s3rec/s3/<env>.db`, or `state.path`), which [`Workspace::read_state`] and
    /// [`Workspace::lease_state`] keep in step with the remote state.
    pub fn state_path(&self) -> PathBuf {
        let settings = &self.manifest.state;
        match settings.backend {
            StateBackend::Local => state_path(&self.root, self.environment(), settings),
            StateBackend::S3 => match settings.path.as_deref() {
                Some(path) if !path.is_empty() => self.root.join(path),
                _ => self
                    .root
                    .join(crate::state::STATE_DIR)
                    .join("s3")
                    .join(format!("{}.db", self.environment())),
            },
        }
    }

    /// The S3 backend's settings, or `None` for the local backend.
    pub fn remote(&self, aws: &Aws) -> Option<Remote> {
        Remote::of(&self.manifest, self.environment(), aws.region())
    }

    /// Opens the state database as it is now, without refreshing a remote copy. Commands that change the
    /// state call it after [`Workspace::lease_state`]; readers use [`Workspace::read_state`].
    pub fn open_state(&self) -> Result<StateDb, StateError> {
        StateDb::open(&self.state_path())
    }

    /// Opens the state for reading. With the S3 backend the working copy is refreshed first: one
    /// conditional GET, and a download only when the remote state moved. No lock is taken.
    pub async fn read_state(&self, aws: &Aws) -> Result<StateDb, BackendError> {
        if let Some(remote) = self.remote(aws) {
            let db = self.state_path();
            // The copy is replaced only while no other s3rec process on this machine has it open.
            match crate::state::lock_run(&db) {
                Ok(_guard) => {
                    backend::refresh(aws, &remote, &db).await?;
                }
                Err(StateError::RunInProgress { .. }) => eprintln!(
                    "note: another s3rec run on this machine is changing the state of {}; reading its working copy",
                    self.environment()
                ),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(self.open_state()?)
    }

    /// Takes the state for a run that changes it (`operation` names the run in the lock): the local run
    /// lock, and with the S3 backend the lock object and a refreshed copy, with checkpoints.
    pub async fn lease_state(
        &self,
        conn: &Connection,
        operation: &str,
        lock_timeout: Option<std::time::Duration>,
    ) -> Result<Lease, BackendError> {
        let remote = self.remote(&conn.aws);
        let db = self.state_path();
        let request = LeaseRequest {
            operation,
            who: conn.identity.as_ref().map(|i| i.arn.as_str()),
            lock_timeout,
        };
        backend::lease(Some(&conn.aws), remote.as_ref(), &db, request, || {
            Ok(vec![crate::state::lock_run(&db)?])
        })
        .await
    }

    /// Takes the state for `migrate run|verify` of `names`. The local backend locks each migration
    /// alone (a migration lasting days blocks neither `apply` nor `sync`); the S3 backend has one state
    /// object, so the run takes the environment's lock like any other run. `conn` may be `None` only for
    /// the local backend, whose `verify` works offline.
    pub async fn lease_migrations(
        &self,
        conn: Option<&Connection>,
        operation: &str,
        names: &[String],
        lock_timeout: Option<std::time::Duration>,
    ) -> Result<Lease, BackendError> {
        let remote = conn.and_then(|c| self.remote(&c.aws));
        let db = self.state_path();
        let request = LeaseRequest {
            operation,
            who: conn.and_then(|c| c.identity.as_ref()).map(|i| i.arn.as_str()),
            lock_timeout,
        };
        let local = || match &remote {
            Some(_) => Ok(vec![crate::state::lock_run(&db)?]),
            None => names
                .iter()
                .map(|name| crate::state::lock_migration(&db, name))
                .collect(),
        };
        backend::lease(conn.map(|c| &c.aws), remote.as_ref(), &db, request, local).await
    }
}

/// A connection to the manifest's AWS, with the account guard checked.
pub struct Connection {
    pub aws: Arc<Aws>,
    pub identity: Option<CallerIdentity>,
}

/// Connects and enforces `aws.account_id` before anything is read. Without a guard, an STS failure is
/// tolerated (S3-compatible servers often have no STS); ARNs that need the account then fail clearly.
pub async fn connect(ws: &Workspace, overrides: &Overrides) -> Result<Connection, AwsError> {
    connect_asking(ws, overrides, true).await
}

/// [`connect`] for `sync`, which needs the caller only for the account guard, the holder named in the S3
/// backend's lock and the run report's account: without any of those, STS is not asked, which saves a
/// round trip per run (and, against S3-compatible servers without STS, its retries).
pub async fn connect_for_sync(ws: &Workspace, overrides: &Overrides) -> Result<Connection, AwsError> {
    let m = &ws.manifest;
    let caller_used = m.aws.account_id.is_some() || m.state.backend == StateBackend::S3 || m.report.is_some();
    connect_asking(ws, overrides, caller_used).await
}

async fn connect_asking(ws: &Workspace, overrides: &Overrides, ask_sts: bool) -> Result<Connection, AwsError> {
    let aws = aws::connect(&ws.manifest.aws, overrides).await?;
    let identity = if ws.manifest.aws.account_id.is_some() {
        Some(aws.check_account().await?)
    } else if !ask_sts {
        None
    } else {
        match aws.caller_identity().await {
            Ok(identity) => Some(identity),
            Err(e) => {
                // Only IAM and SNS ARNs need the account; S3-compatible servers often have no STS, and
                // a manifest of buckets and sync mappings works without it.
                let m = &ws.manifest;
                if m.iam.users.is_empty()
                    && m.iam.roles.is_empty()
                    && m.iam.policies.is_empty()
                    && m.sns.topics.is_empty()
                {
                    tracing::debug!("cannot determine the caller's account: {e}");
                } else {
                    tracing::warn!("cannot determine the caller's account: {e}");
                }
                None
            }
        }
    };
    Ok(Connection {
        aws: Arc::new(aws),
        identity,
    })
}

/// What to plan.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Limit the plan to these addresses (and what they depend on).
    pub targets: Vec<String>,
    /// Also list the account's buckets that no environment manages (one ListBuckets, and the other
    /// environments' manifests and states). Every document of the manifest's own buckets is read and
    /// judged with or without it.
    pub audit: bool,
    pub read_concurrency: usize,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            targets: Vec::new(),
            audit: false,
            read_concurrency: DEFAULT_READ_CONCURRENCY,
        }
    }
}

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Desired(#[from] DesiredError),
    /// Boxed: AWS errors carry a lot of context, and plan errors travel through every `?`.
    #[error(transparent)]
    Aws(Box<AwsError>),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Cycle(#[from] CycleError),
    #[error("the plan is refused: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Refused(Vec<DiffError>),
    /// A sync mapping could not be compared (its source, its destination, its index).
    #[error("{0}")]
    Sync(String),
    /// The project's environments could not be read to tell which buckets they manage.
    #[error("{0}")]
    Discovery(String),
    #[error("--target {0} matches nothing in the manifest or the state")]
    UnknownTarget(String),
}

impl From<AwsError> for PlanError {
    fn from(e: AwsError) -> Self {
        PlanError::Aws(Box::new(e))
    }
}

impl PlanError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            PlanError::Refused(errors) => errors.first().map(DiffError::hint),
            PlanError::UnknownTarget(_) => {
                Some("addresses look like `bucket.logs`, `bucket.logs.lifecycle`, `iam_user.app` or `sns_topic.events.policy`".to_string())
            }
            PlanError::Desired(DesiredError::AccountUnknown { .. }) => {
                Some("check the credentials with `aws sts get-caller-identity`".to_string())
            }
            PlanError::Desired(DesiredError::Unresolved { .. })
            | PlanError::Aws(_)
            | PlanError::State(_)
            | PlanError::Cycle(_)
            | PlanError::Sync(_)
            | PlanError::Discovery(_) => None,
        }
    }
}

/// Reads AWS and the state and diffs them against the manifest.
pub async fn plan(ws: &Workspace, conn: &Connection, state: &StateDb, opts: &PlanOptions) -> Result<Plan, PlanError> {
    let m = &ws.manifest;
    let account = conn.identity.as_ref().map(|i| i.account.as_str());
    let ctx = Context {
        manifest: m,
        account_id: account,
        default_region: conn.aws.region(),
    };
    let desired = desired::buckets(&ctx)?;
    let managed = managed_resources(state)?;
    let secrets_dir = format!("{}/secrets/{}", crate::state::STATE_DIR, m.environment);
    let desired_identities = identity::identities(&ctx, &secrets_dir)?;
    let managed_identities = managed_identities(state, account, conn.aws.region())?;

    // What to read: every document of every desired bucket (the managed ones to diff, the others so
    // the findings judge what AWS has there), and the existence of managed buckets that left the
    // manifest.
    let mut reads: BTreeMap<String, BucketRead> = BTreeMap::new();
    for b in &desired {
        reads.insert(
            b.name.clone(),
            BucketRead {
                managed: b.docs.keys().copied().collect(),
                unmanaged: DocKind::ALL.into_iter().filter(|k| !b.docs.contains_key(k)).collect(),
            },
        );
    }
    for r in &managed {
        if r.kind.is_none() {
            reads.entry(r.bucket.clone()).or_default();
        }
    }
    let identity_reads = identity_reads(&desired_identities, &managed_identities, m.state.prune);
    let (observed, observed_identities) = tokio::join!(
        read_desired(&conn.aws, reads, opts.read_concurrency),
        read_identities(&conn.aws, identity_reads, opts.read_concurrency)
    );
    let ((mut observed, unread), observed_identities) = (observed?, observed_identities?);
    let mut warnings = unread_warnings(&desired, &unread, &m.environment);

    // Emptiness matters only for buckets a plan may destroy: replaced ones and pruned ones.
    let desired_names: HashSet<&str> = desired.iter().map(|b| b.name.as_str()).collect();
    let mut check_empty: Vec<(String, String)> = Vec::new();
    for (name, live) in &observed {
        let Some(live) = live else { continue };
        let moved = desired.iter().any(|b| &b.name == name && b.region != live.region);
        let pruned = m.state.prune && !desired_names.contains(name.as_str());
        if moved || pruned {
            check_empty.push((name.clone(), live.region.clone()));
        }
    }
    for (name, region) in check_empty {
        let non_empty = retry::read(|| aws::read::bucket_has_objects(&conn.aws, &name, &region)).await?;
        if let Some(Some(live)) = observed.get_mut(&name) {
            live.non_empty = Some(non_empty);
        }
    }

    if opts.audit {
        for u in unmanaged_buckets(ws, conn, state, opts.read_concurrency).await? {
            let findings = if u.findings.is_empty() {
                "no findings".to_string()
            } else {
                u.findings.join("; ")
            };
            warnings.push(format!(
                "audit: bucket {} ({}, created {}) is not managed by any environment: {findings}; adopt it with `s3rec import -e {} {}`",
                u.name,
                u.region,
                u.created.as_deref().unwrap_or("at an unknown date"),
                m.environment,
                u.name
            ));
        }
    }

    for (address, live) in &observed_identities {
        for sub in live.iter().flat_map(|l| &l.pending_subscriptions) {
            warnings.push(format!(
                "{address}: the {} subscription to {} is pending confirmation (its recipient must confirm it; this is not drift)",
                sub.protocol, sub.endpoint
            ));
        }
    }

    // Security findings on the estate as apply will leave it, with what AWS has for the settings the
    // manifest leaves out and the policies only AWS shows on identities.
    let findings = {
        let estate = crate::findings::live::estate(
            m,
            account.unwrap_or(crate::findings::manifest::MANIFEST_ACCOUNT),
            &desired,
            &observed,
            &desired_identities,
            &observed_identities,
        );
        let sources = &ws.loaded.sources;
        let located = crate::findings::manifest::locate_all(
            crate::findings::analyze(&estate),
            &ws.loaded.index,
            sources,
            &|file| sources.display(file).to_string(),
        );
        // A targeted plan reports on the targeted resources only, as it shows only their changes.
        let targeted = |resource: &str| {
            opts.targets.is_empty()
                || opts
                    .targets
                    .iter()
                    .any(|t| Address(resource.to_string()).within(t) || Address(t.clone()).within(resource))
        };
        crate::findings::render::to_json(&located)
            .into_iter()
            .filter(|f| targeted(&f.resource))
            .collect::<Vec<_>>()
    };

    let existing: HashSet<String> = observed
        .iter()
        .filter(|(_, live)| live.is_some())
        .map(|(name, _)| name.clone())
        .collect();
    let inputs = Inputs {
        desired,
        observed,
        managed,
        prune: m.state.prune,
    };
    let lost_keys = lost_keys(state, &desired_identities, &ws.root)?;
    let identity_inputs = IdentityInputs {
        desired: desired_identities,
        observed: observed_identities,
        managed: managed_identities,
        prune: m.state.prune,
        lost_keys,
    };
    // Every address this plan read from AWS because the manifest wants it.
    let desired_addresses: HashSet<String> = inputs
        .desired
        .iter()
        .flat_map(|b| {
            std::iter::once(Address::bucket(&b.logical).0)
                .chain(b.docs.keys().map(|k| Address::bucket_doc(&b.logical, *k).0))
        })
        .chain(identity_inputs.desired.iter().flat_map(|d| {
            std::iter::once(Address::identity(d.kind, &d.logical, None).0).chain(
                d.parts
                    .keys()
                    .map(|p| Address::identity(d.kind, &d.logical, Some(*p)).0),
            )
        }))
        .collect();
    let known: HashSet<String> = desired_addresses
        .iter()
        .cloned()
        .chain(inputs.managed.iter().map(|m| m.address.0.clone()))
        .chain(identity_inputs.managed.iter().map(|m| m.address.0.clone()))
        .chain(m.sync.keys().map(|name| format!("sync.{name}")))
        .chain(m.migrations.keys().map(|name| format!("migration.{name}")))
        .collect();
    // Every refusal is reported at once, buckets and IAM/SNS alike.
    let (mut changes, mut refusals) = match diff::diff(&inputs) {
        Ok(changes) => (changes, Vec::new()),
        Err(errors) => (Vec::new(), errors),
    };
    match diff::identity::diff(&identity_inputs) {
        Ok(more) => changes.extend(more),
        Err(errors) => refusals.extend(errors),
    }
    if !refusals.is_empty() {
        return Err(PlanError::Refused(refusals));
    }
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    let applied: HashMap<Address, Value> = state.resources()?.into_iter().map(|r| (r.address, r.value)).collect();
    crate::plan::cause::label(&mut changes, &applied);
    // Before `--target` narrows the changes: an address left out of a targeted plan was still read.
    warnings.extend(interrupted(state, &changes, &desired_addresses)?);
    let mut edges = crate::plan::graph::edges(&changes);
    if !opts.targets.is_empty() {
        (changes, edges) = limit_to_targets(changes, edges, &opts.targets, &known)?;
    }
    ChangeGraph::new(&changes, &edges)?;
    let syncs = sync_work(ws, conn, state, &existing, &opts.targets, &mut warnings).await?;
    let migrations = migration_work(ws, conn, state, &existing, &opts.targets).await?;
    Ok(Plan {
        syncs,
        migrations,
        state: Some(state.version()?),
        format_version: PLAN_FORMAT_VERSION,
        environment: m.environment.clone(),
        manifest_sha256: ws.manifest_sha256.clone(),
        account_id: conn.identity.as_ref().map(|i| i.account.clone()),
        targets: opts.targets.clone(),
        changes,
        edges,
        findings,
        warnings,
        costs: Vec::new(),
    })
}

/// Access-key parts whose create an earlier run started and never saw the end of, and whose secret file
/// is missing or empty: the key such a call made (if it made one) has a secret nobody kept. s3rec writes
/// the secret in one write right after the answer, so an empty file is its own reservation.
fn lost_keys(state: &StateDb, desired: &[DesiredIdentity], root: &Path) -> Result<HashSet<Address>, StateError> {
    let mut lost = HashSet::new();
    for entry in state.interrupted_entries()? {
        if !matches!(entry.action, Action::Create | Action::Replace) {
            continue;
        }
        let Some((kind, logical, Some(PartKind::AccessKey))) = diff::identity::parse_address(&entry.address) else {
            continue;
        };
        let secret_file = desired
            .iter()
            .find(|d| d.kind == kind && d.logical == logical)
            .and_then(|d| d.parts.get(&PartKind::AccessKey))
            .and_then(|doc| {
                let IdentityDoc::AccessKey(key) = doc else { return None };
                key.secret_file.as_deref()
            });
        let Some(secret_file) = secret_file else { continue };
        let empty = std::fs::metadata(root.join(secret_file)).map_or(true, |m| m.len() == 0);
        if empty {
            lost.insert(entry.address.clone());
        }
    }
    Ok(lost)
}

/// Warnings for actions an earlier run never saw the end of. An interrupted action whose address this
/// plan read and found exactly as the manifest wants (no change on it, on what it belongs to, or on its
/// parts) is converged: it is settled in the state and no longer reported, by this plan or later ones.
fn interrupted(state: &StateDb, changes: &[Change], read: &HashSet<String>) -> Result<Vec<String>, StateError> {
    let mut warnings = Vec::new();
    let mut converged = Vec::new();
    for entry in state.interrupted_entries()? {
        let address = &entry.address;
        let touched = changes.iter().any(|c| {
            c.action.calls_aws() && (c.address.within(address.as_str()) || address.within(c.address.as_str()))
        });
        if read.contains(address.as_str()) && !touched {
            converged.push(entry.id);
        } else {
            warnings.push(format!(
                "{address} was interrupted during a {} in run {}: it may be half-done; this plan reads it as it is now",
                entry.action.verb(),
                entry.run_id
            ));
        }
    }
    state.settle_interrupted(&converged)?;
    Ok(warnings)
}

/// What each sync mapping would upload and delete now. A mapping whose destination bucket does not
/// exist yet (the plan creates it) uploads everything it selects. With `--target`, only the mappings
/// targeted as `sync.NAME`.
///
/// A source directory that is not on this machine is a warning, and the mapping is left out: plans and
/// applies of the buckets often run in CI, while the files live on the server that runs `s3rec sync`
/// (which does fail on a missing source, since there it means a share that is not mounted).
async fn sync_work(
    ws: &Workspace,
    conn: &Connection,
    state: &StateDb,
    existing: &HashSet<String>,
    targets: &[String],
    warnings: &mut Vec<String>,
) -> Result<Vec<crate::plan::SyncWork>, PlanError> {
    use crate::sync::run::{self, SyncError};
    use crate::sync::spec::SyncSpec;
    use crate::sync::walk::{self, WalkError};
    let m = &ws.manifest;
    let mut out = Vec::new();
    // Opened once, for the first mapping that reads it.
    let mut index: Option<Arc<crate::state::sync_index::SyncIndex>> = None;
    for (name, mapping) in &m.sync {
        let address = Address(format!("sync.{name}"));
        if !targets.is_empty() && !targets.iter().any(|t| address.within(t)) {
            continue;
        }
        let spec =
            SyncSpec::new(m, name, mapping, &ws.root, conn.aws.region()).map_err(|e| PlanError::Sync(e.to_string()))?;
        let mut work = crate::plan::SyncWork {
            mapping: name.clone(),
            uploads: 0,
            upload_bytes: 0,
            deletes: 0,
            unchanged: 0,
            delete_markers: spec.deletes_become_markers(),
            error: None,
            upload_classes: Vec::new(),
        };
        let not_here = |e: &WalkError| {
            format!(
                "sync.{name}: {e}; not compared here, and apply leaves it to `s3rec sync` on the machine that has it"
            )
        };
        if spec.destinations.iter().all(|d| existing.contains(&d.bucket)) {
            let index = match &index {
                Some(index) => index,
                None => index.insert(Arc::new(crate::state::sync_index::SyncIndex::open(state.path())?)),
            };
            match run::prepare(&conn.aws, index, spec).await {
                Ok(p) => work = p.work(),
                Err(SyncError::Walk(e @ WalkError::Missing { .. })) => {
                    warnings.push(not_here(&e));
                    continue;
                }
                Err(e) => work.error = Some(e.to_string()),
            }
        } else {
            // The plan creates a destination bucket: everything selected is to upload, and counting it
            // keeps no file.
            let counting = tokio::task::spawn_blocking(move || {
                let total = std::sync::Mutex::new((0usize, 0u64));
                let count = |batch: Vec<walk::LocalFile>| {
                    let mut total = total.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    total.0 += batch.len();
                    total.1 += batch.iter().map(|f| f.size).sum::<u64>();
                };
                walk::walk_into(&spec, 4, &count)
                    .map(|_| total.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner))
            });
            match counting.await {
                Ok(Ok((files, bytes))) => {
                    work.uploads = files;
                    work.upload_bytes = bytes;
                }
                Ok(Err(e @ WalkError::Missing { .. })) => {
                    warnings.push(not_here(&e));
                    continue;
                }
                Ok(Err(e)) => work.error = Some(e.to_string()),
                Err(e) => work.error = Some(e.to_string()),
            }
        }
        out.push(work);
    }
    Ok(out)
}

/// Where each migration stands (`migration.NAME` targets select them). Reads only. A source bucket the
/// plan is about to create has nothing to migrate yet.
async fn migration_work(
    ws: &Workspace,
    conn: &Connection,
    state: &StateDb,
    existing: &HashSet<String>,
    targets: &[String],
) -> Result<Vec<crate::plan::MigrationWork>, PlanError> {
    use crate::migrate::spec::MigrationSpec;
    let m = &ws.manifest;
    if m.migrations.is_empty() {
        return Ok(Vec::new());
    }
    let inventory = crate::state::inventory::Inventory::open(state.path())?;
    let mut out = Vec::new();
    for (name, migration) in &m.migrations {
        let address = Address(format!("migration.{name}"));
        if !targets.is_empty() && !targets.iter().any(|t| address.within(t)) {
            continue;
        }
        let spec = MigrationSpec::new(m, name, migration, &ws.root, conn.aws.region())
            .map_err(|e| PlanError::Sync(e.to_string()))?;
        let exists = existing.contains(&spec.bucket);
        out.push(crate::migrate::run::assess(&conn.aws, &inventory, &spec, exists).await);
    }
    Ok(out)
}

/// The state's bucket resources in the shape the diff wants.
fn managed_resources(state: &StateDb) -> Result<Vec<Managed>, StateError> {
    Ok(state
        .resources()?
        .into_iter()
        .filter_map(|r| {
            let kind = match &r.value {
                Value::Bucket { .. } => None,
                Value::Doc(doc) => Some(doc.kind()),
                Value::Identity(_) => return None,
            };
            Some((kind, r))
        })
        .map(|(kind, r)| Managed {
            kind,
            address: r.address,
            bucket: r.name,
            region: r.region,
            force_destroy: r.force_destroy,
            prevent_destroy: r.prevent_destroy,
        })
        .collect())
}

/// The IAM and SNS resources the state manages, with the ARNs their deletion needs. IAM ARNs need the
/// account; without it (no STS) they are left empty and only a delete would notice.
fn managed_identities(
    state: &StateDb,
    account: Option<&str>,
    default_region: &str,
) -> Result<Vec<ManagedIdentity>, StateError> {
    let records = state.resources()?;
    // Parts do not record their owner's path; the owner's record has it.
    let mut paths: HashMap<Address, String> = HashMap::new();
    for r in &records {
        match &r.value {
            Value::Identity(IdentityDoc::User(u)) => paths.insert(r.address.clone(), u.path.clone()),
            Value::Identity(IdentityDoc::Role(x)) => paths.insert(r.address.clone(), x.path.clone()),
            Value::Identity(IdentityDoc::Policy(p)) => paths.insert(r.address.clone(), p.path.clone()),
            _ => None,
        };
    }
    let account = account.unwrap_or_default();
    Ok(records
        .into_iter()
        .filter_map(|r| {
            let Value::Identity(value) = r.value else { return None };
            let (kind, logical, part) = diff::identity::parse_address(&r.address)?;
            let owner = Address::identity(kind, &logical, None);
            let path = paths.get(&owner).map_or("/", String::as_str);
            let region = if r.region.is_empty() {
                default_region.to_string()
            } else {
                r.region
            };
            let arn = identity::arn(kind, account, &region, path, &r.name);
            Some(ManagedIdentity {
                address: r.address,
                kind,
                logical,
                part,
                name: r.name,
                arn,
                region,
                value,
            })
        })
        .collect())
}

/// One IAM or SNS resource to read: its address and how to reach it.
struct IdentityRead {
    address: Address,
    kind: IdentityKind,
    name: String,
    arn: String,
    region: String,
}

/// Every desired resource, and the managed ones that left the manifest when a prune may delete them.
fn identity_reads(desired: &[DesiredIdentity], managed: &[ManagedIdentity], prune: bool) -> Vec<IdentityRead> {
    let mut out: Vec<IdentityRead> = desired
        .iter()
        .map(|d| IdentityRead {
            address: Address::identity(d.kind, &d.logical, None),
            kind: d.kind,
            name: d.name.clone(),
            arn: d.arn.clone(),
            region: d.region.clone(),
        })
        .collect();
    if prune {
        for m in managed.iter().filter(|m| m.part.is_none()) {
            if !out.iter().any(|r| r.address == m.address) {
                out.push(IdentityRead {
                    address: m.address.clone(),
                    kind: m.kind,
                    name: m.name.clone(),
                    arn: m.arn.clone(),
                    region: m.region.clone(),
                });
            }
        }
    }
    out
}

/// Reads IAM and SNS resources concurrently, at most `concurrency` at once, each with the retry policy.
async fn read_identities(
    aws: &Arc<Aws>,
    reads: Vec<IdentityRead>,
    concurrency: usize,
) -> Result<BTreeMap<Address, Option<ObservedIdentity>>, AwsError> {
    let mut out = BTreeMap::new();
    for (r, result) in read_identity_targets(aws, reads, concurrency, IdentityRead::target).await {
        out.insert(r.address, result?);
    }
    Ok(out)
}

impl IdentityRead {
    fn target(&self) -> aws::identity::Target<'_> {
        aws::identity::Target {
            kind: self.kind,
            name: &self.name,
            arn: &self.arn,
            region: &self.region,
        }
    }
}

/// Reads the IAM or SNS resource `target` names for every item, at most `concurrency` at once, each
/// with the retry policy, and hands each item back with what was read. Plan's reads of the manifest's
/// identities and import's reads of the resources buckets name share it.
async fn read_identity_targets<T: Send + Sync + 'static>(
    aws: &Arc<Aws>,
    items: Vec<T>,
    concurrency: usize,
    target: fn(&T) -> aws::identity::Target<'_>,
) -> Vec<(T, Result<Option<ObservedIdentity>, AwsError>)> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for item in items {
        let aws = aws.clone();
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let result = retry::read(|| aws::identity::read(&aws, target(&item))).await;
            (item, result)
        });
    }
    let mut out = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let Ok(done) = joined else { continue };
        out.push(done);
    }
    out
}

/// What to read of one bucket.
#[derive(Debug, Clone, Default)]
struct BucketRead {
    /// The documents the manifest manages: the diff needs them, so failing to read one fails the plan.
    managed: Vec<DocKind>,
    /// The documents it leaves out: read only so the findings judge what AWS has there. A refusal is a
    /// warning (see [`unread_tolerated`]), never a failure, and nothing of them is ever changed.
    unmanaged: Vec<DocKind>,
}

/// A document the manifest leaves out that AWS would not let the plan read.
#[derive(Debug)]
struct Unread {
    bucket: String,
    kind: DocKind,
    error: AwsError,
}

/// Reads buckets concurrently, at most `concurrency` buckets at once, each with the retry policy: the
/// bucket's region, then one call per document (managed and unmanaged ones all at once). Unmanaged
/// documents AWS refuses to show come back as [`Unread`]s.
///
/// One paginated ListBuckets comes first: where it names a bucket with its `BucketRegion` (AWS since
/// late 2024), that bucket is read in that region without a GetBucketLocation call. A bucket the
/// listing does not name (not created yet, or another account's), or names without a region (older
/// endpoints, moto 5.1.22), is located with its own call as before; so is every bucket when the
/// listing itself fails (a caller without `s3:ListAllMyBuckets`), which costs nothing but the one
/// request.
async fn read_desired(
    aws: &Arc<Aws>,
    reads: BTreeMap<String, BucketRead>,
    concurrency: usize,
) -> Result<(BTreeMap<String, Option<ObservedBucket>>, Vec<Unread>), AwsError> {
    let regions = if reads.is_empty() {
        BTreeMap::new()
    } else {
        listed_regions(aws).await
    };
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (name, read) in reads {
        let aws = aws.clone();
        let permits = permits.clone();
        let region = regions.get(&name).cloned();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let result = read_one(&aws, &name, region.as_deref(), &read).await;
            (name, result)
        });
    }
    let mut out = BTreeMap::new();
    let mut unread = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let Ok((name, result)) = joined else { continue };
        let (live, refused) = result?;
        unread.extend(refused);
        out.insert(name, live);
    }
    unread.sort_by(|a, b| (&a.bucket, a.kind).cmp(&(&b.bucket, b.kind)));
    Ok((out, unread))
}

/// One bucket of [`read_desired`]; `listed` is its region when ListBuckets gave it.
async fn read_one(
    aws: &Aws,
    name: &str,
    listed: Option<&str>,
    read: &BucketRead,
) -> Result<(Option<ObservedBucket>, Vec<Unread>), AwsError> {
    if read.unmanaged.is_empty() {
        let live = retry::read(|| aws::read::read_managed_in(aws, name, listed, &read.managed)).await?;
        return Ok((live, Vec::new()));
    }
    // The region first (the listing's, else a location call, which also says whether the bucket
    // exists), then every document at once.
    let located = match listed {
        Some(region) => region.to_string(),
        None => match retry::read(|| aws::read::read_bucket(aws, name, &[])).await? {
            Some(located) => located.region,
            None => return Ok((None, Vec::new())),
        },
    };
    let region = located.as_str();
    let unmanaged = read
        .unmanaged
        .iter()
        .map(|&kind| async move { (kind, retry::read(|| aws::read::read_doc(aws, name, region, kind)).await) });
    let (live, unmanaged) = tokio::join!(
        retry::read(|| aws::read::read_managed_in(aws, name, Some(region), &read.managed)),
        futures_util::future::join_all(unmanaged)
    );
    let Some(mut live) = live? else {
        return Ok((None, Vec::new()));
    };
    let mut unread = Vec::new();
    for (kind, result) in unmanaged {
        match result {
            Ok(doc) => {
                live.docs.insert(kind, doc);
            }
            // Deleted between the location call and the reads: gone, as the managed read says.
            Err(e) if e.code() == Some("NoSuchBucket") => return Ok((None, Vec::new())),
            Err(error) if unread_tolerated(&error) => unread.push(Unread {
                bucket: name.to_string(),
                kind,
                error,
            }),
            Err(e) => return Err(e),
        }
    }
    Ok((Some(live), unread))
}

/// Whether failing to read a document the manifest leaves out is only a warning: the caller lacks
/// the read permission (plans used to need only the managed documents' ones), or an S3-compatible
/// server does not implement that configuration at all.
fn unread_tolerated(error: &AwsError) -> bool {
    match error {
        AwsError::AccessDenied { .. } => true,
        AwsError::Service { code, status, .. } => code == "NotImplemented" || *status == 501,
        _ => false,
    }
}

/// One warning per refused permission (or unsupported operation), naming every document it left
/// unjudged, instead of one per bucket.
fn unread_warnings(desired: &[crate::model::DesiredBucket], unread: &[Unread], environment: &str) -> Vec<String> {
    let mut by_cause: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for u in unread {
        let logical = desired
            .iter()
            .find(|b| b.name == u.bucket)
            .map_or(u.bucket.as_str(), |b| b.logical.as_str());
        let cause = match &u.error {
            AwsError::AccessDenied {
                operation,
                action,
                caller,
                message,
                ..
            } => {
                let said = if message.is_empty() {
                    String::new()
                } else {
                    format!("; AWS said: {message}")
                };
                format!(
                    "{action} was denied ({operation}): grant {action} on these buckets to {caller} so plan can judge the settings the manifest leaves out (`s3rec doctor -e {environment} --print-policy` includes it){said}"
                )
            }
            other => format!("{other}; the server cannot show these settings, so they are not judged"),
        };
        by_cause
            .entry(cause)
            .or_default()
            .push(Address::bucket_doc(logical, u.kind).0);
    }
    by_cause
        .into_iter()
        .map(|(cause, addresses)| {
            format!(
                "{} (not in the manifest) not read, so no findings on {}: {cause}",
                addresses.join(", "),
                if addresses.len() == 1 { "it" } else { "them" }
            )
        })
        .collect()
}

/// The region of every bucket of the account that ListBuckets names with one; empty when the listing
/// fails, so that every bucket falls back to its own location call.
async fn listed_regions(aws: &Arc<Aws>) -> BTreeMap<String, String> {
    match retry::read(|| aws::read::list_buckets(aws)).await {
        Ok(listed) => listed.into_iter().filter_map(|b| Some((b.name, b.region?))).collect(),
        Err(err) => {
            tracing::debug!("ListBuckets failed, locating each bucket instead: {err}");
            BTreeMap::new()
        }
    }
}

/// Reads `(name, region if known, kinds)` concurrently, at most `concurrency` at once, each with the
/// retry policy; a known region saves the location call.
async fn read_concurrently(
    aws: &Arc<Aws>,
    reads: Vec<(String, Option<String>, Vec<DocKind>)>,
    concurrency: usize,
) -> Result<BTreeMap<String, Option<ObservedBucket>>, AwsError> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (name, region, kinds) in reads {
        let aws = aws.clone();
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let result = retry::read(|| aws::read::read_bucket_in(&aws, &name, region.as_deref(), &kinds)).await;
            (name, result)
        });
    }
    let mut out = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let Ok((name, result)) = joined else { continue };
        out.insert(name, result?);
    }
    Ok(out)
}

/// Every physical bucket name some environment of the project manages: in its manifest, or in its
/// state (a bucket removed from a manifest without `prune` is still that environment's). `state` is
/// this workspace's own state, already read; other environments' states are read as their readers do:
/// the local file when present, and with the S3 backend the working copy refreshed from the remote
/// state first (one conditional GET), so a bucket another checkout applied counts as managed here too.
pub async fn managed_everywhere(aws: &Aws, ws: &Workspace, state: &StateDb) -> Result<BTreeSet<String>, PlanError> {
    let mut names = BTreeSet::new();
    let add_state = |names: &mut BTreeSet<String>, db: &StateDb| -> Result<(), StateError> {
        for r in db.resources()? {
            if matches!(r.value, Value::Bucket { .. } | Value::Doc(_)) {
                names.insert(r.name);
            }
        }
        Ok(())
    };
    add_state(&mut names, state)?;
    let envs = crate::manifest::load::list_environments(&ws.root)
        .map_err(|e| PlanError::Discovery(format!("cannot list the environments: {e}")))?;
    for path in envs {
        let loaded = load(&path);
        let Some(manifest) = loaded.manifest.clone() else {
            return Err(PlanError::Discovery(format!(
                "cannot tell which buckets {} manages: it is not valid (`s3rec validate --all` shows why)",
                loaded.sources_display()
            )));
        };
        names.extend(manifest.buckets.values().map(|b| b.name.clone()));
        // The bucket an environment keeps its state in is the project's, not something to adopt.
        if manifest.state.backend == StateBackend::S3 {
            names.extend(manifest.state.bucket.clone());
        }
        if manifest.environment == ws.environment() {
            continue;
        }
        let other = Workspace {
            root: ws.root.clone(),
            manifest_sha256: manifest_digest(&loaded),
            loaded,
            manifest,
        };
        if other.remote(aws).is_some() {
            let db = other.read_state(aws).await.map_err(|e| {
                PlanError::Discovery(format!(
                    "cannot tell which buckets environment {} manages: its state in S3 cannot be read: {e}",
                    other.environment()
                ))
            })?;
            add_state(&mut names, &db)?;
            continue;
        }
        let path = other.state_path();
        if path.is_file() {
            add_state(&mut names, &StateDb::open(&path)?)?;
        }
    }
    Ok(names)
}

/// Buckets that environments other than this one manage (their manifests and states): what
/// `import --prefix`/`--all` passes over.
pub async fn managed_by_other_environments(
    aws: &Aws,
    ws: &Workspace,
    state: &StateDb,
) -> Result<BTreeSet<String>, PlanError> {
    let everywhere = managed_everywhere(aws, ws, state).await?;
    let mut own: BTreeSet<String> = ws.manifest.buckets.values().map(|b| b.name.clone()).collect();
    own.extend(state.resources()?.into_iter().map(|r| r.name));
    Ok(everywhere.difference(&own).cloned().collect())
}

/// The account's buckets that no environment manages, each with its region, creation date and
/// findings: one ListBuckets, then the [`unmanaged::FINDING_KINDS`] documents of each such bucket
/// (and its location when the listing does not give the region).
pub async fn unmanaged_buckets(
    ws: &Workspace,
    conn: &Connection,
    state: &StateDb,
    concurrency: usize,
) -> Result<Vec<unmanaged::Unmanaged>, PlanError> {
    let managed = managed_everywhere(&conn.aws, ws, state).await?;
    let listed = retry::read(|| aws::read::list_buckets(&conn.aws)).await?;
    let names = unmanaged::unmanaged_names(listed.iter().map(|b| b.name.as_str()), &managed);
    let wanted: Vec<&aws::read::ListedBucket> = listed.iter().filter(|b| names.contains(&b.name)).collect();
    let live = read_listed(&conn.aws, &wanted, &unmanaged::FINDING_KINDS, concurrency).await?;
    Ok(wanted
        .iter()
        .filter_map(|b| {
            let live = live.get(&b.name)?.as_ref()?;
            Some(unmanaged::Unmanaged {
                name: b.name.clone(),
                region: live.region.clone(),
                created: b.created.clone(),
                findings: live.docs.values().filter_map(unmanaged::finding).collect(),
            })
        })
        .collect())
}

/// Reads listed buckets concurrently, each through its listed region when the listing had one (no
/// location call then), with the retry policy.
pub async fn read_listed(
    aws: &Arc<Aws>,
    buckets: &[&aws::read::ListedBucket],
    kinds: &[DocKind],
    concurrency: usize,
) -> Result<BTreeMap<String, Option<ObservedBucket>>, AwsError> {
    let reads = buckets
        .iter()
        .map(|b| (b.name.clone(), b.region.clone(), kinds.to_vec()))
        .collect();
    read_concurrently(aws, reads, concurrency).await
}

/// `import --with-related`: reads the IAM and SNS resources that `buckets` name, then those that these
/// name in turn (attached policies, trusted identities), until nothing new is named; each resource once,
/// at most `concurrency` at once, with the retry policy. ARNs the manifest cannot hold (another account,
/// an AWS-managed policy, a queue) are not read.
pub async fn read_related(
    aws: &Arc<Aws>,
    account: &str,
    buckets: &[ObservedBucket],
    concurrency: usize,
) -> Result<related::Related, AwsError> {
    let default_region = aws.region().to_string();
    let mut out = related::Related::default();
    let mut named = related::named_by_buckets(buckets);
    loop {
        let mut wanted = Vec::new();
        for arn in named {
            if out.live.contains_key(&arn) || out.unreadable.contains_key(&arn) {
                continue;
            }
            match related::parse_arn(&arn, account, &default_region) {
                Ok(w) => wanted.push(w),
                Err(why) => {
                    out.unreadable.insert(arn, why);
                }
            }
        }
        if wanted.is_empty() {
            return Ok(out);
        }
        named = BTreeSet::new();
        for (wanted, result) in read_identity_targets(aws, wanted, concurrency, wanted_target).await {
            let observed = result?;
            if let Some(o) = &observed {
                named.extend(related::named_by_identity(o));
            }
            out.live
                .insert(wanted.arn.clone(), related::LiveIdentity { wanted, observed });
        }
    }
}

/// Where import reads a resource the imported buckets name.
fn wanted_target(w: &related::Wanted) -> aws::identity::Target<'_> {
    aws::identity::Target {
        kind: w.kind,
        name: &w.name,
        arn: &w.arn,
        region: &w.region,
    }
}

/// Keeps the targeted changes and everything they depend on, as `terraform plan -target` does.
fn limit_to_targets(
    changes: Vec<Change>,
    edges: Vec<Edge>,
    targets: &[String],
    known: &HashSet<String>,
) -> Result<(Vec<Change>, Vec<Edge>), PlanError> {
    let mut keep: HashSet<Address> = HashSet::new();
    for t in targets {
        if !known.iter().any(|k| Address(k.clone()).within(t)) {
            return Err(PlanError::UnknownTarget(t.clone()));
        }
        keep.extend(
            changes
                .iter()
                .filter(|c| c.address.within(t))
                .map(|c| c.address.clone()),
        );
    }
    // Pull in dependencies until nothing changes.
    loop {
        let before = keep.len();
        for e in &edges {
            if keep.contains(&e.after) {
                keep.insert(e.before.clone());
            }
        }
        if keep.len() == before {
            break;
        }
    }
    let changes: Vec<Change> = changes.into_iter().filter(|c| keep.contains(&c.address)).collect();
    let edges = edges
        .into_iter()
        .filter(|e| keep.contains(&e.before) && keep.contains(&e.after))
        .collect();
    Ok((changes, edges))
}

/// The live value a change was planned against, read again now; used to refuse stale saved plans.
pub async fn current_value(aws: &Aws, change: &Change) -> Result<Option<Value>, AwsError> {
    match &change.resource {
        crate::plan::Resource::Bucket { name, .. } => {
            Ok(aws::read::read_bucket(aws, name, &[]).await?.map(|b| Value::Bucket {
                name: b.name,
                region: b.region,
            }))
        }
        crate::plan::Resource::BucketDoc { bucket, kind, .. } => {
            let live = aws::read::read_bucket(aws, bucket, &[*kind]).await?;
            Ok(live.and_then(|mut b| b.docs.remove(kind)).map(Value::Doc))
        }
        crate::plan::Resource::Identity {
            kind,
            name,
            arn,
            region,
            part,
            ..
        } => {
            let target = aws::identity::Target {
                kind: *kind,
                name,
                arn,
                region,
            };
            let Some(mut live) = aws::identity::read(aws, target).await? else {
                return Ok(None);
            };
            Ok(match part {
                None => Some(Value::Identity(live.main)),
                Some(p) => live
                    .parts
                    .remove(p)
                    .or_else(|| IdentityDoc::unconfigured(*p))
                    .map(Value::Identity),
            })
        }
    }
}

/// Whether a change still applies to what is live: its `before` equals the live value. No-ops never go
/// stale; an adoption does (what it would record is no longer what AWS has).
pub fn is_current(change: &Change, live: &Option<Value>) -> bool {
    change.action == Action::NoOp || change.before == *live
}
