//! What the checker remembers of flows that have ended or come to rest,
//! and for how long: memory follows open flows and a window of the
//! recent past, never every flow or key a topic ever carried.

use super::{Checker, OpenFlow};

impl Checker<'_> {
    /// A flow came to rest in an end state it may still leave. The oldest
    /// resting flows beyond the window are closed as complete; a later
    /// event of one is then reported as after its end.
    pub(super) fn rest(&mut self, flow_id: &str) {
        self.rests += 1;
        let now = self.rests;
        // The id's shared allocation is what the resting queue keeps.
        let Some(id) = self.flows.get_key_value(flow_id).map(|(id, _)| id.clone()) else {
            return;
        };
        if let Some(flow) = self.flows.get_mut(flow_id) {
            flow.rested = now;
        }
        self.resting.push_back((id, now));
        while self.resting.len() > self.options.dedupe_window {
            let Some((old, when)) = self.resting.pop_front() else {
                break;
            };
            // Only if it is still resting where it was put in the queue.
            if self
                .flows
                .get(&old)
                .is_some_and(|f| f.rested == when && self.spec.end.contains(&f.state))
            {
                self.close(&old);
                self.forgot = true;
            }
        }
    }

    /// Closes a flow: counted by its path, its key left idle when it has
    /// no other open flow; idle keys beyond the window are forgotten.
    pub(super) fn close(&mut self, flow_id: &str) {
        self.correlations.remove(flow_id);
        let Some(flow) = self.flows.remove(flow_id) else { return };
        self.count_complete(&flow);
        if let Some(info) = self.keys.get_mut(&flow.key) {
            info.open.retain(|f| **f != *flow_id);
            if info.closed.len() == 4 {
                info.closed.remove(0);
            }
            info.closed.push(crate::flow::fields::fingerprint(flow_id));
            if info.open.is_empty() {
                // An idle key keeps no room for open flows.
                info.open = Vec::new();
                self.idle_keys.push_back(flow.key.clone());
            }
        }
        // Keys with no open flow are remembered (their partition, their
        // last closed flow ids) for the last `dedupe_window` of them, not
        // forever: memory follows open flows, not every key ever seen.
        while self.idle_keys.len() > self.options.dedupe_window {
            let Some(old) = self.idle_keys.pop_front() else { break };
            if self.keys.get(&old).is_some_and(|k| k.open.is_empty()) {
                self.keys.remove(&old);
                self.forgot = true;
            }
        }
    }

    pub(super) fn count_complete(&mut self, flow: &OpenFlow) {
        if flow.unknown || !self.spec.end.contains(&flow.state) {
            return;
        }
        let name = self.spec.path_taken(&flow.path).unwrap_or("other");
        match self.report.complete_by_path.get_mut(name) {
            Some(count) => *count += 1,
            None => {
                self.report.complete_by_path.insert(name.to_string(), 1);
            }
        }
    }
}
