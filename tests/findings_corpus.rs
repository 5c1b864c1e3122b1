//! The findings corpus: every fixture in tests/findings/ names the rule it pins (`# rule:`) and the
//! resources that rule must report (`# expect:`, or `# expect: none`). The analysis must report exactly
//! those: no false positive, no false negative. Other rules are not compared, so a fixture pins one
//! behaviour and stays readable.

use std::collections::BTreeSet;
use std::path::Path;

use s3rec::findings::{self, RuleId};

struct Fixture {
    file: String,
    rule: RuleId,
    expected: BTreeSet<String>,
}

fn fixtures() -> Vec<(Fixture, std::path::PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/findings");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/findings")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read");
            let file = path.file_name().expect("name").to_string_lossy().into_owned();
            let mut rule = None;
            let mut expected = BTreeSet::new();
            for line in text.lines().take_while(|l| l.starts_with('#')) {
                if let Some(id) = line.strip_prefix("# rule: ") {
                    rule = Some(RuleId::parse(id.trim()).unwrap_or_else(|| panic!("{file}: unknown rule {id}")));
                } else if let Some(e) = line.strip_prefix("# expect: ")
                    && e.trim() != "none"
                {
                    expected.insert(e.trim().to_string());
                }
            }
            let rule = rule.unwrap_or_else(|| panic!("{file}: no `# rule:` line"));
            (Fixture { file, rule, expected }, path)
        })
        .collect()
}

#[test]
fn the_corpus_has_no_false_positives_and_no_false_negatives() {
    let all = fixtures();
    assert!(all.len() >= 80, "the corpus has only {} fixtures", all.len());
    let mut failures = Vec::new();
    let (mut positives, mut negatives) = (0, 0);
    for (fixture, path) in &all {
        let loaded = s3rec::manifest::load(path);
        let Some(manifest) = &loaded.manifest else {
            failures.push(format!("{}: not a valid manifest: {:?}", fixture.file, loaded.problems));
            continue;
        };
        let estate = findings::manifest::estate(manifest).expect("estate");
        let found: BTreeSet<String> = findings::analyze(&estate)
            .into_iter()
            .filter(|f| f.rule == fixture.rule)
            .map(|f| f.resource)
            .collect();
        if fixture.expected.is_empty() {
            negatives += 1;
        } else {
            positives += 1;
        }
        let false_positives: Vec<_> = found.difference(&fixture.expected).collect();
        let false_negatives: Vec<_> = fixture.expected.difference(&found).collect();
        if !false_positives.is_empty() || !false_negatives.is_empty() {
            failures.push(format!(
                "{} ({}): false positives {false_positives:?}, false negatives {false_negatives:?}",
                fixture.file,
                fixture.rule.id()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        positives >= 30 && negatives >= 30,
        "{positives} true positives, {negatives} true negatives"
    );
}

#[test]
fn every_offline_rule_is_pinned_by_the_corpus() {
    let pinned: BTreeSet<RuleId> = fixtures().into_iter().map(|(f, _)| f.rule).collect();
    let unpinned: Vec<&str> = RuleId::ALL
        .iter()
        .filter(|r| r.rule().offline && !pinned.contains(r))
        .map(|r| r.id())
        .collect();
    // Rules only the live estate can show (no default encryption left out of the manifest, a topic
    // policy opened by hand) are pinned against the emulator in tests/cli_findings.rs instead.
    let live_only = ["S3REC-S3-008", "S3REC-SNS-001", "S3REC-SNS-002"];
    let unexpected: Vec<_> = unpinned.iter().filter(|id| !live_only.contains(id)).collect();
    assert!(unexpected.is_empty(), "rules without fixtures: {unexpected:?}");
}
