//! JUnit XML of a check: one test case per rule, failed when the rule was
//! broken, with every finding of it in the failure. No timestamps, so the
//! output is stable for golden files.

use crate::num::Cast as _;
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
            c if (u32::from(c)) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => format!("&#x{:x};", u32::from(c)),
            c => c.to_string(),
        })
        .collect()
}

/// The XML text for a report.
pub fn render(suite: &str, report: &Report) -> String {
    // The counts, not the findings kept: a rule broken only after the
    // findings list was full still fails.
    let errors_of = |r: &Rule| report.error_counts.get(r).copied().unwrap_or(0);
    let warnings_of = |r: &Rule| report.warning_counts.get(r).copied().unwrap_or(0);
    let failures = Rule::ALL.iter().filter(|r| errors_of(r) > 0).count();
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
        let (total, warned) = (errors_of(&rule), warnings_of(&rule));
        if total == 0 && warned == 0 {
            let _ = writeln!(x, "    <testcase classname=\"flowharness.rules\" name=\"{rule}\"/>");
            continue;
        }
        let _ = writeln!(x, "    <testcase classname=\"flowharness.rules\" name=\"{rule}\">");
        let more = |shown: usize, all: u64| {
            let unshown = all.saturating_sub(shown.sat_u64());
            if unshown > 0 {
                format!("\n… {unshown} more not shown")
            } else {
                String::new()
            }
        };
        if total > 0 {
            let _ = writeln!(
                x,
                "      <failure type=\"{rule}\" message=\"{total} found\">{}{}</failure>",
                escape(&errors.join("\n")),
                more(errors.len(), total)
            );
        }
        if warned > 0 {
            let _ = writeln!(
                x,
                "      <system-out>{}{}</system-out>",
                escape(&warnings.join("\n")),
                more(warnings.len(), warned)
            );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::checker::Finding;

    #[test]
    fn a_rule_broken_only_past_the_findings_cap_still_fails() {
        let mut report = Report::default();
        report.findings.push(Finding {
            rule: Rule::SchemaInvalid,
            severity: Severity::Error,
            topic: None,
            partition: 0,
            offset: 0,
            key: None,
            flow_id: None,
            message: "bad".into(),
        });
        report.count(Rule::SchemaInvalid, Severity::Error);
        // Counted, but past the cap, so not kept.
        report.count(Rule::SchemaInvalid, Severity::Error);
        report.count(Rule::Timing, Severity::Error);
        let xml = render("capped", &report);
        assert!(xml.contains("tests=\"18\" failures=\"2\""), "{xml}");
        assert!(
            xml.contains("<failure type=\"timing\" message=\"1 found\">\n… 1 more not shown</failure>"),
            "{xml}"
        );
        assert!(
            xml.contains("message=\"2 found\">error[schema-invalid] partition 0 offset 0: bad\n… 1 more not shown"),
            "{xml}"
        );
    }
}
