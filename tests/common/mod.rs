//! Helpers shared by the integration tests.
#![allow(dead_code, reason = "each test binary that includes these helpers uses some of them")]

use std::path::PathBuf;

use flowharness::schema::AvroSchema;
use flowharness::schema::avro_parse;
use proptest::prelude::*;
use serde_json::{Value, json};

/// The short names of the seven branches of the migration event union.
pub const MIGRATION_BRANCHES: [&str; 7] = [
    "AccountMigrationCancelledEvent",
    "AccountMigrationCompletedEvent",
    "AccountMigrationRollBackInitiatedEvent",
    "AccountMigrationRolledBackEvent",
    "AccountMigrationScheduledEvent",
    "AccountMigrationValidatedEvent",
    "BalanceRetrievedMigrationEvent",
];

pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

pub fn migration_schema() -> AvroSchema {
    let text = std::fs::read_to_string(repo_path("schemas/account-migration-event.avsc")).unwrap();
    avro_parse::parse_str(&text).unwrap()
}

pub fn parse(json: Value) -> AvroSchema {
    avro_parse::parse_value(&json).unwrap_or_else(|e| panic!("schema should parse: {e}\n{json:#}"))
}

/// The shape of an arbitrary Avro schema, rendered to JSON with unique names.
#[derive(Debug, Clone)]
pub enum Shape {
    Primitive(&'static str),
    Logical(&'static str, &'static str),
    Enum(usize),
    Fixed(usize),
    /// precision, scale, fixed size (None: bytes)
    Decimal(u32, u32, Option<usize>),
    Array(Box<Shape>),
    Map(Box<Shape>),
    Union(Vec<Shape>),
    Record(Vec<Shape>),
}

impl Shape {
    fn union_key(&self) -> Option<String> {
        Some(match self {
            Shape::Primitive(p) | Shape::Logical(p, _) => p.to_string(),
            Shape::Array(_) => "array".into(),
            Shape::Map(_) => "map".into(),
            Shape::Union(_) => return None,
            // Named types get unique names, so they never clash.
            Shape::Decimal(_, _, None) => "bytes".into(),
            Shape::Enum(_) | Shape::Fixed(_) | Shape::Decimal(..) | Shape::Record(_) => format!("{:p}", self),
        })
    }

    pub fn render(&self, counter: &mut usize) -> Value {
        let mut name = |prefix: &str| {
            *counter += 1;
            format!("{prefix}{counter}")
        };
        match self {
            Shape::Primitive(p) => json!(p),
            Shape::Logical(base, logical) => json!({"type": base, "logicalType": logical}),
            Shape::Enum(n) => {
                let symbols: Vec<String> = (0..*n).map(|i| format!("S{i}")).collect();
                json!({"type": "enum", "name": name("E"), "symbols": symbols})
            }
            Shape::Fixed(size) => json!({"type": "fixed", "name": name("F"), "size": size}),
            Shape::Decimal(p, sc, None) => {
                json!({"type": "bytes", "logicalType": "decimal", "precision": p, "scale": sc})
            }
            Shape::Decimal(p, sc, Some(size)) => {
                json!({"type": "fixed", "name": name("D"), "size": size, "logicalType": "decimal", "precision": p, "scale": sc})
            }
            Shape::Array(items) => json!({"type": "array", "items": items.render(counter)}),
            Shape::Map(values) => json!({"type": "map", "values": values.render(counter)}),
            Shape::Union(branches) => Value::Array(branches.iter().map(|b| b.render(counter)).collect()),
            Shape::Record(fields) => {
                let record_name = name("R");
                let fields: Vec<Value> = fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| json!({"name": format!("f{i}"), "type": f.render(counter)}))
                    .collect();
                json!({"type": "record", "name": record_name, "namespace": "test.gen", "fields": fields})
            }
        }
    }
}

fn leaf() -> impl Strategy<Value = Shape> {
    prop_oneof![
        prop::sample::select(vec![
            "null", "boolean", "int", "long", "float", "double", "bytes", "string"
        ])
        .prop_map(Shape::Primitive),
        prop::sample::select(vec![
            ("int", "date"),
            ("int", "time-millis"),
            ("long", "timestamp-millis"),
            ("long", "timestamp-micros"),
            ("long", "time-micros"),
            ("string", "uuid"),
        ])
        .prop_map(|(b, l)| Shape::Logical(b, l)),
        (1usize..5).prop_map(Shape::Enum),
        (0usize..6).prop_map(Shape::Fixed),
        (1u32..20, 0u32..3, prop::option::of(9usize..20)).prop_map(|(p, s, f)| Shape::Decimal(p, s.min(p), f)),
    ]
}

/// Arbitrary valid Avro schemas, rendered as JSON, with a record at the root.
pub fn arbitrary_schema() -> impl Strategy<Value = Value> {
    let shape = leaf().prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            inner.clone().prop_map(|s| Shape::Array(Box::new(s))),
            inner.clone().prop_map(|s| Shape::Map(Box::new(s))),
            prop::collection::vec(inner.clone(), 1..5).prop_map(|bs| {
                let mut keys = Vec::new();
                let branches: Vec<Shape> = bs
                    .into_iter()
                    .filter(|b| match b.union_key() {
                        Some(k) if !keys.contains(&k) => {
                            keys.push(k);
                            true
                        }
                        _ => false,
                    })
                    .collect();
                if branches.is_empty() {
                    Shape::Primitive("null")
                } else {
                    Shape::Union(branches)
                }
            }),
            prop::collection::vec(inner, 0..5).prop_map(Shape::Record),
        ]
    });
    prop::collection::vec(shape, 1..5).prop_map(|fields| Shape::Record(fields).render(&mut 0))
}

/// Converts an Avro JSON value into apache-avro's `Value`, with explicit
/// union indices, to cross-check our encoder against apache-avro's.
pub fn to_apache(schema: &AvroSchema, id: usize, value: &Value) -> apache_avro::types::Value {
    use apache_avro::types::Value as A;
    use flowharness::schema::avro::{Logical, Node};
    let latin1 = |s: &str| s.chars().map(|c| c as u8).collect::<Vec<u8>>();
    match (schema.node(id), value) {
        (Node::Null, _) => A::Null,
        (Node::Boolean, Value::Bool(b)) => A::Boolean(*b),
        (Node::Int(Some(Logical::Date)), v) => A::Date(v.as_i64().unwrap() as i32),
        (Node::Int(Some(Logical::TimeMillis)), v) => A::TimeMillis(v.as_i64().unwrap() as i32),
        (Node::Int(_), v) => A::Int(v.as_i64().unwrap() as i32),
        (Node::Long(Some(Logical::TimestampMillis)), v) => A::TimestampMillis(v.as_i64().unwrap()),
        (Node::Long(Some(Logical::TimestampMicros)), v) => A::TimestampMicros(v.as_i64().unwrap()),
        (Node::Long(Some(Logical::TimeMicros)), v) => A::TimeMicros(v.as_i64().unwrap()),
        (Node::Long(_), v) => A::Long(v.as_i64().unwrap()),
        (Node::Float, v) => A::Float(v.as_f64().unwrap() as f32),
        (Node::Double, v) => A::Double(v.as_f64().unwrap()),
        (Node::String(_), Value::String(s)) => A::String(s.clone()),
        (Node::Bytes(Some(Logical::Decimal { .. })), Value::String(s)) => A::Decimal(latin1(s).into()),
        (Node::Bytes(_), Value::String(s)) => A::Bytes(latin1(s)),
        (Node::Fixed(f), Value::String(s)) if f.logical.is_some() => A::Decimal(latin1(s).into()),
        (Node::Fixed(f), Value::String(s)) => A::Fixed(f.size, latin1(s)),
        (Node::Enum(e), Value::String(s)) => A::Enum(e.symbols.iter().position(|x| x == s).unwrap() as u32, s.clone()),
        (Node::Array(items), Value::Array(list)) => {
            A::Array(list.iter().map(|v| to_apache(schema, *items, v)).collect())
        }
        (Node::Map(values), Value::Object(map)) => A::Map(
            map.iter()
                .map(|(k, v)| (k.clone(), to_apache(schema, *values, v)))
                .collect(),
        ),
        (Node::Record(r), Value::Object(map)) => A::Record(
            r.fields
                .iter()
                .map(|f| (f.name.clone(), to_apache(schema, f.node, &map[&f.name])))
                .collect(),
        ),
        (Node::Union(u), Value::Null) => A::Union(u.null_branch().unwrap() as u32, Box::new(A::Null)),
        (Node::Union(u), Value::Object(map)) => {
            let (k, v) = map.iter().next().unwrap();
            let i = u.find(k).unwrap();
            A::Union(i as u32, Box::new(to_apache(schema, u.branches[i], v)))
        }
        (node, v) => panic!("cannot convert {v} for {}", node.type_name()),
    }
}

/// The leaf values of a value, in the order an encode plan for its shape
/// takes them (the plan's traversal: fields in order, chosen branches).
pub fn datums_of(schema: &AvroSchema, id: usize, value: &Value, out: &mut Vec<flowharness::codec::plan::OwnedDatum>) {
    use flowharness::codec::plan::OwnedDatum as D;
    use flowharness::schema::avro::Node;
    let latin1 = |s: &str| s.chars().map(|c| c as u8).collect::<Vec<u8>>();
    match (schema.node(id), value) {
        (Node::Null, _) => {}
        (Node::Boolean, Value::Bool(b)) => out.push(D::Boolean(*b)),
        (Node::Int(_), v) => out.push(D::Int(v.as_i64().unwrap() as i32)),
        (Node::Long(_), v) => out.push(D::Long(v.as_i64().unwrap())),
        (Node::Float, v) => out.push(D::Float(v.as_f64().unwrap() as f32)),
        (Node::Double, v) => out.push(D::Double(v.as_f64().unwrap())),
        (Node::String(_), Value::String(s)) => out.push(D::Str(s.clone())),
        (Node::Bytes(_) | Node::Fixed(_), Value::String(s)) => out.push(D::Bytes(latin1(s))),
        (Node::Enum(e), Value::String(s)) => out.push(D::Enum(e.symbols.iter().position(|x| x == s).unwrap() as u32)),
        (Node::Record(r), Value::Object(map)) => {
            for f in &r.fields {
                datums_of(schema, f.node, &map[&f.name], out);
            }
        }
        (Node::Union(u), Value::Null) if u.branches.len() == 2 => out.push(D::Null),
        (Node::Union(u), Value::Object(map)) => {
            let (k, v) = map.iter().next().unwrap();
            let i = u.find(k).unwrap();
            datums_of(schema, u.branches[i], v, out);
        }
        (node, v) => panic!("no datums for {v} as {}", node.type_name()),
    }
}

/// The short branch name of a migration event value.
pub fn branch_of(value: &Value) -> String {
    let key = value["event"].as_object().unwrap().keys().next().unwrap();
    key.rsplit('.').next().unwrap().to_string()
}

/// Sends SIGINT (Ctrl-C) to `child` and waits for it to exit, failing the
/// test if it takes longer than `within`. Returns the exit code.
pub fn interrupt(child: &mut std::process::Child, within: std::time::Duration) -> Option<i32> {
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success(), "kill -INT {}", child.id());
    let began = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code();
        }
        assert!(began.elapsed() < within, "no exit within {within:?} of Ctrl-C");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Runs the command line in-process: exit code, stdout and stderr, with
/// `fixtures/` and `schemas/` arguments resolved in the repository and the
/// repository's path taken out of the output.
pub fn flowharness(args: &[&str]) -> (i32, String, String) {
    let mut argv = vec!["flowharness".to_string()];
    argv.extend(args.iter().map(|a| {
        if a.starts_with("fixtures/") || a.starts_with("schemas/") {
            repo_path(a).display().to_string()
        } else {
            a.to_string()
        }
    }));
    let cli = <flowharness::cli::Cli as clap::Parser>::try_parse_from(argv).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = flowharness::cli::run(cli, &mut out, &mut err);
    let root = format!("{}/", env!("CARGO_MANIFEST_DIR"));
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap().replace(&root, "");
    (code, text(out), text(err))
}

/// Generator options: `flows` flows of `mix` (empty: every path alike),
/// with the built-in hints at a fixed "now".
pub fn flow_options(
    spec: &flowharness::flow::FlowSpec,
    flows: usize,
    mix: &str,
) -> flowharness::flow::generator::FlowOptions {
    let mix = if mix.is_empty() {
        flowharness::flow::generator::Mix::uniform(spec)
    } else {
        flowharness::flow::generator::Mix::parse(spec, mix).unwrap()
    };
    flowharness::flow::generator::FlowOptions {
        flows,
        mix,
        hints: std::sync::Arc::new(flowharness::generate::hints::Hints::builtin(1_790_000_000_000)),
        jitter: 0.5,
        time_scale: 1.0,
    }
}
