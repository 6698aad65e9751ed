//! proptest strategies yielding valid Avro JSON values for any Avro schema.
//! Recursive named types are bounded by depth: at the bound every node
//! takes its smallest value (the null branch, an empty array, ...).

use std::sync::Arc;

use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Just, Union};
use serde_json::{Map, Value};

use crate::schema::avro::{AvroSchema, Logical, Node, NodeId};

/// How deep a value may nest before every node takes its smallest value.
pub const DEFAULT_DEPTH: u32 = 4;

/// A strategy for values of the schema's root type.
pub fn strategy(schema: &Arc<AvroSchema>) -> BoxedStrategy<Value> {
    node_strategy(schema, schema.root(), DEFAULT_DEPTH)
}

/// A strategy for values of one node, nesting at most `depth` levels.
pub fn node_strategy(schema: &Arc<AvroSchema>, id: NodeId, depth: u32) -> BoxedStrategy<Value> {
    if depth == 0 {
        return Just(smallest(schema, id, &mut Vec::new())).boxed();
    }
    let child = |id: NodeId| node_strategy(schema, id, depth - 1);
    match schema.node(id) {
        Node::Null => Just(Value::Null).boxed(),
        Node::Boolean => any::<bool>().prop_map(Value::Bool).boxed(),
        Node::Int(logical) => int_strategy(*logical),
        Node::Long(logical) => long_strategy(*logical),
        Node::Float => any::<f32>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| Value::from(f64::from(f)))
            .boxed(),
        Node::Double => any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from)
            .boxed(),
        Node::String(Some(Logical::Uuid)) => uuid_strategy(),
        Node::String(_) => any::<String>().prop_map(Value::String).boxed(),
        Node::Bytes(_) => proptest::collection::vec(any::<u8>(), 0..24).prop_map(latin1).boxed(),
        Node::Fixed(f) => proptest::collection::vec(any::<u8>(), f.size).prop_map(latin1).boxed(),
        Node::Enum(e) => proptest::sample::select(e.symbols.clone())
            .prop_map(Value::String)
            .boxed(),
        Node::Array(items) => proptest::collection::vec(child(*items), 0..4)
            .prop_map(Value::Array)
            .boxed(),
        Node::Map(values) => proptest::collection::vec(("[a-z]{1,6}", child(*values)), 0..4)
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect()))
            .boxed(),
        Node::Record(record) => {
            let names: Vec<String> = record.fields.iter().map(|f| f.name.clone()).collect();
            let fields: Vec<BoxedStrategy<Value>> = record.fields.iter().map(|f| child(f.node)).collect();
            fields
                .prop_map(move |values| {
                    Value::Object(names.iter().cloned().zip(values).collect::<Map<String, Value>>())
                })
                .boxed()
        }
        Node::Union(union) => {
            let branches: Vec<BoxedStrategy<Value>> = union
                .branches
                .iter()
                .zip(&union.keys)
                .map(|(branch, key)| {
                    if key.full == "null" {
                        return Just(Value::Null).boxed();
                    }
                    let key = key.full.clone();
                    child(*branch).prop_map(move |v| wrap(&key, v)).boxed()
                })
                .collect();
            Union::new(branches).boxed()
        }
    }
}

fn wrap(key: &str, value: Value) -> Value {
    let mut map = Map::with_capacity(1);
    map.insert(key.to_string(), value);
    Value::Object(map)
}

fn latin1(bytes: Vec<u8>) -> Value {
    Value::String(bytes.into_iter().map(char::from).collect())
}

fn int_strategy(logical: Option<Logical>) -> BoxedStrategy<Value> {
    match logical {
        // 1970 to about 2106.
        Some(Logical::Date) => (0i32..50_000).prop_map(Value::from).boxed(),
        Some(Logical::TimeMillis) => (0i32..86_400_000).prop_map(Value::from).boxed(),
        _ => any::<i32>().prop_map(Value::from).boxed(),
    }
}

fn long_strategy(logical: Option<Logical>) -> BoxedStrategy<Value> {
    match logical {
        Some(Logical::TimestampMillis | Logical::LocalTimestampMillis) => {
            (0i64..4_102_444_800_000).prop_map(Value::from).boxed()
        }
        Some(Logical::TimestampMicros | Logical::LocalTimestampMicros) => {
            (0i64..4_102_444_800_000_000).prop_map(Value::from).boxed()
        }
        Some(Logical::TimeMicros) => (0i64..86_400_000_000).prop_map(Value::from).boxed(),
        _ => any::<i64>().prop_map(Value::from).boxed(),
    }
}

fn uuid_strategy() -> BoxedStrategy<Value> {
    any::<u128>()
        .prop_map(|n| {
            let h = format!("{n:032x}");
            Value::String(format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            ))
        })
        .boxed()
}

/// The smallest valid value of a node: the null or first terminating union
/// branch, empty collections, zero numbers.
pub fn smallest(schema: &AvroSchema, id: NodeId, stack: &mut Vec<NodeId>) -> Value {
    stack.push(id);
    let value = match schema.node(id) {
        Node::Null => Value::Null,
        Node::Boolean => Value::Bool(false),
        Node::Int(_) | Node::Long(_) => Value::from(0),
        Node::Float | Node::Double => Value::from(0.0),
        Node::String(Some(Logical::Uuid)) => Value::String("00000000-0000-0000-0000-000000000000".into()),
        Node::String(_) | Node::Bytes(_) => Value::String(String::new()),
        Node::Fixed(f) => Value::String("\0".repeat(f.size)),
        Node::Enum(e) => Value::String(e.symbols.first().cloned().unwrap_or_default()),
        Node::Array(_) => Value::Array(Vec::new()),
        Node::Map(_) => Value::Object(Map::new()),
        Node::Record(record) => Value::Object(
            record
                .fields
                .iter()
                .map(|f| (f.name.clone(), smallest(schema, f.node, stack)))
                .collect(),
        ),
        Node::Union(union) => {
            // Prefer null, then a branch not already being built above us.
            let pick = union
                .null_branch()
                .or_else(|| union.branches.iter().position(|b| !stack.contains(b)))
                .unwrap_or(0);
            if union.keys[pick].full == "null" {
                Value::Null
            } else {
                wrap(&union.keys[pick].full, smallest(schema, union.branches[pick], stack))
            }
        }
    };
    stack.pop();
    value
}
