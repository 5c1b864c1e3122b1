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
        tier_for(self.tier, storage_class)
    }

    /// `versions` as the state records it.
    pub fn versions_name(&self) -> &'static str {
        match self.versions {
            MigrationVersions::Current => "current",
            MigrationVersions::All => "all",
        }
    }
}

/// A `--confirm-delete` name that is not the source bucket of any migration of the manifest. Deletes are
/// confirmed by the physical bucket name, so a typo, or the migration's or the bucket's logical name,
/// would otherwise confirm nothing and leave the operator believing the delete was allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--confirm-delete `{name}` is not the source bucket of any migration")]
pub struct UnknownConfirmation {
    /// The name given.
    pub name: String,
    /// The migration whose name or logical bucket `name` is, with that migration's physical bucket: what
    /// the operator most likely meant.
    pub meant: Option<(String, String)>,
    /// Every migration's physical source bucket, sorted: the names `--confirm-delete` accepts.
    pub buckets: Vec<String>,
}

/// Checks every `--confirm-delete` name against the source buckets of the manifest's migrations (all of
/// them, not only those this run works on, so one scripted list can serve several runs).
pub fn check_confirmations(manifest: &Manifest, confirmed: &[String]) -> Result<(), UnknownConfirmation> {
    // Migration name → physical bucket; a migration whose bucket the manifest lacks has no name to confirm.
    let sources: Vec<(&str, &str, &str)> = manifest
        .migrations
        .iter()
        .filter_map(|(name, m)| {
            let bucket = manifest.buckets.get(&m.bucket)?;
            Some((name.as_str(), m.bucket.as_str(), bucket.name.as_str()))
        })
        .collect();
    let Some(name) = confirmed
        .iter()
        .find(|name| !sources.iter().any(|(_, _, bucket)| bucket == name))
    else {
        return Ok(());
    };
    let meant = sources
        .iter()
        .find(|(migration, logical, _)| migration == name || logical == name)
        .map(|(migration, _, bucket)| (migration.to_string(), bucket.to_string()));
    let mut buckets: Vec<String> = sources.iter().map(|(_, _, bucket)| bucket.to_string()).collect();
    buckets.sort();
    buckets.dedup();
    Err(UnknownConfirmation {
        name: name.clone(),
        meant,
        buckets,
    })
}

/// The retrieval tier for an object of `storage_class` when `tier` is asked for: Deep Archive has no
/// Expedited retrieval, so it gets Standard (the next fastest) instead of a request AWS would refuse.
pub fn tier_for(tier: RestoreTier, storage_class: &str) -> RestoreTier {
    match (storage_class, tier) {
        ("DEEP_ARCHIVE", RestoreTier::Expedited) => RestoreTier::Standard,
        (_, tier) => tier,
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
    fn confirmations_must_name_a_migration_s_source_bucket() {
        let m = manifest(
            r#"
environment: dev
buckets:
  old: { name: old-dev }
  photos: { name: photos-dev }
  other: { name: other-dev }
migrations:
  retire: { bucket: old, destination: /x }
  pictures: { bucket: photos, destination: /y }
"#,
        );
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(check_confirmations(&m, &[]), Ok(()));
        assert_eq!(check_confirmations(&m, &names(&["photos-dev", "old-dev"])), Ok(()));

        let err = check_confirmations(&m, &names(&["old-dev", "other-dev"])).expect_err("no migration's bucket");
        assert_eq!(err.name, "other-dev");
        assert_eq!(err.meant, None);
        assert_eq!(err.buckets, ["old-dev", "photos-dev"]);

        // The migration's name or the bucket's logical name points at the physical name to give instead.
        let err = check_confirmations(&m, &names(&["pictures"])).expect_err("a migration's name");
        assert_eq!(err.meant, Some(("pictures".to_string(), "photos-dev".to_string())));
        let err = check_confirmations(&m, &names(&["old"])).expect_err("a logical bucket name");
        assert_eq!(err.meant, Some(("retire".to_string(), "old-dev".to_string())));
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
