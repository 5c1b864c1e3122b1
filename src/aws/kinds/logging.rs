//! Server access logging: GetBucketLogging / PutBucketLogging (an empty status turns it off).

use aws_sdk_s3::types::{BucketLoggingStatus, LoggingEnabled};

use super::{AwsKind, invalid};
use crate::aws::{Aws, AwsError, Op};
use crate::model::kinds::logging::{self, Logging, LoggingDoc};

impl AwsKind for Logging {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<Option<LoggingDoc>, AwsError> {
        let out = aws.s3(region).get_bucket_logging().bucket(name).send().await;
        out.map(|out| logging_from_sdk(out.logging_enabled())).map_err(|e| aws.error(op, e))
    }

    async fn put(aws: &Aws, name: &str, region: &str, logging: &Option<LoggingDoc>) -> Result<(), AwsError> {
        let op = Op::write(&logging::PUT, name);
        // An empty BucketLoggingStatus is how S3 turns logging off; there is no DeleteBucketLogging.
        let status = logging_to_sdk(logging.as_ref()).map_err(|e| invalid(&op, e))?;
        let result = aws
            .s3(region)
            .put_bucket_logging()
            .bucket(name)
            .bucket_logging_status(status)
            .send()
            .await;
        result.map(|_| ()).map_err(|e| aws.error(&op, e))
    }
}

fn logging_from_sdk(logging: Option<&LoggingEnabled>) -> Option<LoggingDoc> {
    logging.map(|l| LoggingDoc {
        target_bucket: l.target_bucket().to_string(),
        prefix: l.target_prefix().to_string(),
    })
}

fn logging_to_sdk(logging: Option<&LoggingDoc>) -> Result<BucketLoggingStatus, String> {
    let Some(logging) = logging else {
        return Ok(BucketLoggingStatus::builder().build());
    };
    let enabled = LoggingEnabled::builder()
        .target_bucket(&logging.target_bucket)
        .target_prefix(&logging.prefix)
        .build()
        .map_err(|e| e.to_string())?;
    Ok(BucketLoggingStatus::builder().logging_enabled(enabled).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logging_round_trips() {
        let logging = LoggingDoc {
            target_bucket: "logs".into(),
            prefix: "app/".into(),
        };
        let status = logging_to_sdk(Some(&logging)).unwrap();
        assert_eq!(logging_from_sdk(status.logging_enabled()), Some(logging));
        assert!(logging_to_sdk(None).unwrap().logging_enabled().is_none());
    }
}
