//! Integration tests of `s3rec::aws` against the moto emulator started by `scripts/test.sh`.
//!
//! They prove the connection set-up (endpoint, path-style addressing, static credentials, per-region
//! S3 clients) and the error translation work against a real HTTP server, and they pin down the
//! emulator behaviours the rest of the suite relies on.

mod common;

use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Event, NotificationConfiguration, TopicConfiguration,
};
use common::{TEST_REGION, test_overrides, unique_name};
use s3rec::aws::{Aws, AwsError, Op, connect};
use s3rec::manifest::types::AwsSettings;

/// Creates `bucket` in `region`, sending a LocationConstraint outside us-east-1 as AWS requires.
async fn create_bucket(aws: &Aws, region: &str, bucket: &str) {
    let mut request = aws.s3(region).create_bucket().bucket(bucket);
    if region != "us-east-1" {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    request
        .send()
        .await
        .map_err(|err| aws.error(&Op::bucket("CreateBucket", "s3:CreateBucket", bucket), err))
        .unwrap_or_else(|err| panic!("{err}"));
}

/// The region S3 reports for `bucket`, with AWS's "no constraint means us-east-1" rule applied.
async fn bucket_region(aws: &Aws, bucket: &str) -> String {
    let out = aws
        .s3(TEST_REGION)
        .get_bucket_location()
        .bucket(bucket)
        .send()
        .await
        .map_err(|err| aws.error(&Op::bucket("GetBucketLocation", "s3:GetBucketLocation", bucket), err))
        .unwrap_or_else(|err| panic!("{err}"));
    match out.location_constraint() {
        None => "us-east-1".to_string(),
        Some(constraint) if constraint.as_str().is_empty() => "us-east-1".to_string(),
        Some(constraint) => constraint.as_str().to_string(),
    }
}

async fn head_bucket(aws: &Aws, region: &str, bucket: &str) -> Result<(), AwsError> {
    aws.s3(region)
        .head_bucket()
        .bucket(bucket)
        .send()
        .await
        .map(|_| ())
        .map_err(|err| aws.error(&Op::bucket("HeadBucket", "s3:ListBucket", bucket), err))
}

async fn delete_bucket(aws: &Aws, region: &str, bucket: &str) {
    aws.s3(region)
        .delete_bucket()
        .bucket(bucket)
        .send()
        .await
        .map_err(|err| aws.error(&Op::bucket("DeleteBucket", "s3:DeleteBucket", bucket), err))
        .unwrap_or_else(|err| panic!("{err}"));
}

#[tokio::test]
async fn buckets_are_created_headed_and_deleted_in_two_regions() {
    let aws = common::emulator().await;
    let cases = [
        ("us-east-1", unique_name("s3rec-emu-use1")),
        ("eu-west-1", unique_name("s3rec-emu-euw1")),
    ];

    for (region, bucket) in &cases {
        create_bucket(&aws, region, bucket).await;
    }
    for (region, bucket) in &cases {
        assert_eq!(
            bucket_region(&aws, bucket).await,
            *region,
            "the LocationConstraint of {bucket} did not round-trip"
        );
        head_bucket(&aws, region, bucket)
            .await
            .unwrap_or_else(|err| panic!("HeadBucket on a bucket just created failed: {err}"));
    }
    for (region, bucket) in &cases {
        delete_bucket(&aws, region, bucket).await;
        let err = head_bucket(&aws, region, bucket)
            .await
            .expect_err("HeadBucket must fail once the bucket is deleted");
        assert!(err.is_not_found(), "expected NotFound, got: {err}");
        let message = err.to_string();
        assert!(message.contains("HeadBucket"), "{message}");
        assert!(message.contains(&format!("arn:aws:s3:::{bucket}")), "{message}");
    }
}

#[tokio::test]
async fn missing_buckets_are_reported_with_the_operation_and_resource() {
    let aws = common::emulator().await;
    let bucket = unique_name("s3rec-emu-missing");
    let op = Op::bucket("GetBucketTagging", "s3:GetBucketTagging", &bucket);
    let err = aws
        .s3(TEST_REGION)
        .get_bucket_tagging()
        .bucket(&bucket)
        .send()
        .await
        .map_err(|err| aws.error(&op, err))
        .expect_err("the bucket does not exist");
    assert!(err.is_not_found(), "expected NotFound, got: {err}");
    assert_eq!(err.code(), Some("NoSuchBucket"));
    assert!(
        err.to_string().starts_with(&format!(
            "GetBucketTagging failed because arn:aws:s3:::{bucket} does not exist (NoSuchBucket)"
        )),
        "{err}"
    );
}

#[tokio::test]
async fn caller_identity_is_a_twelve_digit_account() {
    let aws = common::emulator().await;
    let identity = aws.caller_identity().await.unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(identity.account.len(), 12, "{identity:?}");
    assert!(identity.account.chars().all(|c| c.is_ascii_digit()), "{identity:?}");
    assert!(identity.arn.starts_with("arn:aws:"), "{identity:?}");
    assert!(!identity.user_id.is_empty(), "{identity:?}");
}

#[tokio::test]
async fn the_account_guard_rejects_credentials_for_another_account() {
    let settings = AwsSettings {
        force_path_style: true,
        account_id: Some("000000000000".to_string()),
        ..AwsSettings::default()
    };
    let aws = connect(&settings, &test_overrides()).await.expect("connect");
    let err = aws
        .check_account()
        .await
        .expect_err("the emulator's account is not 000000000000");
    assert!(matches!(err, AwsError::AccountMismatch { .. }), "{err}");
    assert!(err.to_string().contains("expects account 000000000000"), "{err}");
}

/// Pins the emulator answers that reconciliation reads on a bare bucket, so a moto upgrade that
/// changes them fails here rather than deep inside a plan test.
#[tokio::test]
async fn a_bare_bucket_reads_as_unversioned_and_without_notifications() {
    let aws = common::emulator().await;
    let bucket = unique_name("s3rec-emu-bare");
    create_bucket(&aws, TEST_REGION, &bucket).await;
    let s3 = aws.s3(TEST_REGION);

    // moto 5.2.x answers this with a root element the SDK rejects; scripts/moto.sh pins 5.1.22.
    let versioning = s3
        .get_bucket_versioning()
        .bucket(&bucket)
        .send()
        .await
        .map_err(|err| {
            aws.error(
                &Op::bucket("GetBucketVersioning", "s3:GetBucketVersioning", &bucket),
                err,
            )
        })
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(versioning.status(), None);
    assert_eq!(versioning.mfa_delete(), None);

    // moto answers this with an empty 200 body where AWS sends an empty element; the helper copes.
    let notifications = aws
        .bucket_notifications(TEST_REGION, &bucket)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(notifications.topic_configurations().is_empty());
    assert!(notifications.queue_configurations().is_empty());
    assert!(notifications.lambda_function_configurations().is_empty());

    delete_bucket(&aws, TEST_REGION, &bucket).await;
}

/// Checks that the empty-body repair in `bucket_notifications` leaves a real configuration alone.
#[tokio::test]
async fn bucket_notifications_read_back_a_topic_configuration() {
    let aws = common::emulator().await;
    let bucket = unique_name("s3rec-emu-notify");
    create_bucket(&aws, TEST_REGION, &bucket).await;
    let topic_arn = aws
        .sns(TEST_REGION)
        .create_topic()
        .name(unique_name("s3rec-emu-topic"))
        .send()
        .await
        .map_err(|err| aws.error(&Op::account("CreateTopic", "sns:CreateTopic"), err))
        .unwrap_or_else(|err| panic!("{err}"))
        .topic_arn()
        .expect("CreateTopic returns the topic ARN")
        .to_string();

    let configuration = NotificationConfiguration::builder()
        .topic_configurations(
            TopicConfiguration::builder()
                .id("uploads")
                .topic_arn(&topic_arn)
                .events(Event::S3ObjectCreated)
                .build()
                .expect("topic ARN and events are set"),
        )
        .build();
    aws.s3(TEST_REGION)
        .put_bucket_notification_configuration()
        .bucket(&bucket)
        .notification_configuration(configuration)
        .send()
        .await
        .map_err(|err| {
            aws.error(
                &Op::bucket(
                    "PutBucketNotificationConfiguration",
                    "s3:PutBucketNotification",
                    &bucket,
                ),
                err,
            )
        })
        .unwrap_or_else(|err| panic!("{err}"));

    let read = aws
        .bucket_notifications(TEST_REGION, &bucket)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let topics = read.topic_configurations();
    assert_eq!(topics.len(), 1, "{read:?}");
    assert_eq!(topics[0].topic_arn(), topic_arn);
    assert_eq!(topics[0].events(), [Event::S3ObjectCreated]);

    delete_bucket(&aws, TEST_REGION, &bucket).await;
}
