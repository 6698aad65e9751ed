//! What each generated event's value is drawn from: per state, a
//! realistic strategy with the state built in, and for a flow across
//! topics, the state its key and id are drawn from.

use std::sync::Arc;

use proptest::strategy::{BoxedStrategy, Strategy as _, ValueTree};
use rand::{Rng as _, SeedableRng};
use serde_json::Value;

use super::spec::{FlowSpec, StateSource};
use crate::error::{Error, Result};
use crate::generate::avro::{self, Pin};
use crate::generate::avro_sampler::Sampler;
use crate::generate::fakes::Rng;
use crate::generate::hints::Hints;
use crate::generate::sample::{self, seeded_runner};
use crate::schema::{JsonSchema, Schema};

/// Realistic whole messages of one state, the state built in: its union
/// branch or its field's value is fixed while generating, never drawn
/// and filtered.
pub(crate) fn state_strategy(spec: &FlowSpec, hints: &Arc<Hints>, state: usize) -> Result<BoxedStrategy<Value>> {
    let selector = &spec.states[state].selector;
    let channel = &spec.channels[spec.states[state].channel];
    match (&channel.schema, &channel.state_source) {
        (Schema::Avro(avro), _) => avro::pinned_strategy(&Arc::new(avro.clone()), hints, &avro_pins(spec, state)),
        (Schema::Json(json), StateSource::Field(path)) => {
            let pinned = json_pinned(json.json(), path.text(), selector)?;
            crate::generate::json_schema::strategy(&Arc::new(pinned), hints)
        }
        (Schema::Protobuf(proto), StateSource::Field(path)) => {
            let pinned = json_pinned(proto.json(), path.text(), selector)?;
            crate::generate::json_schema::strategy(&Arc::new(pinned), hints)
        }
        (Schema::Protobuf(proto), StateSource::Oneof { holder, .. }) => {
            let member = spec.states[state].branch.as_deref().unwrap_or_default();
            let pinned = proto.pinned(holder.text(), member)?;
            crate::generate::json_schema::strategy(&Arc::new(pinned), hints)
        }
        (Schema::Json(_) | Schema::Protobuf(_), _) => sample::strategy(&channel.schema, hints, None),
    }
}

/// The direct sampler of [`state_strategy`]'s values, where there is one:
/// for an Avro channel whose hints need nothing only a strategy has.
/// JSON Schema and Protobuf channels draw from their strategies.
pub(crate) fn state_sampler(spec: &FlowSpec, hints: &Arc<Hints>, state: usize) -> Option<Sampler> {
    let channel = &spec.channels[spec.states[state].channel];
    let Schema::Avro(avro) = &channel.schema else {
        return None;
    };
    crate::generate::avro_sampler::pinned_sampler(avro, hints, &avro_pins(spec, state))
}

/// What an Avro state fixes while generating: its union branch, or its
/// field's value, at the state source's path (nothing for a single-state
/// channel).
fn avro_pins(spec: &FlowSpec, state: usize) -> Vec<(String, Pin)> {
    let st = &spec.states[state];
    match &spec.channels[st.channel].state_source {
        StateSource::Union(path) => vec![(path.hint_path(), Pin::Branch(st.branch.clone().unwrap_or_default()))],
        StateSource::Field(path) => vec![(path.hint_path(), Pin::Value(st.selector.clone()))],
        StateSource::Single | StateSource::Oneof { .. } => Vec::new(),
    }
}

/// The schema with the state field's value required: `allOf` gains
/// `{"required": [..], "properties": {.. {"const": value}}}` along the path.
fn json_pinned(root: &Value, path: &str, value: &Value) -> Result<JsonSchema> {
    let mut constraint = serde_json::json!({ "const": value });
    for segment in path.rsplit('.') {
        constraint = serde_json::json!({
            "type": "object",
            "required": [segment],
            "properties": { segment: constraint },
        });
    }
    let mut pinned = root.clone();
    match pinned.as_object_mut() {
        Some(obj) => match obj.get_mut("allOf").and_then(Value::as_array_mut) {
            Some(all) => all.push(constraint),
            None => {
                obj.insert("allOf".into(), Value::Array(vec![constraint]));
            }
        },
        None => return Err(Error::Usage("a state field needs an object schema".into())),
    }
    JsonSchema::from_value(pinned)
}

/// Copies the key and flow id fields of `from` (a value of state `f`) into
/// `to` (a value of state `t`).
pub(super) fn copy_ids(spec: &FlowSpec, from: &Value, f: usize, to: &mut Value, t: usize) {
    if let Some(k) = spec.key.get(from, f) {
        spec.key.set(to, t, k.clone());
    }
    for id in &spec.flow_id {
        if let Some(v) = id.get(from, f) {
            id.set(to, t, v.clone());
        }
    }
}

/// Where a flow's key and id should be drawn from when the start state's
/// own would break another state's schema: a flow across topics whose id
/// is free text on one (`truckId: string`) and patterned on another
/// (`^TR-[0-9]{4}$`). `None` when the start states' ids suit every state
/// (a flow on one schema, the usual case), so generation is unchanged.
/// Decided on a few samples from a fixed seed.
pub(super) fn id_donor(spec: &FlowSpec, strategies: &[BoxedStrategy<Value>]) -> Result<Option<usize>> {
    if spec.states.len() < 2 {
        return Ok(None);
    }
    let mut rng = Rng::seed_from_u64(0x1d5);
    let mut draw = |s: usize| -> Result<Value> {
        let mut runner = seeded_runner(rng.next_u64());
        strategies[s]
            .new_tree(&mut runner)
            .map(|t| t.current())
            .map_err(|e| Error::Usage(format!("generating {}: {e}", spec.states[s].name)))
    };
    let mut suits_all = |d: usize| -> Result<bool> {
        for _ in 0..6 {
            let given = draw(d)?;
            for t in (0..spec.states.len()).filter(|t| *t != d) {
                let mut value = draw(t)?;
                copy_ids(spec, &given, d, &mut value, t);
                if !spec.schema_of(t).validate(&value).is_empty() {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    };
    let mut starts_ok = true;
    for s in &spec.start {
        starts_ok &= suits_all(*s)?;
    }
    if starts_ok {
        return Ok(None);
    }
    for d in 0..spec.states.len() {
        if suits_all(d)? {
            return Ok(Some(d));
        }
    }
    Ok(None)
}
