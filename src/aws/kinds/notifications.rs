//! Event notifications: GetBucketNotificationConfiguration / PutBucketNotificationConfiguration (an
//! empty configuration removes every notification).

use super::{AwsKind, invalid};
use crate::aws::read::notifications_from_sdk;
use crate::aws::write::notifications_to_sdk;
use crate::aws::{Aws, AwsError, Op};
use crate::model::NotificationDoc;
use crate::model::kinds::notifications::Notifications;

impl AwsKind for Notifications {
    async fn read(aws: &Aws, name: &str, region: &str, _op: &Op) -> Result<Vec<NotificationDoc>, AwsError> {
        let out = aws.bucket_notifications(region, name).await?;
        Ok(notifications_from_sdk(
            out.topic_configurations(),
            out.queue_configurations(),
            out.lambda_function_configurations(),
        ))
    }

    async fn put(aws: &Aws, name: &str, region: &str, notifications: &Vec<NotificationDoc>) -> Result<(), AwsError> {
        let op = Op::bucket("PutBucketNotificationConfiguration", "s3:PutBucketNotification", name);
        // An empty configuration removes every notification; there is no Delete call.
        let config = notifications_to_sdk(notifications).map_err(|e| invalid(&op, e))?;
        // `skip_destination_validation` is deliberately left unset: AWS then checks that each topic,
        // queue or function exists and lets S3 publish to it, which is the error a user wants at
        // apply time rather than silently lost events. moto does not need it either: it checks only
        // that each destination ARN is in the bucket's region.
        let result = aws
            .s3(region)
            .put_bucket_notification_configuration()
            .bucket(name)
            .notification_configuration(config)
            .send()
            .await;
        result.map(|_| ()).map_err(|e| aws.error(&op, e))
    }
}
