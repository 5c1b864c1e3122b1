//! One failing manifest per validation rule: each test pins the rule's code, the reported line and
//! column, and the words of the message, so a rule cannot silently stop firing or drift off its spot.

mod common;

use std::path::Path;

use s3rec::manifest::{Severity, load};

/// Loads `yaml` as `test.yaml` outside any `environments/` directory (so `environment:` alone names it)
/// and returns `(code, line, column, message, hint)` of each problem.
fn problems(yaml: &str) -> Vec<(String, usize, usize, String, String)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("test.yaml");
    std::fs::write(&path, yaml).expect("write manifest");
    problems_at(&path)
}

fn problems_at(path: &Path) -> Vec<(String, usize, usize, String, String)> {
    common::located_problems(&load(path))
}

/// Asserts exactly one problem with this code at this line and column whose message contains `words`.
#[track_caller]
fn expect_one(yaml: &str, code: &str, line: usize, col: usize, words: &str) {
    let found = problems(yaml);
    let matching: Vec<_> = found.iter().filter(|p| p.0 == code).collect();
    assert_eq!(matching.len(), 1, "expected one `{code}` problem, got {found:#?}");
    let (_, l, c, message, _) = matching[0];
    assert_eq!((*l, *c), (line, col), "position of `{code}`: {message}");
    assert!(message.contains(words), "message {message:?} lacks {words:?}");
}

const HEAD: &str = "environment: test\n";

#[test]
fn a_valid_manifest_has_no_problems() {
    let yaml = format!(
        "{HEAD}buckets:\n  logs:\n    name: logs-${{env}}\n    versioning: enabled\n    lifecycle:\n      - id: tier\n        transitions:\n          - {{days: 30, storage_class: STANDARD_IA}}\n          - {{days: 90, storage_class: GLACIER}}\n        expiration: {{days: 365}}\n"
    );
    assert_eq!(problems(&yaml), vec![]);
}

#[test]
fn yaml_syntax_error() {
    let found = problems("environment: test\nbuckets: [a, b\n");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "yaml");
    assert_eq!(found[0].1, 3);
}

#[test]
fn duplicate_yaml_key() {
    expect_one(
        "environment: test\nbuckets: {}\nbuckets: {}\n",
        "yaml",
        3,
        1,
        "duplicate key `buckets`",
    );
}

#[test]
fn unknown_field_suggests_the_closest_name() {
    let yaml = format!("{HEAD}buckets:\n  logs:\n    name: logs-test\n    versoning: enabled\n");
    expect_one(&yaml, "unknown-field", 5, 5, "unknown field `versoning`");
    let found = problems(&yaml);
    assert!(found[0].4.contains("did you mean `versioning`?"), "{found:?}");
}

#[test]
fn unknown_top_level_section() {
    expect_one(
        &format!("{HEAD}bucket: {{}}\n"),
        "unknown-field",
        2,
        1,
        "unknown field `bucket`",
    );
}

#[test]
fn missing_required_field() {
    expect_one(
        &format!("{HEAD}buckets:\n  logs:\n    region: eu-west-1\n"),
        "missing-field",
        3,
        3,
        "missing required field `name`",
    );
}

#[test]
fn wrong_type_with_yaml11_boolean_hint() {
    let yaml = format!("{HEAD}buckets:\n  logs:\n    name: logs-test\n    force_destroy: yes\n");
    expect_one(&yaml, "wrong-type", 5, 20, "`force_destroy` must be a boolean");
    assert!(problems(&yaml)[0].4.contains("true"));
}

#[test]
fn invalid_enum_value_suggests() {
    let yaml = format!("{HEAD}buckets:\n  logs:\n    name: logs-test\n    versioning: enable\n");
    expect_one(&yaml, "invalid-value", 5, 17, "`versioning` cannot be `enable`");
    assert!(problems(&yaml)[0].4.contains("did you mean `enabled`?"));
}

#[test]
fn bucket_name_too_short() {
    expect_one(
        &format!("{HEAD}buckets:\n  a:\n    name: ab\n"),
        "bucket-name",
        4,
        11,
        "3 to 63",
    );
}

#[test]
fn bucket_name_too_long_after_interpolation() {
    let name = format!("{}-${{env}}", "a".repeat(60));
    expect_one(
        &format!("{HEAD}buckets:\n  a:\n    name: {name}\n"),
        "bucket-name",
        4,
        11,
        "is 65 characters long",
    );
}

#[test]
fn bucket_name_uppercase() {
    expect_one(
        &format!("{HEAD}buckets:\n  a:\n    name: MyLogs\n"),
        "bucket-name",
        4,
        11,
        "uppercase",
    );
}

#[test]
fn a_bad_bucket_name_is_one_problem_whose_hint_is_a_valid_name() {
    let yaml = format!("{HEAD}buckets:\n  archive:\n    name: Acme_Archive..Bucket\n");
    expect_one(
        &yaml,
        "bucket-name",
        4,
        11,
        "`Acme_Archive..Bucket` has uppercase letters; contains `_`; has adjacent periods",
    );
    let found = problems(&yaml);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].4.ends_with("for example `acme-archive.bucket`"),
        "{}",
        found[0].4
    );
}

#[test]
fn no_hint_proposes_a_name_that_is_still_invalid() {
    let yaml = format!("{HEAD}buckets:\n  a:\n    name: A_\n");
    expect_one(&yaml, "bucket-name", 4, 11, "`A_` is 2 characters long");
    let hint = &problems(&yaml)[0].4;
    assert!(!hint.contains("for example"), "{hint}");
}

#[test]
fn bucket_name_double_dot() {
    expect_one(
        &format!("{HEAD}buckets:\n  a:\n    name: my..logs\n"),
        "bucket-name",
        4,
        11,
        "adjacent periods",
    );
}

#[test]
fn bucket_name_ip_shaped() {
    expect_one(
        &format!("{HEAD}buckets:\n  a:\n    name: 10.0.0.1\n"),
        "bucket-name",
        4,
        11,
        "IP address",
    );
}

#[test]
fn bucket_name_reserved_prefix() {
    expect_one(
        &format!("{HEAD}buckets:\n  a:\n    name: xn--logs\n"),
        "bucket-name",
        4,
        11,
        "reserved prefix `xn--`",
    );
}

#[test]
fn bucket_name_reserved_suffix() {
    expect_one(
        &format!("{HEAD}buckets:\n  a:\n    name: logs-s3alias\n"),
        "bucket-name",
        4,
        11,
        "reserved suffix `-s3alias`",
    );
}

#[test]
fn duplicate_physical_bucket_names() {
    let yaml = format!("{HEAD}buckets:\n  a:\n    name: shared-${{env}}\n  b:\n    name: shared-test\n");
    expect_one(&yaml, "duplicate-name", 6, 11, "already used by bucket `a`");
}

fn lifecycle(transitions: &str, expiration: &str) -> String {
    format!(
        "{HEAD}buckets:\n  a:\n    name: logs-test\n    lifecycle:\n      - id: r1\n        transitions:\n{transitions}{expiration}"
    )
}

#[test]
fn lifecycle_ia_minimum_days() {
    let yaml = lifecycle("          - days: 10\n            storage_class: STANDARD_IA\n", "");
    expect_one(
        &yaml,
        "lifecycle-minimum",
        8,
        19,
        "STANDARD_IA at day 10: S3 requires at least 30 days",
    );
}

#[test]
fn lifecycle_onezone_ia_minimum_days() {
    let yaml = lifecycle("          - days: 29\n            storage_class: ONEZONE_IA\n", "");
    expect_one(&yaml, "lifecycle-minimum", 8, 19, "ONEZONE_IA at day 29");
}

#[test]
fn lifecycle_transitions_in_increasing_days() {
    let yaml = lifecycle(
        "          - days: 90\n            storage_class: GLACIER\n          - days: 60\n            storage_class: DEEP_ARCHIVE\n",
        "",
    );
    expect_one(
        &yaml,
        "lifecycle-order",
        10,
        19,
        "DEEP_ARCHIVE at day 60 is not after the previous transition",
    );
}

#[test]
fn lifecycle_thirty_days_in_ia_before_leaving() {
    let yaml = lifecycle(
        "          - days: 30\n            storage_class: STANDARD_IA\n          - days: 45\n            storage_class: GLACIER\n",
        "",
    );
    expect_one(&yaml, "lifecycle-minimum", 10, 19, "only 15 days in STANDARD_IA");
}

#[test]
fn lifecycle_waterfall_order() {
    let yaml = lifecycle(
        "          - days: 30\n            storage_class: GLACIER\n          - days: 90\n            storage_class: STANDARD_IA\n",
        "",
    );
    expect_one(
        &yaml,
        "lifecycle-order",
        11,
        28,
        "goes back up the storage-class waterfall",
    );
}

#[test]
fn lifecycle_expiration_after_last_transition() {
    let yaml = lifecycle(
        "          - days: 30\n            storage_class: STANDARD_IA\n",
        "        expiration:\n          days: 20\n",
    );
    expect_one(
        &yaml,
        "lifecycle-order",
        11,
        17,
        "expiration at day 20 is not after the last transition",
    );
}

#[test]
fn lifecycle_duplicate_rule_ids() {
    let yaml = format!(
        "{HEAD}buckets:\n  a:\n    name: logs-test\n    lifecycle:\n      - id: r1\n        expiration: {{days: 5}}\n      - id: r1\n        expiration: {{days: 9}}\n"
    );
    expect_one(
        &yaml,
        "duplicate-rule-id",
        8,
        13,
        "lifecycle rule ID `r1` is already used by rule 0",
    );
}

#[test]
fn lifecycle_rule_without_action() {
    let yaml = format!("{HEAD}buckets:\n  a:\n    name: logs-test\n    lifecycle:\n      - id: r1\n");
    expect_one(&yaml, "lifecycle", 6, 9, "has no action");
}

fn bucket_policy(statement: &str) -> String {
    format!("{HEAD}buckets:\n  a:\n    name: logs-test\n    policy:\n      statements:\n{statement}")
}

#[test]
fn policy_unknown_service_prefix() {
    let yaml = bucket_policy(
        "        - Effect: Allow\n          Principal: \"*\"\n          Action: s33:GetObject\n          Resource: arn:aws:s3:::logs-test/*\n",
    );
    expect_one(&yaml, "policy-action", 9, 19, "unknown service prefix `s33:`");
}

#[test]
fn policy_unknown_s3_action_verb() {
    let yaml = bucket_policy(
        "        - Effect: Allow\n          Principal: \"*\"\n          Action: [s3:GetObject, s3:ReadObject]\n          Resource: arn:aws:s3:::logs-test/*\n",
    );
    expect_one(&yaml, "policy-action", 9, 34, "`s3:ReadObject` is not an s3 action");
}

#[test]
fn policy_statement_without_action() {
    let yaml = bucket_policy(
        "        - Effect: Allow\n          Principal: \"*\"\n          Resource: arn:aws:s3:::logs-test/*\n",
    );
    expect_one(&yaml, "policy-statement", 7, 11, "statement has no `Action`");
}

#[test]
fn policy_effect_must_be_allow_or_deny() {
    let yaml = bucket_policy(
        "        - Effect: Permit\n          Principal: \"*\"\n          Action: s3:GetObject\n          Resource: arn:aws:s3:::logs-test/*\n",
    );
    expect_one(&yaml, "invalid-value", 7, 19, "`Effect` cannot be `Permit`");
}

#[test]
fn bucket_policy_needs_a_principal() {
    let yaml = bucket_policy(
        "        - Effect: Allow\n          Action: s3:GetObject\n          Resource: arn:aws:s3:::logs-test/*\n",
    );
    expect_one(&yaml, "policy-statement", 7, 11, "statement has no `Principal`");
}

#[test]
fn bucket_policy_resource_must_be_the_bucket() {
    let yaml = bucket_policy(
        "        - Effect: Allow\n          Principal: \"*\"\n          Action: s3:GetObject\n          Resource: arn:aws:s3:::someone-else/*\n",
    );
    expect_one(&yaml, "policy-resource", 10, 21, "is not bucket `a` or its objects");
}

#[test]
fn policy_resource_must_be_an_arn() {
    let yaml = bucket_policy(
        "        - Effect: Allow\n          Principal: \"*\"\n          Action: s3:GetObject\n          Resource: logs-test/*\n",
    );
    expect_one(&yaml, "policy-resource", 10, 21, "is not an ARN");
}

#[test]
fn policy_principal_shape() {
    let yaml = bucket_policy(
        "        - Effect: Allow\n          Principal: {Aws: \"*\"}\n          Action: s3:GetObject\n          Resource: arn:aws:s3:::logs-test/*\n",
    );
    expect_one(&yaml, "policy-principal", 8, 23, "unknown principal type `Aws`");
}

#[test]
fn identity_policy_must_not_have_a_principal() {
    let yaml = format!(
        "{HEAD}iam:\n  policies:\n    reader:\n      statements:\n        - Effect: Allow\n          Principal: \"*\"\n          Action: s3:GetObject\n          Resource: \"*\"\n"
    );
    expect_one(
        &yaml,
        "policy-principal",
        7,
        11,
        "an identity policy cannot have `Principal`",
    );
}

#[test]
fn policy_unknown_condition_operator() {
    let yaml = bucket_policy(
        "        - Effect: Deny\n          Principal: \"*\"\n          Action: \"s3:*\"\n          Resource: arn:aws:s3:::logs-test/*\n          Condition:\n            Boolean: {aws:SecureTransport: false}\n",
    );
    expect_one(
        &yaml,
        "policy-condition",
        12,
        13,
        "unknown condition operator `Boolean`",
    );
}

#[test]
fn dangling_sync_bucket() {
    let yaml = format!(
        "{HEAD}buckets:\n  backups:\n    name: backups-test\nsync:\n  photos:\n    source: /srv/photos\n    bucket: backup\n"
    );
    expect_one(&yaml, "undefined-reference", 8, 13, "bucket `backup` is not defined");
    assert!(problems(&yaml)[0].4.contains("did you mean `backups`?"));
}

#[test]
fn dangling_grant_bucket() {
    let yaml = format!(
        "{HEAD}iam:\n  users:\n    writer:\n      grants:\n        - bucket: logs\n          access: [write]\n"
    );
    expect_one(&yaml, "undefined-reference", 6, 19, "bucket `logs` is not defined");
}

#[test]
fn dangling_notification_topic() {
    let yaml = format!(
        "{HEAD}buckets:\n  a:\n    name: logs-test\n    notifications:\n      - topic: alerts\n        events: [\"s3:ObjectCreated:*\"]\n"
    );
    expect_one(&yaml, "undefined-reference", 6, 16, "topic `alerts` is not defined");
}

#[test]
fn dangling_replication_role_and_destination() {
    let yaml = format!(
        "{HEAD}buckets:\n  a:\n    name: src-test\n    versioning: enabled\n    replication:\n      role: replicator\n      rules:\n        - id: dr\n          destination: {{bucket: dr}}\n"
    );
    let found = problems(&yaml);
    let refs: Vec<_> = found
        .iter()
        .filter(|p| p.0 == "undefined-reference")
        .map(|p| (p.1, p.2, p.3.clone()))
        .collect();
    assert_eq!(
        refs,
        vec![
            (7, 13, "role `replicator` is not defined in this manifest".to_string()),
            (10, 33, "bucket `dr` is not defined in this manifest".to_string()),
        ]
    );
}

#[test]
fn dangling_logging_target() {
    let yaml = format!("{HEAD}buckets:\n  a:\n    name: app-test\n    logging:\n      target_bucket: log\n");
    expect_one(&yaml, "undefined-reference", 6, 22, "bucket `log` is not defined");
}

#[test]
fn dangling_report_topic() {
    expect_one(
        &format!("{HEAD}report:\n  topic: reports\n"),
        "undefined-reference",
        3,
        10,
        "topic `reports` is not defined",
    );
}

#[test]
fn replication_requires_versioning() {
    let yaml = format!(
        "{HEAD}iam:\n  roles:\n    rep:\n      trust: {{services: [s3.amazonaws.com]}}\nbuckets:\n  a:\n    name: src-test\n    replication:\n      role: rep\n      rules:\n        - id: dr\n          destination: {{bucket: b}}\n  b:\n    name: dst-test\n    versioning: enabled\n"
    );
    expect_one(
        &yaml,
        "replication-versioning",
        9,
        5,
        "`a` replicates but its versioning is not enabled",
    );
}

#[test]
fn logging_target_in_another_region() {
    let yaml = format!(
        "{HEAD}buckets:\n  a:\n    name: app-test\n    region: us-east-1\n    logging: {{target_bucket: logs}}\n  logs:\n    name: logs-test\n    region: eu-west-1\n"
    );
    expect_one(
        &yaml,
        "logging-region",
        6,
        30,
        "log bucket `logs` is in eu-west-1 but `a` is in us-east-1",
    );
}

#[test]
fn unknown_placeholder() {
    expect_one(
        &format!("{HEAD}buckets:\n  a:\n    name: logs-${{ENV}}\n"),
        "placeholder",
        4,
        11,
        "unknown placeholder `${ENV}`",
    );
}

#[test]
fn bad_glob() {
    let yaml = format!(
        "{HEAD}buckets:\n  b:\n    name: backups-test\nsync:\n  docs:\n    source: /srv/docs\n    bucket: b\n    exclude: [\"**/[abc\"]\n"
    );
    expect_one(&yaml, "glob", 9, 15, "is not a valid glob");
}

#[test]
fn content_type_must_be_a_media_type() {
    let yaml = format!(
        "{HEAD}buckets:\n  b:\n    name: backups-test\nsync:\n  docs:\n    source: /srv/docs\n    bucket: b\n    routes:\n      - extensions: [log]\n        bucket: b\n        content_type: plain text\n"
    );
    expect_one(&yaml, "content-type", 12, 23, "`plain text` is not a media type");
    let fine = format!(
        "{HEAD}buckets:\n  b:\n    name: backups-test\nsync:\n  docs:\n    source: /srv/docs\n    bucket: b\n    content_type: \"text/plain; charset=utf-8\"\n"
    );
    let found = problems(&fine);
    assert!(
        !found.iter().any(|p| p.0 == "content-type"),
        "a media type with a parameter is accepted: {found:#?}"
    );
}

#[test]
fn key_template_unknown_placeholder() {
    let yaml = format!(
        "{HEAD}buckets:\n  b:\n    name: backups-test\nsync:\n  logs:\n    source: /var/log/training\n    bucket: b\n    key_template: \"training-logs/{{year}}/{{mnth}}/{{name}}\"\n"
    );
    expect_one(&yaml, "key-template", 9, 19, "unknown placeholder `{mnth}`");
}

#[test]
fn migration_delete_needs_checksum_verification() {
    let yaml = format!(
        "{HEAD}buckets:\n  old:\n    name: old-archive\nmigrations:\n  archive:\n    bucket: old\n    destination: /mnt/nas/archive\n    verify: size\n    delete_source: after-verify\n"
    );
    expect_one(
        &yaml,
        "migration-delete",
        10,
        20,
        "`delete_source` needs `verify: checksum`",
    );
}

#[test]
fn a_migration_prefix_without_a_slash_is_a_warning() {
    let yaml = format!(
        "{HEAD}buckets:\n  old:\n    name: old-archive\nmigrations:\n  archive:\n    bucket: old\n    prefix: photos\n    destination: /mnt/nas/archive\n"
    );
    expect_one(
        &yaml,
        "migration-prefix",
        8,
        13,
        "prefix `photos` does not end with `/`",
    );
}

#[test]
fn deleting_every_version_needs_every_version_migrated() {
    let yaml = format!(
        "{HEAD}buckets:\n  old:\n    name: old-archive\nmigrations:\n  archive:\n    bucket: old\n    destination: /mnt/nas/archive\n    delete_source: all-versions-after-verify\n"
    );
    expect_one(&yaml, "migration-delete", 9, 20, "only current versions are migrated");
}

#[test]
fn encryption_kms_key_with_aes256() {
    let yaml = format!(
        "{HEAD}buckets:\n  a:\n    name: logs-test\n    encryption:\n      algorithm: AES256\n      kms_key_id: alias/x\n"
    );
    expect_one(&yaml, "encryption", 7, 7, "`kms_key_id` needs `algorithm: aws:kms`");
}

#[test]
fn account_guard_must_be_twelve_digits() {
    expect_one(
        &format!("{HEAD}aws:\n  account_id: \"12345\"\n"),
        "account-id",
        3,
        15,
        "is not an AWS account ID",
    );
}

#[test]
fn list_page_size_must_be_a_page_a_server_can_answer() {
    for (size, words) in [("0", "at least 1, found 0"), ("100001", "at most 100000, found 100001")] {
        expect_one(
            &format!("{HEAD}aws:\n  list_page_size: {size}\n"),
            "out-of-range",
            3,
            19,
            words,
        );
    }
    assert_eq!(problems(&format!("{HEAD}aws:\n  list_page_size: 10000\n")), vec![]);
}

#[test]
fn region_typo() {
    let yaml = format!("{HEAD}aws:\n  region: eu-wset-1\n");
    let found = problems(&yaml);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].1, found[0].2), (3, 11));
    assert!(found[0].4.contains("did you mean `eu-west-1`?"), "{found:?}");
}

#[test]
fn three_independent_mistakes_are_all_reported() {
    let yaml = format!(
        "{HEAD}buckets:\n  a:\n    name: Bad_Name\n    versoning: enabled\n    logging: {{target_bucket: nowhere}}\n"
    );
    let found = problems(&yaml);
    let located: Vec<(String, usize, usize)> = found.iter().map(|p| (p.0.clone(), p.1, p.2)).collect();
    assert!(located.contains(&("bucket-name".to_string(), 4, 11)), "{located:?}");
    assert!(located.contains(&("unknown-field".to_string(), 5, 5)), "{located:?}");
    assert!(
        located.contains(&("undefined-reference".to_string(), 6, 30)),
        "{located:?}"
    );
}

#[test]
fn errors_in_an_extends_base_point_into_the_base_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("_base.yaml"), "defaults:\n  versioning: on\n").expect("write base");
    std::fs::write(dir.path().join("prod.yaml"), "environment: prod\nextends: _base.yaml\n").expect("write env");
    let loaded = load(&dir.path().join("prod.yaml"));
    let errors: Vec<_> = loaded
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{:?}", loaded.problems);
    let (file, line, col) = loaded.sources.position(errors[0].span.expect("located"));
    assert!(file.ends_with("_base.yaml"), "{file}");
    assert_eq!((line, col), (2, 15));
}

#[test]
fn extends_merges_defaults_and_the_environment_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("_base.yaml"),
        "defaults:\n  versioning: enabled\n  tags: {team: platform, tier: gold}\nbuckets:\n  logs:\n    name: logs-${env}\n",
    )
    .expect("write base");
    std::fs::write(
        dir.path().join("dev.yaml"),
        "environment: dev\nextends: _base.yaml\ndefaults:\n  tags: {tier: bronze}\n",
    )
    .expect("write env");
    let loaded = load(&dir.path().join("dev.yaml"));
    let manifest = loaded.manifest.expect("valid");
    assert_eq!(manifest.buckets["logs"].name, "logs-dev");
    let tags = manifest.defaults.tags.expect("tags");
    assert_eq!(tags["team"], "platform");
    assert_eq!(tags["tier"], "bronze");
}

/// Writes `files` (path, text) under a new project directory and loads `environments/<env>.yaml`.
fn load_in_project(files: &[(&str, &str)], env: &str) -> s3rec::manifest::Loaded {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    load(&dir.path().join(format!("environments/{env}.yaml")))
}

#[test]
fn an_environment_files_environment_must_be_its_stem() {
    let yaml = "# seeds\nenvironment: acc\nbuckets:\n  logs:\n    name: logs-${env}\n";
    let loaded = load_in_project(&[("environments/seeds.yaml", yaml)], "seeds");
    let found = common::located_problems(&loaded);
    assert_eq!(found.len(), 1, "{found:#?}");
    let (code, line, col, message, hint) = &found[0];
    assert_eq!((code.as_str(), *line, *col), ("environment-name", 2, 14), "{message}");
    assert!(message.contains("`environment: acc`"), "{message}");
    assert!(message.contains("environment `seeds`"), "{message}");
    assert!(
        hint.contains("rename the file to acc.yaml, or set `environment: seeds`"),
        "{hint}"
    );
    assert!(loaded.manifest.is_none(), "a mismatch makes the file invalid");
    // `${env}` is the file's name even while `environment:` disagrees, so every name the file makes is
    // the one `-e seeds` would use.
    assert_eq!(
        loaded.document.pointer("/buckets/logs/name"),
        Some(&"logs-seeds".into())
    );
}

#[test]
fn an_environment_file_whose_environment_is_its_stem_is_valid() {
    let yaml = "environment: seeds\nbuckets:\n  logs:\n    name: logs-${env}\n";
    let loaded = load_in_project(&[("environments/seeds.yaml", yaml)], "seeds");
    assert_eq!(common::located_problems(&loaded), vec![]);
    let manifest = loaded.manifest.expect("valid");
    assert_eq!(manifest.environment, "seeds");
    assert_eq!(manifest.buckets["logs"].name, "logs-seeds");
}

#[test]
fn an_environment_named_in_the_base_is_checked_and_located_there() {
    let loaded = load_in_project(
        &[
            ("environments/_base.yaml", "environment: acc\n"),
            ("environments/seeds.yaml", "extends: _base.yaml\n"),
        ],
        "seeds",
    );
    let errors: Vec<_> = loaded
        .problems
        .iter()
        .filter(|p| p.code == "environment-name")
        .collect();
    assert_eq!(errors.len(), 1, "{:?}", loaded.problems);
    let (file, line, col) = loaded.sources.position(errors[0].span.expect("located"));
    assert!(file.ends_with("_base.yaml"), "{file}");
    assert_eq!((line, col), (1, 14));
}

#[test]
fn bases_and_files_outside_environments_are_named_by_their_environment() {
    let base = "environment: acc\nbuckets:\n  logs:\n    name: logs-${env}\n";
    let loaded = load_in_project(&[("environments/_base.yaml", base)], "_base");
    assert_eq!(common::located_problems(&loaded), vec![]);
    let dir = tempfile::tempdir().expect("tempdir");
    let example = dir.path().join("examples/app-logs.yaml");
    std::fs::create_dir_all(example.parent().expect("parent")).expect("mkdir");
    std::fs::write(&example, base).expect("write");
    let loaded = load(&example);
    assert_eq!(common::located_problems(&loaded), vec![]);
    assert_eq!(loaded.manifest.expect("valid").buckets["logs"].name, "logs-acc");
}

#[test]
fn extends_cycle_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.yaml"), "environment: a\nextends: b.yaml\n").expect("write");
    std::fs::write(dir.path().join("b.yaml"), "extends: a.yaml\n").expect("write");
    let found = problems_at(&dir.path().join("a.yaml"));
    assert!(found.iter().any(|p| p.0 == "extends-cycle"), "{found:?}");
}

#[test]
fn missing_extends_base_points_at_the_extends_line() {
    let found = problems("environment: test\nextends: nowhere.yaml\n");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].0.as_str(), found[0].1, found[0].2), ("unreadable", 2, 10));
}

/// Like [`expect_one`], with the expected position given as the first occurrence of `needle` in `yaml`.
#[track_caller]
fn expect_on(yaml: &str, code: &str, needle: &str, words: &str) {
    let offset = yaml
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the manifest"));
    let line = yaml[..offset].matches('\n').count() + 1;
    let col = yaml[..offset].rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    expect_one(yaml, code, line, col, words);
}

const BUCKET: &str = "buckets:\n  b:\n    name: backups-test\n";

#[test]
fn cors_rule_needs_origins() {
    let yaml = format!("{HEAD}{BUCKET}    cors:\n      - allowed_methods: [GET]\n        allowed_origins: []\n");
    expect_on(&yaml, "cors", "[]", "needs allowed_origins");
}

#[test]
fn endpoint_url_needs_a_scheme() {
    expect_on(
        &format!("{HEAD}aws:\n  endpoint_url: localhost:9000\n"),
        "endpoint-url",
        "localhost",
        "is not an http(s) URL",
    );
}

#[test]
fn grant_needs_access_and_a_literal_prefix() {
    let yaml = format!(
        "{HEAD}{BUCKET}iam:\n  users:\n    u:\n      grants:\n        - {{bucket: b, prefix: \"logs/*\", access: []}}\n"
    );
    let found = problems(&yaml);
    let grants: Vec<_> = found.iter().filter(|p| p.0 == "grant").map(|p| p.3.clone()).collect();
    assert_eq!(grants.len(), 2, "{found:?}");
    assert!(grants.iter().any(|m| m.contains("at least one access level")));
    assert!(grants.iter().any(|m| m.contains("contains a wildcard")));
}

#[test]
fn iam_names_and_paths() {
    let yaml = format!("{HEAD}iam:\n  users:\n    u:\n      name: \"bad name\"\n      path: s3rec\n");
    expect_on(&yaml, "iam-name", "\"bad name\"", "is not a valid IAM user name");
    expect_on(&yaml, "iam-path", "s3rec", "must begin and end with `/`");
}

#[test]
fn duplicate_physical_iam_names() {
    let yaml = format!("{HEAD}iam:\n  users:\n    a:\n      name: deployer\n    b:\n      name: deployer\n");
    expect_one(
        &yaml,
        "duplicate-name",
        7,
        13,
        "IAM user name `deployer` is already used by `a`",
    );
}

#[test]
fn multipart_part_size_limits() {
    let yaml = format!("{HEAD}{BUCKET}sync:\n  s:\n    source: /srv\n    bucket: b\n    multipart_chunk_size: 1 MiB\n");
    expect_on(&yaml, "multipart", "1 MiB", "outside S3's 5 MiB to 5 GiB part size");
}

#[test]
fn malformed_size_is_a_located_error() {
    let yaml = format!("{HEAD}{BUCKET}sync:\n  s:\n    source: /srv\n    bucket: b\n    multipart_threshold: lots\n");
    expect_on(
        &yaml,
        "invalid-format",
        "lots",
        "`multipart_threshold` does not have the expected format",
    );
}

#[test]
fn manifest_must_be_a_mapping() {
    expect_on(
        "- environment: test\n",
        "not-a-mapping",
        "- environment",
        "must be a mapping",
    );
}

#[test]
fn notification_event_typo() {
    let yaml = format!(
        "{HEAD}{BUCKET}    notifications:\n      - topic: t\n        events: [\"s3:ObjectCreate:*\"]\nsns:\n  topics:\n    t: {{}}\n"
    );
    expect_on(
        &yaml,
        "notification-event",
        "\"s3:ObjectCreate:*\"",
        "is not an S3 event type",
    );
    assert!(problems(&yaml)[0].4.contains("did you mean `s3:ObjectCreated:*`?"));
}

#[test]
fn replication_events_are_notification_events() {
    // Replication failures by e-mail: the events S3 publishes for a replication rule's objects.
    let yaml = format!(
        "{HEAD}{BUCKET}    notifications:\n      - topic: t\n        events:\n          - s3:Replication:OperationFailedReplication\n          - s3:Replication:OperationMissedThreshold\n          - s3:Replication:OperationReplicatedAfterThreshold\n          - s3:Replication:OperationNotTracked\nsns:\n  topics:\n    t: {{}}\n"
    );
    assert_eq!(problems(&yaml), vec![]);
    let yaml = format!(
        "{HEAD}{BUCKET}    notifications:\n      - topic: t\n        events: [\"s3:Replication:*\"]\nsns:\n  topics:\n    t: {{}}\n"
    );
    assert_eq!(problems(&yaml), vec![]);

    let yaml = format!(
        "{HEAD}{BUCKET}    notifications:\n      - topic: t\n        events: [\"s3:Replication:OperationFailedReplicaton\"]\nsns:\n  topics:\n    t: {{}}\n"
    );
    expect_on(
        &yaml,
        "notification-event",
        "\"s3:Replication:OperationFailedReplicaton\"",
        "is not an S3 event type",
    );
    assert!(
        problems(&yaml)[0]
            .4
            .contains("did you mean `s3:Replication:OperationFailedReplication`?"),
        "{:?}",
        problems(&yaml)
    );
}

#[test]
fn overlapping_notifications() {
    let yaml = format!(
        "{HEAD}{BUCKET}    notifications:\n      - topic: t\n        events: [\"s3:ObjectCreated:*\"]\n      - topic: t\n        events: [\"s3:ObjectCreated:Put\"]\n        filter: {{prefix: logs/}}\nsns:\n  topics:\n    t: {{}}\n"
    );
    expect_on(
        &yaml,
        "notification-overlap",
        "topic: t\n        events: [\"s3:ObjectCreated:Put\"]",
        "notification 1 overlaps notification 0",
    );
}

#[test]
fn negative_days_are_out_of_range() {
    let yaml = format!("{HEAD}{BUCKET}    lifecycle:\n      - id: r\n        expiration: {{days: -1}}\n");
    expect_on(&yaml, "out-of-range", "-1", "must be at least 0");
}

#[test]
fn empty_managed_policy() {
    expect_on(
        &format!("{HEAD}iam:\n  policies:\n    empty: {{}}\n"),
        "policy",
        "empty",
        "has no statements and no grants",
    );
}

#[test]
fn policy_sid_characters_and_duplicates() {
    let yaml = bucket_policy(
        "        - Sid: allow-read\n          Effect: Allow\n          Principal: \"*\"\n          Action: s3:GetObject\n          Resource: arn:aws:s3:::logs-test/*\n",
    );
    expect_on(&yaml, "policy-sid", "allow-read", "may only contain letters and digits");
}

#[test]
fn replication_to_itself_and_shared_priorities() {
    let yaml = format!(
        "{HEAD}iam:\n  roles:\n    rep:\n      trust: {{services: [s3.amazonaws.com]}}\nbuckets:\n  a:\n    name: src-test\n    versioning: enabled\n    replication:\n      role: rep\n      rules:\n        - {{id: one, priority: 1, destination: {{bucket: a}}}}\n        - {{id: two, priority: 1, destination: {{bucket: a}}}}\n"
    );
    let found = problems(&yaml);
    let messages: Vec<_> = found
        .iter()
        .filter(|p| p.0 == "replication")
        .map(|p| p.3.clone())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("priority 1 is already used by rule 0")),
        "{found:?}"
    );
    assert_eq!(
        messages
            .iter()
            .filter(|m| m.contains("cannot replicate to itself"))
            .count(),
        2,
        "{found:?}"
    );
}

#[test]
fn replication_role_must_trust_s3() {
    let yaml = format!(
        "{HEAD}iam:\n  roles:\n    rep:\n      trust: {{services: [ec2.amazonaws.com]}}\nbuckets:\n  a:\n    name: src-test\n    versioning: enabled\n    replication:\n      role: rep\n      rules:\n        - {{id: one, destination: {{bucket: b}}}}\n  b:\n    name: dst-test\n    versioning: enabled\n"
    );
    expect_on(
        &yaml,
        "replication-role",
        "rep\n      rules",
        "does not trust s3.amazonaws.com",
    );
}

#[test]
fn role_trusts_nobody_and_session_limits() {
    let yaml = format!("{HEAD}iam:\n  roles:\n    r:\n      trust: {{}}\n      max_session_duration: 60\n");
    expect_on(&yaml, "role-trust", "trust", "trusts nobody");
    expect_on(&yaml, "role", "60", "outside 3600–43200 seconds");
}

#[test]
fn s3_state_backend_needs_a_bucket() {
    expect_on(
        &format!("{HEAD}state:\n  backend: s3\n"),
        "state",
        "s3",
        "needs `state.bucket`",
    );
}

#[test]
fn s3_state_settings_are_checked_where_they_are_written() {
    let state = |extra: &str| format!("{HEAD}state:\n  backend: s3\n  bucket: acme-state\n{extra}");
    expect_on(
        &state("  checkpoint_interval: soon\n"),
        "state",
        "soon",
        "`checkpoint_interval: soon` is not a usable interval",
    );
    expect_on(
        &state("  checkpoint_interval: 200ms\n"),
        "state",
        "200ms",
        "shorter than one second",
    );
    expect_on(&state("  key: s3rec/\n"), "state", "s3rec/", "cannot hold the state");
    expect_on(
        &state("  key: prod.db.lock\n"),
        "state",
        "prod.db.lock",
        "cannot hold the state",
    );
    expect_on(
        &state("  lock: false\n"),
        "state",
        "false",
        "nothing keeps two runs of this environment apart",
    );
    expect_on(
        &format!("{HEAD}state:\n  lock: false\n"),
        "state",
        "state",
        "ignored by the local backend",
    );
    let fine = problems(&state(
        "  key: team/prod.db\n  checkpoint_interval: 5m\n  region: eu-west-1\n",
    ));
    assert!(fine.iter().all(|p| p.0 != "state"), "{fine:?}");
}

#[test]
fn sync_concurrency_and_empty_source() {
    let yaml = format!("{HEAD}{BUCKET}sync:\n  s:\n    source: \"\"\n    bucket: b\n    concurrency: 0\n");
    let found = problems(&yaml);
    let sync: Vec<_> = found.iter().filter(|p| p.0 == "sync").map(|p| p.3.clone()).collect();
    assert!(sync.iter().any(|m| m.contains("`source` is empty")), "{found:?}");
    assert!(
        sync.iter().any(|m| m.contains("concurrency 0 is outside 1 to 1024")),
        "{found:?}"
    );
}

#[test]
fn overlapping_sync_mappings_that_delete() {
    let yaml = format!(
        "{HEAD}{BUCKET}sync:\n  a:\n    source: /srv/a\n    bucket: b\n    prefix: office/\n    delete: true\n  c:\n    source: /srv/c\n    bucket: b\n    prefix: office/scans/\n"
    );
    expect_on(
        &yaml,
        "sync-overlap",
        "office/scans/",
        "sync `c` writes where `a` writes",
    );
}

#[test]
fn sync_route_extensions() {
    let yaml = format!(
        "{HEAD}{BUCKET}sync:\n  s:\n    source: /srv\n    bucket: b\n    routes:\n      - {{extensions: [.pdf], bucket: b}}\n"
    );
    expect_on(&yaml, "sync-route", ".pdf", "starts with a dot");
}

#[test]
fn reserved_tag_keys() {
    let yaml = format!("{HEAD}{BUCKET}    tags:\n      aws:team: platform\n");
    expect_on(&yaml, "tags", "aws:team", "reserved `aws:` prefix");
}

#[test]
fn topic_names() {
    let yaml = format!("{HEAD}sns:\n  topics:\n    reports:\n      name: backup.reports\n");
    expect_on(&yaml, "topic-name", "backup.reports", "is not a valid SNS topic name");
}

#[test]
fn warnings_do_not_fail_but_are_located() {
    let yaml = format!(
        "{HEAD}{BUCKET}    logging: {{target_bucket: b}}\n    lifecycle:\n      - id: old\n        noncurrent_version_expiration: {{days: 30}}\nsync:\n  s:\n    source: /srv\n    bucket: b\n    prefix: /office\n"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("w.yaml");
    std::fs::write(&path, &yaml).expect("write");
    let loaded = load(&path);
    assert!(!loaded.has_errors(), "{:?}", loaded.problems);
    assert!(loaded.manifest.is_some());
    let codes: Vec<&str> = loaded.problems.iter().map(|p| p.code).collect();
    assert_eq!(codes, vec!["logging-self", "lifecycle", "sync"]);
    assert!(
        loaded
            .problems
            .iter()
            .all(|p| p.severity == Severity::Warning && p.span.is_some())
    );
}

#[test]
fn a_refused_value_is_not_reported_twice() {
    let yaml = format!("{HEAD}{BUCKET}    lifecycle:\n      - id: r\n        expiration: {{days: -1}}\n");
    let codes: Vec<String> = problems(&yaml).into_iter().map(|p| p.0).collect();
    assert_eq!(codes, vec!["out-of-range"]);
}

#[test]
fn iam_policy_variables_are_not_placeholders() {
    let yaml = bucket_policy(
        "        - Effect: Allow\n          Principal: \"*\"\n          Action: s3:GetObject\n          Resource: \"arn:aws:s3:::logs-test/home/${aws:username}/*\"\n",
    );
    assert_eq!(problems(&yaml), vec![]);
}

#[test]
fn bucket_policy_resources_in_other_partitions() {
    let yaml = bucket_policy(
        "        - Effect: Allow\n          Principal: \"*\"\n          Action: s3:GetObject\n          Resource: arn:aws-cn:s3:::logs-test/*\n",
    );
    assert_eq!(problems(&yaml), vec![]);
}

#[test]
fn notification_topic_in_another_region() {
    let yaml = format!(
        "{HEAD}aws: {{region: us-east-1}}\nbuckets:\n  b:\n    name: backups-test\n    region: eu-west-1\n    notifications:\n      - topic: t\n        events: [\"s3:ObjectCreated:*\"]\nsns:\n  topics:\n    t: {{}}\n"
    );
    expect_on(
        &yaml,
        "notification-region",
        "t\n        events",
        "bucket `b` is in eu-west-1 but topic `t` is in us-east-1",
    );
}

#[test]
fn log_bucket_with_kms_encryption() {
    let yaml = format!(
        "{HEAD}buckets:\n  app:\n    name: app-test\n    logging: {{target_bucket: logs}}\n  logs:\n    name: logs-test\n    encryption: {{algorithm: \"aws:kms\"}}\n"
    );
    expect_on(&yaml, "logging-encryption", "logs}", "log bucket `logs` uses SSE-KMS");
}

#[test]
fn unquoted_account_id_gets_a_quoting_hint() {
    let found = problems(&format!("{HEAD}aws:\n  account_id: 111122223333\n"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "wrong-type");
    assert!(found[0].4.contains("quote the value"), "{found:?}");
}

#[test]
fn logical_names_are_plain_words() {
    let yaml = format!("{HEAD}buckets:\n  app.logs:\n    name: logs-test\n");
    expect_on(
        &yaml,
        "logical-name",
        "app.logs",
        "logical name `app.logs` may only use letters",
    );
}

/// Asserts one `wrong-type` problem at this line and column whose hint contains each of `words`.
#[track_caller]
fn expect_shape_hint(yaml: &str, line: usize, col: usize, message: &str, words: &[&str]) {
    expect_one(yaml, "wrong-type", line, col, message);
    let found = problems(yaml);
    let hint = &found
        .iter()
        .find(|p| p.0 == "wrong-type")
        .expect("a wrong-type problem")
        .4;
    for w in words {
        assert!(hint.contains(w), "hint {hint:?} lacks {w:?}");
    }
}

#[test]
fn public_access_block_as_a_word_explains_the_switches() {
    expect_shape_hint(
        &format!("{HEAD}buckets:\n  logs:\n    name: logs-test\n    public_access_block: all\n"),
        5,
        26,
        "`public_access_block` must be a mapping, found `all`",
        &[
            "`public_access_block: {}` to block all public access",
            "block_public_policy: false",
        ],
    );
}

#[test]
fn trust_as_a_list_of_services_explains_the_kinds() {
    expect_shape_hint(
        &format!(
            "{HEAD}buckets:\n  logs:\n    name: logs-test\niam:\n  roles:\n    replicator:\n      trust: [s3.amazonaws.com]\n"
        ),
        8,
        14,
        "`trust` must be a mapping, found a list",
        &[
            "`trust: {services: [s3.amazonaws.com]}`",
            "`accounts:`",
            "`identities:`",
        ],
    );
}

#[test]
fn sync_as_a_list_explains_named_mappings() {
    expect_shape_hint(
        &format!("{HEAD}buckets:\n  logs:\n    name: logs-test\nsync:\n  - source: ./site\n    bucket: logs\n"),
        6,
        3,
        "`sync` must be a mapping, found a list",
        &[
            "maps a name to each mapping",
            "`sync: {site: {source: ./site, bucket: NAME}}`",
        ],
    );
}

#[test]
fn migrations_as_a_list_explains_named_migrations() {
    expect_shape_hint(
        &format!(
            "{HEAD}buckets:\n  logs:\n    name: logs-test\nmigrations:\n  - bucket: logs\n    destination: /tmp/x\n"
        ),
        6,
        3,
        "`migrations` must be a mapping, found a list",
        &["maps a name to each migration", "docs/migrations.md"],
    );
}

/// A versioned bucket with one rule of its own and a backup mapping into it; `retention` and the rule's
/// body are filled in by each test.
fn retention_manifest(rule: &str, retention: &str) -> String {
    format!(
        "{HEAD}buckets:\n  backups:\n    name: b-${{env}}\n    versioning: enabled\n    lifecycle:\n      - id: old-versions\n{rule}sync:\n  home:\n    source: /home\n    bucket: backups\n    prefix: home/\n    retention: {retention}\n"
    )
}

#[test]
fn retention_beside_rules_for_other_prefixes_or_other_actions_is_valid() {
    // A rule under another prefix, and one that only moves old versions to Glacier, leave the
    // retention's expiry alone.
    let yaml = retention_manifest(
        "        filter: {prefix: logs/}\n        noncurrent_version_expiration: {days: 90}\n      - id: cold\n        noncurrent_version_transitions: [{days: 30, storage_class: GLACIER}]\n",
        "{noncurrent_days: 30, keep_versions: 5, delete_markers: expire}",
    );
    assert_eq!(problems(&yaml), vec![]);
}

#[test]
fn a_bucket_rule_that_expires_the_retained_versions_is_a_conflict() {
    expect_one(
        &retention_manifest(
            "        noncurrent_version_expiration: {days: 90}\n",
            "{noncurrent_days: 30}",
        ),
        "retention-conflict",
        8,
        9,
        "lifecycle rule `old-versions` of bucket `backups` expires noncurrent versions under `home/`, which the retention of sync mapping `home` decides",
    );
}

#[test]
fn retention_needs_a_versioned_destination() {
    let yaml = retention_manifest("        expiration: {days: 30}\n", "{noncurrent_days: 30}")
        .replace("    versioning: enabled\n", "");
    expect_one(&yaml, "retention", 13, 5, "bucket `backups` is not versioned");
    // A route to another prefix of the same bucket is a second rule, but still one error.
    let routed = format!("{yaml}    routes:\n      - {{extensions: [pdf], bucket: backups, prefix: pdf/}}\n");
    expect_one(&routed, "retention", 13, 5, "bucket `backups` is not versioned");
}

#[test]
fn retention_settings_out_of_range_or_incomplete() {
    let rule = "        expiration: {days: 30}\n";
    expect_one(
        &retention_manifest(rule, "{keep_versions: 3}"),
        "retention",
        14,
        17,
        "`keep_versions` needs `noncurrent_days`",
    );
    expect_one(
        &retention_manifest(rule, "{noncurrent_days: 7, keep_versions: 101}"),
        "retention",
        14,
        52,
        "`keep_versions` must be 1 to 100, found 101",
    );
    expect_one(
        &retention_manifest(rule, "{noncurrent_days: 0}"),
        "retention",
        14,
        34,
        "`noncurrent_days` must be at least 1",
    );
    expect_one(
        &retention_manifest(rule, "{delete_markers: keep}"),
        "retention",
        14,
        5,
        "retention sets nothing",
    );
}

#[test]
fn two_mappings_retaining_one_prefix_conflict_and_generated_rule_ids_are_reserved() {
    let yaml = format!(
        "{}  docs:\n    source: /docs\n    bucket: backups\n    prefix: home/docs/\n    retention: {{noncurrent_days: 7}}\n",
        retention_manifest("        expiration: {days: 30}\n", "{noncurrent_days: 30}")
    );
    expect_one(
        &yaml,
        "retention-conflict",
        19,
        5,
        "the retention of sync mapping `docs` and that of `home` both expire old versions under `home/docs/` of bucket `backups`",
    );
    expect_one(
        &retention_manifest("        expiration: {days: 30}\n", "{noncurrent_days: 30}")
            .replace("id: old-versions", "id: s3rec-retention-mine"),
        "retention",
        7,
        13,
        "lifecycle rule IDs starting with `s3rec-retention-` are s3rec's own",
    );
}
