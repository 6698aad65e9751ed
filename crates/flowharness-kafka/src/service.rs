//! A service under test, run as a shell command in its own process group
//! (so `sh -c "a & b"` and a `cargo run` with its compiler stop as one),
//! with the run's broker and registry in its environment. Scenarios and
//! hunt trials start them; Ctrl-C stops every one still running.

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::error::{Error, Result};
use crate::kafka::Environment;

/// The folder of the running binary, where `cargo build` puts the
/// reference service too (`$FLOWHARNESS_BIN_DIR` in a command).
pub fn bin_dir() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.display().to_string()))
        .unwrap_or_else(|| ".".into())
}

/// Starts `command` with `sh -c` in its own process group: the broker and
/// registry in `KAFKA_BOOTSTRAP_SERVERS` and `SCHEMA_REGISTRY_URL`, the
/// topic in `FLOWHARNESS_TOPIC`, stdout discarded, stderr to `log`.
pub fn start(command: &str, env: &Environment, topic: &str, extra: &[(&str, &str)], log: &Path) -> Result<Child> {
    let stderr = std::fs::File::create(log).map_err(|e| Error::io(log, e))?;
    let mut c = Command::new("sh");
    c.process_group(0)
        .arg("-c")
        .arg(command)
        .env("KAFKA_BOOTSTRAP_SERVERS", env.broker().bootstrap())
        .env("SCHEMA_REGISTRY_URL", env.registry.url())
        .env("FLOWHARNESS_TOPIC", topic)
        .env("FLOWHARNESS_BIN_DIR", bin_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    for (k, v) in extra {
        c.env(k, v);
    }
    c.spawn()
        .map_err(|e| Error::system(format!("cannot start {command:?}"), e))
}

/// The last `lines` lines of a log, for a message about a service that
/// stopped.
pub fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Processes a scenario started, each the leader of its own process
/// group (so `sh -c "a & b"` and a `cargo run` with its compiler are one
/// group); stopped when it ends or is dropped.
#[derive(Debug, Default)]
pub struct Processes(pub Vec<std::process::Child>);

/// Process groups started by this process and not stopped yet, for Ctrl-C.
static GROUPS: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// How long a process group has to stop after SIGTERM before SIGKILL.
const GRACE: std::time::Duration = std::time::Duration::from_secs(3);

fn signal_group(group: u32, signal: &str) {
    let _ = std::process::Command::new("kill")
        .args([format!("-{signal}"), "--".into(), format!("-{group}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

impl Processes {
    /// Adds a child started with `process_group(0)`.
    pub fn add(&mut self, child: std::process::Child) {
        GROUPS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(child.id());
        self.0.push(child);
    }

    /// Stops every process group: SIGTERM, then SIGKILL after a grace
    /// period; the leaders are reaped.
    pub fn stop(&mut self) {
        let children: Vec<std::process::Child> = self.0.drain(..).collect();
        for child in &children {
            signal_group(child.id(), "TERM");
        }
        let deadline = std::time::Instant::now() + GRACE;
        for mut child in children {
            while std::time::Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            // The leader may be gone and others of its group not.
            signal_group(child.id(), "KILL");
            let _ = child.kill();
            let _ = child.wait();
            GROUPS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .retain(|g| *g != child.id());
        }
    }
}

/// Kills every process group scenarios started and did not stop (Ctrl-C).
pub fn kill_all_groups() {
    let groups = std::mem::take(&mut *GROUPS.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    for g in &groups {
        signal_group(*g, "TERM");
    }
    if !groups.is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    for g in groups {
        signal_group(g, "KILL");
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.stop();
    }
}
