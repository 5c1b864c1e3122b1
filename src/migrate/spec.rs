//! A migration of the manifest, resolved for running: the physical bucket and its region, the prefix,
//! the absolute destination, and the modes. Pure: no I/O.

use std::path::{Path, PathBuf};

use crate::manifest::types::{DeleteSource, Manifest, Migration, MigrationVersions, RestoreTier, VerifyMode};

/// A migration ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationSpec {
    pub name: String,
    /// The source bucket's logical name (its key under `buckets`) and physical name.
    pub logical: String,
    pub bucket: String,
    pub region: String,
    pub prefix: String,
    /// Absolute destination directory.
    pub destination: PathBuf,
    pub versions: MigrationVersions,
    pub tier: RestoreTier,
    pub days: u32,
    pub max_in_flight: usize,
    pub verify: VerifyMode,
    pub delete_source: DeleteSource,
}

/// Why a migration cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("migration `{migration}` reads bucket `{bucket}`, which the manifest does not define")]
    UnknownBucket { migration: String, bucket: String },
}

impl MigrationSpec {
    /// Resolves migration `name` of `manifest`. A relative destination is relative to `root` (the
    /// project root), as sync sources are.
    pub fn new(
        manifest: &Manifest,
        name: &str,
        migration: &Migration,
        root: &Path,
        default_region: &str,
    ) -> Result<MigrationSpec, SpecError> {
        let bucket = manifest
            .buckets
            .get(&migration.bucket)
            .ok_or_else(|| SpecError::UnknownBucket {
                migration: name.to_string(),
                bucket: migration.bucket.clone(),
            })?;
        let effective = crate::manifest::check::effective_bucket(manifest, bucket);
        let destination = Path::new(&migration.destination);
        Ok(MigrationSpec {
            name: name.to_string(),
            logical: migration.bucket.clone(),
            bucket: bucket.name.clone(),
            region: effective.region.clone().unwrap_or_else(|| default_region.to_string()),
            prefix: migration.prefix.clone(),
            destination: if destination.is_absolute() {
                destination.to_path_buf()
            } else {
                root.join(destination)
            },
            versions: migration.versions,
            tier: migration.restore.tier,
            days: migration.restore.days,
            max_in_flight: usize::try_from(migration.restore.max_in_flight).unwrap_or(usize::MAX),
            verify: migration.verify,
            delete_source: migration.delete_source,
        })
    }

    /// The retrieval tier for an object of `storage_class`: Deep Archive has no Expedited retrieval,
    /// so it gets Standard (the next fastest) instead of a request AWS would refuse.
    pub fn tier_for(&self, storage_class: &str) -> RestoreTier {
        match (storage_class, self.tier) {
            ("DEEP_ARCHIVE", RestoreTier::Expedited) => RestoreTier::Standard,
            (_, tier) => tier,
        }
    }

    /// `versions` as the state records it.
    pub fn versions_name(&self) -> &'static str {
        match self.versions {
            MigrationVersions::Current => "current",
            MigrationVersions::All => "all",
        }
    }
}

/// Whether objects of `storage_class` must be restored before they can be read. Glacier Instant
/// Retrieval reads like Standard-IA; Intelligent-Tiering objects are readable unless they sit in an
/// archive tier, which only a HEAD or a refused GET tells (the run learns it from the GET).
pub fn needs_restore(storage_class: &str) -> bool {
    matches!(storage_class, "GLACIER" | "DEEP_ARCHIVE")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(yaml: &str) -> Manifest {
        crate::manifest::load::valid_for_tests(yaml)
    }

    #[test]
    fn resolves_buckets_regions_destinations_and_tiers() {
        let m = manifest(
            r#"
environment: dev
aws:
  region: eu-west-1
buckets:
  old:
    name: old-logs-dev
migrations:
  retire:
    bucket: old
    prefix: logs/
    destination: archive/old
    restore: { tier: Expedited }
"#,
        );
        let spec =
            MigrationSpec::new(&m, "retire", &m.migrations["retire"], Path::new("/proj"), "eu-west-1").expect("spec");
        assert_eq!(spec.bucket, "old-logs-dev");
        assert_eq!(spec.region, "eu-west-1");
        assert_eq!(spec.destination, PathBuf::from("/proj/archive/old"));
        assert_eq!(spec.tier_for("GLACIER"), RestoreTier::Expedited);
        assert_eq!(spec.tier_for("DEEP_ARCHIVE"), RestoreTier::Standard);
        assert_eq!(spec.days, 7);
        assert!(needs_restore("DEEP_ARCHIVE") && !needs_restore("GLACIER_IR"));
    }

    #[test]
    fn an_unknown_bucket_is_an_error() {
        let mut m = manifest(
            r#"
environment: dev
buckets:
  old: { name: old-dev }
migrations:
  retire: { bucket: old, destination: /x }
"#,
        );
        // The validator refuses unknown buckets; the spec must not rely on that.
        m.migrations["retire"].bucket = "nope".into();
        let err = MigrationSpec::new(&m, "retire", &m.migrations["retire"], Path::new("/"), "us-east-1")
            .expect_err("unknown");
        assert!(err.to_string().contains("`nope`"));
    }
}
