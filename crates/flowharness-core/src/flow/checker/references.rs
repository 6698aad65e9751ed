//! References across flows: a field whose value an earlier message of
//! another state published (an order line naming a catalog code). Kafka
//! orders a partition, not a topic, so a value not seen yet waits for the
//! end of the stream before it is reported.

use serde_json::Value;

use super::{At, Checker, Rule, Severity};
use crate::flow::fields::text;

pub(super) struct PendingReference {
    reference: usize,
    topic: Option<String>,
    value: String,
    partition: i32,
    offset: i64,
    key: Option<String>,
    flow: Option<String>,
}

impl Checker<'_> {
    pub(super) fn check_references(&mut self, state: usize, value: &Value, at: &At<'_>) {
        for (i, r) in self.spec.references.iter().enumerate() {
            if r.target_state == state {
                for v in r.target_field.get_all(value, state) {
                    let v = text(v);
                    // Published on another partition: it may have come first.
                    self.pending_references
                        .retain(|p| p.reference != i || p.value != v || p.partition == at.partition);
                    self.references[i].entry(v).or_insert(at.partition);
                }
            }
            if r.state == state {
                let missing: Vec<String> = r
                    .field
                    .get_all(value, state)
                    .into_iter()
                    .map(text)
                    .filter(|v| !self.references[i].contains_key(v))
                    .collect();
                for value in missing {
                    self.pending_references.push(PendingReference {
                        reference: i,
                        topic: at.topic.map(str::to_string),
                        value,
                        partition: at.partition,
                        offset: at.offset,
                        key: at.key.map(str::to_string),
                        flow: at.flow.map(str::to_string),
                    });
                }
            }
        }
    }

    pub(super) fn report_pending_references(&mut self) {
        for p in std::mem::take(&mut self.pending_references) {
            let r = &self.spec.references[p.reference];
            let target = &self.spec.states[r.target_state].name;
            let later = if self.references[p.reference].contains_key(&p.value) {
                " (one came later on the same partition)"
            } else {
                ""
            };
            let (severity, elsewhere) = if self.options.partial {
                (
                    Severity::Warning,
                    " (not checkable here: it may be on a partition another instance reads)",
                )
            } else {
                (Severity::Error, "")
            };
            let message = format!(
                "{} references {:?}, which no earlier {target} has as {}{later}{elsewhere}",
                r.field, p.value, r.target_field
            );
            let at = At {
                topic: p.topic.as_deref(),
                partition: p.partition,
                offset: p.offset,
                key: p.key.as_deref(),
                flow: p.flow.as_deref(),
            };
            self.find(Rule::UnknownReference, severity, &at, message);
        }
    }
}
