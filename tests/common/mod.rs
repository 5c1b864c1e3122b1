//! Support shared by the integration tests.
//!
//! Every test binary compiles this module separately and uses a different part of it, so unused
//! helpers are expected here.
#![allow(dead_code)]

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use s3rec::aws::{Overrides, StaticCredentials};

/// The variable `scripts/test.sh` sets to the emulator's endpoint.
pub const ENDPOINT_VAR: &str = "S3REC_TEST_ENDPOINT";

/// The region the emulator tests treat as their default.
pub const TEST_REGION: &str = "us-east-1";

/// The variable `scripts/test.sh` sets to the `aws` of the pinned AWS CLI (`scripts/awscli.sh`).
pub const AWS_CLI_VAR: &str = "S3REC_TEST_AWS_CLI";

/// The endpoint of the AWS emulator (moto) the integration tests run against.
///
/// Panics with instructions when the emulator is not configured or not answering, because a test that
/// quietly skipped would report a green suite that tested nothing.
pub fn emulator_endpoint() -> String {
    let advice = "run the test suite with scripts/test.sh (it installs and starts moto), or start it \
                  with scripts/moto.sh start and export S3REC_TEST_ENDPOINT=<the endpoint it prints>";
    let endpoint = match std::env::var(ENDPOINT_VAR) {
        Ok(value) if !value.trim().is_empty() => value.trim().trim_end_matches('/').to_string(),
        _ => panic!("the AWS emulator is not reachable ({ENDPOINT_VAR} is not set): {advice}"),
    };
    let authority = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))
        .unwrap_or(&endpoint)
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let addrs: Vec<_> = match authority.to_socket_addrs() {
        Ok(addrs) => addrs.collect(),
        Err(err) => panic!(
            "the AWS emulator is not reachable ({ENDPOINT_VAR}={endpoint} is not a host:port URL: {err}): {advice}"
        ),
    };
    let reachable = addrs
        .iter()
        .any(|addr| TcpStream::connect_timeout(addr, Duration::from_secs(2)).is_ok());
    if !reachable {
        panic!("the AWS emulator is not reachable (nothing answers at {ENDPOINT_VAR}={endpoint}): {advice}");
    }
    endpoint
}

/// What to do when the AWS CLI is not configured.
const AWS_CLI_ADVICE: &str = "run the test suite with scripts/test.sh (it installs the pinned AWS CLI into .venv-awscli), \
                              or export S3REC_TEST_AWS_CLI=<the path scripts/awscli.sh prints> next to S3REC_TEST_ENDPOINT";

/// The pinned AWS CLI (`S3REC_TEST_AWS_CLI`) as `aws --endpoint-url ENDPOINT`, in us-east-1 by default,
/// with the emulator's credentials and none of this machine's AWS set-up; the caller adds arguments.
///
/// Panics with instructions when the CLI or the emulator is not configured, because a test that
/// quietly skipped its AWS CLI calls would report a green suite that tested nothing.
pub fn aws_cli_command() -> std::process::Command {
    let aws = match std::env::var(AWS_CLI_VAR) {
        Ok(value) if !value.trim().is_empty() => value.trim().to_string(),
        _ => panic!("the AWS CLI is not configured ({AWS_CLI_VAR} is not set): {AWS_CLI_ADVICE}"),
    };
    let mut cmd = std::process::Command::new(aws);
    // Empty config and credentials files keep settings of ~/.aws (a profile's addressing style, a CA
    // bundle, other keys) out of the tests, as scripts/test.sh keeps them out of s3rec's runs.
    cmd.args(["--endpoint-url", &emulator_endpoint()])
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", TEST_REGION)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
    cmd
}

/// Runs [`aws_cli_command`] with `--output json ARGS` and returns what it printed as JSON
/// (`Value::Null` when it printed nothing); panics with the CLI's stderr when it fails.
pub fn aws_cli(args: &[&str]) -> serde_json::Value {
    let shown = format!("aws {}", args.join(" "));
    let out = aws_cli_command()
        .args(["--output", "json"])
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("`{shown}` could not start ({AWS_CLI_VAR}): {err}: {AWS_CLI_ADVICE}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "`{shown}` failed ({}):\n{}{stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    if stdout.trim().is_empty() {
        return serde_json::Value::Null;
    }
    serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("`{shown}` printed no JSON ({err}):\n{stdout}"))
}

/// A name unique to this test run and call, safe as an S3 bucket name when `prefix` is.
///
/// The process id and the clock separate concurrent and successive runs against one long-lived
/// emulator; the counter separates calls within one run. The result is lowercase and at most 63
/// characters as long as `prefix` is at most 30.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let name = format!("{prefix}-{}-{millis:x}-{n}", std::process::id()).to_ascii_lowercase();
    assert!(
        name.len() <= 63,
        "unique_name: prefix `{prefix}` is too long for a bucket name"
    );
    name
}

/// Overrides that point s3rec at the emulator with its dummy credentials.
pub fn test_overrides() -> Overrides {
    Overrides {
        endpoint_url: Some(emulator_endpoint()),
        credentials: Some(StaticCredentials {
            access_key_id: "testing".to_string(),
            secret_access_key: "testing".to_string(),
        }),
        region: Some(TEST_REGION.to_string()),
    }
}

/// Connects to the emulator the way a manifest with `endpoint_url` and `force_path_style` would.
pub async fn emulator() -> s3rec::aws::Aws {
    let settings = s3rec::manifest::types::AwsSettings {
        force_path_style: true,
        ..Default::default()
    };
    s3rec::aws::connect(&settings, &test_overrides())
        .await
        .expect("connecting to the emulator needs no network call")
}

/// A runtime for the tests that drive the binary and check AWS with the SDK in between.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The emulator's account, from STS.
pub async fn account_id(aws: &s3rec::aws::Aws) -> String {
    aws.caller_identity()
        .await
        .unwrap_or_else(|err| panic!("{err}"))
        .account
}

/// A tag set from pairs.
pub fn tags(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Deterministic, incompressible-looking bytes, different per seed: test content that a misplaced or
/// flipped byte never leaves equal.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// `(code, line, column, message, hint)` of every problem of a loaded manifest, located through its
/// sources: what the validation tests assert on.
pub fn located_problems(loaded: &s3rec::manifest::Loaded) -> Vec<(String, usize, usize, String, String)> {
    loaded
        .problems
        .iter()
        .map(|p| {
            let (line, col) = p.span.map_or((0, 0), |s| {
                let (_, l, c) = loaded.sources.position(s);
                (l, c)
            });
            (
                p.code.to_string(),
                line,
                col,
                p.message.clone(),
                p.hint.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// Error text with miette's frame drawing taken out and whitespace collapsed: miette wraps long messages
/// at the terminal's width, so a test looks for words, not for line breaks.
#[allow(dead_code)]
pub fn flat(text: &str) -> String {
    text.replace(['│', '×', '╰', '─', '▶', '├', '╭', '┬', '┴'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every file under `dir` (relative path → content), leaving out s3rec's `.s3rec-partial` directory of
/// unfinished downloads.
pub fn files_under(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let entry = entry.expect("entry");
            let path = entry.path();
            if entry.file_type().expect("type").is_dir() {
                if path.file_name().is_some_and(|n| n == ".s3rec-partial") {
                    continue;
                }
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).expect("under").to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&path).expect("read"));
            }
        }
    }
    out
}

/// Turns versioning on for a bucket of the emulator.
pub async fn enable_versioning(aws: &s3rec::aws::Aws, bucket: &str) {
    aws.s3(TEST_REGION)
        .put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("enable versioning");
}

/// The current objects of `bucket` under `prefix` (one listing page), downloaded: key → content.
pub fn object_bodies(bucket: &str, prefix: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
    runtime().block_on(async {
        let aws = emulator().await;
        let s3 = aws.s3(TEST_REGION);
        let listed = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await
            .expect("list");
        let mut out = std::collections::BTreeMap::new();
        for o in listed.contents() {
            let key = o.key().expect("key").to_string();
            let body = s3.get_object().bucket(bucket).key(&key).send().await.expect("get").body;
            out.insert(key, body.collect().await.expect("body").into_bytes().to_vec());
        }
        out
    })
}

/// Every version and delete marker of `bucket` (one listing page): (key, version id, is a delete
/// marker), sorted.
pub fn all_versions(bucket: &str) -> Vec<(String, String, bool)> {
    runtime().block_on(async {
        let aws = emulator().await;
        let listed = aws
            .s3(TEST_REGION)
            .list_object_versions()
            .bucket(bucket)
            .send()
            .await
            .expect("list versions");
        let entry = |key: Option<&str>, version: Option<&str>, marker: bool| {
            (
                key.unwrap_or_default().to_string(),
                version.unwrap_or_default().to_string(),
                marker,
            )
        };
        let mut all: Vec<(String, String, bool)> = listed
            .versions()
            .iter()
            .map(|v| entry(v.key(), v.version_id(), false))
            .chain(
                listed
                    .delete_markers()
                    .iter()
                    .map(|m| entry(m.key(), m.version_id(), true)),
            )
            .collect();
        all.sort();
        all
    })
}
