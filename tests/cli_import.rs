//! `s3rec import` end to end: a golden estate made with the AWS CLI (not with s3rec), in the shapes other
//! tools write, is imported, validates, plans with nothing to change in AWS (only buckets passing under
//! management), applies, and then plans empty. Also `import --list` and bad input.

mod common;
#[path = "common/project.rs"]
mod project;

use common::flat;

use project::Project;

/// One call of the pinned AWS CLI against the emulator; panics with its output when it fails.
fn aws(args: &[String]) {
    let out = common::aws_cli_command()
        .args(args)
        .output()
        .expect("the pinned AWS CLI (S3REC_TEST_AWS_CLI, installed by scripts/test.sh) must start");
    assert!(
        out.status.success(),
        "aws {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `s3api SUBCOMMAND --bucket NAME` plus `rest`.
fn s3api(sub: &str, bucket: &str, rest: &[&str]) -> Vec<String> {
    let mut v = vec![
        "s3api".to_string(),
        sub.to_string(),
        "--bucket".to_string(),
        bucket.to_string(),
    ];
    v.extend(rest.iter().map(|s| s.to_string()));
    v
}

/// Creates a bucket in `region` with the CLI.
fn create(bucket: &str, region: &str) -> Vec<String> {
    let mut v = s3api("create-bucket", bucket, &["--region", region]);
    if region != "us-east-1" {
        v.push("--create-bucket-configuration".into());
        v.push(format!("LocationConstraint={region}"));
    }
    v
}

/// The golden estate: (bucket suffix, region, CLI calls after create). `{b}` in a call is the bucket's
/// own name, `{p}` the run's prefix.
fn golden(p: &str) -> Vec<(String, &'static str, Vec<Vec<String>>)> {
    let b = |s: &str| format!("{p}-{s}-gold");
    let json = |s: String| s;
    let mut out: Vec<(String, &'static str, Vec<Vec<String>>)> = Vec::new();
    let mut add = |suffix: &str, region: &'static str, calls: Vec<Vec<String>>| out.push((b(suffix), region, calls));
    add("plain", "us-east-1", vec![]);
    add("plain-eu", "eu-west-1", vec![]);
    add(
        "versioned",
        "us-east-1",
        vec![s3api(
            "put-bucket-versioning",
            &b("versioned"),
            &["--versioning-configuration", "Status=Enabled"],
        )],
    );
    add(
        "suspended",
        "us-east-1",
        vec![
            s3api(
                "put-bucket-versioning",
                &b("suspended"),
                &["--versioning-configuration", "Status=Enabled"],
            ),
            s3api(
                "put-bucket-versioning",
                &b("suspended"),
                &["--versioning-configuration", "Status=Suspended"],
            ),
        ],
    );
    add(
        "sse-aes",
        "us-east-1",
        vec![s3api(
            "put-bucket-encryption",
            &b("sse-aes"),
            &[
                "--server-side-encryption-configuration",
                r#"{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}"#,
            ],
        )],
    );
    add(
        "sse-kms",
        "us-east-1",
        vec![s3api(
            "put-bucket-encryption",
            &b("sse-kms"),
            &[
                "--server-side-encryption-configuration",
                r#"{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms","KMSMasterKeyID":"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"},"BucketKeyEnabled":true}]}"#,
            ],
        )],
    );
    add(
        "sse-kms-default-key",
        "us-east-1",
        vec![s3api(
            "put-bucket-encryption",
            &b("sse-kms-default-key"),
            &[
                "--server-side-encryption-configuration",
                r#"{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms"}}]}"#,
            ],
        )],
    );
    add(
        "pab-all",
        "us-east-1",
        vec![s3api(
            "put-public-access-block",
            &b("pab-all"),
            &[
                "--public-access-block-configuration",
                "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true",
            ],
        )],
    );
    add(
        "pab-partial",
        "us-east-1",
        vec![s3api(
            "put-public-access-block",
            &b("pab-partial"),
            &[
                "--public-access-block-configuration",
                "BlockPublicAcls=true,IgnorePublicAcls=false,BlockPublicPolicy=true,RestrictPublicBuckets=false",
            ],
        )],
    );
    for (suffix, ownership) in [
        ("own-enforced", "BucketOwnerEnforced"),
        ("own-preferred", "BucketOwnerPreferred"),
        ("own-writer", "ObjectWriter"),
    ] {
        add(
            suffix,
            "us-east-1",
            vec![s3api(
                "put-bucket-ownership-controls",
                &b(suffix),
                &[
                    "--ownership-controls",
                    &format!(r#"{{"Rules":[{{"ObjectOwnership":"{ownership}"}}]}}"#),
                ],
            )],
        );
    }
    add(
        "tags",
        "us-east-1",
        vec![s3api(
            "put-bucket-tagging",
            &b("tags"),
            &[
                "--tagging",
                r#"{"TagSet":[{"Key":"team","Value":"platform"},{"Key":"cost-center","Value":"0042"},{"Key":"enabled","Value":"yes"}]}"#,
            ],
        )],
    );
    add(
        "tags-unicode",
        "eu-west-1",
        vec![s3api(
            "put-bucket-tagging",
            &b("tags-unicode"),
            &[
                "--tagging",
                r#"{"TagSet":[{"Key":"owner","Value":"Zoë Müller"},{"Key":"projet","Value":"données: «été» #1"},{"Key":"名前","Value":"東京"}]}"#,
            ],
        )],
    );
    let lifecycle = |suffix: &str, config: &str| {
        s3api(
            "put-bucket-lifecycle-configuration",
            &b(suffix),
            &["--lifecycle-configuration", config],
        )
    };
    add(
        "lc-empty-filter",
        "us-east-1",
        vec![lifecycle(
            "lc-empty-filter",
            r#"{"Rules":[{"ID":"expire","Status":"Enabled","Filter":{},"Expiration":{"Days":30}}]}"#,
        )],
    );
    add(
        "lc-empty-prefix",
        "us-east-1",
        vec![lifecycle(
            "lc-empty-prefix",
            r#"{"Rules":[{"ID":"abort","Status":"Enabled","Filter":{"Prefix":""},"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":7}}]}"#,
        )],
    );
    add(
        "lc-and",
        "us-east-1",
        vec![
            s3api(
                "put-bucket-versioning",
                &b("lc-and"),
                &["--versioning-configuration", "Status=Enabled"],
            ),
            lifecycle(
                "lc-and",
                r#"{"Rules":[{"ID":"tiering","Status":"Enabled","Filter":{"And":{"Prefix":"logs/","Tags":[{"Key":"class","Value":"cold"}]}},"Transitions":[{"Days":90,"StorageClass":"GLACIER"},{"Days":30,"StorageClass":"STANDARD_IA"}],"NoncurrentVersionExpiration":{"NoncurrentDays":60}}]}"#,
            ),
        ],
    );
    add(
        "lc-multi",
        "us-east-1",
        vec![lifecycle(
            "lc-multi",
            r#"{"Rules":[{"ID":"z-disabled","Status":"Disabled","Filter":{"Prefix":"tmp/"},"Expiration":{"Days":1}},{"ID":"a-markers","Status":"Enabled","Filter":{"Prefix":"old/"},"Expiration":{"ExpiredObjectDeleteMarker":true}},{"ID":"m-tagged","Status":"Enabled","Filter":{"Tag":{"Key":"gc","Value":"true"}},"Expiration":{"Days":3}}]}"#,
        )],
    );
    let policy = |suffix: &str, doc: String| s3api("put-bucket-policy", &b(suffix), &["--policy", &doc]);
    // The TLS statement as other tools write it: a scalar "*" principal, one-element lists, resources
    // in the other order, a JSON boolean in the condition.
    add(
        "pol-tls",
        "us-east-1",
        vec![policy(
            "pol-tls",
            json(format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":{{"AWS":["*"]}},"Action":["s3:*"],"Resource":["arn:aws:s3:::{0}/*","arn:aws:s3:::{0}"],"Condition":{{"Bool":{{"aws:SecureTransport":false}}}}}}]}}"#,
                b("pol-tls")
            )),
        )],
    );
    // Principals in another order, an account ID for a root ARN, and a TLS statement with another Sid
    // (not the template: it stays a raw statement).
    add(
        "pol-raw",
        "us-east-1",
        vec![policy(
            "pol-raw",
            json(format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Readers","Effect":"Allow","Principal":{{"AWS":["arn:aws:iam::222233334444:root","111122223333"]}},"Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::{0}","arn:aws:s3:::{0}/*"]}},{{"Sid":"Tls","Effect":"Deny","Principal":{{"AWS":"*"}},"Action":"s3:*","Resource":["arn:aws:s3:::{0}","arn:aws:s3:::{0}/*"],"Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}}]}}"#,
                b("pol-raw")
            )),
        )],
    );
    // The template plus a raw statement that names another bucket of the estate.
    add(
        "pol-mixed",
        "us-east-1",
        vec![policy(
            "pol-mixed",
            json(format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":{{"AWS":"*"}},"Action":"s3:*","Resource":["arn:aws:s3:::{0}","arn:aws:s3:::{0}/*"],"Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}},{{"Sid":"CopyFromPlain","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:root"}},"Action":"s3:PutObject","Resource":"arn:aws:s3:::{0}/*","Condition":{{"ArnLike":{{"aws:SourceArn":"arn:aws:s3:::{1}"}}}}}}]}}"#,
                b("pol-mixed"),
                b("plain")
            )),
        )],
    );
    // The log-delivery statement S3 needs on a log target, as the console writes it.
    add(
        "log-target",
        "us-east-1",
        vec![policy(
            "log-target",
            json(format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"S3ServerAccessLogsPolicy","Effect":"Allow","Principal":{{"Service":"logging.s3.amazonaws.com"}},"Action":["s3:PutObject"],"Resource":"arn:aws:s3:::{0}/*"}}]}}"#,
                b("log-target")
            )),
        )],
    );
    add(
        "log-source",
        "us-east-1",
        vec![s3api(
            "put-bucket-logging",
            &b("log-source"),
            &[
                "--bucket-logging-status",
                &format!(
                    r#"{{"LoggingEnabled":{{"TargetBucket":"{}","TargetPrefix":"access/source/"}}}}"#,
                    b("log-target")
                ),
            ],
        )],
    );
    add(
        "cors-one",
        "us-east-1",
        vec![s3api(
            "put-bucket-cors",
            &b("cors-one"),
            &[
                "--cors-configuration",
                r#"{"CORSRules":[{"AllowedMethods":["GET"],"AllowedOrigins":["*"]}]}"#,
            ],
        )],
    );
    add(
        "cors-multi",
        "us-east-1",
        vec![s3api(
            "put-bucket-cors",
            &b("cors-multi"),
            &[
                "--cors-configuration",
                r#"{"CORSRules":[{"ID":"app","AllowedMethods":["PUT","GET","POST"],"AllowedOrigins":["https://app.example.com"],"AllowedHeaders":["*"],"ExposeHeaders":["ETag"],"MaxAgeSeconds":3000},{"ID":"public","AllowedMethods":["HEAD","GET"],"AllowedOrigins":["*"]}]}"#,
            ],
        )],
    );
    add(
        "notify",
        "us-east-1",
        vec![s3api(
            "put-bucket-notification-configuration",
            &b("notify"),
            &[
                "--notification-configuration",
                &format!(
                    r#"{{"TopicConfigurations":[{{"Id":"created","TopicArn":"arn:aws:sns:us-east-1:123456789012:{p}-uploads","Events":["s3:ObjectCreated:*"],"Filter":{{"Key":{{"FilterRules":[{{"Name":"prefix","Value":"in/"}}]}}}}}},{{"Id":"removed","TopicArn":"arn:aws:sns:us-east-1:123456789012:{p}-uploads","Events":["s3:ObjectRemoved:Delete","s3:ObjectRemoved:DeleteMarkerCreated"]}}],"QueueConfigurations":[{{"Id":"queue","QueueArn":"arn:aws:sqs:us-east-1:123456789012:{p}-q","Events":["s3:ObjectCreated:Put"]}}]}}"#
                ),
            ],
        )],
    );
    add(
        "replica-eu",
        "eu-west-1",
        vec![s3api(
            "put-bucket-versioning",
            &b("replica-eu"),
            &["--versioning-configuration", "Status=Enabled"],
        )],
    );
    for (suffix, rule) in [
        (
            "repl-filter",
            format!(
                r#"{{"ID":"logs","Priority":1,"Status":"Enabled","Filter":{{"Prefix":"logs/"}},"DeleteMarkerReplication":{{"Status":"Disabled"}},"Destination":{{"Bucket":"arn:aws:s3:::{}"}}}}"#,
                b("replica-eu")
            ),
        ),
        (
            "repl-all",
            format!(
                r#"{{"ID":"all","Status":"Enabled","Prefix":"","Destination":{{"Bucket":"arn:aws:s3:::{}"}}}}"#,
                b("replica-eu")
            ),
        ),
    ] {
        add(
            suffix,
            "us-east-1",
            vec![
                s3api(
                    "put-bucket-versioning",
                    &b(suffix),
                    &["--versioning-configuration", "Status=Enabled"],
                ),
                s3api(
                    "put-bucket-replication",
                    &b(suffix),
                    &[
                        "--replication-configuration",
                        &format!(r#"{{"Role":"arn:aws:iam::123456789012:role/{p}-replicator","Rules":[{rule}]}}"#),
                    ],
                ),
            ],
        );
    }
    // Several documents on one bucket, the way a hand-made "secure bucket" script leaves it.
    add(
        "hardened",
        "eu-west-1",
        vec![
            s3api(
                "put-bucket-versioning",
                &b("hardened"),
                &["--versioning-configuration", "Status=Enabled"],
            ),
            s3api(
                "put-bucket-encryption",
                &b("hardened"),
                &[
                    "--server-side-encryption-configuration",
                    r#"{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms","KMSMasterKeyID":"alias/app"},"BucketKeyEnabled":true}]}"#,
                ],
            ),
            s3api(
                "put-public-access-block",
                &b("hardened"),
                &[
                    "--public-access-block-configuration",
                    "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true",
                ],
            ),
            s3api(
                "put-bucket-ownership-controls",
                &b("hardened"),
                &[
                    "--ownership-controls",
                    r#"{"Rules":[{"ObjectOwnership":"BucketOwnerEnforced"}]}"#,
                ],
            ),
            s3api(
                "put-bucket-tagging",
                &b("hardened"),
                &["--tagging", r#"{"TagSet":[{"Key":"data","Value":"confidential"}]}"#],
            ),
        ],
    );
    // Several topic configurations on one bucket: two topics, prefix and suffix filters.
    add(
        "notify-multi",
        "us-east-1",
        vec![s3api(
            "put-bucket-notification-configuration",
            &b("notify-multi"),
            &[
                "--notification-configuration",
                &format!(
                    r#"{{"TopicConfigurations":[{{"Id":"images","TopicArn":"{0}","Events":["s3:ObjectCreated:Put","s3:ObjectCreated:Post"],"Filter":{{"Key":{{"FilterRules":[{{"Name":"prefix","Value":"images/"}},{{"Name":"suffix","Value":".jpg"}}]}}}}}},{{"Id":"deletes","TopicArn":"{1}","Events":["s3:ObjectRemoved:*"]}},{{"Id":"restores","TopicArn":"{1}","Events":["s3:ObjectRestore:Completed"],"Filter":{{"Key":{{"FilterRules":[{{"Name":"prefix","Value":"archive/"}}]}}}}}}]}}"#,
                    topic_arn(&format!("{p}-uploads")),
                    topic_arn(&format!("{p}-audit"))
                ),
            ],
        )],
    );
    // A user named by a bucket policy (it gets a managed policy of its own), and `restrict_to` naming
    // that user and the replication role.
    add(
        "pol-user",
        "us-east-1",
        vec![policy(
            "pol-user",
            json(format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"ReaderGets","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/{p}-reader"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{0}/*"}}]}}"#,
                b("pol-user")
            )),
        )],
    );
    add(
        "pol-restrict",
        "us-east-1",
        vec![policy(
            "pol-restrict",
            json(format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"RestrictToNamedIdentities","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::{0}","arn:aws:s3:::{0}/*"],"Condition":{{"ArnNotLike":{{"aws:PrincipalArn":["arn:aws:iam::{ACCOUNT}:user/{p}-reader","arn:aws:iam::{ACCOUNT}:root","arn:aws:iam::{ACCOUNT}:role/{p}-replicator"]}}}}}}]}}"#,
                b("pol-restrict")
            )),
        )],
    );
    // A log target whose policy holds exactly the delivery statement s3rec generates: left to the model.
    add(
        "log-target2",
        "us-east-1",
        vec![policy(
            "log-target2",
            json(format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"AllowS3ServerAccessLogs","Effect":"Allow","Principal":{{"Service":"logging.s3.amazonaws.com"}},"Action":"s3:PutObject","Resource":"arn:aws:s3:::{0}/access/*","Condition":{{"ArnLike":{{"aws:SourceArn":"arn:aws:s3:::{1}"}},"StringEquals":{{"aws:SourceAccount":"{ACCOUNT}"}}}}}}]}}"#,
                b("log-target2"),
                b("log-source2")
            )),
        )],
    );
    add(
        "log-source2",
        "us-east-1",
        vec![s3api(
            "put-bucket-logging",
            &b("log-source2"),
            &[
                "--bucket-logging-status",
                &format!(
                    r#"{{"LoggingEnabled":{{"TargetBucket":"{}","TargetPrefix":"access/"}}}}"#,
                    b("log-target2")
                ),
            ],
        )],
    );
    for extra in ["a", "b", "c", "d", "e", "f"] {
        add(&format!("bulk-{extra}"), "us-east-1", vec![]);
    }
    out
}

/// The account moto answers for.
const ACCOUNT: &str = "123456789012";

fn topic_arn(name: &str) -> String {
    format!("arn:aws:sns:us-east-1:{ACCOUNT}:{name}")
}

/// The access policy s3rec generates for a topic that `sources` notify (docs/iam-sns.md): what a
/// careful hand-made setup has too, so the round trip is exact.
fn topic_policy(topic: &str, sources: &[String]) -> String {
    let arn = topic_arn(topic);
    let sources: Vec<String> = sources.iter().map(|s| format!("arn:aws:s3:::{s}")).collect();
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AccountManagesTopic", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
             "Action": ["SNS:AddPermission", "SNS:DeleteTopic", "SNS:GetTopicAttributes", "SNS:ListSubscriptionsByTopic",
                        "SNS:Publish", "SNS:RemovePermission", "SNS:SetTopicAttributes", "SNS:Subscribe"],
             "Resource": arn},
            {"Sid": "AllowS3Publish", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
             "Action": "SNS:Publish", "Resource": arn,
             "Condition": {"ArnLike": {"aws:SourceArn": sources}, "StringEquals": {"aws:SourceAccount": ACCOUNT}}},
        ],
    })
    .to_string()
}

fn cli(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// The IAM and SNS resources the golden estate's notifications, replication and policies name, made
/// with the CLI: two topics with the access policy S3 needs, the replication role (trusting
/// s3.amazonaws.com, with a managed policy and a hand-made inline policy), and a user with a managed
/// policy of its own.
fn make_related(p: &str) {
    let b = |s: &str| format!("{p}-{s}-gold");
    for topic in ["uploads", "audit"] {
        aws(&cli(&["sns", "create-topic", "--name", &format!("{p}-{topic}")]));
        aws(&cli(&[
            "sns",
            "set-topic-attributes",
            "--topic-arn",
            &topic_arn(&format!("{p}-{topic}")),
            "--attribute-name",
            "Policy",
            "--attribute-value",
            &topic_policy(&format!("{p}-{topic}"), &[b("notify-multi")]),
        ]));
    }
    aws(&cli(&[
        "sns",
        "subscribe",
        "--topic-arn",
        &topic_arn(&format!("{p}-uploads")),
        "--protocol",
        "email",
        "--notification-endpoint",
        "ops@example.com",
    ]));
    aws(&cli(&[
        "iam",
        "create-role",
        "--role-name",
        &format!("{p}-replicator"),
        "--assume-role-policy-document",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"TrustServices","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
    ]));
    aws(&cli(&[
        "iam",
        "put-role-policy",
        "--role-name",
        &format!("{p}-replicator"),
        "--policy-name",
        "hand-made",
        "--policy-document",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#,
    ]));
    let replicate = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["s3:GetReplicationConfiguration","s3:ListBucket"],"Resource":["arn:aws:s3:::{0}","arn:aws:s3:::{1}"]}},{{"Effect":"Allow","Action":["s3:ReplicateObject","s3:ReplicateDelete"],"Resource":"arn:aws:s3:::{2}/*"}}]}}"#,
        b("repl-filter"),
        b("repl-all"),
        b("replica-eu")
    );
    aws(&cli(&[
        "iam",
        "create-policy",
        "--policy-name",
        &format!("{p}-replicate"),
        "--policy-document",
        &replicate,
    ]));
    aws(&cli(&[
        "iam",
        "attach-role-policy",
        "--role-name",
        &format!("{p}-replicator"),
        "--policy-arn",
        &format!("arn:aws:iam::{ACCOUNT}:policy/{p}-replicate"),
    ]));
    aws(&cli(&["iam", "create-user", "--user-name", &format!("{p}-reader")]));
    let read_logs = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}/*"}}]}}"#,
        b("log-target")
    );
    aws(&cli(&[
        "iam",
        "create-policy",
        "--policy-name",
        &format!("{p}-read-logs"),
        "--policy-document",
        &read_logs,
    ]));
    aws(&cli(&[
        "iam",
        "attach-user-policy",
        "--user-name",
        &format!("{p}-reader"),
        "--policy-arn",
        &format!("arn:aws:iam::{ACCOUNT}:policy/{p}-read-logs"),
    ]));
}

/// Deletes the IAM and SNS resources [`make_related`] made, when the test ends.
struct RelatedCleanup(String);

impl Drop for RelatedCleanup {
    fn drop(&mut self) {
        let p = &self.0;
        let run = |args: &[&str]| {
            let _ = common::aws_cli_command().args(args).output();
        };
        let role = format!("{p}-replicator");
        let user = format!("{p}-reader");
        let replicate = format!("arn:aws:iam::{ACCOUNT}:policy/{p}-replicate");
        let read_logs = format!("arn:aws:iam::{ACCOUNT}:policy/{p}-read-logs");
        run(&[
            "iam",
            "detach-role-policy",
            "--role-name",
            &role,
            "--policy-arn",
            &replicate,
        ]);
        run(&[
            "iam",
            "delete-role-policy",
            "--role-name",
            &role,
            "--policy-name",
            "hand-made",
        ]);
        run(&["iam", "delete-role", "--role-name", &role]);
        run(&[
            "iam",
            "detach-user-policy",
            "--user-name",
            &user,
            "--policy-arn",
            &read_logs,
        ]);
        run(&["iam", "delete-user", "--user-name", &user]);
        run(&["iam", "delete-policy", "--policy-arn", &replicate]);
        run(&["iam", "delete-policy", "--policy-arn", &read_logs]);
        for topic in ["uploads", "audit"] {
            run(&[
                "sns",
                "delete-topic",
                "--topic-arn",
                &topic_arn(&format!("{p}-{topic}")),
            ]);
        }
    }
}

/// Makes the estate with the CLI, a few buckets at a time: first the buckets that name no other bucket,
/// then those whose logging or replication needs another one to exist (and be versioned) already.
fn make_estate(estate: &[(String, &'static str, Vec<Vec<String>>)]) {
    let names_another = |calls: &Vec<Vec<String>>| {
        calls.iter().any(|c| {
            c.iter()
                .any(|a| a == "put-bucket-logging" || a == "put-bucket-replication")
        })
    };
    let (later, first): (Vec<_>, Vec<_>) = estate.iter().partition(|(_, _, calls)| names_another(calls));
    for phase in [first, later] {
        std::thread::scope(|scope| {
            for chunk in phase.chunks(phase.len().div_ceil(4).max(1)) {
                scope.spawn(move || {
                    for (bucket, region, calls) in chunk {
                        aws(&create(bucket, region));
                        for call in calls {
                            aws(call);
                        }
                    }
                });
            }
        });
    }
}

/// Deletes exactly the buckets this test made (they hold no objects) when the test ends, passed or not.
struct Cleanup(Vec<(String, &'static str)>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for (bucket, region) in &self.0 {
            // `rb --force` empties the bucket first: moto delivers access logs into the log target.
            let _ = common::aws_cli_command()
                .args(["s3", "rb", &format!("s3://{bucket}"), "--force", "--region", region])
                .output();
        }
    }
}

#[test]
fn a_golden_estate_made_by_other_tools_imports_plans_quiet_applies_and_converges() {
    let p = common::unique_name("imp");
    let estate = golden(&p);
    assert!(estate.len() >= 30, "the golden estate has {} buckets", estate.len());
    let project = Project::new("gold");
    project.write("");
    let _cleanup = Cleanup(estate.iter().map(|(b, r, _)| (b.clone(), *r)).collect());
    let _related_cleanup = RelatedCleanup(p.clone());
    make_related(&p);
    make_estate(&estate);

    // Without --with-related, what names a topic or role stays unmanaged and the note says how to import it.
    let (code, _, stderr) = project.run(&[
        "import",
        "-e",
        "gold",
        &format!("{p}-repl-filter-gold"),
        &format!("{p}-replica-eu-gold"),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let notes = flat(&stderr);
    assert!(
        notes.contains("bucket.repl-filter.replication is left out") && notes.contains("use --with-related"),
        "{stderr}"
    );

    let prefix = format!("{p}-");
    let (code, stdout, stderr) = project.run(&[
        "import",
        "-e",
        "gold",
        "--prefix",
        &prefix,
        "--with-related",
        "--out",
        "environments/gold.yaml",
        "--force",
    ]);
    assert_eq!(code, 0, "import failed:\n{stdout}\n{stderr}");
    let manifest = std::fs::read_to_string(project.path("environments/gold.yaml")).expect("manifest written");

    // The shapes became manifest terms.
    assert!(manifest.starts_with("# Imported by `s3rec import`"), "{manifest}");
    assert!(
        manifest.contains(&format!("name: \"{p}-plain-${{env}}\"")),
        "{manifest}"
    );
    assert!(manifest.contains("deny_insecure_transport: true"), "{manifest}");
    assert!(manifest.contains("target_bucket: log-target"), "{manifest}");
    assert!(manifest.contains("${bucket.plain.arn}"), "{manifest}");
    assert!(
        manifest.contains("Zoë Müller") && manifest.contains("東京"),
        "{manifest}"
    );
    assert!(
        !manifest.contains("own-enforced:\n    name") || !manifest.contains("BucketOwnerEnforced"),
        "{manifest}"
    );
    // What the manifest cannot say is left out, and said so on stderr and in the file.
    let notes = flat(&stderr);
    assert!(
        notes.contains("bucket.notify.notifications is left out") && notes.contains("SQS queue"),
        "{stderr}"
    );
    assert!(
        !notes.contains("bucket.repl-filter.replication is left out"),
        "{stderr}"
    );
    assert!(!notes.contains("first apply rewrites"), "{stderr}");
    // Related resources are entries referred to by logical name.
    for expected in [
        "role: replicator",
        "bucket: replica-eu",
        "topic: uploads",
        "topic: audit",
        "suffix: \".jpg\"",
        "${user.reader.arn}",
        "restrict_to:",
        "- role: replicator",
        "- user: reader",
        "read-logs",
        "replicate:",
        "- s3.amazonaws.com",
        "ops@example.com",
    ] {
        assert!(manifest.contains(expected), "{expected} missing:\n{manifest}");
    }
    assert!(!manifest.contains("AllowS3ServerAccessLogs"), "{manifest}");
    assert!(!manifest.contains("hand-made"), "{manifest}");
    assert!(
        manifest.contains("# - bucket.notify.notifications is left out"),
        "{manifest}"
    );

    let (code, stdout, stderr) = project.run(&["validate", "-e", "gold"]);
    assert_eq!(
        code, 0,
        "the imported manifest does not validate:\n{stdout}\n{stderr}\n{manifest}"
    );

    // Nothing to do in AWS: only buckets passing under management (an `adopt`, or on branches without
    // it a change in the state only).
    let (code, json, stderr) = project.run(&["plan", "-e", "gold", "--format", "json"]);
    assert_eq!(code, 0, "plan failed:\n{json}\n{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&json).expect("plan JSON");
    let changes = plan["changes"].as_array().expect("changes");
    let acting: Vec<String> = changes
        .iter()
        .filter(|c| matches!(c["action"].as_str(), Some("create" | "update" | "replace" | "delete")))
        .map(|c| format!("{} {}", c["action"], c["address"]))
        .collect();
    assert!(
        acting.is_empty(),
        "the imported manifest changes AWS: {acting:?}\n{manifest}"
    );
    assert!(changes.iter().any(|c| c["address"] == "bucket.plain"), "{json}");

    project.apply_ok();
    project.assert_converged();
}

#[test]
fn import_list_names_exactly_the_buckets_no_environment_manages() {
    let p = common::unique_name("lst");
    let project = Project::new("dev");
    let managed = format!("{p}-managed");
    let in_state = format!("{p}-in-state");
    let other_env = format!("{p}-other");
    let loose = format!("{p}-loose");
    let public = format!("{p}-public");
    project.write(&format!(
        "buckets:\n  managed: {{name: {managed}}}\n  kept: {{name: {in_state}}}\n"
    ));
    std::fs::write(
        project.path("environments/prod.yaml"),
        format!("environment: prod\nbuckets:\n  other: {{name: {other_env}}}\n"),
    )
    .expect("second environment");
    // Every bucket this test made, directly or through its own apply, is deleted at the end.
    let _cleanup = Cleanup(
        [&managed, &in_state, &other_env, &loose, &public]
            .iter()
            .map(|n| (n.to_string(), "us-east-1"))
            .collect(),
    );
    // The state learns `in_state`; then the manifest drops it (no prune: still this environment's).
    project.apply_ok();
    project.write(&format!("buckets:\n  managed: {{name: {managed}}}\n"));
    for name in [&other_env, &loose, &public] {
        aws(&create(name, "us-east-1"));
    }
    aws(&s3api(
        "put-bucket-ownership-controls",
        &public,
        &[
            "--ownership-controls",
            r#"{"Rules":[{"ObjectOwnership":"ObjectWriter"}]}"#,
        ],
    ));

    let (code, stdout, stderr) = project.run(&["import", "-e", "dev", "--list", "--format", "json"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let listed: serde_json::Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    let mine: Vec<&serde_json::Value> = listed["unmanaged"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|b| b["name"].as_str().is_some_and(|n| n.starts_with(&p)))
        .collect();
    let names: Vec<&str> = mine.iter().filter_map(|b| b["name"].as_str()).collect();
    assert_eq!(names, vec![loose.as_str(), public.as_str()], "{stdout}");
    let public_row = mine[1];
    assert_eq!(public_row["region"], "us-east-1");
    assert!(
        public_row["created"].as_str().is_some_and(|c| c.starts_with("20")),
        "{stdout}"
    );
    let findings = public_row["findings"].to_string();
    assert!(
        findings.contains("ACLs enabled") && findings.contains("public access allowed"),
        "{findings}"
    );
    assert!(findings.contains("no default encryption"), "{findings}");

    let (code, table, _) = project.run(&["import", "-e", "dev", "--list"]);
    assert_eq!(code, 0);
    assert!(table.starts_with("BUCKET"), "{table}");
    assert!(
        table.contains(&loose) && !table.contains(&managed) && !table.contains(&other_env),
        "{table}"
    );

    // plan --audit has the same section.
    let (code, stdout, stderr) = project.run(&["plan", "-e", "dev", "--audit"]);
    assert_eq!(code, 0, "{stderr}");
    let audit = flat(&stdout);
    assert!(audit.contains(&format!("bucket {loose} (us-east-1")), "{stderr}");
    assert!(!audit.contains(&format!("bucket {in_state} (")), "{stderr}");
}

#[test]
fn import_list_counts_what_another_environment_keeps_in_its_s3_state_as_managed() {
    let p = common::unique_name("lss");
    let state = format!("{p}-state");
    let kept = format!("{p}-kept");
    let loose = format!("{p}-loose");
    let _cleanup = Cleanup(vec![(kept.clone(), "us-east-1"), (loose.clone(), "us-east-1")]);
    aws(&create(&state, "us-east-1"));
    aws(&create(&loose, "us-east-1"));
    // Another checkout applies `kept` in environment prod, whose state lives in S3.
    let ci = Project::new("prod");
    ci.write(&format!(
        "state:\n  backend: s3\n  bucket: {state}\nbuckets:\n  kept: {{name: {kept}}}\n"
    ));
    ci.apply_ok();
    // This checkout has never read prod's state, and its prod manifest no longer names the bucket
    // (dropped without prune: still prod's).
    let laptop = Project::new("dev");
    laptop.write("");
    std::fs::write(
        laptop.path("environments/prod.yaml"),
        format!("environment: prod\nstate:\n  backend: s3\n  bucket: {state}\n"),
    )
    .expect("second environment");
    let (code, stdout, stderr) = laptop.run(&["import", "-e", "dev", "--list", "--format", "json"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let listed: serde_json::Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    let mine: Vec<&str> = listed["unmanaged"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|b| b["name"].as_str())
        .filter(|n| n.starts_with(&p))
        .collect();
    assert_eq!(mine, vec![loose.as_str()], "{stdout}");
    // --all passes over it too.
    let (code, manifest, stderr) = laptop.run(&["import", "-e", "dev", "--prefix", &format!("{p}-")]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!manifest.contains(&kept) && manifest.contains(&loose), "{manifest}");
}

#[test]
fn bad_input_is_refused_with_the_way_out() {
    let p = common::unique_name("bad");
    let project = Project::new("dev");
    project.write("");

    let (code, _, stderr) = project.run(&["import", "-e", "dev", &format!("{p}-missing")]);
    assert_eq!(code, 1);
    let e = flat(&stderr);
    assert!(
        e.contains(&format!("bucket {p}-missing is not in the account's bucket listing")),
        "{stderr}"
    );
    assert!(e.contains("--list"), "{stderr}");

    let (code, _, stderr) = project.run(&["import", "-e", "dev", "--out", "environments/dev.yaml", "--all"]);
    assert_eq!(code, 1);
    let e = flat(&stderr);
    assert!(
        e.contains("environments/dev.yaml already exists") && e.contains("--force"),
        "{stderr}"
    );

    let (code, _, stderr) = project.run(&["import", "-e", "dev", "some-bucket", "--all"]);
    assert_eq!(code, 2, "clap refuses conflicting flags with its usage code");
    assert!(stderr.contains("cannot be used with"), "{stderr}");

    let (code, _, stderr) = project.run(&["import", "-e", "dev"]);
    assert_eq!(code, 1);
    assert!(flat(&stderr).contains("name what to import"), "{stderr}");

    let (code, _, stderr) = project.run(&["import", "-e", "dev", "--list", "--out", "x.yaml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot be used with"), "{stderr}");

    let (code, _, stderr) = project.run(&["import", "-e", "dev", "--prefix", &format!("{p}-nothing-")]);
    assert_eq!(code, 1);
    assert!(
        flat(&stderr).contains("no bucket to import: no bucket name starts with"),
        "{stderr}"
    );
}
