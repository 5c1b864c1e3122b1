//! The walk and the listing as streams sorted by (scope, key), so that comparing them with the index is
//! one merge of three sorted streams and memory does not grow with the tree.
//!
//! Neither input arrives in key order: the walk is read by several threads at once, a route or a key
//! template puts a file's key far from its path's place, and key ranges of a listing finish in any order.
//! Each is therefore sorted on the way in: up to [`SEGMENT`] records are held in memory, and each full
//! buffer is sorted and written to an anonymous temporary file (a sorted run); the sorted stream is the
//! k-way merge of the runs. A tree that fits in one buffer never touches the disk. Sorting also makes the
//! merge independent of the order a server lists in: S3 lists in UTF-8 byte order, which is Rust's
//! `String` order, but nothing below relies on it.
//!
//! The sort is ours rather than the `extsort` crate's: extsort 0.5.0 drops every record when their
//! number is an exact multiple of its buffer size plus one (its last buffer is then empty, and it returns
//! that empty buffer instead of merging the runs it wrote). For a sync, an empty walk with `delete: true`
//! means deleting the whole destination; `a_count_of_records_that_fills_every_run_exactly_loses_none`
//! guards against that here.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use super::compare::RemoteEntry;
use super::spec::SyncSpec;
use super::walk::LocalFile;

/// Records held in memory per sort before a sorted run goes to a temporary file: ~20 MiB of file records
/// with 60-byte paths, whatever the size of the tree.
pub const SEGMENT: usize = 100_000;

/// The most sorted runs a sort keeps at once. Each is an open file, so without a bound a tree of
/// 50 million files (500 runs of 100,000 records in each of the walk's and the listing's sorts) would
/// pass the usual limit of 1,024 open files; when the runs reach this many they are merged into one.
pub const FAN_IN: usize = 64;

/// The environment variable that sets the records held in memory per sort instead of [`SEGMENT`]: less
/// memory for more temporary files, or the other way round.
pub const SEGMENT_VAR: &str = "S3REC_SYNC_SORT_BUFFER";

/// A record that can be written to a sorted run and read back.
pub trait Record: Ord + Send + Sized + 'static {
    fn encode<W: Write>(&self, w: &mut W) -> io::Result<()>;
    fn decode<R: Read>(r: &mut R) -> io::Result<Self>;
}

/// A source file with the key it is uploaded to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileRecord {
    /// Index into the mapping's scopes ([`super::spec::SyncSpec::scopes`]).
    pub scope: u32,
    pub key: String,
    /// Two files with one key sort by path, so the first path keeps the key whichever thread read it.
    pub file: LocalFile,
    /// Index into the spec's destinations.
    pub destination: u32,
}

impl FileRecord {
    /// A walked file with its destination, key and scope (`scope_of`:
    /// [`SyncSpec::destination_scopes`]).
    pub fn of(spec: &SyncSpec, scope_of: &[u32], file: LocalFile) -> FileRecord {
        let destination = spec.destination_of(&file.rel);
        FileRecord {
            scope: scope_of.get(destination).copied().unwrap_or(0),
            key: spec.key_of(destination, &file.rel, file.mtime_ms),
            file,
            destination: u32::try_from(destination).unwrap_or(u32::MAX),
        }
    }
}

/// An object of the destination listing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectRecord {
    /// Index into the mapping's scopes.
    pub scope: u32,
    pub key: String,
    pub remote: RemoteEntry,
}

/// A sorted stream; an item is an error when a temporary file could not be read back.
pub type Sorted<T> = Box<dyn Iterator<Item = io::Result<T>> + Send>;

/// Sorts `items`, writing sorted runs of [`SEGMENT`] records (or [`SEGMENT_VAR`]'s number) to anonymous
/// files in the system's temporary directory (`TMPDIR`): they have no name, so they go when the stream
/// is dropped or the process ends, however it ends.
pub fn sort<T: Record>(items: impl Iterator<Item = T>) -> io::Result<Sorted<T>> {
    sort_in_segments(items, segment(), FAN_IN)
}

/// [`SEGMENT_VAR`] when it is a positive number, else [`SEGMENT`].
fn segment() -> usize {
    let Some(value) = std::env::var_os(SEGMENT_VAR) else {
        return SEGMENT;
    };
    match value.to_str().and_then(|v| v.trim().parse::<usize>().ok()) {
        Some(n) if n > 0 => n,
        _ => {
            tracing::warn!(
                "{SEGMENT_VAR}={} is not a positive number of records; using {SEGMENT}",
                value.to_string_lossy()
            );
            SEGMENT
        }
    }
}

fn sort_in_segments<T: Record>(items: impl Iterator<Item = T>, segment: usize, fan_in: usize) -> io::Result<Sorted<T>> {
    let segment = segment.max(1);
    // Merging needs two runs at least; one more is open while they are merged.
    let fan_in = fan_in.max(2);
    let mut buffer = Vec::new();
    let mut runs = Vec::new();
    for item in items {
        buffer.push(item);
        if buffer.len() >= segment {
            runs.push(write_run(&mut buffer)?);
            if runs.len() >= fan_in {
                let merged = merge_runs::<T>(std::mem::take(&mut runs))?;
                runs.push(merged);
            }
        }
    }
    if runs.is_empty() {
        buffer.sort_unstable();
        return Ok(Box::new(buffer.into_iter().map(Ok)));
    }
    if !buffer.is_empty() {
        runs.push(write_run(&mut buffer)?);
    }
    Ok(Box::new(Merge::new(runs)?))
}

/// Sorts and empties `buffer` into a new anonymous temporary file, ready to be read from its start.
fn write_run<T: Record>(buffer: &mut Vec<T>) -> io::Result<BufReader<File>> {
    buffer.sort_unstable();
    let mut out = BufWriter::new(tempfile::tempfile()?);
    for item in buffer.drain(..) {
        item.encode(&mut out)?;
    }
    let mut file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(BufReader::new(file))
}

/// The k-way merge of `runs` written to one new run, so their files can be closed. The merged run is
/// rewritten at each later merge; with [`FAN_IN`] runs of [`SEGMENT`] records that is a few passes
/// over the data at 50 million files, against a sort that fails for want of file descriptors.
fn merge_runs<T: Record>(runs: Vec<BufReader<File>>) -> io::Result<BufReader<File>> {
    let mut out = BufWriter::new(tempfile::tempfile()?);
    for item in Merge::<T>::new(runs)? {
        item?.encode(&mut out)?;
    }
    let mut file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(BufReader::new(file))
}

/// The next record of a run, or `None` at its end. The end is where the file ends, not where a record
/// fails to decode: a record cut short is an error, never a quietly shorter run.
fn next_of<T: Record>(run: &mut BufReader<File>) -> io::Result<Option<T>> {
    if run.fill_buf()?.is_empty() {
        return Ok(None);
    }
    T::decode(run).map(Some)
}

/// The k-way merge of sorted runs: a heap holds the smallest unread record of each run.
struct Merge<T> {
    runs: Vec<BufReader<File>>,
    heap: BinaryHeap<Reverse<(T, usize)>>,
    failed: bool,
}

impl<T: Record> Merge<T> {
    fn new(mut runs: Vec<BufReader<File>>) -> io::Result<Merge<T>> {
        let mut heap = BinaryHeap::with_capacity(runs.len());
        for (n, run) in runs.iter_mut().enumerate() {
            if let Some(first) = next_of(run)? {
                heap.push(Reverse((first, n)));
            }
        }
        Ok(Merge {
            runs,
            heap,
            failed: false,
        })
    }
}

impl<T: Record> Iterator for Merge<T> {
    type Item = io::Result<T>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let Reverse((item, n)) = self.heap.pop()?;
        match self.runs.get_mut(n).map(next_of) {
            Some(Ok(Some(next))) => self.heap.push(Reverse((next, n))),
            Some(Ok(None)) | None => {}
            Some(Err(e)) => {
                self.failed = true;
                return Some(Err(e));
            }
        }
        Some(Ok(item))
    }
}

impl Record for FileRecord {
    fn encode<W: Write>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(&self.scope.to_le_bytes())?;
        write_str(w, &self.key)?;
        write_str(w, &self.file.rel)?;
        w.write_all(&self.file.size.to_le_bytes())?;
        w.write_all(&self.file.mtime_ms.to_le_bytes())?;
        w.write_all(&self.destination.to_le_bytes())
    }

    fn decode<R: Read>(r: &mut R) -> io::Result<Self> {
        Ok(FileRecord {
            scope: u32::from_le_bytes(read_array(r)?),
            key: read_str(r)?,
            file: LocalFile {
                rel: read_str(r)?,
                size: u64::from_le_bytes(read_array(r)?),
                mtime_ms: i64::from_le_bytes(read_array(r)?),
            },
            destination: u32::from_le_bytes(read_array(r)?),
        })
    }
}

impl Record for ObjectRecord {
    fn encode<W: Write>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(&self.scope.to_le_bytes())?;
        write_str(w, &self.key)?;
        w.write_all(&self.remote.size.to_le_bytes())?;
        write_str(w, &self.remote.etag)?;
        w.write_all(&self.remote.last_modified_ms.to_le_bytes())
    }

    fn decode<R: Read>(r: &mut R) -> io::Result<Self> {
        Ok(ObjectRecord {
            scope: u32::from_le_bytes(read_array(r)?),
            key: read_str(r)?,
            remote: RemoteEntry {
                size: u64::from_le_bytes(read_array(r)?),
                etag: read_str(r)?,
                last_modified_ms: i64::from_le_bytes(read_array(r)?),
            },
        })
    }
}

/// A string as its length (4 bytes, little-endian) and its UTF-8 bytes.
fn write_str<W: Write>(w: &mut W, s: &str) -> io::Result<()> {
    let len = u32::try_from(s.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "string too long"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(s.as_bytes())
}

fn read_str<R: Read>(r: &mut R) -> io::Result<String> {
    let len = u32::from_le_bytes(read_array(r)?) as usize;
    let mut bytes = vec![0; len];
    r.read_exact(&mut bytes)?;
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn read_array<R: Read, const N: usize>(r: &mut R) -> io::Result<[u8; N]> {
    let mut bytes = [0; N];
    r.read_exact(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(scope: u32, key: &str, rel: &str) -> FileRecord {
        FileRecord {
            scope,
            key: key.into(),
            file: LocalFile {
                rel: rel.into(),
                size: 7,
                mtime_ms: -3,
            },
            destination: 1,
        }
    }

    #[test]
    fn records_spilled_to_disk_come_back_whole_and_in_order() {
        // Keys in an order no thread would produce, non-ASCII among them, over several on-disk runs.
        let mut records: Vec<FileRecord> = (0..2_500u32)
            .map(|i| {
                let key = format!("p/{}/ü{}", (i * 7919) % 2_500, i % 3);
                file(i % 2, &key, &format!("r{i}"))
            })
            .collect();
        let sorted: Vec<FileRecord> = sort_in_segments(records.clone().into_iter(), 300, FAN_IN)
            .expect("sort")
            .collect::<io::Result<_>>()
            .expect("read back");
        records.sort();
        assert_eq!(sorted, records);
    }

    #[test]
    fn a_count_of_records_that_fills_every_run_exactly_loses_none() {
        // 120 records in runs of 8 or of 7 + 1: the last buffer is empty, or one record, when the
        // stream ends (the case extsort 0.5.0 loses everything in), and every other count around them.
        for segment in [1, 7, 8, 119, 120, 121] {
            for count in [0u32, 1, 8, 119, 120, 121] {
                let records: Vec<FileRecord> = (0..count).rev().map(|i| file(0, &format!("k{i:04}"), "r")).collect();
                let sorted: Vec<FileRecord> = sort_in_segments(records.clone().into_iter(), segment, FAN_IN)
                    .expect("sort")
                    .collect::<io::Result<_>>()
                    .expect("read back");
                let mut expected = records;
                expected.sort();
                assert_eq!(sorted, expected, "{count} records in runs of {segment}");
            }
        }
    }

    #[test]
    fn runs_past_the_fan_in_are_merged_and_nothing_is_lost() {
        // 1,000 records in runs of 1 to 7 records with at most 2 to 5 runs open: merges of merges,
        // ending on a full run, a partial one, or right after a merge.
        for fan_in in [2, 3, 5] {
            for segment in [1, 3, 7] {
                for count in [0u32, 1, 6, 7, 8, 999, 1_000] {
                    let records: Vec<FileRecord> = (0..count)
                        .map(|i| file(i % 3, &format!("k{:04}", (i * 7919) % 1_000), &format!("r{i}")))
                        .collect();
                    let sorted: Vec<FileRecord> = sort_in_segments(records.clone().into_iter(), segment, fan_in)
                        .expect("sort")
                        .collect::<io::Result<_>>()
                        .expect("read back");
                    let mut expected = records;
                    expected.sort();
                    assert_eq!(sorted, expected, "{count} records, runs of {segment}, fan-in {fan_in}");
                }
            }
        }
    }

    #[test]
    fn object_records_round_trip_through_their_encoding() {
        let record = ObjectRecord {
            scope: 3,
            key: "a/ß/\u{10FFFF}".into(),
            remote: RemoteEntry {
                size: u64::MAX,
                etag: "abc-2".into(),
                last_modified_ms: i64::MIN,
            },
        };
        let mut bytes = Vec::new();
        record.encode(&mut bytes).expect("encode");
        assert_eq!(ObjectRecord::decode(&mut bytes.as_slice()).expect("decode"), record);
        // A truncated record is an error, not a record with missing fields.
        assert!(ObjectRecord::decode(&mut &bytes[..bytes.len() - 1]).is_err());
    }
}
