//! S3 Inventory reports as a listing for `cost --from inventory`: where the latest report of a bucket's
//! inventory configuration is, its `manifest.json`, and its gzip-compressed CSV files fed to the
//! aggregation. Pure: the reading is `run`'s.

use std::io::BufRead;

use serde::Deserialize;

use super::aggregate::{Aggregator, Listed};
use crate::manifest::types::{Bucket, InventoryFormat, InventoryVersions, Manifest};

/// Why a report cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("bucket.{bucket} has no enabled CSV inventory configuration in the manifest")]
    NoConfiguration { bucket: String },
    #[error(
        "no inventory report under s3://{bucket}/{prefix} (S3 writes the first within 48 hours of the configuration)"
    )]
    NoReport { bucket: String, prefix: String },
    #[error("{key}: {detail}")]
    Manifest { key: String, detail: String },
    #[error("{key}, line {line}: {detail}")]
    Csv { key: String, line: u64, detail: String },
}

/// Where a bucket's reports are: the destination bucket and the prefix its dated reports are under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportLocation {
    pub id: String,
    pub bucket: String,
    /// `DESTINATION-PREFIX/SOURCE-BUCKET/CONFIGURATION-ID/`, as S3 writes them.
    pub prefix: String,
    /// Whether the report lists every version (or only current ones).
    pub all_versions: bool,
}

/// The report location of `bucket` (logical `logical`): its first enabled CSV configuration, preferring
/// one that lists every version.
pub fn location(manifest: &Manifest, logical: &str, bucket: &Bucket) -> Result<ReportLocation, InventoryError> {
    let configs = bucket.inventory.as_deref().unwrap_or_default();
    let usable = configs
        .iter()
        .filter(|c| c.enabled && c.destination.format == InventoryFormat::Csv);
    let chosen = usable
        .clone()
        .find(|c| c.included_versions == InventoryVersions::All)
        .or_else(|| usable.clone().next())
        .ok_or_else(|| InventoryError::NoConfiguration {
            bucket: logical.to_string(),
        })?;
    let destination = &chosen.destination.bucket;
    let destination = match destination.strip_prefix("arn:aws:s3:::") {
        Some(name) => name.to_string(),
        None => manifest
            .buckets
            .get(destination)
            .map_or_else(|| destination.clone(), |b| b.name.clone()),
    };
    let base = chosen
        .destination
        .prefix
        .as_deref()
        .map(|p| p.trim_end_matches('/'))
        .filter(|p| !p.is_empty())
        .map(|p| format!("{p}/"))
        .unwrap_or_default();
    Ok(ReportLocation {
        id: chosen.id.clone(),
        bucket: destination,
        prefix: format!("{base}{}/{}/", bucket.name, chosen.id),
        all_versions: chosen.included_versions == InventoryVersions::All,
    })
}

/// The newest report's `manifest.json` among `keys` under the location: S3 dates the report folders
/// `YYYY-MM-DDTHH-MMZ`, which sort as they date.
pub fn latest_manifest<'k>(
    keys: impl Iterator<Item = &'k str>,
    location: &ReportLocation,
) -> Result<String, InventoryError> {
    keys.filter(|k| {
        k.strip_prefix(location.prefix.as_str())
            .is_some_and(|rest| rest.ends_with("/manifest.json") && rest.matches('/').count() == 1)
    })
    .max()
    .map(str::to_string)
    .ok_or_else(|| InventoryError::NoReport {
        bucket: location.bucket.clone(),
        prefix: location.prefix.clone(),
    })
}

/// What `cost` reads of a report's `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportManifest {
    pub file_format: String,
    /// The CSV columns, comma-separated (`Bucket, Key, VersionId, IsLatest, ...`).
    pub file_schema: String,
    pub files: Vec<ReportFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReportFile {
    pub key: String,
}

/// The CSV columns `cost` uses, by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    key: usize,
    size: usize,
    modified: usize,
    class: Option<usize>,
    latest: Option<usize>,
    marker: Option<usize>,
}

impl ReportManifest {
    pub fn parse(key: &str, text: &[u8]) -> Result<ReportManifest, InventoryError> {
        let m: ReportManifest = serde_json::from_slice(text).map_err(|e| InventoryError::Manifest {
            key: key.to_string(),
            detail: e.to_string(),
        })?;
        if m.file_format != "CSV" {
            return Err(InventoryError::Manifest {
                key: key.to_string(),
                detail: format!("the report is {}, and cost reads CSV reports only", m.file_format),
            });
        }
        Ok(m)
    }

    /// The positions of the columns `cost` needs: `Key`, `Size` and `LastModifiedDate` (optional fields
    /// the configuration must include), and `StorageClass`, `IsLatest` and `IsDeleteMarker` when there.
    pub fn columns(&self, key: &str) -> Result<Columns, InventoryError> {
        let names: Vec<&str> = self.file_schema.split(',').map(str::trim).collect();
        let at = |name: &str| names.iter().position(|n| *n == name);
        let need = |name: &str| {
            at(name).ok_or_else(|| InventoryError::Manifest {
                key: key.to_string(),
                detail: format!(
                    "the report has no {name} column: add it to the inventory configuration's optional_fields"
                ),
            })
        };
        Ok(Columns {
            key: need("Key")?,
            size: need("Size")?,
            modified: need("LastModifiedDate")?,
            class: at("StorageClass"),
            latest: at("IsLatest"),
            marker: at("IsDeleteMarker"),
        })
    }
}

/// Feeds every row of one CSV file (decompressed) to `agg`; returns the rows read.
pub fn feed_csv(
    file_key: &str,
    reader: impl BufRead,
    columns: Columns,
    agg: &mut Aggregator<'_>,
) -> Result<u64, InventoryError> {
    let mut rows = 0;
    // S3 writes RFC 4180 CSV with every field quoted and no header row; the reader skips empty lines.
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut fields = csv::StringRecord::new();
    loop {
        let fail = |line: u64, detail: String| InventoryError::Csv {
            key: file_key.to_string(),
            line,
            detail,
        };
        let more = csv
            .read_record(&mut fields)
            .map_err(|e| fail(e.position().map_or(0, csv::Position::line), e.to_string()))?;
        if !more {
            break;
        }
        let line_no = fields.position().map_or(0, csv::Position::line);
        let fail = |detail: String| fail(line_no, detail);
        let field = |i: usize| fields.get(i).ok_or_else(|| fail(format!("no column {}", i + 1)));
        let optional = |i: Option<usize>| i.and_then(|i| fields.get(i));
        // Inventory CSV keys are URL-encoded.
        let key = percent_encoding::percent_decode_str(&field(columns.key)?.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        let marker = optional(columns.marker) == Some("true");
        let size = match field(columns.size)? {
            "" if marker => 0,
            text => text
                .parse::<u64>()
                .map_err(|_| fail(format!("size `{text}` is not a number")))?,
        };
        let modified = field(columns.modified)?;
        let last_modified_ms =
            parse_date(modified).ok_or_else(|| fail(format!("date `{modified}` is not ISO 8601")))?;
        let class = match optional(columns.class) {
            Some("") | None => "STANDARD",
            Some(class) => class,
        };
        agg.unordered_version(Listed {
            key: &key,
            is_latest: optional(columns.latest) != Some("false"),
            delete_marker: marker,
            size,
            last_modified_ms,
            storage_class: class,
        });
        rows += 1;
    }
    Ok(rows)
}

/// Unix milliseconds of an inventory report's `LastModifiedDate` (RFC 3339, `2026-11-01T00:00:00.000Z`).
fn parse_date(text: &str) -> Option<i64> {
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(parse_date("2026-12-01T00:00:00.000Z"), Some(1_796_083_200_000));
        assert_eq!(parse_date("2024-02-29T12:30:05Z"), Some(1_709_209_805_000));
        assert_eq!(parse_date("2026-13-01T00:00:00Z"), None);
    }

    #[test]
    fn reads_rows_in_any_order_and_says_which_line_is_wrong() {
        let manifest = ReportManifest::parse(
            "m.json",
            br#"{"fileFormat": "CSV", "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, StorageClass", "files": [{"key": "f.csv.gz"}]}"#,
        )
        .expect("manifest");
        let columns = manifest.columns("m.json").expect("columns");
        let now = parse_date("2026-12-01T00:00:00.000Z").expect("now");
        let mut agg = Aggregator::new(&[], now, 180);
        let csv = "\"b\",\"k%2F1\",\"v2\",\"false\",\"false\",\"100\",\"2026-11-01T00:00:00.000Z\",\"STANDARD_IA\"\n\
                   \"b\",\"k%2F1\",\"v3\",\"true\",\"true\",\"\",\"2026-11-20T00:00:00.000Z\",\"\"\n\
                   \"b\",\"k2\",\"v1\",\"true\",\"false\",\"50\",\"2026-11-21T00:00:00.000Z\",\"GLACIER\"\n";
        assert_eq!(feed_csv("f.csv", csv.as_bytes(), columns, &mut agg).expect("rows"), 3);
        let out = agg.finish();
        assert_eq!(
            (out.current.objects, out.noncurrent.objects, out.delete_markers),
            (1, 1, 1)
        );
        assert_eq!(out.by_class["STANDARD_IA"].bytes, 100);
        // A key with a comma and quotes (both quoted by S3, the comma also URL-encoded), after a blank line.
        let mut agg = Aggregator::new(&[], now, 180);
        let csv = "\n\"b\",\"a%2Cb+\"\"q\"\"\",\"v\",\"true\",\"false\",\"7\",\"2026-11-01T00:00:00.000Z\",\"\"\n";
        assert_eq!(feed_csv("f.csv", csv.as_bytes(), columns, &mut agg).expect("rows"), 1);
        assert_eq!(agg.finish().current.bytes, 7);
        let mut agg = Aggregator::new(&[], now, 180);
        let err = feed_csv(
            "f.csv",
            "\"b\",\"k\",\"v\",\"true\",\"false\",\"big\",\"x\",\"\"\n".as_bytes(),
            columns,
            &mut agg,
        )
        .expect_err("bad size");
        assert_eq!(err.to_string(), "f.csv, line 1: size `big` is not a number");
        let no_size = ReportManifest::parse(
            "m.json",
            br#"{"fileFormat": "CSV", "fileSchema": "Bucket, Key", "files": []}"#,
        )
        .expect("manifest");
        assert!(
            no_size
                .columns("m.json")
                .expect_err("no size")
                .to_string()
                .contains("no Size column")
        );
        assert!(ReportManifest::parse("m.json", br#"{"fileFormat": "ORC", "fileSchema": "", "files": []}"#).is_err());
    }
}
