//! A sync mapping's `retention` against the moto emulator: the plan shows the lifecycle rules it
//! generates on the destination bucket, beside the bucket's own, `apply` puts them, S3 returns them as
//! documented, and a second plan is empty.

mod common;
#[path = "common/project.rs"]
mod project;

use aws_sdk_s3::types::LifecycleRule;
use project::Project;

/// The lifecycle rules of `bucket` as S3 returns them, by ID.
fn lifecycle_rules(bucket: &str) -> Vec<LifecycleRule> {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let s3 = aws.s3(common::TEST_REGION);
        let got = s3
            .get_bucket_lifecycle_configuration()
            .bucket(bucket)
            .send()
            .await
            .expect("get lifecycle");
        let mut rules = got.rules().to_vec();
        rules.sort_by(|a, b| a.id().cmp(&b.id()));
        rules
    })
}

#[test]
fn retention_becomes_lifecycle_rules_of_the_destination_beside_the_bucket_s_own() {
    let p = Project::new(&common::unique_name("retain"));
    let bucket = format!("{}-backups", p.env);
    let photos = format!("{}-photos", p.env);
    std::fs::create_dir_all(p.path("home")).expect("mkdir");
    // `keep_versions` is left out: moto drops NewerNoncurrentVersions from the rules it stores
    // (docs/testing.md), so a plan would see it missing after every apply.
    p.write(&format!(
        "buckets:\n  backups:\n    name: {bucket}\n    versioning: enabled\n    lifecycle:\n      - id: uploads\n        abort_incomplete_multipart_upload_days: 7\n  photos:\n    name: {photos}\n    versioning: enabled\nsync:\n  home:\n    source: home\n    bucket: backups\n    prefix: home/\n    retention: {{noncurrent_days: 30, delete_markers: expire}}\n    routes:\n      - {{extensions: [jpg], bucket: photos, prefix: pics/}}\n"
    ));
    let (code, text) = p.plan();
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("s3rec-retention-home"), "{text}");
    assert!(text.contains("s3rec-retention-home-2"), "{text}");
    p.apply_ok();

    let rules = lifecycle_rules(&bucket);
    let ids: Vec<&str> = rules.iter().filter_map(|r| r.id()).collect();
    assert_eq!(ids, vec!["s3rec-retention-home", "uploads"]);
    let generated = &rules[0];
    assert_eq!(
        generated.filter().and_then(|f| f.prefix()),
        Some("home/"),
        "{generated:?}"
    );
    assert_eq!(
        generated
            .noncurrent_version_expiration()
            .and_then(|e| e.noncurrent_days()),
        Some(30)
    );
    assert_eq!(
        generated.expiration().and_then(|e| e.expired_object_delete_marker()),
        Some(true)
    );
    let routed = lifecycle_rules(&photos);
    assert_eq!(routed.len(), 1, "{routed:?}");
    assert_eq!(routed[0].id(), Some("s3rec-retention-home-2"));
    assert_eq!(routed[0].filter().and_then(|f| f.prefix()), Some("pics/"));
    p.assert_converged();

    // Dropping the retention removes its rules and leaves the bucket's own.
    p.write(&format!(
        "buckets:\n  backups:\n    name: {bucket}\n    versioning: enabled\n    lifecycle:\n      - id: uploads\n        abort_incomplete_multipart_upload_days: 7\n  photos:\n    name: {photos}\n    versioning: enabled\n    lifecycle: []\nsync:\n  home:\n    source: home\n    bucket: backups\n    prefix: home/\n"
    ));
    p.apply_ok();
    let ids: Vec<String> = lifecycle_rules(&bucket)
        .iter()
        .filter_map(|r| r.id().map(str::to_string))
        .collect();
    assert_eq!(ids, vec!["uploads".to_string()]);
    p.assert_converged();
}

#[test]
fn a_conflicting_bucket_rule_is_refused_by_plan_with_its_place() {
    let p = Project::new(&common::unique_name("retain"));
    std::fs::create_dir_all(p.path("home")).expect("mkdir");
    p.write(
        "buckets:\n  backups:\n    name: ${env}-backups\n    versioning: enabled\n    lifecycle:\n      - id: old\n        noncurrent_version_expiration: {days: 7}\nsync:\n  home:\n    source: home\n    bucket: backups\n    retention: {noncurrent_days: 30}\n",
    );
    let (code, stdout, stderr) = p.run(&["plan", "-e", &p.env]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let flat = common::flat(&stderr);
    assert!(flat.contains("[retention-conflict]"), "{stderr}");
    assert!(
        flat.contains("lifecycle rule `old` of bucket `backups` expires noncurrent versions anywhere in the bucket, which the retention of sync mapping `home` decides"),
        "{stderr}"
    );
}
