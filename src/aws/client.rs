//! Connection set-up for the AWS SDK and the translation of its errors into advice.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::interceptors::BeforeDeserializationInterceptorContextMut;
use aws_sdk_s3::config::{
    ConfigBag, Credentials, Intercept, RequestChecksumCalculation, ResponseChecksumValidation, RuntimeComponents,
};
use aws_sdk_s3::error::{BoxError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput;
use aws_sdk_s3::primitives::SdkBody;

use crate::manifest::types::{AwsSettings, DEFAULT_LIST_PAGE_SIZE, MAX_LIST_PAGE_SIZE};

/// The region used when neither the manifest, the command line nor the AWS chain names one.
///
/// IAM and STS are global in the commercial partition and answer from us-east-1, so this is the one
/// region that always works for the account-level calls s3rec makes before it knows anything else.
pub const DEFAULT_REGION: &str = "us-east-1";

/// How many times one request is attempted before its error is reported.
///
/// Five attempts with exponential backoff ride out S3 `SlowDown` bursts and brief network blips during
/// a long sync, without making a real misconfiguration hang for minutes.
pub const MAX_ATTEMPTS: u32 = 5;

/// The retry behaviour every client gets unless `AWS_MAX_ATTEMPTS` or `AWS_RETRY_MODE` say otherwise.
///
/// Adaptive mode is standard mode (exponential backoff, a retry quota) plus a client-side rate limiter
/// that starts unrestricted and, once S3 answers `SlowDown` (or another throttling error), lowers the
/// rate of new requests and raises it again as they succeed. A sync with 128 uploads in flight then
/// backs off as a whole instead of each request retrying at full speed into the same throttle.
pub fn retry_config() -> RetryConfig {
    RetryConfig::adaptive().with_max_attempts(MAX_ATTEMPTS)
}

/// Access keys given directly, bypassing the AWS credential chain.
///
/// They exist for tests and emulators, where the credentials are dummies and must not depend on
/// whatever the developer's machine has in `~/.aws`.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    /// The access key id, e.g. `AKIA...` or `testing` for an emulator.
    pub access_key_id: String,
    /// The secret access key that goes with `access_key_id`.
    pub secret_access_key: String,
}

impl std::fmt::Debug for StaticCredentials {
    /// Prints the access key id but never the secret, so credentials can be logged safely.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .finish()
    }
}

/// Settings from the command line or a test that win over the manifest's `aws` section.
///
/// Every field is optional: `None` means "use what the manifest and the AWS chain say".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Endpoint for every service, e.g. an emulator such as `http://127.0.0.1:5000`.
    pub endpoint_url: Option<String>,
    /// Fixed credentials instead of the AWS credential chain.
    pub credentials: Option<StaticCredentials>,
    /// The default region, instead of the manifest's or the chain's.
    pub region: Option<String>,
}

/// Who the configured credentials belong to, as STS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// The 12-digit account id.
    pub account: String,
    /// The ARN of the user or assumed role making the calls.
    pub arn: String,
    /// The unique id of the user or role session.
    pub user_id: String,
}

/// One AWS call as the user would recognise it, so that an error can say what failed and what to grant.
///
/// `operation` is the API name (`HeadBucket`), `action` the IAM permission that authorises it
/// (`s3:ListBucket`: the two differ often enough that the caller must say both), and `resource` the ARN
/// or name the call acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    /// The API operation, e.g. `CreateBucket`.
    pub operation: &'static str,
    /// The IAM action that authorises it, e.g. `s3:CreateBucket`.
    pub action: &'static str,
    /// The ARN (or, where there is none, the name) of what the call acted on.
    pub resource: String,
}

impl Op {
    /// Describes a call on an arbitrary resource.
    pub fn new(operation: &'static str, action: &'static str, resource: impl Into<String>) -> Self {
        Self {
            operation,
            action,
            resource: resource.into(),
        }
    }

    /// Describes a call on a bucket, naming it by its ARN because that is what a policy must grant.
    pub fn bucket(operation: &'static str, action: &'static str, bucket: &str) -> Self {
        Self::new(operation, action, format!("arn:aws:s3:::{bucket}"))
    }

    /// Describes a write call of a document kind on a bucket: the operation and its IAM action come
    /// from the kind's descriptor (`model::kinds::ApiCall`), the one table of them.
    pub fn write(call: &crate::model::kinds::ApiCall, bucket: &str) -> Self {
        Self::bucket(call.operation, call.action, bucket)
    }

    /// Describes a call on one object (or, with a trailing `*`, a prefix) of a bucket.
    pub fn object(operation: &'static str, action: &'static str, bucket: &str, key: &str) -> Self {
        Self::new(operation, action, format!("arn:aws:s3:::{bucket}/{key}"))
    }

    /// Describes a call that acts on the account rather than a resource, e.g. `ListBuckets`.
    pub fn account(operation: &'static str, action: &'static str) -> Self {
        Self::new(operation, action, "*")
    }
}

/// Everything that can go wrong between s3rec and AWS, worded so the user knows what to do next.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// The AWS configuration itself is unusable (bad endpoint URL, unreadable profile).
    #[error("the AWS configuration is unusable: {detail}: check the manifest's `aws` section and ~/.aws/config")]
    Config {
        /// What was wrong.
        detail: String,
    },

    /// No credentials could be found at all.
    #[error(
        "no AWS credentials for {operation}: {detail}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
         set `aws.profile` in the manifest (or AWS_PROFILE), or run `aws sso login` for an SSO profile"
    )]
    NoCredentials {
        /// The operation that needed them.
        operation: String,
        /// What the credential chain reported.
        detail: String,
    },

    /// AWS rejected the credentials themselves (unknown key, bad secret, expired session).
    #[error(
        "{operation} was refused because AWS does not accept the credentials ({code}: {message}): \
         refresh them (`aws sso login`, or new access keys) and check that the clock of this machine is right"
    )]
    InvalidCredentials {
        /// The operation that was refused.
        operation: String,
        /// The AWS error code, e.g. `InvalidAccessKeyId` or `ExpiredToken`.
        code: String,
        /// The AWS error message.
        message: String,
    },

    /// The caller lacks a permission, or a policy denies it explicitly.
    #[error(
        "{action} on {resource} was denied ({operation}): grant {action} on {resource} to {caller}, \
         or remove the explicit deny (bucket policy, SCP or permission boundary) that blocks it{}",
        aws_said(message)
    )]
    AccessDenied {
        /// The operation that was denied.
        operation: String,
        /// The IAM action that is missing, e.g. `s3:CreateBucket`.
        action: String,
        /// The resource it was denied on.
        resource: String,
        /// The caller's ARN when known, otherwise a pointer to how to find it.
        caller: String,
        /// The AWS error message, which often says which kind of policy denied it.
        message: String,
    },

    /// The resource does not exist.
    #[error(
        "{operation} failed because {resource} does not exist ({code}){}: check the name, the region and the account",
        aws_said(message)
    )]
    NotFound {
        /// The operation that failed.
        operation: String,
        /// What was missing.
        resource: String,
        /// The AWS error code, e.g. `NoSuchBucket`, or `NotFound` for a bodiless HEAD answer.
        code: String,
        /// The AWS error message, often empty.
        message: String,
    },

    /// The request went to the wrong region for the bucket.
    #[error(
        "{operation} on {resource} went to the wrong region ({code}): {}",
        match actual_region {
            Some(region) => format!("the bucket is in {region}: set `region: {region}` on it in the manifest"),
            None => "set the bucket's `region` in the manifest to the region it was created in".to_string(),
        }
    )]
    WrongRegion {
        /// The operation that failed.
        operation: String,
        /// The bucket it was aimed at.
        resource: String,
        /// The AWS error code, e.g. `PermanentRedirect`.
        code: String,
        /// The region AWS says the bucket is in, when it said.
        actual_region: Option<String>,
    },

    /// AWS kept throttling the call after every retry.
    #[error(
        "AWS kept throttling {operation} on {resource} after {attempts} attempts ({code}): \
         retry later; if it keeps happening, run fewer requests at once (`--parallelism` of plan and apply, \
         `concurrency` of a sync mapping)"
    )]
    Throttled {
        /// The operation that was throttled.
        operation: String,
        /// What it acted on.
        resource: String,
        /// The AWS error code, e.g. `SlowDown`.
        code: String,
        /// How many attempts were made.
        attempts: u32,
    },

    /// The endpoint could not be reached at all.
    #[error(
        "could not reach {endpoint} for {operation} on {resource}: {detail}: check the network and proxy \
         settings{}",
        if endpoint.starts_with("the ") { "" } else { ", and that the server at `aws.endpoint_url` is running" }
    )]
    Unreachable {
        /// The operation that could not be sent.
        operation: String,
        /// What it would have acted on.
        resource: String,
        /// The configured endpoint, or "the AWS endpoint" when the default one is used.
        endpoint: String,
        /// The connector's explanation.
        detail: String,
    },

    /// The call timed out.
    #[error("{operation} on {resource} timed out: {detail}: check the network, then retry")]
    Timeout {
        /// The operation that timed out.
        operation: String,
        /// What it acted on.
        resource: String,
        /// The SDK's explanation.
        detail: String,
    },

    /// The answer could not be understood.
    ///
    /// Against real AWS this is rare; against an S3-compatible server or emulator it usually means the
    /// server answers this operation in a shape AWS does not use.
    #[error(
        "the answer to {operation} on {resource} could not be read: {detail}: if `aws.endpoint_url` points \
         at an S3-compatible server, it may not support {operation}; otherwise retry, and report it if it persists"
    )]
    BadResponse {
        /// The operation whose answer was unreadable.
        operation: String,
        /// What it acted on.
        resource: String,
        /// The SDK's explanation.
        detail: String,
    },

    /// The server answered the operation with another operation's answer (moto 5.1.22 answers
    /// ListBucketIntelligentTieringConfigurations with an object listing): it does not implement the
    /// operation. AWS implements every operation s3rec calls, so this is always an S3-compatible server
    /// or emulator. Reads take it to mean the bucket has no such configuration where that is only
    /// informative (`aws::read`); a setting the manifest manages fails with this error.
    #[error(
        "the server at {endpoint} does not implement {operation}: it answered the request for {resource} with {detail}; \
         s3rec cannot read or write this setting there: leave it out of the manifest for buckets on this server, \
         or point `aws.endpoint_url` at a server that implements it"
    )]
    Unsupported {
        /// The operation the server does not implement.
        operation: String,
        /// What it was asked about.
        resource: String,
        /// The configured endpoint, or "the AWS endpoint" when the default one is used.
        endpoint: String,
        /// What the server answered instead, e.g. "a `ListBucketResult` document".
        detail: String,
    },

    /// The connection broke while the answer was arriving (a cut body, a reset mid-answer). The server
    /// may or may not have done what was asked, so writes re-read what they wrote.
    #[error(
        "the answer to {operation} on {resource} was cut off before it was complete ({detail}): the connection \
         broke mid-answer; check the network (or the proxy between s3rec and AWS), then retry"
    )]
    Truncated {
        /// The operation whose answer was cut.
        operation: String,
        /// What it acted on.
        resource: String,
        /// The SDK's explanation.
        detail: String,
    },

    /// s3rec built a request the SDK refused to send, which is a bug in s3rec.
    #[error(
        "s3rec could not build the {operation} request for {resource}: {detail}: this is a bug in s3rec, please report it"
    )]
    InvalidRequest {
        /// The operation being built.
        operation: String,
        /// What it would have acted on.
        resource: String,
        /// The SDK's explanation.
        detail: String,
    },

    /// The local file for a new access key's secret could not be written (or already exists, and s3rec
    /// never overwrites one). The key is not left behind: it is deleted, or was never created.
    #[error("the secret file {path} for IAM user {user}'s access key: {detail}")]
    SecretFile {
        /// The file, as s3rec tried to write it.
        path: String,
        /// The IAM user the key is (or would have been) for.
        user: String,
        /// What went wrong and what to do.
        detail: String,
    },

    /// AWS answered with an error that has no more specific variant.
    #[error(
        "{operation} on {resource} failed ({code}, HTTP {status}){}{}",
        aws_said(message),
        hint_suffix(code)
    )]
    Service {
        /// The operation that failed.
        operation: String,
        /// What it acted on.
        resource: String,
        /// The AWS error code, or `Unknown` when the answer had none.
        code: String,
        /// The HTTP status of the answer.
        status: u16,
        /// The AWS error message.
        message: String,
    },

    /// The credentials belong to another account than the manifest's `aws.account_id` guard.
    #[error(
        "the credentials belong to account {actual} ({arn}) but the manifest expects account {expected}: \
         switch to credentials (profile) for account {expected}, or fix `aws.account_id` in the manifest"
    )]
    AccountMismatch {
        /// The account the manifest names.
        expected: String,
        /// The account the credentials belong to.
        actual: String,
        /// The caller's ARN.
        arn: String,
    },

    /// A bucket exists but the caller may not even ask where it is: another account owns the name, or
    /// a policy denies the caller.
    #[error(
        "bucket {bucket} exists but is owned by another AWS account or denies you {action} ({operation} \
         answered 403): choose another `name` for it in the manifest (bucket names are global), or, if the \
         bucket is yours, grant {action} on arn:aws:s3:::{bucket} to {caller}{}",
        aws_said(message)
    )]
    BucketNotAccessible {
        /// The operation that was denied, e.g. `GetBucketLocation`.
        operation: String,
        /// The IAM action it needs, e.g. `s3:GetBucketLocation`.
        action: String,
        /// The bucket name.
        bucket: String,
        /// The caller's ARN when known, otherwise a pointer to how to find it.
        caller: String,
        /// The AWS error message.
        message: String,
    },

    /// Emptying a bucket left object versions behind that DeleteObjects refused to delete.
    #[error(
        "{count} object version(s) in {bucket} could not be deleted while emptying it for `force_destroy` \
         ({detail}): check s3:DeleteObjectVersion for the caller and any object lock or legal hold, then retry"
    )]
    ObjectsNotDeleted {
        /// The bucket being emptied.
        bucket: String,
        /// How many versions and delete markers failed.
        count: usize,
        /// The first failures, as `key (version): code: message`.
        detail: String,
    },
}

/// Formats the AWS message as a trailing clause, or nothing when AWS said nothing useful.
fn aws_said(message: &str) -> String {
    if message.trim().is_empty() {
        String::new()
    } else {
        format!(" (AWS said: {})", message.trim())
    }
}

/// Formats a next step for service error codes that have a well-known remedy.
fn hint_suffix(code: &str) -> String {
    let hint = match code {
        "BucketAlreadyExists" => {
            "bucket names are global across all AWS accounts and this one is taken: choose another `name`"
        }
        "BucketAlreadyOwnedByYou" => {
            "the bucket already exists in this account: import it into the state, or drop the create"
        }
        "BucketNotEmpty" => "empty the bucket first, or set `force_destroy: true` on it in the manifest",
        "OperationAborted" => "another operation on this bucket is in progress: wait a minute and retry",
        "TooManyBuckets" => {
            "the account's bucket quota is reached: delete unused buckets or ask AWS for a higher quota"
        }
        "InvalidBucketName" => {
            "bucket names are 3-63 characters of lowercase letters, digits, dots and hyphens: fix `name`"
        }
        "MalformedPolicy" | "MalformedPolicyDocument" => {
            "the generated or written policy is invalid: check the bucket's `policy` statements"
        }
        "KMS.NotFoundException" | "KMS.DisabledException" | "KMSKeyNotAccessible" => {
            "check the `encryption.kms_key` of the bucket and that the caller may use it"
        }
        "InternalError" | "ServiceUnavailable" | "InternalFailure" => "AWS had a transient failure: retry",
        "InvalidTargetBucketForLogging" => {
            "the log target bucket must exist in the same account and region and its policy must let \
             `logging.s3.amazonaws.com` s3:PutObject on the log prefix; s3rec generates that statement on a \
             target bucket of this manifest (finding S3REC-S3-016 in `s3rec validate` names what blocks it)"
        }
        _ => return String::new(),
    };
    format!(": {hint}")
}

impl AwsError {
    /// The AWS error code behind this error, when AWS sent one, so callers can branch on it.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::InvalidCredentials { code, .. }
            | Self::NotFound { code, .. }
            | Self::WrongRegion { code, .. }
            | Self::Throttled { code, .. }
            | Self::Service { code, .. } => Some(code),
            Self::AccessDenied { .. } | Self::BucketNotAccessible { .. } => Some("AccessDenied"),
            _ => None,
        }
    }

    /// Whether the call may have taken effect although s3rec got no usable answer: the connection broke
    /// (before or after the request was sent, which the client cannot tell apart), the call timed out,
    /// the answer was cut or unreadable, or AWS failed on its side. A write that ends this way must be
    /// re-read, never assumed to have failed or succeeded.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Timeout { .. } | Self::Truncated { .. } | Self::BadResponse { .. } => true,
            // The server answered, in full, that it does not know the operation: nothing happened.
            Self::Unsupported { .. } => false,
            Self::Service { status, .. } => *status == 0 || *status >= 500,
            Self::Config { .. }
            | Self::NoCredentials { .. }
            | Self::InvalidCredentials { .. }
            | Self::AccessDenied { .. }
            | Self::NotFound { .. }
            | Self::WrongRegion { .. }
            | Self::Throttled { .. }
            | Self::InvalidRequest { .. }
            | Self::SecretFile { .. }
            | Self::AccountMismatch { .. }
            | Self::BucketNotAccessible { .. }
            | Self::ObjectsNotDeleted { .. } => false,
        }
    }

    /// Whether the resource is absent, which many read paths treat as "nothing there yet".
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// Whether the caller lacks a permission.
    pub fn is_access_denied(&self) -> bool {
        matches!(self, Self::AccessDenied { .. } | Self::BucketNotAccessible { .. })
    }
}

/// A connection to AWS: one loaded SDK configuration plus the manifest's endpoint settings.
///
/// Clients are built lazily and cached, because a plan touches many buckets in a few regions and
/// building a client per call would redo endpoint and credential set-up each time. Share one `Aws`
/// (for example in an `Arc`) across a whole command.
#[derive(Debug)]
pub struct Aws {
    sdk: SdkConfig,
    endpoint_url: Option<String>,
    force_path_style: bool,
    expected_account: Option<String>,
    list_page_size: i32,
    s3_clients: Mutex<HashMap<String, aws_sdk_s3::Client>>,
    sns_clients: Mutex<HashMap<String, aws_sdk_sns::Client>>,
    caller: OnceLock<CallerIdentity>,
}

/// Loads the AWS configuration for a manifest's `aws` section, with command-line or test overrides.
///
/// Overrides win over the manifest. Credentials otherwise come from the standard AWS chain
/// (environment, then the profile named by `settings.profile` or AWS_PROFILE, including SSO and
/// credential_process, then container and instance metadata), so s3rec behaves like the AWS CLI and
/// never needs secrets in a manifest. The region comes from the overrides, the manifest, the chain,
/// and finally [`DEFAULT_REGION`], so account-level calls always have one.
///
/// Nothing is sent to AWS here; credentials are resolved on the first call. Use
/// [`Aws::caller_identity`] to check them early.
pub async fn connect(settings: &AwsSettings, overrides: &Overrides) -> Result<Aws, AwsError> {
    let endpoint_url = overrides
        .endpoint_url
        .clone()
        .or_else(|| settings.endpoint_url.clone())
        .map(|url| url.trim_end_matches('/').to_string());
    if let Some(url) = &endpoint_url {
        validate_endpoint(url)?;
    }

    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = overrides.region.as_ref().or(settings.region.as_ref()) {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(creds) = &overrides.credentials {
        loader = loader.credentials_provider(Credentials::new(
            creds.access_key_id.clone(),
            creds.secret_access_key.clone(),
            None,
            None,
            "s3rec-overrides",
        ));
    }
    if let Some(url) = &endpoint_url {
        loader = loader.endpoint_url(url.clone());
    }
    // AWS_MAX_ATTEMPTS / AWS_RETRY_MODE are the documented way to tune retries for every AWS tool;
    // an explicit retry config would silently override them, so it is only set when they are absent.
    if std::env::var_os("AWS_MAX_ATTEMPTS").is_none() && std::env::var_os("AWS_RETRY_MODE").is_none() {
        loader = loader.retry_config(retry_config());
    }

    let mut sdk = loader.load().await;
    if sdk.region().is_none() {
        sdk = sdk.to_builder().region(Region::new(DEFAULT_REGION)).build();
    }
    tracing::debug!(
        region = sdk.region().map(|r| r.as_ref()),
        endpoint_url = endpoint_url.as_deref(),
        profile = settings.profile.as_deref(),
        "loaded AWS configuration"
    );

    let force_path_style = settings.force_path_style || endpoint_url.as_deref().is_some_and(needs_path_style);
    Ok(Aws {
        sdk,
        endpoint_url,
        force_path_style,
        expected_account: settings.account_id.clone(),
        list_page_size: i32::try_from(
            settings
                .list_page_size
                .unwrap_or(DEFAULT_LIST_PAGE_SIZE)
                .clamp(1, MAX_LIST_PAGE_SIZE),
        )
        .unwrap_or(i32::MAX),
        s3_clients: Mutex::new(HashMap::new()),
        sns_clients: Mutex::new(HashMap::new()),
        caller: OnceLock::new(),
    })
}

/// Whether requests to `endpoint_url` (AWS's own endpoints when `None`) travel over TLS.
fn endpoint_uses_tls(endpoint_url: Option<&str>) -> bool {
    endpoint_url.is_none_or(|url| {
        url.get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
    })
}

/// S3 Control's endpoint resolver for a custom `endpoint_url`: the URL as configured, without the
/// account-ID host prefix the service's endpoint rules add (see [`Aws::s3control`]).
#[derive(Debug)]
struct KeepEndpoint(String);

impl aws_sdk_s3control::config::endpoint::ResolveEndpoint for KeepEndpoint {
    fn resolve_endpoint<'a>(
        &'a self,
        _params: &'a aws_sdk_s3control::config::endpoint::Params,
    ) -> aws_sdk_s3control::config::endpoint::EndpointFuture<'a> {
        aws_sdk_s3control::config::endpoint::EndpointFuture::ready(Ok(
            aws_sdk_s3control::config::endpoint::Endpoint::builder()
                .url(self.0.clone())
                .build(),
        ))
    }
}

/// Rejects endpoint URLs the SDK would only fail on later, with a less helpful message.
fn validate_endpoint(url: &str) -> Result<(), AwsError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| AwsError::Config {
            detail: format!("endpoint_url `{url}` must start with http:// or https://"),
        })?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(AwsError::Config {
            detail: format!("endpoint_url `{url}` has no host"),
        });
    }
    Ok(())
}

/// Whether an endpoint can only be addressed path-style.
///
/// Virtual-hosted addressing puts the bucket name in front of the host (`bucket.host`), which cannot
/// work for an IP address or `localhost`, so emulators there work without the user having to know
/// about `force_path_style`.
fn needs_path_style(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or("");
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        // An IPv6 literal such as [::1]:9000.
        return bracketed.contains(']');
    } else {
        authority.rsplit_once(':').map_or(authority, |(host, _port)| host)
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::Ipv4Addr>().is_ok()
}

impl Aws {
    /// The S3 client for `region`, built on first use and cached.
    ///
    /// S3 is the one service where the region of the client must match the bucket's, so callers ask
    /// per bucket region; the client honours the manifest's `endpoint_url` and `force_path_style`.
    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let mut clients = self.s3_clients.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .entry(region.to_string())
            .or_insert_with(|| {
                let mut config = aws_sdk_s3::config::Builder::from(&self.sdk)
                    .region(Region::new(region.to_string()))
                    .force_path_style(self.force_path_style);
                if self.endpoint_url.is_some() {
                    // S3-compatible servers (MinIO, Ceph, older emulators) often reject the CRC
                    // checksums the SDK now adds to every upload by default; only send and verify
                    // checksums where the S3 API requires them.
                    config = config
                        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                        .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
                }
                aws_sdk_s3::Client::from_conf(config.build())
            })
            .clone()
    }

    /// The IAM client; IAM is global, so it uses the default region only for signing.
    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk)
    }

    /// The STS client in the default region.
    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.sdk)
    }

    /// The SNS client for `region`, built on first use and cached; topics are regional resources.
    pub fn sns(&self, region: &str) -> aws_sdk_sns::Client {
        let mut clients = self.sns_clients.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .entry(region.to_string())
            .or_insert_with(|| {
                let config = aws_sdk_sns::config::Builder::from(&self.sdk)
                    .region(Region::new(region.to_string()))
                    .build();
                aws_sdk_sns::Client::from_conf(config)
            })
            .clone()
    }

    /// The S3 Control client in the default region (the account's public access block is global).
    ///
    /// S3 Control's endpoint rules put the account ID in front of the host (`{account}.s3-control...`),
    /// also in front of a custom `endpoint_url`, where `123456789012.127.0.0.1` cannot resolve. With a
    /// custom endpoint, an endpoint resolver that returns that URL unchanged replaces the rules (the
    /// SDK's supported override); the account still travels in the `x-amz-account-id` header, which is
    /// all S3-compatible servers such as moto need. Against AWS the rules apply unchanged.
    pub fn s3control(&self) -> aws_sdk_s3control::Client {
        let mut config = aws_sdk_s3control::config::Builder::from(&self.sdk);
        if let Some(url) = &self.endpoint_url {
            config = config.endpoint_resolver(KeepEndpoint(url.clone()));
        }
        aws_sdk_s3control::Client::from_conf(config.build())
    }

    /// The default region: from the overrides, the manifest, the AWS chain, or [`DEFAULT_REGION`].
    pub fn region(&self) -> &str {
        self.sdk.region().map_or(DEFAULT_REGION, |r| r.as_ref())
    }

    /// The custom endpoint every client talks to, if any.
    pub fn endpoint_url(&self) -> Option<&str> {
        self.endpoint_url.as_deref()
    }

    /// Whether S3 buckets are addressed as `endpoint/bucket` rather than `bucket.endpoint`.
    pub fn force_path_style(&self) -> bool {
        self.force_path_style
    }

    /// Whether requests travel over TLS: AWS itself, or a custom endpoint given as `https://`.
    pub fn uses_tls(&self) -> bool {
        endpoint_uses_tls(self.endpoint_url.as_deref())
    }

    /// Objects asked for per ListObjectsV2 page (`aws.list_page_size`, default AWS's cap of 1,000).
    pub fn list_page_size(&self) -> i32 {
        self.list_page_size
    }

    /// Asks STS who the credentials belong to; the answer is cached for the life of this `Aws`.
    ///
    /// This is the cheapest call that proves the credentials work, and its ARN lets access-denied
    /// errors say whom to grant the missing permission.
    pub async fn caller_identity(&self) -> Result<CallerIdentity, AwsError> {
        if let Some(identity) = self.caller.get() {
            return Ok(identity.clone());
        }
        let op = Op::account("GetCallerIdentity", "sts:GetCallerIdentity");
        let out = self
            .sts()
            .get_caller_identity()
            .send()
            .await
            .map_err(|err| self.error(&op, err))?;
        let identity = CallerIdentity {
            account: out.account().unwrap_or_default().to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
            user_id: out.user_id().unwrap_or_default().to_string(),
        };
        Ok(self.caller.get_or_init(|| identity).clone())
    }

    /// Checks the manifest's `aws.account_id` guard against the caller's account.
    ///
    /// Plan and apply call this first so that credentials for the wrong account (say, prod keys in a
    /// dev shell) fail before anything is read or changed. Without a guard it just returns the identity.
    pub async fn check_account(&self) -> Result<CallerIdentity, AwsError> {
        let identity = self.caller_identity().await?;
        match &self.expected_account {
            Some(expected) if *expected != identity.account => Err(AwsError::AccountMismatch {
                expected: expected.clone(),
                actual: identity.account,
                arn: identity.arn,
            }),
            _ => Ok(identity),
        }
    }

    /// Reads a bucket's notification configuration, tolerating servers that answer it with no body.
    ///
    /// Use this rather than calling `get_bucket_notification_configuration` on [`Aws::s3`] directly:
    /// moto and some S3-compatible servers answer a bucket without notifications with an empty
    /// `200 OK`, which the SDK rejects, while AWS sends an empty `<NotificationConfiguration/>`. Here
    /// both read as "no notifications". Against AWS itself nothing is rewritten.
    pub async fn bucket_notifications(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<GetBucketNotificationConfigurationOutput, AwsError> {
        let request = self.s3(region).get_bucket_notification_configuration().bucket(bucket);
        let result = if self.endpoint_url.is_some() {
            request.customize().interceptor(EmptyNotificationBody).send().await
        } else {
            request.send().await
        };
        result.map_err(|err| {
            self.error(
                &Op::bucket("GetBucketNotificationConfiguration", "s3:GetBucketNotification", bucket),
                err,
            )
        })
    }

    /// Turns an SDK error into an [`AwsError`] naming the operation, the resource and the next step.
    ///
    /// Unlike [`sdk_error`], this names the caller in access-denied errors (once
    /// [`Aws::caller_identity`] has run) and the configured endpoint in connection errors.
    pub fn error<E>(&self, op: &Op, err: SdkError<E, HttpResponse>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let caller = self.caller.get().map(|c| c.arn.as_str());
        classify(op, caller, self.endpoint_url.as_deref(), &err)
    }
}

/// What AWS itself answers to GetBucketNotificationConfiguration on a bucket without notifications.
const EMPTY_NOTIFICATION_CONFIGURATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#;

/// Repairs the empty answer some S3-compatible servers give to GetBucketNotificationConfiguration.
///
/// AWS answers a bucket without notifications with an empty `<NotificationConfiguration/>` element, but
/// moto (and some other servers) send `200 OK` with no body at all, which the SDK rejects as
/// "no root element". It is attached to that one operation only (see [`Aws::bucket_notifications`]),
/// because by the time a response arrives the request is gone and the interceptor could not tell an
/// empty notification answer from, say, an empty object.
#[derive(Debug)]
struct EmptyNotificationBody;

impl Intercept for EmptyNotificationBody {
    fn name(&self) -> &'static str {
        "S3recEmptyNotificationBody"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response_mut();
        let empty = response.headers().get("content-length") == Some("0")
            || response.body().bytes().is_some_and(<[u8]>::is_empty);
        if response.status().is_success() && empty {
            *response.body_mut() = SdkBody::from(EMPTY_NOTIFICATION_CONFIGURATION);
            let headers = response.headers_mut();
            headers.insert("content-length", EMPTY_NOTIFICATION_CONFIGURATION.len().to_string());
            headers.insert("content-type", "application/xml");
        }
        Ok(())
    }
}

/// Turns an SDK error into an [`AwsError`] without knowing the caller or the endpoint.
///
/// Prefer [`Aws::error`], which can say whom to grant a missing permission.
pub fn sdk_error<E>(op: &Op, err: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    classify(op, None, None, &err)
}

/// Codes with which AWS says the credentials themselves are bad, as opposed to lacking a permission.
const INVALID_CREDENTIAL_CODES: &[&str] = &[
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidToken",
    "TokenRefreshRequired",
    "RequestExpired",
    "RequestTimeTooSkewed",
];

/// Codes with which AWS says a permission is missing.
const ACCESS_DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "UnauthorizedOperation",
    "AllAccessDisabled",
];

/// Codes with which AWS says the request went to the wrong region.
const WRONG_REGION_CODES: &[&str] = &[
    "PermanentRedirect",
    "AuthorizationHeaderMalformed",
    "IllegalLocationConstraintException",
];

/// Codes with which AWS says it is throttling the caller.
const THROTTLING_CODES: &[&str] = &[
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
];

/// Whether a code means "this resource does not exist".
fn is_not_found_code(code: &str) -> bool {
    code.starts_with("NoSuch")
        || code.ends_with("NotFound")
        || code.ends_with("NotFoundError")
        || code.ends_with("NotFoundException")
}

/// The shared classification behind [`sdk_error`] and [`Aws::error`].
fn classify<E>(op: &Op, caller: Option<&str>, endpoint: Option<&str>, err: &SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let operation = op.operation.to_string();
    let resource = op.resource.clone();
    // The full context (including the raw response) goes to the debug log; the message keeps only the
    // chain of causes, which is what a person can act on.
    tracing::debug!(operation = op.operation, resource = %op.resource, error = %DisplayErrorContext(err), "AWS call failed");
    let detail = || error_chain(err);
    let endpoint = || endpoint.map_or_else(|| "the AWS endpoint".to_string(), str::to_string);

    match err {
        SdkError::ServiceError(service) => {
            let raw = service.raw();
            let status = raw.status().as_u16();
            if (200..300).contains(&status) {
                // A success status the SDK still reports as an error means the body did not parse:
                // either it was cut off on the way, or the server speaks a dialect of the API that AWS
                // does not. Only the second is a reason to suspect the server.
                let text = detail();
                if let Some(answered) = other_operations_answer(&text) {
                    return AwsError::Unsupported {
                        operation,
                        resource,
                        endpoint: endpoint(),
                        detail: answered,
                    };
                }
                return unreadable(operation, resource, text);
            }
            // HEAD answers have no body, so the SDK can only report the status; map the statuses that
            // matter to the codes a GET would have carried.
            let code = match err.code() {
                Some(code) if !code.is_empty() => code.to_string(),
                _ => match status {
                    301 => "PermanentRedirect".to_string(),
                    403 => "AccessDenied".to_string(),
                    404 => "NotFound".to_string(),
                    _ => "Unknown".to_string(),
                },
            };
            let message = err.message().unwrap_or_default().to_string();
            classify_service(op, caller, raw, status, code, message)
        }
        SdkError::DispatchFailure(failure) => {
            let text = detail();
            if looks_like_credentials_error(&text) {
                AwsError::NoCredentials {
                    operation,
                    detail: text,
                }
            } else if failure.is_timeout() {
                AwsError::Timeout {
                    operation,
                    resource,
                    detail: text,
                }
            } else {
                AwsError::Unreachable {
                    operation,
                    resource,
                    endpoint: endpoint(),
                    detail: text,
                }
            }
        }
        SdkError::TimeoutError(_) => AwsError::Timeout {
            operation,
            resource,
            detail: detail(),
        },
        SdkError::ResponseError(_) => unreadable(operation, resource, detail()),
        SdkError::ConstructionFailure(_) => {
            let text = detail();
            if looks_like_credentials_error(&text) {
                AwsError::NoCredentials {
                    operation,
                    detail: text,
                }
            } else {
                AwsError::InvalidRequest {
                    operation,
                    resource,
                    detail: text,
                }
            }
        }
        _ => AwsError::Service {
            operation,
            resource,
            code: "Unknown".to_string(),
            status: 0,
            message: detail(),
        },
    }
}

/// Joins an error and its sources into one line ("service error: unhandled error: error parsing XML").
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some layers repeat their source's text; saying it twice helps nobody.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Classifies an error answer from AWS by its code and status.
fn classify_service(
    op: &Op,
    caller: Option<&str>,
    raw: &HttpResponse,
    status: u16,
    code: String,
    message: String,
) -> AwsError {
    let operation = op.operation.to_string();
    let resource = op.resource.clone();
    if INVALID_CREDENTIAL_CODES.contains(&code.as_str()) {
        AwsError::InvalidCredentials {
            operation,
            code,
            message,
        }
    } else if ACCESS_DENIED_CODES.contains(&code.as_str()) {
        AwsError::AccessDenied {
            operation,
            action: op.action.to_string(),
            resource,
            caller: caller.map_or_else(
                || "the calling identity (see `aws sts get-caller-identity`)".to_string(),
                str::to_string,
            ),
            message,
        }
    } else if WRONG_REGION_CODES.contains(&code.as_str()) {
        let actual_region = raw
            .headers()
            .get("x-amz-bucket-region")
            .map(str::to_string)
            .or_else(|| region_from_message(&message));
        AwsError::WrongRegion {
            operation,
            resource,
            code,
            actual_region,
        }
    } else if THROTTLING_CODES.contains(&code.as_str()) || status == 429 {
        AwsError::Throttled {
            operation,
            resource,
            code,
            attempts: MAX_ATTEMPTS,
        }
    } else if is_not_found_code(&code) {
        AwsError::NotFound {
            operation,
            resource,
            code,
            message,
        }
    } else {
        AwsError::Service {
            operation,
            resource,
            code,
            status,
            message,
        }
    }
}

/// Pulls the expected region out of an `AuthorizationHeaderMalformed` message, which names it in quotes
/// ("... the region 'us-east-1' is wrong; expecting 'eu-west-1'").
fn region_from_message(message: &str) -> Option<String> {
    let (_, rest) = message.split_once("expecting '")?;
    let (region, _) = rest.split_once('\'')?;
    Some(region.to_string())
}

/// What a server answered instead, when a success answer did not parse because its document is another
/// operation's (the SDK's "invalid XML root: expected X but got StartEl { name: Name { .. local: \"Y\" } }"):
/// the server routed the request to another operation, so it does not implement this one.
fn other_operations_answer(detail: &str) -> Option<String> {
    let (_, got) = detail.split_once("invalid XML root")?.1.split_once(" but got ")?;
    let root = got
        .split_once("local: \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(local, _)| local);
    Some(root.map_or_else(
        || "another operation's document".to_string(),
        |root| format!("a `{root}` document"),
    ))
}

/// An answer that could not be read: [`AwsError::Truncated`] when it was cut off on the way,
/// [`AwsError::BadResponse`] when it arrived whole but malformed.
fn unreadable(operation: String, resource: String, detail: String) -> AwsError {
    if looks_cut_off(&detail) {
        AwsError::Truncated {
            operation,
            resource,
            detail,
        }
    } else {
        AwsError::BadResponse {
            operation,
            resource,
            detail,
        }
    }
}

/// Whether an unreadable answer was cut off on the way (the connection closed before the body was
/// complete) rather than malformed. hyper and the SDK's XML reader say so in these words; matching them
/// avoids depending on hyper's error types just to downcast.
fn looks_cut_off(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    [
        "end of file",
        "unexpected eof",
        "incompletemessage",
        "connection closed before message completed",
        "connection reset",
        "io error",
        "error reading a body",
        "body length",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

/// Whether the error text comes from the credential chain rather than the network.
///
/// The SDK reports a failed credential lookup as a dispatch or construction failure whose source is a
/// `CredentialsError`; matching its wording avoids depending on another SDK crate just to downcast.
fn looks_like_credentials_error(text: &str) -> bool {
    text.contains("credential provider was not enabled")
        || text.contains("credentials provider was not properly configured")
        || text.contains("error occurred while loading credentials")
        || text.contains("no providers in chain provided credentials")
        || text.contains("credentials provider timed out")
        || text.contains("unexpected credentials error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_slows_the_whole_client_down_not_only_the_request_retried() {
        let config = retry_config();
        assert_eq!(config.mode(), aws_config::retry::RetryMode::Adaptive);
        assert_eq!(config.max_attempts(), MAX_ATTEMPTS);
    }

    #[test]
    fn only_https_and_aws_itself_count_as_tls() {
        assert!(endpoint_uses_tls(None), "AWS's own endpoints are HTTPS");
        assert!(endpoint_uses_tls(Some("https://minio.example.com:9000")));
        assert!(endpoint_uses_tls(Some("HTTPS://ceph.internal")));
        assert!(!endpoint_uses_tls(Some("http://127.0.0.1:5000")));
        assert!(!endpoint_uses_tls(Some("http")));
    }

    /// The SDK's wording for a success answer whose document is another operation's (what moto 5.1.22
    /// sends for ListBucketIntelligentTieringConfigurations), and a parse failure that is not one.
    #[test]
    fn another_operations_answer_is_recognised_from_the_sdks_parse_error() {
        let detail = "unhandled error: invalid XML root: expected ListBucketIntelligentTieringConfigurationsOutput \
                      but got StartEl { name: Name { prefix: \"\", local: \"ListBucketResult\" }, attributes: [] }";
        assert_eq!(
            other_operations_answer(detail).as_deref(),
            Some("a `ListBucketResult` document")
        );
        assert_eq!(other_operations_answer("unexpected end of input"), None);
        assert_eq!(
            other_operations_answer("invalid XML root: expected X but got something else").as_deref(),
            Some("another operation's document")
        );
    }

    #[test]
    fn an_invalid_logging_target_shows_what_aws_said_and_the_way_out() {
        let e = AwsError::Service {
            operation: "PutBucketLogging".into(),
            resource: "bucket app".into(),
            code: "InvalidTargetBucketForLogging".into(),
            status: 400,
            message: "You must either provide the necessary permissions to the logging service".into(),
        };
        let text = e.to_string();
        assert!(
            text.contains("(AWS said: You must either provide the necessary permissions"),
            "{text}"
        );
        assert!(text.contains("logging.s3.amazonaws.com"), "{text}");
        assert!(text.contains("S3REC-S3-016"), "{text}");
    }

    #[test]
    fn path_style_is_forced_for_addresses_that_cannot_take_a_bucket_prefix() {
        assert!(needs_path_style("http://127.0.0.1:5000"));
        assert!(needs_path_style("http://localhost:9000/"));
        assert!(needs_path_style("http://[::1]:9000"));
        assert!(!needs_path_style("https://s3.example.com"));
        assert!(!needs_path_style("https://minio.internal:9000"));
    }

    #[test]
    fn endpoints_without_a_scheme_are_rejected_with_advice() {
        let err = validate_endpoint("127.0.0.1:5000").unwrap_err();
        assert!(err.to_string().contains("must start with http:// or https://"));
        assert!(validate_endpoint("http://").is_err());
        assert!(validate_endpoint("https://s3.example.com").is_ok());
    }

    #[test]
    fn the_expected_region_is_read_from_authorization_header_messages() {
        let message = "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'";
        assert_eq!(region_from_message(message).as_deref(), Some("eu-west-1"));
        assert_eq!(region_from_message("no region here"), None);
    }

    #[test]
    fn access_denied_names_the_action_the_resource_and_the_caller() {
        let err = AwsError::AccessDenied {
            operation: "CreateBucket".into(),
            action: "s3:CreateBucket".into(),
            resource: "arn:aws:s3:::x".into(),
            caller: "arn:aws:iam::123456789012:user/ci".into(),
            message: "Access Denied".into(),
        };
        assert_eq!(
            err.to_string(),
            "s3:CreateBucket on arn:aws:s3:::x was denied (CreateBucket): grant s3:CreateBucket on \
             arn:aws:s3:::x to arn:aws:iam::123456789012:user/ci, or remove the explicit deny (bucket \
             policy, SCP or permission boundary) that blocks it (AWS said: Access Denied)"
        );
    }

    #[test]
    fn a_cut_answer_is_told_from_a_malformed_one() {
        assert!(looks_cut_off(
            "response error: error reading a body from connection: end of file before message length reached"
        ));
        assert!(!looks_cut_off(
            "service error: unhandled error: error parsing XML: no root element"
        ));
        let cut = AwsError::Truncated {
            operation: "GetBucketLocation".into(),
            resource: "arn:aws:s3:::x".into(),
            detail: "end of file before message length reached".into(),
        };
        assert!(!cut.to_string().contains("may not support"), "{cut}");
        assert!(cut.is_ambiguous());
    }

    #[test]
    fn throttling_advice_fits_every_command() {
        let err = AwsError::Throttled {
            operation: "GetBucketPolicy".into(),
            resource: "arn:aws:s3:::x".into(),
            code: "SlowDown".into(),
            attempts: 5,
        };
        assert!(!err.to_string().contains("sync concurrency"), "{err}");
        assert!(err.to_string().contains("--parallelism"), "{err}");
    }

    #[test]
    fn static_credentials_never_print_the_secret() {
        let creds = StaticCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "very-secret".into(),
        };
        let printed = format!("{creds:?}");
        assert!(printed.contains("AKIDEXAMPLE"));
        assert!(!printed.contains("very-secret"));
    }
}
