//! proptest strategies yielding valid Avro JSON values for any Avro schema.
//! Recursion (a record inside itself) and collections are bounded by depth:
//! at the bound every node takes its smallest value (the null branch, an
//! empty array, ...).

use crate::num::Cast as _;
use std::cell::RefCell;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Just, Union};
use serde_json::{Map, Value};

use rand::SeedableRng;

use super::fakes::{Fake, Rng, Yields};
use super::hints::{Hint, Hints};
use crate::codec::avro_json;
use crate::error::{Diagnostic, Error};
use crate::schema::avro::{AvroSchema, BranchKey, Logical, Node, NodeId, Union as AvroUnion};

/// How deep a value may nest before every node takes its smallest value.
pub const DEFAULT_DEPTH: u32 = 4;

/// A strategy for arbitrary values of the schema's root type: any strings,
/// any numbers. For codec property tests.
pub fn strategy(schema: &Arc<AvroSchema>) -> BoxedStrategy<Value> {
    node_strategy(schema, schema.root(), DEFAULT_DEPTH)
}

/// A strategy for arbitrary values of one node, nesting at most `depth` levels.
pub fn node_strategy(schema: &Arc<AvroSchema>, id: NodeId, depth: u32) -> BoxedStrategy<Value> {
    let builder = Builder {
        schema,
        hints: None,
        branch: None,
        pins: &[],
        building: RefCell::new(Vec::new()),
    };
    // Without hints nothing can fail.
    builder
        .node(id, "", depth)
        .unwrap_or_else(|_| Just(Value::Null).boxed())
}

/// A strategy for realistic values: fields filled by `hints`, unions
/// restricted to `branch` (a short or full name) where they have it.
pub fn realistic_strategy(
    schema: &Arc<AvroSchema>,
    hints: &Arc<Hints>,
    branch: Option<&str>,
) -> Result<BoxedStrategy<Value>, Error> {
    if let Some(b) = branch {
        let known: Vec<&str> = schema
            .nodes()
            .iter()
            .filter_map(|n| match n {
                Node::Union(u) => Some(u.keys.iter().map(|k| k.short.as_str())),
                _ => None,
            })
            .flatten()
            .collect();
        if !known.iter().any(|k| *k == b || b.rsplit('.').next() == Some(k)) {
            return Err(Error::Usage(format!(
                "no union branch named {b:?} (branches: {})",
                known.join(", ")
            )));
        }
    }
    let builder = Builder {
        schema,
        hints: Some(hints),
        branch,
        pins: &[],
        building: RefCell::new(Vec::new()),
    };
    builder.node(schema.root(), "", DEFAULT_DEPTH).map_err(Error::invalid)
}

/// A value fixed while generating, at a field path (the hints' syntax:
/// `payload`, `status`, `envelope.body`).
#[derive(Debug, Clone, PartialEq)]
pub enum Pin {
    /// The union at the path takes this branch (short or full name).
    Branch(String),
    /// The field at the path holds this value (inside its nullable union, if any).
    Value(Value),
}

/// Realistic values with `pins` fixed by construction: a flow state's
/// union branch or enum value is built in, never drawn and filtered.
pub fn pinned_strategy(
    schema: &Arc<AvroSchema>,
    hints: &Arc<Hints>,
    pins: &[(String, Pin)],
) -> Result<BoxedStrategy<Value>, Error> {
    let builder = Builder {
        schema,
        hints: Some(hints),
        branch: None,
        pins,
        building: RefCell::new(Vec::new()),
    };
    builder.node(schema.root(), "", DEFAULT_DEPTH).map_err(Error::invalid)
}

struct Builder<'a> {
    schema: &'a Arc<AvroSchema>,
    hints: Option<&'a Arc<Hints>>,
    branch: Option<&'a str>,
    pins: &'a [(String, Pin)],
    /// Records being built, outermost first.
    building: RefCell<Vec<NodeId>>,
}

pub(super) fn join(path: &str, segment: &str) -> String {
    if path.is_empty() {
        segment.to_string()
    } else {
        format!("{path}.{segment}")
    }
}

impl Builder<'_> {
    fn node(&self, id: NodeId, path: &str, depth: u32) -> Result<BoxedStrategy<Value>, Diagnostic> {
        let schema = self.schema;
        let pin = self.pins.iter().find(|(p, _)| p == path).map(|(_, pin)| pin);
        if let Some(Pin::Value(v)) = pin {
            return Ok(Just(pinned_value(schema, id, v)).boxed());
        }
        if depth == 0 && pin.is_none() {
            return Ok(Just(smallest(schema, id, &mut Vec::new())).boxed());
        }
        if let Some(hints) = self.hints
            && pin.is_none()
            && let Some(s) = self.hinted(hints, id, path)?
        {
            return Ok(s);
        }
        Ok(match schema.node(id) {
            Node::Null => Just(Value::Null).boxed(),
            Node::Boolean => any::<bool>().prop_map(Value::Bool).boxed(),
            // Realistic numbers are moderate; arbitrary ones span the type.
            Node::Int(None) if self.hints.is_some() => (0i32..10_000).prop_map(Value::from).boxed(),
            Node::Long(None) if self.hints.is_some() => (0i64..1_000_000).prop_map(Value::from).boxed(),
            Node::Float if self.hints.is_some() => (0u32..100_000)
                .prop_map(|c| Value::from(f64::from(c.to_f32() / 100.0)))
                .boxed(),
            Node::Double if self.hints.is_some() => {
                (0u32..100_000).prop_map(|c| Value::from(f64::from(c) / 100.0)).boxed()
            }
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
            Node::String(_) if self.hints.is_some() => fake(Fake::Words(1, 3), 0),
            Node::String(_) => any::<String>().prop_map(Value::String).boxed(),
            Node::Bytes(Some(Logical::Decimal { precision, .. })) => decimal_strategy(*precision, None),
            Node::Bytes(_) => proptest::collection::vec(any::<u8>(), 0..24).prop_map(latin1).boxed(),
            Node::Fixed(f) => match f.logical {
                Some(Logical::Decimal { precision, .. }) => decimal_strategy(precision, Some(f.size)),
                _ => proptest::collection::vec(any::<u8>(), f.size).prop_map(latin1).boxed(),
            },
            Node::Enum(e) => proptest::sample::select(e.symbols.clone())
                .prop_map(Value::String)
                .boxed(),
            Node::Array(items) => {
                let items = self.node(*items, &format!("{path}[]"), depth - 1)?;
                proptest::collection::vec(items, 0..4).prop_map(Value::Array).boxed()
            }
            Node::Map(values) => {
                let values = self.node(*values, &format!("{path}{{}}"), depth - 1)?;
                proptest::collection::vec(("[a-z]{1,6}", values), 0..4)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect()))
                    .boxed()
            }
            Node::Record(record) => {
                let names: Vec<String> = record.fields.iter().map(|f| f.name.clone()).collect();
                // Only re-entering a record already being built (recursion)
                // counts toward the depth bound.
                let inner = if self.building.borrow().contains(&id) {
                    depth - 1
                } else {
                    depth
                };
                self.building.borrow_mut().push(id);
                let fields = record
                    .fields
                    .iter()
                    .map(|f| self.node(f.node, &join(path, &f.name), inner))
                    .collect::<Result<Vec<_>, _>>();
                self.building.borrow_mut().pop();
                let fields = fields?;
                fields
                    .prop_map(move |values| {
                        Value::Object(names.iter().cloned().zip(values).collect::<Map<String, Value>>())
                    })
                    .boxed()
            }
            Node::Union(union) => {
                let pinned = match pin {
                    Some(Pin::Branch(b)) => Some(b.as_str()),
                    _ => self.branch,
                };
                let chosen = chosen_branches(union, pinned);
                let mut branches = Vec::with_capacity(chosen.len());
                for i in chosen {
                    let key = &union.keys[i];
                    if key.full == "null" {
                        branches.push(Just(Value::Null).boxed());
                        continue;
                    }
                    // Named branches add their short name to the path; others do not,
                    // so a hint for a nullable field applies to its value.
                    let inner = match schema.node(union.branches[i]).name() {
                        Some(_) => join(path, &key.short),
                        None => path.to_string(),
                    };
                    let full = key.full.clone();
                    branches.push(
                        self.node(union.branches[i], &inner, depth)?
                            .prop_map(move |v| wrap(&full, v))
                            .boxed(),
                    );
                }
                Union::new(branches).boxed()
            }
        })
    }

    /// The strategy of the best hint that fits the node, if any. A user's
    /// hint that does not fit is an error naming the path and the key.
    fn hinted(&self, hints: &Hints, id: NodeId, path: &str) -> Result<Option<BoxedStrategy<Value>>, Diagnostic> {
        let schema = self.schema;
        let node = schema.node(id);
        for m in hints.lookup(path) {
            match hint_strategy(schema, id, m.hint, hints.now_ms) {
                Some(s) => return Ok(Some(s)),
                None if m.user => {
                    return Err(Diagnostic::new(format!(
                        "hint {:?} does not fit a field of type {}",
                        m.key,
                        schema.describe(id)
                    ))
                    .within(if path.is_empty() { "(root)" } else { path }));
                }
                None => {}
            }
        }
        Ok(by_type(node).map(|f| fake(f, hints.now_ms)))
    }
}

/// A strategy drawing a realistic value from a seed, so it shrinks toward
/// seed 0 and stays reproducible.
pub(crate) fn fake(generator: Fake, now_ms: i64) -> BoxedStrategy<Value> {
    any::<u64>()
        .prop_map(move |seed| generator.sample(&mut Rng::seed_from_u64(seed), now_ms))
        .boxed()
}

/// A hint's strategy for a node, when the hint fits the node's type.
fn hint_strategy(schema: &AvroSchema, id: NodeId, hint: &Hint, now_ms: i64) -> Option<BoxedStrategy<Value>> {
    let node = schema.node(id);
    let valid = |v: &Value| avro_json::validate_node(schema, id, v).is_empty();
    match hint {
        Hint::Constant(v) => valid(v).then(|| Just(v.clone()).boxed()),
        Hint::OneOf(list) => list
            .iter()
            .all(valid)
            .then(|| proptest::sample::select(list.clone()).boxed()),
        Hint::Regex(r) => match node {
            Node::String(None) => proptest::string::string_regex(r)
                .ok()
                .map(|s| s.prop_map(Value::String).boxed()),
            _ => None,
        },
        Hint::Range(min, max) => match range_fit(node, *min, *max)? {
            RangeFit::Whole(lo, hi) => Some((lo..=hi).prop_map(Value::from).boxed()),
            RangeFit::Real(lo, hi) => Some((lo..=hi).prop_map(Value::from).boxed()),
        },
        Hint::Fake(f) => fake_fits(schema, id, f).then(|| fake(f.clone(), now_ms)),
    }
}

/// The union branches a value may take: those named `pinned` (short or
/// full name) where the union has it, else all of them.
pub(super) fn chosen_branches(union: &AvroUnion, pinned: Option<&str>) -> Vec<usize> {
    let named = |k: &BranchKey| pinned.is_some_and(|b| k.full == b || k.short == b);
    if union.keys.iter().any(named) {
        (0..union.keys.len()).filter(|i| named(&union.keys[*i])).collect()
    } else {
        (0..union.branches.len()).collect()
    }
}

/// A realistic generator for a node by its logical type alone: dates and
/// timestamps near now, not random epochs; UUIDs.
pub(super) fn by_type(node: &Node) -> Option<Fake> {
    match node.logical() {
        Some(Logical::TimestampMillis | Logical::LocalTimestampMillis) => Some(Fake::TimestampMillis(30)),
        Some(Logical::TimestampMicros | Logical::LocalTimestampMicros) => Some(Fake::TimestampMicros(30)),
        Some(Logical::Date) => Some(Fake::Date(365)),
        Some(Logical::Uuid) => Some(Fake::Uuid),
        _ => None,
    }
}

/// A range hint's bounds as the node takes them.
pub(super) enum RangeFit {
    Whole(i64, i64),
    Real(f64, f64),
}

/// How a range hint fits a node, if it does.
pub(super) fn range_fit(node: &Node, min: f64, max: f64) -> Option<RangeFit> {
    match node {
        Node::Int(None) if min >= f64::from(i32::MIN) && max <= f64::from(i32::MAX) => {
            Some(RangeFit::Whole(min.sat_i64(), max.sat_i64()))
        }
        Node::Long(_) => Some(RangeFit::Whole(min.sat_i64(), max.sat_i64())),
        Node::Float | Node::Double => Some(RangeFit::Real(min, max)),
        _ => None,
    }
}

/// Whether a named generator's values fit the node's type.
pub(super) fn fake_fits(schema: &AvroSchema, id: NodeId, f: &Fake) -> bool {
    match (f.yields(), schema.node(id)) {
        (Yields::String, Node::String(Some(Logical::Uuid))) => *f == Fake::Uuid,
        (Yields::String, Node::String(None)) => true,
        (Yields::Integer, Node::Int(_)) => matches!(f, Fake::Date(_)),
        (Yields::Integer, Node::Long(_)) => true,
        (Yields::Object, Node::Map(values)) => matches!(schema.node(*values), Node::String(None)),
        _ => false,
    }
}

/// Decimal values: an unscaled integer within the precision, as minimal
/// big-endian two's complement (bytes) or sign-extended to the fixed size.
fn decimal_strategy(precision: u32, fixed: Option<usize>) -> BoxedStrategy<Value> {
    let limit = decimal_limit(precision);
    (-limit..=limit).prop_map(move |n| decimal_value(n, fixed)).boxed()
}

/// The largest unscaled value of a decimal of `precision` digits (at most 38).
pub(super) fn decimal_limit(precision: u32) -> i128 {
    10i128.pow(precision.min(38)) - 1
}

/// An unscaled decimal as minimal big-endian two's complement (bytes) or
/// sign-extended to the fixed size, in Avro JSON's Latin-1 string.
pub(super) fn decimal_value(n: i128, fixed: Option<usize>) -> Value {
    let full = n.to_be_bytes();
    let bytes: Vec<u8> = match fixed {
        Some(size) if size >= 16 => {
            let fill = if n < 0 { 0xff } else { 0 };
            std::iter::repeat_n(fill, size - 16).chain(full).collect()
        }
        Some(size) => full[16 - size..].to_vec(),
        None => {
            let mut start = 0;
            while start < 15
                && ((full[start] == 0 && full[start + 1] < 0x80) || (full[start] == 0xff && full[start + 1] >= 0x80))
            {
                start += 1;
            }
            full[start..].to_vec()
        }
    };
    latin1(bytes)
}

/// A pinned value in Avro JSON: wrapped in the branch of a union that holds it.
pub(super) fn pinned_value(schema: &AvroSchema, id: NodeId, v: &Value) -> Value {
    let Node::Union(u) = schema.node(id) else {
        return v.clone();
    };
    let holds = |n: &Node| match (n, v) {
        (Node::Enum(e), Value::String(s)) => e.symbols.contains(s),
        (Node::String(_), Value::String(_)) => true,
        (Node::Int(_) | Node::Long(_), Value::Number(n)) => n.is_i64(),
        (Node::Null, Value::Null) => true,
        _ => false,
    };
    match (0..u.branches.len()).find(|i| holds(schema.node(u.branches[*i]))) {
        Some(_) if v.is_null() => Value::Null,
        Some(i) => wrap(&u.keys[i].full, v.clone()),
        None => v.clone(),
    }
}

pub(super) fn wrap(key: &str, value: Value) -> Value {
    let mut map = Map::with_capacity(1);
    map.insert(key.to_string(), value);
    Value::Object(map)
}

pub(super) fn latin1(bytes: Vec<u8>) -> Value {
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
