//! Direct samplers: realistic Avro JSON values drawn straight from a
//! random generator, with the same choices as the realistic strategies
//! (`pinned_strategy`): the same hints, pins, ranges, branches and depth
//! bound, but no proptest value tree built and copied out per value.
//!
//! This is what flow generation draws event values from where a state's
//! values are never shrunk one by one (a flow set shrinks by its shape,
//! and its values come from one seed), so a value tree is pure cost. A
//! schema the samplers cannot draw from (a regex hint) has none, and its
//! values come from the strategy as before.

use crate::num::Cast as _;

use rand::RngExt;
use serde_json::{Map, Value};

use super::avro::{
    Pin, RangeFit, by_type, chosen_branches, decimal_limit, decimal_value, fake_fits, join, latin1, pinned_value,
    range_fit, smallest, wrap,
};
use super::fakes::{Fake, Rng};
use super::hints::{Hint, Hints};
use crate::codec::avro_json;
use crate::schema::avro::{AvroSchema, Logical, Node, NodeId};

/// Draws one kind of value.
#[derive(Debug, Clone)]
pub enum Sampler {
    Const(Value),
    Bool,
    /// A whole number in the inclusive range.
    Int(i64, i64),
    /// A number in the inclusive range.
    Real(f64, f64),
    /// Hundredths from 0 to 999.99, as the nearest `f32` (an Avro float).
    Cents32,
    /// Hundredths from 0 to 999.99.
    Cents,
    Fake(Fake, i64),
    /// 0 to 23 bytes, or exactly this many.
    Bytes(Option<usize>),
    Decimal(u32, Option<usize>),
    Select(Vec<Value>),
    /// 0 to 3 items.
    Array(Box<Sampler>),
    /// 0 to 3 entries under keys of 1 to 6 lower-case letters.
    Map(Box<Sampler>),
    Record(Vec<(String, Sampler)>),
    /// One of the branches, equally likely.
    Union(Vec<Sampler>),
    /// The inner value under a union branch's key.
    Wrap(String, Box<Sampler>),
}

impl Sampler {
    /// One value.
    pub fn sample(&self, rng: &mut Rng) -> Value {
        match self {
            Sampler::Const(v) => v.clone(),
            Sampler::Bool => Value::Bool(rng.random()),
            Sampler::Int(lo, hi) => Value::from(rng.random_range(*lo..=*hi)),
            Sampler::Real(lo, hi) => Value::from(rng.random_range(*lo..=*hi)),
            Sampler::Cents32 => Value::from(f64::from(rng.random_range(0u32..100_000).to_f32() / 100.0)),
            Sampler::Cents => Value::from(f64::from(rng.random_range(0u32..100_000)) / 100.0),
            Sampler::Fake(fake, now_ms) => fake.sample(rng, *now_ms),
            Sampler::Bytes(size) => {
                let n = size.unwrap_or_else(|| rng.random_range(0..24));
                latin1((0..n).map(|_| rng.random::<u8>()).collect())
            }
            Sampler::Decimal(precision, fixed) => {
                let limit = decimal_limit(*precision);
                decimal_value(rng.random_range(-limit..=limit), *fixed)
            }
            Sampler::Select(values) => values[rng.random_range(0..values.len())].clone(),
            Sampler::Array(items) => {
                let n = rng.random_range(0..4);
                Value::Array((0..n).map(|_| items.sample(rng)).collect())
            }
            Sampler::Map(values) => {
                let n = rng.random_range(0..4);
                let mut map = Map::new();
                for _ in 0..n {
                    let len = rng.random_range(1..=6);
                    let key: String = (0..len).map(|_| char::from(b'a' + rng.random_range(0..26u8))).collect();
                    map.insert(key, values.sample(rng));
                }
                Value::Object(map)
            }
            Sampler::Record(fields) => {
                let mut map = Map::with_capacity(fields.len());
                for (name, field) in fields {
                    map.insert(name.clone(), field.sample(rng));
                }
                Value::Object(map)
            }
            Sampler::Union(branches) => branches[rng.random_range(0..branches.len())].sample(rng),
            Sampler::Wrap(key, inner) => wrap(key, inner.sample(rng)),
        }
    }
}

impl Sampler {
    /// One value, written over `out`: the same value [`Sampler::sample`]
    /// draws with the same random stream, reusing what `out` already holds
    /// where it has the same shape (a record's field names in order, a
    /// union branch's key, a string's buffer), so a value drawn over one
    /// of the same state costs no field-name copies, map hashing or string
    /// allocations. Where the shape differs, that part is drawn anew.
    pub fn sample_into(&self, rng: &mut Rng, out: &mut Value) {
        match (self, &mut *out) {
            (Sampler::Fake(fake, now_ms), out) => fake.sample_into(rng, *now_ms, out),
            (Sampler::Select(values), Value::String(s)) => match &values[rng.random_range(0..values.len())] {
                Value::String(picked) => picked.clone_into(s),
                other => *out = other.clone(),
            },
            (Sampler::Array(items), Value::Array(list)) => {
                let n = rng.random_range(0..4);
                list.truncate(n);
                for item in list.iter_mut() {
                    items.sample_into(rng, item);
                }
                while list.len() < n {
                    list.push(items.sample(rng));
                }
            }
            (Sampler::Record(fields), Value::Object(map))
                if map.len() == fields.len() && map.keys().zip(fields).all(|(k, (name, _))| k == name) =>
            {
                for ((_, field), value) in fields.iter().zip(map.values_mut()) {
                    field.sample_into(rng, value);
                }
            }
            (Sampler::Union(branches), out) => branches[rng.random_range(0..branches.len())].sample_into(rng, out),
            (Sampler::Wrap(key, inner), Value::Object(map)) if map.len() == 1 && map.keys().next() == Some(key) => {
                if let Some(value) = map.values_mut().next() {
                    inner.sample_into(rng, value);
                }
            }
            (sampler, out) => *out = sampler.sample(rng),
        }
    }
}

/// The sampler of `pinned_strategy(schema, hints, pins)`, or `None` where
/// a node needs what only the strategy has (a regex hint) or a hint does
/// not fit (the strategy reports that).
pub fn pinned_sampler(schema: &AvroSchema, hints: &Hints, pins: &[(String, Pin)]) -> Option<Sampler> {
    let mut builder = Builder {
        schema,
        hints,
        pins,
        building: Vec::new(),
    };
    builder.build(schema.root(), "", super::avro::DEFAULT_DEPTH)
}

struct Builder<'a> {
    schema: &'a AvroSchema,
    hints: &'a Hints,
    pins: &'a [(String, Pin)],
    /// Records being built, outermost first.
    building: Vec<NodeId>,
}

impl Builder<'_> {
    fn build(&mut self, id: NodeId, path: &str, depth: u32) -> Option<Sampler> {
        let schema = self.schema;
        let pin = self.pins.iter().find(|(p, _)| p == path).map(|(_, pin)| pin);
        if let Some(Pin::Value(v)) = pin {
            return Some(Sampler::Const(pinned_value(schema, id, v)));
        }
        if depth == 0 && pin.is_none() {
            return Some(Sampler::Const(smallest(schema, id, &mut Vec::new())));
        }
        if pin.is_none()
            && let Some(s) = self.hinted(id, path)?
        {
            return Some(s);
        }
        Some(match schema.node(id) {
            Node::Null => Sampler::Const(Value::Null),
            Node::Boolean => Sampler::Bool,
            Node::Int(None) => Sampler::Int(0, 9_999),
            Node::Long(None) => Sampler::Int(0, 999_999),
            Node::Float => Sampler::Cents32,
            Node::Double => Sampler::Cents,
            Node::Int(Some(Logical::Date)) => Sampler::Int(0, 49_999),
            Node::Int(Some(Logical::TimeMillis)) => Sampler::Int(0, 86_399_999),
            Node::Int(_) => Sampler::Int(i32::MIN.into(), i32::MAX.into()),
            Node::Long(Some(Logical::TimestampMillis | Logical::LocalTimestampMillis)) => {
                Sampler::Int(0, 4_102_444_799_999)
            }
            Node::Long(Some(Logical::TimestampMicros | Logical::LocalTimestampMicros)) => {
                Sampler::Int(0, 4_102_444_799_999_999)
            }
            Node::Long(Some(Logical::TimeMicros)) => Sampler::Int(0, 86_399_999_999),
            Node::Long(_) => Sampler::Int(i64::MIN, i64::MAX),
            Node::String(Some(Logical::Uuid)) => Sampler::Fake(Fake::Uuid, self.hints.now_ms),
            Node::String(_) => Sampler::Fake(Fake::Words(1, 3), 0),
            Node::Bytes(Some(Logical::Decimal { precision, .. })) => Sampler::Decimal(*precision, None),
            Node::Bytes(_) => Sampler::Bytes(None),
            Node::Fixed(f) => match f.logical {
                Some(Logical::Decimal { precision, .. }) => Sampler::Decimal(precision, Some(f.size)),
                _ => Sampler::Bytes(Some(f.size)),
            },
            Node::Enum(e) if e.symbols.is_empty() => return None,
            Node::Enum(e) => Sampler::Select(e.symbols.iter().cloned().map(Value::String).collect()),
            Node::Array(items) => Sampler::Array(Box::new(self.build(*items, &format!("{path}[]"), depth - 1)?)),
            Node::Map(values) => Sampler::Map(Box::new(self.build(*values, &format!("{path}{{}}"), depth - 1)?)),
            Node::Record(record) => {
                // Only re-entering a record already being built (recursion)
                // counts toward the depth bound.
                let inner = if self.building.contains(&id) { depth - 1 } else { depth };
                self.building.push(id);
                let fields = record
                    .fields
                    .iter()
                    .map(|f| Some((f.name.clone(), self.build(f.node, &join(path, &f.name), inner)?)))
                    .collect::<Option<Vec<_>>>();
                self.building.pop();
                Sampler::Record(fields?)
            }
            Node::Union(union) => {
                let pinned = match pin {
                    Some(Pin::Branch(b)) => Some(b.as_str()),
                    _ => None,
                };
                let chosen = chosen_branches(union, pinned);
                let mut branches = Vec::with_capacity(chosen.len());
                for i in chosen {
                    let key = &union.keys[i];
                    if key.full == "null" {
                        branches.push(Sampler::Const(Value::Null));
                        continue;
                    }
                    let inner = match schema.node(union.branches[i]).name() {
                        Some(_) => join(path, &key.short),
                        None => path.to_string(),
                    };
                    let value = self.build(union.branches[i], &inner, depth)?;
                    branches.push(Sampler::Wrap(key.full.clone(), Box::new(value)));
                }
                if branches.is_empty() {
                    return None;
                }
                Sampler::Union(branches)
            }
        })
    }

    /// As the strategy builder's `hinted`: the best hint that fits, else a
    /// realistic sampler for a logical type. `None` (outer) when a hint
    /// needs the strategy, or a user's hint does not fit.
    fn hinted(&self, id: NodeId, path: &str) -> Option<Option<Sampler>> {
        let schema = self.schema;
        let now_ms = self.hints.now_ms;
        for m in self.hints.lookup(path) {
            if matches!(m.hint, Hint::Regex(_)) && matches!(schema.node(id), Node::String(None)) {
                return None;
            }
            match hint_sampler(schema, id, m.hint, now_ms) {
                Some(s) => return Some(Some(s)),
                None if m.user => return None,
                None => {}
            }
        }
        Some(by_type(schema.node(id)).map(|f| Sampler::Fake(f, now_ms)))
    }
}

/// A hint's sampler for a node, when the hint fits the node's type (as the
/// strategy builder's `hint_strategy` decides).
fn hint_sampler(schema: &AvroSchema, id: NodeId, hint: &Hint, now_ms: i64) -> Option<Sampler> {
    let valid = |v: &Value| avro_json::validate_node(schema, id, v).is_empty();
    match hint {
        Hint::Constant(v) => valid(v).then(|| Sampler::Const(v.clone())),
        Hint::OneOf(list) => (!list.is_empty() && list.iter().all(valid)).then(|| Sampler::Select(list.clone())),
        Hint::Regex(_) => None,
        Hint::Range(min, max) if min > max => None,
        Hint::Range(min, max) => match range_fit(schema.node(id), *min, *max)? {
            RangeFit::Whole(lo, hi) => Some(Sampler::Int(lo, hi)),
            RangeFit::Real(lo, hi) => Some(Sampler::Real(lo, hi)),
        },
        Hint::Fake(f) => fake_fits(schema, id, f).then(|| Sampler::Fake(f.clone(), now_ms)),
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use serde_json::json;

    use super::*;
    use crate::schema::avro_parse::parse_value;

    /// An envelope with a payload union of three records, one of them
    /// nesting an array, a map, a nullable decimal and an enum.
    fn envelope() -> AvroSchema {
        parse_value(&json!({
            "type": "record", "name": "Envelope", "namespace": "shop.events",
            "fields": [
                {"name": "eventId", "type": {"type": "string", "logicalType": "uuid"}},
                {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
                {"name": "payload", "type": [
                    {"type": "record", "name": "OrderPlaced", "fields": [
                        {"name": "orderId", "type": "string"},
                        {"name": "lines", "type": {"type": "array", "items": {"type": "record", "name": "Line", "fields": [
                            {"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}]}}},
                        {"name": "tags", "type": {"type": "map", "values": "string"}},
                        {"name": "total", "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}]},
                        {"name": "channel", "type": {"type": "enum", "name": "Channel", "symbols": ["WEB", "STORE"]}}
                    ]},
                    {"type": "record", "name": "OrderShipped", "fields": [
                        {"name": "orderId", "type": "string"}, {"name": "carrier", "type": ["null", "string"]}]},
                    {"type": "record", "name": "OrderCancelled", "fields": [
                        {"name": "orderId", "type": "string"}, {"name": "reason", "type": "string"}]}
                ]}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn samples_are_valid_and_keep_their_pins() {
        let schema = envelope();
        let hints = Hints::builtin(1_790_000_000_000).with("orderId", Hint::Fake(Fake::Digits(8)));
        let mut rng = Rng::seed_from_u64(3);
        let free = pinned_sampler(&schema, &hints, &[]).unwrap();
        let mut branches = std::collections::BTreeSet::new();
        for _ in 0..300 {
            let v = free.sample(&mut rng);
            assert!(avro_json::validate(&schema, &v).is_empty(), "{v}");
            branches.extend(v["payload"].as_object().unwrap().keys().cloned());
        }
        assert_eq!(branches.len(), 3, "every branch is drawn: {branches:?}");
        let pins = [("payload".to_string(), Pin::Branch("OrderShipped".into()))];
        let shipped = pinned_sampler(&schema, &hints, &pins).unwrap();
        for _ in 0..100 {
            let v = shipped.sample(&mut rng);
            assert!(avro_json::validate(&schema, &v).is_empty(), "{v}");
            let id = v["payload"]["shop.events.OrderShipped"]["orderId"].as_str().unwrap();
            assert!(id.len() == 8 && id.bytes().all(|b| b.is_ascii_digit()), "{id}");
        }
    }

    #[test]
    fn drawing_over_a_value_draws_what_a_fresh_draw_would() {
        // Over values of every shape (the same branch, another branch, a
        // value moved out): the same stream gives the same values, and
        // writing over one leaves nothing of the old behind.
        let schema = envelope();
        let sampler = pinned_sampler(&schema, &Hints::builtin(1_790_000_000_000), &[]).unwrap();
        let (mut fresh, mut over) = (Rng::seed_from_u64(11), Rng::seed_from_u64(11));
        let mut kept: Vec<Value> = vec![Value::Null, json!({"payload": "not a record"})];
        let mut reused = 0;
        for i in 0..600 {
            let expected = sampler.sample(&mut fresh);
            let mut slot = kept.swap_remove(i % kept.len());
            let same_branch = slot["payload"].as_object().map(|m| m.keys().collect::<Vec<_>>())
                == expected["payload"].as_object().map(|m| m.keys().collect::<Vec<_>>());
            reused += usize::from(same_branch);
            sampler.sample_into(&mut over, &mut slot);
            assert_eq!(slot, expected, "draw {i}");
            kept.push(slot);
            kept.push(expected);
        }
        assert!(reused > 100, "values of the same branch were drawn over: {reused}");
    }

    #[test]
    fn an_enum_status_pinned_by_value() {
        let schema = parse_value(&json!({
            "type": "record", "name": "Loan", "fields": [
                {"name": "loanId", "type": "string"},
                {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["REQUESTED", "LENT", "RETURNED"]}},
                {"name": "days", "type": "int"}
            ]
        }))
        .unwrap();
        let hints = Hints::builtin(0).with("days", Hint::Range(1.0, 28.0));
        let pins = [("status".to_string(), Pin::Value(json!("LENT")))];
        let sampler = pinned_sampler(&schema, &hints, &pins).unwrap();
        let mut rng = Rng::seed_from_u64(9);
        for _ in 0..200 {
            let v = sampler.sample(&mut rng);
            assert!(avro_json::validate(&schema, &v).is_empty(), "{v}");
            assert_eq!(v["status"], "LENT");
            assert!((1..=28).contains(&v["days"].as_i64().unwrap()), "{v}");
        }
    }

    #[test]
    fn a_regex_hint_leaves_the_strategy_to_draw() {
        let schema = envelope();
        let hints = Hints::builtin(0).with("payload.OrderCancelled.reason", Hint::Regex("[A-Z]{3}".into()));
        assert!(pinned_sampler(&schema, &hints, &[]).is_none());
        let elsewhere = Hints::builtin(0).with("nothing.here", Hint::Regex("[A-Z]{3}".into()));
        assert!(pinned_sampler(&schema, &elsewhere, &[]).is_some());
    }
}
