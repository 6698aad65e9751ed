//! JUnit XML of a check: one test case per rule, failed when the rule was
//! broken, with every finding of it in the failure. No timestamps, so the
//! output is stable for golden files.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{Error, Result};
use crate::flow::Severity;
use crate::flow::checker::{Report, Rule};

fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&apos;".to_string(),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => format!("&#x{:x};", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// The XML text for a report.
pub fn render(suite: &str, report: &Report) -> String {
    let failures = Rule::ALL
        .iter()
        .filter(|r| {
            report
                .findings
                .iter()
                .any(|f| f.rule == **r && f.severity == Severity::Error)
        })
        .count();
    let mut x = String::new();
    let _ = writeln!(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(
        x,
        "<testsuites name=\"flowharness\" tests=\"{}\" failures=\"{failures}\" errors=\"0\">",
        Rule::ALL.len()
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">",
        escape(suite),
        Rule::ALL.len()
    );
    for rule in Rule::ALL {
        let errors: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.rule == rule && f.severity == Severity::Error)
            .map(ToString::to_string)
            .collect();
        let warnings: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.rule == rule && f.severity == Severity::Warning)
            .map(ToString::to_string)
            .collect();
        let total = report.counts.get(&rule).copied().unwrap_or(0);
        if errors.is_empty() && warnings.is_empty() {
            let _ = writeln!(x, "    <testcase classname=\"flowharness.rules\" name=\"{rule}\"/>");
            continue;
        }
        let _ = writeln!(x, "    <testcase classname=\"flowharness.rules\" name=\"{rule}\">");
        if !errors.is_empty() {
            let _ = writeln!(
                x,
                "      <failure type=\"{rule}\" message=\"{total} found\">{}</failure>",
                escape(&errors.join("\n"))
            );
        }
        if !warnings.is_empty() {
            let _ = writeln!(x, "      <system-out>{}</system-out>", escape(&warnings.join("\n")));
        }
        let _ = writeln!(x, "    </testcase>");
    }
    let _ = writeln!(x, "  </testsuite>");
    let _ = writeln!(x, "</testsuites>");
    x
}

/// Writes the XML to `path`.
pub fn write(path: &Path, suite: &str, report: &Report) -> Result<()> {
    std::fs::write(path, render(suite, report)).map_err(|e| Error::io(path, e))
}
