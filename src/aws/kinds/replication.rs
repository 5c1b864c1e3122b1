//! Replication: GetBucketReplication / PutBucketReplication / DeleteBucketReplication.

use super::{AwsKind, invalid};
use crate::aws::read::replication_from_sdk;
use crate::aws::write::replication_to_sdk;
use crate::aws::{Aws, AwsError, Op};
use crate::model::ReplicationDoc;
use crate::model::kinds::replication::Replication;

impl AwsKind for Replication {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<Option<ReplicationDoc>, AwsError> {
        let out = aws.s3(region).get_bucket_replication().bucket(name).send().await;
        out.map(|out| replication_from_sdk(out.replication_configuration()))
            .map_err(|e| aws.error(op, e))
    }

    async fn put(aws: &Aws, name: &str, region: &str, value: &Option<ReplicationDoc>) -> Result<(), AwsError> {
        let s3 = aws.s3(region);
        let Some(replication) = value else {
            let op = Op::bucket("DeleteBucketReplication", "s3:PutReplicationConfiguration", name);
            let result = s3.delete_bucket_replication().bucket(name).send().await;
            return result.map(|_| ()).map_err(|e| aws.error(&op, e));
        };
        let op = Op::bucket("PutBucketReplication", "s3:PutReplicationConfiguration", name);
        let config = replication_to_sdk(replication).map_err(|e| invalid(&op, e))?;
        let result = s3
            .put_bucket_replication()
            .bucket(name)
            .replication_configuration(config)
            .send()
            .await;
        result.map(|_| ()).map_err(|e| aws.error(&op, e))
    }
}
