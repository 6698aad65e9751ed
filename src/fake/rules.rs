//! A reactive fake's rules file (TOML): which requests it answers and how.
//!
//! ```toml
//! [fake]
//! group = "flowharness-fake"   # its consumer group
//! seed = 7                     # same seed, same replies to the same requests
//! time_scale = 86400           # the flow's own timing, compressed (1 = real time, 0 = at once)
//!
//! [[rule]]
//! name = "schedule"
//! topic = "migration-commands"           # the requests' topic
//! schema = "schedule-migration.avsc"     # their schema (or `state = "Requested"`)
//! record = "ScheduleMigration"           # the writer schema's record, if several share the topic
//! when = { priority = "HIGH", accountId = { matches = "^1" }, note = { present = true } }
//! reply = "happy=8,cancel=1,rollback=1"  # a path, or a weighted mix
//! delay = "20ms"                         # before the first reply event
//!
//! [rule.copy]                            # reply field (or key, header:NAME) = request source
//! accountId = "accountId"
//! "header:traceparent" = "header:traceparent"
//!
//! [rule.faults]                          # probabilities; at most one fault per request
//! none = 0.05
//! late = 0.05
//! late_by = "10s"
//! duplicate = 0.02
//! out_of_order = 0.02
//! wrong_correlation = 0.01
//! schema_invalid = 0.01
//! ```
//!
//! Everything is checked against the flow spec and the request schema
//! before the fake starts; each problem names the file and the key.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{Diagnostic, Error, Result};
use crate::flow::FlowSpec;
use crate::flow::generator::Mix;
use crate::flow::path::{self, MsgPath, Start};
use crate::generate::time::parse_duration_ms;
use crate::schema::Schema;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    fake: FakeFile,
    #[serde(default)]
    rule: Vec<RuleFile>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FakeFile {
    group: Option<String>,
    seed: Option<u64>,
    time_scale: Option<f64>,
    #[serde(default)]
    topics: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: Option<String>,
    topic: Option<String>,
    state: Option<String>,
    schema: Option<String>,
    record: Option<String>,
    #[serde(default)]
    when: BTreeMap<String, toml::Value>,
    reply: String,
    delay: Option<String>,
    #[serde(default)]
    copy: BTreeMap<String, String>,
    #[serde(default)]
    faults: FaultsFile,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FaultsFile {
    none: Option<f64>,
    late: Option<f64>,
    late_by: Option<String>,
    duplicate: Option<f64>,
    out_of_order: Option<f64>,
    wrong_correlation: Option<f64>,
    schema_invalid: Option<f64>,
    correlation: Option<Vec<String>>,
}

/// What a request is.
#[derive(Debug, Clone)]
pub enum On {
    /// A state of the flow (a request/reply flow across topics): the reply
    /// is the flow's continuation after it, carrying its key, flow id,
    /// invariants and correlation header.
    State(usize),
    /// A message of its own schema: the reply is a whole flow.
    Record {
        /// The writer schema's record name, full or short, if the rule names one.
        record: Option<String>,
        schema: Arc<Schema>,
    },
}

/// Where a value of the request comes from.
#[derive(Debug, Clone)]
pub enum Source {
    Key,
    Header(String),
    Field(MsgPath),
}

/// Where a copied value goes in each reply event.
#[derive(Debug, Clone)]
pub enum Target {
    /// The spec's key field (and so the message key).
    Key,
    Header(String),
    /// A field, resolved per state (`None` where the state has no such field).
    Field {
        text: String,
        per_state: Vec<Option<MsgPath>>,
    },
}

impl Target {
    /// How the rules file names it.
    pub fn text(&self) -> String {
        match self {
            Target::Key => "key".into(),
            Target::Header(h) => format!("header:{h}"),
            Target::Field { text, .. } => text.clone(),
        }
    }
}

/// A test on a request's value.
#[derive(Debug, Clone)]
pub enum Test {
    Equals(Value),
    Matches(Regex),
    Present(bool),
}

/// `target = source`, and whether only the first flow of the reply gets
/// it (a flow id: a restart is a flow of its own).
#[derive(Debug, Clone)]
pub struct Copy {
    pub target: Target,
    pub source: Source,
    pub first_flow_only: bool,
}

/// The fault a request can be given, at most one each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    None,
    Late,
    Duplicate,
    OutOfOrder,
    WrongCorrelation,
    SchemaInvalid,
}

impl Fault {
    pub const ALL: [Fault; 6] = [
        Fault::None,
        Fault::Late,
        Fault::Duplicate,
        Fault::OutOfOrder,
        Fault::WrongCorrelation,
        Fault::SchemaInvalid,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::None => "none",
            Fault::Late => "late",
            Fault::Duplicate => "duplicate",
            Fault::OutOfOrder => "out_of_order",
            Fault::WrongCorrelation => "wrong_correlation",
            Fault::SchemaInvalid => "schema_invalid",
        }
    }
}

/// One rule, checked.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    /// The requests' topic, as given (`{topic}` replaced).
    pub topic: String,
    pub on: On,
    pub when: Vec<(Source, String, Test)>,
    pub mix: Mix,
    pub delay_ms: u64,
    pub copies: Vec<Copy>,
    /// Per fault, its probability; they sum to at most 1.
    pub faults: Vec<(Fault, f64)>,
    pub late_by_ms: u64,
    /// What a wrong-correlation fault changes.
    pub correlation: Vec<Target>,
}

/// A fake's rules, checked against its flow.
#[derive(Debug, Clone)]
pub struct Rules {
    pub group: Option<String>,
    pub seed: Option<u64>,
    pub time_scale: Option<f64>,
    /// Per channel of the flow: the topic replies go to.
    pub reply_topics: Vec<String>,
    pub rules: Vec<Rule>,
}

impl Rules {
    /// Renames the flow's topics: `name(c)` for channel `c`, in the reply
    /// topics and in rules whose topic was the channel's own name.
    pub fn rename_channels(&mut self, spec: &FlowSpec, name: &dyn Fn(usize) -> String) {
        for (c, ch) in spec.channels.iter().enumerate().skip(1) {
            let new = name(c);
            if self.reply_topics[c] == ch.topic {
                self.reply_topics[c].clone_from(&new);
            }
            for r in &mut self.rules {
                if r.topic == ch.topic {
                    r.topic.clone_from(&new);
                }
            }
        }
    }

    /// Loads a rules file; schema paths are relative to its folder, and
    /// `{topic}` in topic names is `topic`.
    pub fn load(path: &Path, spec: &FlowSpec, topic: &str) -> Result<Rules> {
        let place = path.display().to_string();
        let text = crate::error::read_to_string(path)?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Rules::parse(&text, spec, topic, &|p: &str| Schema::load(&base.join(p))).map_err(|e| e.within(&place))
    }

    /// Parses rules text.
    pub fn parse(
        text: &str,
        spec: &FlowSpec,
        topic: &str,
        load_schema: &dyn Fn(&str) -> Result<Schema>,
    ) -> Result<Rules> {
        let file: File = toml::from_str(text)
            .map_err(|e| Error::invalid(Diagnostic::new(e.to_string().trim().replace('\n', " "))))?;
        let mut problems = Vec::new();
        let mut add = |key: String, message: String| problems.push(Diagnostic::new(message).within(key));
        let name_topic = |t: &str| t.replace("{topic}", topic);
        let mut reply_topics: Vec<String> = spec
            .channels
            .iter()
            .enumerate()
            .map(|(c, ch)| if c == 0 { topic.to_string() } else { ch.topic.clone() })
            .collect();
        for (name, to) in &file.fake.topics {
            match spec.channel_of(name) {
                Some(c) => reply_topics[c] = name_topic(to),
                None => add(
                    format!("fake.topics.{name}"),
                    format!(
                        "flow {} has no topic {name:?} (topics: {})",
                        spec.name,
                        topic_names(spec)
                    ),
                ),
            }
        }
        if let Some(t) = file.fake.time_scale
            && !(t >= 0.0 && t.is_finite())
        {
            add("fake.time_scale".into(), format!("expected a number ≥ 0, found {t}"));
        }
        if file.rule.is_empty() {
            add("rule".into(), "no [[rule]]: the fake would answer nothing".into());
        }
        let mut rules = Vec::new();
        for (i, r) in file.rule.iter().enumerate() {
            let key = match &r.name {
                Some(n) => format!("rule[{i}] ({n})"),
                None => format!("rule[{i}]"),
            };
            let before = problems.len();
            let mut at = |k: &str, m: String| problems.push(Diagnostic::new(m).within(format!("{key}.{k}")));
            if let Some(rule) = check_rule(i, r, spec, &name_topic, load_schema, &mut at) {
                rules.push(rule);
            }
            debug_assert!(problems.len() >= before);
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        Ok(Rules {
            group: file.fake.group,
            seed: file.fake.seed,
            time_scale: file.fake.time_scale,
            reply_topics,
            rules,
        })
    }
}

fn topic_names(spec: &FlowSpec) -> String {
    spec.channels
        .iter()
        .map(|c| c.topic.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn state_names(spec: &FlowSpec) -> String {
    spec.states
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks one rule, reporting every problem at its key; `None` if any.
fn check_rule(
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
        (Some(s), None) => match spec.states.iter().position(|st| &st.name == s) {
            Some(s) => Some(On::State(s)),
            None => {
                bad(
                    "state",
                    format!("flow {} has no state {s:?} (states: {})", spec.name, state_names(spec)),
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
            let c = spec.states[*s].channel;
            if c == 0 {
                name_topic("{topic}")
            } else {
                spec.channels[c].topic.clone()
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
            let path = &spec.paths[*p];
            if let Some(a) = path.alternatives.iter().find(|a| !a.contains(s)) {
                let names: Vec<&str> = a.iter().map(|x| spec.states[*x].name.as_str()).collect();
                bad(
                    "reply",
                    format!(
                        "path {} ({}) does not pass through {}, so it cannot continue from the request",
                        path.name,
                        names.join(" → "),
                        spec.states[*s].name
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
                    .flat_map(|(p, _)| spec.paths[*p].alternatives.iter().flatten().copied())
                    .collect();
            if let Some(rp) = spec.restart_path {
                s.extend(spec.paths[rp].alternatives.iter().flatten().copied());
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
            Target::Field { text, .. } => spec.flow_id.iter().any(|f| &f.text == text),
            Target::Header(h) => spec.id_header.as_deref() == Some(h.as_str()),
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
                spec.paths[p].name
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
        Some(Ok(ms)) if ms >= 0 => ms as u64,
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
    let (k, v) = t.iter().next().expect("one entry");
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
    let mut per_state = vec![None; spec.states.len()];
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
    for c in &spec.channels {
        match &c.state_source {
            StateSource::Field(p) | StateSource::Union(p) => out.push((p.text().to_string(), "where the state is")),
            StateSource::Single => {}
        }
    }
    if let Some(t) = &spec.timing {
        let fields = t
            .anchor
            .iter()
            .chain(&t.monotonic)
            .chain(t.states.iter().flatten().map(|s| &s.time));
        for f in fields {
            for s in 0..spec.states.len() {
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
                .flow_id
                .iter()
                .map(|f| Target::Field {
                    text: f.text.clone(),
                    per_state: (0..spec.states.len()).map(|s| f.at(s).cloned()).collect(),
                })
                .collect();
            out.extend(spec.id_header.iter().map(|h| Target::Header(h.clone())));
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
            spec.paths[*p].alternatives.iter().map(move |a| {
                let n = match on {
                    Some(On::State(s)) => a.iter().position(|x| x == s).map_or(0, |i| a.len() - i - 1),
                    _ => a.len(),
                };
                let restarts = a.last().is_some_and(|l| spec.restart_after.contains(l)) && spec.restart_path.is_some();
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
            for s in 0..spec.states.len() {
                if let Some(p) = spec.key.at(s) {
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
