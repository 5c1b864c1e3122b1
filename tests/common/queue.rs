//! An SQS queue on the emulator that an SNS topic delivers to, for the tests that read run reports.
//! Included with `#[path = "common/queue.rs"] mod queue;`.

#![allow(dead_code)]

use serde_json::Value;

use super::common;

/// An SQS client for the emulator, with its dummy credentials.
pub fn sqs() -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .endpoint_url(common::emulator_endpoint())
        .region(aws_sdk_sqs::config::Region::new(common::TEST_REGION))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// An SQS queue: (queue URL, queue ARN).
pub async fn queue(name: &str) -> (String, String) {
    let sqs = sqs();
    let queue_url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create queue")
        .queue_url()
        .expect("queue URL")
        .to_string();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes");
    let queue_arn = attributes
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .expect("queue ARN")
        .to_string();
    (queue_url, queue_arn)
}

/// Every message waiting in the queue, as SNS envelopes (`Type`, `Subject`, `Message`, ...).
pub async fn receive_all(queue_url: &str) -> Vec<Value> {
    let out = sqs()
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .expect("receive");
    out.messages()
        .iter()
        .map(|m| serde_json::from_str(m.body().expect("body")).expect("an SNS envelope is JSON"))
        .collect()
}
