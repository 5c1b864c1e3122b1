//! SNS topics: reads into canonical values, the writes of each change, and publishing run reports.
//!
//! As in `iam.rs`, reads return the canonical values the manifest side builds (policy normalized, an
//! empty display name as `None`), and writes are idempotent where SNS allows, because the executor
//! retries transient failures.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_sns::types::{Subscription, Tag};

use super::iam::tag_changes;
use super::identity::{Target, Write};
use super::{Aws, AwsError, Op};
use crate::model::identity::{IdentityDoc, IdentityKind, ObservedIdentity, PartKind, SubscriptionDoc, TopicDoc};
use crate::model::policy::normalize;
use crate::plan::Action;

/// The subscription ARN SNS lists for a subscription whose endpoint has not confirmed yet.
const PENDING_CONFIRMATION: &str = "PendingConfirmation";

/// SNS rejects subjects longer than this many (ASCII) characters.
const MAX_SUBJECT_CHARS: usize = 100;

/// Reads a topic with its policy and subscriptions; `None` when it does not exist.
pub async fn read_topic(aws: &Aws, target: Target<'_>) -> Result<Option<ObservedIdentity>, AwsError> {
    let sns = aws.sns(target.region);
    let arn = target.arn;
    let op = Op::new("GetTopicAttributes", "sns:GetTopicAttributes", arn);
    let out = match sns.get_topic_attributes().topic_arn(arn).send().await {
        Ok(out) => out,
        Err(e) => return absent_is_none(aws.error(&op, e)),
    };
    let empty = HashMap::new();
    let attributes = out.attributes().unwrap_or(&empty);
    let display_name = attributes.get("DisplayName").filter(|d| !d.is_empty()).cloned();
    let policy = match attributes.get("Policy").filter(|p| !p.trim().is_empty()) {
        Some(text) => Some(
            serde_json::from_str::<serde_json::Value>(text)
                .map(|p| normalize(&p))
                .map_err(|e| bad_response(&op, format!("the topic policy is not valid JSON: {e}")))?,
        ),
        None => None,
    };

    // The topic can vanish between the calls; that is the same as not existing.
    let (tags, listed) = match tokio::try_join!(topic_tags(aws, target), subscriptions(aws, target)) {
        Ok(found) => found,
        Err(err) => return absent_is_none(err),
    };
    let (subscriptions, pending_subscriptions) = subscriptions_from_sdk(&listed);

    let mut parts = BTreeMap::new();
    if let Some(policy) = policy {
        parts.insert(PartKind::TopicPolicy, IdentityDoc::TopicPolicy(policy));
    }
    parts.insert(PartKind::Subscriptions, IdentityDoc::Subscriptions(subscriptions));
    Ok(Some(ObservedIdentity {
        main: IdentityDoc::Topic(TopicDoc { display_name, tags }),
        parts,
        pending_subscriptions,
        other_inline: Vec::new(),
    }))
}

/// Performs one change on a topic.
pub async fn write(aws: &Aws, w: &Write<'_>) -> Result<Option<IdentityDoc>, AwsError> {
    let t = w.target;
    if !w.action.calls_aws() {
        return Ok(None);
    }
    match (t.kind, w.part) {
        (IdentityKind::SnsTopic, None) => write_topic(aws, w).await,
        (IdentityKind::SnsTopic, Some(PartKind::TopicPolicy)) => write_policy(aws, w).await,
        (IdentityKind::SnsTopic, Some(PartKind::Subscriptions)) => write_subscriptions(aws, w).await,
        (kind, part) => Err(plan_bug(
            "write",
            t.arn,
            format!(
                "{kind} has no part {} that the SNS writer knows",
                part.map_or("(none)", PartKind::as_str)
            ),
        )),
    }
    .map(|()| None)
}

/// Publishes a message, e.g. a run report, to a topic. The subject is made to fit what SNS accepts
/// (printable ASCII, at most 100 characters) rather than failing the publish over it.
pub async fn publish(aws: &Aws, topic_arn: &str, region: &str, subject: &str, message: &str) -> Result<(), AwsError> {
    let op = Op::new("Publish", super::probe::PUBLISH_ACTION, topic_arn);
    aws.sns(region)
        .publish()
        .topic_arn(topic_arn)
        .set_subject(sns_subject(subject))
        .message(message)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws.error(&op, e))
}

// ---------------------------------------------------------------------------------------------------
// The topic itself.
// ---------------------------------------------------------------------------------------------------

async fn write_topic(aws: &Aws, w: &Write<'_>) -> Result<(), AwsError> {
    let t = w.target;
    match w.action {
        Action::Create => create_topic(aws, t, topic_value(w.after, t)?).await,
        Action::Update => {
            let before = match w.before {
                Some(IdentityDoc::Topic(before)) => Some(before),
                _ => None,
            };
            update_topic(aws, t, before, topic_value(w.after, t)?).await
        }
        Action::Replace => {
            let after = topic_value(w.after, t)?;
            delete_topic(aws, t).await?;
            create_topic(aws, t, after).await
        }
        Action::Delete => delete_topic(aws, t).await,
        Action::Adopt | Action::NoOp => Ok(()),
    }
}

/// Creates a topic. CreateTopic is idempotent in SNS for a topic that exists with the same settings, so
/// a retry after a lost answer succeeds.
async fn create_topic(aws: &Aws, t: Target<'_>, after: &TopicDoc) -> Result<(), AwsError> {
    let op = Op::new("CreateTopic", "sns:CreateTopic", t.arn);
    let attributes = after
        .display_name
        .as_ref()
        .map(|name| HashMap::from([("DisplayName".to_string(), name.clone())]));
    let tags = sns_tags(&after.tags, &op)?;
    aws.sns(t.region)
        .create_topic()
        .name(t.name)
        .set_attributes(attributes)
        .set_tags(if tags.is_empty() { None } else { Some(tags) })
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws.error(&op, e))
}

/// Brings the display name and tags from `before` (`None`: unknown, so everything is written) to `after`.
async fn update_topic(aws: &Aws, t: Target<'_>, before: Option<&TopicDoc>, after: &TopicDoc) -> Result<(), AwsError> {
    let sns = aws.sns(t.region);
    if before.is_none_or(|b| b.display_name != after.display_name) {
        // The empty string is how SNS clears a display name.
        set_attribute(aws, t, "DisplayName", after.display_name.clone().unwrap_or_default()).await?;
    }
    let (set, remove) = tag_changes(before.map(|b| &b.tags), &after.tags);
    if !set.is_empty() {
        let op = Op::new("TagResource", "sns:TagResource", t.arn);
        sns.tag_resource()
            .resource_arn(t.arn)
            .set_tags(Some(sns_tags(&set, &op)?))
            .send()
            .await
            .map_err(|e| aws.error(&op, e))?;
    }
    if !remove.is_empty() {
        let op = Op::new("UntagResource", "sns:UntagResource", t.arn);
        sns.untag_resource()
            .resource_arn(t.arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(|e| aws.error(&op, e))?;
    }
    Ok(())
}

/// Deletes a topic (and with it its subscriptions). SNS answers success for a topic that is already gone;
/// a NotFound from another implementation is treated the same.
async fn delete_topic(aws: &Aws, t: Target<'_>) -> Result<(), AwsError> {
    let op = Op::new("DeleteTopic", "sns:DeleteTopic", t.arn);
    let deleted = aws
        .sns(t.region)
        .delete_topic()
        .topic_arn(t.arn)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws.error(&op, e));
    match deleted {
        Err(err) if err.is_not_found() => Ok(()),
        other => other,
    }
}

async fn set_attribute(aws: &Aws, t: Target<'_>, name: &str, value: String) -> Result<(), AwsError> {
    let op = Op::new("SetTopicAttributes", "sns:SetTopicAttributes", t.arn);
    aws.sns(t.region)
        .set_topic_attributes()
        .topic_arn(t.arn)
        .attribute_name(name)
        .attribute_value(value)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws.error(&op, e))
}

// ---------------------------------------------------------------------------------------------------
// Parts: policy and subscriptions.
// ---------------------------------------------------------------------------------------------------

async fn write_policy(aws: &Aws, w: &Write<'_>) -> Result<(), AwsError> {
    let t = w.target;
    match (w.action, w.after) {
        // A topic always has a policy: deleting the part leaves whatever the topic has, and deleting the
        // topic takes it along.
        (Action::Delete | Action::Adopt | Action::NoOp, _) => Ok(()),
        (_, Some(IdentityDoc::TopicPolicy(policy))) => set_attribute(aws, t, "Policy", policy.to_string()).await,
        (action, _) => Err(plan_bug(
            "SetTopicAttributes",
            t.arn,
            format!("the {} of a topic policy has no policy value", action.verb()),
        )),
    }
}

async fn write_subscriptions(aws: &Aws, w: &Write<'_>) -> Result<(), AwsError> {
    let t = w.target;
    let empty = BTreeSet::new();
    let before = match w.before {
        Some(IdentityDoc::Subscriptions(s)) => s,
        _ => &empty,
    };
    let after = match (w.action, w.after) {
        (Action::Delete, _) => &empty,
        (_, Some(IdentityDoc::Subscriptions(s))) => s,
        (action, _) => {
            return Err(plan_bug(
                "Subscribe",
                t.arn,
                format!("the {} of subscriptions has no subscriptions value", action.verb()),
            ));
        }
    };
    let sns = aws.sns(t.region);
    for add in after.difference(before) {
        // Subscribing an endpoint that is already subscribed returns the existing subscription, so a
        // retry does not duplicate it.
        let op = Op::new("Subscribe", "sns:Subscribe", t.arn);
        sns.subscribe()
            .topic_arn(t.arn)
            .protocol(&add.protocol)
            .endpoint(&add.endpoint)
            .return_subscription_arn(true)
            .send()
            .await
            .map_err(|e| aws.error(&op, e))?;
    }
    let removed: Vec<&SubscriptionDoc> = before.difference(after).collect();
    if removed.is_empty() {
        return Ok(());
    }
    let listed = match subscriptions(aws, t).await {
        Ok(listed) => listed,
        // No topic, no subscriptions: nothing left to remove.
        Err(err) if err.is_not_found() => return Ok(()),
        Err(err) => return Err(err),
    };
    for gone in removed {
        for arn in subscription_arns(&listed, gone) {
            if arn == PENDING_CONFIRMATION {
                tracing::warn!(
                    topic = t.arn,
                    protocol = %gone.protocol,
                    endpoint = %gone.endpoint,
                    "the subscription is waiting for confirmation and SNS cannot remove it; \
                     SNS deletes unconfirmed subscriptions after three days"
                );
                continue;
            }
            let op = Op::new("Unsubscribe", "sns:Unsubscribe", t.arn);
            let result = sns
                .unsubscribe()
                .subscription_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws.error(&op, e));
            match result {
                Err(err) if !err.is_not_found() => return Err(err),
                _ => {}
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------------

async fn topic_tags(aws: &Aws, t: Target<'_>) -> Result<BTreeMap<String, String>, AwsError> {
    let op = Op::new("ListTagsForResource", "sns:ListTagsForResource", t.arn);
    let out = aws
        .sns(t.region)
        .list_tags_for_resource()
        .resource_arn(t.arn)
        .send()
        .await
        .map_err(|e| aws.error(&op, e))?;
    Ok(out
        .tags()
        .iter()
        .map(|tag| (tag.key().to_string(), tag.value().to_string()))
        .collect())
}

/// Every subscription of the topic, all pages.
async fn subscriptions(aws: &Aws, t: Target<'_>) -> Result<Vec<Subscription>, AwsError> {
    let op = Op::new("ListSubscriptionsByTopic", "sns:ListSubscriptionsByTopic", t.arn);
    aws.sns(t.region)
        .list_subscriptions_by_topic()
        .topic_arn(t.arn)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws.error(&op, e))
}

/// The canonical set of subscriptions, and those of them still waiting for confirmation (which are in
/// the set too: an unconfirmed subscription is the configured one, not drift).
fn subscriptions_from_sdk(listed: &[Subscription]) -> (BTreeSet<SubscriptionDoc>, Vec<SubscriptionDoc>) {
    let mut all = BTreeSet::new();
    let mut pending = BTreeSet::new();
    for s in listed {
        let (Some(protocol), Some(endpoint)) = (s.protocol(), s.endpoint()) else {
            continue;
        };
        let doc = SubscriptionDoc {
            protocol: protocol.to_string(),
            endpoint: endpoint.to_string(),
        };
        if s.subscription_arn() == Some(PENDING_CONFIRMATION) {
            pending.insert(doc.clone());
        }
        all.insert(doc);
    }
    (all, pending.into_iter().collect())
}

/// The ARNs (or `PendingConfirmation`) under which `doc` is subscribed; more than one only if SNS lists
/// the same endpoint twice.
fn subscription_arns<'a>(listed: &'a [Subscription], doc: &SubscriptionDoc) -> Vec<&'a str> {
    listed
        .iter()
        .filter(|s| s.protocol() == Some(doc.protocol.as_str()) && s.endpoint() == Some(doc.endpoint.as_str()))
        .filter_map(Subscription::subscription_arn)
        .collect()
}

/// A subject SNS accepts: printable ASCII (line breaks and other control characters become spaces,
/// anything else `?`), trimmed, at most [`MAX_SUBJECT_CHARS`]; `None` when nothing is left, because SNS
/// rejects an empty subject but accepts none.
fn sns_subject(subject: &str) -> Option<String> {
    let cleaned: String = subject
        .chars()
        .map(|c| match c {
            ' '..='~' => c,
            c if c.is_control() => ' ',
            _ => '?',
        })
        .take(MAX_SUBJECT_CHARS)
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        None
    } else {
        Some(trimmed.to_string())
    }
}

fn sns_tags(tags: &BTreeMap<String, String>, op: &Op) -> Result<Vec<Tag>, AwsError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| plan_bug(op.operation, &op.resource, e))
        })
        .collect()
}

fn topic_value<'a>(doc: Option<&'a IdentityDoc>, t: Target<'_>) -> Result<&'a TopicDoc, AwsError> {
    match doc {
        Some(IdentityDoc::Topic(topic)) => Ok(topic),
        _ => Err(plan_bug(
            "CreateTopic",
            t.arn,
            "the plan has no topic value for this change",
        )),
    }
}

/// `Ok(None)` when the error says the topic does not exist; the error otherwise.
fn absent_is_none<T>(err: AwsError) -> Result<Option<T>, AwsError> {
    if err.is_not_found() { Ok(None) } else { Err(err) }
}

fn bad_response(op: &Op, detail: impl std::fmt::Display) -> AwsError {
    AwsError::BadResponse {
        operation: op.operation.to_string(),
        resource: op.resource.clone(),
        detail: detail.to_string(),
    }
}

/// A change the plan should never contain (a value of the wrong kind), which is a bug in s3rec.
fn plan_bug(operation: &str, resource: &str, detail: impl std::fmt::Display) -> AwsError {
    AwsError::InvalidRequest {
        operation: operation.to_string(),
        resource: resource.to_string(),
        detail: detail.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(arn: &str, protocol: &str, endpoint: &str) -> Subscription {
        Subscription::builder()
            .subscription_arn(arn)
            .protocol(protocol)
            .endpoint(endpoint)
            .build()
    }

    #[test]
    fn pending_subscriptions_are_in_the_set_and_listed_as_pending() {
        let subs = [
            listed(PENDING_CONFIRMATION, "email", "ops@example.com"),
            listed("arn:aws:sns:us-east-1:1:t:abc", "sqs", "arn:aws:sqs:us-east-1:1:q"),
        ];
        let (all, pending) = subscriptions_from_sdk(&subs);
        assert_eq!(all.len(), 2);
        assert_eq!(
            pending,
            [SubscriptionDoc {
                protocol: "email".into(),
                endpoint: "ops@example.com".into()
            }]
        );
        let doc = SubscriptionDoc {
            protocol: "email".into(),
            endpoint: "ops@example.com".into(),
        };
        assert_eq!(subscription_arns(&subs, &doc), [PENDING_CONFIRMATION]);
    }

    #[test]
    fn subjects_are_ascii_single_line_and_at_most_100_characters() {
        assert_eq!(sns_subject("s3rec apply: ok").as_deref(), Some("s3rec apply: ok"));
        assert_eq!(sns_subject("a\nb — c").as_deref(), Some("a b ? c"));
        assert_eq!(sns_subject(&"x".repeat(300)).map(|s| s.len()), Some(100));
        assert_eq!(sns_subject(" \n "), None);
    }
}
