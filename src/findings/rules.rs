//! The one table of security rules: every finding s3rec can report, its stable ID, severity, the AWS
//! Security Hub control it corresponds to, what it means and how to fix it. `validate`, `plan`, the
//! SARIF rule list and docs/findings.md all read this table.

use serde::Serialize;

/// How serious a finding is. `--fail-on` compares with this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing (a named cross-account grant), not a weakness by itself.
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A rule's identity. Its [`Rule`] comes from [`RuleId::rule`], the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleId {
    PublicRead,
    PublicWrite,
    PublicList,
    PublicAccessBlockOff,
    AclsEnabled,
    NoTlsDeny,
    PartialTlsDeny,
    NoDefaultEncryption,
    KmsWithoutBucketKey,
    VersioningOff,
    NoNoncurrentExpiration,
    NoAbortMultipart,
    AccessLoggingOff,
    CrossAccountGrant,
    ReplicationRoleActions,
    LoggingTargetRefuses,
    ConditionalWritesEnforced,
    IamFullAdmin,
    IamS3AllBuckets,
    IamPassRoleAny,
    IamAllowNotAction,
    IamUnmanagedInline,
    IamUnmanagedAttached,
    SnsPublicPublish,
    SnsPublicSubscribe,
}

/// One rule of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Stable ID, e.g. `S3REC-S3-001`; never reused for another meaning.
    pub id: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    /// The AWS Security Hub control this corresponds to, when there is one.
    pub control: Option<&'static str>,
    /// Whether `validate` can decide it from the manifest alone (otherwise only `plan`, with AWS).
    pub offline: bool,
    pub explanation: &'static str,
    pub fix: &'static str,
}

impl RuleId {
    /// Every rule, in ID order.
    pub const ALL: [RuleId; 25] = [
        RuleId::PublicRead,
        RuleId::PublicWrite,
        RuleId::PublicList,
        RuleId::PublicAccessBlockOff,
        RuleId::AclsEnabled,
        RuleId::NoTlsDeny,
        RuleId::PartialTlsDeny,
        RuleId::NoDefaultEncryption,
        RuleId::KmsWithoutBucketKey,
        RuleId::VersioningOff,
        RuleId::NoNoncurrentExpiration,
        RuleId::NoAbortMultipart,
        RuleId::AccessLoggingOff,
        RuleId::CrossAccountGrant,
        RuleId::ReplicationRoleActions,
        RuleId::LoggingTargetRefuses,
        RuleId::ConditionalWritesEnforced,
        RuleId::IamFullAdmin,
        RuleId::IamS3AllBuckets,
        RuleId::IamPassRoleAny,
        RuleId::IamAllowNotAction,
        RuleId::IamUnmanagedInline,
        RuleId::IamUnmanagedAttached,
        RuleId::SnsPublicPublish,
        RuleId::SnsPublicSubscribe,
    ];

    /// The rule with this stable ID.
    pub fn parse(id: &str) -> Option<RuleId> {
        RuleId::ALL.into_iter().find(|r| r.rule().id.eq_ignore_ascii_case(id))
    }

    pub fn id(self) -> &'static str {
        self.rule().id
    }

    /// The table.
    pub fn rule(self) -> Rule {
        use Severity::*;
        let r = |id, severity, control, offline, title, explanation, fix| Rule {
            id,
            severity,
            title,
            control,
            offline,
            explanation,
            fix,
        };
        match self {
            RuleId::PublicRead => r(
                "S3REC-S3-001",
                Critical,
                Some("S3.2"),
                true,
                "Bucket policy lets anyone read objects",
                "An Allow statement names every principal (`\"*\"`, `{\"AWS\": \"*\"}` or a `NotPrincipal`) for an object-read action, without a condition that restricts who or from where (aws:SourceArn, aws:SourceAccount, aws:PrincipalOrgID, aws:SourceVpce, aws:SourceIp, aws:PrincipalAccount), and no Deny takes it back. Anyone on the internet can download the objects.",
                "Name the principals that need access (use `grants` on an IAM user or role), or add a condition such as `aws:PrincipalOrgID` or `aws:SourceVpce`; serve public content through CloudFront with origin access control instead.",
            ),
            RuleId::PublicWrite => r(
                "S3REC-S3-002",
                Critical,
                Some("S3.3"),
                true,
                "Bucket policy lets anyone write or delete objects",
                "An Allow statement gives every principal an object-write or delete action (s3:PutObject, s3:DeleteObject, s3:*, ...) without a restricting condition, and no Deny takes it back. Anyone can overwrite, delete or plant data and run up the bill.",
                "Remove the statement or name the principals that write (`grants` with `access: [write]`); never allow writes to `\"*\"`.",
            ),
            RuleId::PublicList => r(
                "S3REC-S3-003",
                High,
                Some("S3.2"),
                true,
                "Bucket policy lets anyone list the bucket",
                "An Allow statement gives every principal s3:ListBucket on the bucket without a restricting condition: anyone can enumerate every key.",
                "Remove s3:ListBucket from the public statement, or restrict it with a condition.",
            ),
            RuleId::PublicAccessBlockOff => r(
                "S3REC-S3-004",
                High,
                Some("S3.8"),
                true,
                "Public access block off or partial",
                "At least one of the four public access block switches is off, so a public ACL or policy added later (by hand, by another tool) takes effect.",
                "Set `public_access_block: {}` (every switch on) on the bucket or in `defaults`; acknowledge the finding for a bucket that must be public.",
            ),
            RuleId::AclsEnabled => r(
                "S3REC-S3-005",
                Medium,
                Some("S3.12"),
                true,
                "ACLs are enabled",
                "Object ownership is not `BucketOwnerEnforced`, so ACLs still grant access, objects written by other accounts stay theirs, and access cannot be read from the policies alone.",
                "Set `object_ownership: BucketOwnerEnforced` (the AWS default for new buckets) and grant access through policies.",
            ),
            RuleId::NoTlsDeny => r(
                "S3REC-S3-006",
                Medium,
                Some("S3.5"),
                true,
                "No TLS-only deny in the bucket policy",
                "No Deny statement refuses requests made without TLS (`aws:SecureTransport` false), so clients may send data and credentials in clear text. A bucket without any policy has no such deny either.",
                "Set `policy: {deny_insecure_transport: true}` on the bucket, or `defaults.policy.deny_insecure_transport: true` for every bucket.",
            ),
            RuleId::PartialTlsDeny => r(
                "S3REC-S3-007",
                Medium,
                Some("S3.5"),
                true,
                "TLS-only deny misses the bucket or its objects",
                "A Deny on `aws:SecureTransport` false exists, but its Resource leaves out the bucket ARN (bucket-level calls such as ListBucket) or the objects (`arn/*`), or it does not cover every S3 action.",
                "Use `deny_insecure_transport: true`, which denies `s3:*` on both `arn:aws:s3:::NAME` and `arn:aws:s3:::NAME/*`.",
            ),
            RuleId::NoDefaultEncryption => r(
                "S3REC-S3-008",
                Medium,
                None,
                true,
                "No default encryption",
                "The bucket has no default encryption configuration.",
                "Set `encryption: {algorithm: AES256}` or `{algorithm: aws:kms, kms_key_id: ..., bucket_key: true}`.",
            ),
            RuleId::KmsWithoutBucketKey => r(
                "S3REC-S3-009",
                Low,
                None,
                true,
                "SSE-KMS without an S3 Bucket Key",
                "Every object operation calls KMS: cost and KMS request throttling grow with traffic.",
                "Set `encryption.bucket_key: true`.",
            ),
            RuleId::VersioningOff => r(
                "S3REC-S3-010",
                High,
                Some("S3.14"),
                true,
                "Versioning off on a replicated or backup bucket",
                "The bucket replicates, receives replicas, or is the destination of a sync mapping (a backup), but versioning is not enabled: an overwrite or delete destroys the only copy, and replication refuses to run.",
                "Set `versioning: enabled` and add a `noncurrent_version_expiration` lifecycle rule.",
            ),
            RuleId::NoNoncurrentExpiration => r(
                "S3REC-S3-011",
                Low,
                Some("S3.10"),
                true,
                "Versioning on without noncurrent-version expiration",
                "Versioning keeps every overwritten or deleted version forever unless a lifecycle rule expires them; storage grows without bound.",
                "Add a lifecycle rule with `noncurrent_version_expiration: {days: N}`.",
            ),
            RuleId::NoAbortMultipart => r(
                "S3REC-S3-012",
                Low,
                Some("S3.13"),
                true,
                "No rule aborts incomplete multipart uploads",
                "Parts of uploads that never completed are billed until they are aborted; no enabled whole-bucket lifecycle rule aborts them.",
                "Add a lifecycle rule for the whole bucket with `abort_incomplete_multipart_upload_days: 7`.",
            ),
            RuleId::AccessLoggingOff => r(
                "S3REC-S3-013",
                Medium,
                Some("S3.9"),
                true,
                "Server access logging off",
                "Requests to the bucket are not logged, so access cannot be investigated afterwards. Buckets that receive other buckets' logs are exempt (logging them would log the logging).",
                "Set `logging: {target_bucket: LOGS, prefix: access/NAME/}` to a log bucket of this manifest.",
            ),
            RuleId::CrossAccountGrant => r(
                "S3REC-S3-014",
                Info,
                Some("S3.6"),
                true,
                "Bucket policy grants another account",
                "An Allow statement names principals of another AWS account. Not necessarily wrong, but a reviewer should know which accounts can reach the bucket.",
                "Confirm the account is expected and acknowledge the finding with the reason, or remove the statement.",
            ),
            RuleId::ReplicationRoleActions => r(
                "S3REC-S3-015",
                High,
                None,
                true,
                "Replication role lacks the replication actions",
                "The role S3 assumes for replication is not allowed s3:GetReplicationConfiguration and s3:ListBucket on the source bucket, s3:GetObjectVersionForReplication, s3:GetObjectVersionAcl and s3:GetObjectVersionTagging on its objects, and s3:ReplicateObject, s3:ReplicateDelete and s3:ReplicateTags on the destination's objects; S3 accepts the configuration and then silently fails to replicate.",
                "Attach a policy to the role with exactly these actions on these ARNs (see docs/findings.md for the statement), or acknowledge if another policy outside the manifest grants them.",
            ),
            RuleId::LoggingTargetRefuses => r(
                "S3REC-S3-016",
                High,
                None,
                true,
                "Logging target does not let the logging service write",
                "The target bucket's policy does not allow `logging.s3.amazonaws.com` s3:PutObject on the log prefix for this source bucket and account (or denies it); S3 refuses the logging configuration with InvalidTargetBucketForLogging, or drops the logs.",
                "Let s3rec generate the delivery statement (it does for a target that is managed with a `policy`), or add an Allow for the `logging.s3.amazonaws.com` service principal on `arn:aws:s3:::TARGET/PREFIX*` with `aws:SourceArn` and `aws:SourceAccount` conditions.",
            ),
            RuleId::ConditionalWritesEnforced => r(
                "S3REC-S3-017",
                Medium,
                None,
                true,
                "Bucket policy enforces conditional writes",
                "A Deny on s3:PutObject with an `s3:if-none-match` or `s3:if-match` condition makes every write without that header fail; CopyObject (and tools that copy, replication of some kinds, the console) cannot send it and fail.",
                "Enforce conditional writes only for the prefixes and principals that need it, or acknowledge the finding knowing that CopyObject fails.",
            ),
            RuleId::IamFullAdmin => r(
                "S3REC-IAM-001",
                Critical,
                Some("IAM.1"),
                true,
                "IAM policy allows every action on every resource",
                "An Allow with `Action: \"*\"` and `Resource: \"*\"` is full administrator access to the account.",
                "Replace it with `grants` (least-privilege S3 access) or the named actions the identity needs.",
            ),
            RuleId::IamS3AllBuckets => r(
                "S3REC-IAM-002",
                High,
                Some("IAM.21"),
                true,
                "IAM policy allows s3:* on every bucket",
                "An Allow of every S3 action on every bucket (`s3:*` on `*` or `arn:aws:s3:::*`) reaches buckets of other teams and environments and lets the identity change their policies.",
                "Use `grants` on the buckets and prefixes the identity needs.",
            ),
            RuleId::IamPassRoleAny => r(
                "S3REC-IAM-003",
                High,
                None,
                true,
                "IAM policy allows iam:PassRole on every role",
                "iam:PassRole on `*` lets the identity hand any role (an administrator role included) to a service it controls: privilege escalation.",
                "Limit iam:PassRole to the role ARNs needed, with an `iam:PassedToService` condition.",
            ),
            RuleId::IamAllowNotAction => r(
                "S3REC-IAM-004",
                High,
                None,
                true,
                "IAM Allow with NotAction",
                "An Allow with NotAction grants every action except those listed, including every action AWS adds in the future.",
                "List the allowed actions with `Action` instead.",
            ),
            RuleId::IamUnmanagedInline => r(
                "S3REC-IAM-005",
                Medium,
                None,
                false,
                "Unmanaged inline policy on a managed identity",
                "A managed user or role has an inline policy the manifest does not define (added by hand or by another tool); its permissions are invisible in the manifest.",
                "Move the permissions into the manifest (`grants` or a policy under `iam.policies`) and delete the inline policy, or acknowledge it with the reason.",
            ),
            RuleId::IamUnmanagedAttached => r(
                "S3REC-IAM-006",
                Medium,
                None,
                false,
                "Unmanaged attached policy on a managed identity",
                "A managed user or role has a managed policy attached that the manifest does not list.",
                "List the policy under the identity's `policies` if it belongs there, or detach it.",
            ),
            RuleId::SnsPublicPublish => r(
                "S3REC-SNS-001",
                High,
                None,
                true,
                "Topic policy lets anyone publish",
                "The topic's access policy allows SNS:Publish to every principal without a restricting condition: anyone can send messages to every subscriber.",
                "Remove the statement; s3rec generates the statement that lets S3 publish from this manifest's buckets.",
            ),
            RuleId::SnsPublicSubscribe => r(
                "S3REC-SNS-002",
                High,
                None,
                true,
                "Topic policy lets anyone subscribe",
                "The topic's access policy allows SNS:Subscribe or SNS:Receive to every principal: anyone can read the messages.",
                "Remove the statement; manage subscriptions in the manifest.",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_parse_back() {
        let mut seen = std::collections::BTreeSet::new();
        for r in RuleId::ALL {
            assert!(seen.insert(r.id()), "duplicate {}", r.id());
            assert_eq!(RuleId::parse(r.id()), Some(r));
        }
    }
}
