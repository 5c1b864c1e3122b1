//! `s3rec completions SHELL`: each shell gets a script on stdout that knows the real subcommands and flags.

use assert_cmd::Command;

fn completions(shell: &str) -> String {
    let output = Command::cargo_bin("s3rec")
        .expect("binary")
        .args(["completions", shell])
        .env("NO_COLOR", "1")
        .output()
        .expect("run s3rec");
    assert!(
        output.status.success(),
        "{shell}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stderr.is_empty(),
        "{shell} wrote to stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 script")
}

#[test]
fn every_shell_gets_a_script_that_names_the_subcommands_and_their_flags() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let script = completions(shell);
        assert!(!script.trim().is_empty(), "{shell}: empty script");
        for word in ["migrate", "validate", "completions", "confirm-delete", "dry-run"] {
            assert!(script.contains(word), "{shell}: the script does not mention `{word}`");
        }
    }
}

#[test]
fn an_unknown_shell_is_refused_with_the_valid_ones() {
    let output = Command::cargo_bin("s3rec")
        .expect("binary")
        .args(["completions", "tcsh"])
        .env("NO_COLOR", "1")
        .output()
        .expect("run s3rec");
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("powershell"), "{stderr}");
}
