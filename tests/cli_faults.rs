//! plan and apply through the fault proxy (`scripts/fault-proxy.py`) in front of the emulator: lost
//! responses are reconciled from AWS instead of guessed at, and an estate converges through a flaky
//! network. `fault_matrix` (ignored; run by hand) measures several seeds at a chosen fault rate.

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;
#[path = "common/project.rs"]
mod project;

use fault_proxy::FaultProxy;
use project::Project;
use s3rec::aws::identity::Target;
use s3rec::model::identity::IdentityKind;
use s3rec::plan::Address;
use s3rec::state::Outcome;

/// A project whose manifest talks to AWS through `proxy`.
fn project_through(proxy: &FaultProxy, prefix: &str) -> Project {
    let mut p = Project::new(&common::unique_name(prefix));
    p.endpoint = proxy.endpoint.clone();
    p
}

/// The access keys IAM has for `user`, asked directly (not through the proxy).
fn access_keys(user: &str) -> Vec<String> {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let arn = format!("arn:aws:iam::123456789012:user/{user}");
        let target = Target {
            kind: IdentityKind::IamUser,
            name: user,
            arn: &arn,
            region: "us-east-1",
        };
        s3rec::aws::identity::access_key_ids(&aws, target)
            .await
            .expect("list access keys")
    })
}

#[test]
fn a_lost_create_access_key_response_leaves_one_key_whose_secret_is_saved() {
    let proxy = FaultProxy::start(&[
        "--match",
        "Action=CreateAccessKey",
        "--first",
        "1",
        "--faults",
        "lost-response",
    ]);
    let p = project_through(&proxy, "lostkey");
    let user = format!("{}-app", p.env);
    p.write(&format!(
        "iam:\n  users:\n    app:\n      name: {user}\n      access_key: true\n"
    ));
    p.apply_ok();

    let creates = proxy
        .requests()
        .into_iter()
        .filter(|(op, _)| op.contains("Action=CreateAccessKey"))
        .collect::<Vec<_>>();
    assert_eq!(creates.len(), 2, "the lost call and one more: {creates:?}");
    assert_eq!(creates[0].1, "lost-response", "{creates:?}");

    // Exactly one key: the one the lost call made was deleted before the second call.
    let keys = access_keys(&user);
    assert_eq!(keys.len(), 1, "{keys:?}");
    let secret =
        std::fs::read_to_string(p.path(&format!(".s3rec/secrets/{}/{user}.credentials", p.env))).expect("secret file");
    assert!(secret.contains(&format!("aws_access_key_id = {}", keys[0])), "{secret}");
    let state = p.state();
    let recorded = state
        .resource(&Address("iam_user.app.access_key".into()))
        .expect("state")
        .expect("the key is recorded");
    assert!(
        serde_json::to_string(&recorded.value).expect("json").contains(&keys[0]),
        "{recorded:?}"
    );
    p.assert_converged();

    // A key s3rec does not know (made by hand here) is reported by doctor as an orphan.
    let orphan = common::runtime().block_on(async {
        let aws = common::emulator().await;
        let out = aws
            .iam()
            .create_access_key()
            .user_name(&user)
            .send()
            .await
            .expect("create key");
        out.access_key().expect("key").access_key_id().to_string()
    });
    let (code, stdout, stderr) = p.run(&["doctor", "-e", &p.env]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let all = format!("{stdout}{stderr}");
    assert!(all.contains(&format!("access key {orphan}")), "{all}");
    assert!(!all.contains(&format!("access key {} ", keys[0])), "{all}");
}

#[test]
fn a_put_bucket_logging_whose_responses_were_lost_is_read_back_and_recorded_as_done() {
    // Five lost responses outlast the SDK's own attempts, so the executor sees the ambiguous error.
    let proxy = FaultProxy::start(&[
        "--match",
        r"^PUT [^\n]*\?logging",
        "--first",
        "5",
        "--faults",
        "lost-response",
    ]);
    let p = project_through(&proxy, "lostlog");
    p.write(&format!(
        r#"buckets:
  logs:
    name: {0}-logs
    policy:
      statements:
        - Sid: S3ServerAccessLogsDelivery
          Effect: Allow
          Principal:
            Service: logging.s3.amazonaws.com
          Action: s3:PutObject
          Resource: "${{bucket.logs.arn}}/*"
  data:
    name: {0}-data
    logging:
      target_bucket: logs
      prefix: data/
"#,
        p.env
    ));
    let (code, stdout, stderr) = p.apply();
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let puts: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|(op, _)| op.starts_with("PUT") && op.contains("logging"))
        .collect();
    // Every PUT took effect upstream; the read-back, not another PUT, settled it.
    assert!(puts.iter().all(|(_, fault)| fault == "lost-response"), "{puts:?}");

    let state = p.state();
    let run = state.runs(1).expect("runs").into_iter().next().expect("a run");
    let journal = state.journal(run.id).expect("journal");
    let entry = journal
        .iter()
        .find(|e| e.address.as_str() == "bucket.data.logging")
        .expect("journaled");
    assert_eq!(entry.outcome, Outcome::Succeeded, "{journal:?}");
    assert!(
        state
            .resource(&Address("bucket.data.logging".into()))
            .expect("state")
            .is_some()
    );
    p.assert_converged();
}

/// Several buckets using most documents, an IAM user with an access key and grants, a role and an SNS
/// topic with a subscription (what moto keeps; see docs/testing.md).
fn estate(env: &str) -> String {
    format!(
        r#"
defaults:
  versioning: enabled
  encryption:
    algorithm: AES256
  public_access_block: {{}}
  object_ownership: BucketOwnerEnforced
  tags:
    managed-by: s3rec
buckets:
  access-logs:
    name: {env}-access-logs
    policy:
      deny_insecure_transport: true
      statements:
        - Sid: S3ServerAccessLogsDelivery
          Effect: Allow
          Principal:
            Service: logging.s3.amazonaws.com
          Action: s3:PutObject
          Resource: "${{bucket.access-logs.arn}}/*"
    lifecycle:
      - id: expire
        expiration:
          days: 30
  app-data:
    name: {env}-app-data
    tags:
      team: platform
    lifecycle:
      - id: tier-down
        filter:
          prefix: reports/
        transitions:
          - days: 30
            storage_class: STANDARD_IA
        expiration:
          days: 365
    policy:
      deny_insecure_transport: true
    logging:
      target_bucket: access-logs
      prefix: app-data/
    cors:
      - allowed_methods: [GET, PUT]
        allowed_origins: ["http://localhost:3000"]
  uploads:
    name: {env}-uploads
    versioning: suspended
    object_ownership: BucketOwnerPreferred
    logging:
      target_bucket: access-logs
      prefix: uploads/
    notifications:
      - id: new-uploads
        topic: upload-events
        events: ["s3:ObjectCreated:*"]
        filter:
          prefix: incoming/
iam:
  users:
    uploader:
      name: {env}-uploader
      access_key: true
      grants:
        - bucket: uploads
          prefix: incoming/
          access: [write, list]
  roles:
    logger:
      name: {env}-logger
      trust:
        services: [s3.amazonaws.com]
sns:
  topics:
    upload-events:
      name: {env}-upload-events
      subscriptions:
        - protocol: email
          endpoint: dev@example.com
"#
    )
}

/// Applies [`estate`] through the fault proxy at `rate` (slowdowns, resets and lost responses mixed)
/// up to `runs` times; returns the number of applies it took (`None` if it did not converge), after
/// checking that the next plan, through the same faults, neither aborts nor shows a change.
fn converge_through_faults(rate: &str, seed: &str, runs: usize) -> Option<usize> {
    let proxy = FaultProxy::start(&[
        "--rate",
        rate,
        "--seed",
        seed,
        "--faults",
        "slowdown,reset,lost-response",
    ]);
    let p = project_through(&proxy, "faults");
    p.write(&estate(&p.env));
    let mut took = None;
    for run in 1..=runs {
        let (code, stdout, stderr) = p.apply();
        eprintln!("rate {rate} seed {seed}: apply {run} exited {code}");
        if code == 0 {
            took = Some(run);
            break;
        }
        eprintln!("{stdout}\n{stderr}");
    }
    let (code, stdout, stderr) = p.run(&["plan", "-e", &p.env, "--detailed-exitcode"]);
    assert_ne!(code, 1, "plan aborted at rate {rate}, seed {seed}:\n{stdout}\n{stderr}");
    eprintln!(
        "rate {rate} seed {seed}: {} faults injected in {} requests",
        proxy.faults_injected(),
        proxy.requests().len()
    );
    took.filter(|_| code == 0)
}

#[test]
fn an_estate_converges_in_one_apply_through_ten_percent_faults() {
    assert_eq!(converge_through_faults("0.1", "7", 1), Some(1));
}

/// The figures of docs/testing.md: `S3REC_FAULT_RATE` (default 0.3) and `S3REC_FAULT_RUNS` (applies
/// allowed, default 2) over seeds 1 to 5. Run with
/// `scripts/test.sh --test cli_faults fault_matrix -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement: several full applies through faults; run by hand"]
fn fault_matrix() {
    let rate = std::env::var("S3REC_FAULT_RATE").unwrap_or_else(|_| "0.3".to_string());
    let runs: usize = std::env::var("S3REC_FAULT_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2);
    let results: Vec<(u32, Option<usize>)> = (1..=5)
        .map(|seed| (seed, converge_through_faults(&rate, &seed.to_string(), runs)))
        .collect();
    eprintln!("rate {rate}, up to {runs} applies: {results:?}");
    assert!(results.iter().all(|(_, took)| took.is_some()), "{results:?}");
}

#[test]
fn a_key_made_by_an_apply_killed_before_it_wrote_the_secret_is_replaced_by_the_next() {
    let p = Project::new(&common::unique_name("killedkey"));
    let user = format!("{}-app", p.env);
    p.write(&format!("iam:\n  users:\n    app:\n      name: {user}\n"));
    p.apply_ok();

    // What a SIGKILL between CreateAccessKey's answer and the write of its secret leaves: a key IAM
    // has, the empty file s3rec reserved, a `started` create in the journal, and nothing in the state.
    let lost = common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.iam()
            .create_access_key()
            .user_name(&user)
            .send()
            .await
            .expect("create key")
            .access_key()
            .expect("key")
            .access_key_id()
            .to_string()
    });
    let secret_path = p.path(&format!(".s3rec/secrets/{}/{user}.credentials", p.env));
    std::fs::create_dir_all(secret_path.parent().expect("dir")).expect("mkdir");
    std::fs::write(&secret_path, "").expect("reserve");
    {
        let mut state = p.state();
        let run = state.begin_run("apply", &p.env, None).expect("run");
        state
            .journal_start(
                run,
                &Address("iam_user.app.access_key".into()),
                s3rec::plan::Action::Create,
            )
            .expect("journal");
    }
    p.write(&format!(
        "iam:\n  users:\n    app:\n      name: {user}\n      access_key: true\n"
    ));
    let (code, plan) = p.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("never wrote its secret"), "{plan}");
    p.apply_ok();

    let keys = access_keys(&user);
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_ne!(keys[0], lost, "the key whose secret was lost is gone");
    let secret = std::fs::read_to_string(&secret_path).expect("secret file");
    assert!(secret.contains(&format!("aws_access_key_id = {}", keys[0])), "{secret}");
    p.assert_converged();
}
