//! The producer: an rdkafka `BaseProducer` polled by our own loop, with
//! every message counted from enqueue to delivery report, so a run always
//! ends with produced = acknowledged + failed.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer as _, ProducerContext};
use rdkafka::{ClientConfig, ClientContext};

use super::cluster::Cluster;
use crate::error::Result;

/// Counts delivery reports.
#[derive(Debug, Default)]
pub struct Accounting {
    acknowledged: AtomicU64,
    failed: AtomicU64,
    failures: Mutex<Vec<String>>,
}

impl ClientContext for Accounting {}

impl ProducerContext for Accounting {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.acknowledged.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut f = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if f.len() < 100 {
                    f.push(e.to_string());
                }
            }
        }
    }
}

/// What a produce run delivered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delivery {
    pub produced: u64,
    pub acknowledged: u64,
    pub failed: u64,
    /// The first failures' reasons.
    pub failures: Vec<String>,
}

/// Producer settings.
#[derive(Debug, Clone)]
pub struct ProducerOptions {
    /// Retries never duplicate (on for contract runs).
    pub idempotent: bool,
    pub acks: String,
    pub linger_ms: u32,
    pub compression: String,
    /// `batch.size` in bytes, when set.
    pub batch_size: Option<u32>,
    /// How long to wait for the last delivery reports.
    pub flush_timeout: Duration,
}

impl Default for ProducerOptions {
    fn default() -> Self {
        ProducerOptions {
            idempotent: true,
            acks: "all".into(),
            linger_ms: 5,
            compression: "none".into(),
            batch_size: None,
            flush_timeout: Duration::from_secs(30),
        }
    }
}

impl ProducerOptions {
    /// Settings for load-like runs: no idempotence (a retry may duplicate,
    /// and duplicates are counted), the leader's acknowledgement only.
    pub fn for_load(flush_timeout: Duration) -> ProducerOptions {
        ProducerOptions {
            idempotent: false,
            acks: "1".into(),
            flush_timeout,
            ..ProducerOptions::default()
        }
    }

    /// A librdkafka producer configuration for `cluster` with these settings.
    pub fn client_config(&self, cluster: &Cluster) -> ClientConfig {
        let mut config = cluster.client_config();
        config
            .set("enable.idempotence", self.idempotent.to_string())
            .set("acks", &self.acks)
            .set("linger.ms", self.linger_ms.to_string())
            .set("compression.type", &self.compression)
            .set(
                "message.timeout.ms",
                self.flush_timeout.as_millis().max(1000).to_string(),
            );
        if let Some(b) = self.batch_size {
            config.set("batch.size", b.to_string());
        }
        config
    }
}

/// A producer with delivery accounting.
pub struct Producer {
    inner: BaseProducer<Accounting>,
    produced: u64,
    flush_timeout: Duration,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer").field("produced", &self.produced).finish()
    }
}

/// One message to send.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub topic: &'a str,
    pub partition: Option<i32>,
    pub key: Option<&'a [u8]>,
    pub payload: Option<&'a [u8]>,
    pub headers: &'a [(&'a str, &'a [u8])],
}

impl Producer {
    pub fn new(cluster: &Cluster, options: &ProducerOptions) -> Result<Producer> {
        let inner: BaseProducer<Accounting> = options
            .client_config(cluster)
            .create_with_context(Accounting::default())
            .map_err(|e| cluster.error("cannot create a producer", e))?;
        Ok(Producer {
            inner,
            produced: 0,
            flush_timeout: options.flush_timeout,
        })
    }

    /// Enqueues one message, polling for delivery reports while the local
    /// queue is full. A message that cannot be enqueued counts as failed.
    pub fn send(&mut self, m: &Outgoing<'_>) {
        let mut headers = OwnedHeaders::new();
        for (k, v) in m.headers {
            headers = headers.insert(Header {
                key: k,
                value: Some(*v),
            });
        }
        self.produced += 1;
        loop {
            let mut record: BaseRecord<'_, [u8], [u8], ()> = BaseRecord::to(m.topic).headers(headers.clone());
            if let Some(k) = m.key {
                record = record.key(k);
            }
            if let Some(p) = m.payload {
                record = record.payload(p);
            }
            if let Some(p) = m.partition {
                record = record.partition(p);
            }
            match self.inner.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    self.inner.poll(Duration::from_millis(5));
                }
                Err((e, _)) => {
                    let ctx = self.inner.context();
                    ctx.failed.fetch_add(1, Ordering::Relaxed);
                    ctx.failures
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(format!("not enqueued: {e}"));
                    break;
                }
            }
        }
        self.inner.poll(Duration::ZERO);
    }

    /// Waits for every delivery report (up to the flush timeout) and
    /// accounts for all: messages with no report in time count as failed.
    pub fn finish(self) -> Delivery {
        let deadline = Instant::now() + self.flush_timeout;
        while self.inner.in_flight_count() > 0 && Instant::now() < deadline {
            let _ = self.inner.flush(Duration::from_millis(100));
        }
        let ctx = self.inner.context();
        let acknowledged = ctx.acknowledged.load(Ordering::Relaxed);
        let mut failed = ctx.failed.load(Ordering::Relaxed);
        let mut failures = ctx
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let unreported = self.produced.saturating_sub(acknowledged + failed);
        if unreported > 0 {
            failed += unreported;
            failures.push(format!(
                "{unreported} messages had no delivery report within {:?}",
                self.flush_timeout
            ));
        }
        Delivery {
            produced: self.produced,
            acknowledged,
            failed,
            failures,
        }
    }
}
