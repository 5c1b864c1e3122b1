//! The real binary on real files: exit codes, discovery, output formats, and a snapshot of what a person
//! sees for a manifest with several mistakes.

use std::path::Path;

use assert_cmd::Command;

const BAD: &str = "\
# yaml-language-server: $schema=../schemas/manifest.schema.json
environment: bad
buckets:
  logs:
    name: App_Logs-${env}
    versoning: enabled
    lifecycle:
      - id: tiering
        transitions:
          - {days: 10, storage_class: STANDARD_IA}
  web:
    name: web-${env}
    logging:
      target_bucket: log
";

const GOOD: &str = "environment: good\nbuckets:\n  logs:\n    name: logs-${env}\n    versioning: enabled\n";

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

fn s3rec(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("s3rec").expect("binary");
    cmd.current_dir(dir).env("NO_COLOR", "1").env_remove("RUST_LOG");
    cmd
}

fn stderr_of(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("run s3rec");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn several_mistakes_are_all_reported_with_locations() {
    let dir = project(&[("environments/bad.yaml", BAD)]);
    let (code, stdout, stderr) = stderr_of(s3rec(dir.path()).args(["validate", "-e", "bad"]));
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        stdout, "environments/bad.yaml: invalid (4 errors, 0 warnings)\n",
        "diagnostics go to stderr, the verdict to stdout"
    );
    for located in [
        "environments/bad.yaml:5:11",
        "environments/bad.yaml:6:5",
        "environments/bad.yaml:10:20",
        "environments/bad.yaml:14:22",
    ] {
        assert!(stderr.contains(located), "missing {located} in:\n{stderr}");
    }
    insta::assert_snapshot!("validate_bad_text", stderr);
}

#[test]
fn a_valid_environment_exits_zero() {
    let dir = project(&[("environments/good.yaml", GOOD)]);
    let (code, stdout, stderr) = stderr_of(s3rec(dir.path()).args(["validate", "-e", "good"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout, "environments/good.yaml: valid (0 errors, 0 warnings)\n",
        "{stderr}"
    );
}

#[test]
fn environment_is_found_from_a_subdirectory_and_with_chdir() {
    let dir = project(&[("environments/good.yaml", GOOD), ("deep/er/.keep", "")]);
    let (code, _, stderr) = stderr_of(s3rec(&dir.path().join("deep/er")).args(["validate", "-e", "good"]));
    assert_eq!(code, 0, "{stderr}");
    let outside = tempfile::tempdir().expect("tempdir");
    let chdir = dir.path().to_str().expect("utf-8 path");
    let (code, _, stderr) = stderr_of(s3rec(outside.path()).args(["--chdir", chdir, "validate", "-e", "good"]));
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn unknown_environment_lists_the_known_ones() {
    let dir = project(&[
        ("environments/good.yaml", GOOD),
        ("environments/_base.yaml", "defaults: {}\n"),
    ]);
    let (code, _, stderr) = stderr_of(s3rec(dir.path()).args(["validate", "-e", "prod"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("environment `prod` not found"), "{stderr}");
    assert!(stderr.contains("available environments: good"), "{stderr}");
}

#[test]
fn no_environments_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, _, stderr) = stderr_of(s3rec(dir.path()).args(["validate", "-e", "prod"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("no `environments/` directory"), "{stderr}");
    assert!(stderr.contains("--chdir"), "{stderr}");
}

#[test]
fn all_validates_every_environment_but_not_bases() {
    let dir = project(&[
        ("environments/_base.yaml", "defaults:\n  versioning: enabled\n"),
        ("environments/good.yaml", "environment: good\nextends: _base.yaml\n"),
        ("environments/bad.yaml", BAD),
    ]);
    let (code, stdout, stderr) = stderr_of(s3rec(dir.path()).args(["validate", "--all"]));
    assert_eq!(code, 1);
    assert!(stdout.contains("environments/good.yaml: valid"), "{stdout}");
    assert!(stdout.contains("environments/bad.yaml: invalid"), "{stdout}");
    assert!(
        !stdout.contains("_base.yaml:") && !stderr.contains("_base.yaml:"),
        "{stdout}\n{stderr}"
    );
}

#[test]
fn json_format_is_data_on_stdout() {
    let dir = project(&[("environments/bad.yaml", BAD)]);
    let (code, stdout, _) = stderr_of(s3rec(dir.path()).args(["validate", "-e", "bad", "--format", "json"]));
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("json on stdout");
    assert_eq!(report["format_version"], 1);
    assert_eq!(report["valid"], false);
    let problems = report["files"][0]["problems"].as_array().expect("problems");
    let unknown = problems
        .iter()
        .find(|p| p["code"] == "unknown-field")
        .expect("unknown-field");
    assert_eq!(unknown["file"], "environments/bad.yaml");
    assert_eq!(unknown["line"], 6);
    assert_eq!(unknown["column"], 5);
    assert_eq!(unknown["end_column"], 14);
    assert_eq!(unknown["pointer"], "/buckets/logs/versoning");
    assert_eq!(unknown["hint"], "did you mean `versioning`?");
    insta::assert_json_snapshot!("validate_bad_json", report);
}

#[test]
fn github_format_annotates_lines() {
    let dir = project(&[("environments/bad.yaml", BAD)]);
    let (code, stdout, _) = stderr_of(s3rec(dir.path()).args(["validate", "-e", "bad", "--format", "github"]));
    assert_eq!(code, 1);
    assert!(
        stdout.contains("::error file=environments/bad.yaml,line=6,col=5,endColumn=14,title=s3rec unknown-field::unknown field `versoning`"),
        "{stdout}"
    );
}

#[test]
fn files_can_be_named_directly_and_warnings_can_be_denied() {
    let dotted = "environment: x\nbuckets:\n  a:\n    name: my.dotted.bucket\n";
    let dir = project(&[("examples/dotted.yaml", dotted)]);
    let (code, stdout, stderr) = stderr_of(s3rec(dir.path()).args(["validate", "examples/dotted.yaml"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("(0 errors, 1 warning)"), "{stdout}");
    let (code, _, _) = stderr_of(s3rec(dir.path()).args(["validate", "--deny-warnings", "examples/dotted.yaml"]));
    assert_eq!(code, 1);
}

#[test]
fn nothing_to_validate_is_an_error_with_a_hint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, _, stderr) = stderr_of(s3rec(dir.path()).arg("validate"));
    assert_eq!(code, 1);
    assert!(stderr.contains("-e ENV, --all, or manifest files"), "{stderr}");
}

#[test]
fn the_projects_own_environments_and_examples_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (code, _, stderr) = stderr_of(s3rec(root).args(["validate", "--all", "--deny-warnings"]));
    assert_eq!(code, 0, "{stderr}");
    let mut examples: Vec<String> = std::fs::read_dir(root.join("examples"))
        .expect("examples/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| p.strip_prefix(root).expect("inside").display().to_string())
        .collect();
    examples.sort();
    assert!(examples.len() >= 5, "{examples:?}");
    let (code, _, stderr) = stderr_of(s3rec(root).arg("validate").arg("--deny-warnings").args(&examples));
    assert_eq!(code, 0, "{stderr}");
}
