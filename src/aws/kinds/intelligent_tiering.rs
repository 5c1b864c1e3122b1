//! S3 Intelligent-Tiering configurations through the SDK.
//!
//! As for inventory, S3 reads a bucket's configurations only as a listing
//! (ListBucketIntelligentTieringConfigurations, paginated by continuation token), so that is the read.
//! Writing the document (the whole set) lists the live configurations again, puts each wanted one that is
//! new or differs (PutBucketIntelligentTieringConfiguration, one per configuration) and deletes each live
//! one the document does not hold (DeleteBucketIntelligentTieringConfiguration).
//!
//! The listing before any write is also a guard. A server that does not implement these operations may
//! route them to others: moto 5.1.22 answers the listing with an object listing, the put with
//! CreateBucket and the delete with DeleteBucket, so an unchecked delete would remove an empty bucket.
//! Such a listing fails with `AwsError::Unsupported` (see `aws::client`), and nothing is written.

use aws_sdk_s3::types::{
    IntelligentTieringAccessTier, IntelligentTieringAndOperator, IntelligentTieringConfiguration,
    IntelligentTieringFilter, IntelligentTieringStatus, Tag, Tiering,
};

use super::{AwsKind, invalid};
use crate::aws::{Aws, AwsError, Op};
use crate::model::kinds::intelligent_tiering::{self, IntelligentTiering, SPEC, TierDoc, TieringConfigDoc, canonical};

impl AwsKind for IntelligentTiering {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<Vec<TieringConfigDoc>, AwsError> {
        list(aws, region, name, op).await
    }

    async fn put(aws: &Aws, name: &str, region: &str, wanted: &Vec<TieringConfigDoc>) -> Result<(), AwsError> {
        put(aws, region, name, wanted).await
    }
}

/// Every intelligent-tiering configuration of the bucket, page by page, in canonical form.
async fn list(aws: &Aws, region: &str, name: &str, op: &Op) -> Result<Vec<TieringConfigDoc>, AwsError> {
    let s3 = aws.s3(region);
    let mut configs = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = s3
            .list_bucket_intelligent_tiering_configurations()
            .bucket(name)
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(|e| aws.error(op, e))?;
        configs.extend(page.intelligent_tiering_configuration_list().iter().map(from_sdk));
        match page.next_continuation_token() {
            Some(next) if page.is_truncated() == Some(true) && token.as_deref() != Some(next) => {
                token = Some(next.to_string());
            }
            _ => break,
        }
    }
    Ok(canonical(configs))
}

/// What makes `live` into `wanted` (both canonical): the configurations to put (new or changed) and the
/// IDs to delete (live ones `wanted` does not hold). Only IDs the listing returned are ever deleted.
fn writes<'a>(live: &'a [TieringConfigDoc], wanted: &'a [TieringConfigDoc]) -> (Vec<&'a TieringConfigDoc>, Vec<&'a str>) {
    let puts = wanted.iter().filter(|w| !live.contains(w)).collect();
    let deletes = live
        .iter()
        .filter(|l| !wanted.iter().any(|w| w.id == l.id))
        .map(|l| l.id.as_str())
        .collect();
    (puts, deletes)
}

/// Makes the bucket's configurations `wanted` (canonical): puts the new and changed ones, then deletes
/// the ones `wanted` does not hold.
async fn put(aws: &Aws, region: &str, name: &str, wanted: &[TieringConfigDoc]) -> Result<(), AwsError> {
    let read_op = Op::bucket(SPEC.access.read_operation, SPEC.access.read_action, name);
    let live = list(aws, region, name, &read_op).await?;
    let (puts, deletes) = writes(&live, wanted);
    let s3 = aws.s3(region);
    for config in puts {
        let op = Op::write(&intelligent_tiering::PUT, name);
        let sdk = to_sdk(config).map_err(|detail| invalid(&op, detail))?;
        s3.put_bucket_intelligent_tiering_configuration()
            .bucket(name)
            .id(&config.id)
            .intelligent_tiering_configuration(sdk)
            .send()
            .await
            .map_err(|e| aws.error(&op, e))?;
    }
    for id in deletes {
        let op = Op::write(&intelligent_tiering::DELETE, name);
        s3.delete_bucket_intelligent_tiering_configuration()
            .bucket(name)
            .id(id)
            .send()
            .await
            .map_err(|e| aws.error(&op, e))?;
    }
    Ok(())
}

/// An SDK configuration as the model's (not yet canonical: [`list`] sorts). The filter's three shapes
/// (a prefix, one tag, or an `And` of a prefix and tags) all become a prefix and a tag map.
fn from_sdk(c: &IntelligentTieringConfiguration) -> TieringConfigDoc {
    let filter = c.filter();
    let and = filter.and_then(IntelligentTieringFilter::and);
    let prefix = filter
        .and_then(IntelligentTieringFilter::prefix)
        .or_else(|| and.and_then(IntelligentTieringAndOperator::prefix))
        .map(str::to_string);
    let tags = filter
        .and_then(IntelligentTieringFilter::tag)
        .into_iter()
        .chain(and.map(IntelligentTieringAndOperator::tags).unwrap_or_default())
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    TieringConfigDoc {
        id: c.id().to_string(),
        enabled: *c.status() == IntelligentTieringStatus::Enabled,
        prefix,
        tags,
        tierings: c
            .tierings()
            .iter()
            .map(|t| TierDoc {
                access_tier: t.access_tier().as_str().to_string(),
                // Days are never negative in S3's answers; a negative one reads as 0, which no
                // manifest can want, so it shows as a difference rather than wrapping.
                days: u32::try_from(t.days()).unwrap_or_default(),
            })
            .collect(),
    }
}

/// The model's configuration as the SDK's; `Err` says which value the SDK refused.
fn to_sdk(c: &TieringConfigDoc) -> Result<IntelligentTieringConfiguration, String> {
    let tags = c
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    // S3 takes a lone prefix or a lone tag as such, and anything more as an `And`.
    let filter = match (&c.prefix, tags.as_slice()) {
        (None, []) => None,
        (Some(prefix), []) => Some(IntelligentTieringFilter::builder().prefix(prefix).build()),
        (None, [tag]) => Some(IntelligentTieringFilter::builder().tag(tag.clone()).build()),
        (prefix, _) => Some(
            IntelligentTieringFilter::builder()
                .and(
                    IntelligentTieringAndOperator::builder()
                        .set_prefix(prefix.clone())
                        .set_tags(Some(tags))
                        .build(),
                )
                .build(),
        ),
    };
    let tierings = c
        .tierings
        .iter()
        .map(|t| {
            Tiering::builder()
                .access_tier(IntelligentTieringAccessTier::from(t.access_tier.as_str()))
                .days(i32::try_from(t.days).map_err(|e| e.to_string())?)
                .build()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    IntelligentTieringConfiguration::builder()
        .id(&c.id)
        .set_filter(filter)
        .status(if c.enabled {
            IntelligentTieringStatus::Enabled
        } else {
            IntelligentTieringStatus::Disabled
        })
        .set_tierings(Some(tierings))
        .build()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

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
            tierings: vec![tier("ARCHIVE_ACCESS", 90)],
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// Writing a configuration and reading the same SDK value back is the identity on canonical
    /// documents, for every filter shape and both statuses (moto cannot hold these; see docs/testing.md).
    #[test]
    fn configurations_round_trip_through_the_sdk_types() {
        let configs = canonical(vec![
            config("plain"),
            TieringConfigDoc {
                enabled: false,
                prefix: Some("logs/".into()),
                tierings: vec![tier("DEEP_ARCHIVE_ACCESS", 365), tier("ARCHIVE_ACCESS", 120)],
                ..config("prefix")
            },
            TieringConfigDoc {
                tags: tags(&[("class", "cold")]),
                ..config("one-tag")
            },
            TieringConfigDoc {
                tags: tags(&[("class", "cold"), ("team", "data")]),
                ..config("two-tags")
            },
            TieringConfigDoc {
                prefix: Some("data/".into()),
                tags: tags(&[("class", "cold")]),
                ..config("prefix-and-tag")
            },
        ]);
        for c in &configs {
            let sdk = to_sdk(c).unwrap();
            assert_eq!(canonical(vec![from_sdk(&sdk)]), vec![c.clone()], "{}", c.id);
        }
        let by_id = |id: &str| to_sdk(configs.iter().find(|c| c.id == id).unwrap()).unwrap();
        assert!(by_id("plain").filter().is_none(), "no prefix and no tags writes no filter");
        assert_eq!(by_id("prefix").filter().and_then(|f| f.prefix()), Some("logs/"));
        assert_eq!(by_id("prefix").status(), &IntelligentTieringStatus::Disabled);
        assert!(by_id("one-tag").filter().and_then(|f| f.tag()).is_some(), "a lone tag is a tag");
        let and = by_id("prefix-and-tag");
        let and = and.filter().and_then(|f| f.and()).expect("a prefix and a tag are an And");
        assert_eq!(and.prefix(), Some("data/"));
        assert_eq!(and.tags().len(), 1);
    }

    /// What AWS answers, built as the SDK's types: an `And` filter without a prefix, the tierings in
    /// S3's order, an empty prefix.
    #[test]
    fn an_sdk_answer_reads_as_the_canonical_document() {
        let sdk = IntelligentTieringConfiguration::builder()
            .id("archive")
            .status(IntelligentTieringStatus::Enabled)
            .filter(
                IntelligentTieringFilter::builder()
                    .and(
                        IntelligentTieringAndOperator::builder()
                            .prefix("")
                            .tags(Tag::builder().key("b").value("2").build().unwrap())
                            .tags(Tag::builder().key("a").value("1").build().unwrap())
                            .build(),
                    )
                    .build(),
            )
            .tierings(
                Tiering::builder()
                    .access_tier(IntelligentTieringAccessTier::DeepArchiveAccess)
                    .days(200)
                    .build()
                    .unwrap(),
            )
            .tierings(
                Tiering::builder()
                    .access_tier(IntelligentTieringAccessTier::ArchiveAccess)
                    .days(100)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        assert_eq!(
            canonical(vec![from_sdk(&sdk)]),
            vec![TieringConfigDoc {
                id: "archive".into(),
                enabled: true,
                prefix: None,
                tags: tags(&[("a", "1"), ("b", "2")]),
                tierings: vec![tier("ARCHIVE_ACCESS", 100), tier("DEEP_ARCHIVE_ACCESS", 200)],
            }]
        );
    }

    /// Changing one configuration and dropping another puts only the changed one and deletes only the
    /// dropped one; an unchanged set writes nothing, and `[]` deletes every listed one.
    #[test]
    fn writes_put_the_changed_configuration_and_delete_the_dropped_one() {
        let live = canonical(vec![config("keep"), config("change"), config("drop")]);
        let changed = TieringConfigDoc {
            tierings: vec![tier("ARCHIVE_ACCESS", 120)],
            ..config("change")
        };
        let wanted = canonical(vec![config("keep"), changed.clone(), config("new")]);
        let (puts, deletes) = writes(&live, &wanted);
        assert_eq!(puts, vec![&changed, &config("new")]);
        assert_eq!(deletes, vec!["drop"]);

        let (puts, deletes) = writes(&live, &live);
        assert!(puts.is_empty() && deletes.is_empty());
        let (puts, deletes) = writes(&live, &[]);
        assert!(puts.is_empty());
        assert_eq!(deletes, vec!["change", "drop", "keep"]);
    }
}
