//! What the flow checker finds: the rules, one finding per broken rule
//! with where it was seen, and the report of a whole check.

use std::collections::BTreeMap;
use std::fmt;

use super::spec::Severity;

/// The rules a flow can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    SchemaInvalid,
    UnknownState,
    MissingFlowId,
    TransitionNotAllowed,
    UnknownFlow,
    AfterTerminal,
    RestartReusedFlowId,
    RestartWhileOpen,
    BrokenInvariant,
    TimeBackwards,
    Timing,
    DuplicateEventId,
    KeyMismatch,
    MissingKey,
    KeyOnManyPartitions,
    IncompleteFlow,
    UnknownReference,
    /// The flow id header (`[flow] id_header`) is missing or disagrees
    /// with the flow id in the payload.
    CorrelationHeader,
}

impl Rule {
    pub const ALL: [Rule; 18] = [
        Rule::SchemaInvalid,
        Rule::UnknownState,
        Rule::MissingFlowId,
        Rule::TransitionNotAllowed,
        Rule::UnknownFlow,
        Rule::AfterTerminal,
        Rule::RestartReusedFlowId,
        Rule::RestartWhileOpen,
        Rule::BrokenInvariant,
        Rule::TimeBackwards,
        Rule::Timing,
        Rule::DuplicateEventId,
        Rule::KeyMismatch,
        Rule::MissingKey,
        Rule::KeyOnManyPartitions,
        Rule::IncompleteFlow,
        Rule::UnknownReference,
        Rule::CorrelationHeader,
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Rule::SchemaInvalid => "schema-invalid",
            Rule::UnknownState => "unknown-state",
            Rule::MissingFlowId => "missing-flow-id",
            Rule::TransitionNotAllowed => "transition-not-allowed",
            Rule::UnknownFlow => "unknown-flow",
            Rule::AfterTerminal => "after-terminal",
            Rule::RestartReusedFlowId => "restart-reused-flow-id",
            Rule::RestartWhileOpen => "restart-while-open",
            Rule::BrokenInvariant => "broken-invariant",
            Rule::TimeBackwards => "time-backwards",
            Rule::Timing => "timing",
            Rule::DuplicateEventId => "duplicate-event-id",
            Rule::KeyMismatch => "key-mismatch",
            Rule::MissingKey => "missing-key",
            Rule::KeyOnManyPartitions => "key-on-many-partitions",
            Rule::IncompleteFlow => "incomplete-flow",
            Rule::UnknownReference => "unknown-reference",
            Rule::CorrelationHeader => "correlation-header",
        }
    }

    pub fn parse(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One broken rule, where it was seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    /// The topic, for a flow across topics (a flow on one topic leaves it out).
    pub topic: Option<String>,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub flow_id: Option<String>,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = if self.severity == Severity::Error {
            "error"
        } else {
            "warning"
        };
        write!(f, "{level}[{}] ", self.rule)?;
        if let Some(t) = &self.topic {
            write!(f, "topic {t} ")?;
        }
        write!(f, "partition {} offset {}", self.partition, self.offset)?;
        if let Some(k) = &self.key {
            write!(f, " key {k}")?;
        }
        if let Some(id) = &self.flow_id {
            write!(f, " flow {id}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What a check saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub messages: u64,
    pub flows_started: u64,
    /// Flows that reached an end state, by the named path they took
    /// (`other` when none matches).
    pub complete_by_path: BTreeMap<String, u64>,
    pub findings: Vec<Finding>,
    /// Every finding counted by rule, including those past `max_findings`.
    pub counts: BTreeMap<Rule, u64>,
    /// The same, errors only and warnings only.
    pub error_counts: BTreeMap<Rule, u64>,
    pub warning_counts: BTreeMap<Rule, u64>,
    pub errors: u64,
    pub warnings: u64,
}

impl Report {
    pub fn has(&self, rule: Rule) -> bool {
        self.counts.get(&rule).is_some_and(|n| *n > 0)
    }

    /// Counts a finding, kept in full or not.
    pub fn count(&mut self, rule: Rule, severity: Severity) {
        *self.counts.entry(rule).or_default() += 1;
        let by = match severity {
            Severity::Error => {
                self.errors += 1;
                &mut self.error_counts
            }
            Severity::Warning => {
                self.warnings += 1;
                &mut self.warning_counts
            }
        };
        *by.entry(rule).or_default() += 1;
    }
}
