//! A consumer team's integration test, written with flowharness's library
//! API: no CLI, no Docker, no fixed sleeps. The service under test is the
//! reference consumer `migration-status-service`, started as a process.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::as_conversions,
    reason = "a test: an unwrap that fails is a failed test, with its message"
)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use flowharness::harness::Harness;

/// What the service publishes on `{topic}-status` for each event of an
/// account's flow: `-` for nothing.
const STATUSES: &str = "
    | event             | state             | flowId    |
    | Scheduled         | SCHEDULED         | {flow id} |
    | BalanceRetrieved  | BALANCE_RETRIEVED | {flow id} |
    | Validated         | VALIDATED         | {flow id} |
    | Completed         | MIGRATED          | {flow id} |
    | Cancelled         | -                 | -         |
    | RollBackInitiated | ROLLING_BACK      | {flow id} |
    | RolledBack        | SIEMENS           | {flow id} |
";

/// The service, stopped when the test ends, passed or not.
struct Service(Child);

impl Service {
    fn start(h: &Harness, topic: &str, bug: Option<&str>) -> Service {
        let mut c = Command::new(env!("CARGO_BIN_EXE_migration-status-service"));
        c.args(["--bootstrap-servers", h.bootstrap_servers()])
            .args(["--schema-registry-url", &h.registry_url()])
            .args(["--topic", topic, "--group", &format!("status-{topic}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(bug) = bug {
            c.args(["--bug", bug]);
        }
        Service(c.spawn().expect("the service starts"))
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_service_follows_every_account_through_its_migration() -> flowharness::Result<()> {
    let h = Harness::embedded()?;
    let run = h
        .flow("account-migration")?
        .topic("migrations")
        .mix("happy=4,cancel=1,rollback=1")
        .seed(7)
        .produce(18)?;
    assert_eq!(run.report().check.errors, 0);
    assert_eq!(run.keys().len(), 18);
    let _service = Service::start(&h, run.topic(), None);
    run.expect_output("{topic}-status")
        .within(Duration::from_secs(60))
        .each_account(STATUSES)
}

#[test]
fn a_service_that_ignores_rollbacks_is_caught_with_the_account_that_shows_it() -> flowharness::Result<()> {
    let h = Harness::embedded()?;
    let run = h
        .flow("account-migration")?
        .topic("rollbacks")
        .mix("rollback=1")
        .seed(3)
        .produce(4)?;
    let _service = Service::start(&h, run.topic(), Some("rollback-ignored"));
    let outcome = run
        .expect_output("{topic}-status")
        .within(Duration::from_secs(10))
        .each_account(STATUSES);
    let Err(e) = outcome else {
        panic!("the planted bug went unnoticed")
    };
    let text = e.to_string();
    assert!(
        text.contains("4 of 4 accounts on rollbacks-status do not follow their events"),
        "{text}"
    );
    assert!(text.contains("expected {state=SIEMENS"), "{text}");
    Ok(())
}
