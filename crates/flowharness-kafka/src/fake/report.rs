//! A fake's accounting: every request taken is replied to, omitted as
//! planned, unanswerable (a finding), or pending when the fake stopped.

use crate::num::Cast as _;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;

use super::rules::{Fault, Rules};
use crate::load::metrics::Latency;
use crate::load::sink::Acks;

/// Per rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RuleCounts {
    pub name: String,
    pub requests: u64,
    pub replied: u64,
    pub omitted: u64,
    pub unanswerable: u64,
}

/// What a fake saw and did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FakeReport {
    pub seconds: f64,
    /// From the first request taken to the last reply acknowledged.
    pub active_seconds: f64,
    /// Messages read on the request topics.
    pub read: u64,
    /// Taken by a rule.
    pub requests: u64,
    /// Requests whose every reply event was handed to the producer.
    pub replied: u64,
    /// Requests left without a reply on purpose (the `none` fault).
    pub omitted: u64,
    /// Requests a rule took but could not answer (findings).
    pub unanswerable: u64,
    /// Requests whose reply was still due when the fake stopped.
    pub pending: u64,
    /// Read, decoded, taken by no rule.
    pub unmatched: u64,
    /// Read and not decodable (findings).
    pub undecodable: u64,
    /// Reply events handed to the producer, and what the broker said.
    pub reply_events: u64,
    pub acknowledged: u64,
    pub failed: u64,
    /// Faults given, by kind.
    pub faults: BTreeMap<String, u64>,
    pub rules: Vec<RuleCounts>,
    /// From the request's timestamp, plus the reply's planned delay, to
    /// the broker's acknowledgement of each reply event.
    pub latency: Latency,
    /// The first findings, each with its place.
    pub findings: Vec<String>,
    /// How many findings there were in all.
    pub finding_count: u64,
}

const KEPT_FINDINGS: usize = 20;

/// The counts of a running fake, for a caller on another thread.
#[derive(Debug, Default)]
pub struct Live {
    pub requests: std::sync::atomic::AtomicU64,
    pub replied: std::sync::atomic::AtomicU64,
    pub omitted: std::sync::atomic::AtomicU64,
    pub unanswerable: std::sync::atomic::AtomicU64,
    pub pending: std::sync::atomic::AtomicU64,
}

impl Live {
    pub(super) fn update(&self, r: &FakeReport, pending: u64) {
        self.requests.store(r.requests, Ordering::Relaxed);
        self.replied.store(r.replied, Ordering::Relaxed);
        self.omitted.store(r.omitted, Ordering::Relaxed);
        self.unanswerable.store(r.unanswerable, Ordering::Relaxed);
        self.pending.store(pending, Ordering::Relaxed);
    }

    /// Requests taken, and whether every one has its answer.
    pub fn settled(&self) -> (u64, bool) {
        let n = self.requests.load(Ordering::Relaxed);
        (
            n,
            self.pending.load(Ordering::Relaxed) == 0
                && n == self.replied.load(Ordering::Relaxed)
                    + self.omitted.load(Ordering::Relaxed)
                    + self.unanswerable.load(Ordering::Relaxed),
        )
    }
}

impl FakeReport {
    pub fn new(rules: &Rules) -> FakeReport {
        FakeReport {
            rules: rules
                .rules
                .iter()
                .map(|r| RuleCounts {
                    name: r.name.clone(),
                    ..RuleCounts::default()
                })
                .collect(),
            ..FakeReport::default()
        }
    }

    pub(super) fn taken(&mut self, rule: usize) {
        self.requests += 1;
        self.rules[rule].requests += 1;
    }

    pub(super) fn replied(&mut self, rule: usize) {
        self.replied += 1;
        self.rules[rule].replied += 1;
    }

    pub(super) fn omitted(&mut self, rule: usize) {
        self.omitted += 1;
        self.rules[rule].omitted += 1;
    }

    pub(super) fn unanswerable(&mut self, rule: usize) {
        self.unanswerable += 1;
        self.rules[rule].unanswerable += 1;
    }

    pub(super) fn fault(&mut self, f: Fault) {
        *self.faults.entry(f.name().to_string()).or_default() += 1;
    }

    pub(super) fn finding(&mut self, text: String) {
        self.finding_count += 1;
        if self.findings.len() < KEPT_FINDINGS {
            self.findings.push(text);
        }
    }

    pub(super) fn finish(&mut self, acks: &Acks, elapsed: Duration, unreported: u64) {
        self.seconds = elapsed.as_secs_f64();
        self.acknowledged = acks.acknowledged.load(Ordering::Relaxed);
        self.failed = acks.failed.load(Ordering::Relaxed) + unreported;
        let l = acks.latency.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.latency = Latency::of(&l.0);
    }

    /// Whether every request taken is accounted for.
    pub fn balanced(&self) -> bool {
        self.requests == self.replied + self.omitted + self.unanswerable + self.pending
    }

    /// Findings: unanswerable or undecodable requests, or replies the broker refused.
    pub fn failed(&self) -> bool {
        self.finding_count > 0 || self.failed > 0
    }
}

impl fmt::Display for FakeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "fake: {} requests in {:.1}s: {} replied, {} omitted as planned, {} unanswerable, {} pending at stop",
            self.requests, self.seconds, self.replied, self.omitted, self.unanswerable, self.pending
        )?;
        writeln!(
            f,
            "  read {} messages: {} unmatched, {} undecodable",
            self.read, self.unmatched, self.undecodable
        )?;
        writeln!(
            f,
            "  reply events: {} sent, {} acknowledged, {} failed",
            self.reply_events, self.acknowledged, self.failed
        )?;
        if !self.faults.is_empty() {
            let list: Vec<String> = self.faults.iter().map(|(k, v)| format!("{k} {v}")).collect();
            writeln!(f, "  faults given: {}", list.join(", "))?;
        }
        if self.rules.len() > 1 {
            for r in &self.rules {
                writeln!(
                    f,
                    "  rule {}: {} requests, {} replied, {} omitted, {} unanswerable",
                    r.name, r.requests, r.replied, r.omitted, r.unanswerable
                )?;
            }
        }
        if self.latency.count > 0 {
            writeln!(
                f,
                "  request-to-reply latency beyond the planned delay: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                self.latency.p50_ms, self.latency.p99_ms, self.latency.max_ms
            )?;
        }
        for x in &self.findings {
            writeln!(f, "  finding: {x}")?;
        }
        if self.finding_count > self.findings.len().sat_u64() {
            writeln!(
                f,
                "  … and {} more findings",
                self.finding_count - self.findings.len().sat_u64()
            )?;
        }
        if !self.balanced() {
            writeln!(
                f,
                "  accounting does not balance: this is a bug in flowharness, please report it"
            )?;
        }
        Ok(())
    }
}
