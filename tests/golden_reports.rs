//! Golden files for report outputs. `UPDATE_GOLDEN=1 cargo test --test
//! golden_reports` rewrites them; the reports carry no timestamps.

mod common;

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
    assert_eq!(xml.matches("<testcase ").count(), 17);
    // Every test case is closed, by itself or by its end tag.
    assert_eq!(xml.matches("\"/>").count() + xml.matches("</testcase>").count(), 17);
}
