//! Inventory configurations end to end: the real binary against the moto emulator. Create from nothing
//! (a source bucket and its destination, whose policy gains the generated delivery statement), update,
//! drift made with another client reverted, an empty second plan, removal of a configuration, and the
//! validation of the section.
//!
//! moto 5.1.22 answers every configuration with `IncludedObjectVersions: All`, mangles a list of one
//! optional field, and reads DeleteBucketInventoryConfiguration as DeleteBucket (see docs/testing.md):
//! the manifests here use `All` and several fields, and the removal goes through the fault proxy, which
//! acknowledges the delete as S3 does instead of letting moto delete the bucket.

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;
#[path = "common/project.rs"]
mod project;

use aws_sdk_s3::types::{
    InventoryConfiguration, InventoryDestination, InventoryFormat, InventoryFrequency, InventoryIncludedObjectVersions,
    InventoryOptionalField, InventoryS3BucketDestination, InventorySchedule,
};
use fault_proxy::FaultProxy;
use project::Project;
use serde_json::Value as Json;

/// A source bucket with two inventory configurations into a destination bucket of the manifest;
/// `v2` changes one's schedule and fields.
fn estate(prefix: &str, v2: bool) -> String {
    let (schedule, fields) = if v2 {
        ("Daily", "[Size, ETag, StorageClass]")
    } else {
        ("Weekly", "[Size, ETag]")
    };
    format!(
        "buckets:
  data:
    name: {prefix}-data
    inventory:
      - id: weekly
        destination: {{bucket: reports, prefix: inv/, format: CSV}}
        schedule: {schedule}
        included_versions: All
        optional_fields: {fields}
      - id: daily
        destination: {{bucket: reports, prefix: parquet/, format: Parquet}}
        schedule: Daily
        included_versions: All
        optional_fields: [StorageClass, LastModifiedDate]
        prefix: logs/
  reports:
    name: {prefix}-reports
"
    )
}

/// The live configurations of `bucket`, read with the SDK.
fn live_configurations(bucket: &str) -> Vec<InventoryConfiguration> {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.s3("us-east-1")
            .list_bucket_inventory_configurations()
            .bucket(bucket)
            .send()
            .await
            .expect("list inventory configurations")
            .inventory_configuration_list()
            .to_vec()
    })
}

fn live_policy(bucket: &str) -> Json {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let out = aws
            .s3("us-east-1")
            .get_bucket_policy()
            .bucket(bucket)
            .send()
            .await
            .expect("get the destination's policy");
        serde_json::from_str(out.policy().expect("a policy")).expect("policy JSON")
    })
}

#[test]
fn inventory_is_created_updated_and_drift_reverted_with_its_delivery_statement() {
    let project = Project::new("inv");
    let prefix = common::unique_name("inv");
    let data = format!("{prefix}-data");
    let reports = format!("{prefix}-reports");
    project.write(&estate(&prefix, false));

    // Create from nothing: the configurations and the destination's policy, then an empty second plan.
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("+ bucket.data.inventory"), "{text}");
    assert!(text.contains("+ bucket.reports.policy"), "{text}");
    project.apply_ok();
    project.assert_converged();

    let live = live_configurations(&data);
    let mut ids: Vec<&str> = live.iter().map(|c| c.id()).collect();
    ids.sort();
    assert_eq!(ids, ["daily", "weekly"]);
    let weekly = live.iter().find(|c| c.id() == "weekly").expect("weekly");
    let dest = weekly
        .destination()
        .and_then(|d| d.s3_bucket_destination())
        .expect("destination");
    assert_eq!(dest.bucket(), format!("arn:aws:s3:::{reports}"));
    assert_eq!(dest.prefix(), Some("inv/"));
    assert_eq!(weekly.schedule().map(|s| s.frequency().as_str()), Some("Weekly"));

    // The destination's policy lets S3 deliver the reports of the source bucket, under each prefix.
    let policy = live_policy(&reports);
    let statements = policy["Statement"].as_array().expect("statements");
    let resources: Vec<&str> = statements
        .iter()
        .filter(|s| s["Principal"]["Service"] == "s3.amazonaws.com")
        .map(|s| {
            assert_eq!(s["Action"], "s3:PutObject", "{s}");
            // Normalized: a list of one source is written as the one ARN.
            assert_eq!(
                s["Condition"]["ArnLike"]["aws:SourceArn"],
                format!("arn:aws:s3:::{data}"),
                "{s}"
            );
            assert_eq!(
                s["Condition"]["StringEquals"]["s3:x-amz-acl"], "bucket-owner-full-control",
                "{s}"
            );
            assert!(s["Condition"]["StringEquals"]["aws:SourceAccount"].is_string(), "{s}");
            s["Resource"].as_str().expect("resource")
        })
        .collect();
    assert_eq!(
        resources,
        [
            format!("arn:aws:s3:::{reports}/inv/*"),
            format!("arn:aws:s3:::{reports}/parquet/*")
        ]
    );

    // Update: schedule and fields of one configuration.
    project.write(&estate(&prefix, true));
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("~ bucket.data.inventory"), "{text}");
    assert!(
        text.contains("Plan: 0 to create, 1 to update, 0 to replace, 0 to destroy."),
        "{text}"
    );
    project.apply_ok();
    project.assert_converged();
    let live = live_configurations(&data);
    let weekly = live.iter().find(|c| c.id() == "weekly").expect("weekly");
    assert_eq!(weekly.schedule().map(|s| s.frequency().as_str()), Some("Daily"));
    assert_eq!(weekly.optional_fields().len(), 3);

    // Drift made with another client is shown and reverted.
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let drifted = InventoryConfiguration::builder()
            .id("weekly")
            .is_enabled(false)
            .destination(
                InventoryDestination::builder()
                    .s3_bucket_destination(
                        InventoryS3BucketDestination::builder()
                            .bucket(format!("arn:aws:s3:::{reports}"))
                            .format(InventoryFormat::Orc)
                            .build()
                            .expect("destination"),
                    )
                    .build(),
            )
            .included_object_versions(InventoryIncludedObjectVersions::All)
            .optional_fields(InventoryOptionalField::Size)
            .optional_fields(InventoryOptionalField::ETag)
            .schedule(
                InventorySchedule::builder()
                    .frequency(InventoryFrequency::Weekly)
                    .build()
                    .expect("schedule"),
            )
            .build()
            .expect("configuration");
        aws.s3("us-east-1")
            .put_bucket_inventory_configuration()
            .bucket(&data)
            .id("weekly")
            .inventory_configuration(drifted)
            .send()
            .await
            .expect("drift the configuration");
    });
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("~ bucket.data.inventory"), "{text}");
    project.apply_ok();
    project.assert_converged();

    // Import writes the section back, naming the destination by its logical name and leaving the
    // delivery statement to the model; the imported manifest changes nothing in AWS.
    let imported = Project::new("invimp");
    imported.write("");
    let (code, stdout, stderr) = imported.run(&[
        "import",
        "-e",
        "invimp",
        &data,
        &reports,
        "--out",
        "environments/invimp.yaml",
        "--force",
    ]);
    assert_eq!(code, 0, "import failed:\n{stdout}\n{stderr}");
    let manifest = std::fs::read_to_string(imported.path("environments/invimp.yaml")).expect("manifest written");
    for expected in [
        "inventory:",
        "id: weekly",
        "id: daily",
        "prefix: parquet/",
        "format: Parquet",
        "schedule: Daily",
    ] {
        assert!(manifest.contains(expected), "{expected} missing:\n{manifest}");
    }
    assert!(!manifest.contains("AllowS3InventoryReports"), "{manifest}");
    assert!(
        !manifest.contains("arn:aws:s3:::"),
        "the destination is named by ARN:\n{manifest}"
    );
    let (code, json, stderr) = imported.run(&["plan", "-e", "invimp", "--format", "json"]);
    assert_eq!(code, 0, "plan failed:\n{json}\n{stderr}");
    let plan: Json = serde_json::from_str(&json).expect("plan JSON");
    let acting: Vec<String> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| matches!(c["action"].as_str(), Some("create" | "update" | "replace" | "delete")))
        .map(|c| format!("{} {}", c["action"], c["address"]))
        .collect();
    assert!(
        acting.is_empty(),
        "the imported manifest changes AWS: {acting:?}\n{manifest}"
    );
}

#[test]
fn a_configuration_left_out_of_the_list_is_deleted_and_the_bucket_kept() {
    // moto takes DeleteBucketInventoryConfiguration for DeleteBucket; the proxy answers it as S3 does.
    let proxy = FaultProxy::start(&[
        "--match",
        "^DELETE [^\\n]*inventory",
        "--rate",
        "1",
        "--faults",
        "no-content",
    ]);
    let mut project = Project::new("invdel");
    project.endpoint = proxy.endpoint.clone();
    let prefix = common::unique_name("invdel");
    let data = format!("{prefix}-data");
    project.write(&estate(&prefix, false));
    project.apply_ok();
    project.assert_converged();
    assert_eq!(proxy.faults_injected(), 0, "{:?}", proxy.requests());

    // `weekly` leaves the manifest: apply deletes exactly that one configuration.
    let only_daily = estate(&prefix, false);
    let start = only_daily.find("      - id: weekly").expect("weekly");
    let end = only_daily.find("      - id: daily").expect("daily");
    project.write(&format!("{}{}", &only_daily[..start], &only_daily[end..]));
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("~ bucket.data.inventory"), "{text}");
    project.apply_ok();
    let deletes: Vec<(String, String)> = proxy
        .requests()
        .into_iter()
        .filter(|(op, _)| op.starts_with("DELETE "))
        .collect();
    assert_eq!(
        deletes,
        [(format!("DELETE /{data}/"), "no-content".to_string())],
        "one DeleteBucketInventoryConfiguration, acknowledged"
    );
    // The bucket and the configuration the manifest keeps are still there.
    let live = live_configurations(&data);
    assert!(live.iter().any(|c| c.id() == "daily"), "{live:?}");
}

#[test]
fn inventory_mistakes_are_reported_with_their_place_and_the_way_out() {
    let project = Project::new("invbad");
    project.write(
        "buckets:
  data:
    name: invbad-data
    inventory:
      - id: weekly
        destination: {bucket: reprots, format: CSV, account: '12345'}
        schedule: Weekly
        included_versions: All
      - id: weekly
        destination: {bucket: 'arn:aws:s3:::elsewhere', format: CSV}
        schedule: Daily
        included_versions: Current
        optional_fields: [Size, Size]
  reports:
    name: invbad-reports
",
    );
    let (code, _stdout, stderr) = project.run(&["validate", "-e", "invbad"]);
    assert_eq!(code, 1, "{stderr}");
    let flat = stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "environments/invbad.yaml:11:31",
        "inventory destination `reprots` is not a bucket of this manifest",
        "defined: data, reports",
        "environments/invbad.yaml:11:62",
        "destination account `12345` is not a 12-digit AWS account ID",
        "environments/invbad.yaml:14:13",
        "inventory ID `weekly` of bucket `data` is already used by configuration 0",
        "environments/invbad.yaml:18:33",
        "optional field `Size` is listed twice",
    ] {
        assert!(flat.contains(expected), "missing {expected:?} in:\n{stderr}");
    }

    // A misspelt field name and a value S3 does not know are refused by the schema, with their place.
    project.write(
        "buckets:
  data:
    name: invbad-data
    inventory:
      - id: weekly
        destination: {bucket: reports, format: CSV}
        schedul: Weekly
        included_versions: Sometimes
  reports:
    name: invbad-reports
",
    );
    let (code, _stdout, stderr) = project.run(&["validate", "-e", "invbad"]);
    assert_eq!(code, 1, "{stderr}");
    let flat = stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("schedul"), "{stderr}");
    assert!(flat.contains("environments/invbad.yaml:12:"), "{stderr}");
}
