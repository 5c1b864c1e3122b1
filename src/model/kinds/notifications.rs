//! Event notifications to SNS, SQS or Lambda. Their order after the topic they name comes from the ARN edges of the graph, which every kind gets.

use super::{DocAccess, KindSpec};
use crate::model::DocKind;

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::Notifications,
    name: "notifications",
    manifest_field: "notifications",
    access: DocAccess {
        kind: DocKind::Notifications,
        read_operation: "GetBucketNotificationConfiguration",
        read_action: "s3:GetBucketNotification",
        write_actions: &["s3:PutBucketNotification"],
    },
    not_configured: &[],
    preconfigured_by_aws: false,
    render_root: "notifications",
    after_own: &[],
    after_target: &[],
};
