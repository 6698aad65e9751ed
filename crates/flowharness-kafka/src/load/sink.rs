//! Where a load run's events go: a Kafka producer whose delivery reports
//! feed the latency histograms, or nowhere (to measure the harness alone).
//! Each message carries its intended send time; acknowledgement latency is
//! measured from it, so a stalled producer shows up in the figures instead
//! of hiding (coordinated omission).

use crate::num::Cast as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer as _, ProducerContext};

use super::metrics::{histogram, record};
use crate::error::Result;
use crate::kafka::cluster::Cluster;
use crate::kafka::producer::ProducerOptions;

/// Counts and latencies from delivery reports. Reports arrive on the
/// thread that polls, so the locks are never contended.
#[derive(Debug)]
pub struct Acks {
    pub origin: Instant,
    pub acknowledged: AtomicU64,
    pub failed: AtomicU64,
    pub failures: Mutex<Vec<String>>,
    /// Whole run, and the current second (reset by the progress tick).
    pub latency: Mutex<(Histogram<u64>, Histogram<u64>)>,
}

impl Acks {
    pub fn new(origin: Instant) -> Acks {
        Acks {
            origin,
            acknowledged: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            failures: Mutex::new(Vec::new()),
            latency: Mutex::new((histogram(), histogram())),
        }
    }

    /// An acknowledgement of a message meant to go at `intended_us`.
    pub fn ack(&self, intended_us: u64) {
        self.acknowledged.fetch_add(1, Ordering::Relaxed);
        let now = self.origin.elapsed().as_micros().sat_u64();
        let mut l = self.latency.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let us = now.saturating_sub(intended_us);
        record(&mut l.0, us);
        record(&mut l.1, us);
    }

    pub fn fail(&self, reason: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut f = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if f.len() < 100 {
            f.push(reason);
        }
    }
}

/// The producer's context: delivery reports into [`Acks`].
#[derive(Debug)]
pub struct AckContext(pub std::sync::Arc<Acks>);

impl ClientContext for AckContext {}

impl ProducerContext for AckContext {
    type DeliveryOpaque = usize;
    fn delivery(&self, result: &DeliveryResult<'_>, intended_us: usize) {
        match result {
            Ok(_) => self.0.ack(intended_us.sat_u64()),
            Err((e, _)) => self.0.fail(e.to_string()),
        }
    }
}

/// Where events go.
pub trait Sink {
    /// Chooses the topic (of the flow's) the next `send`s go to; a flow on
    /// one topic never calls it.
    fn select(&mut self, _channel: usize) {}
    /// The value of the flow's correlation header for the next `send`s
    /// (`[flow] id_header`); a flow without one never calls it.
    fn flow_header(&mut self, _name: &str, _value: &[u8]) {}
    /// Sends one event meant to go at `intended_us` (since the run began).
    fn send(&mut self, key: &[u8], payload: &[u8], timestamp_ms: i64, intended_us: u64);
    /// Serves delivery reports.
    fn poll(&mut self);
    /// Messages handed over and not yet reported.
    fn in_flight(&self) -> u64;
    /// Waits for the outstanding reports, up to `timeout`; what gets none
    /// counts as failed.
    fn finish(&mut self, timeout: Duration);
}

/// Nowhere: every event is acknowledged at once (the harness alone).
#[derive(Debug)]
pub struct NullSink(pub std::sync::Arc<Acks>);

impl Sink for NullSink {
    fn send(&mut self, _: &[u8], payload: &[u8], _: i64, intended_us: u64) {
        std::hint::black_box(payload);
        self.0.ack(intended_us);
    }
    fn poll(&mut self) {}
    fn in_flight(&self) -> u64 {
        0
    }
    fn finish(&mut self, _: Duration) {}
}

/// A Kafka topic.
pub struct KafkaSink {
    producer: BaseProducer<AckContext>,
    /// Per topic of the flow; `send` writes to the one last selected.
    topics: Vec<String>,
    current: usize,
    sent: u64,
    /// A header every message carries (a shard's run), if any.
    header: Option<OwnedHeaders>,
    /// The correlation header for the next sends: its name and value.
    flow_header: Option<(String, Vec<u8>)>,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink").field("topics", &self.topics).finish()
    }
}

impl KafkaSink {
    pub fn new(
        cluster: &Cluster,
        options: &ProducerOptions,
        topics: &[String],
        acks: std::sync::Arc<Acks>,
    ) -> Result<Self> {
        let mut config = options.client_config(cluster);
        config.set("queue.buffering.max.messages", "1000000");
        let producer = config
            .create_with_context(AckContext(acks))
            .map_err(|e| cluster.error("cannot create a producer", e))?;
        Ok(KafkaSink {
            producer,
            topics: topics.to_vec(),
            current: 0,
            sent: 0,
            header: None,
            flow_header: None,
        })
    }

    /// Every message carries the header `key: value` from now on (a
    /// shard's run id, so that its observer reads its own messages only).
    #[must_use]
    pub fn with_header(mut self, key: &str, value: &str) -> Self {
        self.header = Some(OwnedHeaders::new().insert(Header {
            key,
            value: Some(value.as_bytes()),
        }));
        self
    }
}

impl Sink for KafkaSink {
    fn select(&mut self, channel: usize) {
        self.current = channel.min(self.topics.len().saturating_sub(1));
    }

    fn flow_header(&mut self, name: &str, value: &[u8]) {
        match &mut self.flow_header {
            Some((n, v)) if n == name => {
                v.clear();
                v.extend_from_slice(value);
            }
            other => *other = Some((name.to_string(), value.to_vec())),
        }
    }

    fn send(&mut self, key: &[u8], payload: &[u8], timestamp_ms: i64, intended_us: u64) {
        self.sent += 1;
        loop {
            let mut record = BaseRecord::with_opaque_to(&self.topics[self.current], intended_us.sat_usize())
                .key(key)
                .payload(payload)
                .timestamp(timestamp_ms);
            match (&self.header, &self.flow_header) {
                (Some(h), None) => record = record.headers(h.clone()),
                (h, Some((name, value))) => {
                    let headers = h.clone().unwrap_or_else(OwnedHeaders::new).insert(Header {
                        key: name,
                        value: Some(value.as_slice()),
                    });
                    record = record.headers(headers);
                }
                (None, None) => {}
            }
            match self.producer.send(record) {
                Ok(()) => return,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    self.producer.poll(Duration::from_millis(1));
                }
                Err((e, _)) => {
                    self.producer.context().0.fail(format!("not enqueued: {e}"));
                    return;
                }
            }
        }
    }

    fn poll(&mut self) {
        self.producer.poll(Duration::ZERO);
    }

    fn in_flight(&self) -> u64 {
        u64::try_from(self.producer.in_flight_count()).unwrap_or(0)
    }

    fn finish(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.producer.in_flight_count() > 0 && Instant::now() < deadline {
            let _ = self.producer.flush(Duration::from_millis(100));
        }
        let acks = &self.producer.context().0;
        let reported = acks.acknowledged.load(Ordering::Relaxed) + acks.failed.load(Ordering::Relaxed);
        let unreported = self.sent.saturating_sub(reported);
        if unreported > 0 {
            acks.failed.fetch_add(unreported, Ordering::Relaxed);
            acks.fail(format!(
                "{unreported} messages had no delivery report within {timeout:?}"
            ));
            acks.failed.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
