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

use super::{ImportRefs, Kind};
use crate::manifest::types::Bucket;
use crate::model::desired::{self, Context, DesiredError};
use crate::model::{NotificationDoc, NotificationTarget};

/// Sorted by ID; "not configured" is empty.
pub struct Notifications;

impl Kind for Notifications {
    type Value = Vec<NotificationDoc>;
    const SPEC: KindSpec = SPEC;

    fn unconfigured() -> Self::Value {
        Vec::new()
    }

    fn canonical(mut n: Self::Value) -> Self::Value {
        for c in &mut n {
            c.events.sort();
            c.events.dedup();
            if c.prefix.as_deref() == Some("") {
                c.prefix = None;
            }
            if c.suffix.as_deref() == Some("") {
                c.suffix = None;
            }
        }
        n.sort_by(|a, b| a.id.cmp(&b.id));
        n
    }

    fn desired(ctx: &Context<'_>, logical: &str, b: &Bucket) -> Result<Option<Self::Value>, DesiredError> {
        desired::notifications_doc(ctx, logical, b)
    }

    fn named_identities(n: &Self::Value) -> Vec<String> {
        n.iter()
            .filter(|c| c.target == NotificationTarget::Topic)
            .map(|c| c.arn.clone())
            .collect()
    }

    fn to_manifest(n: &Self::Value, bucket: &mut Bucket, _physical: &str, refs: &ImportRefs<'_>) -> Result<(), String> {
        bucket.notifications = Some(
            n.iter()
                .map(|c| crate::import::notification(c, refs))
                .collect::<Result<_, _>>()?,
        );
        Ok(())
    }
}
