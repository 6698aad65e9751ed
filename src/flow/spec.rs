//! Flow specs: declarative contracts over sequences of messages, in TOML
//! files under `flows/`. The format is documented in the README. Every
//! rejection names the file and the key (TOML syntax errors, the line).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Diagnostic, Error, Result};
use crate::generate::time::parse_duration_ms;
use crate::schema::Schema;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// Where a message's state comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum StateSource {
    /// The branch of the Avro union in this root field; the body is the branch's record.
    Union(String),
    /// The value of this field; the body is the whole message.
    Field(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub name: String,
    /// The union branch's short name, or the field's value.
    pub selector: Value,
}

/// When a state's event happens, relative to the flow's anchor time T0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeRule {
    /// At T0 + offset, give or take `within`.
    At {
        offset: i64,
        within: i64,
    },
    Before(i64),
    After(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct StateTiming {
    /// The state's own time field (epoch ms).
    pub field: String,
    pub rule: TimeRule,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// The field holding T0.
    pub anchor: String,
    /// Milliseconds per unit of the anchor field (86,400,000 for a date in days).
    pub anchor_unit_ms: i64,
    /// Fields that never go backwards within a flow.
    pub monotonic: Vec<String>,
    /// Per state, by index.
    pub states: Vec<Option<StateTiming>>,
}

/// A named path: alternative state sequences from a start to an end state.
#[derive(Debug, Clone, PartialEq)]
pub struct PathDef {
    pub name: String,
    pub alternatives: Vec<Vec<usize>>,
}

/// Values of `field` in `state`'s events must be values of `target_field`
/// in earlier flows of `target_state`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub state: usize,
    pub field: String,
    pub target_state: usize,
    pub target_field: String,
}

/// A checked flow spec.
#[derive(Debug, Clone)]
pub struct FlowSpec {
    pub name: String,
    pub description: String,
    pub schema: Schema,
    pub topic: String,
    pub key: String,
    pub state_source: StateSource,
    pub states: Vec<State>,
    pub flow_id: Vec<String>,
    pub start: Vec<usize>,
    pub end: Vec<usize>,
    pub restart_after: Vec<usize>,
    pub restart_path: Option<usize>,
    /// Per state: allowed next states with their generation weights.
    pub transitions: Vec<Vec<(usize, u32)>>,
    pub paths: Vec<PathDef>,
    pub invariants: Vec<String>,
    pub unique: Vec<String>,
    pub incomplete: Severity,
    pub timing: Option<Timing>,
    pub references: Vec<Reference>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    name: String,
    #[serde(default)]
    description: String,
    schema: String,
    topic: String,
    key: String,
    state: StateFile,
    states: BTreeMap<String, Value>,
    flow: FlowFile,
    #[serde(default)]
    transitions: BTreeMap<String, BTreeMap<String, u32>>,
    #[serde(default)]
    paths: BTreeMap<String, PathFile>,
    timing: Option<TimingFile>,
    #[serde(default)]
    references: Vec<ReferenceFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    union: Option<String>,
    field: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn list(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowFile {
    id: OneOrMany,
    start: Vec<String>,
    end: Vec<String>,
    #[serde(default)]
    restart_after: Vec<String>,
    restart_path: Option<String>,
    #[serde(default)]
    invariants: Vec<String>,
    #[serde(default)]
    unique: Vec<String>,
    incomplete: Option<Severity>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PathFile {
    One(Vec<String>),
    Many(Vec<Vec<String>>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimingFile {
    anchor: String,
    #[serde(default = "days")]
    anchor_unit: String,
    #[serde(default)]
    monotonic: Vec<String>,
    #[serde(default)]
    states: BTreeMap<String, StateTimingFile>,
}

fn days() -> String {
    "days".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateTimingFile {
    field: String,
    at: Option<String>,
    within: Option<String>,
    before: Option<String>,
    after: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferenceFile {
    state: String,
    field: String,
    target_state: String,
    target_field: String,
}

/// Collects problems, each at a key.
pub(super) struct Problems(Vec<Diagnostic>);

impl Problems {
    pub(super) fn add(&mut self, key: &str, message: impl Into<String>) {
        self.0.push(Diagnostic::new(message).within(key.to_string()));
    }
}

impl FlowSpec {
    /// Loads a spec file; its schema path is relative to the spec's folder.
    pub fn load(path: &Path) -> Result<FlowSpec> {
        let place = path.display().to_string();
        let text = crate::error::read_to_string(path)?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        FlowSpec::parse(&text, &|schema: &str| Schema::load(&base.join(schema))).map_err(|e| e.within(&place))
    }

    /// Parses spec text; `load_schema` resolves the spec's `schema` entry.
    pub fn parse(text: &str, load_schema: &dyn Fn(&str) -> Result<Schema>) -> Result<FlowSpec> {
        let file: SpecFile = toml::from_str(text)
            .map_err(|e| Error::invalid(Diagnostic::new(e.to_string().trim().replace('\n', " "))))?;
        let schema = load_schema(&file.schema).map_err(|e| e.within("schema"))?;
        let mut p = Problems(Vec::new());
        let spec = build(file, schema, &mut p);
        if p.0.is_empty() {
            Ok(spec)
        } else {
            Err(Error::Invalid(p.0))
        }
    }

    pub fn state_index(&self, name: &str) -> Option<usize> {
        self.states.iter().position(|s| s.name == name)
    }

    pub fn path(&self, name: &str) -> Option<&PathDef> {
        self.paths.iter().find(|p| p.name == name)
    }

    /// Whether a state has no way on (no outgoing transition).
    pub fn is_final(&self, state: usize) -> bool {
        self.transitions[state].is_empty()
    }

    pub fn allows(&self, from: usize, to: usize) -> bool {
        self.transitions[from].iter().any(|(t, _)| *t == to)
    }

    /// The state and the body of a message, or why there is none.
    pub fn classify<'v>(&self, value: &'v Value) -> std::result::Result<(usize, &'v Value), String> {
        match &self.state_source {
            StateSource::Union(field) => {
                let Some(Value::Object(wrapper)) = value.get(field) else {
                    return Err(format!("no union field {field:?}"));
                };
                let Some((full, body)) = wrapper.iter().next() else {
                    return Err(format!("empty union field {field:?}"));
                };
                let short = full.rsplit('.').next().unwrap_or(full);
                match self.states.iter().position(|s| s.selector == short) {
                    Some(i) => Ok((i, body)),
                    None => Err(format!("{short} is not a state of flow {}", self.name)),
                }
            }
            StateSource::Field(path) => {
                let v = super::fields::get(value, path).ok_or_else(|| format!("no state field {path:?}"))?;
                match self.states.iter().position(|s| &s.selector == v) {
                    Some(i) => Ok((i, value)),
                    None => Err(format!("{path} = {v} is not a state of flow {}", self.name)),
                }
            }
        }
    }

    /// The flow id of a body: its id fields' texts joined by `/`.
    pub fn flow_id_of(&self, body: &Value) -> Option<String> {
        let parts: Option<Vec<String>> = self
            .flow_id
            .iter()
            .map(|f| super::fields::get(body, f).map(super::fields::text))
            .collect();
        parts.map(|p| p.join("/"))
    }

    /// Which named path a completed sequence of states took, if any.
    pub fn path_of(&self, states: &[usize]) -> Option<&str> {
        self.paths
            .iter()
            .find(|p| p.alternatives.iter().any(|a| a == states))
            .map(|p| p.name.as_str())
    }
}

fn build(file: SpecFile, schema: Schema, p: &mut Problems) -> FlowSpec {
    let state_source = match (&file.state.union, &file.state.field) {
        (Some(u), None) => StateSource::Union(u.clone()),
        (None, Some(f)) => StateSource::Field(f.clone()),
        _ => {
            p.add("state", "give exactly one of union = \"field\" or field = \"path\"");
            StateSource::Field(String::new())
        }
    };
    let states: Vec<State> = file
        .states
        .iter()
        .map(|(name, selector)| State {
            name: name.clone(),
            selector: selector.clone(),
        })
        .collect();
    if states.is_empty() {
        p.add("states", "a flow needs at least one state");
    }
    let find = |key: &str, name: &str, p: &mut Problems| -> Option<usize> {
        let found = states.iter().position(|s| s.name == name);
        if found.is_none() {
            let known: Vec<&str> = states.iter().map(|s| s.name.as_str()).collect();
            p.add(key, format!("unknown state {name:?} (states: {})", known.join(", ")));
        }
        found
    };
    let list = |key: &str, names: &[String], p: &mut Problems| -> Vec<usize> {
        names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| find(&format!("{key}[{i}]"), n, p))
            .collect()
    };
    let start = list("flow.start", &file.flow.start, p);
    let end = list("flow.end", &file.flow.end, p);
    let restart_after = list("flow.restart_after", &file.flow.restart_after, p);
    let mut transitions = vec![Vec::new(); states.len()];
    for (from, targets) in &file.transitions {
        let Some(f) = find(&format!("transitions.{from}"), from, p) else {
            continue;
        };
        for (to, weight) in targets {
            if let Some(t) = find(&format!("transitions.{from}.{to}"), to, p) {
                transitions[f].push((t, *weight));
            }
        }
    }
    for (i, s) in states.iter().enumerate() {
        if transitions[i].is_empty() && !end.contains(&i) {
            p.add(
                &format!("transitions.{}", s.name),
                format!(
                    "state {:?} is not an end state and has no transitions: flows would stop nowhere",
                    s.name
                ),
            );
        }
    }
    // Every end state must be reachable from a start state.
    let mut reached: Vec<usize> = start.clone();
    let mut i = 0;
    while i < reached.len() {
        for (t, _) in &transitions[reached[i]] {
            if !reached.contains(t) {
                reached.push(*t);
            }
        }
        i += 1;
    }
    for (k, e) in end.iter().enumerate() {
        if !reached.contains(e) {
            p.add(
                &format!("flow.end[{k}]"),
                format!("end state {:?} cannot be reached from a start state", states[*e].name),
            );
        }
    }
    let mut paths = Vec::new();
    for (name, def) in &file.paths {
        let raw: Vec<Vec<String>> = match def {
            PathFile::One(l) => vec![l.clone()],
            PathFile::Many(l) => l.clone(),
        };
        let mut alternatives = Vec::new();
        for (a, seq) in raw.iter().enumerate() {
            let key = format!("paths.{name}[{a}]");
            let ids = list(&key, seq, p);
            if ids.len() != seq.len() {
                continue;
            }
            if !ids.first().is_some_and(|s| start.contains(s)) {
                p.add(&key, "a path must begin with a start state");
            } else if !ids.last().is_some_and(|s| end.contains(s)) {
                p.add(&key, "a path must finish in an end state");
            } else if let Some(w) = ids
                .windows(2)
                .find(|w| !transitions[w[0]].iter().any(|(t, _)| *t == w[1]))
            {
                p.add(
                    &key,
                    format!(
                        "{} → {} is not an allowed transition",
                        states[w[0]].name, states[w[1]].name
                    ),
                );
            }
            alternatives.push(ids);
        }
        paths.push(PathDef {
            name: name.clone(),
            alternatives,
        });
    }
    let restart_path = file.flow.restart_path.as_ref().and_then(|r| {
        let found = paths.iter().position(|x| &x.name == r);
        if found.is_none() {
            p.add("flow.restart_path", format!("unknown path {r:?}"));
        }
        found
    });
    let timing = file.timing.map(|t| build_timing(&t, &states, p));
    let references = file
        .references
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let key = format!("references[{i}]");
            let state = find(&format!("{key}.state"), &r.state, p)?;
            let target_state = find(&format!("{key}.target_state"), &r.target_state, p)?;
            Some(Reference {
                state,
                field: r.field.clone(),
                target_state,
                target_field: r.target_field.clone(),
            })
        })
        .collect();
    let spec = FlowSpec {
        name: file.name,
        description: file.description,
        schema,
        topic: file.topic,
        key: file.key,
        state_source,
        states,
        flow_id: file.flow.id.list(),
        start,
        end,
        restart_after,
        restart_path,
        transitions,
        paths,
        invariants: file.flow.invariants,
        unique: file.flow.unique,
        incomplete: file.flow.incomplete.unwrap_or(Severity::Warning),
        timing,
        references,
    };
    super::schema_paths::check(&spec, p);
    spec
}

fn build_timing(t: &TimingFile, states: &[State], p: &mut Problems) -> Timing {
    let anchor_unit_ms = match t.anchor_unit.as_str() {
        "days" => 86_400_000,
        "ms" | "millis" => 1,
        other => {
            p.add(
                "timing.anchor_unit",
                format!("expected \"days\" or \"ms\", found {other:?}"),
            );
            1
        }
    };
    let mut per_state = vec![None; states.len()];
    for (name, st) in &t.states {
        let key = format!("timing.states.{name}");
        let Some(i) = states.iter().position(|s| &s.name == name) else {
            p.add(&key, format!("unknown state {name:?}"));
            continue;
        };
        let mut duration = |which: &str, v: &Option<String>| -> Option<i64> {
            v.as_ref().and_then(|text| {
                parse_duration_ms(text)
                    .map_err(|e| p.add(&format!("{key}.{which}"), e))
                    .ok()
            })
        };
        let rule = match (
            duration("at", &st.at),
            duration("before", &st.before),
            duration("after", &st.after),
        ) {
            (Some(offset), None, None) => Some(TimeRule::At {
                offset,
                within: duration("within", &st.within).unwrap_or(3_600_000),
            }),
            (None, Some(b), None) => Some(TimeRule::Before(b)),
            (None, None, Some(a)) => Some(TimeRule::After(a)),
            _ => {
                p.add(&key, "give exactly one of at, before, after");
                None
            }
        };
        per_state[i] = rule.map(|rule| StateTiming {
            field: st.field.clone(),
            rule,
        });
    }
    Timing {
        anchor: t.anchor.clone(),
        anchor_unit_ms,
        monotonic: t.monotonic.clone(),
        states: per_state,
    }
}

/// The spec file path for a `--flow` argument: a path, or a name under `flows/`.
pub fn spec_path(arg: &str) -> PathBuf {
    if arg.contains('/') || arg.ends_with(".toml") {
        PathBuf::from(arg)
    } else {
        PathBuf::from(format!("flows/{arg}.toml"))
    }
}
