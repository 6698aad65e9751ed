//! Checking one rule of a fake's rules file against the flow and the
//! request's schema: every problem at its key, nothing guessed.

use crate::num::Cast as _;
use std::sync::Arc;

use regex::Regex;

use super::rules::{Copy, Fault, On, Rule, RuleFile, Source, Target, Test};
use crate::error::Result;
use crate::flow::FlowSpec;
use crate::flow::generator::Mix;
use crate::flow::path::{self, MsgPath, Start};
use crate::generate::time::parse_duration_ms;
use crate::schema::Schema;

pub(super) fn topic_names(spec: &FlowSpec) -> String {
    spec.channels()
        .iter()
        .map(|c| c.topic.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn state_names(spec: &FlowSpec) -> String {
    spec.states()
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks one rule, reporting every problem at its key; `None` if any.
pub(super) fn check_rule(
    i: usize,
    r: &RuleFile,
    spec: &FlowSpec,
    name_topic: &dyn Fn(&str) -> String,
    load_schema: &dyn Fn(&str) -> Result<Schema>,
    at: &mut dyn FnMut(&str, String),
) -> Option<Rule> {
    let mut ok = true;
    let mut bad = |k: &str, m: String, ok: &mut bool| {
        at(k, m);
        *ok = false;
    };
    // What a request is.
    let on = match (&r.state, &r.schema) {
        (Some(_), Some(_)) => {
            bad(
                "state",
                "name a state of the flow or a schema, not both".into(),
                &mut ok,
            );
            None
        }
        (None, None) => {
            bad(
                "schema",
                "missing: the request's schema file (or `state`, for a request that is a state of the flow)".into(),
                &mut ok,
            );
            None
        }
        (Some(s), None) => match spec.states().iter().position(|st| &st.name == s) {
            Some(s) => Some(On::State(s)),
            None => {
                bad(
                    "state",
                    format!(
                        "flow {} has no state {s:?} (states: {})",
                        spec.name(),
                        state_names(spec)
                    ),
                    &mut ok,
                );
                None
            }
        },
        (None, Some(file)) => match load_schema(file) {
            Ok(schema) => Some(On::Record {
                record: r.record.clone(),
                schema: Arc::new(schema),
            }),
            Err(e) => {
                bad("schema", e.to_string(), &mut ok);
                None
            }
        },
    };
    if r.state.is_some() && r.record.is_some() {
        bad(
            "record",
            "a state's request is known by its state; `record` is for a `schema`".into(),
            &mut ok,
        );
    }
    let topic = match (&r.topic, &on) {
        (Some(t), _) => name_topic(t),
        (None, Some(On::State(s))) => {
            let c = spec.states()[*s].channel;
            if c == 0 {
                name_topic("{topic}")
            } else {
                spec.channels()[c].topic.clone()
            }
        }
        (None, _) => {
            bad("topic", "missing: the topic requests arrive on".into(), &mut ok);
            String::new()
        }
    };
    // Reading the request.
    let source = |text: &str| -> std::result::Result<Source, String> {
        if text == "key" {
            return Ok(Source::Key);
        }
        if let Some(h) = text.strip_prefix("header:") {
            return if h.is_empty() {
                Err("an empty header name".into())
            } else {
                Ok(Source::Header(h.to_string()))
            };
        }
        match &on {
            Some(On::State(s)) => spec.resolve(*s, text).map(Source::Field).map_err(|e| e.to_string()),
            Some(On::Record { schema, .. }) => path::compile(schema, Start::Root, text).map(Source::Field),
            None => Err("the request's schema is not known".into()),
        }
    };
    let mut when = Vec::new();
    for (field, test) in &r.when {
        let k = format!("when.{field}");
        let src = match source(field) {
            Ok(s) => s,
            Err(e) => {
                bad(&k, e, &mut ok);
                continue;
            }
        };
        match parse_test(test) {
            Ok(t) => when.push((src, field.clone(), t)),
            Err(e) => bad(&k, e, &mut ok),
        }
    }
    // The reply.
    let mix = if r.reply.contains('=') {
        Mix::parse(spec, &r.reply)
    } else {
        Mix::parse(spec, &format!("{}=1", r.reply.trim()))
    };
    let mix = match mix {
        Ok(m) => Some(m),
        Err(e) => {
            bad(
                "reply",
                e.to_string().trim_start_matches("--mix: ").to_string(),
                &mut ok,
            );
            None
        }
    };
    if let (Some(On::State(s)), Some(mix)) = (&on, &mix) {
        for (p, _) in &mix.0 {
            let path = &spec.paths()[*p];
            if let Some(a) = path.alternatives.iter().find(|a| !a.contains(s)) {
                let names: Vec<&str> = a.iter().map(|x| spec.states()[*x].name.as_str()).collect();
                bad(
                    "reply",
                    format!(
                        "path {} ({}) does not pass through {}, so it cannot continue from the request",
                        path.name,
                        names.join(" → "),
                        spec.states()[*s].name
                    ),
                    &mut ok,
                );
            }
        }
    }
    let delay_ms = duration(r.delay.as_deref(), "delay", &mut bad, &mut ok);
    // Copies.
    let reply_states: Vec<usize> = match &mix {
        Some(m) => {
            let mut s: Vec<usize> =
                m.0.iter()
                    .flat_map(|(p, _)| spec.paths()[*p].alternatives.iter().flatten().copied())
                    .collect();
            if let Some(rp) = spec.restart_path() {
                s.extend(spec.paths()[rp].alternatives.iter().flatten().copied());
            }
            s.sort_unstable();
            s.dedup();
            if let Some(On::State(req)) = &on {
                s.retain(|x| x != req);
            }
            s
        }
        None => Vec::new(),
    };
    let forbidden = forbidden_targets(spec);
    let mut copies = Vec::new();
    for (to, from) in &r.copy {
        let k = format!("copy.{to}");
        let src = match source(from) {
            Ok(s) => s,
            Err(e) => {
                bad(&k, format!("the request's {from:?}: {e}"), &mut ok);
                continue;
            }
        };
        let target = match target(spec, to, &reply_states) {
            Ok(t) => t,
            Err(e) => {
                bad(&k, e, &mut ok);
                continue;
            }
        };
        if let Target::Field { per_state, .. } = &target
            && let Some(f) = per_state
                .iter()
                .flatten()
                .find(|p| forbidden.iter().any(|(t, _)| t == p.text()))
        {
            let why = forbidden
                .iter()
                .find(|(t, _)| t == f.text())
                .map(|(_, w)| *w)
                .unwrap_or_default();
            bad(
                &k,
                format!(
                    "{} is {why}: the generator sets it so that replies keep the flow's rules",
                    f.text()
                ),
                &mut ok,
            );
            continue;
        }
        if let Err(e) = compatible(&src, &target, spec) {
            bad(&k, e, &mut ok);
            continue;
        }
        let first_flow_only = match &target {
            Target::Field { text, .. } => spec.flow_id().iter().any(|f| &f.text == text),
            Target::Header(h) => spec.id_header() == Some(h.as_str()),
            Target::Key => false,
        };
        copies.push(Copy {
            target,
            source: src,
            first_flow_only,
        });
    }
    // Faults.
    let f = &r.faults;
    let mut faults = Vec::new();
    for (fault, p) in [
        (Fault::None, f.none),
        (Fault::Late, f.late),
        (Fault::Duplicate, f.duplicate),
        (Fault::OutOfOrder, f.out_of_order),
        (Fault::WrongCorrelation, f.wrong_correlation),
        (Fault::SchemaInvalid, f.schema_invalid),
    ] {
        let Some(p) = p else { continue };
        if !(0.0..=1.0).contains(&p) {
            bad(
                &format!("faults.{}", fault.name()),
                format!("a probability is between 0 and 1, found {p}"),
                &mut ok,
            );
        } else if p > 0.0 {
            faults.push((fault, p));
        }
    }
    let total: f64 = faults.iter().map(|(_, p)| p).sum();
    if total > 1.0 + 1e-9 {
        bad(
            "faults",
            format!("the probabilities sum to {total}, more than 1 (each request gets at most one fault)"),
            &mut ok,
        );
    }
    let late_by_ms = duration(f.late_by.as_deref(), "faults.late_by", &mut bad, &mut ok);
    if f.late.is_some_and(|p| p > 0.0) && f.late_by.is_none() {
        bad(
            "faults.late_by",
            "missing: how much later a late reply comes".into(),
            &mut ok,
        );
    }
    let correlation: Vec<Target> = match &f.correlation {
        Some(list) => list
            .iter()
            .filter_map(|t| match target(spec, t, &reply_states) {
                Ok(t) => Some(t),
                Err(e) => {
                    bad("faults.correlation", e, &mut ok);
                    None
                }
            })
            .collect(),
        None => default_correlation(spec, &on, &copies),
    };
    if f.wrong_correlation.is_some_and(|p| p > 0.0) && correlation.is_empty() {
        bad(
            "faults.wrong_correlation",
            "the reply carries no correlation to get wrong: copy an id into a flow id field or header, or name them in faults.correlation".into(),
            &mut ok,
        );
    }
    if f.out_of_order.is_some_and(|p| p > 0.0)
        && let Some(m) = &mix
        && let Some((p, n)) = shortest_reply(spec, m, &on).filter(|(_, n)| *n < 2)
    {
        bad(
            "faults.out_of_order",
            format!(
                "a reply of path {} has {n} event(s): there is no pair to put out of order",
                spec.paths()[p].name
            ),
            &mut ok,
        );
    }
    if !ok {
        return None;
    }
    Some(Rule {
        name: r.name.clone().unwrap_or_else(|| format!("rule[{i}]")),
        topic,
        on: on?,
        when,
        mix: mix?,
        delay_ms,
        copies,
        faults,
        late_by_ms,
        correlation,
    })
}

fn duration(text: Option<&str>, key: &str, bad: &mut dyn FnMut(&str, String, &mut bool), ok: &mut bool) -> u64 {
    match text.map(parse_duration_ms) {
        None => 0,
        Some(Ok(ms)) if ms >= 0 => ms.sat_u64(),
        Some(Ok(ms)) => {
            bad(key, format!("a delay cannot be negative, found {ms} ms"), ok);
            0
        }
        Some(Err(e)) => {
            bad(key, e, ok);
            0
        }
    }
}

fn parse_test(v: &toml::Value) -> std::result::Result<Test, String> {
    let json = |v: &toml::Value| serde_json::to_value(v).map_err(|e| e.to_string());
    let toml::Value::Table(t) = v else {
        return Ok(Test::Equals(json(v)?));
    };
    if t.len() != 1 {
        return Err("expected one of { equals = … }, { matches = \"regex\" }, { present = true|false }".into());
    }
    let Some((k, v)) = t.iter().next() else {
        return Err("expected one entry".into());
    };
    match (k.as_str(), v) {
        ("equals", v) => Ok(Test::Equals(json(v)?)),
        ("matches", toml::Value::String(re)) => Regex::new(re).map(Test::Matches).map_err(|e| {
            format!(
                "matches: the regex does not compile: {}",
                e.to_string().replace('\n', " ")
            )
        }),
        ("present", toml::Value::Boolean(b)) => Ok(Test::Present(*b)),
        (k, _) => Err(format!(
            "{k}: expected equals = …, matches = \"regex\" or present = true|false"
        )),
    }
}

/// A reply target: `key`, `header:NAME`, or a field of the reply states.
fn target(spec: &FlowSpec, text: &str, states: &[usize]) -> std::result::Result<Target, String> {
    if text == "key" {
        return Ok(Target::Key);
    }
    if let Some(h) = text.strip_prefix("header:") {
        return if h.is_empty() {
            Err("an empty header name".into())
        } else {
            Ok(Target::Header(h.to_string()))
        };
    }
    let mut per_state = vec![None; spec.states().len()];
    let mut first_error = None;
    for &s in states {
        match spec.resolve(s, text) {
            Ok(p) => per_state[s] = Some(p),
            Err(e) => {
                first_error.get_or_insert(e.to_string());
            }
        }
    }
    if per_state.iter().all(Option::is_none) {
        return Err(format!(
            "no event of the reply has a field {text:?}: {}",
            first_error.unwrap_or_else(|| "the reply has no events".into())
        ));
    }
    Ok(Target::Field {
        text: text.to_string(),
        per_state,
    })
}

/// Fields a copy may not write: the state, and the times the timing rules read.
fn forbidden_targets(spec: &FlowSpec) -> Vec<(String, &'static str)> {
    use crate::flow::spec::StateSource;
    let mut out = Vec::new();
    for c in spec.channels() {
        match &c.state_source {
            StateSource::Field(p) | StateSource::Union(p) | StateSource::Oneof { holder: p, .. } => {
                out.push((p.text().to_string(), "where the state is"));
            }
            StateSource::Single => {}
        }
    }
    if let Some(t) = &spec.timing() {
        let fields = t
            .anchor
            .iter()
            .chain(&t.monotonic)
            .chain(t.states.iter().flatten().map(|s| &s.time));
        for f in fields {
            for s in 0..spec.states().len() {
                if let Some(p) = f.field.at(s) {
                    out.push((p.text().to_string(), "a time of the flow's timing rules"));
                }
            }
        }
    }
    out
}

/// What a wrong-correlation fault changes by default: for a request in the
/// flow, its flow id and correlation header; else the copies into them.
fn default_correlation(spec: &FlowSpec, on: &Option<On>, copies: &[Copy]) -> Vec<Target> {
    match on {
        Some(On::State(_)) => {
            let mut out: Vec<Target> = spec
                .flow_id()
                .iter()
                .map(|f| Target::Field {
                    text: f.text.clone(),
                    per_state: (0..spec.states().len()).map(|s| f.at(s).cloned()).collect(),
                })
                .collect();
            out.extend(spec.id_header().iter().map(|h| Target::Header((*h).to_string())));
            out
        }
        _ => copies
            .iter()
            .filter(|c| c.first_flow_only)
            .map(|c| c.target.clone())
            .collect(),
    }
}

/// The path of the mix whose reply has the fewest events, and how many.
fn shortest_reply(spec: &FlowSpec, mix: &Mix, on: &Option<On>) -> Option<(usize, usize)> {
    mix.0
        .iter()
        .flat_map(|(p, _)| {
            spec.paths()[*p].alternatives.iter().map(move |a| {
                let n = match on {
                    Some(On::State(s)) => a.iter().position(|x| x == s).map_or(0, |i| a.len() - i - 1),
                    _ => a.len(),
                };
                let restarts =
                    a.last().is_some_and(|l| spec.restart_after().contains(l)) && spec.restart_path().is_some();
                (*p, if restarts { n.max(2) } else { n })
            })
        })
        .min_by_key(|(_, n)| *n)
}

/// The JSON kind a path holds in generated values, for copy checks.
fn kind_of_leaf(p: &MsgPath) -> Option<&'static str> {
    use crate::flow::path::Leaf;
    match p.leaf() {
        Leaf::Integer(_) => Some("integer"),
        Leaf::String { .. } | Leaf::Enum => Some("string"),
        Leaf::Other => None,
    }
}

/// Whether values read at `source` can be written at `target`: a string
/// into a string, an integer into an integer. Records, arrays, numbers
/// and booleans (`Other`) are compared by their path text only when both
/// are of that kind, and checked per reply at run time.
fn compatible(source: &Source, target: &Target, spec: &FlowSpec) -> std::result::Result<(), String> {
    let from = match source {
        Source::Key | Source::Header(_) => Some("string"),
        Source::Field(p) => kind_of_leaf(p),
    };
    let mut tos: Vec<(&str, Option<&str>)> = Vec::new();
    match target {
        Target::Key => {
            for s in 0..spec.states().len() {
                if let Some(p) = spec.key().at(s) {
                    tos.push((p.text(), kind_of_leaf(p)));
                }
            }
        }
        Target::Header(_) => return Ok(()),
        Target::Field { per_state, .. } => {
            for p in per_state.iter().flatten() {
                tos.push((p.text(), kind_of_leaf(p)));
            }
        }
    }
    let source_text = match source {
        Source::Key => "the key".to_string(),
        Source::Header(h) => format!("header {h}"),
        Source::Field(p) => p.text().to_string(),
    };
    let name = |k: Option<&str>| match k {
        Some("integer") => "an integer".to_string(),
        Some(k) => format!("a {k}"),
        None => "a record, array, number or boolean".to_string(),
    };
    for (_, to) in tos {
        if from != to {
            return Err(format!(
                "{source_text} is {} and {} is {}: a copy between incompatible types",
                name(from),
                target.text(),
                name(to)
            ));
        }
    }
    Ok(())
}
