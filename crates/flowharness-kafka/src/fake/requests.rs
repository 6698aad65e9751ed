//! Requests as a service under test would send them: drawn from the
//! rule's request schema (or the flow's request state), kept only where
//! the rule takes them, and encoded through the registry. For the BDD step
//! that sends one, and for `fake --bench`.

use crate::num::Cast as _;
use std::sync::Arc;

use serde_json::Value;

use super::answer::{Request, Responder};
use super::rules::{On, Rule, Target};
use crate::error::{Error, Result};
use crate::flow::FlowSpec;
use crate::flow::generator::{FlowGenerator, FlowOptions, FlowSetShape, StreamShape};
use crate::generate::hints::Hints;
use crate::kafka::Environment;
use crate::registry::SubjectStrategy;
use crate::verify::TopicEncoder;

/// A request to send: key, value and headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub key: Option<String>,
    pub value: Value,
    pub headers: Vec<(String, String)>,
}

/// `count` requests for `rule` (fewer if few drawn values pass its
/// `when`), each different.
pub fn sample(spec: &FlowSpec, rule: &Rule, hints: &Arc<Hints>, count: usize, seed: u64) -> Result<Vec<Outgoing>> {
    let drawn: Vec<Outgoing> = match &rule.on {
        On::State(s) => {
            let generator = FlowGenerator::new(
                spec,
                FlowOptions {
                    flows: 1,
                    mix: rule.mix.clone(),
                    hints: hints.clone(),
                    jitter: 0.5,
                    time_scale: 1.0,
                },
            )?;
            let mut out = Vec::with_capacity(count);
            for i in 0..count * 2 {
                let path = rule.mix.0[i % rule.mix.0.len()].0;
                let shape = FlowSetShape {
                    streams: vec![StreamShape {
                        path,
                        alternative: i.sat_u32(),
                    }],
                    interleave: Vec::new(),
                    values_seed: seed.wrapping_add(i.sat_u64()),
                };
                let events = generator.materialize(&shape)?;
                if let Some(k) = events
                    .into_iter()
                    .find(|k| spec.classify_on(spec.states()[*s].channel, &k.value) == Ok(*s))
                {
                    out.push(Outgoing {
                        key: Some(k.key),
                        headers: k.headers,
                        value: k.value,
                    });
                }
            }
            out
        }
        On::Record { schema, .. } => {
            let strategy = crate::generate::sample::strategy(schema, hints, None)?;
            let values = crate::generate::sample::values(&strategy, count * 2, seed)?;
            values
                .into_iter()
                .enumerate()
                .map(|(i, value)| Outgoing {
                    key: Some(key_for(spec, rule, &value).unwrap_or_else(|| format!("{:07}", 1_000_000 + i))),
                    value,
                    headers: Vec::new(),
                })
                .collect()
        }
    };
    Ok(drawn.into_iter().take(count).collect())
}

/// The key a request outside the flow carries: the value its rule copies
/// into the reply's key, where it copies one from a field.
fn key_for(spec: &FlowSpec, rule: &Rule, value: &Value) -> Option<String> {
    rule.copies.iter().find_map(|c| {
        let to_key = match &c.target {
            Target::Key => true,
            Target::Field { per_state, .. } => per_state.iter().enumerate().any(|(s, p)| {
                p.as_ref()
                    .is_some_and(|p| spec.key().at(s).is_some_and(|k| k.text() == p.text()))
            }),
            Target::Header(_) => false,
        };
        match (&c.source, to_key) {
            (super::rules::Source::Field(p), true) => p.get(value).map(crate::flow::fields::text),
            _ => None,
        }
    })
}

/// Whether `responder` takes the request on rule `index` (and not an earlier rule).
pub fn taken_by(responder: &Responder<'_>, rule: &Rule, index: usize, r: &Outgoing) -> bool {
    let headers = r.headers.clone();
    let record = match &rule.on {
        On::Record { schema, .. } => match schema.as_ref() {
            crate::schema::Schema::Avro(a) => a.root_name(),
            crate::schema::Schema::Json(_) => None,
            crate::schema::Schema::Protobuf(p) => Some(p.name().to_string()),
        },
        On::State(_) => None,
    };
    let request = Request {
        topic: &rule.topic,
        key: r.key.as_deref().map(str::as_bytes),
        headers: &headers,
        value: &r.value,
        record: record.as_deref(),
    };
    responder.rule_for(&request) == Some(index)
}

/// How a rule's requests are encoded: registered once.
pub fn encoder(env: &Environment, spec: &FlowSpec, rule: &Rule) -> Result<TopicEncoder> {
    match &rule.on {
        On::State(s) => {
            let ch = &spec.channels()[spec.states()[*s].channel];
            TopicEncoder::register(env, &rule.topic, &ch.schema, ch.records, SubjectStrategy::Topic)
        }
        On::Record { schema, .. } => TopicEncoder::register(env, &rule.topic, schema, false, SubjectStrategy::Topic),
    }
}

/// Fields set on a request: `path = value` pairs, values as JSON where they parse.
pub fn set_fields(rule: &Rule, spec: &FlowSpec, value: &mut Value, fields: &[(String, String)]) -> Result<()> {
    for (path, text) in fields {
        let compiled = match &rule.on {
            On::State(s) => spec.resolve(*s, path)?,
            On::Record { schema, .. } => crate::flow::path::compile(schema, crate::flow::path::Start::Root, path)
                .map_err(|e| Error::Usage(format!("{path}: {e}")))?,
        };
        let v = match compiled.leaf() {
            crate::flow::path::Leaf::String { .. } | crate::flow::path::Leaf::Enum => Value::String(text.clone()),
            _ => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone())),
        };
        compiled.set(value, v);
    }
    Ok(())
}
