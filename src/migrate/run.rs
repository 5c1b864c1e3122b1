//! One migration end to end: scan → restore → wait → download → verify → delete, every step recorded
//! in the inventory as it happens, so a run that stops anywhere (killed, a restore still hours away,
//! a network failure) is continued by the next one without repeating finished work.
//!
//! Downloads use the adapter's streaming GET (`aws::archive`), bounded like sync's uploads. Each one is
//! written to a temporary name inside the destination, recorded as `downloaded`, verified from disk,
//! and only then moved to its final name and recorded as `verified`. A file found in place under its
//! final name while the inventory says `pending` (a run killed between the rename and the record) is
//! verified from disk and adopted instead of being downloaded again.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::local;
use super::scan;
use super::spec::MigrationSpec;
use super::status::{self, Tally};
use super::verify::{self, Mismatch};
use super::{Expected, StoredChecksum};
use crate::aws::archive::{self, Download, DownloadError, RestoreRequest, RestoreState};
use crate::aws::{Aws, AwsError, transfer};
use crate::interrupt;
use crate::manifest::types::{DeleteSource, VerifyMode};
use crate::state::StateError;
use crate::state::inventory::{Inventory, ObjectRow, Restore, Status};
use crate::state::time::now_rfc3339;
use crate::words::{counted, is_are};

/// Downloads in flight at once. Downloads are bound by the network, not the disk; 16 keeps a fast link
/// busy without opening hundreds of connections.
pub const DOWNLOADS: usize = 16;

/// HEAD and RestoreObject calls in flight at once: small requests, so more of them.
const REQUESTS: usize = 32;

/// How many times one download continues after its body broke off (or its connection failed) within a
/// run, and the backoff between: 0.2 s doubling to 5 s, about 20 s in all.
pub(crate) const RESUMES: u32 = 6;
pub(crate) const RESUME_DELAY: Duration = Duration::from_millis(200);
pub(crate) const RESUME_DELAY_MAX: Duration = Duration::from_secs(5);

/// Why a migration could not run at all (as opposed to single objects failing).
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Aws(Box<AwsError>),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("migration `{migration}` reads bucket {bucket}, which does not exist")]
    NoBucket { migration: String, bucket: String },
    #[error("the destination {} cannot be used: {source}: check that it exists (or can be created) and is writable", path.display())]
    Destination { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Space(#[from] local::SpaceError),
}

impl From<AwsError> for MigrateError {
    fn from(e: AwsError) -> Self {
        MigrateError::Aws(Box::new(e))
    }
}

/// How far a run goes.
#[derive(Debug, Clone)]
pub struct Options {
    /// Keep polling restores (with backoff) until every archived object is downloaded, instead of
    /// returning once nothing more can be done now.
    pub wait: bool,
    /// The first wait between restore polls; it doubles up to `poll_max`.
    pub poll: Duration,
    pub poll_max: Duration,
    /// List the source again even though a complete scan exists (objects written since are added).
    pub rescan: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            wait: false,
            poll: Duration::from_secs(60),
            poll_max: Duration::from_secs(15 * 60),
            rescan: false,
        }
    }
}

/// Progress reporting, so the engine stays free of terminal concerns.
pub trait Progress: Send + Sync {
    /// A step starts (`scanning`, `restoring 12`, `downloading 40 objects`), with the bytes it moves.
    fn step(&self, migration: &str, what: &str, bytes: u64);
    /// Bytes arrived.
    fn bytes(&self, n: u64);
    /// A step finished.
    fn done(&self);
}

/// Asks the operator to confirm the delete of `count` versions (`bytes` bytes) from the spec's bucket:
/// `Some(how)` (`terminal`, `flag`) when confirmed, `None` when not.
pub type Confirm<'a> = &'a (dyn Fn(&MigrationSpec, usize, u64) -> Option<String> + Sync);

/// What one migration's run did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub migration: String,
    pub bucket: String,
    /// Versions a rescan added, or the first scan found.
    pub scanned: Option<scan::Merged>,
    pub restores_requested: usize,
    pub downloaded: usize,
    pub downloaded_bytes: u64,
    /// Files found in place and verified from disk instead of downloaded.
    pub adopted: usize,
    pub verified: usize,
    pub deleted: usize,
    /// (key, why) of objects that failed this run.
    pub failed: Vec<(String, String)>,
    /// (key, why) of keys that get no local file.
    pub refused: Vec<(String, String)>,
    /// Why the delete phase did not run, when the manifest asks for one.
    pub delete_held: Option<String>,
    pub tally: Tally,
    pub phase: Option<status::Phase>,
    pub duration: Duration,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.refused.is_empty()
    }
}

/// Shared by the tasks of one run.
struct Ctx {
    aws: Arc<Aws>,
    inv: Arc<Inventory>,
    spec: Arc<MigrationSpec>,
}

impl Ctx {
    fn save(&self, rows: &[&ObjectRow]) -> Result<(), StateError> {
        self.inv.save(&self.spec.name, &self.spec.bucket, rows)
    }
}

/// Runs one migration as far as it can go.
pub async fn run(
    aws: &Arc<Aws>,
    inv: &Arc<Inventory>,
    spec: &MigrationSpec,
    opts: &Options,
    progress: &Arc<dyn Progress>,
    confirm: Confirm<'_>,
) -> Result<Outcome, MigrateError> {
    let started = std::time::Instant::now();
    let ctx = Ctx {
        aws: aws.clone(),
        inv: inv.clone(),
        spec: Arc::new(spec.clone()),
    };
    let mut outcome = Outcome {
        migration: spec.name.clone(),
        bucket: spec.bucket.clone(),
        ..Outcome::default()
    };
    std::fs::create_dir_all(&spec.destination).map_err(|source| MigrateError::Destination {
        path: spec.destination.clone(),
        source,
    })?;
    // The partial directory is created with the same symlink checks as every other directory: a link
    // planted there would otherwise redirect every download.
    local::ensure_partial_dir(&spec.destination).map_err(|e| MigrateError::Destination {
        path: spec.destination.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;

    let scanned = inv
        .bucket(&spec.name, &spec.bucket)?
        .and_then(|b| b.scanned_at)
        .is_some();
    let mut rows = if scanned && !opts.rescan {
        inv.objects(&spec.name, &spec.bucket)?
    } else {
        let (rows, merged) = scan(&ctx, progress).await?;
        outcome.scanned = Some(merged);
        rows
    };

    // Objects that failed a step in this run are not tried again until the next run: with `--wait`, a
    // refused restore or a broken download would otherwise be repeated at every poll.
    let mut gave_up = vec![false; rows.len()];
    let mut backoff = opts.poll;
    loop {
        outcome.restores_requested += request_restores(&ctx, &mut rows, &mut gave_up, &mut outcome).await?;
        poll_restores(&ctx, &mut rows, &mut gave_up, &mut outcome).await?;
        download_ready(&ctx, &mut rows, &mut gave_up, &mut outcome, progress).await?;
        if interrupt::requested().is_some() {
            break;
        }
        let waiting = rows.iter().zip(&gave_up).any(|(r, &gave_up)| {
            !gave_up && matches!(r.restore, Restore::Needed | Restore::Requested) && wants_download(r)
        });
        if !waiting || !opts.wait {
            break;
        }
        tracing::info!(
            "migration {}: waiting {}s for restores to finish",
            spec.name,
            backoff.as_secs_f64()
        );
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = interrupt::wait() => break,
        }
        backoff = (backoff * 2).min(opts.poll_max);
    }

    // A stopped run deletes nothing: the operator asked it to stop, not to finish.
    if spec.delete_source != DeleteSource::Never && interrupt::requested().is_none() {
        delete_phase(&ctx, &mut rows, &mut outcome, confirm, progress.as_ref()).await?;
    }

    outcome.refused = rows
        .iter()
        .filter(|r| r.status == Status::Refused)
        .map(|r| (r.key.clone(), r.refused.clone().unwrap_or_default()))
        .collect();
    outcome.tally = status::tally(&rows, spec.delete_source);
    outcome.phase = Some(status::phase(&outcome.tally, true, spec.delete_source));
    if outcome.phase == Some(status::Phase::Done) {
        // A finished migration leaves only its files: no download is unfinished any more. Failing to
        // tidy up loses nothing, so it is only a warning.
        match local::clear_partials(&spec.destination) {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                "migration {}: removed {n} unfinished download(s) it no longer needs",
                spec.name
            ),
            Err(e) => tracing::warn!(
                "migration {}: could not remove its unfinished downloads under {}: {e}",
                spec.name,
                local::partial_dir(&spec.destination).display()
            ),
        }
    }
    outcome.duration = started.elapsed();
    Ok(outcome)
}

/// Whether a row still needs its content brought down.
fn wants_download(row: &ObjectRow) -> bool {
    !row.delete_marker
        && row.local_path.is_some()
        && matches!(
            row.status,
            Status::Pending | Status::Mismatch | Status::Failed | Status::Downloaded
        )
}

/// Every listed version (and delete marker) the migration covers, as new inventory rows.
async fn list_covered(aws: &Aws, spec: &MigrationSpec) -> Result<Vec<ObjectRow>, AwsError> {
    let mut listed = Vec::new();
    archive::for_each_version(
        aws,
        &spec.bucket,
        &spec.region,
        &spec.prefix,
        archive::VERSIONS_PAGE,
        |v| {
            if scan::covered(spec.versions, v.is_latest, v.delete_marker) {
                listed.push(ObjectRow {
                    status: if v.delete_marker {
                        Status::Marker
                    } else {
                        Status::Pending
                    },
                    key: v.key,
                    version_id: v.version_id,
                    is_latest: v.is_latest,
                    delete_marker: v.delete_marker,
                    size: v.size,
                    etag: v.etag,
                    last_modified_ms: v.last_modified_ms,
                    storage_class: v.storage_class,
                    ..ObjectRow::default()
                });
            }
        },
    )
    .await?;
    Ok(listed)
}

/// Lists every version under the prefix, merges the listing with the earlier inventory and records
/// the result as one transaction.
async fn scan(ctx: &Ctx, progress: &Arc<dyn Progress>) -> Result<(Vec<ObjectRow>, scan::Merged), MigrateError> {
    let spec = &ctx.spec;
    progress.step(&spec.name, "scanning", 0);
    let listing = list_covered(&ctx.aws, spec).await;
    progress.done();
    let listed = match listing {
        Err(e) if e.code() == Some("NoSuchBucket") => {
            return Err(MigrateError::NoBucket {
                migration: spec.name.clone(),
                bucket: spec.bucket.clone(),
            });
        }
        other => other?,
    };
    let case_insensitive = local::case_insensitive(&spec.destination).map_err(|source| MigrateError::Destination {
        path: spec.destination.clone(),
        source,
    })?;
    let old = ctx.inv.objects(&spec.name, &spec.bucket)?;
    let (rows, merged) = scan::merge(old, listed, &spec.prefix, spec.versions, case_insensitive);
    ctx.inv
        .record_scan(&spec.name, &spec.bucket, &spec.prefix, spec.versions_name(), &rows)?;
    Ok((rows, merged))
}

/// Requests restores for archived objects, keeping at most `max_in_flight` outstanding.
async fn request_restores(
    ctx: &Ctx,
    rows: &mut [ObjectRow],
    gave_up: &mut [bool],
    outcome: &mut Outcome,
) -> Result<usize, MigrateError> {
    let spec = &ctx.spec;
    let in_flight = rows.iter().filter(|r| r.restore == Restore::Requested).count();
    let room = spec.max_in_flight.saturating_sub(in_flight);
    let wanted: Vec<usize> = (0..rows.len())
        .filter(|&i| !gave_up[i] && rows[i].restore == Restore::Needed && wants_download(&rows[i]))
        .take(room)
        .collect();
    if wanted.is_empty() {
        return Ok(0);
    }
    let permits = Arc::new(Semaphore::new(REQUESTS));
    let mut tasks = JoinSet::new();
    for i in wanted {
        let (aws, spec, permits) = (ctx.aws.clone(), ctx.spec.clone(), permits.clone());
        let (key, version, class) = (
            rows[i].key.clone(),
            rows[i].version_id.clone(),
            rows[i].storage_class.clone(),
        );
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            // Intelligent-Tiering archive tiers take no Days: the object returns to the frequent
            // tier instead of getting a temporary copy.
            let days = (class != "INTELLIGENT_TIERING").then_some(spec.days);
            let tier = spec.tier_for(&class);
            let result = archive::restore_version(&aws, &spec.bucket, &spec.region, &key, &version, days, tier).await;
            (i, result)
        });
    }
    let mut requested = 0;
    let mut changed = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let Ok((i, result)) = joined else { continue };
        let row = &mut rows[i];
        match result {
            Ok(RestoreRequest::Started | RestoreRequest::InProgress) => {
                row.restore = Restore::Requested;
                row.restore_at = Some(now_rfc3339());
                row.error = None;
                requested += 1;
            }
            Ok(RestoreRequest::AlreadyRestored) => {
                row.restore = Restore::Ready;
                row.error = None;
            }
            Err(e) if e.code() == Some(crate::aws::archive::INVALID_OBJECT_STATE) => {
                // Not archived (any more): readable as it is.
                row.restore = Restore::None;
            }
            Err(e) => {
                row.error = Some(e.to_string());
                gave_up[i] = true;
                outcome.failed.push((row.key.clone(), format!("restore request: {e}")));
            }
        }
        changed.push(i);
    }
    let refs: Vec<&ObjectRow> = changed.iter().map(|&i| &rows[i]).collect();
    ctx.save(&refs)?;
    Ok(requested)
}

/// Asks S3 (HEAD) where each requested restore stands.
async fn poll_restores(
    ctx: &Ctx,
    rows: &mut [ObjectRow],
    gave_up: &mut [bool],
    outcome: &mut Outcome,
) -> Result<(), MigrateError> {
    let asked: Vec<usize> = (0..rows.len())
        .filter(|&i| !gave_up[i] && rows[i].restore == Restore::Requested && wants_download(&rows[i]))
        .collect();
    if asked.is_empty() {
        return Ok(());
    }
    let permits = Arc::new(Semaphore::new(REQUESTS));
    let mut tasks = JoinSet::new();
    for i in asked {
        let (aws, spec, permits) = (ctx.aws.clone(), ctx.spec.clone(), permits.clone());
        let (key, version) = (rows[i].key.clone(), rows[i].version_id.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (
                i,
                archive::head_version(&aws, &spec.bucket, &spec.region, &key, &version, None).await,
            )
        });
    }
    let mut changed = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let Ok((i, result)) = joined else { continue };
        let row = &mut rows[i];
        let before = row.restore;
        match result {
            Ok(head) => match head.restore {
                RestoreState::InProgress => {}
                RestoreState::Restored { expiry } => {
                    row.restore = Restore::Ready;
                    row.restore_expiry = expiry;
                }
                // The request was lost or its copy already expired: ask again.
                RestoreState::Archived => row.restore = Restore::Needed,
                RestoreState::NotArchived => row.restore = Restore::None,
            },
            Err(e) => {
                gave_up[i] = true;
                outcome.failed.push((row.key.clone(), format!("restore status: {e}")));
            }
        }
        if row.restore != before {
            changed.push(i);
        }
    }
    let refs: Vec<&ObjectRow> = changed.iter().map(|&i| &rows[i]).collect();
    ctx.save(&refs)?;
    Ok(())
}

/// What verification needs to know about a row's object.
pub fn expected(row: &ObjectRow) -> Expected {
    let checksum = match (&row.checksum_algorithm, &row.checksum) {
        (Some(algorithm), Some(value)) => crate::checksum::from_s3_name(algorithm).map(|algorithm| StoredChecksum {
            algorithm,
            value: value.clone(),
            full_object: row.checksum_full.unwrap_or(false),
        }),
        _ => None,
    };
    Expected {
        size: row.size,
        etag: row.etag.clone(),
        part_size: row.part_size,
        checksum,
        etag_is_md5: !matches!(row.sse.as_deref(), Some("aws:kms" | "aws:kms:dsse" | "SSE-C")),
    }
}

/// The result of one object's download task.
enum Fetched {
    /// Verified and in place, with the bytes downloaded for it; `None` when it was adopted from disk
    /// (or from a finished download of an earlier run) without a download.
    Verified {
        transferred: Option<u64>,
    },
    /// A folder marker: its directory exists.
    Directory,
    /// The object is archived after all (an Intelligent-Tiering archive tier, or an expired restore).
    Archived,
    Failed(String),
}

/// Downloads and verifies every readable object that is not verified yet.
async fn download_ready(
    ctx: &Ctx,
    rows: &mut [ObjectRow],
    gave_up: &mut [bool],
    outcome: &mut Outcome,
    progress: &Arc<dyn Progress>,
) -> Result<(), MigrateError> {
    let spec = ctx.spec.clone();
    let ready: Vec<usize> = (0..rows.len())
        .filter(|&i| {
            !gave_up[i] && wants_download(&rows[i]) && matches!(rows[i].restore, Restore::None | Restore::Ready)
        })
        .collect();
    if ready.is_empty() {
        return Ok(());
    }
    let bytes: u64 = ready.iter().map(|&i| rows[i].size).sum();
    // Files already in place with their size (adopted after a verification from disk) need no room.
    let needed: u64 = ready
        .iter()
        .filter(|&&i| {
            let target = rows[i]
                .local_path
                .as_deref()
                .map(|rel| local::final_path(&spec.destination, rel));
            !target.is_some_and(|t| in_place(&t, rows[i].size))
        })
        .map(|&i| rows[i].size)
        .sum();
    let available = local::available_space(&spec.destination).map_err(|source| MigrateError::Destination {
        path: spec.destination.clone(),
        source,
    })?;
    local::check_space(&spec.destination, needed, available)?;

    progress.step(
        &spec.name,
        &format!("downloading {}", counted(ready.len(), "object")),
        bytes,
    );
    let mut tasks = JoinSet::new();
    let mut queue = ready.into_iter();
    let mut stop = interrupt::Stop::new();
    loop {
        while tasks.len() < DOWNLOADS && stop.may_start() {
            let Some(i) = queue.next() else { break };
            let row = rows[i].clone();
            let (aws, inv, spec) = (ctx.aws.clone(), ctx.inv.clone(), ctx.spec.clone());
            let progress = progress.clone();
            tasks.spawn(async move {
                let ctx = Ctx { aws, inv, spec };
                let mut row = row;
                let counter = move |n: u64| progress.bytes(n);
                let fetched = fetch(&ctx, &mut row, &counter).await;
                (i, row, fetched)
            });
        }
        // After a signal, downloads in flight may finish until the drain deadline; past it they are
        // abandoned and resume from their partial files next time.
        let Some(Some(joined)) = stop.guard(tasks.join_next()).await else {
            break;
        };
        let Ok((i, row, fetched)) = joined else {
            outcome
                .failed
                .push(("a download task".to_string(), "stopped unexpectedly".to_string()));
            continue;
        };
        rows[i] = row;
        match fetched {
            Ok(Fetched::Verified { transferred }) => {
                outcome.verified += 1;
                match transferred {
                    Some(bytes) => {
                        outcome.downloaded += 1;
                        outcome.downloaded_bytes += bytes;
                    }
                    None => outcome.adopted += 1,
                }
            }
            Ok(Fetched::Directory) => outcome.verified += 1,
            Ok(Fetched::Archived) => {}
            Ok(Fetched::Failed(why)) => {
                gave_up[i] = true;
                outcome.failed.push((rows[i].key.clone(), why));
            }
            Err(e) => return Err(e.into()),
        }
    }
    progress.done();
    Ok(())
}

/// One object: adopt the file already in place, or download to the partial name (at most twice when
/// verification fails), verify, and move into place. Every state change is saved as it happens.
async fn fetch(ctx: &Ctx, row: &mut ObjectRow, counter: &(dyn Fn(u64) + Send + Sync)) -> Result<Fetched, StateError> {
    let spec = &ctx.spec;
    let Some(rel) = row.local_path.clone() else {
        return Ok(Fetched::Failed("the key has no local path".to_string()));
    };
    if local::is_dir(&rel) {
        return Ok(match local::ensure_dir(&spec.destination, &rel) {
            Ok(_) => {
                mark_verified(row, "directory");
                ctx.save(&[row])?;
                Fetched::Directory
            }
            Err(e) => fail(ctx, row, e.to_string())?,
        });
    }
    let target = local::final_path(&spec.destination, &rel);
    let partial = local::partial_path(&spec.destination, &spec.bucket, &row.key, &row.version_id);

    // A download that finished before the previous run stopped is verified, not repeated.
    if row.status == Status::Downloaded && partial.is_file() {
        match check(&partial, row, spec.verify).await {
            Ok(method) => return place(ctx, row, &rel, &partial, method, None),
            Err(_) => {
                let _ = std::fs::remove_file(&partial);
                row.status = Status::Pending;
            }
        }
    }
    // A file already in place (the previous run was killed between the rename and the record) is
    // adopted when it verifies. A `mismatch` row's file is known to be bad: never adopted.
    if matches!(row.status, Status::Pending | Status::Failed) && in_place(&target, row.size) {
        learn_part_size(ctx, row).await;
        if let Ok(method) = check(&target, row, spec.verify).await {
            mark_verified(row, &method);
            ctx.save(&[row])?;
            return Ok(Fetched::Verified { transferred: None });
        }
    }

    // A download an earlier run lost part way (killed, or the connection dropped) continues where its
    // partial file ends; the verification of the whole file afterwards decides whether the pieces fit,
    // and a mismatch downloads it again from the start.
    let mut offset = if row.status == Status::Mismatch {
        0
    } else {
        resume_offset(&partial, row.size)
    };
    let mut transferred = 0;
    // A body cut off part way, or a connection that failed after the SDK's own retries, is resumed
    // from what arrived, within this run, up to `RESUMES` times with backoff; a download that does not
    // verify is repeated once from the start.
    let mut resumes = 0;
    let mut delay = RESUME_DELAY;
    let mut mismatched = false;
    if offset > 0 {
        tracing::info!("{}: resuming the download at byte {offset}", row.key);
        // Progress counts the object's whole size; an earlier run brought these bytes.
        counter(offset);
    }
    loop {
        row.attempts += 1;
        let download = Download {
            bucket: &spec.bucket,
            region: &spec.region,
            key: &row.key,
            version_id: &row.version_id,
            etag: &row.etag,
            path: &partial,
            offset,
        };
        match archive::download_version(&ctx.aws, &download, counter).await {
            Ok(mut got) => {
                transferred += got.transferred;
                if offset > 0 && got.checksum.is_none() {
                    // A ranged answer carries no checksum of the whole object; HEAD tells it.
                    if let Ok(head) =
                        archive::head_version(&ctx.aws, &spec.bucket, &spec.region, &row.key, &row.version_id, None)
                            .await
                    {
                        got.checksum = head.checksum;
                        got.sse = got.sse.or(head.sse);
                    }
                }
                row.checksum_algorithm = got
                    .checksum
                    .as_ref()
                    .map(|c| crate::checksum::s3_name(c.algorithm).to_string());
                row.checksum_full = got.checksum.as_ref().map(|c| c.full_object);
                row.checksum = got.checksum.map(|c| c.value);
                row.sse = got.sse;
                row.status = Status::Downloaded;
                row.downloaded_at = Some(now_rfc3339());
                ctx.save(&[row])?;
            }
            Err(DownloadError::Archived { .. }) => {
                row.restore = Restore::Needed;
                row.status = Status::Pending;
                ctx.save(&[row])?;
                return Ok(Fetched::Archived);
            }
            Err(DownloadError::Changed { .. }) => {
                let _ = std::fs::remove_file(&partial);
                return fail(
                    ctx,
                    row,
                    "the object changed or was deleted since the scan: run `s3rec migrate run --rescan`".to_string(),
                );
            }
            Err(e) if resumes < RESUMES && transient(&e) => {
                resumes += 1;
                offset = resume_offset(&partial, row.size);
                tracing::info!("{}: {e}; resuming at byte {offset} in {delay:?}", row.key);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(RESUME_DELAY_MAX);
                continue;
            }
            // The partial file stays: the next run continues it.
            Err(e) => return fail(ctx, row, e.to_string()),
        }
        learn_part_size(ctx, row).await;
        match check(&partial, row, spec.verify).await {
            Ok(method) => return place(ctx, row, &rel, &partial, method, Some(transferred)),
            Err(mismatch @ Mismatch::Unverifiable(_)) => {
                // Another download would be just as unverifiable.
                let _ = std::fs::remove_file(&partial);
                return fail(ctx, row, format!("cannot be verified: {mismatch}"));
            }
            Err(mismatch) => {
                let _ = std::fs::remove_file(&partial);
                if mismatched {
                    return fail(ctx, row, format!("verification failed twice: {mismatch}"));
                }
                mismatched = true;
                offset = 0;
                tracing::warn!("{}: {mismatch}; downloading it again", row.key);
            }
        }
    }
}

/// Where a download continues: the length of its partial file when that holds part of the object
/// (written by an earlier run, or by an attempt of this one that broke off), else 0.
pub(crate) fn resume_offset(partial: &std::path::Path, size: u64) -> u64 {
    match std::fs::symlink_metadata(partial) {
        Ok(m) if m.is_file() && m.len() > 0 && m.len() < size => m.len(),
        _ => 0,
    }
}

/// Whether a failed download is worth continuing at once: the body broke off, or the connection
/// failed, timed out or was throttled after the SDK's own retries.
pub(crate) fn transient(e: &DownloadError) -> bool {
    match e {
        DownloadError::Cut { .. } => true,
        DownloadError::Aws(e) => {
            matches!(
                **e,
                AwsError::Unreachable { .. } | AwsError::Timeout { .. } | AwsError::Throttled { .. }
            ) || matches!(
                e.code(),
                Some("InternalError" | "ServiceUnavailable" | "RequestTimeout")
            )
        }
        DownloadError::Archived { .. }
        | DownloadError::Changed { .. }
        | DownloadError::Body { .. }
        | DownloadError::Write { .. } => false,
    }
}

/// A multipart ETag can only be recomputed with the part size; S3 tells it through HEAD with
/// `partNumber=1`. Asked once per object, only when no full-object checksum makes it unnecessary.
async fn learn_part_size(ctx: &Ctx, row: &mut ObjectRow) {
    let multipart = row.etag.contains('-');
    let has_full_checksum = row.checksum.is_some() && row.checksum_full == Some(true);
    if !multipart || row.part_size.is_some() || has_full_checksum || ctx.spec.verify == VerifyMode::Size {
        return;
    }
    let spec = &ctx.spec;
    match archive::head_version(&ctx.aws, &spec.bucket, &spec.region, &row.key, &row.version_id, Some(1)).await {
        Ok(head) => row.part_size = head.part_length,
        // Without it, verification tries the part sizes common tools use.
        Err(e) => tracing::debug!("{}: part size unknown: {e}", row.key),
    }
}

async fn check(path: &std::path::Path, row: &ObjectRow, mode: VerifyMode) -> Result<String, Mismatch> {
    let path = path.to_path_buf();
    let expected = expected(row);
    match tokio::task::spawn_blocking(move || verify::verify_file(&path, &expected, mode)).await {
        Ok(result) => result.map(|m| m.as_str().to_string()),
        Err(e) => Err(Mismatch::Unverifiable(format!("the verification task stopped: {e}"))),
    }
}

fn place(
    ctx: &Ctx,
    row: &mut ObjectRow,
    rel: &str,
    partial: &std::path::Path,
    method: String,
    transferred: Option<u64>,
) -> Result<Fetched, StateError> {
    match local::place(&ctx.spec.destination, rel, partial) {
        Ok(_) => {
            mark_verified(row, &method);
            ctx.save(&[row])?;
            Ok(Fetched::Verified { transferred })
        }
        Err(e) => {
            let _ = std::fs::remove_file(partial);
            fail(ctx, row, e.to_string())
        }
    }
}

/// Whether `path` is a regular file (not a link) of `size` bytes: the cheap check that a local copy is
/// still what was verified, before adopting it, before counting free space, before any delete.
pub(crate) fn in_place(path: &std::path::Path, size: u64) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.len() == size)
}

fn mark_verified(row: &mut ObjectRow, method: &str) {
    row.status = Status::Verified;
    row.verified_by = Some(method.to_string());
    row.verified_at = Some(now_rfc3339());
    row.error = None;
}

fn fail(ctx: &Ctx, row: &mut ObjectRow, why: String) -> Result<Fetched, StateError> {
    row.status = Status::Failed;
    row.error = Some(why.clone());
    ctx.save(&[row])?;
    Ok(Fetched::Failed(why))
}

/// The delete phase: only with every object verified, only after confirmation, only versions that are
/// still exactly what was verified.
async fn delete_phase(
    ctx: &Ctx,
    rows: &mut [ObjectRow],
    outcome: &mut Outcome,
    confirm: Confirm<'_>,
    progress: &dyn Progress,
) -> Result<(), MigrateError> {
    let spec = &ctx.spec;
    if !status::complete(rows) {
        let left = rows
            .iter()
            .filter(|r| !r.delete_marker && !matches!(r.status, Status::Verified | Status::Deleted))
            .count();
        outcome.delete_held = Some(format!(
            "{} {} not verified yet; the source is deleted only once every object is verified",
            counted(left, "object"),
            is_are(left)
        ));
        return Ok(());
    }
    let wanted = status::deletable(rows, spec.delete_source);
    if wanted.is_empty() {
        if ctx
            .inv
            .bucket(&spec.name, &spec.bucket)?
            .and_then(|b| b.deleted_at)
            .is_none()
        {
            ctx.inv.bucket_deleted(&spec.name, &spec.bucket, "nothing to delete")?;
        }
        return Ok(());
    }
    // The local copies were verified when they were written; a file that has since gone missing or
    // changed size (a cleanup on the NAS, a full disk) makes the bucket incomplete again instead of
    // leaving its object without any copy. This costs a stat per file, so it runs before the operator
    // is asked; the content is hashed again once the delete is confirmed, below.
    let files: Vec<usize> = wanted.iter().copied().filter(|&i| has_file(&rows[i])).collect();
    let lost: Vec<(usize, String)> = files
        .iter()
        .filter(|&&i| !in_place(&file_of(spec, &rows[i]), rows[i].size))
        .map(|&i| {
            (
                i,
                "the local copy is missing or changed size since it was verified".to_string(),
            )
        })
        .collect();
    if !lost.is_empty() {
        return hold_delete(ctx, rows, lost, outcome);
    }
    let bytes: u64 = wanted.iter().map(|&i| rows[i].size).sum();
    let Some(how) = confirm(spec, wanted.len(), bytes) else {
        outcome.delete_held = Some(format!(
            "{} version(s) are verified and eligible for delete; confirm with `--confirm-delete {}`",
            wanted.len(),
            spec.bucket
        ));
        return Ok(());
    };

    // Immediately before the delete, every local copy is hashed again against what verification
    // recorded: a size check cannot see a flipped byte, and the source is about to be the only other
    // copy. Any difference holds the whole bucket's delete and sends the object back to be downloaded.
    let file_bytes: u64 = files.iter().map(|&i| rows[i].size).sum();
    progress.step(
        &spec.name,
        &format!("re-verifying {} before the delete", counted(files.len(), "file")),
        file_bytes,
    );
    let changed = recheck(spec, rows, &files, progress).await;
    progress.done();
    if !changed.is_empty() {
        return hold_delete(ctx, rows, changed, outcome);
    }

    // The listing just before the delete is the last guard: a version is deleted only if it is still
    // there with the ETag and size that were verified. Version ids never change content, but the
    // `null` version of an unversioned bucket does when the key is written again.
    let mut live: std::collections::HashMap<(String, String), (String, u64)> = std::collections::HashMap::new();
    archive::for_each_version(
        &ctx.aws,
        &spec.bucket,
        &spec.region,
        &spec.prefix,
        archive::VERSIONS_PAGE,
        |v| {
            live.insert((v.key, v.version_id), (v.etag, v.size));
        },
    )
    .await?;
    let mut batch: Vec<(String, String)> = Vec::new();
    let mut gone = Vec::new();
    for &i in &wanted {
        let row = &rows[i];
        match live.get(&(row.key.clone(), row.version_id.clone())) {
            Some((etag, size)) if *etag == row.etag && *size == row.size => {
                batch.push((row.key.clone(), row.version_id.clone()));
            }
            Some(_) => outcome.failed.push((
                row.key.clone(),
                "changed since it was verified, so it was not deleted: run `s3rec migrate run --rescan`".to_string(),
            )),
            // Someone else deleted it already; the local copy is verified, so it counts as deleted.
            None => gone.push(i),
        }
    }
    let refused = transfer::delete_versions(&ctx.aws, &spec.bucket, &spec.region, &batch).await?;
    let refused_set: std::collections::HashSet<(&str, &str)> =
        refused.iter().map(|(k, v, _)| (k.as_str(), v.as_str())).collect();
    for (key, version, why) in &refused {
        outcome
            .failed
            .push((format!("{key} (version {version})"), format!("delete: {why}")));
    }
    let now = now_rfc3339();
    let mut deleted = Vec::new();
    for &i in &wanted {
        let row = &rows[i];
        let sent = batch.iter().any(|(k, v)| *k == row.key && *v == row.version_id);
        let ok = sent && !refused_set.contains(&(row.key.as_str(), row.version_id.as_str()));
        if ok || gone.contains(&i) {
            deleted.push(i);
        }
    }
    for &i in &deleted {
        rows[i].status = Status::Deleted;
        rows[i].deleted_at = Some(now.clone());
    }
    outcome.deleted = deleted.len();
    let refs: Vec<&ObjectRow> = deleted.iter().map(|&i| &rows[i]).collect();
    ctx.save(&refs)?;
    if deleted.len() == wanted.len() {
        ctx.inv.bucket_deleted(&spec.name, &spec.bucket, &how)?;
    }
    Ok(())
}

/// Marks the rows whose local copy no longer matches (`problems`: index, why) as `mismatch`, so the
/// next run downloads them again, and holds the bucket's delete; the run reports them as failed.
fn hold_delete(
    ctx: &Ctx,
    rows: &mut [ObjectRow],
    problems: Vec<(usize, String)>,
    outcome: &mut Outcome,
) -> Result<(), MigrateError> {
    for (i, why) in &problems {
        let row = &mut rows[*i];
        row.status = Status::Mismatch;
        row.error = Some(why.clone());
        outcome.failed.push((
            row.key.clone(),
            format!("{why}: its source was kept, and the next run downloads it again"),
        ));
    }
    let refs: Vec<&ObjectRow> = problems.iter().map(|(i, _)| &rows[*i]).collect();
    ctx.save(&refs)?;
    outcome.delete_held = Some(format!(
        "{} {} missing or changed since they were verified; nothing was deleted, and the next run downloads them again",
        counted(problems.len(), "local file"),
        is_are(problems.len())
    ));
    Ok(())
}

/// Whether a row has a local file (rather than no path, or a directory for a folder marker).
fn has_file(row: &ObjectRow) -> bool {
    row.local_path.as_deref().is_some_and(|p| !local::is_dir(p))
}

/// The local file of a row with one.
fn file_of(spec: &MigrationSpec, row: &ObjectRow) -> PathBuf {
    local::final_path(&spec.destination, row.local_path.as_deref().unwrap_or_default())
}

/// Hashes the local files of `targets` again against what verification recorded, on a few blocking
/// threads, and returns every one that does not match (index, why). A check that could not finish
/// counts as a mismatch: this is what allows a delete.
async fn recheck(
    spec: &MigrationSpec,
    rows: &[ObjectRow],
    targets: &[usize],
    progress: &dyn Progress,
) -> Vec<(usize, String)> {
    let threads = std::thread::available_parallelism().map_or(4, |n| n.get()).clamp(2, 8);
    let permits = Arc::new(Semaphore::new(threads));
    let mut tasks = JoinSet::new();
    for &i in targets {
        let path = file_of(spec, &rows[i]);
        let expected = expected(&rows[i]);
        let mode = spec.verify;
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let result = tokio::task::spawn_blocking(move || verify::verify_file(&path, &expected, mode)).await;
            (i, result)
        });
    }
    let mut answered = std::collections::HashSet::with_capacity(targets.len());
    let mut problems = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let Ok((i, result)) = joined else { continue };
        answered.insert(i);
        progress.bytes(rows[i].size);
        match result {
            Ok(Ok(_)) => {}
            Ok(Err(mismatch)) => problems.push((i, mismatch.to_string())),
            Err(e) => problems.push((i, format!("the verification task stopped: {e}"))),
        }
    }
    problems.extend(
        targets
            .iter()
            .filter(|i| !answered.contains(i))
            .map(|&i| (i, "the verification task stopped".to_string())),
    );
    problems
}

/// What `migrate verify` found for one migration.
#[derive(Debug, Clone, Default)]
pub struct VerifyOutcome {
    pub migration: String,
    pub checked: usize,
    pub ok: usize,
    /// (key, why) of local copies that do not match.
    pub mismatched: Vec<(String, String)>,
}

/// Re-checks every verified (and deleted) object's local file against the inventory. A mismatch of an
/// object still in S3 is recorded as `mismatch`, so the next run downloads it again and no delete
/// happens before; a mismatch of a deleted object is reported (there is no source left to repair it).
pub async fn verify_local(
    inv: &Arc<Inventory>,
    spec: &MigrationSpec,
    progress: &dyn Progress,
) -> Result<VerifyOutcome, MigrateError> {
    let mut rows = inv.objects(&spec.name, &spec.bucket)?;
    let mut outcome = VerifyOutcome {
        migration: spec.name.clone(),
        ..VerifyOutcome::default()
    };
    let targets: Vec<usize> = (0..rows.len())
        .filter(|&i| matches!(rows[i].status, Status::Verified | Status::Deleted) && has_file(&rows[i]))
        .collect();
    let bytes: u64 = targets.iter().map(|&i| rows[i].size).sum();
    progress.step(
        &spec.name,
        &format!("verifying {}", counted(targets.len(), "file")),
        bytes,
    );
    let problems = recheck(spec, &rows, &targets, progress).await;
    outcome.checked = targets.len();
    outcome.ok = targets.len() - problems.len();
    let mut changed = Vec::new();
    for (i, why) in problems {
        let row = &mut rows[i];
        if row.status == Status::Verified {
            row.status = Status::Mismatch;
            row.error = Some(why.clone());
            changed.push(i);
            outcome.mismatched.push((row.key.clone(), why));
        } else {
            outcome.mismatched.push((
                row.key.clone(),
                format!("{why} (the source was already deleted: restore this file from another copy)"),
            ));
        }
    }
    progress.done();
    let refs: Vec<&ObjectRow> = changed.iter().map(|&i| &rows[i]).collect();
    inv.save(&spec.name, &spec.bucket, &refs)?;
    Ok(outcome)
}

/// What a migration has left, for `plan`: from the inventory once a scan is recorded; before that,
/// from a listing of the source made for the plan (nothing is recorded, and the local side is not
/// probed, so case-folding collisions are only found by the run). A source bucket that does not exist
/// yet (`source_exists` false: the plan creates it) has nothing to migrate.
pub async fn assess(
    aws: &Aws,
    inv: &Inventory,
    spec: &MigrationSpec,
    source_exists: bool,
) -> crate::plan::MigrationWork {
    let mut work = crate::plan::MigrationWork {
        migration: spec.name.clone(),
        bucket: spec.bucket.clone(),
        ..crate::plan::MigrationWork::default()
    };
    let recorded = match inv.bucket(&spec.name, &spec.bucket) {
        Ok(bucket) => bucket,
        Err(e) => {
            work.error = Some(e.to_string());
            return work;
        }
    };
    let scanned = recorded.as_ref().and_then(|b| b.scanned_at.as_ref()).is_some();
    work.counts = if scanned {
        // Counted as the rows stream out of the state: a plan never holds a large inventory.
        let mut counter = status::Counter::new(spec.delete_source);
        if let Err(e) = inv.for_each_object(&spec.name, &spec.bucket, |row| counter.add(&row)) {
            work.error = Some(e.to_string());
            return work;
        }
        counter.finish()
    } else if !source_exists {
        status::Tally::default()
    } else {
        match list_covered(aws, spec).await {
            Ok(listed) => {
                let rows = scan::merge(Vec::new(), listed, &spec.prefix, spec.versions, false).0;
                status::tally(&rows, spec.delete_source)
            }
            Err(e) => {
                work.error = Some(if e.code() == Some("NoSuchBucket") {
                    format!("bucket {} does not exist", spec.bucket)
                } else {
                    e.to_string()
                });
                return work;
            }
        }
    };
    work.phase = status::phase(&work.counts, scanned, spec.delete_source)
        .as_str()
        .to_string();
    work.scanned = scanned;
    work
}
