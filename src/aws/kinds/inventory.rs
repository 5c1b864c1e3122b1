//! S3 Inventory configurations through the SDK.
//!
//! S3 has no call that reads a bucket's configurations at once but ListBucketInventoryConfigurations,
//! paginated by continuation token, so that listing is the read. Writing the document (the whole set)
//! lists the live configurations again, puts each wanted one that is new or differs
//! (PutBucketInventoryConfiguration, one per configuration) and deletes each live one the document does
//! not hold (DeleteBucketInventoryConfiguration), so reading back gives the document.

use aws_sdk_s3::types::{
    InventoryConfiguration, InventoryDestination, InventoryFilter, InventoryFormat, InventoryFrequency,
    InventoryIncludedObjectVersions, InventoryOptionalField, InventoryS3BucketDestination, InventorySchedule,
};

use super::{AwsKind, invalid};
use crate::aws::{Aws, AwsError, Op};
use crate::model::kinds::inventory::{self, Inventory, InventoryConfigDoc, SPEC, canonical};

impl AwsKind for Inventory {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<Vec<InventoryConfigDoc>, AwsError> {
        list(aws, region, name, op).await
    }

    async fn put(aws: &Aws, name: &str, region: &str, wanted: &Vec<InventoryConfigDoc>) -> Result<(), AwsError> {
        put(aws, region, name, wanted).await
    }
}

/// Every inventory configuration of the bucket, page by page, in canonical form.
async fn list(aws: &Aws, region: &str, name: &str, op: &Op) -> Result<Vec<InventoryConfigDoc>, AwsError> {
    let s3 = aws.s3(region);
    let mut configs = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = s3
            .list_bucket_inventory_configurations()
            .bucket(name)
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(|e| aws.error(op, e))?;
        configs.extend(page.inventory_configuration_list().iter().map(from_sdk));
        match page.next_continuation_token() {
            Some(next) if page.is_truncated() == Some(true) && token.as_deref() != Some(next) => {
                token = Some(next.to_string());
            }
            _ => break,
        }
    }
    Ok(canonical(configs))
}

/// Makes the bucket's configurations `wanted` (canonical): puts the new and changed ones, then deletes
/// the ones `wanted` does not hold.
async fn put(aws: &Aws, region: &str, name: &str, wanted: &[InventoryConfigDoc]) -> Result<(), AwsError> {
    let read_op = Op::bucket(SPEC.access.read_operation, SPEC.access.read_action, name);
    let live = list(aws, region, name, &read_op).await?;
    let s3 = aws.s3(region);
    for config in wanted {
        if live.contains(config) {
            continue;
        }
        let op = Op::write(&inventory::PUT, name);
        let sdk = to_sdk(config).map_err(|detail| invalid(&op, detail))?;
        s3.put_bucket_inventory_configuration()
            .bucket(name)
            .id(&config.id)
            .inventory_configuration(sdk)
            .send()
            .await
            .map_err(|e| aws.error(&op, e))?;
    }
    for stale in live.iter().filter(|l| !wanted.iter().any(|w| w.id == l.id)) {
        delete(aws, region, name, &stale.id).await?;
    }
    Ok(())
}

/// Deletes one configuration by ID.
async fn delete(aws: &Aws, region: &str, name: &str, id: &str) -> Result<(), AwsError> {
    let op = Op::write(&inventory::DELETE, name);
    aws.s3(region)
        .delete_bucket_inventory_configuration()
        .bucket(name)
        .id(id)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws.error(&op, e))
}

/// An SDK configuration as the model's (not yet canonical: [`list`] sorts).
fn from_sdk(c: &InventoryConfiguration) -> InventoryConfigDoc {
    let bucket = c.destination().and_then(InventoryDestination::s3_bucket_destination);
    InventoryConfigDoc {
        id: c.id().to_string(),
        enabled: c.is_enabled(),
        destination_bucket_arn: bucket.map(|b| b.bucket().to_string()).unwrap_or_default(),
        destination_account: bucket.and_then(|b| b.account_id()).map(str::to_string),
        destination_prefix: bucket.and_then(|b| b.prefix()).map(str::to_string),
        format: bucket.map(|b| b.format().as_str().to_string()).unwrap_or_default(),
        schedule: c
            .schedule()
            .map(|s| s.frequency().as_str().to_string())
            .unwrap_or_default(),
        included_versions: c.included_object_versions().as_str().to_string(),
        optional_fields: c.optional_fields().iter().map(|f| f.as_str().to_string()).collect(),
        prefix: c.filter().map(|f| f.prefix().to_string()),
    }
}

/// The model's configuration as the SDK's; `Err` says which value the SDK refused.
fn to_sdk(c: &InventoryConfigDoc) -> Result<InventoryConfiguration, String> {
    let bucket = InventoryS3BucketDestination::builder()
        .bucket(&c.destination_bucket_arn)
        .set_account_id(c.destination_account.clone())
        .set_prefix(c.destination_prefix.clone())
        .format(InventoryFormat::from(c.format.as_str()))
        .build()
        .map_err(|e| e.to_string())?;
    let filter = c
        .prefix
        .as_ref()
        .map(|p| InventoryFilter::builder().prefix(p).build())
        .transpose()
        .map_err(|e| e.to_string())?;
    InventoryConfiguration::builder()
        .id(&c.id)
        .is_enabled(c.enabled)
        .destination(InventoryDestination::builder().s3_bucket_destination(bucket).build())
        .set_filter(filter)
        .included_object_versions(InventoryIncludedObjectVersions::from(c.included_versions.as_str()))
        // No fields is no `<OptionalFields>` element rather than an empty one.
        .set_optional_fields((!c.optional_fields.is_empty()).then(|| {
            c.optional_fields
                .iter()
                .map(|f| InventoryOptionalField::from(f.as_str()))
                .collect()
        }))
        .schedule(
            InventorySchedule::builder()
                .frequency(InventoryFrequency::from(c.schedule.as_str()))
                .build()
                .map_err(|e| e.to_string())?,
        )
        .build()
        .map_err(|e| e.to_string())
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
            destination_prefix: None,
            format: "CSV".into(),
            schedule: "Daily".into(),
            included_versions: "All".into(),
            optional_fields: Vec::new(),
            prefix: None,
        }
    }

    /// Writing a configuration and reading the same SDK value back is the identity on canonical
    /// documents, for every field (moto drops some; see docs/testing.md).
    #[test]
    fn configurations_round_trip_through_the_sdk_types() {
        let configs = canonical(vec![
            config("plain"),
            InventoryConfigDoc {
                enabled: false,
                destination_account: Some("210987654321".into()),
                destination_prefix: Some("inventory/".into()),
                format: "Parquet".into(),
                schedule: "Weekly".into(),
                included_versions: "Current".into(),
                optional_fields: vec!["StorageClass".into(), "Size".into(), "ETag".into()],
                prefix: Some("data/".into()),
                ..config("full")
            },
            InventoryConfigDoc {
                format: "ORC".into(),
                optional_fields: vec!["IntelligentTieringAccessTier".into()],
                ..config("orc")
            },
        ]);
        for c in &configs {
            let sdk = to_sdk(c).unwrap();
            assert_eq!(canonical(vec![from_sdk(&sdk)]), vec![c.clone()], "{}", c.id);
        }
        let plain = to_sdk(&configs[2]).unwrap();
        assert!(plain.filter().is_none(), "no prefix writes no filter");
    }

    /// S3 answers an absent filter as an empty prefix in some responses; canonical reads it as none.
    #[test]
    fn an_empty_filter_prefix_reads_as_no_filter() {
        let mut sdk = to_sdk(&config("a")).unwrap();
        sdk = InventoryConfiguration::builder()
            .id(sdk.id())
            .is_enabled(true)
            .set_destination(sdk.destination().cloned())
            .filter(InventoryFilter::builder().prefix("").build().unwrap())
            .included_object_versions(InventoryIncludedObjectVersions::All)
            .set_schedule(sdk.schedule().cloned())
            .build()
            .unwrap();
        assert_eq!(canonical(vec![from_sdk(&sdk)]), vec![config("a")]);
    }
}
