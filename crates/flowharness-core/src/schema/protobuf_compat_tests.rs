//! The Protobuf evolution table in `tests/proto/compat/cases.toml`: every
//! case's differences and verdict.

use serde::Deserialize;

use super::compat::Mode;
use super::protobuf::{ProtoFile, ProtoSchema};
use super::protobuf_compat::check;

#[derive(Deserialize)]
struct Table {
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    #[serde(default)]
    mode: Option<String>,
    old: String,
    new: String,
    compatible: bool,
    changes: Vec<String>,
}

fn compile(text: &str) -> ProtoSchema {
    let file = ProtoFile {
        name: "order.proto".into(),
        source: text.into(),
    };
    match ProtoSchema::from_sources(&file, &[], None) {
        Ok(s) => s,
        Err(e) => panic!("{text}: {e}"),
    }
}

#[test]
fn the_evolution_table_gets_every_answer_right() {
    let table: Table = match toml::from_str(include_str!("../../../../tests/proto/compat/cases.toml")) {
        Ok(t) => t,
        Err(e) => panic!("cases.toml: {e}"),
    };
    assert!(table.case.len() >= 10, "the table has {} cases", table.case.len());
    let mut wrong = Vec::new();
    for case in &table.case {
        let mode: Mode = case
            .mode
            .as_deref()
            .unwrap_or("backward")
            .parse()
            .unwrap_or(Mode::Backward);
        let findings = check(mode, &compile(&case.new), &[compile(&case.old)]);
        let mut changes: Vec<String> = findings
            .iter()
            .map(|f| f.difference.change.as_str().to_string())
            .collect();
        changes.sort();
        changes.dedup();
        let compatible = findings.iter().all(|f| f.difference.change.compatible());
        if changes != case.changes || compatible != case.compatible {
            wrong.push(format!(
                "{}: found {changes:?} (compatible: {compatible}), expected {:?} (compatible: {})\n  {}",
                case.name,
                case.changes,
                case.compatible,
                findings
                    .iter()
                    .map(|f| f.difference.to_string())
                    .collect::<Vec<_>>()
                    .join("\n  ")
            ));
        }
    }
    assert!(wrong.is_empty(), "{} cases wrong:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn transitive_modes_check_every_earlier_version() {
    let v1 = compile(r#"syntax = "proto3"; message Order { int32 total = 1; }"#);
    let v2 = compile(r#"syntax = "proto3"; message Order { string order_id = 2; }"#);
    let v3 = compile(r#"syntax = "proto3"; message Order { string order_id = 2; string total = 1; }"#);
    // Against v2 alone, v3 only adds a field; v1 wrote an int32 at 1.
    let plain = check(Mode::Backward, &v3, &[v1.clone(), v2.clone()]);
    assert!(plain.iter().all(|f| f.difference.change.compatible()), "{plain:?}");
    let transitive = check(Mode::BackwardTransitive, &v3, &[v1, v2]);
    let bad: Vec<_> = transitive
        .iter()
        .filter(|f| !f.difference.change.compatible())
        .collect();
    assert_eq!(bad.len(), 1, "{transitive:?}");
    assert_eq!(bad[0].version, 0);
    assert_eq!(bad[0].difference.path, "Order.total");
}
