//! S3 Inventory configurations: daily or weekly reports of a bucket's objects, written into a
//! destination bucket. The document is the whole set of a bucket's configurations, like notifications:
//! a configuration the manifest does not name is removed when the section is managed.
//!
//! S3 checks nothing about the destination when the configuration is written, but delivers a report
//! only if the destination's policy lets the `s3.amazonaws.com` service principal write it; so, as for
//! server access logs, a destination managed by s3rec gets that statement generated
//! ([`delivery_statements`]), and an inventory change waits for the destination's policy in the graph.
//!
//! Everything about the kind that is not an SDK call lives here: the descriptor, the value type, and the
//! marker [`Inventory`] implementing [`Kind`] (canonical form, the manifest section → value mapping and
//! back for import, the buckets it refers to), plus the generated delivery statement, which
//! `model::desired`'s policy builder adds to the destination's policy. The SDK side is
//! `aws::kinds::inventory`; the checks that need the whole manifest (a destination's existence and
//! region) are the rule `manifest::check::inventory`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::{ApiCall, DocAccess, ImportRefs, Kind, KindSpec};
use crate::manifest::types::{
    Bucket, Inventory as ManifestInventory, InventoryDestination, InventoryField, InventoryFormat, InventorySchedule,
    InventoryVersions, Manifest,
};
use crate::model::desired::{Context, DesiredError, physical_bucket};
use crate::model::{DocKind, bucket_arn};

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::Inventory,
    name: "inventory",
    manifest_field: "inventory",
    access: DocAccess {
        kind: DocKind::Inventory,
        // S3 has no call that reads every configuration at once but the (paginated) listing; the
        // Service Authorization Reference authorises it, like GetBucketInventoryConfiguration, with
        // s3:GetInventoryConfiguration, and both Put and Delete with s3:PutInventoryConfiguration.
        read_operation: "ListBucketInventoryConfigurations",
        read_action: "s3:GetInventoryConfiguration",
        write_actions: &["s3:PutInventoryConfiguration"],
        write_calls: &[PUT, DELETE],
    },
    // A bucket without configurations lists none; there is no "not configured" error.
    not_configured: &[],
    preconfigured_by_aws: false,
    render_root: "inventory",
    after_own: &[],
    after_target: &[DocKind::Policy],
};

/// Puts one configuration by ID.
pub const PUT: ApiCall = ApiCall {
    operation: "PutBucketInventoryConfiguration",
    action: "s3:PutInventoryConfiguration",
};

/// Deletes one configuration by ID (S3 authorises the delete with the put action).
pub const DELETE: ApiCall = ApiCall {
    operation: "DeleteBucketInventoryConfiguration",
    action: "s3:PutInventoryConfiguration",
};

/// The service principal that delivers inventory reports (and Storage Class Analysis exports).
pub const DELIVERY_SERVICE: &str = "s3.amazonaws.com";

/// The `Sid` of the generated delivery statement (numbered when there are several prefixes).
const DELIVERY_SID: &str = "AllowS3InventoryReports";

/// One inventory configuration in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryConfigDoc {
    pub id: String,
    pub enabled: bool,
    /// ARN of the destination bucket (`arn:aws:s3:::NAME`), as S3 takes and answers it.
    pub destination_bucket_arn: String,
    /// The account that must own the destination bucket, when the configuration says.
    pub destination_account: Option<String>,
    pub destination_prefix: Option<String>,
    /// `CSV`, `ORC` or `Parquet`.
    pub format: String,
    /// `Daily` or `Weekly`.
    pub schedule: String,
    /// `All` or `Current`.
    pub included_versions: String,
    /// S3's field names, sorted and without repeats.
    pub optional_fields: Vec<String>,
    /// The filter: only keys under this prefix.
    pub prefix: Option<String>,
}

/// Sorted by ID, optional fields sorted and deduplicated, empty prefixes and accounts as absent: S3
/// keeps no order and answers an absent filter as an empty prefix.
pub fn canonical(mut configs: Vec<InventoryConfigDoc>) -> Vec<InventoryConfigDoc> {
    for c in &mut configs {
        c.optional_fields.sort();
        c.optional_fields.dedup();
        for value in [&mut c.prefix, &mut c.destination_prefix, &mut c.destination_account] {
            if value.as_deref() == Some("") {
                *value = None;
            }
        }
    }
    configs.sort_by(|a, b| a.id.cmp(&b.id));
    configs
}

/// The manifest's name of a value, which is S3's (the manifest enums serialize to S3's spelling).
fn s3_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A manifest value from S3's name, or why the manifest cannot hold it.
fn from_s3_name<T: for<'de> Deserialize<'de>>(name: &str, what: &str) -> Result<T, String> {
    serde_json::from_value(Json::String(name.to_string())).map_err(|_| format!("the manifest has no {what} `{name}`"))
}

/// Whether an inventory destination names a bucket by ARN (outside the manifest) rather than by
/// logical name.
pub fn is_arn(bucket: &str) -> bool {
    bucket.starts_with("arn:")
}

/// The physical name of the bucket an ARN names (`arn:aws:s3:::NAME` → `NAME`).
fn bucket_of_arn(arn: &str) -> Option<&str> {
    arn.rsplit_once(":::").map(|(_, name)| name).filter(|n| !n.is_empty())
}

/// The manifest's `inventory:` section of bucket `logical` as the canonical document: destinations by
/// logical name resolved to their bucket's ARN, ARNs kept as written.
pub fn from_manifest(
    ctx: &Context<'_>,
    logical: &str,
    section: &[ManifestInventory],
) -> Result<Vec<InventoryConfigDoc>, DesiredError> {
    let place = format!("bucket.{logical}.inventory");
    let mut configs = Vec::with_capacity(section.len());
    for c in section {
        let destination_bucket_arn = if is_arn(&c.destination.bucket) {
            c.destination.bucket.clone()
        } else {
            bucket_arn(&physical_bucket(ctx, &c.destination.bucket, &place)?)
        };
        configs.push(InventoryConfigDoc {
            id: c.id.clone(),
            enabled: c.enabled,
            destination_bucket_arn,
            destination_account: c.destination.account.clone(),
            destination_prefix: c.destination.prefix.clone(),
            format: s3_name(&c.destination.format),
            schedule: s3_name(&c.schedule),
            included_versions: s3_name(&c.included_versions),
            optional_fields: c.optional_fields.iter().map(s3_name).collect(),
            prefix: c.prefix.clone(),
        });
    }
    Ok(canonical(configs))
}

/// The live configurations as the manifest's section (import): a destination the import includes is
/// named by its logical name (`logical_of` maps physical names), any other by its ARN.
pub fn to_manifest(
    configs: &[InventoryConfigDoc],
    logical_of: impl Fn(&str) -> Option<String>,
) -> Result<Vec<ManifestInventory>, String> {
    configs
        .iter()
        .map(|c| {
            let bucket = bucket_of_arn(&c.destination_bucket_arn)
                .and_then(&logical_of)
                .unwrap_or_else(|| c.destination_bucket_arn.clone());
            Ok(ManifestInventory {
                id: c.id.clone(),
                destination: InventoryDestination {
                    bucket,
                    prefix: c.destination_prefix.clone(),
                    format: from_s3_name::<InventoryFormat>(&c.format, "inventory format")?,
                    account: c.destination_account.clone(),
                },
                schedule: from_s3_name::<InventorySchedule>(&c.schedule, "inventory schedule")?,
                included_versions: from_s3_name::<InventoryVersions>(&c.included_versions, "inventory version choice")?,
                optional_fields: c
                    .optional_fields
                    .iter()
                    .map(|f| from_s3_name::<InventoryField>(f, "inventory optional field"))
                    .collect::<Result<_, _>>()?,
                prefix: c.prefix.clone(),
                enabled: c.enabled,
            })
        })
        .collect()
}

/// Physical names of the destination buckets.
pub fn referenced_buckets(configs: &[InventoryConfigDoc]) -> Vec<String> {
    configs
        .iter()
        .filter_map(|c| bucket_of_arn(&c.destination_bucket_arn).map(str::to_string))
        .collect()
}

/// The inventory kind: the marker type the registry dispatches to.
pub struct Inventory;

impl Kind for Inventory {
    type Value = Vec<InventoryConfigDoc>;
    const SPEC: KindSpec = SPEC;

    fn unconfigured() -> Vec<InventoryConfigDoc> {
        Vec::new()
    }

    fn canonical(configs: Vec<InventoryConfigDoc>) -> Vec<InventoryConfigDoc> {
        canonical(configs)
    }

    fn desired(ctx: &Context<'_>, logical: &str, b: &Bucket) -> Result<Option<Self::Value>, DesiredError> {
        b.inventory
            .as_deref()
            .map(|section| from_manifest(ctx, logical, section))
            .transpose()
    }

    fn referenced_buckets(configs: &Self::Value) -> Vec<String> {
        referenced_buckets(configs)
    }

    fn to_manifest(
        configs: &Self::Value,
        bucket: &mut Bucket,
        _physical: &str,
        refs: &ImportRefs<'_>,
    ) -> Result<(), String> {
        bucket.inventory = Some(to_manifest(configs, |physical| {
            refs.names.logical(physical).map(str::to_string)
        })?);
        Ok(())
    }
}

/// The buckets whose reports go to bucket `target` (logical name): each source's physical name and the
/// report prefix in the target.
pub fn delivery_sources(manifest: &Manifest, target: &str) -> Vec<(String, String)> {
    manifest
        .buckets
        .values()
        .flat_map(|b| {
            b.inventory
                .iter()
                .flatten()
                .filter(|c| c.destination.bucket == target)
                .map(|c| (b.name.clone(), c.destination.prefix.clone().unwrap_or_default()))
        })
        .collect()
}

/// The statements that let S3 write the inventory reports of `sources` into bucket `name`, as AWS
/// documents them ("Creating a destination bucket policy"): one per report prefix, allowing
/// `s3.amazonaws.com` s3:PutObject under it, limited by `aws:SourceArn` to those source buckets, by
/// `aws:SourceAccount` to this account, and to writes that give the bucket owner full control. A source
/// whose delivery the raw statements already allow gets none, so a hand-written statement keeps working.
pub fn delivery_statements(
    ctx: &Context<'_>,
    name: &str,
    sources: &[(String, String)],
    raw: &[Json],
    place: &str,
) -> Result<Vec<Json>, DesiredError> {
    use crate::findings::policy::{Caller, Decision, Policy, Request};
    if sources.is_empty() {
        return Ok(Vec::new());
    }
    let account = ctx.account_id.ok_or_else(|| DesiredError::AccountUnknown {
        what: place.to_string(),
    })?;
    let written = Policy::parse(&json!({"Statement": raw})).unwrap_or_default();
    let arn = bucket_arn(name);
    // Statements are numbered by their prefix's place among every prefix of the sources, including
    // those a raw statement already serves, so a statement's Sid does not depend on which others are
    // generated (import removes written ones one at a time and compares with what the model makes).
    let all_prefixes: BTreeMap<&str, usize> = sources
        .iter()
        .map(|(_, p)| p.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .enumerate()
        .map(|(i, p)| (p, i + 1))
        .collect();
    let many = all_prefixes.len() > 1;
    let mut by_prefix: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (source, prefix) in sources {
        let object = format!("{arn}/{prefix}s3rec-inventory-object");
        let already = written.decide(&Request {
            caller: Caller::Service(DELIVERY_SERVICE),
            action: "s3:PutObject",
            resource: &object,
            context: vec![
                ("aws:sourcearn".into(), bucket_arn(source)),
                ("aws:sourceaccount".into(), account.to_string()),
                ("s3:x-amz-acl".into(), "bucket-owner-full-control".into()),
                ("aws:securetransport".into(), "true".into()),
            ],
        }) == Decision::Allow;
        if !already {
            by_prefix.entry(prefix.as_str()).or_default().push(bucket_arn(source));
        }
    }
    Ok(by_prefix
        .into_iter()
        .map(|(prefix, mut source_arns)| {
            source_arns.sort();
            source_arns.dedup();
            let sid = if many {
                format!(
                    "{DELIVERY_SID}{}",
                    all_prefixes.get(prefix).copied().unwrap_or_default()
                )
            } else {
                DELIVERY_SID.to_string()
            };
            json!({
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"Service": DELIVERY_SERVICE},
                "Action": "s3:PutObject",
                "Resource": format!("{arn}/{prefix}*"),
                "Condition": {
                    "ArnLike": {"aws:SourceArn": source_arns},
                    "StringEquals": {
                        "aws:SourceAccount": account,
                        "s3:x-amz-acl": "bucket-owner-full-control",
                    },
                },
            })
        })
        .collect())
}

/// Whether a policy statement is the one [`delivery_statements`] generates (import leaves it to the
/// model instead of writing it out).
pub fn is_delivery_statement(statement: &Json) -> bool {
    statement["Principal"]["Service"] == DELIVERY_SERVICE
        && statement["Sid"]
            .as_str()
            .is_some_and(|sid| sid.starts_with(DELIVERY_SID))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(id: &str) -> InventoryConfigDoc {
        InventoryConfigDoc {
            id: id.into(),
            enabled: true,
            destination_bucket_arn: "arn:aws:s3:::reports".into(),
            destination_account: None,
            destination_prefix: Some("inv/".into()),
            format: "CSV".into(),
            schedule: "Daily".into(),
            included_versions: "Current".into(),
            optional_fields: vec!["Size".into(), "ETag".into(), "Size".into()],
            prefix: Some(String::new()),
        }
    }

    fn manifest(yaml: &str) -> Manifest {
        crate::manifest::load::valid_for_tests(yaml)
    }

    const MANIFEST: &str = "
environment: dev
buckets:
  data:
    name: acme-data-dev
    inventory:
      - id: weekly
        destination: { bucket: reports, prefix: inv/, format: Parquet }
        schedule: Weekly
        included_versions: All
        optional_fields: [StorageClass, Size, ETag]
      - id: daily
        destination: { bucket: 'arn:aws:s3:::elsewhere', format: CSV, account: '210987654321' }
        schedule: Daily
        included_versions: Current
        prefix: in/
        enabled: false
  reports:
    name: acme-reports-dev
";

    #[test]
    fn canonical_sorts_configurations_and_fields_and_drops_empty_values() {
        let out = canonical(vec![config("b"), config("a")]);
        assert_eq!(out.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(out[0].optional_fields, ["ETag", "Size"]);
        assert_eq!(out[0].prefix, None);
        assert_eq!(canonical(out.clone()), out, "canonical is idempotent");
    }

    #[test]
    fn the_manifest_section_becomes_the_canonical_document_and_back() {
        let m = manifest(MANIFEST);
        let ctx = Context {
            manifest: &m,
            account_id: Some("123456789012"),
            default_region: "us-east-1",
        };
        let section = m.buckets["data"].inventory.as_ref().unwrap();
        let configs = from_manifest(&ctx, "data", section).unwrap();
        assert_eq!(configs[0].id, "daily");
        assert_eq!(configs[0].destination_bucket_arn, "arn:aws:s3:::elsewhere");
        assert_eq!(configs[0].destination_account.as_deref(), Some("210987654321"));
        assert!(!configs[0].enabled);
        assert_eq!(configs[1].destination_bucket_arn, "arn:aws:s3:::acme-reports-dev");
        assert_eq!(configs[1].format, "Parquet");
        assert_eq!(configs[1].optional_fields, ["ETag", "Size", "StorageClass"]);
        assert_eq!(
            referenced_buckets(&configs),
            ["elsewhere".to_string(), "acme-reports-dev".to_string()]
        );

        let back = to_manifest(&configs, |physical| {
            (physical == "acme-reports-dev").then(|| "reports".to_string())
        })
        .unwrap();
        assert_eq!(back[1].destination.bucket, "reports");
        assert_eq!(back[0].destination.bucket, "arn:aws:s3:::elsewhere");
        // Back through the model gives the same document.
        let again = from_manifest(&ctx, "data", &back).unwrap();
        assert_eq!(again, configs);
    }

    #[test]
    fn an_unknown_destination_is_unresolved_and_an_unknown_field_cannot_be_imported() {
        // Validation refuses such a manifest; the model still says what it cannot resolve.
        let mut m = manifest(MANIFEST);
        if let Some(section) = m.buckets["data"].inventory.clone() {
            let mut section = section;
            section[0].destination.bucket = "nowhere".into();
            m.buckets["data"].inventory = Some(section);
        }
        let ctx = Context {
            manifest: &m,
            account_id: Some("123456789012"),
            default_region: "us-east-1",
        };
        let section = m.buckets["data"].inventory.as_ref().unwrap();
        assert!(matches!(
            from_manifest(&ctx, "data", section),
            Err(DesiredError::Unresolved { .. })
        ));
        let mut odd = config("x");
        odd.optional_fields = vec!["SomethingNew".into()];
        let err = to_manifest(&[odd], |_| None).unwrap_err();
        assert!(err.contains("SomethingNew"), "{err}");
    }

    #[test]
    fn the_destination_gets_one_delivery_statement_per_prefix_unless_written() {
        let m = manifest(MANIFEST);
        let ctx = Context {
            manifest: &m,
            account_id: Some("123456789012"),
            default_region: "us-east-1",
        };
        let sources = delivery_sources(&m, "reports");
        assert_eq!(sources, [("acme-data-dev".to_string(), "inv/".to_string())]);
        assert!(delivery_sources(&m, "data").is_empty());
        let statements = delivery_statements(&ctx, "acme-reports-dev", &sources, &[], "p").unwrap();
        assert_eq!(
            statements,
            [json!({
                "Sid": "AllowS3InventoryReports",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::acme-reports-dev/inv/*",
                "Condition": {
                    "ArnLike": {"aws:SourceArn": ["arn:aws:s3:::acme-data-dev"]},
                    "StringEquals": {
                        "aws:SourceAccount": "123456789012",
                        "s3:x-amz-acl": "bucket-owner-full-control"
                    }
                }
            })]
        );
        assert!(is_delivery_statement(&statements[0]));
        // A raw statement that already allows the delivery replaces the generated one.
        let raw = vec![json!({
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::acme-reports-dev/*"
        })];
        assert!(
            delivery_statements(&ctx, "acme-reports-dev", &sources, &raw, "p")
                .unwrap()
                .is_empty()
        );
        // With several prefixes each statement keeps its number whichever others a raw statement covers,
        // so import can recognise each generated statement on its own.
        let two = vec![
            ("acme-data-dev".to_string(), "a/".to_string()),
            ("acme-data-dev".to_string(), "b/".to_string()),
        ];
        let both = delivery_statements(&ctx, "acme-reports-dev", &two, &[], "p").unwrap();
        assert_eq!(both[1]["Sid"], "AllowS3InventoryReports2");
        let rest = delivery_statements(&ctx, "acme-reports-dev", &two, &both[..1], "p").unwrap();
        assert_eq!(rest, both[1..]);
        let unknown = Context {
            account_id: None,
            ..ctx
        };
        assert!(matches!(
            delivery_statements(&unknown, "acme-reports-dev", &sources, &[], "p"),
            Err(DesiredError::AccountUnknown { .. })
        ));
    }
}
