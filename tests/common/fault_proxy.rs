//! The loopback fault proxy (`scripts/fault-proxy.py`) started for one test, in front of the emulator.
//! Included with `#[path = "common/fault_proxy.rs"] mod fault_proxy;` by the tests that need faults the
//! emulator cannot show (lost responses, cut bodies, 503 SlowDown, servers that ignore conditional
//! writes). The proxy is stopped when the value is dropped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::common;

pub struct FaultProxy {
    child: Child,
    /// The proxy's endpoint, to use as a manifest's `endpoint_url`.
    pub endpoint: String,
    /// The proxy's request log: one line per request, the operation then the fault or `ok`.
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl FaultProxy {
    /// Starts the proxy in front of the emulator with `args` (see `scripts/fault-proxy.py --help`),
    /// for example `["--match", "Action=CreateAccessKey", "--first", "1", "--faults", "lost-response"]`.
    pub fn start(args: &[&str]) -> FaultProxy {
        let upstream = common::emulator_endpoint();
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("requests.log");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/fault-proxy.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg("--upstream")
            .arg(&upstream)
            .arg("--log")
            .arg(&log)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {} with python3: {e}", script.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reading the fault proxy's endpoint");
        let endpoint = line.trim().to_string();
        assert!(
            endpoint.starts_with("http://127.0.0.1:"),
            "the fault proxy did not print its endpoint (got {endpoint:?})"
        );
        FaultProxy {
            child,
            endpoint,
            log,
            _dir: dir,
        }
    }

    /// The request log so far, one `(operation, fault)` pair per request.
    pub fn requests(&self) -> Vec<(String, String)> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(op, fault)| (op.to_string(), fault.to_string()))
            .collect()
    }

    /// How many requests had a fault injected.
    pub fn faults_injected(&self) -> usize {
        self.requests().iter().filter(|(_, f)| f != "ok").count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
