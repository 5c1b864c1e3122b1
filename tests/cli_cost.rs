//! `s3rec cost` through the real binary against the moto emulator: a versioned bucket seeded with
//! objects of mixed classes and sizes, several versions, a delete marker and an incomplete multipart
//! upload gives the same counts as the AWS CLI's own listing (`aws s3api list-object-versions` and
//! `list-multipart-uploads`, the pinned CLI of `scripts/awscli.sh`), and today's monthly cost computed
//! here by hand from that listing; the text and markdown reports show it; a region the price table
//! lacks and a broken `--prices` file are errors that say what to do.

mod common;
#[path = "common/project.rs"]
mod project;

use std::collections::BTreeMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::StorageClass;
use common::data;
use project::Project;
use serde_json::Value;

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;
const GB: f64 = 1_073_741_824.0;

fn manifest(bucket: &str) -> String {
    format!(
        "buckets:\n  data:\n    name: {bucket}\n    versioning: enabled\n    lifecycle:\n      - id: old-versions\n        noncurrent_version_expiration:\n          days: 30\n        abort_incomplete_multipart_upload_days: 7\n"
    )
}

/// Objects and bytes per storage class, noncurrent versions, delete markers and uploads, as the AWS CLI
/// lists them.
#[derive(Debug, Default, PartialEq)]
struct Listing {
    by_class: BTreeMap<String, (u64, u64)>,
    current: u64,
    noncurrent: u64,
    markers: u64,
    uploads: u64,
    /// Every version: (class, size).
    versions: Vec<(String, u64)>,
}

/// The entries of one list of the AWS CLI's answer; the CLI leaves out a list that is empty.
fn entries<'a>(doc: &'a Value, list: &str) -> &'a [Value] {
    match &doc[list] {
        Value::Null => &[],
        Value::Array(entries) => entries,
        other => panic!("{list} of the AWS CLI's answer is not a list: {other}"),
    }
}

/// The bucket as the AWS CLI lists it, which follows the pages of both listings itself.
fn aws_cli_listing(bucket: &str) -> Listing {
    let mut out = Listing::default();
    let versions = common::aws_cli(&["s3api", "list-object-versions", "--bucket", bucket]);
    for v in entries(&versions, "Versions") {
        // S3 leaves the class out for STANDARD.
        let class = v["StorageClass"].as_str().unwrap_or("STANDARD").to_string();
        let size = v["Size"]
            .as_u64()
            .unwrap_or_else(|| panic!("a version without a Size in the AWS CLI's listing: {v}"));
        let entry = out.by_class.entry(class.clone()).or_default();
        entry.0 += 1;
        entry.1 += size;
        let latest = v["IsLatest"]
            .as_bool()
            .unwrap_or_else(|| panic!("a version without IsLatest in the AWS CLI's listing: {v}"));
        if latest {
            out.current += 1;
        } else {
            out.noncurrent += 1;
        }
        out.versions.push((class, size));
    }
    out.markers = entries(&versions, "DeleteMarkers").len() as u64;
    let uploads = common::aws_cli(&["s3api", "list-multipart-uploads", "--bucket", bucket]);
    out.uploads = entries(&uploads, "Uploads").len() as u64;
    out
}

/// Puts the fixture: mixed classes and sizes, an overwritten key, a deleted key, and a multipart upload
/// with one 5 MiB part that is never completed.
fn seed(bucket: &str) {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let s3 = aws.s3(common::TEST_REGION);
        let objects: [(&str, usize, Option<StorageClass>); 6] = [
            ("a/small.txt", KIB, None),
            ("a/mid.bin", 200 * KIB, Some(StorageClass::StandardIa)),
            ("b/tiny-ia.bin", 10 * KIB, Some(StorageClass::StandardIa)),
            ("b/big.bin", 2 * MIB, Some(StorageClass::Glacier)),
            ("v/doc", 300 * KIB, None),
            ("v/doc", 400 * KIB, None),
        ];
        for (i, (key, size, class)) in objects.into_iter().enumerate() {
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .set_storage_class(class)
                .body(ByteStream::from(data(size, i as u64)))
                .send()
                .await
                .expect("put");
        }
        s3.put_object()
            .bucket(bucket)
            .key("gone")
            .body(ByteStream::from(data(50 * KIB, 9)))
            .send()
            .await
            .expect("put");
        s3.delete_object()
            .bucket(bucket)
            .key("gone")
            .send()
            .await
            .expect("delete");
        let upload = s3
            .create_multipart_upload()
            .bucket(bucket)
            .key("mp/incomplete")
            .send()
            .await
            .expect("create upload");
        s3.upload_part()
            .bucket(bucket)
            .key("mp/incomplete")
            .upload_id(upload.upload_id().expect("upload id"))
            .part_number(1)
            .body(ByteStream::from(data(5 * MIB, 11)))
            .send()
            .await
            .expect("upload part");
    });
}

#[test]
fn cost_counts_what_the_listing_shows_and_prices_it() {
    let p = Project::new(&common::unique_name("cost"));
    let bucket = format!("{}-data", p.env);
    p.write(&manifest(&bucket));
    p.apply_ok();
    seed(&bucket);
    let listing = aws_cli_listing(&bucket);
    // The fixture as the AWS CLI lists it: 7 versions (one overwritten, one deleted), 1 marker, 1 upload.
    assert_eq!(
        (listing.current, listing.noncurrent, listing.markers, listing.uploads),
        (5, 2, 1, 1)
    );

    let (code, stdout, stderr) = p.run(&["cost", "-e", &p.env, "--format", "json"]);
    assert_eq!(code, 0, "cost failed:\n{stdout}\n{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("JSON report");
    let b = &doc["buckets"][0];
    assert_eq!(b["bucket"], "data");
    assert_eq!(b["name"], bucket.as_str());
    assert_eq!(b["region"], "us-east-1");
    assert_eq!(b["versioned"], true);
    assert_eq!(b["current"]["objects"], listing.current);
    assert_eq!(b["noncurrent"]["objects"], listing.noncurrent);
    assert_eq!(b["delete_markers"], listing.markers);
    assert_eq!(b["incomplete_uploads"]["uploads"], listing.uploads);
    assert_eq!(b["incomplete_uploads"]["bytes"], 5 * MIB as u64);
    let by_class: BTreeMap<String, (u64, u64)> = b["by_class"]
        .as_array()
        .expect("by_class")
        .iter()
        .map(|row| {
            (
                row["band"].as_str().expect("class").to_string(),
                (
                    row["objects"].as_u64().expect("objects"),
                    row["bytes"].as_u64().expect("bytes"),
                ),
            )
        })
        .collect();
    assert_eq!(by_class, listing.by_class);
    // The under-128-KiB band holds the 1 KiB, 10 KiB and 50 KiB objects.
    assert_eq!(b["by_size"][0]["band"], "< 128 KiB");
    assert_eq!(b["by_size"][0]["objects"], 3);

    // Today's monthly cost from the AWS CLI's listing with us-east-1's prices: IA bills at least 128 KiB
    // per object, GLACIER adds 32 KiB at its price and 8 KiB at STANDARD's, and the upload's 5 MiB of
    // parts bill at STANDARD's.
    let mut expected = 5.0 * MIB as f64 / GB * 0.023;
    for (class, size) in &listing.versions {
        let size = *size as f64;
        expected += match class.as_str() {
            "STANDARD" => size / GB * 0.023,
            "STANDARD_IA" => size.max(128.0 * KIB as f64) / GB * 0.0125,
            "GLACIER" => (size + 32.0 * KIB as f64) / GB * 0.0036 + 8.0 * KIB as f64 / GB * 0.023,
            other => panic!("the fixture has no {other} objects"),
        };
    }
    let today = b["monthly_today"].as_f64().expect("monthly_today");
    assert!((today - expected).abs() < 1e-12, "{today} != {expected}");
    // The rule expires the noncurrent versions (both became noncurrent moments ago: in month 2) and
    // aborts the upload in month 1, so month 3 costs the current versions only.
    assert_eq!(b["expired"], 2);
    let month_3 = b["projection"][2]["storage"].as_f64().expect("month 3");
    let upload = 5.0 * MIB as f64 / GB * 0.023;
    let noncurrent = (300.0 + 50.0) * KIB as f64 / GB * 0.023;
    assert!((month_3 - (expected - upload - noncurrent)).abs() < 1e-12, "{month_3}");
    assert!(
        doc["prices"]["source"]
            .as_str()
            .expect("source")
            .contains("aws.amazon.com")
    );
    assert!(stderr.contains("bucket.data: 7 versions read"), "{stderr}");

    let (code, text, stderr) = p.run(&["cost", "-e", &p.env, "data"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        text.contains(&format!("bucket.data ({bucket}, us-east-1, versioned)")),
        "{text}"
    );
    assert!(text.contains("STANDARD_IA"), "{text}");
    assert!(
        text.contains("12 months under the manifest's lifecycle rules"),
        "{text}"
    );
    let (code, markdown, stderr) = p.run(&["cost", "-e", &p.env, "--format", "markdown"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(markdown.contains("| `data` | us-east-1 | 7 |"), "{markdown}");
}

#[test]
fn an_unknown_bucket_or_an_unpriced_region_is_an_error_with_a_hint() {
    let p = Project::new(&common::unique_name("cost"));
    p.write(&format!(
        "buckets:\n  far:\n    name: {}-far\n    region: ap-south-2\n",
        p.env
    ));
    let (code, _, stderr) = p.run(&["cost", "-e", &p.env]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no embedded prices for ap-south-2"), "{stderr}");
    assert!(stderr.contains("--prices FILE"), "{stderr}");
    let (code, _, stderr) = p.run(&["cost", "-e", &p.env, "near"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("bucket `near` is not in environment"), "{stderr}");
    assert!(stderr.contains("far"), "{stderr}");
}

#[test]
fn a_broken_price_file_is_located() {
    let p = Project::new(&common::unique_name("cost"));
    p.write(&format!("buckets:\n  data:\n    name: {}-data\n", p.env));
    std::fs::write(
        p.path("prices.json"),
        "{\n  \"source\": \"mine\",\n  \"taken\": \"2026-01-01\",\n  \"currency\": \"USD\",\n  \"regions\": {\"us-east-1\": {\"STANDARD\": {\"storage_gb_month\": 0.02,}}}\n}\n",
    )
    .expect("write prices");
    let (code, _, stderr) = p.run(&["cost", "-e", &p.env, "--prices", "prices.json"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("prices.json:5:"), "{stderr}");
    assert!(stderr.contains("docs/cost.md"), "{stderr}");
}

fn lifecycle_manifest(bucket: &str, transition: bool) -> String {
    let transitions = if transition {
        "        transitions:\n          - days: 1\n            storage_class: GLACIER\n"
    } else {
        ""
    };
    format!(
        "buckets:\n  data:\n    name: {bucket}\n    lifecycle:\n      - id: archive\n{transitions}        expiration:\n          days: 400\n"
    )
}

#[test]
fn a_lifecycle_edit_shows_its_cost_delta_in_the_plan() {
    let p = Project::new(&common::unique_name("costplan"));
    let bucket = format!("{}-data", p.env);
    p.write(&lifecycle_manifest(&bucket, false));
    p.apply_ok();
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let s3 = aws.s3(common::TEST_REGION);
        for i in 0..10 {
            s3.put_object()
                .bucket(&bucket)
                .key(format!("k{i}"))
                .body(ByteStream::from(data(MIB, i)))
                .send()
                .await
                .expect("put");
        }
    });
    // The edit moves the 10 objects of 1 MiB to GLACIER on day 1.
    p.write(&lifecycle_manifest(&bucket, true));
    let (code, stdout, stderr) = p.run(&["plan", "-e", &p.env, "--cost", "--format", "json"]);
    assert_eq!(code, 0, "plan failed:\n{stdout}\n{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).expect("plan JSON");
    let costs = plan["costs"].as_array().expect("costs");
    assert_eq!(costs.len(), 1, "{costs:?}");
    let c = &costs[0];
    assert_eq!(c["address"], "bucket.data");
    assert_eq!(c["changed"], serde_json::json!(["lifecycle"]));
    let value = |name: &str| c[name].as_f64().unwrap_or_else(|| panic!("{name} in {c}"));
    let before = 10.0 / 1024.0 * 0.023;
    let after = (10.0 * MIB as f64 + 10.0 * 32.0 * KIB as f64) / GB * 0.0036 + 10.0 * 8.0 * KIB as f64 / GB * 0.023;
    assert!((value("monthly_before") - before).abs() < 1e-12, "{c}");
    assert!((value("monthly_after") - after).abs() < 1e-12, "{c}");
    // Ten transitions into GLACIER at $0.03 per 1,000.
    assert!((value("one_time_fees") - 10.0 * 0.03 / 1000.0).abs() < 1e-12, "{c}");
    assert!(value("total_12_months") < 0.0, "{c}");

    let (code, markdown, stderr) = p.run(&["plan", "-e", &p.env, "--cost", "--format", "markdown"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(markdown.contains(&format!("**Cost** of `{}`: ", p.env)), "{markdown}");
    assert!(markdown.contains("- bucket.data (lifecycle): "), "{markdown}");
    let (code, text, stderr) = p.run(&["plan", "-e", &p.env, "--cost"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(text.contains("# cost: bucket.data (lifecycle): "), "{text}");
    // Without --cost nothing is listed or priced.
    let (_, text, _) = p.run(&["plan", "-e", &p.env]);
    assert!(!text.contains("# cost:"), "{text}");
}

#[test]
fn a_sync_mappings_storage_class_prices_the_plans_uploads_against_standard() {
    let p = Project::new(&common::unique_name("costsync"));
    let bucket = format!("{}-data", p.env);
    p.write(&format!("buckets:\n  data:\n    name: {bucket}\n"));
    p.apply_ok();
    std::fs::create_dir_all(p.path("src")).expect("mkdir");
    for i in 0..2u64 {
        std::fs::write(p.path(&format!("src/f{i}.bin")), data(200 * KIB, i)).expect("write");
    }
    p.write(&format!(
        "buckets:\n  data:\n    name: {bucket}\nsync:\n  files:\n    source: src\n    bucket: data\n    storage_class: GLACIER\n"
    ));
    let (code, stdout, stderr) = p.run(&["plan", "-e", &p.env, "--cost", "--format", "json"]);
    assert_eq!(code, 0, "plan failed:\n{stdout}\n{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).expect("plan JSON");
    let c = &plan["costs"][0];
    assert_eq!(c["address"], "sync.files", "{plan}");
    assert_eq!(c["changed"], serde_json::json!(["storage_class GLACIER"]));
    let value = |name: &str| c[name].as_f64().unwrap_or_else(|| panic!("{name} in {c}"));
    // Two uploads of 200 KiB: in STANDARD, or in GLACIER with 32 KiB each at its price and 8 KiB at
    // STANDARD's; PUTs at $0.03 instead of $0.005 per 1,000.
    let before = 400.0 * KIB as f64 / GB * 0.023;
    let after = (400.0 + 64.0) * KIB as f64 / GB * 0.0036 + 16.0 * KIB as f64 / GB * 0.023;
    assert!((value("monthly_before") - before).abs() < 1e-12, "{c}");
    assert!((value("monthly_after") - after).abs() < 1e-12, "{c}");
    assert!((value("one_time_fees") - 2.0 * 0.025 / 1000.0).abs() < 1e-12, "{c}");

    // A route with a class of its own: its files are priced in that class, the others in the mapping's.
    std::fs::write(p.path("src/photo.jpg"), data(300 * KIB, 9)).expect("write");
    p.write(&format!(
        "buckets:\n  data:\n    name: {bucket}\nsync:\n  files:\n    source: src\n    bucket: data\n    storage_class: GLACIER\n    routes:\n      - extensions: [jpg]\n        bucket: data\n        prefix: photos/\n        storage_class: STANDARD_IA\n"
    ));
    let (code, stdout, stderr) = p.run(&["plan", "-e", &p.env, "--cost", "--format", "json"]);
    assert_eq!(code, 0, "plan failed:\n{stdout}\n{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).expect("plan JSON");
    let c = &plan["costs"][0];
    assert_eq!(c["error"], serde_json::Value::Null, "{c}");
    assert_eq!(
        c["changed"],
        serde_json::json!(["storage_class GLACIER", "storage_class STANDARD_IA"])
    );
    let value = |name: &str| c[name].as_f64().unwrap_or_else(|| panic!("{name} in {c}"));
    let photo = 300.0 * KIB as f64 / GB;
    assert!(
        (value("monthly_before") - (before + photo * 0.023)).abs() < 1e-12,
        "{c}"
    );
    assert!((value("monthly_after") - (after + photo * 0.0125)).abs() < 1e-12, "{c}");
    let fees = 2.0 * 0.025 / 1000.0 + (0.01 - 0.005) / 1000.0;
    assert!((value("one_time_fees") - fees).abs() < 1e-12, "{c}");
    assert_eq!(
        plan["syncs"][0]["upload_classes"],
        serde_json::json!([
            {"region": "us-east-1", "storage_class": "GLACIER", "uploads": 2, "bytes": 400 * KIB},
            {"region": "us-east-1", "storage_class": "STANDARD_IA", "uploads": 1, "bytes": 300 * KIB}
        ])
    );

    // A route into a bucket of a region the table does not price: the line says so, with no figures.
    let far = format!("{}-far", p.env);
    let manifest = format!(
        "buckets:\n  data:\n    name: {bucket}\n  far:\n    name: {far}\n    region: eu-west-1\nsync:\n  files:\n    source: src\n    bucket: data\n    storage_class: GLACIER\n    routes:\n      - extensions: [jpg]\n        bucket: far\n        storage_class: STANDARD_IA\n"
    );
    p.write(&manifest);
    p.apply_ok();
    std::fs::write(p.path("src/another.jpg"), data(10 * KIB, 10)).expect("write");
    let (code, stdout, stderr) = p.run(&["plan", "-e", &p.env, "--cost", "--format", "json"]);
    assert_eq!(code, 0, "plan failed:\n{stdout}\n{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).expect("plan JSON");
    let c = &plan["costs"][0];
    assert!(
        c["error"]
            .as_str()
            .is_some_and(|e| e.contains("no embedded prices for eu-west-1")),
        "{c}"
    );
    assert_eq!(c["monthly_before"], 0.0, "{c}");
    assert_eq!(c["one_time_fees"], 0.0, "{c}");
}

/// Gzip of `text`, as S3 writes an inventory report's files.
fn gzip(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).expect("compress");
    encoder.finish().expect("compress")
}

#[test]
fn cost_reads_the_latest_inventory_report_instead_of_listing() {
    let p = Project::new(&common::unique_name("costinv"));
    let data_bucket = format!("{}-data", p.env);
    let reports = format!("{}-reports", p.env);
    p.write(&format!(
        "buckets:\n  data:\n    name: {data_bucket}\n    versioning: enabled\n    inventory:\n      - id: weekly\n        destination: {{bucket: reports, prefix: inv/, format: CSV}}\n        schedule: Weekly\n        included_versions: All\n        optional_fields: [Size, LastModifiedDate, StorageClass]\n  reports:\n    name: {reports}\n"
    ));
    p.apply_ok();
    // moto writes no reports: one is written here as S3 lays them out, with an older one beside it
    // whose file must not be read. The data bucket itself stays empty.
    let base = format!("inv/{data_bucket}/weekly");
    let schema = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, StorageClass";
    let csv = format!(
        "\"{data_bucket}\",\"k1\",\"v1\",\"true\",\"false\",\"1048576\",\"2026-11-30T10:00:00.000Z\",\"STANDARD\"\n\
         \"{data_bucket}\",\"k1\",\"v0\",\"false\",\"false\",\"2048\",\"2026-10-01T10:00:00.000Z\",\"STANDARD_IA\"\n\
         \"{data_bucket}\",\"dir%2Fk2\",\"m1\",\"true\",\"true\",\"\",\"2026-11-29T10:00:00.000Z\",\"\"\n\
         \"{data_bucket}\",\"k3\",\"v1\",\"true\",\"false\",\"5000000\",\"2026-06-01T10:00:00.000Z\",\"GLACIER\"\n"
    );
    let objects = [
        (format!("{base}/data/new.csv.gz"), gzip(&csv)),
        (format!("{base}/data/old.csv.gz"), gzip("not, a, report\n")),
        (
            format!("{base}/2026-12-01T01-00Z/manifest.json"),
            format!(
                r#"{{"sourceBucket": "{data_bucket}", "fileFormat": "CSV", "fileSchema": "{schema}", "files": [{{"key": "{base}/data/new.csv.gz", "size": 1, "MD5checksum": "x"}}]}}"#
            )
            .into_bytes(),
        ),
        (
            format!("{base}/2026-11-24T01-00Z/manifest.json"),
            format!(r#"{{"fileFormat": "CSV", "fileSchema": "{schema}", "files": [{{"key": "{base}/data/old.csv.gz"}}]}}"#)
                .into_bytes(),
        ),
    ];
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let s3 = aws.s3(common::TEST_REGION);
        for (key, body) in objects {
            s3.put_object()
                .bucket(&reports)
                .key(key)
                .body(ByteStream::from(body))
                .send()
                .await
                .expect("put report");
        }
    });

    // The printed least-privilege policy grants reading exactly where the reports are.
    let (code, policy, stderr) = p.run(&["doctor", "-e", &p.env, "--print-policy"]);
    assert_eq!(code, 0, "{stderr}");
    let policy: serde_json::Value = serde_json::from_str(&policy).expect("policy JSON");
    let reads = policy["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .find(|s| s["Sid"] == "CostInventoryReports")
        .unwrap_or_else(|| panic!("no CostInventoryReports in {policy:#}"));
    assert_eq!(
        reads["Resource"],
        serde_json::json!([format!("arn:aws:s3:::{reports}/{base}/*")])
    );

    let (code, stdout, stderr) = p.run(&["cost", "-e", &p.env, "data", "--from", "inventory", "--format", "json"]);
    assert_eq!(code, 0, "cost failed:\n{stdout}\n{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("JSON report");
    let b = &doc["buckets"][0];
    assert_eq!(b["current"]["objects"], 2);
    assert_eq!(b["noncurrent"]["objects"], 1);
    assert_eq!(b["delete_markers"], 1);
    assert_eq!(
        b["by_class"],
        serde_json::json!([
            {"band": "GLACIER", "objects": 1, "bytes": 5000000},
            {"band": "STANDARD", "objects": 1, "bytes": 1048576},
            {"band": "STANDARD_IA", "objects": 1, "bytes": 2048},
        ])
    );
    let notes = b["notes"].to_string();
    assert!(
        notes.contains("from the S3 Inventory report 2026-12-01T01-00Z (configuration weekly)"),
        "{notes}"
    );

    // A bucket without an inventory configuration cannot be priced from one.
    let (code, _, stderr) = p.run(&["cost", "-e", &p.env, "reports", "--from", "inventory"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("bucket.reports has no enabled CSV inventory configuration"),
        "{stderr}"
    );
    assert!(stderr.contains("leave out --from inventory"), "{stderr}");
}
