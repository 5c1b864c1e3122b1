//! Server access logging: GetBucketLogging / PutBucketLogging (an empty status turns it off).

use super::{AwsKind, invalid};
use crate::aws::read::logging_from_sdk;
use crate::aws::write::logging_to_sdk;
use crate::aws::{Aws, AwsError, Op};
use crate::model::LoggingDoc;
use crate::model::kinds::logging::Logging;

impl AwsKind for Logging {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<Option<LoggingDoc>, AwsError> {
        let out = aws.s3(region).get_bucket_logging().bucket(name).send().await;
        out.map(|out| logging_from_sdk(out.logging_enabled())).map_err(|e| aws.error(op, e))
    }

    async fn put(aws: &Aws, name: &str, region: &str, logging: &Option<LoggingDoc>) -> Result<(), AwsError> {
        let op = Op::bucket("PutBucketLogging", "s3:PutBucketLogging", name);
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
