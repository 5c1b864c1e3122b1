//! Hostile manifests: `validate` runs on pull requests from anyone, so no manifest may crash it, make it
//! run long or fill memory, or make it print without bound. Each defect found by the fault campaign has
//! a test here, and a small deterministic fuzz run (the full campaign is `scripts/fuzz-manifests.py`)
//! keeps the whole class covered in CI.

mod common;

use std::path::Path;

use assert_cmd::Command;
use s3rec::manifest::diagnostic::{MAX_MESSAGE, render_human, to_json_problems};
use s3rec::manifest::yaml::{ALIAS_NODE_BUDGET, MAX_DEPTH};
use s3rec::manifest::{Loaded, load};

/// Loads `yaml` from a file of its own.
fn load_text(yaml: &[u8]) -> Loaded {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("test.yaml");
    std::fs::write(&path, yaml).expect("write manifest");
    load(&path)
}

fn s3rec(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("s3rec").expect("binary");
    cmd.current_dir(dir).env("NO_COLOR", "1").env_remove("RUST_LOG");
    cmd
}

/// The reproduction: 5,000 levels of block sequences overflowed the stack (exit 134).
fn deep_block(levels: usize) -> String {
    format!("environment: dev\nx:\n  {} x\n", "- ".repeat(levels))
}

/// `x0` is a list of nine strings, each `xN` a list of nine aliases of `xN-1`: 9^(levels+1) nodes.
fn alias_bomb(levels: usize) -> String {
    let mut text = "environment: dev\nx0: &a0 [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n".to_string();
    for i in 1..=levels {
        let aliases = vec![format!("*a{}", i - 1); 9].join(",");
        text.push_str(&format!("x{i}: &a{i} [{aliases}]\n"));
    }
    text
}

#[test]
fn deep_block_nesting_is_a_located_error_not_a_stack_overflow() {
    let found = common::located_problems(&load_text(deep_block(5000).as_bytes()));
    assert_eq!(found.len(), 1, "{found:?}");
    let (code, line, col, message, hint) = &found[0];
    assert_eq!((code.as_str(), *line), ("yaml", 3), "{found:?}");
    // The sequence that opens one level too deep: the 65th `- `, after two spaces of indentation.
    assert_eq!(*col, 3 + 2 * MAX_DEPTH - 2, "{found:?}");
    assert!(
        message.contains(&format!("deeper than {MAX_DEPTH} levels")),
        "{message}"
    );
    assert!(hint.contains("indentation"), "{hint}");
}

#[test]
fn deep_block_nesting_fails_the_binary_with_exit_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("deep.yaml"), deep_block(5000)).expect("write");
    let out = s3rec(dir.path()).args(["validate", "deep.yaml"]).output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("deep.yaml:3:"), "{stderr}");
}

#[test]
fn nesting_up_to_the_limit_is_accepted_and_flow_nesting_is_refused_the_same_way() {
    // MAX_DEPTH levels in all: the top mapping and MAX_DEPTH - 1 sequences under `x`.
    let at_limit = format!(
        "environment: dev\nx: {}{}\n",
        "[".repeat(MAX_DEPTH - 1),
        "]".repeat(MAX_DEPTH - 1)
    );
    let found = common::located_problems(&load_text(at_limit.as_bytes()));
    assert!(found.iter().all(|p| p.0 != "yaml"), "{found:?}");

    let too_deep = format!("environment: dev\nx: {}{}\n", "[".repeat(100), "]".repeat(100));
    let found = common::located_problems(&load_text(too_deep.as_bytes()));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].0.as_str(), found[0].1, found[0].2),
        ("yaml", 2, 4 + MAX_DEPTH - 1)
    );
    assert!(found[0].3.contains("deeper than"), "{found:?}");
}

#[test]
fn an_alias_bomb_is_refused_at_the_alias_that_crosses_the_budget() {
    // Six levels: 4.8 million nodes, 20 s and 2.6 GB before the budget.
    let found = common::located_problems(&load_text(alias_bomb(6).as_bytes()));
    assert_eq!(found.len(), 1, "{found:?}");
    let (code, line, col, message, hint) = &found[0];
    assert_eq!(code, "yaml");
    // The aliases up to x3 copy 8,289 nodes; the first one on x4's line (7,381 more) crosses the budget.
    assert_eq!((*line, *col), (6, 10), "{found:?}");
    assert!(message.contains("aliases expand"), "{message}");
    assert!(hint.contains("grow exponentially"), "{hint}");
}

#[test]
fn aliases_within_the_budget_work_as_before() {
    let mut yaml =
        "environment: dev\ndefaults:\n  tags: &tags {team: data, cost-center: '4100'}\nbuckets:\n".to_string();
    for i in 0..200 {
        yaml.push_str(&format!("  b{i}:\n    name: acme-b{i}-${{env}}\n    tags: *tags\n"));
    }
    let loaded = load_text(yaml.as_bytes());
    assert_eq!(common::located_problems(&loaded), vec![]);
    let manifest = loaded.manifest.expect("valid");
    assert_eq!(manifest.buckets["b199"].tags.as_ref().map(|t| t.len()), Some(2));
    // The budget is a fixed allowance plus the written nodes: copying more than that is refused.
    const { assert!(ALIAS_NODE_BUDGET >= 200 * 5) };
}

#[test]
fn a_huge_value_is_echoed_shortened_with_its_length() {
    let value = "A".repeat(2_000_000);
    let yaml = format!("environment: dev\nbuckets:\n  b:\n    name: {value}\n");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("huge.yaml"), &yaml).expect("write");
    for format in ["text", "json", "github"] {
        let out = s3rec(dir.path())
            .args(["validate", "huge.yaml", "--format", format])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1));
        let printed = [out.stdout, out.stderr].concat();
        let printed = String::from_utf8_lossy(&printed);
        // Before, the value was printed about twelve times (24 MB); now each problem quotes a prefix.
        assert!(printed.len() < 8_000, "{format}: {} bytes", printed.len());
        assert!(printed.contains("… (2000000 characters)"), "{format}: {printed}");
        assert!(printed.contains("huge.yaml"), "{format}: {printed}");
    }
}

#[test]
fn many_buckets_each_with_problems_are_validated_in_one_linear_pass() {
    // Every step that was quadratic in the number of buckets or problems is on this path: duplicate-key
    // checks, cutting refused values out of a large mapping, matching semantic findings against refused
    // pointers, dangling references, positions, and rendering. 30,000 buckets took hours before.
    const N: usize = 30_000;
    let mut yaml = String::from("environment: dev\nbuckets:\n");
    for i in 0..N {
        if i % 2 == 0 {
            yaml.push_str(&format!("  b{i}: 5\n"));
        } else {
            yaml.push_str(&format!(
                "  b{i}:\n    name: Bad_{i}\n    logging:\n      target_bucket: missing-{i}\n"
            ));
        }
    }
    let loaded = load_text(yaml.as_bytes());
    let found = common::located_problems(&loaded);
    let count = |code: &str| found.iter().filter(|p| p.0 == code).count();
    assert_eq!(count("wrong-type"), N / 2);
    assert_eq!(count("undefined-reference"), N / 2);
    assert!(count("bucket-name") >= N / 2);
    let last = found.iter().rfind(|p| p.0 == "undefined-reference").expect("found");
    assert_eq!((last.1, last.2), (2 + N / 2 * 5, 22), "{last:?}");
    let text = render_human(&loaded.problems, &loaded.sources, false);
    assert!(text.contains(&format!("test.yaml:{}:22", 2 + N / 2 * 5)));
}

#[test]
fn a_span_never_ends_inside_a_character() {
    // Found by the fuzz run: a quoted scalar's span is measured from its value (`\ufeff` is three bytes
    // there, six characters in the text), so it ended inside the byte order mark that follows it, and
    // the JSON and GitHub outputs panicked slicing the text there.
    let loaded = load_text("environment: dev\nbuckets:\n  b:\n    name: \"\\ufeffab\"\u{feff}\n".as_bytes());
    let json = to_json_problems(&loaded.problems, &loaded.sources);
    assert!(!json.is_empty());
    assert!(json.iter().all(|p| p.line == Some(4)), "{json:?}");
}

/// A few hundred mutants of the project's own manifests, in process: none may panic or overflow the
/// stack (either ends the test binary), and every message and rendering stays bounded.
#[test]
fn fuzzed_manifests_fail_cleanly_with_bounded_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut corpus: Vec<Vec<u8>> = Vec::new();
    for dir in ["environments", "examples"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .expect("list")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        files.sort();
        corpus.extend(files.iter().map(|f| std::fs::read(f).expect("read")));
    }
    let work = tempfile::tempdir().expect("tempdir");
    std::fs::copy(root.join("environments/_base.yaml"), work.path().join("_base.yaml")).expect("copy base");
    let path = work.path().join("mutant.yaml");
    for n in 0..300u64 {
        let mut rng = Rng(common::data(64, n + 1));
        let mut text = corpus[rng.below(corpus.len())].clone();
        for _ in 0..1 + rng.below(3) {
            text = mutate(&mut rng, text);
        }
        std::fs::write(&path, &text).expect("write mutant");
        let loaded = load(&path);
        for p in &loaded.problems {
            let limit = MAX_MESSAGE + 40;
            assert!(p.message.chars().count() <= limit, "mutant {n}: {}", p.message.len());
            let hint = p.hint.as_deref().unwrap_or_default();
            assert!(
                hint.chars().count() <= limit,
                "mutant {n}: hint of {} bytes",
                hint.len()
            );
        }
        let rendered = render_human(&loaded.problems, &loaded.sources, false);
        assert!(
            rendered.len() <= 8_192 * loaded.problems.len().max(1),
            "mutant {n}: {} bytes for {} problems",
            rendered.len(),
            loaded.problems.len()
        );
        let json = to_json_problems(&loaded.problems, &loaded.sources);
        assert_eq!(json.len(), loaded.problems.len());
    }
}

/// Random numbers drawn from the shared deterministic test-data generator, refilled as needed.
struct Rng(Vec<u8>);

impl Rng {
    fn next(&mut self) -> u64 {
        if self.0.len() < 8 {
            let seed = self
                .0
                .iter()
                .fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(*b)));
            self.0 = common::data(64, seed);
        }
        let bytes: Vec<u8> = self.0.drain(..8).collect();
        u64::from_le_bytes(bytes.try_into().expect("eight bytes"))
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, text: Vec<u8>) -> Vec<u8> {
    let mut text = text;
    let lines = |t: &[u8]| -> Vec<Vec<u8>> { t.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect() };
    match rng.below(11) {
        0 if !text.is_empty() => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(text.len());
                text[i] ^= 1 << rng.below(8);
            }
        }
        1 if !text.is_empty() => {
            let i = rng.below(text.len());
            let end = (i + 1 + rng.below(40)).min(text.len());
            text.drain(i..end);
        }
        2 => {
            let mut l = lines(&text);
            let i = rng.below(l.len());
            l.insert(i, l[i].clone());
            text = l.join(&b'\n');
        }
        3 => {
            let mut l = lines(&text);
            let (i, j) = (rng.below(l.len()), rng.below(l.len()));
            l.swap(i, j);
            text = l.join(&b'\n');
        }
        4 => text.extend_from_slice(format!("\nx:\n  {} x\n", "- ".repeat(65 + rng.below(3000))).as_bytes()),
        5 => {
            let depth = [63, 64, 65, 254, 255, 256, 1000][rng.below(7)];
            text.extend_from_slice(format!("\nx: {}1{}\n", "[".repeat(depth), "]".repeat(depth)).as_bytes());
        }
        6 => text.extend_from_slice(
            alias_bomb(3 + rng.below(6))
                .replace("environment: dev\n", "\n")
                .as_bytes(),
        ),
        7 | 8 => {
            let mut l = lines(&text);
            let with_value: Vec<usize> = (0..l.len()).filter(|&i| l[i].windows(2).any(|w| w == b": ")).collect();
            if !with_value.is_empty() {
                let i = with_value[rng.below(with_value.len())];
                let key_end = l[i].windows(2).position(|w| w == b": ").unwrap_or(0);
                let value = if rng.below(2) == 0 {
                    "Q".repeat(100_000)
                } else {
                    [
                        "[1, 2]",
                        "{a: 1}",
                        "-1",
                        "1e400",
                        ".nan",
                        "true",
                        "~",
                        "''",
                        "0x7fffffffffffffffff",
                    ][rng.below(9)]
                    .to_string()
                };
                l[i].truncate(key_end + 2);
                l[i].extend_from_slice(value.as_bytes());
            }
            text = l.join(&b'\n');
        }
        9 => {
            let odd = [
                "\u{202e}",
                "\u{200b}",
                "\u{feff}",
                "e\u{301}\u{301}",
                "\u{1f4a3}",
                "\u{2028}",
                "\u{85}",
            ];
            let at = rng.below(text.len() + 1);
            let insert: &[u8] = if rng.below(6) == 0 {
                &[0xff, 0x00]
            } else {
                odd[rng.below(odd.len())].as_bytes()
            };
            text.splice(at..at, insert.iter().copied());
        }
        _ => {
            let keep = rng.below(text.len() + 1);
            text.truncate(keep);
        }
    }
    text
}
