//! Latency histograms (HDR, microseconds) and the per-second timeline of
//! a load run, with their JSON forms, which merge exactly across shards.

use crate::num::Cast as _;
use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Up to an hour, 3 significant digits.
const MAX_US: u64 = 3_600_000_000;

#[allow(
    clippy::expect_used,
    reason = "constant bounds (1 ≤ low, 2 × low ≤ high, 3 significant digits) that hdrhistogram accepts; a unit test builds it"
)]
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("constant bounds make a valid histogram")
}

pub fn record(h: &mut Histogram<u64>, us: u64) {
    h.saturating_record(us.clamp(1, MAX_US));
}

/// A latency distribution as reports carry it: percentiles in
/// milliseconds, and the recorded values so shards can be merged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// `[microseconds, count]` for every recorded bucket.
    pub histogram: Vec<(u64, u64)>,
}

fn ms(us: u64) -> f64 {
    us.to_f64() / 1000.0
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            histogram: h
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect(),
        }
    }

    /// The histogram back, for merging.
    pub fn to_histogram(&self) -> Histogram<u64> {
        let mut h = histogram();
        for (us, n) in &self.histogram {
            let _ = h.record_n(*us.min(&MAX_US), *n);
        }
        h
    }

    /// Merges several distributions exactly.
    pub fn merge<'a>(all: impl IntoIterator<Item = &'a Latency>) -> Latency {
        let mut h = histogram();
        for l in all {
            let _ = h.add(l.to_histogram());
        }
        Latency::of(&h)
    }
}

/// Merges per-name distributions.
pub fn merge_named<'a>(all: impl IntoIterator<Item = &'a BTreeMap<String, Latency>>) -> BTreeMap<String, Latency> {
    let mut by: BTreeMap<String, Vec<&Latency>> = BTreeMap::new();
    for map in all {
        for (k, v) in map {
            by.entry(k.clone()).or_default().push(v);
        }
    }
    by.into_iter().map(|(k, v)| (k, Latency::merge(v))).collect()
}

/// One second of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    /// Seconds since the start (the end of this second).
    pub t: u64,
    /// Target flows per second (none when unpaced).
    pub target_flow_rate: Option<f64>,
    pub flows_started: u64,
    pub events_sent: u64,
    pub events_acknowledged: u64,
    pub errors: u64,
    pub flows_in_flight: u64,
    /// Acknowledgement latency of the events acknowledged this second.
    pub ack_p50_ms: f64,
    #[serde(default)]
    pub ack_p90_ms: f64,
    pub ack_p99_ms: f64,
    #[serde(default)]
    pub ack_max_ms: f64,
}

/// Merges shards' timelines second by second: counts add, rates add,
/// percentiles take the worst shard's (a bound, not an exact merge).
pub fn merge_timelines<'a>(all: impl IntoIterator<Item = &'a Vec<Tick>>) -> Vec<Tick> {
    let mut by: BTreeMap<u64, Tick> = BTreeMap::new();
    for timeline in all {
        for t in timeline {
            let m = by.entry(t.t).or_insert_with(|| Tick {
                t: t.t,
                ..Tick::default()
            });
            m.target_flow_rate = match (m.target_flow_rate, t.target_flow_rate) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            };
            m.flows_started += t.flows_started;
            m.events_sent += t.events_sent;
            m.events_acknowledged += t.events_acknowledged;
            m.errors += t.errors;
            m.flows_in_flight += t.flows_in_flight;
            m.ack_p50_ms = m.ack_p50_ms.max(t.ack_p50_ms);
            m.ack_p90_ms = m.ack_p90_ms.max(t.ack_p90_ms);
            m.ack_p99_ms = m.ack_p99_ms.max(t.ack_p99_ms);
            m.ack_max_ms = m.ack_max_ms.max(t.ack_max_ms);
        }
    }
    by.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_latencies_equal_one_histogram_of_everything() {
        let (mut a, mut b, mut all) = (histogram(), histogram(), histogram());
        for i in 1..1000 {
            record(&mut a, i * 7);
            record(&mut all, i * 7);
            record(&mut b, i * 1300);
            record(&mut all, i * 1300);
        }
        let merged = Latency::merge([&Latency::of(&a), &Latency::of(&b)]);
        assert_eq!(merged, Latency::of(&all));
        assert_eq!(merged.count, 1998);
    }
}
