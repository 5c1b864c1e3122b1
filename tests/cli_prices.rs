//! `s3rec prices` through the real binary: a Price List bulk file in AWS's CSV layout becomes a price
//! table that `cost --prices` reads, for a region the embedded table does not have; the classes the
//! file does not price are named on stderr, and a region it does not have at all is an error.

mod common;
#[path = "common/project.rs"]
mod project;

use aws_sdk_s3::primitives::ByteStream;
use common::data;
use project::Project;

const GB: f64 = 1_073_741_824.0;
const MIB: usize = 1024 * 1024;

/// An AmazonS3 bulk file with Ireland's STANDARD rows only (at a price of this test's own).
fn bulk_file() -> String {
    let header = r#""SKU","OfferTermCode","RateCode","TermType","PriceDescription","EffectiveDate","StartingRange","EndingRange","Unit","PricePerUnit","Currency","Product Family","serviceCode","Location","Location Type","Storage Class","Volume Type","usageType","operation","Region Code","serviceName""#;
    let row = |sku: &str, start: &str, unit: &str, price: &str, usage: &str| {
        format!(
            "\"{sku}\",\"JRTCKXETXF\",\"{sku}.JRTCKXETXF.6YS6EN2CT7\",\"OnDemand\",\"d\",\"2026-11-01\",\"{start}\",\"Inf\",\"{unit}\",\"{price}\",\"USD\",\"Storage\",\"AmazonS3\",\"EU (Ireland)\",\"AWS Region\",\"\",\"\",\"{usage}\",\"\",\"eu-west-1\",\"Amazon S3\"\n"
        )
    };
    [
        "\"FormatVersion\",\"v1.0\"\n\"Disclaimer\",\"For informational purposes only.\"\n\"Publication Date\",\"2026-11-20T18:05:02Z\"\n\"Version\",\"20261120180502\"\n\"OfferCode\",\"AmazonS3\"\n".to_string(),
        format!("{header}\n"),
        row("A", "0", "GB-Mo", "0.0310000000", "EU-TimedStorage-ByteHrs"),
        row("A", "51200", "GB-Mo", "0.0290000000", "EU-TimedStorage-ByteHrs"),
        row("B", "0", "Requests", "0.0000054000", "EU-Requests-Tier1"),
        row("C", "0", "Requests", "0.0000004300", "EU-Requests-Tier2"),
    ]
    .concat()
}

#[test]
fn a_price_list_file_prices_a_region_the_embedded_table_lacks() {
    let p = Project::new(&common::unique_name("prices"));
    let bucket = format!("{}-ie", p.env);
    p.write(&format!("buckets:\n  ie:\n    name: {bucket}\n    region: eu-west-1\n"));
    std::fs::write(p.path("index.csv"), bulk_file()).expect("write the bulk file");

    let (code, _, stderr) = p.run(&["prices", "index.csv", "--out", "prices.json"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("warning: left out eu-west-1 STANDARD_IA: no row of usage type TimedStorage-SIA-ByteHrs"),
        "{stderr}"
    );
    assert!(stderr.contains("1 regions, 1 region classes; 6 left out"), "{stderr}");
    let table: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.path("prices.json")).expect("read the table")).expect("JSON");
    let standard = &table["regions"]["eu-west-1"]["STANDARD"];
    assert_eq!(standard["storage_gb_month"], 0.031);
    assert_eq!(standard["put_per_1000"], 0.0054);
    assert_eq!(standard["get_per_1000"], 0.00043);
    assert_eq!(table["taken"], "2026-11-20");

    // Without the table, Ireland is unpriced; with it, today's cost is the object at Ireland's price.
    p.apply_ok();
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.s3("eu-west-1")
            .put_object()
            .bucket(&bucket)
            .key("one")
            .body(ByteStream::from(data(MIB, 1)))
            .send()
            .await
            .expect("put");
    });
    let (code, _, stderr) = p.run(&["cost", "-e", &p.env]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no embedded prices for eu-west-1"), "{stderr}");
    let (code, stdout, stderr) = p.run(&["cost", "-e", &p.env, "--prices", "prices.json", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("JSON report");
    let today = doc["buckets"][0]["monthly_today"].as_f64().expect("monthly_today");
    let expected = MIB as f64 / GB * 0.031;
    assert!((today - expected).abs() < 1e-12, "{today} != {expected}");
    assert!(
        doc["prices"]["source"]
            .as_str()
            .expect("source")
            .contains("AWS Price List bulk files"),
        "{}",
        doc["prices"]
    );
}

#[test]
fn a_region_the_files_lack_or_a_file_of_another_kind_is_an_error() {
    let p = Project::new(&common::unique_name("prices"));
    std::fs::write(p.path("index.csv"), bulk_file()).expect("write the bulk file");
    let (code, stdout, stderr) = p.run(&["prices", "index.csv", "--region", "ap-east-1"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("no region in the files has a complete STANDARD class"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ap-east-1 STANDARD: no row of usage type TimedStorage-ByteHrs"),
        "{stderr}"
    );

    // `--chdir DIR` runs as if started in DIR: the file named and the table written are the project's.
    let outside = tempfile::tempdir().expect("tempdir");
    let project = p.path("");
    let out = p
        .s3rec_process()
        .current_dir(outside.path())
        .arg("--chdir")
        .arg(&project)
        .args(["prices", "index.csv", "--out", "from-elsewhere.json"])
        .output()
        .expect("run s3rec");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        p.path("from-elsewhere.json").is_file(),
        "the table is written in --chdir's directory"
    );
    assert!(!outside.path().join("from-elsewhere.json").exists());

    std::fs::write(p.path("other.csv"), "\"a\",\"b\"\n").expect("write");
    let (code, _, stderr) = p.run(&["prices", "other.csv"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("other.csv: no header row"), "{stderr}");
    assert!(
        stderr.contains("offers/v1.0/aws/AmazonS3/current/index.csv"),
        "{stderr}"
    );
}
