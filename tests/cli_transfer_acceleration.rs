//! Transfer Acceleration end to end against the emulator: enabled from nothing, turned off (suspended),
//! drift made with another client reverted, an empty second plan each time; and the bucket-name rule.

mod common;
#[path = "common/project.rs"]
mod project;

use aws_sdk_s3::types::{AccelerateConfiguration, BucketAccelerateStatus};
use common::flat;
use project::Project;

fn manifest(env: &str, enabled: bool) -> String {
    format!("buckets:\n  fast:\n    name: {env}-fast\n    transfer_acceleration: {enabled}\n")
}

/// The live status, as the SDK reads it.
fn live(bucket: &str) -> Option<String> {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let out = aws
            .s3("us-east-1")
            .get_bucket_accelerate_configuration()
            .bucket(bucket)
            .send()
            .await
            .expect("read the accelerate configuration");
        out.status().map(|s| s.as_str().to_string())
    })
}

#[test]
fn transfer_acceleration_is_created_updated_and_drift_reverted() {
    let project = Project::new(&common::unique_name("accel"));
    let bucket = format!("{}-fast", project.env);

    project.write(&manifest(&project.env, true));
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("bucket.fast.transfer_acceleration will be created"),
        "{text}"
    );
    project.apply_ok();
    assert_eq!(live(&bucket).as_deref(), Some("Enabled"));
    project.assert_converged();

    project.write(&manifest(&project.env, false));
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("bucket.fast.transfer_acceleration will be updated in-place"),
        "{text}"
    );
    project.apply_ok();
    assert_eq!(live(&bucket).as_deref(), Some("Suspended"));
    project.assert_converged();

    // Drift made with another client is shown and reverted.
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.s3("us-east-1")
            .put_bucket_accelerate_configuration()
            .bucket(&bucket)
            .accelerate_configuration(
                AccelerateConfiguration::builder()
                    .status(BucketAccelerateStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("drift the accelerate configuration");
    });
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("bucket.fast.transfer_acceleration will be updated in-place"),
        "{text}"
    );
    project.apply_ok();
    assert_eq!(live(&bucket).as_deref(), Some("Suspended"));
    project.assert_converged();
}

#[test]
fn transfer_acceleration_on_a_name_with_dots_is_refused() {
    let project = Project::new(&common::unique_name("acceldot"));
    project.write(&format!(
        "buckets:\n  fast:\n    name: {}.fast\n    transfer_acceleration: true\n",
        project.env
    ));
    let (code, stdout, stderr) = project.run(&["validate", "-e", &project.env]);
    assert_ne!(code, 0, "{stdout}\n{stderr}");
    let out = flat(&format!("{stdout}\n{stderr}"));
    assert!(
        out.contains(&format!(
            "S3 refuses Transfer Acceleration on bucket `{}.fast`: the name contains a dot",
            project.env
        )),
        "{out}"
    );
    assert!(out.contains("use a bucket name without dots"), "{out}");
    assert!(out.contains(&format!("{}.yaml:9:", project.env)), "{out}");
}
