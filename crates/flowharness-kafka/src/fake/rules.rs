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

use super::rule_check::{check_rule, topic_names};
use crate::error::{Diagnostic, Error, Result};
use crate::flow::FlowSpec;
use crate::flow::generator::Mix;
use crate::flow::path::MsgPath;
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
pub(super) struct RuleFile {
    pub(super) name: Option<String>,
    pub(super) topic: Option<String>,
    pub(super) state: Option<String>,
    pub(super) schema: Option<String>,
    pub(super) record: Option<String>,
    #[serde(default)]
    pub(super) when: BTreeMap<String, toml::Value>,
    pub(super) reply: String,
    pub(super) delay: Option<String>,
    #[serde(default)]
    pub(super) copy: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) faults: FaultsFile,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct FaultsFile {
    pub(super) none: Option<f64>,
    pub(super) late: Option<f64>,
    pub(super) late_by: Option<String>,
    pub(super) duplicate: Option<f64>,
    pub(super) out_of_order: Option<f64>,
    pub(super) wrong_correlation: Option<f64>,
    pub(super) schema_invalid: Option<f64>,
    pub(super) correlation: Option<Vec<String>>,
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
        for (c, ch) in spec.channels().iter().enumerate().skip(1) {
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
            .channels()
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
                        spec.name(),
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
