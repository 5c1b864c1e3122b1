//! The manifest as the user writes it: serde + schemars types for every section.
//!
//! These types are the single source of the JSON Schema (`s3rec schema`, `schemas/manifest.schema.json`),
//! so every doc comment here is also the hover text an editor shows. `Option` means "left out": a
//! configuration document the manifest leaves out (after `defaults`) is unmanaged, neither read nor changed.
//! Cross-references are logical names (`bucket: backups`), never ARNs; they resolve at plan time.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One environment's desired S3 estate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "s3rec environment manifest")]
pub struct Manifest {
    /// Environment name (`dev`, `staging`, `prod`, ...). Available as `${env}` in every string.
    pub environment: String,
    /// Shared base file (path relative to this file), deep-merged under this one: mappings merge key by key,
    /// lists and scalars from this file replace the base's. Consumed while loading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    /// Where and as whom s3rec talks to AWS.
    #[serde(default)]
    pub aws: AwsSettings,
    /// Where s3rec keeps its state database.
    #[serde(default)]
    pub state: StateSettings,
    /// Settings every bucket gets unless it says otherwise.
    #[serde(default)]
    pub defaults: BucketDefaults,
    /// Buckets by logical name.
    #[serde(default)]
    pub buckets: IndexMap<String, Bucket>,
    /// IAM users, roles and managed policies around the buckets.
    #[serde(default)]
    pub iam: Iam,
    /// SNS topics and their subscriptions.
    #[serde(default)]
    pub sns: Sns,
    /// Settings of the AWS account itself (one per account, so one environment per account should hold them).
    #[serde(default, skip_serializing_if = "Account::is_empty")]
    pub account: Account,
    /// Local directory → S3 mappings (backups), by name.
    #[serde(default)]
    pub sync: IndexMap<String, SyncMapping>,
    /// S3 → local directory migrations, by name.
    #[serde(default)]
    pub migrations: IndexMap<String, Migration>,
    /// Where run reports go after apply, sync, migrate and `restore --verify-only`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
}

/// How s3rec reaches AWS. Credentials always come from the standard AWS chain
/// (environment, shared profiles, SSO, IMDS); they never appear in a manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsSettings {
    /// Default region for buckets that name none, and for IAM/STS calls. Falls back to the AWS chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Named profile from `~/.aws/config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Custom endpoint for S3-compatible servers or emulators (LocalStack, MinIO, Ceph, moto).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// Address buckets as `endpoint/bucket` instead of `bucket.endpoint`; most self-hosted servers need it.
    #[serde(default)]
    pub force_path_style: bool,
    /// Guard: plan and apply refuse to run when the caller's account (from STS) differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Objects asked for per ListObjectsV2 page. AWS, MinIO and Ceph answer at most 1,000 whatever is
    /// asked, so 1,000 is the default; a server that honours larger pages (s3s-fs) lists a large
    /// destination in fewer requests with a larger value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = MAX_LIST_PAGE_SIZE))]
    pub list_page_size: Option<u32>,
}

/// Objects per ListObjectsV2 page when `aws.list_page_size` is left out: AWS's own cap.
pub const DEFAULT_LIST_PAGE_SIZE: u32 = 1_000;
/// The largest `aws.list_page_size`: far above any server's page, and one page's XML stays tens of MiB.
pub const MAX_LIST_PAGE_SIZE: u32 = 100_000;

/// The state database: managed resources, the apply journal, the sync index, migration inventories.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateSettings {
    /// `local` (an SQLite file) or `s3` (the SQLite file kept in a bucket, with a lock object).
    #[serde(default)]
    pub backend: StateBackend,
    /// Path of the local database, relative to the project root. Default `.s3rec/<env>.db`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Bucket (physical name) that holds the state for the `s3` backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// Object key of the state for the `s3` backend. Default `s3rec/<env>.db`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Region of the state bucket for the `s3` backend. Default: the manifest's `aws.region`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// KMS key (ARN, ID or alias) to encrypt the remote state with; SSE-S3 when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    /// Take the lock object (`<key>.lock`) around every run that changes the state. Only `lock: false`
    /// lets s3rec use an S3-compatible server that ignores conditional writes, and then nothing stops
    /// two runs at once: the default `true` refuses such a server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<bool>,
    /// How often a long `sync`, `migrate` or `apply` writes its progress back to the remote state, as a
    /// duration (`30s`, `5m`). A run killed outright repeats at most this much work. Default `60s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_interval: Option<String>,
    /// Delete managed resources that were removed from the manifest. Off by default: removal only
    /// stops management, and the plan says so.
    #[serde(default)]
    pub prune: bool,
}

/// Where the state lives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StateBackend {
    /// An SQLite file on this machine.
    #[default]
    Local,
    /// An SQLite file kept in S3, guarded by a conditional-write lock object.
    S3,
}

/// Settings applied to every bucket that leaves them out. A bucket's own value replaces the default,
/// except `tags`, which merge (the bucket's win on equal keys).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BucketDefaults {
    /// Region of buckets that name none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<Versioning>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<PublicAccessBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_ownership: Option<ObjectOwnership>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<IndexMap<String, String>>,
    /// Generated policy statements every bucket gets (raw statements stay per bucket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyDefaults>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prevent_destroy: Option<bool>,
}

/// The generated parts of a bucket policy that may be defaulted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyDefaults {
    /// Deny every request made without TLS (`aws:SecureTransport` false).
    #[serde(default)]
    pub deny_insecure_transport: bool,
}

/// One bucket. Settings left out (here and in `defaults`) are unmanaged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    /// Physical bucket name; `${env}` is replaced by the environment name.
    pub name: String,
    /// Region of the bucket; defaults to `defaults.region`, then `aws.region`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<Versioning>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<PublicAccessBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_ownership: Option<ObjectOwnership>,
    /// Bucket tags (merged over `defaults.tags`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<IndexMap<String, String>>,
    /// Lifecycle rules, in order. An empty list manages "no lifecycle rules".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Vec<LifecycleRule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<BucketPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    /// Event notifications to SNS topics. An empty list manages "no notifications".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<Vec<Notification>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<Replication>,
    /// CORS rules. An empty list manages "no CORS configuration".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<Vec<CorsRule>>,
    /// S3 Object Lock (WORM): needs `versioning: enabled`, and cannot be disabled once enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<ObjectLock>,
    /// S3 Transfer Acceleration (`false` suspends it); not on bucket names with dots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_acceleration: Option<bool>,
    /// S3 Inventory configurations (daily or weekly object listings written to a bucket). An empty
    /// list manages "no inventory configurations".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<Vec<Inventory>>,
    /// Static website hosting: `index_document` (with optional `error_document` and `routing_rules`)
    /// or `redirect_all_requests_to`, never both. `{}` manages "no website configuration".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<Website>,
    /// S3 Intelligent-Tiering archive configurations (move objects of the INTELLIGENT_TIERING storage
    /// class into the Archive and Deep Archive Access tiers after days without access). An empty list
    /// manages "no intelligent-tiering configurations".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intelligent_tiering: Option<Vec<IntelligentTiering>>,
    /// Refuse, at plan time, any plan that would delete or replace this bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prevent_destroy: Option<bool>,
    /// Allow deleting this bucket even when it still holds objects (they are deleted first).
    #[serde(default)]
    pub force_destroy: bool,
    /// Security findings accepted for this resource, each with the reason (see docs/findings.md).
    /// Acknowledged findings are still listed, as acknowledged, and no longer fail `--fail-on`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acknowledge: Vec<Acknowledgement>,
}

/// An accepted security finding: which one, and why it is acceptable here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Acknowledgement {
    /// The finding's rule ID, e.g. `S3REC-S3-013` (`s3rec validate --format json` lists them).
    pub finding: String,
    /// Why the finding is accepted; required, and shown wherever the finding is listed.
    pub reason: String,
}

/// Versioning state. Once enabled, S3 can only suspend it, never return it to "never enabled".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Versioning {
    Enabled,
    Suspended,
}

/// Default encryption of new objects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Encryption {
    /// `AES256` (SSE-S3, the AWS default) or `aws:kms` (SSE-KMS).
    pub algorithm: SseAlgorithm,
    /// KMS key id, ARN or `alias/...` for `aws:kms`; left out, S3 uses the AWS managed key `aws/s3`.
    /// Refused with `AES256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// Use an S3 Bucket Key to cut KMS request costs (only with `aws:kms`).
    #[serde(default)]
    pub bucket_key: bool,
}

/// Server-side encryption algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SseAlgorithm {
    #[serde(rename = "AES256")]
    Aes256,
    #[serde(rename = "aws:kms")]
    AwsKms,
}

/// Public access block. Every switch defaults to `true`: writing the section blocks public access unless a
/// switch is turned off explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicAccessBlock {
    #[serde(default = "yes")]
    pub block_public_acls: bool,
    #[serde(default = "yes")]
    pub ignore_public_acls: bool,
    #[serde(default = "yes")]
    pub block_public_policy: bool,
    #[serde(default = "yes")]
    pub restrict_public_buckets: bool,
}

/// Settings of the AWS account (S3 Control). Left out means unmanaged, as everywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// The account's public access block, which applies to every bucket of the account on top of each
    /// bucket's own. Every switch defaults to `true`, as for a bucket's `public_access_block`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<PublicAccessBlock>,
}

impl Account {
    pub fn is_empty(&self) -> bool {
        self.public_access_block.is_none()
    }
}

fn yes() -> bool {
    true
}

impl Default for PublicAccessBlock {
    fn default() -> Self {
        PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: true,
            restrict_public_buckets: true,
        }
    }
}

/// S3 Object Lock: objects cannot be deleted or overwritten while their retention lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectLock {
    /// Must be `true`: S3 cannot disable Object Lock once it is enabled.
    pub enabled: bool,
    /// The retention every new object gets unless its upload sets one; none when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_retention: Option<DefaultRetention>,
}

/// A default retention: its mode and exactly one of `days` or `years`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultRetention {
    pub mode: RetentionMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub years: Option<u32>,
}

/// How strictly a retention holds: `GOVERNANCE` can be bypassed with `s3:BypassGovernanceRetention`,
/// `COMPLIANCE` by nobody, not even the account's root user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RetentionMode {
    Governance,
    Compliance,
}

/// Object ownership (ACL behaviour). `BucketOwnerEnforced` disables ACLs and is the AWS default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ObjectOwnership {
    BucketOwnerEnforced,
    BucketOwnerPreferred,
    ObjectWriter,
}

/// S3 storage classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StorageClass {
    Standard,
    IntelligentTiering,
    StandardIa,
    OnezoneIa,
    GlacierIr,
    Glacier,
    DeepArchive,
}

impl StorageClass {
    /// The name AWS uses.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageClass::Standard => "STANDARD",
            StorageClass::IntelligentTiering => "INTELLIGENT_TIERING",
            StorageClass::StandardIa => "STANDARD_IA",
            StorageClass::OnezoneIa => "ONEZONE_IA",
            StorageClass::GlacierIr => "GLACIER_IR",
            StorageClass::Glacier => "GLACIER",
            StorageClass::DeepArchive => "DEEP_ARCHIVE",
        }
    }

    /// Position in the S3 lifecycle "waterfall": lifecycle transitions may only move an object to a class
    /// further down (STANDARD → STANDARD_IA → INTELLIGENT_TIERING → ONEZONE_IA → GLACIER_IR → GLACIER →
    /// DEEP_ARCHIVE), never back up.
    pub fn waterfall_rank(self) -> u8 {
        match self {
            StorageClass::Standard => 0,
            StorageClass::StandardIa => 1,
            StorageClass::IntelligentTiering => 2,
            StorageClass::OnezoneIa => 3,
            StorageClass::GlacierIr => 4,
            StorageClass::Glacier => 5,
            StorageClass::DeepArchive => 6,
        }
    }

    /// Infrequent-access classes bill a 30-day minimum; AWS refuses transitions into them before day 30
    /// and transitions out of them less than 30 days later.
    pub fn is_infrequent_access(self) -> bool {
        matches!(self, StorageClass::StandardIa | StorageClass::OnezoneIa)
    }
}

/// One lifecycle rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleRule {
    /// Rule ID, unique within the bucket (at most 255 characters).
    pub id: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Which objects the rule applies to; left out, the whole bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<LifecycleFilter>,
    /// Storage class transitions of current versions, in increasing days.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transitions: Vec<Transition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Expiration>,
    /// Storage class transitions of noncurrent versions, in increasing days.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub noncurrent_version_transitions: Vec<NoncurrentTransition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_version_expiration: Option<NoncurrentExpiration>,
    /// Abort multipart uploads left incomplete this many days after they started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_incomplete_multipart_upload_days: Option<u32>,
}

/// Object filter of a lifecycle rule; all given conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, String>,
    /// Only objects larger than this many bytes (or a size such as `128 KiB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_size_greater_than: Option<ByteSize>,
    /// Only objects smaller than this many bytes (or a size such as `1 GiB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_size_less_than: Option<ByteSize>,
}

/// Move current versions to another storage class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    /// Days after object creation.
    pub days: u32,
    pub storage_class: StorageClass,
}

/// Expire current versions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expiration {
    /// Days after object creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    /// Remove delete markers that have no noncurrent versions left (versioned buckets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_object_delete_marker: Option<bool>,
}

/// Move noncurrent versions to another storage class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoncurrentTransition {
    /// Days after the version became noncurrent.
    pub days: u32,
    pub storage_class: StorageClass,
    /// Keep this many newest noncurrent versions in their class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_noncurrent_versions: Option<u32>,
}

/// Delete noncurrent versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoncurrentExpiration {
    /// Days after the version became noncurrent.
    pub days: u32,
    /// Keep this many newest noncurrent versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_noncurrent_versions: Option<u32>,
}

/// A bucket policy: generated statements plus raw ones, merged into one document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BucketPolicy {
    /// Deny every request made without TLS (`aws:SecureTransport` false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_insecure_transport: Option<bool>,
    /// Deny every principal except these identities and the account root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restrict_to: Vec<IdentityRef>,
    /// Raw statements in IAM JSON shape. Strings may use `${bucket.NAME}`, `${bucket.NAME.arn}`,
    /// `${user.NAME.arn}`, `${role.NAME.arn}`, `${topic.NAME.arn}`, `${account_id}` and `${env}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statements: Vec<Statement>,
}

/// A reference to an IAM identity of this manifest by logical name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IdentityRef {
    /// A user under `iam.users`.
    User(String),
    /// A role under `iam.roles`.
    Role(String),
}

/// One IAM policy statement, in the shape AWS documents (`Effect`, `Action`, `Resource`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    #[serde(rename = "Sid", default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(rename = "Effect")]
    pub effect: Effect,
    /// `"*"` or a map of `AWS` / `Service` / `Federated` / `CanonicalUser` to one or more values.
    #[serde(rename = "Principal", default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<serde_json::Value>,
    #[serde(rename = "NotPrincipal", default, skip_serializing_if = "Option::is_none")]
    pub not_principal: Option<serde_json::Value>,
    #[serde(rename = "Action", default, skip_serializing_if = "Option::is_none")]
    pub action: Option<OneOrMany>,
    #[serde(rename = "NotAction", default, skip_serializing_if = "Option::is_none")]
    pub not_action: Option<OneOrMany>,
    #[serde(rename = "Resource", default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<OneOrMany>,
    #[serde(rename = "NotResource", default, skip_serializing_if = "Option::is_none")]
    pub not_resource: Option<OneOrMany>,
    /// Condition operator → condition key → one or more values.
    #[serde(rename = "Condition", default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<IndexMap<String, IndexMap<String, ConditionValue>>>,
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Effect {
    Allow,
    Deny,
}

/// A string or a list of strings, as IAM accepts either.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values, one or many, in order.
    pub fn values(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// A condition value: a string, number or boolean, or a list of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ConditionValue {
    Scalar(ConditionScalar),
    Many(Vec<ConditionScalar>),
}

/// One condition value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ConditionScalar {
    Bool(bool),
    Number(serde_json::Number),
    String(String),
}

/// Server access logging into another bucket of this manifest (in the same region).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    /// Logical name of the bucket that receives the logs.
    pub target_bucket: String,
    /// Key prefix of the log objects, e.g. `access/app-logs/`.
    #[serde(default)]
    pub prefix: String,
}

/// Publish bucket events to an SNS topic of this manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Notification {
    /// Configuration ID; generated from the topic and events when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Logical name of the topic under `sns.topics`.
    pub topic: String,
    /// S3 event types, e.g. `s3:ObjectCreated:*`.
    pub events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<KeyFilter>,
}

/// Object key filter of a notification.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
}

/// Replication of this bucket's objects to other buckets of this manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Replication {
    /// Logical name of the IAM role S3 assumes (under `iam.roles`, trusting `s3.amazonaws.com`).
    pub role: String,
    pub rules: Vec<ReplicationRule>,
}

/// One replication rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplicationRule {
    /// Rule ID, unique within the bucket.
    pub id: String,
    /// Higher priority wins when rules overlap; unique within the bucket.
    #[serde(default)]
    pub priority: u32,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<ReplicationFilter>,
    pub destination: ReplicationDestination,
    /// Replicate delete markers too.
    #[serde(default)]
    pub delete_marker_replication: bool,
}

/// Which objects a replication rule copies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplicationFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, String>,
}

/// Where replicated objects go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplicationDestination {
    /// Logical name of the destination bucket (usually in another region).
    pub bucket: String,
    /// Storage class of the replicas; the source object's class when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<StorageClass>,
}

/// One S3 Inventory configuration: a report of the bucket's objects written to a bucket on a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// Configuration ID, unique within the bucket.
    pub id: String,
    pub destination: InventoryDestination,
    pub schedule: InventorySchedule,
    /// Whether the report lists every version or only current ones.
    pub included_versions: InventoryVersions,
    /// Object metadata to include besides the key (sorted and deduplicated by s3rec).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub optional_fields: Vec<InventoryField>,
    /// Only objects whose key starts with this prefix are listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// Where an inventory report is written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryDestination {
    /// Logical name of a bucket of this manifest (in the same region), or the ARN of a bucket s3rec does
    /// not manage (`arn:aws:s3:::NAME`).
    pub bucket: String,
    /// Key prefix of the reports in the destination bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    pub format: InventoryFormat,
    /// The 12-digit account that owns the destination bucket, checked by S3 before it writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// File format of an inventory report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum InventoryFormat {
    #[serde(rename = "CSV")]
    Csv,
    #[serde(rename = "ORC")]
    Orc,
    Parquet,
}

/// How often an inventory report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum InventorySchedule {
    Daily,
    Weekly,
}

/// Which object versions an inventory report lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum InventoryVersions {
    All,
    Current,
}

/// Optional object metadata an inventory report can include (S3's `InventoryOptionalField` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum InventoryField {
    Size,
    LastModifiedDate,
    StorageClass,
    ETag,
    IsMultipartUploaded,
    ReplicationStatus,
    EncryptionStatus,
    ObjectLockRetainUntilDate,
    ObjectLockMode,
    ObjectLockLegalHoldStatus,
    IntelligentTieringAccessTier,
    BucketKeyStatus,
    ChecksumAlgorithm,
    ObjectAccessControlList,
    ObjectOwner,
    LifecycleExpirationDate,
}

/// One S3 Intelligent-Tiering configuration: after how many days without access the objects it selects
/// move to the optional archive tiers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntelligentTiering {
    /// Configuration ID, unique within the bucket.
    pub id: String,
    /// Which objects the configuration applies to; all of the bucket's when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<IntelligentTieringFilter>,
    /// At most one tiering per access tier: `ARCHIVE_ACCESS` after 90 to 730 days, `DEEP_ARCHIVE_ACCESS`
    /// after 180 to 730 days (and after the archive tier's days when both are given).
    pub tierings: Vec<IntelligentTieringTier>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// Object filter of an intelligent-tiering configuration; all given conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntelligentTieringFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, String>,
}

/// One archive tier of an intelligent-tiering configuration and the days without access before an
/// object moves into it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntelligentTieringTier {
    pub access_tier: IntelligentTieringAccessTier,
    #[schemars(range(min = 90, max = 730))]
    pub days: u32,
}

/// The optional archive tiers of S3 Intelligent-Tiering (S3's `IntelligentTieringAccessTier` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum IntelligentTieringAccessTier {
    #[serde(rename = "ARCHIVE_ACCESS")]
    ArchiveAccess,
    #[serde(rename = "DEEP_ARCHIVE_ACCESS")]
    DeepArchiveAccess,
}

/// One CORS rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CorsRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub allowed_methods: Vec<CorsMethod>,
    pub allowed_origins: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<u32>,
}

/// HTTP methods CORS may allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum CorsMethod {
    Get,
    Put,
    Post,
    Delete,
    Head,
}

/// Static website hosting. Either the bucket serves its objects (`index_document`, with optional
/// `error_document` and `routing_rules`) or it redirects every request (`redirect_all_requests_to`);
/// S3 refuses both at once. Neither (`{}`) means "no website configuration".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Website {
    /// The suffix appended to requests for a directory, e.g. `index.html`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub index_document: Option<String>,
    /// The object key returned when a 4XX error occurs, e.g. `error.html`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub error_document: Option<String>,
    /// Redirect rules, in order (S3 applies the first that matches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_rules: Option<Vec<RoutingRule>>,
    /// Redirect every request to another host instead of serving the bucket's objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_all_requests_to: Option<RedirectAllRequestsTo>,
}

/// Where every request to a website bucket is redirected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedirectAllRequestsTo {
    /// The host requests are sent to, e.g. `www.example.com`.
    #[schemars(length(min = 1))]
    pub host_name: String,
    /// The protocol of the redirect; the original request's when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<WebsiteProtocol>,
}

/// A website routing rule: when `condition` matches (always, when left out), redirect as `redirect` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<RoutingCondition>,
    pub redirect: RoutingRedirect,
}

/// When a routing rule applies; both fields given means both must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingCondition {
    /// Requests whose key starts with this prefix, e.g. `docs/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_prefix_equals: Option<String>,
    /// Requests whose answer would have this HTTP error code (4XX or 5XX).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 400, max = 599))]
    pub http_error_code_returned_equals: Option<u16>,
}

/// Where a routing rule redirects. `replace_key_prefix_with` and `replace_key_with` exclude each other.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingRedirect {
    /// The host of the redirect; the request's own host when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
    /// The protocol of the redirect; the request's own when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<WebsiteProtocol>,
    /// Replaces the prefix the condition's `key_prefix_equals` matched, e.g. `documents/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_key_prefix_with: Option<String>,
    /// Replaces the whole key, e.g. `error.html`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_key_with: Option<String>,
    /// The HTTP redirect code (3XX); 301 when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 300, max = 399))]
    pub http_redirect_code: Option<u16>,
}

/// The protocol of a website redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WebsiteProtocol {
    Http,
    Https,
}

/// IAM identities and policies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Iam {
    #[serde(default)]
    pub users: IndexMap<String, IamUser>,
    #[serde(default)]
    pub roles: IndexMap<String, IamRole>,
    /// Customer-managed policies, attachable to users and roles by logical name.
    #[serde(default)]
    pub policies: IndexMap<String, IamPolicy>,
}

/// An IAM user.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IamUser {
    /// Physical user name; the logical name when left out. `${env}` is replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default = "root_path")]
    pub path: String,
    /// Logical names of managed policies under `iam.policies` to attach.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// Least-privilege access generated into the user's inline policy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<Grant>,
    /// Create an access key for this user; its secret is written once to a 0600 file, never printed.
    #[serde(default)]
    pub access_key: bool,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, String>,
    /// Security findings accepted for this resource, each with the reason (see docs/findings.md).
    /// Acknowledged findings are still listed, as acknowledged, and no longer fail `--fail-on`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acknowledge: Vec<Acknowledgement>,
}

fn root_path() -> String {
    "/".to_string()
}

/// An IAM role.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IamRole {
    /// Physical role name; the logical name when left out. `${env}` is replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default = "root_path")]
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who may assume the role.
    pub trust: Trust,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<Grant>,
    /// Maximum session length in seconds (3600–43200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_session_duration: Option<u32>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, String>,
    /// Security findings accepted for this resource, each with the reason (see docs/findings.md).
    /// Acknowledged findings are still listed, as acknowledged, and no longer fail `--fail-on`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acknowledge: Vec<Acknowledgement>,
}

/// Trust principals of a role; at least one kind must be given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trust {
    /// AWS services, e.g. `s3.amazonaws.com`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// 12-digit account IDs whose principals may assume the role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// Identities of this manifest that may assume the role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<IdentityRef>,
}

/// A customer-managed IAM policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IamPolicy {
    /// Physical policy name; the logical name when left out. `${env}` is replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default = "root_path")]
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Raw statements (identity policy: no `Principal`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statements: Vec<Statement>,
    /// Generated least-privilege statements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<Grant>,
    /// Security findings accepted for this resource, each with the reason (see docs/findings.md).
    /// Acknowledged findings are still listed, as acknowledged, and no longer fail `--fail-on`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acknowledge: Vec<Acknowledgement>,
}

/// Intent-level access to a bucket (or a prefix of it), turned into least-privilege statements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Logical bucket name.
    pub bucket: String,
    /// Key prefix the access is limited to, e.g. `training-logs/`; the whole bucket when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    pub access: Vec<Access>,
}

/// Access levels of a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// `s3:GetObject` under the prefix (current versions only).
    Read,
    /// `s3:PutObject` and `s3:AbortMultipartUpload` under the prefix.
    Write,
    /// `s3:DeleteObject` under the prefix (a delete marker on versioned buckets; versions stay).
    Delete,
    /// `s3:ListBucket` limited to the prefix by an `s3:prefix` condition, and `s3:GetBucketLocation`.
    List,
    /// Reading and writing every bucket configuration document s3rec manages (named actions, no
    /// wildcards); effectively administration of the bucket. See docs/grants.md.
    Manage,
}

/// SNS topics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sns {
    #[serde(default)]
    pub topics: IndexMap<String, Topic>,
}

/// An SNS topic. When a bucket notification targets it, its access policy lets S3 publish from those
/// buckets of this account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    /// Physical topic name; the logical name when left out. `${env}` is replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<Subscription>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, String>,
    /// Security findings accepted for this resource, each with the reason (see docs/findings.md).
    /// Acknowledged findings are still listed, as acknowledged, and no longer fail `--fail-on`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acknowledge: Vec<Acknowledgement>,
}

/// A topic subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    pub protocol: SubscriptionProtocol,
    /// E-mail address, URL or ARN, as the protocol needs.
    pub endpoint: String,
}

/// Subscription protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SubscriptionProtocol {
    Email,
    EmailJson,
    Https,
    Http,
    Sqs,
    Lambda,
    Sms,
}

/// A local directory backed up into S3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncMapping {
    /// Local source directory (relative paths are relative to the project root).
    pub source: String,
    /// Logical name of the destination bucket for files no route claims.
    pub bucket: String,
    /// Key prefix in the destination.
    #[serde(default)]
    pub prefix: String,
    /// Glob patterns (relative to `source`) of files to include; everything when left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Glob patterns of files to leave out; they win over `include`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Routing rules, first match wins: send files by extension to other buckets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<SyncRoute>,
    /// Object key template. Placeholders: `{path}` (relative path, the default), `{name}`, `{stem}`,
    /// `{ext}`, `{dir}`, and `{year}`, `{month}`, `{day}` of the file's modification time (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<StorageClass>,
    /// The Content-Type of every object of the mapping (e.g. `text/plain; charset=utf-8`); the media type
    /// registered for each file's extension when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default)]
    pub compare: CompareMode,
    /// Checksum algorithm sent with uploads and used by `compare: checksum`.
    #[serde(default)]
    pub checksum: ChecksumAlgorithm,
    /// Delete destination objects under the prefix that have no source file.
    #[serde(default)]
    pub delete: bool,
    /// Follow symbolic links (off: links are skipped and reported).
    #[serde(default)]
    pub follow_symlinks: bool,
    /// Files at least this large are uploaded in parts.
    #[serde(default = "default_multipart_threshold")]
    pub multipart_threshold: ByteSize,
    /// Part size of multipart uploads (5 MiB to 5 GiB).
    #[serde(default = "default_multipart_chunk_size")]
    pub multipart_chunk_size: ByteSize,
    /// Transfers in flight at once (files and parts).
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// How long the destination keeps old versions of the backed-up files: lifecycle rules s3rec adds
    /// to each destination bucket for the mapping's prefixes (docs/sync.md, "Retention").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
}

/// The versions a backup keeps, declared on its mapping and applied as lifecycle rules of its
/// destination buckets. Needs `versioning: enabled` on those buckets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Delete a version this many days after it stopped being current (a newer upload replaced it, or
    /// a delete marker hid it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_days: Option<u32>,
    /// Keep this many newest noncurrent versions of each key however old they are (1 to 100); needs
    /// `noncurrent_days`, which then applies to the older ones only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_versions: Option<u32>,
    /// `expire` removes delete markers that no longer hide any version; `keep` (the default) leaves them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_markers: Option<DeleteMarkers>,
}

/// What retention does with delete markers left without versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeleteMarkers {
    Expire,
    Keep,
}

impl SyncMapping {
    /// The (bucket, prefix) pairs the mapping writes under: its own destination and each route's, with a
    /// prefix nested in another of the same bucket left out, since the outer prefix holds its keys too.
    pub fn destinations(&self) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = vec![(self.bucket.clone(), self.prefix.clone())];
        for route in &self.routes {
            let prefix = route.prefix.clone().unwrap_or_else(|| self.prefix.clone());
            all.push((route.bucket.clone(), prefix));
        }
        let mut kept: Vec<(String, String)> = Vec::new();
        for (i, (bucket, prefix)) in all.iter().enumerate() {
            let covered = all.iter().enumerate().any(|(j, (other_bucket, other_prefix))| {
                other_bucket == bucket
                    && prefix.starts_with(other_prefix.as_str())
                    // Of two equal prefixes the first is kept.
                    && (other_prefix.len() < prefix.len() || j < i)
            });
            if !covered {
                kept.push((bucket.clone(), prefix.clone()));
            }
        }
        kept
    }
}

fn default_multipart_threshold() -> ByteSize {
    ByteSize(64 * 1024 * 1024)
}

fn default_multipart_chunk_size() -> ByteSize {
    ByteSize(16 * 1024 * 1024)
}

/// 128 requests in flight keep a sync of small files busy at a region's round trip (at 80 ms, 32 left the
/// uploads waiting on latency), well below S3's 3,500 PUTs per second per prefix; memory stays bounded by
/// `transfer::BUFFERED_MAX` per request.
fn default_concurrency() -> u32 {
    128
}

/// Routes files to another bucket (and prefix, storage class) by extension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRoute {
    /// File extensions, without the dot, compared case-insensitively.
    pub extensions: Vec<String>,
    /// Logical name of the bucket these files go to.
    pub bucket: String,
    /// Key prefix in that bucket; the mapping's prefix when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<StorageClass>,
    /// The Content-Type of the objects of this route's files; the mapping's `content_type`, else the
    /// media type of each file's extension, when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

/// How sync decides that a file changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CompareMode {
    /// Size and modification time (kept in object metadata). Fast; the default.
    #[default]
    SizeMtime,
    /// Content checksum, computed only for files whose size or mtime changed.
    Checksum,
}

/// Checksum algorithms S3 validates on upload.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumAlgorithm {
    #[default]
    Crc64nvme,
    Crc32c,
    Crc32,
    Sha256,
    Sha1,
}

/// Retire a bucket (or prefix) onto local storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Migration {
    /// Logical name of the source bucket.
    pub bucket: String,
    #[serde(default)]
    pub prefix: String,
    /// Local destination directory.
    pub destination: String,
    /// `current` versions only, or `all` versions (kept as `key.versions/<version-id>`).
    #[serde(default)]
    pub versions: MigrationVersions,
    #[serde(default)]
    pub restore: RestoreSettings,
    /// How a downloaded file is verified before it counts as migrated.
    #[serde(default)]
    pub verify: VerifyMode,
    /// Delete source objects after every object of the bucket is verified and the operator confirms.
    #[serde(default)]
    pub delete_source: DeleteSource,
}

/// Which object versions a migration covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MigrationVersions {
    #[default]
    Current,
    All,
}

/// Glacier / Deep Archive restore settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreSettings {
    /// Retrieval tier. Deep Archive has no `Expedited`; it uses `Standard` instead.
    #[serde(default)]
    pub tier: RestoreTier,
    /// Days the restored copy stays available.
    #[serde(default = "default_restore_days")]
    pub days: u32,
    /// Restore requests outstanding at once.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: u32,
}

impl Default for RestoreSettings {
    fn default() -> Self {
        RestoreSettings {
            tier: RestoreTier::default(),
            days: default_restore_days(),
            max_in_flight: default_max_in_flight(),
        }
    }
}

fn default_restore_days() -> u32 {
    7
}

fn default_max_in_flight() -> u32 {
    100
}

/// Glacier retrieval tiers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum RestoreTier {
    Expedited,
    #[default]
    Standard,
    Bulk,
}

/// Verification of downloaded objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VerifyMode {
    /// Size only.
    Size,
    /// Size and content (ETag as MD5, multipart ETag, or the stored SHA-256/CRC checksum).
    #[default]
    Checksum,
}

/// Whether a migration deletes its source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DeleteSource {
    /// Never delete the source.
    #[default]
    Never,
    /// Delete current versions once all are verified and the operator confirms.
    AfterVerify,
    /// Delete every version and delete marker once all are verified and the operator confirms.
    AllVersionsAfterVerify,
}

/// Run reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Logical name of the topic under `sns.topics`.
    pub topic: String,
    /// Which runs report; all of them when left out.
    #[serde(default = "all_run_kinds")]
    pub on: Vec<RunKind>,
}

/// Kinds of runs that can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    Apply,
    Sync,
    Migrate,
    /// `restore --verify-only`: the nightly proof that a backup can be read back.
    Restore,
}

fn all_run_kinds() -> Vec<RunKind> {
    vec![RunKind::Apply, RunKind::Sync, RunKind::Migrate, RunKind::Restore]
}

/// A size in bytes: a number, or a string such as `64 MiB` or `1.5GB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Bytes(n) => Ok(ByteSize(n)),
            Raw::Text(s) => s
                .parse::<bytesize::ByteSize>()
                .map(|b| ByteSize(b.as_u64()))
                .map_err(|e| serde::de::Error::custom(format!("invalid size {s:?}: {e}"))),
        }
    }
}

impl JsonSchema for ByteSize {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ByteSize".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A size in bytes, or a string with a unit such as `64 MiB`, `16MB` or `1.5 GiB`.",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*([KkMmGgTtPpEe]i?[Bb]?|[Bb])?\\s*$" }
            ]
        })
    }
}
