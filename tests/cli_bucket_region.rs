//! How `plan` finds each bucket's region: from ListBuckets' `BucketRegion` when the answer carries it
//! (AWS since late 2024), with one GetBucketLocation per bucket otherwise. moto 5.1.22 does not send
//! `BucketRegion`, so the present path goes through the fault proxy's `--bucket-region`, which adds it.

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;
#[path = "common/project.rs"]
mod project;

use fault_proxy::FaultProxy;
use project::Project;

/// How many documents plan reads per bucket: all of them, managed or not (one per document kind).
const DOCUMENTS: usize = s3rec::model::DocKind::ALL.len();

/// Two buckets with two managed documents each (versioning, tags).
fn manifest(env: &str) -> String {
    format!(
        "buckets:\n  a:\n    name: {env}-a\n    versioning: enabled\n    tags:\n      team: data\n  \
         b:\n    name: {env}-b\n    versioning: enabled\n    tags:\n      team: data\n"
    )
}

/// Applies the manifest directly, then runs a no-op plan through a proxy started with `args`; returns
/// the proxy's request log of that plan.
fn no_op_plan_through(args: &[&str], prefix: &str) -> (Project, Vec<String>) {
    let mut p = Project::new(&common::unique_name(prefix));
    p.write(&manifest(&p.env));
    p.apply_ok();
    let proxy = FaultProxy::start(args);
    p.endpoint = proxy.endpoint.clone();
    p.write(&manifest(&p.env));
    let (code, stdout, stderr) = p.run(&["plan", "-e", &p.env, "--detailed-exitcode"]);
    assert_eq!(code, 0, "the second plan is not empty:\n{stdout}\n{stderr}");
    let requests = proxy.requests().into_iter().map(|(op, _)| op).collect();
    (p, requests)
}

/// Requests whose path is one of the project's buckets (location and document reads).
fn bucket_requests(p: &Project, requests: &[String]) -> usize {
    let a = format!("GET /{}-a", p.env);
    let b = format!("GET /{}-b", p.env);
    requests
        .iter()
        .map(|r| r.trim_end_matches('/'))
        .filter(|r| *r == a || *r == b)
        .count()
}

#[test]
fn with_bucket_region_in_the_listing_plan_makes_no_location_call() {
    let (p, requests) = no_op_plan_through(&["--bucket-region", "us-east-1"], "region-listed");
    assert_eq!(
        requests.iter().filter(|r| *r == "GET /").count(),
        1,
        "one ListBuckets page: {requests:?}"
    );
    // Every document of each bucket (plan judges the ones the manifest leaves out too), nothing else.
    assert_eq!(bucket_requests(&p, &requests), 2 * DOCUMENTS, "{requests:?}");
}

#[test]
fn without_bucket_region_plan_locates_each_bucket() {
    let (p, requests) = no_op_plan_through(&[], "region-located");
    assert_eq!(requests.iter().filter(|r| *r == "GET /").count(), 1, "{requests:?}");
    // One GetBucketLocation and every document per bucket.
    assert_eq!(bucket_requests(&p, &requests), 2 * (1 + DOCUMENTS), "{requests:?}");
}
