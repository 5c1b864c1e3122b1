//! Event notifications to SNS, SQS or Lambda. Their order after the topic they name comes from the ARN edges of the graph, which every kind gets.

use super::{ApiCall, DocAccess, KindSpec};
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
        write_calls: &[PUT],
    },
    not_configured: &[],
    preconfigured_by_aws: false,
    render_root: "notifications",
    after_own: &[],
    after_target: &[],
};

/// Replaces every notification; an empty configuration removes them (there is no delete call).
pub const PUT: ApiCall = ApiCall {
    operation: "PutBucketNotificationConfiguration",
    action: "s3:PutBucketNotification",
};

use serde::{Deserialize, Serialize};

use super::{ImportRefs, Kind};
use crate::import::not_imported;
use crate::manifest::types::{Bucket, KeyFilter, Notification};
use crate::model::identity::IdentityKind;
use sha2::{Digest, Sha256};

use crate::model::desired::{Context, DesiredError, topic_arn};
use crate::model::hex;

/// What a notification configuration sends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationTarget {
    Topic,
    Queue,
    Lambda,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationDoc {
    pub id: String,
    pub target: NotificationTarget,
    pub arn: String,
    /// Sorted.
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

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
        if let Some(notifications) = &b.notifications {
            let mut docs = Vec::new();
            for n in notifications {
                let arn = topic_arn(ctx, &n.topic, &format!("bucket.{logical}.notifications"))?;
                let filter = n.filter.clone().unwrap_or_default();
                let id = n.id.clone().unwrap_or_else(|| {
                    // A stable generated ID keeps plans quiet: the same topic, events and filter always get
                    // the same ID.
                    let seed = format!(
                        "{}|{}|{:?}|{:?}",
                        n.topic,
                        n.events.join(","),
                        filter.prefix,
                        filter.suffix
                    );
                    format!("s3rec-{}-{}", n.topic, &hex(&Sha256::digest(seed.as_bytes()))[..8])
                });
                docs.push(NotificationDoc {
                    id,
                    target: NotificationTarget::Topic,
                    arn,
                    events: n.events.clone(),
                    prefix: filter.prefix,
                    suffix: filter.suffix,
                });
            }
            return Ok(Some(docs));
        }
        Ok(None)
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
                .map(|c| notification(c, refs))
                .collect::<Result<_, _>>()?,
        );
        Ok(())
    }
}

/// One notification configuration as the manifest writes it, to a topic this import writes.
fn notification(c: &NotificationDoc, refs: &ImportRefs<'_>) -> Result<Notification, String> {
    let what = match c.target {
        NotificationTarget::Topic => "SNS topic",
        NotificationTarget::Queue => {
            return Err(format!(
                "configuration {} sends to SQS queue {}, and the manifest has no queues",
                c.id, c.arn
            ));
        }
        NotificationTarget::Lambda => {
            return Err(format!(
                "configuration {} invokes Lambda function {}, and the manifest has no functions",
                c.id, c.arn
            ));
        }
    };
    let Some(topic) = refs.resolved.logical(IdentityKind::SnsTopic, &c.arn) else {
        return Err(not_imported(refs, what, &c.arn));
    };
    let filter = KeyFilter {
        prefix: c.prefix.clone(),
        suffix: c.suffix.clone(),
    };
    Ok(Notification {
        id: Some(c.id.clone()),
        topic: topic.to_string(),
        events: c.events.clone(),
        filter: (filter != KeyFilter::default()).then_some(filter),
    })
}
