//! A case: the messages of a trial in the order they are sent. Streams are
//! the messages of one key (an account's flows, restarts included), flows
//! the messages of one flow id. Shrinking edits a case (drops streams,
//! flows or events, or sends streams one after another) and keeps an edit
//! only when the flow contract still holds for what is left, so every case
//! a consumer sees is one a real producer could send.

use crate::flow::FlowSpec;
use crate::flow::checker::{CheckOptions, Checker};
use crate::flow::fixture_io::{Keyed, as_observed};
use crate::flow::spec::Severity;

/// Messages in send order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Case {
    pub messages: Vec<Keyed>,
}

impl Case {
    pub fn new(messages: Vec<Keyed>) -> Case {
        Case { messages }
    }

    /// The keys, in the order their first message is sent.
    pub fn keys(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for m in &self.messages {
            if !out.contains(&m.key.as_str()) {
                out.push(&m.key);
            }
        }
        out
    }

    /// The positions of each flow's messages (one key, one flow id),
    /// flows in the order they began.
    pub fn flow_positions(&self, spec: &FlowSpec) -> Vec<Vec<usize>> {
        let mut flows: Vec<((&str, String), Vec<usize>)> = Vec::new();
        for (i, m) in self.messages.iter().enumerate() {
            let id = (m.key.as_str(), flow_id(spec, m));
            match flows.iter_mut().find(|(k, _)| *k == id) {
                Some((_, at)) => at.push(i),
                None => flows.push((id, vec![i])),
            }
        }
        flows.into_iter().map(|(_, at)| at).collect()
    }

    /// How many flows it holds: distinct (key, flow id) pairs.
    pub fn flows(&self, spec: &FlowSpec) -> usize {
        self.flow_positions(spec).len()
    }

    /// How often the next message is of another key than the one before:
    /// 0 for streams sent one after another… plus one per stream.
    pub fn switches(&self) -> usize {
        self.messages.windows(2).filter(|w| w[0].key != w[1].key).count()
    }

    /// Without the streams of `keys`.
    pub fn without_keys(&self, keys: &[&str]) -> Case {
        Case::new(
            self.messages
                .iter()
                .filter(|m| !keys.contains(&m.key.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// Without the messages at `indexes` (sorted or not).
    pub fn without(&self, indexes: &[usize]) -> Case {
        Case::new(
            self.messages
                .iter()
                .enumerate()
                .filter(|(i, _)| !indexes.contains(i))
                .map(|(_, m)| m.clone())
                .collect(),
        )
    }

    /// Indexes of the messages of `key`, in order.
    pub fn of_key(&self, key: &str) -> Vec<usize> {
        (0..self.messages.len())
            .filter(|i| self.messages[*i].key == key)
            .collect()
    }

    /// Each stream's messages together, streams in the order they began.
    pub fn sequential(&self) -> Case {
        let mut out = Vec::with_capacity(self.messages.len());
        for key in self.keys() {
            out.extend(self.messages.iter().filter(|m| m.key == key).cloned());
        }
        Case::new(out)
    }

    /// The stream of `key` sent together, where its first message was.
    pub fn gathered(&self, key: &str) -> Case {
        let Some(first) = self.messages.iter().position(|m| m.key == key) else {
            return self.clone();
        };
        let mut out: Vec<Keyed> = self.messages[..first].to_vec();
        out.extend(self.messages.iter().filter(|m| m.key == key).cloned());
        out.extend(self.messages[first..].iter().filter(|m| m.key != key).cloned());
        Case::new(out)
    }

    /// Whether the flow contract holds for the case: no error of the
    /// checker's, flows left in progress allowed (a consumer must handle a
    /// flow that has not ended yet).
    pub fn obeys(&self, spec: &FlowSpec) -> bool {
        let options = CheckOptions {
            incomplete: Some(Severity::Warning),
            ..CheckOptions::default()
        };
        let mut checker = Checker::new(spec, options);
        for o in as_observed(&self.messages, 1) {
            checker.observe(&o);
        }
        checker.finish().errors == 0
    }
}

/// A message's flow id, or "" when it has none.
pub fn flow_id(spec: &FlowSpec, m: &Keyed) -> String {
    super::expect::state_of(spec, m)
        .and_then(|s| spec.flow_id_of(&m.value, s))
        .unwrap_or_default()
}
