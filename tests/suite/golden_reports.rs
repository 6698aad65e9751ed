//! Golden files for report outputs. `UPDATE_GOLDEN=1 cargo test --test
//! suite golden_reports` rewrites them; the reports carry no timestamps.

use crate::common;

use common::repo_path;
use flowharness::fixture::Fixture;
use flowharness::flow::checker::{CheckOptions, Checker};
use flowharness::flow::{fixture_io, shipped};

fn golden(name: &str, actual: &str) {
    let path = repo_path(&format!("tests/golden/{name}"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} is missing: run with UPDATE_GOLDEN=1", path.display()));
    assert_eq!(actual, expected, "{name} differs from its golden file");
}

fn seed_report() -> flowharness::flow::checker::Report {
    let spec = shipped::resolve("account-migration").unwrap();
    let fixture = Fixture::load(&repo_path("fixtures/complex.json")).unwrap();
    let mut checker = Checker::new(&spec, CheckOptions::default());
    for m in fixture_io::observed(&fixture) {
        checker.observe(&m);
    }
    checker.finish()
}

#[test]
fn junit_of_the_seed_fixture_check() {
    golden(
        "verify-complex.junit.xml",
        &flowharness::report::junit::render("verify fixtures/complex.json against account-migration", &seed_report()),
    );
}

#[test]
fn the_junit_xml_is_well_formed_and_escapes_text() {
    let mut report = seed_report();
    report.findings[1].message = "a <b> & \"c\" 'd'".into();
    let xml = flowharness::report::junit::render("suite <1>", &report);
    assert!(xml.contains("name=\"suite &lt;1&gt;\""));
    assert!(xml.contains("a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;"));
    assert_eq!(
        xml.matches("<testcase ").count(),
        flowharness::flow::checker::Rule::ALL.len()
    );
    // Every test case is closed, by itself or by its end tag.
    assert_eq!(
        xml.matches("\"/>").count() + xml.matches("</testcase>").count(),
        flowharness::flow::checker::Rule::ALL.len()
    );
}

/// Runs the pinned feature file through `flowharness test`, and returns
/// its JUnit XML and Cucumber JSON with timestamps and durations stripped.
fn bdd_reports() -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (junit, json) = (dir.path().join("out.xml"), dir.path().join("out.json"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowharness"))
        .args([
            "test",
            "tests/golden/bdd-report.feature",
            "--concurrency",
            "2",
            "--junit",
        ])
        .arg(&junit)
        .arg("--json")
        .arg(&json)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "one scenario fails: {out:?}");
    let times = regex::Regex::new(r#" (timestamp|time)="[^"]*""#).unwrap();
    let xml = times
        .replace_all(&std::fs::read_to_string(&junit).unwrap(), "")
        .into_owned();
    // Where a step is defined moves as the library is edited.
    let matched = regex::Regex::new(r"(Matched: [^:\n]+):[0-9]+:[0-9]+").unwrap();
    let xml = matched.replace_all(&xml, "$1").into_owned();
    let durations = regex::Regex::new(r#","duration":[0-9]+"#).unwrap();
    let json = std::fs::read_to_string(&json).unwrap();
    let json = durations.replace_all(&json, "");
    let json: serde_json::Value = serde_json::from_str(&matched.replace_all(&json, "$1")).unwrap();
    (xml, serde_json::to_string_pretty(&json).unwrap() + "\n")
}

#[test]
fn bdd_reports_keep_their_shape() {
    let (xml, json) = bdd_reports();
    golden("bdd-report.junit.xml", &xml);
    golden("bdd-report.cucumber.json", &json);
    assert!(xml.contains("tests=\"2\"") && xml.contains("failures=\"1\""), "{xml}");
}
