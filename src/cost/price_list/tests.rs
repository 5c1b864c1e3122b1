//! The Price List reader on hand-written bulk files in AWS's CSV layout: the usage types are the S3
//! User Guide's, the us-east-1 prices are those of the embedded table, so converting them must give
//! back the embedded table's us-east-1 exactly.

use super::*;

const HEADER: &str = r#""SKU","OfferTermCode","RateCode","TermType","PriceDescription","EffectiveDate","StartingRange","EndingRange","Unit","PricePerUnit","Currency","Product Family","serviceCode","Location","Location Type","Storage Class","Volume Type","usageType","operation","Region Code","serviceName""#;

/// A bulk file of `offer` with one row per (region, prefix, usage, operation, description, unit, price).
fn file(offer: &str, rows: &[(&str, &str, &str, &str, &str, &str, f64)]) -> String {
    let mut text = format!(
        "\"FormatVersion\",\"v1.0\"\n\"Disclaimer\",\"This pricing list is for informational purposes only.\"\n\"Publication Date\",\"2026-11-20T18:05:02Z\"\n\"Version\",\"20261120180502\"\n\"OfferCode\",\"{offer}\"\n{HEADER}\n"
    );
    for (n, (region, prefix, usage, op, description, unit, price)) in rows.iter().enumerate() {
        let usage = if prefix.is_empty() {
            usage.to_string()
        } else {
            format!("{prefix}-{usage}")
        };
        text.push_str(&format!(
            "\"SKU{n}\",\"JRTCKXETXF\",\"SKU{n}.JRTCKXETXF.6YS6EN2CT7\",\"OnDemand\",\"{description}\",\"2026-11-01\",\"0\",\"Inf\",\"{unit}\",\"{price:.10}\",\"USD\",\"Storage\",\"{offer}\",\"Somewhere\",\"AWS Region\",\"\",\"\",\"{usage}\",\"{op}\",\"{region}\",\"Amazon S3\"\n"
        ));
    }
    text
}

/// The AmazonS3 offer's rows of one region at us-east-1's list prices.
fn s3_rows<'a>(region: &'a str, prefix: &'a str) -> Vec<(&'a str, &'a str, &'a str, &'a str, &'a str, &'a str, f64)> {
    vec![
        (
            region,
            prefix,
            "TimedStorage-ByteHrs",
            "",
            "$0.023 per GB - first 50 TB / month of storage used",
            "GB-Mo",
            0.023,
        ),
        (
            region,
            prefix,
            "Requests-Tier1",
            "",
            "$0.005 per 1,000 PUT, COPY, POST, or LIST requests",
            "Requests",
            0.000005,
        ),
        (
            region,
            prefix,
            "Requests-Tier2",
            "",
            "$0.0004 per 1,000 GET and all other requests",
            "Requests",
            0.0000004,
        ),
        (
            region,
            prefix,
            "TimedStorage-INT-FA-ByteHrs",
            "",
            "Frequent Access tier",
            "GB-Mo",
            0.023,
        ),
        (
            region,
            prefix,
            "Requests-INT-Tier1",
            "",
            "PUT to Intelligent-Tiering",
            "Requests",
            0.000005,
        ),
        (
            region,
            prefix,
            "Requests-INT-Tier2",
            "",
            "GET from Intelligent-Tiering",
            "Requests",
            0.0000004,
        ),
        (
            region,
            prefix,
            "Monitoring-Automation-INT",
            "",
            "$0.0025 per 1,000 objects monitored",
            "Objects",
            0.0000025,
        ),
        (
            region,
            prefix,
            "TimedStorage-SIA-ByteHrs",
            "",
            "Standard-Infrequent Access",
            "GB-Mo",
            0.0125,
        ),
        (
            region,
            prefix,
            "Requests-SIA-Tier1",
            "",
            "PUT to Standard-IA",
            "Requests",
            0.00001,
        ),
        (
            region,
            prefix,
            "Requests-SIA-Tier2",
            "",
            "GET from Standard-IA",
            "Requests",
            0.000001,
        ),
        (
            region,
            prefix,
            "Retrieval-SIA",
            "",
            "retrieved from Standard-IA",
            "GB",
            0.01,
        ),
        (
            region,
            prefix,
            "TimedStorage-ZIA-ByteHrs",
            "",
            "One Zone-IA",
            "GB-Mo",
            0.01,
        ),
        (
            region,
            prefix,
            "Requests-ZIA-Tier1",
            "",
            "PUT to One Zone-IA",
            "Requests",
            0.00001,
        ),
        (
            region,
            prefix,
            "Requests-ZIA-Tier2",
            "",
            "GET from One Zone-IA",
            "Requests",
            0.000001,
        ),
        (
            region,
            prefix,
            "Retrieval-ZIA",
            "",
            "retrieved from One Zone-IA",
            "GB",
            0.01,
        ),
        // Lifecycle transitions into the four classes share Requests-Tier4; GIR's is dearer.
        (
            region,
            prefix,
            "Requests-Tier4",
            "S3-SIATransition",
            "$0.01 per 1,000 lifecycle transitions",
            "Requests",
            0.00001,
        ),
        (
            region,
            prefix,
            "Requests-Tier4",
            "S3-ZIATransition",
            "$0.01 per 1,000 lifecycle transitions",
            "Requests",
            0.00001,
        ),
        (
            region,
            prefix,
            "Requests-Tier4",
            "S3-INTTransition",
            "$0.01 per 1,000 lifecycle transitions",
            "Requests",
            0.00001,
        ),
        (
            region,
            prefix,
            "Requests-Tier4",
            "S3-GIRTransition",
            "$0.02 per 1,000 lifecycle transitions",
            "Requests",
            0.00002,
        ),
        (
            region,
            prefix,
            "TimedStorage-GIR-ByteHrs",
            "",
            "Glacier Instant Retrieval",
            "GB-Mo",
            0.004,
        ),
        (
            region,
            prefix,
            "Requests-GIR-Tier1",
            "",
            "PUT to Glacier Instant Retrieval",
            "Requests",
            0.00002,
        ),
        (
            region,
            prefix,
            "Requests-GIR-Tier2",
            "",
            "GET from Glacier Instant Retrieval",
            "Requests",
            0.00001,
        ),
        (
            region,
            prefix,
            "Retrieval-GIR",
            "",
            "retrieved from Glacier Instant Retrieval",
            "GB",
            0.03,
        ),
        (
            region,
            prefix,
            "TimedStorage-GlacierByteHrs",
            "",
            "Glacier Flexible Retrieval",
            "GB-Mo",
            0.0036,
        ),
        (
            region,
            prefix,
            "Requests-GLACIER-Tier1",
            "",
            "PUT to Glacier Flexible Retrieval",
            "Requests",
            0.00003,
        ),
        (
            region,
            prefix,
            "Requests-GLACIER-Tier2",
            "",
            "GET from Glacier Flexible Retrieval",
            "Requests",
            0.0000004,
        ),
        // Transitions to both archive classes and standard Glacier restores share Requests-Tier3.
        (
            region,
            prefix,
            "Requests-Tier3",
            "S3-GlacierTransition",
            "$0.03 per 1,000 lifecycle transitions",
            "Requests",
            0.00003,
        ),
        (
            region,
            prefix,
            "Requests-Tier3",
            "S3-GDATransition",
            "$0.05 per 1,000 lifecycle transitions",
            "Requests",
            0.00005,
        ),
        (
            region,
            prefix,
            "Requests-Tier3",
            "RestoreObject",
            "$0.05 per 1,000 standard restore requests",
            "Requests",
            0.00005,
        ),
        (
            region,
            prefix,
            "Expedited-Retrieval-Bytes",
            "",
            "Expedited retrieval",
            "GB",
            0.03,
        ),
        (
            region,
            prefix,
            "Requests-Tier6",
            "",
            "$10 per 1,000 Expedited requests",
            "Requests",
            0.01,
        ),
        (
            region,
            prefix,
            "Standard-Retrieval-Bytes",
            "",
            "Standard retrieval",
            "GB",
            0.01,
        ),
        (region, prefix, "Bulk-Retrieval-Bytes", "", "Bulk retrieval", "GB", 0.0),
        (
            region,
            prefix,
            "Requests-Tier5",
            "",
            "Bulk restore requests",
            "Requests",
            0.0,
        ),
        (
            region,
            prefix,
            "Requests-GDA-Tier2",
            "",
            "GET from Deep Archive",
            "Requests",
            0.0000004,
        ),
        // Rows this does not read.
        (region, prefix, "TagStorage-TagHrs", "", "tags", "Tag-Mo", 0.01),
    ]
}

/// The AmazonS3GlacierDeepArchive offer's rows of one region at us-east-1's list prices.
fn gda_rows<'a>(region: &'a str, prefix: &'a str) -> Vec<(&'a str, &'a str, &'a str, &'a str, &'a str, &'a str, f64)> {
    vec![
        (
            region,
            prefix,
            "TimedStorage-GDA-ByteHrs",
            "",
            "Deep Archive storage",
            "GB-Mo",
            0.00099,
        ),
        (
            region,
            prefix,
            "Requests-GDA-Tier1",
            "PutObject",
            "PUT to Deep Archive",
            "Requests",
            0.00005,
        ),
        (
            region,
            prefix,
            "Requests-GDA-Tier1",
            "InitiateMultipartUpload",
            "Initiate Multipart Upload to Deep Archive",
            "Requests",
            0.00005,
        ),
        (
            region,
            prefix,
            "Standard-Retrieval-Bytes",
            "DeepArchiveRestoreObject",
            "Standard retrieval",
            "GB",
            0.02,
        ),
        (
            region,
            prefix,
            "Requests-GDA-Tier3",
            "",
            "standard restore requests",
            "Requests",
            0.0001,
        ),
        (
            region,
            prefix,
            "Bulk-Retrieval-Bytes",
            "DeepArchiveRestoreObject",
            "Bulk retrieval",
            "GB",
            0.0025,
        ),
        (
            region,
            prefix,
            "Requests-GDA-Tier5",
            "",
            "bulk restore requests",
            "Requests",
            0.000025,
        ),
    ]
}

fn read(files: &[(&str, String)]) -> PriceList {
    let mut list = PriceList::default();
    for (name, text) in files {
        list.read(name, text.as_bytes()).expect("readable");
    }
    list
}

#[test]
fn us_east_1_at_list_prices_gives_back_the_embedded_table() {
    let embedded = Prices::embedded().expect("embedded");
    let list = read(&[
        ("s3.csv", file("AmazonS3", &s3_rows("us-east-1", ""))),
        (
            "gda.csv",
            file("AmazonS3GlacierDeepArchive", &gda_rows("us-east-1", "")),
        ),
    ]);
    let (prices, gaps) = list.build(&[], &embedded).expect("built");
    assert_eq!(gaps, Vec::new());
    assert_eq!(prices.regions.keys().collect::<Vec<_>>(), ["us-east-1"]);
    assert_eq!(prices.regions["us-east-1"], embedded.regions["us-east-1"]);
    assert_eq!(prices.taken, "2026-11-20");
    assert!(
        prices.source.contains("AmazonS3 version 20261120180502"),
        "{}",
        prices.source
    );
    // What `s3rec prices` writes is what `--prices FILE` reads.
    let text = serde_json::to_string_pretty(&prices).expect("json");
    assert_eq!(Prices::parse("out.json", &text).expect("parses"), prices);
}

#[test]
fn prefixed_regions_each_get_their_own_prices() {
    let embedded = Prices::embedded().expect("embedded");
    let mut s3 = s3_rows("us-east-1", "");
    let mut eu = s3_rows("eu-west-1", "EU");
    // Ireland's Standard storage is dearer than Virginia's in this fixture.
    eu[0].6 = 0.024;
    s3.extend(eu);
    let mut gda = gda_rows("us-east-1", "");
    gda.extend(gda_rows("eu-west-1", "EU"));
    let list = read(&[
        ("s3.csv", file("AmazonS3", &s3)),
        ("gda.csv", file("AmazonS3GlacierDeepArchive", &gda)),
    ]);
    let (prices, gaps) = list.build(&[], &embedded).expect("built");
    assert!(gaps.is_empty(), "{gaps:?}");
    assert_eq!(prices.regions["eu-west-1"]["STANDARD"].storage_gb_month, 0.024);
    assert_eq!(prices.regions["us-east-1"]["STANDARD"].storage_gb_month, 0.023);
    let (only, _) = list.build(&["eu-west-1".to_string()], &embedded).expect("built");
    assert_eq!(only.regions.keys().collect::<Vec<_>>(), ["eu-west-1"]);
}

#[test]
fn a_class_without_its_rows_is_left_out_and_named() {
    let embedded = Prices::embedded().expect("embedded");
    // Only the AmazonS3 offer: Deep Archive's storage is in the other file. Standard-Retrieval-Bytes is
    // in this one, but only as Glacier Flexible Retrieval's, which must not price Deep Archive.
    let list = read(&[("s3.csv", file("AmazonS3", &s3_rows("us-east-1", "")))]);
    let (prices, gaps) = list.build(&[], &embedded).expect("built");
    assert!(!prices.regions["us-east-1"].contains_key("DEEP_ARCHIVE"));
    assert!(prices.regions["us-east-1"].contains_key("GLACIER"));
    assert_eq!(
        gaps.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["us-east-1 DEEP_ARCHIVE: no row of usage type TimedStorage-GDA-ByteHrs"]
    );
}

#[test]
fn rows_at_two_prices_that_nothing_separates_are_refused_not_guessed() {
    let embedded = Prices::embedded().expect("embedded");
    let mut rows = s3_rows("us-east-1", "");
    for row in rows.iter_mut().filter(|r| r.2 == "Requests-Tier4") {
        row.3 = "";
        row.4 = "lifecycle transitions";
    }
    let list = read(&[
        ("s3.csv", file("AmazonS3", &rows)),
        (
            "gda.csv",
            file("AmazonS3GlacierDeepArchive", &gda_rows("us-east-1", "")),
        ),
    ]);
    let (prices, gaps) = list.build(&[], &embedded).expect("built");
    let left_out: Vec<&str> = gaps.iter().map(|g| g.class.as_str()).collect();
    assert_eq!(
        left_out,
        ["GLACIER_IR", "INTELLIGENT_TIERING", "ONEZONE_IA", "STANDARD_IA"]
    );
    assert!(matches!(&gaps[0].reason, GapReason::Ambiguous(seen) if seen.len() == 2));
    assert!(prices.regions["us-east-1"].contains_key("STANDARD"));
}

#[test]
fn a_region_without_standard_is_not_written_and_nothing_at_all_is_an_error() {
    let embedded = Prices::embedded().expect("embedded");
    let rows: Vec<_> = s3_rows("eu-west-1", "EU")
        .into_iter()
        .filter(|r| r.2 != "TimedStorage-ByteHrs")
        .collect();
    let list = read(&[("s3.csv", file("AmazonS3", &rows))]);
    let err = list.build(&[], &embedded).expect_err("nothing");
    assert_eq!(err.to_string(), "no region in the files has a complete STANDARD class");
    assert!(
        err.hint()
            .expect("hint")
            .contains("eu-west-1 STANDARD: no row of usage type TimedStorage-ByteHrs")
    );
}

#[test]
fn other_terms_zones_and_tiers_are_skipped_and_units_checked() {
    let embedded = Prices::embedded().expect("embedded");
    let mut text = file("AmazonS3", &s3_rows("us-east-1", ""));
    // A reserved term, a Local Zone and the second volume tier, all at other prices, change nothing.
    text.push_str("\"X1\",\"T\",\"R\",\"Reserved\",\"d\",\"\",\"0\",\"Inf\",\"GB-Mo\",\"0.5\",\"USD\",\"Storage\",\"AmazonS3\",\"x\",\"AWS Region\",\"\",\"\",\"TimedStorage-ByteHrs\",\"\",\"us-east-1\",\"\"\n");
    text.push_str("\"X2\",\"T\",\"R\",\"OnDemand\",\"d\",\"\",\"0\",\"Inf\",\"GB-Mo\",\"0.5\",\"USD\",\"Storage\",\"AmazonS3\",\"x\",\"AWS Local Zone\",\"\",\"\",\"TimedStorage-ByteHrs\",\"\",\"us-east-1\",\"\"\n");
    text.push_str("\"X3\",\"T\",\"R\",\"OnDemand\",\"d\",\"\",\"51200\",\"512000\",\"GB-Mo\",\"0.022\",\"USD\",\"Storage\",\"AmazonS3\",\"x\",\"AWS Region\",\"\",\"\",\"TimedStorage-ByteHrs\",\"\",\"us-east-1\",\"\"\n");
    // Another product billing storage under the same usage type, at its own price and volume type,
    // is told apart by STANDARD's volume type (the fixture's rows name none, so give STANDARD's one).
    let text = text.replace(
        "\"Storage\",\"AmazonS3\",\"Somewhere\",\"AWS Region\",\"\",\"\",\"TimedStorage-ByteHrs\"",
        "\"Storage\",\"AmazonS3\",\"Somewhere\",\"AWS Region\",\"General Purpose\",\"Standard\",\"TimedStorage-ByteHrs\"",
    );
    let mut text = text;
    text.push_str("\"X4\",\"T\",\"R\",\"OnDemand\",\"d\",\"\",\"0\",\"Inf\",\"GB-Mo\",\"0.16\",\"USD\",\"Storage\",\"AmazonS3\",\"x\",\"AWS Region\",\"\",\"Other Product\",\"TimedStorage-ByteHrs\",\"\",\"us-east-1\",\"\"\n");
    let list = read(&[("s3.csv", text.clone())]);
    let (prices, _) = list.build(&[], &embedded).expect("built");
    assert_eq!(prices.regions["us-east-1"]["STANDARD"].storage_gb_month, 0.023);

    let wrong_unit = text.replace("\"Objects\",\"0.0000025000\"", "\"GB\",\"0.0000025000\"");
    let list = read(&[("s3.csv", wrong_unit)]);
    let (_, gaps) = list.build(&[], &embedded).expect("built");
    assert!(
        gaps.iter()
            .any(|g| g.class == "INTELLIGENT_TIERING" && g.reason == GapReason::Unit("GB".to_string())),
        "{gaps:?}"
    );
}

#[test]
fn broken_files_are_located() {
    let mut list = PriceList::default();
    let err = list.read("a.csv", "\"x\",\"y\"\n".as_bytes()).expect_err("no header");
    assert!(matches!(err, PriceListError::NoHeader { .. }), "{err}");
    let err = list
        .read("b.csv", "\"SKU\",\"TermType\"\n".as_bytes())
        .expect_err("columns");
    assert_eq!(err.to_string(), "b.csv: the header has no `Region Code` column");
    let text = file("AmazonEC2", &[]);
    let err = list.read("c.csv", text.as_bytes()).expect_err("offer");
    assert_eq!(err.to_string(), "c.csv: offer AmazonEC2 is not one this reads");
    let text = file(
        "AmazonS3",
        &[("us-east-1", "", "Requests-Tier1", "", "d", "Requests", 0.0)],
    )
    .replace("\"0.0000000000\"", "\"cheap\"");
    let err = list.read("d.csv", text.as_bytes()).expect_err("price");
    assert_eq!(err.to_string(), "d.csv:7: price `cheap` is not a number");
}

#[test]
fn billing_prefixes_come_off_and_nothing_else_does() {
    assert_eq!(unprefixed("EUC1-Requests-Tier1"), "Requests-Tier1");
    assert_eq!(unprefixed("EU-TimedStorage-ByteHrs"), "TimedStorage-ByteHrs");
    assert_eq!(unprefixed("Requests-Tier1"), "Requests-Tier1");
    assert_eq!(unprefixed("Standard-Retrieval-Bytes"), "Standard-Retrieval-Bytes");
    assert_eq!(unprefixed("Monitoring-Automation-INT"), "Monitoring-Automation-INT");
}

#[test]
fn every_class_of_the_embedded_table_has_its_rules() {
    let embedded = Prices::embedded().expect("embedded");
    for class in embedded.regions["us-east-1"].keys() {
        assert!(RULES.iter().any(|r| r.class == class), "no rule prices {class}");
    }
}

#[test]
fn a_put_price_per_operation_is_the_put_object_one() {
    let embedded = Prices::embedded().expect("embedded");
    let mut rows = s3_rows("us-east-1", "");
    for row in rows.iter_mut().filter(|r| r.2 == "Requests-GLACIER-Tier1") {
        row.3 = "PutObject";
    }
    rows.push((
        "us-east-1",
        "",
        "Requests-GLACIER-Tier1",
        "CopyObject",
        "copies into Glacier",
        "Requests",
        0.00004,
    ));
    let list = read(&[("s3.csv", file("AmazonS3", &rows))]);
    let (prices, _) = list.build(&[], &embedded).expect("built");
    assert_eq!(prices.regions["us-east-1"]["GLACIER"].put_per_1000, 0.03);
}
