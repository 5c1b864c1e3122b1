//! Event notifications: GetBucketNotificationConfiguration / PutBucketNotificationConfiguration (an
//! empty configuration removes every notification).

use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, LambdaFunctionConfiguration, NotificationConfiguration,
    NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter, TopicConfiguration,
};

use super::non_empty;
use super::{AwsKind, invalid};
use crate::aws::{Aws, AwsError, Op};
use crate::model::kinds::notifications::{self, NotificationDoc, NotificationTarget, Notifications};

impl AwsKind for Notifications {
    /// `Aws::bucket_notifications` names the read in its errors itself (integration tests call it too).
    async fn read(aws: &Aws, name: &str, region: &str, _op: &Op) -> Result<Vec<NotificationDoc>, AwsError> {
        let out = aws.bucket_notifications(region, name).await?;
        Ok(notifications_from_sdk(
            out.topic_configurations(),
            out.queue_configurations(),
            out.lambda_function_configurations(),
        ))
    }

    async fn put(aws: &Aws, name: &str, region: &str, notifications: &Vec<NotificationDoc>) -> Result<(), AwsError> {
        let op = Op::write(&notifications::PUT, name);
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

/// The prefix and suffix of a notification filter. AWS answers the rule names capitalised (`Prefix`)
/// while the API takes them in lower case, so they are compared without case.
fn key_filter(filter: Option<&NotificationConfigurationFilter>) -> (Option<String>, Option<String>) {
    let rules: &[FilterRule] = filter
        .and_then(|f| f.key())
        .map(|k| k.filter_rules())
        .unwrap_or_default();
    let value = |wanted: &str| {
        rules
            .iter()
            .find(|r| r.name().is_some_and(|n| n.as_str().eq_ignore_ascii_case(wanted)))
            .and_then(|r| non_empty(r.value()))
    };
    (value("prefix"), value("suffix"))
}

fn notifications_from_sdk(
    topics: &[TopicConfiguration],
    queues: &[QueueConfiguration],
    lambdas: &[LambdaFunctionConfiguration],
) -> Vec<NotificationDoc> {
    let doc = |target, id: Option<&str>, arn: &str, events: Vec<String>, filter| {
        let (prefix, suffix) = key_filter(filter);
        NotificationDoc {
            id: id.unwrap_or_default().to_string(),
            target,
            arn: arn.to_string(),
            events,
            prefix,
            suffix,
        }
    };
    let events = |events: &[aws_sdk_s3::types::Event]| events.iter().map(|e| e.as_str().to_string()).collect();
    let topics = topics.iter().map(|c| {
        doc(
            NotificationTarget::Topic,
            c.id(),
            c.topic_arn(),
            events(c.events()),
            c.filter(),
        )
    });
    let queues = queues.iter().map(|c| {
        doc(
            NotificationTarget::Queue,
            c.id(),
            c.queue_arn(),
            events(c.events()),
            c.filter(),
        )
    });
    let lambdas = lambdas.iter().map(|c| {
        doc(
            NotificationTarget::Lambda,
            c.id(),
            c.lambda_function_arn(),
            events(c.events()),
            c.filter(),
        )
    });
    topics.chain(queues).chain(lambdas).collect()
}

/// The `prefix`/`suffix` key filter of one notification, or none when it filters nothing.
fn notification_filter(doc: &NotificationDoc) -> Option<NotificationConfigurationFilter> {
    let mut rules = Vec::new();
    for (name, value) in [
        (FilterRuleName::Prefix, &doc.prefix),
        (FilterRuleName::Suffix, &doc.suffix),
    ] {
        if let Some(value) = value.as_ref().filter(|v| !v.is_empty()) {
            rules.push(FilterRule::builder().name(name).value(value).build());
        }
    }
    if rules.is_empty() {
        return None;
    }
    Some(
        NotificationConfigurationFilter::builder()
            .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
            .build(),
    )
}

fn notifications_to_sdk(docs: &[NotificationDoc]) -> Result<NotificationConfiguration, String> {
    let mut config = NotificationConfiguration::builder();
    for doc in docs {
        let events: Vec<Event> = doc.events.iter().map(|e| Event::from(e.as_str())).collect();
        let id = if doc.id.is_empty() { None } else { Some(doc.id.clone()) };
        config = match doc.target {
            NotificationTarget::Topic => config.topic_configurations(
                TopicConfiguration::builder()
                    .set_id(id)
                    .topic_arn(&doc.arn)
                    .set_events(Some(events))
                    .set_filter(notification_filter(doc))
                    .build()
                    .map_err(|e| e.to_string())?,
            ),
            NotificationTarget::Queue => config.queue_configurations(
                QueueConfiguration::builder()
                    .set_id(id)
                    .queue_arn(&doc.arn)
                    .set_events(Some(events))
                    .set_filter(notification_filter(doc))
                    .build()
                    .map_err(|e| e.to_string())?,
            ),
            NotificationTarget::Lambda => config.lambda_function_configurations(
                LambdaFunctionConfiguration::builder()
                    .set_id(id)
                    .lambda_function_arn(&doc.arn)
                    .set_events(Some(events))
                    .set_filter(notification_filter(doc))
                    .build()
                    .map_err(|e| e.to_string())?,
            ),
        };
    }
    Ok(config.build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Doc;

    #[test]
    fn capitalised_filter_rule_names_are_read() {
        use aws_sdk_s3::types::{FilterRuleName, S3KeyFilter};
        let filter = NotificationConfigurationFilter::builder()
            .key(
                S3KeyFilter::builder()
                    .filter_rules(
                        FilterRule::builder()
                            .name(FilterRuleName::from("Prefix"))
                            .value("in/")
                            .build(),
                    )
                    .filter_rules(FilterRule::builder().name(FilterRuleName::Suffix).value(".csv").build())
                    .build(),
            )
            .build();
        assert_eq!(
            key_filter(Some(&filter)),
            (Some("in/".to_string()), Some(".csv".to_string()))
        );
    }

    #[test]
    fn notifications_round_trip() {
        let notifications = Doc::Notifications(vec![
            NotificationDoc {
                id: "topic".into(),
                target: NotificationTarget::Topic,
                arn: "arn:aws:sns:us-east-1:123456789012:t".into(),
                events: vec!["s3:ObjectCreated:*".into(), "s3:ObjectRemoved:*".into()],
                prefix: Some("in/".into()),
                suffix: Some(".csv".into()),
            },
            NotificationDoc {
                id: "queue".into(),
                target: NotificationTarget::Queue,
                arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
                events: vec!["s3:ObjectCreated:Put".into()],
                prefix: None,
                suffix: None,
            },
            NotificationDoc {
                id: "lambda".into(),
                target: NotificationTarget::Lambda,
                arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
                events: vec!["s3:ObjectRemoved:Delete".into()],
                prefix: None,
                suffix: Some(".jpg".into()),
            },
        ])
        .canonical();
        let Doc::Notifications(docs) = &notifications else {
            unreachable!()
        };
        let sdk = notifications_to_sdk(docs).unwrap();
        let read = notifications_from_sdk(
            sdk.topic_configurations(),
            sdk.queue_configurations(),
            sdk.lambda_function_configurations(),
        );
        assert_eq!(Doc::Notifications(read).canonical(), notifications);
    }
}
