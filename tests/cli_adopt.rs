//! Adopting what already exists, through the real binary against the moto emulator: an existing
//! bucket, IAM resource or topic that is not in the state is shown as `adopt` (and recorded by apply
//! without an AWS call), and is never deleted or replaced, whatever the manifest says. Also the saved
//! plan that would delete what the state does not manage, and a bucket name held by another account
//! (403 on the bucket's location, 409 BucketAlreadyExists on create), which the emulator cannot show and
//! the fault proxy simulates.

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;
#[path = "common/project.rs"]
mod project;

use common::flat;
use fault_proxy::FaultProxy;
use project::Project;
use s3rec::plan::{Action, Address, Change, Resource, Value};

/// Whether `text` says `needle`, ignoring all whitespace: miette also wraps inside long names (after a
/// hyphen), which a flattened comparison would not join.
fn says(text: &str, needle: &str) -> bool {
    let squash = |s: &str| flat(s).replace(' ', "");
    squash(text).contains(&squash(needle))
}

/// Creates a bucket with another client, as a person or another tool would.
async fn make_bucket(aws: &s3rec::aws::Aws, name: &str, region: &str) {
    s3rec::aws::write::create_bucket(aws, name, region)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// The bucket's region, or `None` when it does not exist.
async fn bucket_region(aws: &s3rec::aws::Aws, name: &str) -> Option<String> {
    s3rec::aws::read::read_bucket(aws, name, &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|b| b.region)
}

/// The plan refuses an unmanaged bucket whose region differs (with the two ways out and no "removing
/// it from the manifest" hint), apply refuses too, and the bucket is still where it was.
#[track_caller]
fn assert_region_refused(project: &Project, bucket: &str) {
    let (code, stdout, stderr) = project.run(&["plan", "-e", &project.env, "--detailed-exitcode"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let text = flat(&stderr);
    for needle in [
        "bucket.logs",
        &format!("bucket {bucket} already exists with region us-west-2, but the manifest wants us-east-1"),
        "s3rec does not manage it (it is not in the state), so it will not delete and re-create it",
        "set `region: us-west-2` for bucket.logs in the manifest",
        &format!("remove bucket {bucket} by hand"),
        "s3rec will not delete what it never managed",
    ] {
        assert!(says(&text, needle), "missing `{needle}` in:\n{stderr}");
    }
    assert!(!text.contains("removing it from the manifest"), "{stderr}");
    assert!(!text.contains("force_destroy"), "{stderr}");
    let (code, stdout, stderr) = project.apply();
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(flat(&stderr).contains("will not delete and re-create it"), "{stderr}");
    assert!(
        !stderr.contains("Destroying") && !stderr.contains("Replacing"),
        "{stderr}"
    );
}

#[test]
fn an_unmanaged_bucket_in_another_region_is_refused_never_replaced() {
    let project = Project::new("region");
    let bucket = common::unique_name("adopt-region");
    project.write(&format!(
        "buckets:\n  logs:\n    name: {bucket}\n    versioning: enabled\n"
    ));
    let rt = common::runtime();
    let aws = rt.block_on(common::emulator());
    rt.block_on(make_bucket(&aws, &bucket, "us-west-2"));

    // Empty: before, s3rec deleted and re-created it.
    assert_region_refused(&project, &bucket);
    assert_eq!(rt.block_on(bucket_region(&aws, &bucket)).as_deref(), Some("us-west-2"));

    // With an object inside: the same error, never the not-empty one.
    rt.block_on(async {
        aws.s3("us-west-2")
            .put_object()
            .bucket(&bucket)
            .key("keep-me.txt")
            .body(b"someone's data".to_vec().into())
            .send()
            .await
            .expect("put object");
    });
    assert_region_refused(&project, &bucket);
    assert_eq!(rt.block_on(bucket_region(&aws, &bucket)).as_deref(), Some("us-west-2"));
    assert!(
        project.state().resources().expect("resources").is_empty(),
        "nothing was recorded"
    );

    // The first way out: the manifest says where the bucket is, and the bucket is adopted.
    project.write(&format!(
        "buckets:\n  logs:\n    name: {bucket}\n    region: us-west-2\n    versioning: enabled\n"
    ));
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("  = bucket.logs\n"), "{text}");
    assert!(text.contains("  ~ bucket.logs.versioning\n"), "{text}");
    project.apply_ok();
    project.assert_converged();
}

#[test]
fn an_unmanaged_role_or_policy_whose_immutable_attributes_differ_is_refused_never_replaced() {
    let p = Project::new(&common::unique_name("iampath"));
    let role = format!("{}-role", p.env);
    let policy = format!("{}-policy", p.env);
    let rt = common::runtime();
    let aws = rt.block_on(common::emulator());
    rt.block_on(async {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        aws.iam()
            .create_role()
            .role_name(&role)
            .assume_role_policy_document(trust)
            .send()
            .await
            .expect("create role");
        let document = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#;
        aws.iam()
            .create_policy()
            .policy_name(&policy)
            .description("made by hand")
            .policy_document(document)
            .send()
            .await
            .expect("create policy");
    });
    p.write(&format!(
        r#"
iam:
  roles:
    worker:
      name: {role}
      path: /svc/
      trust:
        services: [ec2.amazonaws.com]
  policies:
    list:
      name: {policy}
      description: managed by s3rec
      statements:
        - Effect: Allow
          Action: s3:ListAllMyBuckets
          Resource: "*"
"#
    ));
    let (code, stdout, stderr) = p.run(&["plan", "-e", &p.env]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let text = flat(&stderr);
    for needle in [
        &format!("iam_role.worker: IAM role {role} already exists with path /, but the manifest wants /svc/"),
        &format!(
            "iam_policy.list: IAM policy {policy} already exists with description made by hand, but the manifest wants managed by s3rec"
        ),
        "set `description: made by hand` for iam_policy.list in the manifest",
        &format!("remove IAM policy {policy} by hand"),
    ] {
        assert!(says(&text, needle), "missing `{needle}` in:\n{stderr}");
    }
    let (code, stdout, stderr) = p.apply();
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    rt.block_on(async {
        let live = aws
            .iam()
            .get_role()
            .role_name(&role)
            .send()
            .await
            .expect("the role is still there");
        assert_eq!(live.role().map(|r| r.path()), Some("/"));
        let arn = format!("arn:aws:iam::{}:policy/{policy}", common::account_id(&aws).await);
        aws.iam()
            .get_policy()
            .policy_arn(&arn)
            .send()
            .await
            .expect("the policy is still there");
    });
}

/// A user and a topic that exist: the topic, as the manifest wants it, is adopted; the user, whose tags
/// differ, is updated in place by an update that says it adopts. Neither is ever deleted.
#[test]
fn an_unmanaged_user_and_topic_are_adopted_in_place() {
    let p = Project::new(&common::unique_name("idadopt"));
    let user = format!("{}-app", p.env);
    let topic = format!("{}-events", p.env);
    let rt = common::runtime();
    let aws = rt.block_on(common::emulator());
    rt.block_on(async {
        aws.iam()
            .create_user()
            .user_name(&user)
            .send()
            .await
            .expect("create user");
        aws.sns("us-east-1")
            .create_topic()
            .name(&topic)
            .send()
            .await
            .expect("create topic");
    });
    p.write(&format!(
        "\niam:\n  users:\n    app:\n      name: {user}\n      tags:\n        team: data\nsns:\n  topics:\n    events:\n      name: {topic}\n"
    ));
    let (code, text) = p.plan();
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("  = sns_topic.events\n"), "{text}");
    assert!(text.contains("  ~ iam_user.app\n"), "{text}");
    assert!(text.contains("this update adopts it"), "{text}");
    assert!(!text.contains("-/+") && !text.contains("will be destroyed"), "{text}");
    p.apply_ok();
    p.assert_converged();
    let addresses: Vec<String> = p
        .state()
        .resources()
        .expect("resources")
        .into_iter()
        .map(|r| r.address.to_string())
        .collect();
    assert!(
        addresses.contains(&"iam_user.app".to_string()) && addresses.contains(&"sns_topic.events".to_string()),
        "{addresses:?}"
    );
    rt.block_on(async {
        aws.iam()
            .get_user()
            .user_name(&user)
            .send()
            .await
            .expect("the same user");
    });
}

#[test]
fn adoption_is_visible_in_every_format_and_recorded_by_apply() {
    let project = Project::new("visible");
    let bucket = common::unique_name("adopt-visible");
    let rt = common::runtime();
    let aws = rt.block_on(common::emulator());
    rt.block_on(make_bucket(&aws, &bucket, "us-east-1"));

    // As the manifest wants it: only adoptions, which are still changes for --detailed-exitcode.
    project.write(&format!("buckets:\n  legacy:\n    name: {bucket}\n"));
    let (code, text) = project.plan();
    assert_eq!(code, 2, "a plan that adopts has changes:\n{text}");
    assert!(!text.contains("No changes"), "{text}");
    assert!(!text.contains("changes in the state only"), "{text}");
    assert!(text.contains("  # bucket.legacy will be adopted"), "{text}");
    assert!(text.contains("  = bucket.legacy\n"), "{text}");
    assert!(
        text.contains("Plan: 0 to create, 0 to update, 0 to replace, 0 to destroy, 1 to adopt."),
        "{text}"
    );

    // Then drift from the manifest: the adoption is followed by the update it needs.
    project.write(&format!(
        "buckets:\n  legacy:\n    name: {bucket}\n    versioning: enabled\n"
    ));
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    let adopt = text.find("  = bucket.legacy\n").expect("adopt line");
    let update = text.find("  ~ bucket.legacy.versioning\n").expect("update line");
    assert!(adopt < update, "{text}");
    assert!(
        text.contains("1 to update, 0 to replace, 0 to destroy, 1 to adopt."),
        "{text}"
    );

    let (code, json, stderr) = project.run(&["plan", "-e", "visible", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&json).expect("plan JSON");
    assert_eq!(json["summary"]["adopt"], 1, "{json}");
    let actions: Vec<(String, String)> = json["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            ("bucket.legacy".to_string(), "adopt".to_string()),
            ("bucket.legacy.versioning".to_string(), "update".to_string())
        ]
    );
    let (code, markdown, stderr) = project.run(&["plan", "-e", "visible", "--format", "markdown"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        markdown.contains(&format!(
            "| `=` adopt | `bucket.legacy` | existing bucket `{bucket}` in `us-east-1` |"
        )),
        "{markdown}"
    );

    let (code, stdout, stderr) = project.apply();
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Apply complete! 0 created, 1 updated, 0 replaced, 0 destroyed, 1 adopted"),
        "{stdout}"
    );
    let state = project.state();
    let record = state
        .resource(&Address::bucket("legacy"))
        .expect("read state")
        .expect("the adoption is recorded");
    assert_eq!(record.name, bucket);
    let run = state.runs(1).expect("runs").remove(0);
    let journal = state.journal(run.id).expect("journal");
    assert!(
        journal
            .iter()
            .any(|e| e.address == Address::bucket("legacy") && e.action == Action::Adopt),
        "{journal:?}"
    );
    project.assert_converged();
}

/// Defence in depth: a saved plan that would replace a bucket the state does not manage (here written
/// with the library, as a tool or an older s3rec could have) is refused by apply before any AWS call.
#[test]
fn a_saved_plan_that_replaces_a_bucket_not_in_the_state_is_refused() {
    let project = Project::new("forged");
    let managed = common::unique_name("adopt-managed");
    let foreign = common::unique_name("adopt-foreign");
    let rt = common::runtime();
    let aws = rt.block_on(common::emulator());
    rt.block_on(make_bucket(&aws, &foreign, "us-west-2"));
    project.write(&format!("buckets:\n  mine:\n    name: {managed}\n"));
    project.apply_ok();
    project.write(&format!(
        "buckets:\n  mine:\n    name: {managed}\n    versioning: enabled\n"
    ));
    let (code, _, stderr) = project.run(&["plan", "-e", "forged", "--out", "plan.json"]);
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(project.path("plan.json")).expect("plan file");
    let mut plan = s3rec::plan::unseal(&text).expect("a sealed plan");
    let bucket = |region: &str| Value::Bucket {
        name: foreign.clone(),
        region: region.to_string(),
    };
    plan.changes.push(Change {
        irreversible: None,
        cause: None,
        address: Address::bucket("foreign"),
        action: Action::Replace,
        resource: Resource::Bucket {
            logical: "foreign".into(),
            name: foreign.clone(),
            region: "us-east-1".into(),
            current_region: Some("us-west-2".into()),
            force_destroy: true,
            prevent_destroy: false,
        },
        before: Some(bucket("us-west-2")),
        after: Some(bucket("us-east-1")),
        reason: None,
    });
    std::fs::write(project.path("plan.json"), s3rec::plan::seal(&plan)).expect("write plan");
    let runs_before = project.state().runs(10).expect("runs").len();

    let (code, stdout, stderr) = project.run(&["apply", "plan.json"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let text = flat(&stderr);
    assert!(
        text.contains("the plan would replace bucket.foreign, but the state does not manage it"),
        "{stderr}"
    );
    assert!(text.contains("nothing was applied"), "{stderr}");
    assert_eq!(rt.block_on(bucket_region(&aws, &foreign)).as_deref(), Some("us-west-2"));
    assert_eq!(
        project.state().runs(10).expect("runs").len(),
        runs_before,
        "no run was recorded"
    );
    let versioning = project
        .state()
        .resource(&Address("bucket.mine.versioning".into()))
        .expect("state");
    assert!(versioning.is_none(), "nothing of the plan ran");
}

/// Real S3 answers 403 about a bucket whose name another account holds; the emulator cannot, so the
/// fault proxy answers the bucket's location request (and HeadBucket) with AccessDenied.
#[test]
fn a_bucket_name_held_by_another_account_is_refused_at_plan_time() {
    let bucket = common::unique_name("adopt-theirs");
    let pattern = format!("^(HEAD /{bucket}/?\n|GET /{bucket}/?\\?location)");
    let proxy = FaultProxy::start(&["--match", &pattern, "--rate", "1", "--faults", "forbidden"]);
    let mut project = Project::new("theirs");
    project.endpoint = proxy.endpoint.clone();
    project.write(&format!("buckets:\n  data:\n    name: {bucket}\n"));
    let (code, stdout, stderr) = project.run(&["plan", "-e", "theirs"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let text = flat(&stderr);
    for needle in [
        &format!("bucket {bucket} exists but is owned by another AWS account or denies you s3:GetBucketLocation"),
        "choose another `name` for it in the manifest (bucket names are global)",
        "(AWS said: Access Denied)",
    ] {
        assert!(says(&text, needle), "missing `{needle}` in:\n{stderr}");
    }
    assert!(proxy.faults_injected() >= 1, "{:?}", proxy.requests());
    let (code, stdout, stderr) = project.apply();
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        !proxy.requests().iter().any(|(op, _)| op.starts_with("PUT ")),
        "nothing was written: {:?}",
        proxy.requests()
    );
}

/// Real S3 answers CreateBucket for a name another account holds with 409 BucketAlreadyExists (the
/// location request says the name is free when the other account's bucket is in another partition or was
/// created in between); the fault proxy answers the create so.
#[test]
fn a_bucket_name_taken_globally_fails_the_create_clearly() {
    let bucket = common::unique_name("adopt-taken");
    let pattern = format!("^PUT /{bucket}/?\n");
    let proxy = FaultProxy::start(&["--match", &pattern, "--rate", "1", "--faults", "bucket-taken"]);
    let mut project = Project::new("taken");
    project.endpoint = proxy.endpoint.clone();
    project.write(&format!(
        "buckets:\n  data:\n    name: {bucket}\n    versioning: enabled\n"
    ));
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    let (code, stdout, stderr) = project.apply();
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let all = flat(&format!("{stdout}\n{stderr}"));
    for needle in [
        &format!("CreateBucket on arn:aws:s3:::{bucket} failed (BucketAlreadyExists, HTTP 409)"),
        "bucket names are global across all AWS accounts and this one is taken: choose another `name`",
        "bucket.data.versioning: skipped because bucket.data failed",
    ] {
        assert!(says(&all, needle), "missing `{needle}` in:\n{stdout}\n{stderr}");
    }
    assert!(proxy.faults_injected() >= 1, "{:?}", proxy.requests());
    assert!(project.state().resources().expect("resources").is_empty());
}
