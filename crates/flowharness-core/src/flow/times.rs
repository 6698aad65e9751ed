//! The timing rules of a flow, checked event by event: monotonic fields,
//! each state's time against T0, the previous event and the first, with a
//! clock skew allowed between topics.

use crate::num::Cast as _;
use serde_json::Value;

use super::checker::{At, Checker, Rule};
use super::spec::{Severity, TimeRule};

impl Checker<'_> {
    pub(super) fn check_times(&mut self, state: usize, value: &Value, flow_id: &str, at: &At<'_>) {
        let spec = self.spec;
        let Some(timing) = &spec.timing else { return };
        let Some(flow) = self.flows.get_mut(flow_id) else {
            return;
        };
        let mut found = Vec::new();
        if flow.t0.is_none() {
            flow.t0 = timing.anchor.as_ref().and_then(|a| a.read(value, state));
        }
        if flow.monotonic.len() != timing.monotonic.len() {
            flow.monotonic = vec![None; timing.monotonic.len()];
        }
        for (i, field) in timing.monotonic.iter().enumerate() {
            let Some(t) = field.read(value, state) else { continue };
            if let Some(before) = flow.monotonic[i].filter(|b| t < *b) {
                found.push((
                    Rule::TimeBackwards,
                    format!("{} went backwards: {t} after {before}", field.field.text),
                ));
            }
            flow.monotonic[i] = Some(t);
        }
        let scale = self.options.time_scale.max(f64::MIN_POSITIVE);
        let scaled = |ms: i64| (ms.to_f64() / scale).sat_i64();
        let name = &spec.states[state].name;
        let event_time = timing.event_time(value, state);
        // Clocks of producers on other topics may disagree by the skew.
        let channel = spec.states[state].channel;
        let slack = if channel == flow.last_channel {
            0
        } else {
            spec.cross_topic_skew_ms
        };
        if let Some(st) = &timing.states[state]
            && let Some(t) = st.time.read(value, state)
        {
            let field = &st.time.field.text;
            // A monotonic field already said so.
            let monotonic = timing.monotonic.iter().any(|m| m.field.text == st.time.field.text);
            if let Some(before) = flow.last_time.filter(|b| t + slack < *b && !monotonic) {
                found.push((
                    Rule::TimeBackwards,
                    format!("{field} {t} is before the previous event's time {before}"),
                ));
            }
            if let (Some(t0), Some(rule)) = (flow.t0, st.anchor) {
                let ok = match rule {
                    TimeRule::At { offset, within } => (t - (t0 + scaled(offset))).abs() <= scaled(within),
                    TimeRule::Before(b) => t < t0 + scaled(b),
                    TimeRule::After(a) => t >= t0 + scaled(a),
                };
                if !ok {
                    // Written only for a finding: most events keep their time.
                    let expected = match rule {
                        TimeRule::At { offset, within } => format!("T0{:+}ms ± {}ms", scaled(offset), scaled(within)),
                        TimeRule::Before(b) => format!("before T0{:+}ms", scaled(b)),
                        TimeRule::After(a) => format!("after T0{:+}ms", scaled(a)),
                    };
                    let anchor = timing.anchor.as_ref().map_or("", |a| a.field.text.as_str());
                    found.push((
                        Rule::Timing,
                        format!(
                            "{name}.{field} is T0{:+}ms, expected {expected} (T0 = {anchor})",
                            t - t0
                        ),
                    ));
                }
            }
            let relative = [
                (&st.previous, flow.last_time, "the previous event"),
                (&st.start, flow.first_time, "the flow's first event"),
            ];
            for (window, reference, what) in relative {
                if let (false, Some(r)) = (window.is_empty(), reference)
                    && !window.holds_within(t, r, slack, &scaled)
                {
                    found.push((
                        Rule::Timing,
                        format!(
                            "{name}.{field} is {}ms after {what}, expected {}",
                            t - r,
                            window.describe(what, &scaled)
                        ),
                    ));
                }
            }
        }
        if let Some(t) = event_time {
            flow.first_time.get_or_insert(t);
            flow.last_time = Some(t);
            flow.last_channel = channel;
        }
        for (rule, message) in found {
            self.find(rule, Severity::Error, at, message);
        }
    }
}
