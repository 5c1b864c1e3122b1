//! One mapping end to end: walk the source and list the destination at once, read the index, decide,
//! then upload and delete with bounded concurrency, recording every success in the index as it goes,
//! so an interrupted run resumes where it stopped.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::compare::{self, Hashes, Indexed, RemoteEntry, SyncPlan};
use super::sorted::{self, FileRecord, ObjectRecord};
use super::spec::{Scope, SyncSpec};
use super::uploads;
use super::walk::{self, LocalFile, Skipped};
use crate::aws::transfer::{
    self, DonePart, KeyRange, Listed, RemoteObject, ResumeState, TransferError, Upload, UploadJournal,
};
use crate::aws::{Aws, AwsError};
use crate::interrupt;
use crate::state::StateError;
use crate::state::sync_index::{IndexEntry, SyncIndex};

/// Attempts per file (and per reconcile) for failures that say nothing about the file: a dropped
/// connection, throttling past the SDK's own retries, a cut-off answer. The SDK does not resend a request
/// whose connection closed after it was sent (it cannot know whether it took effect), but every step of
/// an upload is safe to repeat: a PUT replaces, a multipart upload resumes from the index, and what a
/// lost CreateMultipartUpload left behind is aborted by [`uploads::reconcile`].
const TRANSIENT_ATTEMPTS: u32 = 3;
const TRANSIENT_DELAY: Duration = Duration::from_millis(500);

/// Whether an AWS failure is worth another attempt in the same run (see [`TRANSIENT_ATTEMPTS`]). An
/// upload that vanished while being completed (`NoSuchUpload`: its answer was lost and the retry found
/// it already completed, or it was aborted) is one too: the next attempt starts a new upload.
fn transient(e: &AwsError) -> bool {
    crate::exec::retry::retryable(e)
        || e.code() == Some("NoSuchUpload")
        || matches!(
            e,
            AwsError::Unreachable { .. } | AwsError::Timeout { .. } | AwsError::BadResponse { .. }
        )
        || matches!(e, AwsError::Service { status, .. } if *status >= 500)
}

/// Index entries are written in batches of this many, one transaction each: a commit per small file
/// would cost more than its upload.
const INDEX_BATCH: usize = 512;

/// Why a mapping could not run at all (as opposed to single files failing).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Walk(#[from] walk::WalkError),
    #[error(transparent)]
    Aws(Box<AwsError>),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(
        "sync mapping `{mapping}` uploads to bucket {bucket}, which does not exist: run `s3rec apply` first (or create it)"
    )]
    NoBucket { mapping: String, bucket: String },
    #[error(
        "sorting the files and objects of sync mapping `{mapping}` in temporary files failed: {source}; point TMPDIR at a directory with free space"
    )]
    Sort { mapping: String, source: std::io::Error },
    #[error("comparing sync mapping `{mapping}` stopped before it finished: {detail}")]
    Unfinished { mapping: String, detail: String },
}

impl From<AwsError> for SyncError {
    fn from(e: AwsError) -> Self {
        SyncError::Aws(Box::new(e))
    }
}

/// A mapping's walk, listing and decision, before anything is written.
#[derive(Debug)]
pub struct Prepared {
    pub spec: SyncSpec,
    /// What the walk could not take, sorted by path.
    pub skipped: Vec<Skipped>,
    pub plan: SyncPlan,
}

impl Prepared {
    /// The mapping's work, as the plan shows it (`sync.NAME: 120 to upload (1.2 GiB), 3 to delete`).
    pub fn work(&self) -> crate::plan::SyncWork {
        crate::plan::SyncWork {
            mapping: self.spec.name.clone(),
            uploads: self.plan.uploads.len(),
            upload_bytes: self.plan.upload_bytes(),
            deletes: self.plan.deletes.len(),
            unchanged: self.plan.unchanged,
            delete_markers: self.spec.deletes_become_markers(),
            error: None,
            upload_classes: self.upload_classes(),
        }
    }

    /// The uploads grouped by their destination's region and storage class (STANDARD when the
    /// destination sets none), sorted.
    fn upload_classes(&self) -> Vec<crate::plan::UploadClass> {
        let mut groups: std::collections::BTreeMap<(&str, &str), (usize, u64)> = Default::default();
        for upload in &self.plan.uploads {
            let Some(d) = self.spec.destinations.get(upload.destination) else {
                continue;
            };
            let class = d.storage_class.as_deref().unwrap_or(crate::cost::prices::STANDARD);
            let group = groups.entry((d.region.as_str(), class)).or_default();
            group.0 += 1;
            group.1 += upload.file.size;
        }
        groups
            .into_iter()
            .map(|((region, class), (uploads, bytes))| crate::plan::UploadClass {
                region: region.to_string(),
                storage_class: class.to_string(),
                uploads,
                bytes,
            })
            .collect()
    }
}

/// Batches of walked files in flight between the walker threads and the sort, at most: the walk waits
/// rather than filling memory when sorting falls behind.
const SORT_QUEUE: usize = 64;

/// Index entries read at once while comparing.
const INDEX_PAGE: usize = 4096;

/// Walks, lists and decides. Reads only: nothing is uploaded, deleted or recorded.
///
/// The walk and the listing run at once, each into its own sort ([`sorted`]); the sorted streams and
/// the index, read in key order a page at a time, are then merged ([`compare::compare`]). Memory holds
/// the sorts' buffers, one index page and the work, whatever the size of the tree.
pub async fn prepare(aws: &Arc<Aws>, index: &Arc<SyncIndex>, spec: SyncSpec) -> Result<Prepared, SyncError> {
    let spec = Arc::new(spec);
    let scopes = spec.scopes();
    let scope_of = spec.destination_scopes(&scopes);

    // The walk: reader threads hand batches of files, with their keys, to a sort.
    let (files_tx, files_rx) = std::sync::mpsc::sync_channel::<Vec<FileRecord>>(SORT_QUEUE);
    let walking = {
        let spec = spec.clone();
        tokio::task::spawn_blocking(move || {
            let threads = std::thread::available_parallelism().map_or(4, |n| n.get()).clamp(2, 8);
            let sink = |batch: Vec<LocalFile>| {
                let records = batch.into_iter().map(|file| FileRecord::of(&spec, &scope_of, file));
                // A send fails only when the sort has gone, and then the walk's result is not used.
                let _ = files_tx.send(records.collect());
            };
            walk::walk_into(&spec, threads, &sink)
        })
    };
    let sorting_files = tokio::task::spawn_blocking(move || sorted::sort(files_rx.into_iter().flatten()));

    // The listing: every scope at once, each in key ranges where the index knows enough keys, into
    // another sort.
    let (objects_tx, objects_rx) = std::sync::mpsc::channel::<Vec<ObjectRecord>>();
    let sorting_objects = tokio::task::spawn_blocking(move || sorted::sort(objects_rx.into_iter().flatten()));
    let page = aws.list_page_size();
    let mut listings = JoinSet::new();
    for (n, scope) in scopes.iter().enumerate() {
        // Split where the index says the keys are, into ranges of one page each where the number of
        // ranges allows; a prefix of one page is one range.
        let boundaries = index.boundaries(
            &scope.bucket,
            &scope.prefix,
            spec.concurrency.min(LIST_RANGES),
            usize::try_from(page).unwrap_or(1),
        )?;
        let (aws, scope, out) = (aws.clone(), scope.clone(), objects_tx.clone());
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        listings.spawn(async move {
            let listed = list_scope(&aws, &scope, n, KeyRange::split(&boundaries), page, &out).await;
            (scope, listed)
        });
    }
    // The sort of the listing ends when the last listing lets go of its sender.
    drop(objects_tx);
    while let Some(joined) = listings.join_next().await {
        let (scope, listed) = match joined {
            Ok(done) => done,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => return Err(unfinished(&spec, &e)),
        };
        // The listing is also the existence check: one request, and one every S3-compatible server has.
        match listed {
            Err(e) if e.code() == Some("NoSuchBucket") => {
                return Err(SyncError::NoBucket {
                    mapping: spec.name.clone(),
                    bucket: scope.bucket.clone(),
                });
            }
            other => other?,
        }
    }
    let sort_failed = |source: std::io::Error| SyncError::Sort {
        mapping: spec.name.clone(),
        source,
    };
    let objects = joined(sorting_objects.await, &spec)?.map_err(sort_failed)?;
    let skipped = joined(walking.await, &spec)??;
    let files = joined(sorting_files.await, &spec)?.map_err(sort_failed)?;

    // The merge reads temporary files and the index: blocking work, off the runtime's threads.
    let pages = IndexPages::new(index.clone(), scopes.clone());
    let unreadable = walk::unreadable(&skipped, &spec.source);
    let merging = {
        let spec = spec.clone();
        tokio::task::spawn_blocking(move || {
            let (mut files_error, mut objects_error, mut index_error) = (None, None, None);
            let plan = compare::compare(
                &spec,
                &scopes,
                until_error(files, &mut files_error),
                until_error(objects, &mut objects_error),
                until_error(pages, &mut index_error),
                &unreadable,
            );
            (plan, files_error.or(objects_error), index_error)
        })
    };
    let (mut plan, sort_error, index_error) = joined(merging.await, &spec)?;
    if let Some(source) = sort_error {
        return Err(sort_failed(source));
    }
    if let Some(e) = index_error {
        return Err(e.into());
    }
    if !plan.needs_hash.is_empty() {
        // Hashing is bound by the disk and the cores, not by round trips: a few reads at once suffice.
        let readers = spec.concurrency.min(HASH_READERS);
        let paths = plan
            .needs_hash
            .iter()
            .map(|p| spec.source.join(&p.upload.file.rel))
            .collect();
        let hashes = hash_files(paths, readers).await;
        compare::settle_hashed(&mut plan, &hashes);
    }
    Ok(Prepared {
        spec: Arc::unwrap_or_clone(spec),
        skipped,
        plan,
    })
}

/// The result of a task; a panic stays one (a bug), and a task that never finished (the runtime is
/// shutting down) fails the mapping.
fn joined<T>(task: Result<T, tokio::task::JoinError>, spec: &SyncSpec) -> Result<T, SyncError> {
    match task {
        Ok(value) => Ok(value),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(unfinished(spec, &e)),
    }
}

fn unfinished(spec: &SyncSpec, e: &tokio::task::JoinError) -> SyncError {
    SyncError::Unfinished {
        mapping: spec.name.clone(),
        detail: e.to_string(),
    }
}

/// The items of `items` up to its first error, which is kept in `error`.
fn until_error<'a, T, E>(
    items: impl Iterator<Item = Result<T, E>> + 'a,
    error: &'a mut Option<E>,
) -> impl Iterator<Item = T> + 'a {
    items.map_while(move |item| match item {
        Ok(item) => Some(item),
        Err(e) => {
            *error = Some(e);
            None
        }
    })
}

/// The index entries of the scopes in (scope, key) order, read [`INDEX_PAGE`] at a time.
struct IndexPages {
    index: Arc<SyncIndex>,
    scopes: Vec<Scope>,
    scope: usize,
    /// The last key read of the current scope.
    after: String,
    page: std::vec::IntoIter<(String, IndexEntry)>,
    /// The current scope has no page left to read.
    exhausted: bool,
}

impl IndexPages {
    fn new(index: Arc<SyncIndex>, scopes: Vec<Scope>) -> IndexPages {
        IndexPages {
            index,
            scopes,
            scope: 0,
            after: String::new(),
            page: Vec::new().into_iter(),
            exhausted: false,
        }
    }
}

impl Iterator for IndexPages {
    type Item = Result<Indexed, StateError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((key, entry)) = self.page.next() {
                let scope = u32::try_from(self.scope).unwrap_or(u32::MAX);
                return Some(Ok(Indexed { scope, key, entry }));
            }
            let scope = self.scopes.get(self.scope)?;
            if self.exhausted {
                self.scope += 1;
                self.after.clear();
                self.exhausted = false;
                continue;
            }
            match self
                .index
                .entries_after(&scope.bucket, &scope.prefix, &self.after, INDEX_PAGE)
            {
                Ok(page) => {
                    self.exhausted = page.len() < INDEX_PAGE;
                    if let Some((last, _)) = page.last() {
                        self.after.clone_from(last);
                    }
                    self.page = page.into_iter();
                }
                Err(e) => {
                    self.scope = self.scopes.len();
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Files hashed at once for `compare: checksum`, at most.
const HASH_READERS: usize = 16;

/// Key ranges listed at once for one prefix, at most. A million objects at 1,000 per page is then ~63
/// round trips in a row instead of 1,000, and 16 requests in flight are far below S3's 5,500 GETs per
/// second per prefix.
const LIST_RANGES: usize = 16;

/// Listed objects on their way to the sort, sent a page at a time; the rest goes when it is dropped.
struct ToSort {
    scope: u32,
    records: Vec<ObjectRecord>,
    out: std::sync::mpsc::Sender<Vec<ObjectRecord>>,
}

impl ToSort {
    const BATCH: usize = 1000;

    fn new(scope: u32, out: std::sync::mpsc::Sender<Vec<ObjectRecord>>) -> ToSort {
        ToSort {
            scope,
            records: Vec::with_capacity(Self::BATCH),
            out,
        }
    }

    fn push(&mut self, o: RemoteObject) {
        self.records.push(ObjectRecord {
            scope: self.scope,
            key: o.key,
            remote: RemoteEntry {
                size: o.size,
                etag: o.etag,
                last_modified_ms: o.last_modified_ms,
            },
        });
        if self.records.len() >= Self::BATCH {
            self.send();
        }
    }

    fn send(&mut self) {
        let batch = std::mem::replace(&mut self.records, Vec::with_capacity(Self::BATCH));
        // The channel is unbounded (a listing callback cannot wait), and a send fails only when the
        // sort has gone because the mapping already failed.
        let _ = self.out.send(batch);
    }
}

impl Drop for ToSort {
    fn drop(&mut self) {
        if !self.records.is_empty() {
            self.send();
        }
    }
}

/// Lists one scope into the sort. The ranges are listed at once; a server that lists out of S3's order
/// cannot be split, so its listing is taken again as one range (the keys listed twice count once when
/// merging).
async fn list_scope(
    aws: &Arc<Aws>,
    scope: &Scope,
    n: u32,
    ranges: Vec<KeyRange>,
    page: i32,
    out: &std::sync::mpsc::Sender<Vec<ObjectRecord>>,
) -> Result<(), AwsError> {
    if ranges.len() > 1 {
        let mut parts = JoinSet::new();
        for range in ranges {
            let (aws, scope, out) = (aws.clone(), scope.clone(), out.clone());
            parts.spawn(async move {
                let mut to_sort = ToSort::new(n, out);
                transfer::for_each_object_in(&aws, &scope.bucket, &scope.region, &scope.prefix, &range, page, |o| {
                    to_sort.push(o)
                })
                .await
            });
        }
        let mut ordered = true;
        while let Some(joined) = parts.join_next().await {
            match joined {
                Ok(listed) => ordered &= listed? == Listed::Complete,
                // A panic is a bug and stays one; a part that never finished makes the listing partial,
                // which the single listing below completes.
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => ordered = false,
            }
        }
        if ordered {
            return Ok(());
        }
        tracing::warn!(
            bucket = scope.bucket,
            "the server lists keys out of S3's order; listing {} as one range",
            scope.bucket
        );
    }
    let mut to_sort = ToSort::new(n, out.clone());
    transfer::for_each_object(aws, &scope.bucket, &scope.region, &scope.prefix, page, |o| {
        to_sort.push(o);
    })
    .await
}

/// SHA-256 and MD5 of the files at `paths`, by position, read in parallel; unreadable files are left
/// out (they are uploaded, and the upload reports the read error).
async fn hash_files(paths: Vec<PathBuf>, concurrency: usize) -> HashMap<usize, Hashes> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (i, path) in paths.into_iter().enumerate() {
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let hashes = tokio::task::spawn_blocking(move || hash_file(&path)).await;
            (i, hashes)
        });
    }
    let mut out = HashMap::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((i, Ok(Ok(hashes)))) = joined {
            out.insert(i, hashes);
        }
    }
    out
}

/// SHA-256 and MD5 of a file, read once in 256 KiB blocks.
pub fn hash_file(path: &Path) -> std::io::Result<Hashes> {
    use md5::Digest as _;
    let mut file = std::fs::File::open(path)?;
    let mut sha = sha2::Sha256::new();
    let mut md5 = md5::Md5::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        md5.update(&buf[..n]);
    }
    use crate::model::hex;
    Ok(Hashes {
        sha256: hex(&sha.finalize()),
        md5: hex(&md5.finalize()),
    })
}

/// Progress reporting, so the engine stays free of terminal concerns.
pub trait Progress: Send + Sync {
    /// A mapping starts its transfers: how many files and bytes to upload, objects to delete.
    fn start(&self, mapping: &str, files: usize, bytes: u64, deletes: usize);
    /// A file finished (uploaded or failed), with its size.
    fn file_done(&self, bytes: u64);
    fn deleted(&self, count: usize);
    fn finish(&self);
}

/// What one mapping's run did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub mapping: String,
    pub uploaded: usize,
    pub uploaded_bytes: u64,
    pub unchanged: usize,
    pub deleted: usize,
    /// Extraneous objects not deleted because the walk could not read where they may have come from.
    pub withheld: usize,
    /// Multipart uploads s3rec had started and nothing owned (a lost answer, a killed run), aborted.
    pub aborted_uploads: usize,
    /// (file or key, error).
    pub failed: Vec<(String, String)>,
    /// Files the walk could not take (not valid UTF-8, unreadable, special files): reported, and they
    /// fail the run.
    pub skipped: Vec<String>,
    /// Symbolic links left out because the mapping does not follow links: reported, not a failure.
    pub links_skipped: usize,
    /// The signal that stopped the run: uploads in flight finished, nothing new started, nothing deleted.
    pub cancelled: Option<crate::interrupt::Signal>,
    pub duration: Duration,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty()
    }
}

/// Uploads and deletes what `prepared` decided, recording each success in the index.
pub async fn execute(aws: Arc<Aws>, index: Arc<SyncIndex>, prepared: Prepared, progress: &dyn Progress) -> Outcome {
    let started = Instant::now();
    let Prepared { spec, skipped, plan } = prepared;
    let mut outcome = Outcome {
        mapping: spec.name.clone(),
        unchanged: plan.unchanged,
        withheld: plan.withheld,
        skipped: skipped
            .iter()
            .filter(|s| s.reason != walk::SkipReason::Symlink)
            .map(ToString::to_string)
            .collect(),
        links_skipped: skipped.iter().filter(|s| s.reason == walk::SkipReason::Symlink).count(),
        ..Outcome::default()
    };
    for (rel, key) in &plan.collisions {
        outcome.failed.push((
            rel.clone(),
            format!("another file of the mapping already has the key {key}; change key_template so keys are unique"),
        ));
    }
    if let Err(e) = index.record(&spec.name, &plan.learned) {
        outcome.failed.push(("the sync index".to_string(), e.to_string()));
    }
    progress.start(&spec.name, plan.uploads.len(), plan.upload_bytes(), plan.deletes.len());

    let spec = Arc::new(spec);
    let file_permits = spec.concurrency;
    let parts = Arc::new(Semaphore::new(spec.concurrency));
    let mut running: JoinSet<(usize, Result<IndexEntry, String>)> = JoinSet::new();
    let mut pending = plan.uploads.iter().enumerate();
    let mut batch: Vec<(String, String, IndexEntry)> = Vec::new();
    let mut stop = interrupt::Stop::new();
    loop {
        while running.len() < file_permits && stop.may_start() {
            let Some((n, item)) = pending.next() else { break };
            let (aws, index, spec, parts) = (aws.clone(), index.clone(), spec.clone(), parts.clone());
            let item = item.clone();
            running.spawn(async move {
                let result = upload_one(&aws, &index, &spec, &item.file, item.destination, &item.key, &parts).await;
                (n, result)
            });
        }
        // After a signal, uploads in flight may finish until the drain deadline; past it they are
        // abandoned, and a multipart one resumes from its recorded parts next time.
        let Some(Some(joined)) = stop.guard(running.join_next()).await else {
            break;
        };
        let (n, result) = match joined {
            Ok(r) => r,
            Err(e) => {
                outcome
                    .failed
                    .push(("an upload task".to_string(), format!("stopped unexpectedly: {e}")));
                continue;
            }
        };
        let item = &plan.uploads[n];
        let file = &item.file;
        progress.file_done(file.size);
        match result {
            Ok(entry) => {
                outcome.uploaded += 1;
                outcome.uploaded_bytes += file.size;
                batch.push((
                    spec.destinations[item.destination].bucket.clone(),
                    item.key.clone(),
                    entry,
                ));
                if batch.len() >= INDEX_BATCH {
                    flush(&index, &spec.name, &mut batch, &mut outcome);
                }
            }
            Err(e) => outcome.failed.push((file.rel.clone(), e)),
        }
    }
    flush(&index, &spec.name, &mut batch, &mut outcome);
    if let Some(signal) = stop.stopped() {
        outcome.cancelled = Some(signal);
        progress.finish();
        outcome.duration = started.elapsed();
        return outcome;
    }

    // Deletes go last: a run that failed to upload a renamed file still has the old object.
    let mut by_bucket: HashMap<(String, String), Vec<String>> = HashMap::new();
    for d in &plan.deletes {
        by_bucket
            .entry((d.bucket.clone(), d.region.clone()))
            .or_default()
            .push(d.key.clone());
    }
    for ((bucket, region), keys) in by_bucket {
        match transfer::delete_objects(&aws, &bucket, &region, &keys).await {
            Ok(failures) => {
                let failed: Vec<&String> = failures.iter().map(|(k, _)| k).collect();
                let done: Vec<String> = keys.iter().filter(|k| !failed.contains(k)).cloned().collect();
                outcome.deleted += done.len();
                progress.deleted(done.len());
                if let Err(e) = index.remove(&bucket, &done) {
                    outcome.failed.push(("the sync index".to_string(), e.to_string()));
                }
                for (key, error) in failures {
                    outcome.failed.push((format!("s3://{bucket}/{key}"), error));
                }
            }
            Err(e) => outcome.failed.push((format!("deleting from {bucket}"), e.to_string())),
        }
    }
    // Last, so that every upload of this run has finished or is in the index for the next one.
    match reconcile_uploads(&aws, &index).await {
        Ok(aborted) => outcome.aborted_uploads = aborted,
        Err(e) => outcome.failed.push((
            "multipart uploads s3rec started".to_string(),
            format!("{e}; the next sync aborts the ones no run owns"),
        )),
    }
    progress.finish();
    outcome.duration = started.elapsed();
    outcome
}

/// [`uploads::reconcile`], tried again after a transient failure.
async fn reconcile_uploads(aws: &Aws, index: &SyncIndex) -> Result<usize, uploads::ReconcileError> {
    let mut attempt = 1;
    loop {
        match uploads::reconcile(aws, index).await {
            Err(uploads::ReconcileError::Aws(e)) if attempt < TRANSIENT_ATTEMPTS && transient(&e) => {
                tracing::debug!(attempt, error = %e, "reconciling multipart uploads again");
                tokio::time::sleep(TRANSIENT_DELAY * attempt).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

fn flush(index: &SyncIndex, mapping: &str, batch: &mut Vec<(String, String, IndexEntry)>, outcome: &mut Outcome) {
    if let Err(e) = index.record(mapping, batch) {
        outcome.failed.push(("the sync index".to_string(), e.to_string()));
    }
    batch.clear();
}

/// Uploads one file, resuming a multipart upload a previous run left for the same file, and trying once
/// more when the file changed while it was read.
async fn upload_one(
    aws: &Aws,
    index: &Arc<SyncIndex>,
    spec: &SyncSpec,
    file: &LocalFile,
    destination: usize,
    key: &str,
    parts: &Arc<Semaphore>,
) -> Result<IndexEntry, String> {
    let d = &spec.destinations[destination];
    let path: PathBuf = spec.source.join(&file.rel);
    let mut seen = (file.size, file.mtime_ms);
    let mut changed_retried = false;
    let mut attempt = 1;
    loop {
        // Only files large enough for a multipart upload can have one to resume: small files skip the
        // index lookup.
        let resume = if seen.0 >= spec.multipart_threshold {
            resumable(aws, index, &d.bucket, &d.region, key, seen).await
        } else {
            None
        };
        let sha256 = if spec.compare == crate::manifest::types::CompareMode::Checksum {
            let p = path.clone();
            match tokio::task::spawn_blocking(move || hash_file(&p)).await {
                Ok(Ok(h)) => Some(h.sha256),
                Ok(Err(e)) => return Err(format!("cannot be read: {e}")),
                Err(e) => return Err(e.to_string()),
            }
        } else {
            None
        };
        let up = Upload {
            bucket: &d.bucket,
            region: &d.region,
            key,
            path: &path,
            size: seen.0,
            mtime_ms: seen.1,
            storage_class: d.storage_class.as_deref(),
            content_type: d.content_type_of(&path),
            checksum: spec.checksum,
            multipart_threshold: spec.multipart_threshold,
            part_size: spec.part_size,
            resume,
        };
        let journal = IndexJournal {
            index: index.clone(),
            size: seen.0,
            mtime_ms: seen.1,
        };
        match transfer::upload_file(aws, &up, &journal, parts).await {
            Ok(done) => {
                return Ok(IndexEntry {
                    size: seen.0,
                    mtime_ms: seen.1,
                    sha256,
                    etag: done.etag,
                });
            }
            Err(TransferError::Changed { .. }) if !changed_retried => {
                // Take the file as it is now and try once more; a file still changing is reported.
                changed_retried = true;
                match std::fs::metadata(&path) {
                    Ok(m) => seen = (m.len(), crate::state::time::mtime_ms(&m)),
                    Err(e) => return Err(format!("cannot be read: {e}")),
                }
            }
            Err(TransferError::Changed { .. }) => {
                return Err(
                    "changed while it was being uploaded, twice; it was not uploaded (a torn copy is never kept)"
                        .to_string(),
                );
            }
            Err(TransferError::Aws(e)) if attempt < TRANSIENT_ATTEMPTS && transient(&e) => {
                tracing::debug!(key, attempt, error = %e, "uploading again");
                tokio::time::sleep(TRANSIENT_DELAY * attempt).await;
                attempt += 1;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// The multipart upload to continue for this file, if the index has one for the same size and mtime.
/// One for an older version of the file is aborted, so it stops costing storage.
async fn resumable(
    aws: &Aws,
    index: &SyncIndex,
    bucket: &str,
    region: &str,
    key: &str,
    (size, mtime_ms): (u64, i64),
) -> Option<ResumeState> {
    let pending = index.pending_upload(bucket, key).ok().flatten()?;
    if pending.size == size && pending.mtime_ms == mtime_ms {
        return Some(ResumeState {
            upload_id: pending.upload_id,
            part_size: pending.part_size,
            parts: pending
                .parts
                .into_iter()
                .map(|(number, etag, checksum)| DonePart { number, etag, checksum })
                .collect(),
        });
    }
    if let Err(e) = transfer::abort_multipart_upload(aws, bucket, region, key, &pending.upload_id).await {
        tracing::warn!("could not abort the abandoned upload of s3://{bucket}/{key}: {e}");
    }
    if let Err(e) = index.upload_finished(&pending.upload_id) {
        tracing::warn!("could not forget the abandoned upload of s3://{bucket}/{key}: {e}");
    }
    None
}

/// Multipart progress into the index, for one file.
struct IndexJournal {
    index: Arc<SyncIndex>,
    size: u64,
    mtime_ms: i64,
}

impl UploadJournal for IndexJournal {
    fn multipart_creating(&self, bucket: &str, region: &str, key: &str) {
        if let Err(e) = self.index.upload_intended(bucket, region, key) {
            tracing::warn!(
                "the sync index did not record the start of an upload of s3://{bucket}/{key}: {e}; if its \
                 answer is lost, `s3rec doctor` lists the upload it leaves"
            );
        }
    }

    fn multipart_started(&self, bucket: &str, key: &str, upload_id: &str, part_size: u64) {
        if let Err(e) = self
            .index
            .upload_started(bucket, key, upload_id, self.size, self.mtime_ms, part_size)
        {
            tracing::warn!("the sync index did not record upload {upload_id}: {e}; an interruption restarts it");
        }
    }

    fn part_done(&self, upload_id: &str, part: &DonePart) {
        if let Err(e) = self
            .index
            .part_done(upload_id, part.number, &part.etag, part.checksum.as_deref())
        {
            tracing::warn!(
                "the sync index did not record part {} of upload {upload_id}: {e}",
                part.number
            );
        }
    }

    fn multipart_finished(&self, upload_id: &str) {
        if let Err(e) = self.index.upload_finished(upload_id) {
            tracing::warn!("the sync index did not forget finished upload {upload_id}: {e}");
        }
    }
}
