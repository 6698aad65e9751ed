//! Checks a flow spec against its schema: every state names a union branch
//! (or the state field exists), and every field path the spec uses exists
//! in the bodies of the states it applies to.

use serde_json::Value;

use super::spec::{FlowSpec, Problems, StateSource};
use crate::schema::Schema;
use crate::schema::avro::{AvroSchema, Node, NodeId};

pub(super) fn check(spec: &FlowSpec, p: &mut Problems) {
    let bodies: Vec<Option<Body<'_>>> = match (&spec.schema, &spec.state_source) {
        (Schema::Avro(avro), StateSource::Union(field)) => avro_bodies(spec, avro, field, p),
        (Schema::Json(json), StateSource::Field(field)) => {
            if !json_has(json.json(), json.json(), &segments(field)) {
                p.add("state.field", format!("the schema has no field {field:?}"));
            }
            spec.states.iter().map(|_| Some(Body::Json(json.json()))).collect()
        }
        (Schema::Avro(_), StateSource::Field(_)) => {
            p.add("state", "for an Avro schema, name the union field: union = \"event\"");
            return;
        }
        (Schema::Json(_), StateSource::Union(_)) => {
            p.add(
                "state",
                "for a JSON Schema, name the state field: field = \"data.type\"",
            );
            return;
        }
    };
    let has = |state: usize, path: &str| bodies[state].as_ref().is_none_or(|b| b.has(path));
    let all = spec.states.len();
    let every = |key: &str, path: &str, p: &mut Problems| {
        if let Some(s) = (0..all).find(|s| !has(*s, path)) {
            p.add(
                key,
                format!("field {path:?} is missing from state {}", spec.states[s].name),
            );
        }
    };
    let some = |key: &str, path: &str, p: &mut Problems| {
        if !(0..all).any(|s| bodies[s].is_some() && has(s, path)) {
            p.add(key, format!("no state has a field {path:?}"));
        }
    };
    every("key", &spec.key, p);
    for (i, f) in spec.flow_id.iter().enumerate() {
        every(&format!("flow.id[{i}]"), f, p);
    }
    for (i, f) in spec.invariants.iter().enumerate() {
        some(&format!("flow.invariants[{i}]"), f, p);
    }
    for (i, f) in spec.unique.iter().enumerate() {
        some(&format!("flow.unique[{i}]"), f, p);
    }
    if let Some(t) = &spec.timing {
        for (i, f) in t.monotonic.iter().enumerate() {
            some(&format!("timing.monotonic[{i}]"), f, p);
        }
        for (s, st) in t.states.iter().enumerate() {
            let Some(st) = st else { continue };
            let name = &spec.states[s].name;
            if !has(s, &st.field) {
                p.add(
                    &format!("timing.states.{name}.field"),
                    format!("state {name} has no field {:?}", st.field),
                );
            }
            if !has(s, &t.anchor) {
                p.add(
                    "timing.anchor",
                    format!("state {name} has no anchor field {:?}", t.anchor),
                );
            }
        }
    }
    for (i, r) in spec.references.iter().enumerate() {
        if !has(r.state, &r.field) {
            p.add(
                &format!("references[{i}].field"),
                format!("state {} has no field {:?}", spec.states[r.state].name, r.field),
            );
        }
        if !has(r.target_state, &r.target_field) {
            let name = &spec.states[r.target_state].name;
            p.add(
                &format!("references[{i}].target_field"),
                format!("state {name} has no field {:?}", r.target_field),
            );
        }
    }
}

enum Body<'a> {
    Avro(&'a AvroSchema, NodeId),
    Json(&'a Value),
}

impl Body<'_> {
    fn has(&self, path: &str) -> bool {
        match self {
            Body::Avro(s, id) => avro_has(s, *id, &segments(path)),
            Body::Json(root) => json_has(root, root, &segments(path)),
        }
    }
}

fn segments(path: &str) -> Vec<(&str, bool)> {
    path.split('.')
        .map(|s| s.strip_suffix("[]").map_or((s, false), |n| (n, true)))
        .collect()
}

fn avro_bodies<'a>(spec: &FlowSpec, avro: &'a AvroSchema, field: &str, p: &mut Problems) -> Vec<Option<Body<'a>>> {
    let union = match avro.node(avro.root()) {
        Node::Record(r) => r.fields.iter().find(|f| f.name == field).map(|f| f.node),
        _ => None,
    };
    let Some(Node::Union(union)) = union.map(|id| avro.node(id)) else {
        p.add(
            "state.union",
            format!("the schema's root record has no union field {field:?}"),
        );
        return spec.states.iter().map(|_| None).collect();
    };
    spec.states
        .iter()
        .map(|s| {
            let branch = s
                .selector
                .as_str()
                .and_then(|sel| union.keys.iter().position(|k| k.short == sel || k.full == sel));
            match branch {
                Some(b) => Some(Body::Avro(avro, union.branches[b])),
                None => {
                    let known: Vec<&str> = union.keys.iter().map(|k| k.short.as_str()).collect();
                    p.add(
                        &format!("states.{}", s.name),
                        format!(
                            "union {field:?} has no branch {} (branches: {})",
                            s.selector,
                            known.join(", ")
                        ),
                    );
                    None
                }
            }
        })
        .collect()
}

fn avro_has(schema: &AvroSchema, id: NodeId, path: &[(&str, bool)]) -> bool {
    let Some(((name, items), rest)) = path.split_first() else {
        return true;
    };
    let record = match schema.node(id) {
        Node::Record(r) => Some(r),
        Node::Union(u) => u.branches.iter().find_map(|b| match schema.node(*b) {
            Node::Record(r) => Some(r),
            _ => None,
        }),
        _ => None,
    };
    let Some(field) = record.and_then(|r| r.fields.iter().find(|f| f.name == *name)) else {
        return false;
    };
    let mut node = field.node;
    if let Node::Union(u) = schema.node(node) {
        node = u
            .branches
            .iter()
            .copied()
            .find(|b| !matches!(schema.node(*b), Node::Null))
            .unwrap_or(node);
    }
    if *items {
        match schema.node(node) {
            Node::Array(i) => node = *i,
            _ => return false,
        }
    }
    avro_has(schema, node, rest)
}

/// Whether a JSON Schema describes the path anywhere: in `properties`,
/// through `$ref`, `allOf`/`anyOf`/`oneOf`, `then`/`else` and `items`.
fn json_has(root: &Value, schema: &Value, path: &[(&str, bool)]) -> bool {
    let Some(((name, items), rest)) = path.split_first() else {
        return true;
    };
    let mut stack = vec![schema];
    let mut seen = 0;
    while let Some(s) = stack.pop() {
        seen += 1;
        if seen > 512 {
            return false;
        }
        if let Some(Value::String(r)) = s.get("$ref")
            && let Some(target) = r.strip_prefix('#').and_then(|ptr| root.pointer(ptr))
        {
            stack.push(target);
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            stack.extend(s.get(key).and_then(Value::as_array).into_iter().flatten());
        }
        stack.extend(["then", "else"].iter().filter_map(|k| s.get(*k)));
        if let Some(sub) = s.get("properties").and_then(|ps| ps.get(*name)) {
            let target = if *items {
                sub.get("items")
                    .or_else(|| resolve(root, sub).and_then(|r| r.get("items")))
            } else {
                Some(sub)
            };
            if target.is_some_and(|t| json_has(root, t, rest)) {
                return true;
            }
        }
    }
    false
}

fn resolve<'a>(root: &'a Value, schema: &'a Value) -> Option<&'a Value> {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|ptr| root.pointer(ptr))
}
