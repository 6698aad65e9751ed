//! Flows across topics: Kafka orders a key's messages within a topic,
//! never across topics, so the checker holds an event its flow cannot take
//! yet until what it waits for arrives from another topic.

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::checker::{At, Checker};

/// Events of a flow across topics, applied in the order of their times.
/// Kafka orders nothing across topics, so an event the flow cannot take
/// yet (a Completed read before the Captured on the other topic) waits
/// with its flow until what it waits for arrives; an event may go before
/// an earlier one when their times are within the spec's skew. What still
/// waits at the end of the stream is applied then, and its findings made.
#[derive(Debug, Default)]
pub(super) struct Reorder {
    pub(super) held: HashMap<String, Vec<Held>>,
}

/// How many events of one flow may wait before the first is applied anyway.
const MAX_HELD: usize = 64;

#[derive(Debug)]
pub(super) struct Held {
    pub(super) time: i64,
    pub(super) channel: usize,
    pub(super) state: usize,
    pub(super) key: String,
    pub(super) value: Value,
    pub(super) topic: Arc<str>,
    pub(super) partition: i32,
    pub(super) offset: i64,
}

impl Checker<'_> {
    /// Puts an event among its flow's waiting ones, in time order; one
    /// from the same topic stays after those read before it.
    pub(super) fn hold(&mut self, flow_id: &str, held: Held) {
        let Some(r) = self.reorder.as_mut() else { return };
        let list = r.held.entry(flow_id.to_string()).or_default();
        let at = list
            .iter()
            .rposition(|h| h.channel == held.channel || h.time <= held.time)
            .map_or(0, |i| i + 1);
        list.insert(at, held);
    }

    /// Whether events of the flow wait.
    pub(super) fn is_waiting(&self, flow_id: &str) -> bool {
        self.reorder.as_ref().is_some_and(|r| r.held.contains_key(flow_id))
    }

    /// Whether the flow can take an event of `state` now.
    pub(super) fn accepts(&self, flow_id: &str, state: usize) -> bool {
        match self.flows.get(flow_id) {
            Some(f) => f.unknown || self.spec.allows(f.state, state),
            None => self.spec.start.contains(&state),
        }
    }

    /// Applies the flow's waiting events it can take, in time order (all
    /// of them, in order, when `all`).
    pub(super) fn release(&mut self, flow_id: &str, all: bool) {
        let skew = self.spec.cross_topic_skew_ms;
        loop {
            let Some(list) = self.reorder.as_ref().and_then(|r| r.held.get(flow_id)) else {
                return;
            };
            let Some(first) = list.first() else { return };
            let next = if all || list.len() > MAX_HELD {
                Some(0)
            } else {
                list.iter()
                    .position(|h| self.accepts(flow_id, h.state))
                    .filter(|i| *i == 0 || list[*i].time.saturating_sub(first.time) <= skew)
            };
            let Some(i) = next else { return };
            let Some(r) = self.reorder.as_mut() else { return };
            let Some(list) = r.held.get_mut(flow_id) else { return };
            let held = list.remove(i);
            if list.is_empty() {
                r.held.remove(flow_id);
            }
            let at = At {
                topic: Some(&held.topic),
                partition: held.partition,
                offset: held.offset,
                key: Some(&held.key),
                flow: Some(flow_id),
            };
            self.apply(held.state, &held.value, flow_id, &held.key, &at);
        }
    }

    /// Applies every event still waiting, flow by flow in the order their
    /// first waiting event was read.
    pub(super) fn release_all(&mut self) {
        let Some(r) = self.reorder.as_ref() else { return };
        let mut waiting: Vec<(i32, i64, String)> = r
            .held
            .iter()
            .filter_map(|(id, list)| list.first().map(|h| (h.partition, h.offset, id.clone())))
            .collect();
        waiting.sort();
        for (_, _, id) in waiting {
            self.release(&id, true);
        }
    }
}
