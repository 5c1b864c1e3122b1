//! Static website hosting end to end against the emulator: an index document from nothing, an update
//! to routing rules, then to redirect-all, drift made with another client reverted, an empty second
//! plan each time, `website: {}` deleting the configuration; and serving plus redirecting refused.

mod common;
#[path = "common/project.rs"]
mod project;

use aws_sdk_s3::types::{IndexDocument, WebsiteConfiguration};
use common::flat;
use project::Project;

fn manifest(env: &str, website: &str) -> String {
    format!("buckets:\n  site:\n    name: {env}-site\n    website:\n{website}")
}

/// The live configuration as `(index suffix, error key, redirect-all host, routing rule count)`.
type Live = (Option<String>, Option<String>, Option<String>, usize);

/// The live configuration, or `None` when the bucket has no website configuration.
fn live(bucket: &str) -> Option<Live> {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let out = aws.s3("us-east-1").get_bucket_website().bucket(bucket).send().await;
        match out {
            Ok(out) => Some((
                out.index_document().map(|i| i.suffix().to_string()),
                out.error_document().map(|e| e.key().to_string()),
                out.redirect_all_requests_to().map(|r| r.host_name().to_string()),
                out.routing_rules().len(),
            )),
            Err(e) => {
                let code = e.as_service_error().and_then(|e| e.meta().code()).map(str::to_string);
                assert_eq!(code.as_deref(), Some("NoSuchWebsiteConfiguration"), "{e:?}");
                None
            }
        }
    })
}

#[test]
fn website_is_created_updated_drift_reverted_and_deleted() {
    let project = Project::new(&common::unique_name("web"));
    let bucket = format!("{}-site", project.env);

    project.write(&manifest(
        &project.env,
        "      index_document: index.html\n      error_document: 404.html\n",
    ));
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("bucket.site.website will be created"), "{text}");
    project.apply_ok();
    assert_eq!(
        live(&bucket),
        Some((Some("index.html".into()), Some("404.html".into()), None, 0))
    );
    project.assert_converged();

    // Routing rules: both conditions, every redirect field but the key replacement.
    project.write(&manifest(
        &project.env,
        "      index_document: index.html\n      error_document: 404.html\n      routing_rules:\n        - condition: {key_prefix_equals: docs/}\n          redirect: {replace_key_prefix_with: documents/, protocol: https, host_name: example.com, http_redirect_code: 302}\n        - condition: {http_error_code_returned_equals: 404}\n          redirect: {replace_key_with: missing.html}\n",
    ));
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("bucket.site.website will be updated in-place"), "{text}");
    project.apply_ok();
    assert_eq!(
        live(&bucket),
        Some((Some("index.html".into()), Some("404.html".into()), None, 2))
    );
    project.assert_converged();

    // `s3rec import` writes the section back (into another environment, which does not manage it).
    let other = Project::new(&common::unique_name("webimp"));
    other.write("");
    let (code, yaml, stderr) = other.run(&["import", "-e", &other.env, &bucket]);
    assert_eq!(code, 0, "{stderr}");
    for want in [
        "website:",
        "index_document",
        "404.html",
        "key_prefix_equals",
        "documents/",
        "http_error_code_returned_equals: 404",
        "http_redirect_code: 302",
        "protocol: https",
        "replace_key_with",
    ] {
        assert!(yaml.contains(want), "{want} missing from\n{yaml}");
    }

    // Redirect every request instead.
    project.write(&manifest(
        &project.env,
        "      redirect_all_requests_to: {host_name: www.example.com, protocol: https}\n",
    ));
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("bucket.site.website will be updated in-place"), "{text}");
    project.apply_ok();
    assert_eq!(live(&bucket), Some((None, None, Some("www.example.com".into()), 0)));
    project.assert_converged();

    // Drift made with another client is shown and reverted.
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.s3("us-east-1")
            .put_bucket_website()
            .bucket(&bucket)
            .website_configuration(
                WebsiteConfiguration::builder()
                    .index_document(IndexDocument::builder().suffix("other.html").build().expect("suffix"))
                    .build(),
            )
            .send()
            .await
            .expect("drift the website configuration");
    });
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("bucket.site.website will be updated in-place"), "{text}");
    project.apply_ok();
    assert_eq!(live(&bucket), Some((None, None, Some("www.example.com".into()), 0)));
    project.assert_converged();

    // `website: {}` manages "no website": the configuration is deleted.
    project.write(&format!(
        "buckets:\n  site:\n    name: {}-site\n    website: {{}}\n",
        project.env
    ));
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("bucket.site.website"), "{text}");
    project.apply_ok();
    assert_eq!(live(&bucket), None);
    project.assert_converged();
}

#[test]
fn serving_and_redirecting_at_once_is_refused_with_place_and_hint() {
    let project = Project::new(&common::unique_name("webboth"));
    project.write(&manifest(
        &project.env,
        "      index_document: index.html\n      redirect_all_requests_to: {host_name: example.com}\n",
    ));
    let (code, stdout, stderr) = project.run(&["validate", "-e", &project.env]);
    assert_ne!(code, 0, "{stdout}\n{stderr}");
    let out = flat(&format!("{stdout}\n{stderr}"));
    assert!(
        out.contains("`website.redirect_all_requests_to` excludes `index_document`"),
        "{out}"
    );
    assert!(
        out.contains("keep either `redirect_all_requests_to` or `index_document`"),
        "{out}"
    );
    // Line 11: the `redirect_all_requests_to` key, after the five lines of the `aws` header.
    assert!(out.contains(&format!("{}.yaml:11:", project.env)), "{out}");
}
