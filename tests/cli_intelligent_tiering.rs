//! Intelligent-Tiering configurations with the real binary. moto 5.1.22 does not implement them: it
//! answers ListBucketIntelligentTieringConfigurations with an object listing (`ListBucketResult`), the
//! put with CreateBucket and the delete with DeleteBucket (see docs/testing.md). So these tests prove
//! that plan is unaffected against such a server when the manifest leaves the setting out, that it
//! fails with an error naming the endpoint when the manifest manages it (and writes nothing), and the
//! validation of the section. The SDK conversions, canonical form, writes and checks are unit tests in
//! `src/aws/kinds/intelligent_tiering.rs` and `src/model/kinds/intelligent_tiering.rs`.

mod common;
#[path = "common/project.rs"]
mod project;

use project::Project;

fn flat(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn plan_against_a_server_without_intelligent_tiering_is_unaffected_unless_the_manifest_manages_it() {
    let project = Project::new("itmoto");
    let name = common::unique_name("itmoto");
    project.write(&format!(
        "buckets:\n  data:\n    name: {name}\n    versioning: enabled\n"
    ));

    // Without the section: create, then an empty second plan, with no word about the setting.
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    assert!(!text.contains("intelligent_tiering"), "{text}");
    project.apply_ok();
    let (code, stdout, stderr) = project.run(&["plan", "-e", "itmoto", "--detailed-exitcode"]);
    assert_eq!(code, 0, "expected an empty plan:\n{stdout}\n{stderr}");
    assert!(stdout.contains("No changes."), "{stdout}");
    assert!(
        !stderr.contains("intelligent"),
        "the unsupported read is not a warning:\n{stderr}"
    );

    // With the section: the plan fails, naming the operation, the endpoint and the way out.
    project.write(&format!(
        "buckets:
  data:
    name: {name}
    versioning: enabled
    intelligent_tiering:
      - id: archive
        tierings: [{{ access_tier: ARCHIVE_ACCESS, days: 90 }}]
"
    ));
    let (code, stdout, stderr) = project.run(&["plan", "-e", "itmoto", "--detailed-exitcode"]);
    assert_eq!(
        code, 1,
        "a managed setting the server lacks fails the plan:\n{stdout}\n{stderr}"
    );
    let text = flat(&stderr);
    for expected in [
        "does not implement ListBucketIntelligentTieringConfigurations",
        project.endpoint.as_str(),
        "`ListBucketResult`",
        &name,
        "leave it out of the manifest",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{stderr}");
    }
    // Apply refuses the same way, before any write: the bucket (which moto's DeleteBucket would remove)
    // is still there, and the section left out again gives an empty plan.
    let (code, stdout, stderr) = project.apply();
    assert_ne!(code, 0, "{stdout}\n{stderr}");
    project.write(&format!(
        "buckets:\n  data:\n    name: {name}\n    versioning: enabled\n"
    ));
    project.assert_converged();
}

#[test]
fn intelligent_tiering_mistakes_are_reported_with_their_place_and_the_way_out() {
    let project = Project::new("itbad");
    project.write(
        "buckets:
  data:
    name: itbad-data
    intelligent_tiering:
      - id: a
        tierings:
          - { access_tier: ARCHIVE_ACCESS, days: 200 }
          - { access_tier: DEEP_ARCHIVE_ACCESS, days: 150 }
          - { access_tier: ARCHIVE_ACCESS, days: 300 }
      - id: a
        tierings: []
",
    );
    let (code, _stdout, stderr) = project.run(&["validate", "-e", "itbad"]);
    assert_eq!(code, 1, "{stderr}");
    let text = flat(&stderr);
    for expected in [
        "environments/itbad.yaml:13:",
        "DEEP_ARCHIVE_ACCESS after 150 days is outside S3's range of 180 to 730 days",
        "set `days` of DEEP_ARCHIVE_ACCESS between 180 and 730",
        "DEEP_ARCHIVE_ACCESS after 150 days must come after ARCHIVE_ACCESS (200 days)",
        "environments/itbad.yaml:14:",
        "configuration `a` names ARCHIVE_ACCESS twice",
        "environments/itbad.yaml:15:13",
        "intelligent-tiering ID `a` is already used by configuration 0",
        "environments/itbad.yaml:16:",
        "intelligent-tiering configuration `a` has no tiering",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{stderr}");
    }

    // Days outside every tier's range are refused by the schema, at the value.
    project.write(
        "buckets:
  data:
    name: itbad-data
    intelligent_tiering:
      - id: a
        tierings: [{ access_tier: ARCHIVE_ACCESS, days: 30 }]
",
    );
    let (code, _stdout, stderr) = project.run(&["validate", "-e", "itbad"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(flat(&stderr).contains("environments/itbad.yaml:11:"), "{stderr}");
}
