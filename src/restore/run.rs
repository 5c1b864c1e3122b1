//! A restore into a directory: list the mapping's destinations with every version, choose the set
//! ([`super::pick`], [`super::set`]), and download it with the migration's machinery: every file written
//! to `DIR/.s3rec-partial/` first (resumed from where a broken download stopped), verified against what
//! S3 stored (full-object checksum, else the MD5 or multipart ETag: `migrate::verify`), and only then
//! renamed into place without following links (`migrate::local::place`).
//!
//! # Resuming
//!
//! Each file placed is appended to the journal `DIR/.s3rec-partial/restore.journal` (one JSON line:
//! bucket, key, version id, path, size), so a restore that is run again after a kill skips every file
//! the journal lists and finds in place with its size, without reading it. A file in place that the
//! journal lacks (the kill came between the rename and the journal line) is verified from disk and
//! adopted rather than downloaded again. The journal lives in the target directory rather than in the
//! state, since it describes that directory: a copy of it moved elsewhere, or removed, takes its journal
//! along. Restoring another point in time into the same directory replaces the files whose versions
//! differ; files of the directory that are not in the set are left alone.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::inplace::InPlace;
use super::keys::{Inverse, NotInvertible};
use super::pick::{At, Picker};
use super::set::{Item, RestoreSet};
use crate::aws::archive::{self, DownloadError, RestoreState};
use crate::aws::{Aws, AwsError};
use crate::interrupt;
use crate::manifest::types::RestoreTier;
use crate::manifest::types::VerifyMode;
use crate::migrate::local;
use crate::migrate::run::{
    DOWNLOADS, Progress, RESUME_DELAY, RESUME_DELAY_MAX, RESUMES, in_place, resume_offset, transient,
};
use crate::migrate::verify::{self, Mismatch};
use crate::migrate::{Expected, StoredChecksum};
use crate::sync::spec::SyncSpec;

/// Runs `work` on every item, at most [`DOWNLOADS`] at once, and hands each result to `done` (`None` for
/// a task that panicked). After a signal it starts nothing new and lets what is in flight finish until
/// the drain deadline. Returns whether it stopped before every item was done.
async fn bounded<R, F, Fut>(items: Vec<Item>, work: F, mut done: impl FnMut(Option<(Item, R)>)) -> bool
where
    R: Send + 'static,
    F: Fn(Item) -> Fut,
    Fut: std::future::Future<Output = (Item, R)> + Send + 'static,
{
    let mut queue = items.into_iter();
    let mut tasks = JoinSet::new();
    let mut stop = interrupt::Stop::new();
    loop {
        while tasks.len() < DOWNLOADS && stop.may_start() {
            let Some(item) = queue.next() else { break };
            tasks.spawn(work(item));
        }
        let Some(Some(joined)) = stop.guard(tasks.join_next()).await else {
            break;
        };
        done(joined.ok());
    }
    stop.stopped().is_some() || queue.next().is_some()
}

/// The failure of a task that stopped without an answer (a panic).
fn task_stopped(what: &str) -> (String, String) {
    (format!("a {what} task"), "stopped unexpectedly".to_string())
}

/// The journal's file name inside [`local::partial_dir`].
pub const JOURNAL: &str = "restore.journal";

/// `--verify-only`: reads every object of `set` whole, hashing it as it streams by (nothing is written
/// anywhere), and checks it against the checksum S3 stored with it, else its MD5 or multipart ETag. An
/// archived object fails: it cannot be read without a Glacier restore.
pub async fn verify_only(aws: Arc<Aws>, set: RestoreSet, outcome: &mut Outcome, progress: &Arc<dyn Progress>) {
    let started = Instant::now();
    progress.step(
        &outcome.mapping,
        &format!("verifying {}", crate::words::counted(set.items.len(), "object")),
        set.bytes(),
    );
    let work = |item: Item| {
        let (aws, progress) = (aws.clone(), progress.clone());
        async move {
            let result = read_and_check(&aws, &item, &*progress).await;
            (item, result)
        }
    };
    outcome.stopped = bounded(set.items, work, |done| match done {
        Some((_, Ok(()))) => outcome.verified += 1,
        Some((item, Err(why))) => outcome.failed.push((item.key, why)),
        None => outcome.failed.push(task_stopped("verification")),
    })
    .await;
    progress.done();
    outcome.duration = started.elapsed();
}

/// One object of `--verify-only`: what S3 recorded (HEAD), then the whole body through the check.
async fn read_and_check(aws: &Aws, item: &Item, progress: &dyn Progress) -> Result<(), String> {
    if item.archived() {
        return Err(format!(
            "it is archived in {}, so it cannot be read without a Glacier restore",
            item.storage_class
        ));
    }
    let expected = head_expected(aws, item).await.map_err(|e| e.to_string())?;
    let mut verifier = verify::Verifier::new(&expected, VerifyMode::Checksum).map_err(|e| e.to_string())?;
    // Nothing is written: the path of the download is not used.
    let download = item.download(Path::new(""), 0);
    let mut feed = |chunk: &[u8]| {
        verifier.update(chunk);
        progress.bytes(chunk.len() as u64);
    };
    archive::read_version(aws, &download, &mut feed)
        .await
        .map_err(|e| e.to_string())?;
    verifier.finish().map(|_| ()).map_err(|e| e.to_string())
}

/// Refuses an in-place restore unless every destination bucket of the mapping has versioning enabled
/// now: on any other bucket a copy would overwrite, and a delete would remove, the only version.
pub async fn check_versioned(aws: &Aws, spec: &SyncSpec) -> Result<(), RestoreError> {
    for scope in spec.scopes() {
        let observed = crate::aws::read::read_bucket_in(
            aws,
            &scope.bucket,
            Some(&scope.region),
            &[crate::model::DocKind::Versioning],
        )
        .await?;
        let versioning = observed.and_then(|b| b.docs.get(&crate::model::DocKind::Versioning).cloned());
        let enabled = matches!(
            versioning,
            Some(crate::model::Doc::Versioning(
                crate::model::kinds::versioning::VersioningState::Enabled
            ))
        );
        if !enabled {
            return Err(RestoreError::Unversioned { bucket: scope.bucket });
        }
    }
    Ok(())
}

/// `--in-place`: copies every old version of `plan` onto its key and adds the delete markers, with
/// bounded concurrency. Archived versions (GLACIER, DEEP_ARCHIVE) are restored first, as `--into`
/// restores them (`thaw`), and copied once S3 can read them.
pub async fn copy_back_in_place(
    aws: Arc<Aws>,
    plan: InPlace,
    outcome: &mut Outcome,
    progress: &Arc<dyn Progress>,
    thaw: &Thaw,
) {
    let started = Instant::now();
    outcome.unchanged = plan.unchanged;
    progress.step(
        &outcome.mapping,
        &format!(
            "copying {} back, adding {}",
            crate::words::counted(plan.copies.len(), "version"),
            crate::words::counted(plan.markers.len(), "delete marker")
        ),
        plan.copy_bytes(),
    );
    // An archived version is not even tried: its copy would fail until it is restored.
    let (archived, readable): (Vec<Item>, Vec<Item>) = plan.copies.into_iter().partition(Item::archived);
    let placing = Placing::CopyBack;
    let mut still_archived = place_all(&aws, &placing, readable, outcome, progress).await;
    still_archived.extend(archived);
    thaw_and_place(&aws, &placing, still_archived, thaw, outcome, progress).await;
    // Markers go last, and not at all after a signal or while archived versions wait for their
    // restores: a key is hidden only once every copy is done, so the bucket never shows a mix of
    // keys hidden and old versions missing. The next run adds them.
    if !outcome.stopped && outcome.archived == 0 {
        let mut by_bucket: std::collections::BTreeMap<(String, String), Vec<String>> = Default::default();
        for (bucket, region, key) in plan.markers {
            by_bucket.entry((bucket, region)).or_default().push(key);
        }
        for ((bucket, region), keys) in by_bucket {
            match crate::aws::transfer::delete_objects(&aws, &bucket, &region, &keys).await {
                Ok(refused) => {
                    outcome.delete_markers += keys.len() - refused.len();
                    outcome.failed.extend(refused);
                }
                Err(e) => outcome.failed.extend(keys.into_iter().map(|k| (k, e.to_string()))),
            }
        }
    }
    progress.done();
    outcome.duration = started.elapsed();
}

/// What became of one version copied back.
enum Copied {
    Done,
    /// S3 cannot read it: archived, with no restored copy (any more).
    Archived,
    Failed(String),
}

/// Copies `items` back with bounded concurrency, counting into `outcome`; returns the items S3 could
/// not read because they are archived.
async fn copy_all(aws: &Arc<Aws>, items: Vec<Item>, outcome: &mut Outcome, progress: &Arc<dyn Progress>) -> Vec<Item> {
    let mut archived = Vec::new();
    let work = |item: Item| {
        let aws = aws.clone();
        async move {
            let result = copy_back(&aws, &item).await;
            (item, result)
        }
    };
    let stopped = bounded(items, work, |done| match done {
        Some((item, Copied::Done)) => {
            progress.bytes(item.size);
            outcome.copied += 1;
            outcome.copied_bytes += item.size;
        }
        Some((item, Copied::Archived)) => archived.push(item),
        Some((item, Copied::Failed(why))) => outcome.failed.push((item.key, why)),
        None => outcome.failed.push(task_stopped("copy")),
    })
    .await;
    outcome.stopped |= stopped;
    archived
}

/// One old version copied onto its key. The copy keeps the version's class, so an archived version
/// copied from its restored copy is archived again.
async fn copy_back(aws: &Aws, item: &Item) -> Copied {
    let copy = crate::aws::transfer::VersionCopy {
        bucket: &item.bucket,
        region: &item.region,
        key: &item.key,
        version_id: &item.version_id,
        size: item.size,
        storage_class: (item.storage_class != "STANDARD").then_some(item.storage_class.as_str()),
        multipart_above: crate::aws::transfer::MAX_SINGLE_COPY,
        part_size: crate::aws::transfer::COPY_PART_SIZE,
    };
    match crate::aws::transfer::copy_version(aws, &copy).await {
        Ok(()) => Copied::Done,
        Err(e)
            if matches!(
                e.code(),
                Some(archive::OBJECT_NOT_IN_ACTIVE_TIER | archive::INVALID_OBJECT_STATE)
            ) =>
        {
            Copied::Archived
        }
        Err(e) => Copied::Failed(e.to_string()),
    }
}

/// Why a restore could not run at all (as opposed to single files failing).
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Aws(Box<AwsError>),
    #[error("sync.{mapping}: {source}")]
    Template { mapping: String, source: NotInvertible },
    #[error("the target directory {} cannot be used: {source}: check that it exists (or can be created) and is writable", path.display())]
    Target { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Place(#[from] local::PlaceError),
    #[error(transparent)]
    Space(#[from] local::SpaceError),
    #[error(
        "bucket {bucket} does not have versioning enabled, so an in-place restore could lose versions: enable it (`versioning: enabled`) or restore --into a directory"
    )]
    Unversioned { bucket: String },
}

impl From<AwsError> for RestoreError {
    fn from(e: AwsError) -> Self {
        RestoreError::Aws(Box::new(e))
    }
}

/// What one restore did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Outcome {
    pub mapping: String,
    /// The point in time, RFC 3339, or `latest`.
    pub at: String,
    /// Files in the set, and their bytes.
    pub files: usize,
    pub bytes: u64,
    /// Files downloaded (and verified) by this run, and the bytes transferred for them.
    pub downloaded: usize,
    pub downloaded_bytes: u64,
    /// Files an earlier run had restored: listed in the journal and in place.
    pub already_restored: usize,
    /// Files found in place without a journal line, verified from disk instead of downloaded.
    pub adopted: usize,
    /// `--verify-only`: objects read whole and found to match what S3 recorded for them.
    pub verified: usize,
    /// `--in-place`: old versions copied onto their keys, delete markers added, keys already current.
    pub copied: usize,
    pub copied_bytes: u64,
    pub delete_markers: usize,
    pub unchanged: usize,
    /// Archived objects (GLACIER, DEEP_ARCHIVE) not downloaded: restores still under way, and objects
    /// whose restore was not requested yet (the in-flight cap).
    pub archived: usize,
    /// Restore requests this run started.
    pub restores_requested: usize,
    /// Of `archived`, those whose restore is under way.
    pub restoring: usize,
    /// (key, why) of files that failed this run.
    pub failed: Vec<(String, String)>,
    /// (key, why) of keys that get no file.
    pub refused: Vec<(String, String)>,
    pub foreign: usize,
    pub absent: usize,
    /// Set when a signal stopped the run before every file was done.
    pub stopped: bool,
    #[serde(skip)]
    pub duration: Duration,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.refused.is_empty() && self.archived == 0 && !self.stopped
    }
}

/// Lists the mapping's destinations with every version and chooses the set current at `at` whose paths
/// start with `prefix`. The key template is inverted first, so a template that cannot be says so before
/// anything is listed.
pub async fn choose(aws: &Aws, spec: &SyncSpec, at: At, prefix: &str) -> Result<RestoreSet, RestoreError> {
    let [set] = choose_each(aws, spec, [at], prefix).await?;
    Ok(set)
}

/// [`choose`] for several points in time from one listing: `--in-place` compares the set of `--at`
/// with the latest, and listing every version twice would double the longest part of its plan.
pub async fn choose_each<const N: usize>(
    aws: &Aws,
    spec: &SyncSpec,
    ats: [At; N],
    prefix: &str,
) -> Result<[RestoreSet; N], RestoreError> {
    let inverse = Inverse::new(spec.key_template()).map_err(|source| RestoreError::Template {
        mapping: spec.name.clone(),
        source,
    })?;
    let mut sets: [RestoreSet; N] = std::array::from_fn(|_| RestoreSet::default());
    for scope in spec.scopes() {
        let mut pickers = ats.map(Picker::new);
        archive::for_each_version(
            aws,
            &scope.bucket,
            &scope.region,
            &scope.prefix,
            archive::VERSIONS_PAGE,
            |v| {
                if let Some((last, rest)) = pickers.split_last_mut() {
                    for picker in rest {
                        picker.push(v.clone());
                    }
                    last.push(v);
                }
            },
        )
        .await?;
        for (set, picker) in sets.iter_mut().zip(pickers) {
            let (chosen, absent) = picker.finish();
            set.absent += absent;
            set.add(spec, &inverse, &scope, chosen, prefix);
        }
    }
    Ok(sets)
}

/// Creates the target directory if needed and checks the set's paths against it (case folding).
pub fn prepare_target(into: &Path, set: &mut RestoreSet) -> Result<(), RestoreError> {
    let target_error = |source| RestoreError::Target {
        path: into.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(into).map_err(target_error)?;
    let folds = local::case_insensitive(into).map_err(target_error)?;
    set.check_paths(folds);
    Ok(())
}

/// One JSON line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
struct Entry {
    bucket: String,
    key: String,
    version_id: String,
    path: String,
    size: u64,
}

impl Entry {
    fn of(item: &Item) -> Entry {
        Entry {
            bucket: item.bucket.clone(),
            key: item.key.clone(),
            version_id: item.version_id.clone(),
            path: item.rel.clone(),
            size: item.size,
        }
    }
}

/// The files restored into a directory so far (see the module documentation).
struct Journal {
    done: HashSet<Entry>,
    file: Mutex<std::fs::File>,
}

impl Journal {
    /// Reads the journal of `into` and opens it for appending. A line that does not parse (the tail a
    /// kill cut off) is ignored: its file is adopted from disk instead.
    fn open(into: &Path) -> Result<Journal, RestoreError> {
        let dir = local::ensure_partial_dir(into)?;
        let path = dir.join(JOURNAL);
        let io_error = |source| RestoreError::Target {
            path: path.clone(),
            source,
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io_error(e)),
        };
        let done = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_error)?;
        // A torn last line gets a line of its own after it, so the next entry still parses.
        if !text.is_empty() && !text.ends_with('\n') {
            file.write_all(b"\n").map_err(io_error)?;
        }
        Ok(Journal {
            done,
            file: Mutex::new(file),
        })
    }

    fn has(&self, item: &Item) -> bool {
        self.done.contains(&Entry::of(item))
    }

    /// Appends one line in one write. Not flushed to disk: after a crash of the machine, a lost line
    /// only means its file is verified from disk and adopted.
    fn record(&self, item: &Item) -> std::io::Result<()> {
        let mut line = serde_json::to_string(&Entry::of(item)).map_err(std::io::Error::other)?;
        line.push('\n');
        self.file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .write_all(line.as_bytes())
    }
}

/// How one file ended.
enum Fetched {
    Downloaded(u64),
    AlreadyRestored,
    Adopted,
    Archived,
    Failed(String),
}

/// How archived objects (GLACIER, DEEP_ARCHIVE) of a restore are brought back first, into a directory
/// or in place: the migration's settings (`migrate.restore`), given as flags.
#[derive(Debug, Clone)]
pub struct Thaw {
    pub tier: RestoreTier,
    /// Days the restored copy stays readable.
    pub days: u32,
    /// Restore requests outstanding at once.
    pub max_in_flight: usize,
    /// Poll until every restore finished and its object is downloaded, instead of returning once
    /// nothing more can be done now.
    pub wait: bool,
    /// The first wait between polls; it doubles up to `poll_max`.
    pub poll: Duration,
    pub poll_max: Duration,
}

/// Downloads `set` into `into` (which [`prepare_target`] made ready), skipping what an earlier run
/// finished. Archived objects that cannot be read yet get a restore request (at most
/// `thaw.max_in_flight` outstanding); with `thaw.wait` they are polled (HEAD) and downloaded as their
/// restores finish, otherwise the next run downloads them. S3 itself remembers the requests, so no
/// state is kept for them. `outcome` already holds the set's counts; this adds what happened.
pub async fn download(
    aws: Arc<Aws>,
    set: RestoreSet,
    into: &Path,
    outcome: &mut Outcome,
    progress: &Arc<dyn Progress>,
    thaw: &Thaw,
) -> Result<(), RestoreError> {
    let started = Instant::now();
    let journal = Arc::new(Journal::open(into)?);
    let needed: u64 = set
        .items
        .iter()
        .filter(|i| !(journal.has(i) && in_place(&local::final_path(into, &i.rel), i.size)))
        .map(|i| i.size)
        .sum();
    let available = local::available_space(into).map_err(|source| RestoreError::Target {
        path: into.to_path_buf(),
        source,
    })?;
    local::check_space(into, needed, available)?;

    progress.step(
        &outcome.mapping,
        &format!("restoring {}", crate::words::counted(set.items.len(), "file")),
        set.bytes(),
    );
    let placing = Placing::Download {
        into: Arc::new(into.to_path_buf()),
        journal,
    };
    let archived = place_all(&aws, &placing, set.items, outcome, progress).await;
    thaw_and_place(&aws, &placing, archived, thaw, outcome, progress).await;
    progress.done();
    outcome.duration = started.elapsed();
    Ok(())
}

/// What a restore does with each version of its set once S3 can read it.
enum Placing {
    /// `--into`: download it into the directory, journaled.
    Download { into: Arc<PathBuf>, journal: Arc<Journal> },
    /// `--in-place`: copy it onto its key.
    CopyBack,
}

/// Places `items` as `placing` says; returns those S3 could not read because they are archived.
async fn place_all(
    aws: &Arc<Aws>,
    placing: &Placing,
    items: Vec<Item>,
    outcome: &mut Outcome,
    progress: &Arc<dyn Progress>,
) -> Vec<Item> {
    match placing {
        Placing::Download { into, journal } => fetch_all(aws, into, journal, items, outcome, progress).await,
        Placing::CopyBack => copy_all(aws, items, outcome, progress).await,
    }
}

/// Archived versions: restore requests up to `thaw.max_in_flight` outstanding, then (with
/// `thaw.wait`) polls (HEAD) until each can be placed. Without `wait` it returns once nothing more can
/// be done now, and the next run places them: S3 itself remembers the requests, so no state is kept.
/// What is still archived at the end is counted in `outcome.archived` (and `restoring`).
async fn thaw_and_place(
    aws: &Arc<Aws>,
    placing: &Placing,
    mut archived: Vec<Item>,
    thaw: &Thaw,
    outcome: &mut Outcome,
    progress: &Arc<dyn Progress>,
) {
    let mut requested: Vec<Item> = Vec::new();
    let mut poll = thaw.poll;
    while !(outcome.stopped || (archived.is_empty() && requested.is_empty())) {
        let room = thaw.max_in_flight.saturating_sub(requested.len());
        let take = archived.len().min(room);
        let (ready, asked) = request_restores(aws, archived.drain(..take).collect(), thaw, outcome).await;
        requested.extend(asked);
        // S3 said these can be read. One that still cannot (its restored copy expired in between) is
        // polled like a restore under way, not asked for again at once: no request loop without a wait.
        requested.extend(place_all(aws, placing, ready, outcome, progress).await);
        if !thaw.wait {
            break;
        }
        if requested.is_empty() {
            continue;
        }
        if interrupt::Stop::new().guard(tokio::time::sleep(poll)).await.is_none() {
            outcome.stopped = true;
            break;
        }
        poll = (poll * 2).min(thaw.poll_max);
        let (ready, waiting, again) = poll_restores(aws, std::mem::take(&mut requested), outcome).await;
        requested = waiting;
        archived.extend(again);
        requested.extend(place_all(aws, placing, ready, outcome, progress).await);
    }
    outcome.restoring = requested.len();
    outcome.archived = archived.len() + requested.len();
}

/// Fetches `items` with bounded concurrency, counting into `outcome`; returns the items that turned out
/// to be archived without a readable copy.
async fn fetch_all(
    aws: &Arc<Aws>,
    into: &Arc<PathBuf>,
    journal: &Arc<Journal>,
    items: Vec<Item>,
    outcome: &mut Outcome,
    progress: &Arc<dyn Progress>,
) -> Vec<Item> {
    let mut archived = Vec::new();
    let work = |item: Item| {
        let (aws, into, journal, progress) = (aws.clone(), into.clone(), journal.clone(), progress.clone());
        async move {
            let counter = move |n: u64| progress.bytes(n);
            let fetched = fetch(&aws, &into, &journal, &item, &counter).await;
            (item, fetched)
        }
    };
    let stopped = bounded(items, work, |done| match done {
        Some((_, Fetched::Downloaded(bytes))) => {
            outcome.downloaded += 1;
            outcome.downloaded_bytes += bytes;
        }
        Some((_, Fetched::AlreadyRestored)) => outcome.already_restored += 1,
        Some((_, Fetched::Adopted)) => outcome.adopted += 1,
        Some((item, Fetched::Archived)) => archived.push(item),
        Some((item, Fetched::Failed(why))) => outcome.failed.push((item.key, why)),
        None => outcome.failed.push(task_stopped("download")),
    })
    .await;
    outcome.stopped |= stopped;
    archived
}

/// RestoreObject for each item: (those with a readable copy already, those whose restore is under way).
async fn request_restores(
    aws: &Arc<Aws>,
    items: Vec<Item>,
    thaw: &Thaw,
    outcome: &mut Outcome,
) -> (Vec<Item>, Vec<Item>) {
    let mut tasks = JoinSet::new();
    for item in items {
        let aws = aws.clone();
        let tier = crate::migrate::spec::tier_for(thaw.tier, &item.storage_class);
        let days = thaw.days;
        tasks.spawn(async move {
            let result = archive::restore_version(
                &aws,
                &item.bucket,
                &item.region,
                &item.key,
                &item.version_id,
                Some(days),
                tier,
            )
            .await;
            (item, result)
        });
    }
    let (mut ready, mut asked) = (Vec::new(), Vec::new());
    while let Some(joined) = tasks.join_next().await {
        let Ok((item, result)) = joined else { continue };
        match result {
            Ok(archive::RestoreRequest::Started) => {
                outcome.restores_requested += 1;
                asked.push(item);
            }
            Ok(archive::RestoreRequest::InProgress) => asked.push(item),
            Ok(archive::RestoreRequest::AlreadyRestored) => ready.push(item),
            // Not archived (any more): readable as it is.
            Err(e) if e.code() == Some(archive::INVALID_OBJECT_STATE) => ready.push(item),
            Err(e) => outcome.failed.push((item.key, format!("restore request: {e}"))),
        }
    }
    (ready, asked)
}

/// HEAD of each requested restore: (readable now, still restoring, archived again and to be requested).
async fn poll_restores(aws: &Arc<Aws>, items: Vec<Item>, outcome: &mut Outcome) -> (Vec<Item>, Vec<Item>, Vec<Item>) {
    let mut tasks = JoinSet::new();
    for item in items {
        let aws = aws.clone();
        tasks.spawn(async move {
            let head = archive::head_version(&aws, &item.bucket, &item.region, &item.key, &item.version_id, None).await;
            (item, head)
        });
    }
    let (mut ready, mut waiting, mut again) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(joined) = tasks.join_next().await {
        let Ok((item, head)) = joined else { continue };
        match head.map(|h| h.restore) {
            Ok(RestoreState::InProgress) => waiting.push(item),
            Ok(RestoreState::Restored { .. } | RestoreState::NotArchived) => ready.push(item),
            // The request was lost or its copy already expired: ask again.
            Ok(RestoreState::Archived) => again.push(item),
            Err(e) => outcome.failed.push((item.key, format!("restore status: {e}"))),
        }
    }
    (ready, waiting, again)
}

/// One file: skip it when the journal has it in place, adopt a file in place that verifies, otherwise
/// download it to its partial name (resuming), verify, place and record it.
async fn fetch(
    aws: &Aws,
    into: &Path,
    journal: &Journal,
    item: &Item,
    counter: &(dyn Fn(u64) + Send + Sync),
) -> Fetched {
    if local::is_dir(&item.rel) {
        return match local::ensure_dir(into, &item.rel) {
            Ok(_) => Fetched::AlreadyRestored,
            Err(e) => Fetched::Failed(e.to_string()),
        };
    }
    let target = local::final_path(into, &item.rel);
    if in_place(&target, item.size) {
        if journal.has(item) {
            counter(item.size);
            return Fetched::AlreadyRestored;
        }
        if let Ok(expected) = head_expected(aws, item).await
            && check(&target, expected).await.is_ok()
        {
            counter(item.size);
            return record(journal, item, Fetched::Adopted);
        }
    }
    let partial = local::partial_path(into, &item.bucket, &item.key, &item.version_id);
    let mut offset = resume_offset(&partial, item.size);
    if offset > 0 {
        counter(offset);
    }
    let mut transferred = 0;
    let mut resumes = 0;
    let mut delay = RESUME_DELAY;
    let mut mismatched = false;
    loop {
        let download = item.download(&partial, offset);
        let got = match archive::download_version(aws, &download, counter).await {
            Ok(got) => got,
            Err(DownloadError::Archived { .. }) => return Fetched::Archived,
            Err(e) if resumes < RESUMES && transient(&e) => {
                resumes += 1;
                offset = resume_offset(&partial, item.size);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(RESUME_DELAY_MAX);
                continue;
            }
            // The partial file stays: the next run continues it.
            Err(e) => return Fetched::Failed(e.to_string()),
        };
        transferred += got.transferred;
        // A ranged answer carries no checksum of the whole object: HEAD tells it.
        let expected = if got.checksum.is_none() && offset > 0 {
            head_expected(aws, item).await
        } else {
            with_part_size(aws, item, expected_of(item, got.checksum, got.sse.as_deref())).await
        };
        let expected = match expected {
            Ok(expected) => expected,
            Err(e) => return Fetched::Failed(e.to_string()),
        };
        match check(&partial, expected).await {
            Ok(()) => {
                return match local::place(into, &item.rel, &partial) {
                    Ok(_) => record(journal, item, Fetched::Downloaded(transferred)),
                    Err(e) => {
                        let _ = std::fs::remove_file(&partial);
                        Fetched::Failed(e.to_string())
                    }
                };
            }
            Err(mismatch @ Mismatch::Unverifiable(_)) => {
                let _ = std::fs::remove_file(&partial);
                return Fetched::Failed(format!("cannot be verified: {mismatch}"));
            }
            Err(mismatch) => {
                let _ = std::fs::remove_file(&partial);
                if mismatched {
                    return Fetched::Failed(format!("verification failed twice: {mismatch}"));
                }
                mismatched = true;
                offset = 0;
                tracing::warn!("{}: {mismatch}; downloading it again", item.key);
            }
        }
    }
}

fn record(journal: &Journal, item: &Item, fetched: Fetched) -> Fetched {
    match journal.record(item) {
        Ok(()) => fetched,
        Err(e) => Fetched::Failed(format!("restored, but the journal could not record it: {e}")),
    }
}

/// What verification compares a file of `item` with, from the checksum and encryption a download or
/// HEAD reported.
fn expected_of(item: &Item, checksum: Option<StoredChecksum>, sse: Option<&str>) -> Expected {
    Expected {
        size: item.size,
        etag: item.etag.clone(),
        part_size: None,
        checksum,
        etag_is_md5: !matches!(sse, Some("aws:kms" | "aws:kms:dsse" | "SSE-C")),
    }
}

/// [`expected_of`] from a HEAD of the version, for files not downloaded by this attempt.
pub(crate) async fn head_expected(aws: &Aws, item: &Item) -> Result<Expected, AwsError> {
    let head = archive::head_version(aws, &item.bucket, &item.region, &item.key, &item.version_id, None).await?;
    with_part_size(aws, item, expected_of(item, head.checksum, head.sse.as_deref())).await
}

/// A multipart ETag is recomputed with the object's part size, which HEAD with `partNumber=1` tells;
/// asked only when no full-object checksum makes it unnecessary.
async fn with_part_size(aws: &Aws, item: &Item, mut expected: Expected) -> Result<Expected, AwsError> {
    let full = expected.checksum.as_ref().is_some_and(|c| c.full_object);
    if item.etag.contains('-') && !full {
        match archive::head_version(aws, &item.bucket, &item.region, &item.key, &item.version_id, Some(1)).await {
            Ok(head) => expected.part_size = head.part_length,
            // Without it, verification tries the part sizes common tools use.
            Err(e) => tracing::debug!("{}: part size unknown: {e}", item.key),
        }
    }
    Ok(expected)
}

/// Verifies a file on a blocking thread.
pub(crate) async fn check(path: &Path, expected: Expected) -> Result<(), Mismatch> {
    let path = path.to_path_buf();
    match tokio::task::spawn_blocking(move || verify::verify_file(&path, &expected, VerifyMode::Checksum)).await {
        Ok(result) => result.map(|_| ()),
        Err(e) => Err(Mismatch::Unverifiable(format!("the verification task stopped: {e}"))),
    }
}
