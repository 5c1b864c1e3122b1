//! S3 Intelligent-Tiering archive configurations: which objects of the INTELLIGENT_TIERING storage
//! class move into the optional Archive Access and Deep Archive Access tiers, and after how many days
//! without access. The document is the whole set of a bucket's configurations, like inventory: a
//! configuration the manifest does not name is removed when the section is managed.
//!
//! Everything about the kind that is not an SDK call lives here: the descriptor, the value type, the
//! marker [`IntelligentTiering`] implementing [`Kind`] (canonical form, the manifest section → value
//! mapping and back for import) and the checks of S3's limits that the schema cannot say (tier-specific
//! day ranges, one tiering per tier, deep archive after archive, unique IDs). The SDK side is
//! `aws::kinds::intelligent_tiering`.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::{ApiCall, DocAccess, ImportRefs, Kind, KindProblem, KindSpec};
use crate::manifest::diagnostic::Problem;
use crate::manifest::types::{
    Bucket, IntelligentTiering as ManifestTiering, IntelligentTieringAccessTier, IntelligentTieringFilter,
    IntelligentTieringTier,
};
use crate::model::DocKind;
use crate::model::desired::{Context, DesiredError};

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::IntelligentTiering,
    name: "intelligent_tiering",
    manifest_field: "intelligent_tiering",
    access: DocAccess {
        kind: DocKind::IntelligentTiering,
        // As for inventory, the (paginated) listing is the only call that reads every configuration;
        // the Service Authorization Reference authorises it with s3:GetIntelligentTieringConfiguration,
        // and both Put and Delete with s3:PutIntelligentTieringConfiguration.
        read_operation: "ListBucketIntelligentTieringConfigurations",
        read_action: "s3:GetIntelligentTieringConfiguration",
        write_actions: &["s3:PutIntelligentTieringConfiguration"],
        write_calls: &[PUT, DELETE],
    },
    // A bucket without configurations lists none; there is no "not configured" error.
    not_configured: &[],
    preconfigured_by_aws: false,
    render_root: "intelligent_tiering",
    after_own: &[],
    after_target: &[],
};

/// Creates or replaces one configuration.
pub const PUT: ApiCall = ApiCall {
    operation: "PutBucketIntelligentTieringConfiguration",
    action: "s3:PutIntelligentTieringConfiguration",
};

/// Removes one configuration (S3 authorises it with the put action).
pub const DELETE: ApiCall = ApiCall {
    operation: "DeleteBucketIntelligentTieringConfiguration",
    action: "s3:PutIntelligentTieringConfiguration",
};

/// S3's day limits of each archive tier, inclusive.
const ARCHIVE_DAYS: (u32, u32) = (90, 730);
const DEEP_ARCHIVE_DAYS: (u32, u32) = (180, 730);

/// S3's limit of intelligent-tiering configurations per bucket.
const MAX_CONFIGURATIONS: usize = 1000;

/// One intelligent-tiering configuration in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TieringConfigDoc {
    pub id: String,
    pub enabled: bool,
    /// The filter: only keys under this prefix.
    pub prefix: Option<String>,
    /// The filter: only objects with all these tags.
    pub tags: BTreeMap<String, String>,
    /// Sorted by access tier.
    pub tierings: Vec<TierDoc>,
}

/// One archive tier and the days without access before an object moves into it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TierDoc {
    /// `ARCHIVE_ACCESS` or `DEEP_ARCHIVE_ACCESS`.
    pub access_tier: String,
    pub days: u32,
}

/// Sorted by ID, tierings by access tier, an empty prefix as absent: S3 keeps no order and may answer an
/// absent filter as an empty prefix.
pub fn canonical(mut configs: Vec<TieringConfigDoc>) -> Vec<TieringConfigDoc> {
    for c in &mut configs {
        c.tierings.sort();
        if c.prefix.as_deref() == Some("") {
            c.prefix = None;
        }
    }
    configs.sort_by(|a, b| a.id.cmp(&b.id));
    configs
}

/// The manifest's name of a value, which is S3's (the manifest enum serializes to S3's spelling).
fn s3_name(tier: IntelligentTieringAccessTier) -> String {
    serde_json::to_value(tier)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The manifest's access tier of S3's name, or why the manifest cannot hold it.
fn tier_of_s3_name(name: &str) -> Result<IntelligentTieringAccessTier, String> {
    serde_json::from_value(Json::String(name.to_string()))
        .map_err(|_| format!("the manifest has no intelligent-tiering access tier `{name}`"))
}

/// The manifest's `intelligent_tiering:` section as the canonical document.
pub fn from_manifest(section: &[ManifestTiering]) -> Vec<TieringConfigDoc> {
    canonical(
        section
            .iter()
            .map(|c| {
                let filter = c.filter.clone().unwrap_or_default();
                TieringConfigDoc {
                    id: c.id.clone(),
                    enabled: c.enabled,
                    prefix: filter.prefix,
                    tags: filter.tags.into_iter().collect(),
                    tierings: c
                        .tierings
                        .iter()
                        .map(|t| TierDoc {
                            access_tier: s3_name(t.access_tier),
                            days: t.days,
                        })
                        .collect(),
                }
            })
            .collect(),
    )
}

/// The live configurations as the manifest's section (import).
pub fn to_manifest(configs: &[TieringConfigDoc]) -> Result<Vec<ManifestTiering>, String> {
    configs
        .iter()
        .map(|c| {
            let filter = (c.prefix.is_some() || !c.tags.is_empty()).then(|| IntelligentTieringFilter {
                prefix: c.prefix.clone(),
                tags: c.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            });
            Ok(ManifestTiering {
                id: c.id.clone(),
                filter,
                tierings: c
                    .tierings
                    .iter()
                    .map(|t| {
                        Ok(IntelligentTieringTier {
                            access_tier: tier_of_s3_name(&t.access_tier)?,
                            days: t.days,
                        })
                    })
                    .collect::<Result<_, String>>()?,
                enabled: c.enabled,
            })
        })
        .collect()
}

/// S3's limits on one bucket's section, as problems placed below the bucket.
pub fn check_section(section: &[ManifestTiering]) -> Vec<KindProblem> {
    let mut out = Vec::new();
    let mut push = |pointer: String, on_key: bool, problem: Problem| {
        out.push(KindProblem {
            problem,
            pointer,
            on_key,
        });
    };
    if section.len() > MAX_CONFIGURATIONS {
        push(
            "intelligent_tiering".into(),
            true,
            Problem::error(
                "intelligent-tiering",
                "S3 allows at most 1,000 intelligent-tiering configurations per bucket",
            ),
        );
    }
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (i, c) in section.iter().enumerate() {
        let at = format!("intelligent_tiering/{i}");
        if c.id.is_empty() {
            push(
                format!("{at}/id"),
                false,
                Problem::error("intelligent-tiering", "an intelligent-tiering configuration needs a non-empty `id`")
                    .with_hint("give the configuration an `id` unique within the bucket"),
            );
        } else if let Some(first) = ids.insert(c.id.as_str(), i) {
            push(
                format!("{at}/id"),
                false,
                Problem::error(
                    "duplicate-intelligent-tiering-id",
                    format!(
                        "intelligent-tiering ID `{}` is already used by configuration {first}",
                        c.id
                    ),
                )
                .with_hint("intelligent-tiering IDs must be unique within a bucket; S3 keeps one configuration per ID"),
            );
        }
        if c.tierings.is_empty() {
            push(
                format!("{at}/tierings"),
                true,
                Problem::error(
                    "intelligent-tiering",
                    format!("intelligent-tiering configuration `{}` has no tiering", c.id),
                )
                .with_hint("add `{ access_tier: ARCHIVE_ACCESS, days: 90 }` or `{ access_tier: DEEP_ARCHIVE_ACCESS, days: 180 }`, or remove the configuration"),
            );
        }
        let mut seen: BTreeMap<IntelligentTieringAccessTier, u32> = BTreeMap::new();
        for (j, t) in c.tierings.iter().enumerate() {
            let tier_at = format!("{at}/tierings/{j}");
            let name = s3_name(t.access_tier);
            let (min, max) = match t.access_tier {
                IntelligentTieringAccessTier::ArchiveAccess => ARCHIVE_DAYS,
                IntelligentTieringAccessTier::DeepArchiveAccess => DEEP_ARCHIVE_DAYS,
            };
            if !(min..=max).contains(&t.days) {
                push(
                    format!("{tier_at}/days"),
                    false,
                    Problem::error(
                        "intelligent-tiering-days",
                        format!("{name} after {} days is outside S3's range of {min} to {max} days", t.days),
                    )
                    .with_hint(format!("set `days` of {name} between {min} and {max}")),
                );
            }
            // The first tiering of a tier is the one the later checks compare against.
            if let std::collections::btree_map::Entry::Vacant(first) = seen.entry(t.access_tier) {
                first.insert(t.days);
            } else {
                push(
                    format!("{tier_at}/access_tier"),
                    false,
                    Problem::error(
                        "intelligent-tiering",
                        format!("configuration `{}` names {name} twice", c.id),
                    )
                    .with_hint("S3 takes at most one tiering per access tier: keep one"),
                );
            }
        }
        if let (Some(archive), Some(deep)) = (
            seen.get(&IntelligentTieringAccessTier::ArchiveAccess),
            seen.get(&IntelligentTieringAccessTier::DeepArchiveAccess),
        ) && deep <= archive
        {
            let j = c
                .tierings
                .iter()
                .position(|t| t.access_tier == IntelligentTieringAccessTier::DeepArchiveAccess)
                .unwrap_or_default();
            push(
                format!("{at}/tierings/{j}/days"),
                false,
                Problem::error(
                    "intelligent-tiering-days",
                    format!(
                        "DEEP_ARCHIVE_ACCESS after {deep} days must come after ARCHIVE_ACCESS ({archive} days) in configuration `{}`",
                        c.id
                    ),
                )
                .with_hint("give DEEP_ARCHIVE_ACCESS more days than ARCHIVE_ACCESS"),
            );
        }
    }
    out
}

/// The intelligent-tiering kind: the marker type the registry dispatches to.
pub struct IntelligentTiering;

impl Kind for IntelligentTiering {
    type Value = Vec<TieringConfigDoc>;
    const SPEC: KindSpec = SPEC;

    fn unconfigured() -> Vec<TieringConfigDoc> {
        Vec::new()
    }

    fn canonical(configs: Vec<TieringConfigDoc>) -> Vec<TieringConfigDoc> {
        canonical(configs)
    }

    fn desired(_ctx: &Context<'_>, _logical: &str, b: &Bucket) -> Result<Option<Self::Value>, DesiredError> {
        Ok(b.intelligent_tiering.as_deref().map(from_manifest))
    }

    fn to_manifest(
        configs: &Self::Value,
        bucket: &mut Bucket,
        _physical: &str,
        _refs: &ImportRefs<'_>,
    ) -> Result<(), String> {
        bucket.intelligent_tiering = Some(to_manifest(configs)?);
        Ok(())
    }

    fn check(own: &Bucket, _effective: &Bucket) -> Vec<KindProblem> {
        own.intelligent_tiering.as_deref().map(check_section).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(access_tier: &str, days: u32) -> TierDoc {
        TierDoc {
            access_tier: access_tier.into(),
            days,
        }
    }

    fn config(id: &str) -> TieringConfigDoc {
        TieringConfigDoc {
            id: id.into(),
            enabled: true,
            prefix: None,
            tags: BTreeMap::new(),
            tierings: vec![tier("DEEP_ARCHIVE_ACCESS", 180), tier("ARCHIVE_ACCESS", 90)],
        }
    }

    fn bucket(yaml: &str) -> Bucket {
        let m = crate::manifest::load::valid_for_tests(&format!(
            "environment: dev\nbuckets:\n  data:\n    name: acme-data-dev\n{yaml}"
        ));
        m.buckets["data"].clone()
    }

    #[test]
    fn canonical_sorts_configurations_and_tierings_and_drops_an_empty_prefix() {
        let mut b = config("b");
        b.prefix = Some(String::new());
        let out = canonical(vec![b, config("a")]);
        assert_eq!(out.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            out[0].tierings,
            [tier("ARCHIVE_ACCESS", 90), tier("DEEP_ARCHIVE_ACCESS", 180)]
        );
        assert_eq!(out[1].prefix, None);
        assert_eq!(canonical(out.clone()), out, "canonical is idempotent");
    }

    #[test]
    fn the_manifest_section_becomes_the_canonical_document_and_back() {
        let b = bucket(
            "    intelligent_tiering:
      - id: logs
        filter: { prefix: logs/, tags: { class: cold, team: data } }
        tierings:
          - { access_tier: DEEP_ARCHIVE_ACCESS, days: 365 }
          - { access_tier: ARCHIVE_ACCESS, days: 120 }
      - id: all
        enabled: false
        tierings: [{ access_tier: ARCHIVE_ACCESS, days: 90 }]
",
        );
        let section = b.intelligent_tiering.as_ref().unwrap();
        let configs = from_manifest(section);
        assert_eq!(configs[0].id, "all");
        assert!(!configs[0].enabled);
        assert_eq!(configs[0].prefix, None);
        assert_eq!(configs[1].prefix.as_deref(), Some("logs/"));
        assert_eq!(configs[1].tags.len(), 2);
        assert_eq!(
            configs[1].tierings,
            [tier("ARCHIVE_ACCESS", 120), tier("DEEP_ARCHIVE_ACCESS", 365)]
        );
        assert!(check_section(section).is_empty());
        let back = to_manifest(&configs).unwrap();
        assert!(back[0].filter.is_none(), "no filter is written as none");
        assert_eq!(from_manifest(&back), configs, "back through the model gives the same document");
        assert!(to_manifest(&[TieringConfigDoc {
            tierings: vec![tier("FROZEN_ACCESS", 90)],
            ..config("x")
        }])
        .unwrap_err()
        .contains("FROZEN_ACCESS"));
    }

    /// Absent is unmanaged, `[]` manages "none", as for inventory.
    #[test]
    fn an_absent_section_is_unmanaged_and_an_empty_one_manages_none() {
        let m = crate::manifest::load::valid_for_tests("environment: dev\nbuckets:\n  data:\n    name: acme-data-dev\n");
        let ctx = Context {
            manifest: &m,
            account_id: Some("123456789012"),
            default_region: "us-east-1",
        };
        assert_eq!(
            IntelligentTiering::desired(&ctx, "data", &m.buckets["data"]).unwrap(),
            None
        );
        let empty = bucket("    intelligent_tiering: []\n");
        assert_eq!(
            IntelligentTiering::desired(&ctx, "data", &empty).unwrap(),
            Some(Vec::new())
        );
    }

    #[test]
    fn s3_limits_are_checked_with_a_pointer_and_a_hint() {
        let t = |access_tier, days| IntelligentTieringTier { access_tier, days };
        let section = vec![
            ManifestTiering {
                id: "a".into(),
                filter: None,
                tierings: vec![
                    t(IntelligentTieringAccessTier::ArchiveAccess, 200),
                    t(IntelligentTieringAccessTier::DeepArchiveAccess, 150),
                    t(IntelligentTieringAccessTier::ArchiveAccess, 300),
                ],
                enabled: true,
            },
            ManifestTiering {
                id: "a".into(),
                filter: None,
                tierings: Vec::new(),
                enabled: true,
            },
        ];
        let problems = check_section(&section);
        let at: Vec<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
        assert_eq!(
            at,
            [
                "intelligent_tiering/0/tierings/1/days",
                "intelligent_tiering/0/tierings/2/access_tier",
                "intelligent_tiering/0/tierings/1/days",
                "intelligent_tiering/1/id",
                "intelligent_tiering/1/tierings",
            ],
            "{problems:#?}"
        );
        assert!(problems.iter().all(|p| p.problem.hint.is_some()), "{problems:#?}");
    }
}
