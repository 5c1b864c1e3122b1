//! The committed JSON Schema is exactly what the types generate, and every environment file carries the
//! modeline that points editors at it.

use std::path::Path;

use assert_cmd::Command;

#[test]
fn committed_schema_matches_the_types() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let committed =
        std::fs::read_to_string(root.join("schemas/manifest.schema.json")).expect("schemas/manifest.schema.json");
    let generated = s3rec::manifest::schema::manifest_schema_text();
    assert!(
        committed == generated,
        "schemas/manifest.schema.json is stale: run `cargo run -- schema --out schemas/manifest.schema.json` and commit it"
    );
}

#[test]
fn schema_command_prints_and_checks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::cargo_bin("s3rec")
        .expect("binary")
        .arg("schema")
        .output()
        .expect("run");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        s3rec::manifest::schema::manifest_schema_text()
    );
    Command::cargo_bin("s3rec")
        .expect("binary")
        .current_dir(root)
        .args(["schema", "--check", "schemas/manifest.schema.json"])
        .assert()
        .success();
    let stale = tempfile::NamedTempFile::new().expect("temp");
    std::fs::write(stale.path(), "{}\n").expect("write");
    Command::cargo_bin("s3rec")
        .expect("binary")
        .args(["schema", "--check"])
        .arg(stale.path())
        .assert()
        .code(1)
        .stderr(predicates::str::contains("is stale"));
}

#[test]
fn environment_files_carry_the_schema_modeline() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["environments", "examples"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("dir").filter_map(Result::ok) {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read");
            assert!(
                text.starts_with("# yaml-language-server: $schema=../schemas/manifest.schema.json\n"),
                "{} lacks the schema modeline on its first line",
                path.display()
            );
        }
    }
}

#[test]
fn every_manifest_validates_against_the_schema_with_an_independent_validator() {
    // The committed schema must accept every project manifest on its own, as editors and CI tools that
    // know nothing of s3rec will use it.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("schemas/manifest.schema.json")).expect("read"))
            .expect("json");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    for dir in ["environments", "examples"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("dir").filter_map(Result::ok) {
            let path = entry.path();
            let is_base = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('_'));
            if path.extension().is_none_or(|e| e != "yaml") || is_base {
                continue;
            }
            let loaded = s3rec::manifest::load(&path);
            let errors: Vec<String> = validator.iter_errors(&loaded.document).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        }
    }
}
