//! A temporary s3rec project with one environment pointed at the emulator, and the real binary run in
//! it. Included with `#[path = "common/project.rs"] mod project;` by the CLI tests that need it.

#![allow(dead_code)]

use std::path::PathBuf;

use assert_cmd::Command;

use super::common;

pub struct Project {
    pub dir: tempfile::TempDir,
    pub env: String,
    pub endpoint: String,
    /// Extra environment variables for every run of s3rec in the project.
    pub vars: Vec<(String, String)>,
}

impl Project {
    pub fn new(env: &str) -> Project {
        Project {
            dir: tempfile::tempdir().expect("tempdir"),
            env: env.to_string(),
            endpoint: common::emulator_endpoint(),
            vars: Vec::new(),
        }
    }

    /// Writes the environment file: the `aws` section pointing at the emulator, then `body`.
    pub fn write(&self, body: &str) {
        self.write_with("", body);
    }

    /// Like [`Project::write`], with extra lines (`aws_extra`) inside the `aws` section.
    pub fn write_with(&self, aws_extra: &str, body: &str) {
        let envs = self.dir.path().join("environments");
        std::fs::create_dir_all(&envs).expect("mkdir");
        let text = format!(
            "environment: {}\naws:\n  region: us-east-1\n  endpoint_url: {}\n  force_path_style: true\n{aws_extra}{body}",
            self.env, self.endpoint
        );
        std::fs::write(envs.join(format!("{}.yaml", self.env)), text).expect("write manifest");
    }

    /// `program` in the project, with the emulator's credentials and nothing of this machine's AWS set-up.
    fn prepared(&self, program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
        let mut cmd = std::process::Command::new(program);
        cmd.current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("S3REC_ENDPOINT_URL")
            .env_remove("RUST_LOG");
        for (name, value) in &self.vars {
            cmd.env(name, value);
        }
        cmd
    }

    /// The s3rec binary as a plain `std::process::Command`, for tests that spawn it and act while it runs.
    pub fn s3rec_process(&self) -> std::process::Command {
        self.prepared(assert_cmd::cargo::cargo_bin("s3rec"))
    }

    /// The s3rec binary, prepared to run in the project.
    pub fn s3rec(&self) -> Command {
        Command::from_std(self.prepared(assert_cmd::cargo::cargo_bin("s3rec")))
    }

    /// `plan --detailed-exitcode --detail full`: (exit code, plan text). The full view, since the tests
    /// look for one change's block; `tests/cli_plan_view.rs` covers the compact default.
    #[track_caller]
    pub fn plan(&self) -> (i32, String) {
        let (code, stdout, stderr) = self.run(&["plan", "-e", &self.env, "--detailed-exitcode", "--detail", "full"]);
        assert!(code == 0 || code == 2, "plan failed ({code}):\n{stdout}\n{stderr}");
        (code, stdout)
    }

    /// `apply --auto-approve`: (exit code, stdout, stderr).
    pub fn apply(&self) -> (i32, String, String) {
        self.run(&["apply", "-e", &self.env, "--auto-approve"])
    }

    #[track_caller]
    pub fn apply_ok(&self) {
        let (code, stdout, stderr) = self.apply();
        assert_eq!(code, 0, "apply failed:\n{stdout}\n{stderr}");
    }

    /// A second plan is empty.
    #[track_caller]
    pub fn assert_converged(&self) {
        let (code, text) = self.plan();
        assert_eq!(code, 0, "expected an empty plan, got:\n{text}");
        assert!(text.contains("No changes."), "{text}");
    }

    /// The environment's state database.
    pub fn state(&self) -> s3rec::state::StateDb {
        s3rec::state::StateDb::open(&self.path(&format!(".s3rec/{}.db", self.env))).expect("state db")
    }

    /// Runs s3rec with `args`; returns exit code, stdout, stderr.
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.s3rec().args(args).output().expect("run s3rec");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs s3rec with `args` on a pseudo-terminal (util-linux `script`), typing `input`; returns the exit
    /// code and everything the terminal showed.
    pub fn run_on_terminal(&self, args: &[&str], input: &str) -> (i32, String) {
        use std::io::Write;
        let binary = assert_cmd::cargo::cargo_bin("s3rec");
        let command = std::iter::once(binary.display().to_string())
            .chain(args.iter().map(|a| a.to_string()))
            .collect::<Vec<_>>()
            .join(" ");
        let mut child = self
            .prepared("script")
            .args(["-qec", &command, "/dev/null"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("util-linux `script` runs the command on a pseudo-terminal; install util-linux");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("type the answer");
        let out = child.wait_with_output().expect("wait for script");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}
