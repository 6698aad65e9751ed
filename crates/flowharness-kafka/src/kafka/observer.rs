//! The observer: reads a topic the way any consumer would (its own group,
//! from the run's start offsets or the beginning), decodes through the
//! registry by schema id, and hands every message on as an [`Observed`],
//! bad ones included, with their partition and offset.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::Offset;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use serde_json::Value;

use super::cluster::Cluster;
use crate::codec::{binary, confluent};
use crate::error::Result;
use crate::flow::checker::Observed;
use crate::registry::RegistryClient;
use crate::schema::Schema;

/// The header that carries a produced message's sequence number.
pub const SEQUENCE_HEADER: &str = "flowharness-seq";
/// The header that carries the flow id.
pub const FLOW_HEADER: &str = "flowharness-flow";
/// The header that carries the generator's seed.
pub const SEED_HEADER: &str = "flowharness-seed";

/// The largest message value expected: Kafka's default `max.message.bytes`.
/// A bigger one is reported rather than decoded.
pub const MAX_MESSAGE_BYTES: usize = 1_048_588;

/// Decodes message values: Confluent-framed Avro or JSON through the
/// registry, or plain JSON.
#[derive(Debug, Clone)]
pub struct Decoder {
    pub registry: RegistryClient,
}

impl Decoder {
    pub fn decode(&self, payload: Option<&[u8]>) -> std::result::Result<Value, String> {
        self.decode_named(payload).0
    }

    /// The value, and the writer schema's record name where the registry
    /// gave a named Avro schema. The framing is read and the schema looked
    /// up once.
    pub fn decode_named(
        &self,
        payload: Option<&[u8]>,
    ) -> (std::result::Result<Value, String>, Option<std::sync::Arc<str>>) {
        let Some(bytes) = payload else {
            return (Err("tombstone: the value is null".into()), None);
        };
        if bytes.len() > MAX_MESSAGE_BYTES {
            let e = format!(
                "a value of {} bytes, larger than expected (at most {MAX_MESSAGE_BYTES}, Kafka's default max.message.bytes)",
                bytes.len()
            );
            return (Err(e), None);
        }
        match confluent::unframe(bytes) {
            Ok((id, rest)) => {
                let schema = match self.registry.schema(id) {
                    Ok(s) => s,
                    Err(e) => return (Err(format!("schema id {id}: {e}")), None),
                };
                match schema.as_ref() {
                    Schema::Avro(avro) => (
                        binary::decode(avro, rest).map_err(|e| format!("Avro datum with schema id {id}: {e}")),
                        avro.root_name().map(|n| std::sync::Arc::from(n.as_str())),
                    ),
                    Schema::Json(_) => (
                        serde_json::from_slice(rest).map_err(|e| format!("JSON with schema id {id}: {e}")),
                        None,
                    ),
                    Schema::Protobuf(proto) => (
                        crate::codec::protobuf::decode_payload(proto, rest)
                            .map_err(|e| format!("Protobuf with schema id {id}: {e}")),
                        Some(std::sync::Arc::from(proto.name())),
                    ),
                }
            }
            Err(framing) => {
                let value = match std::str::from_utf8(bytes) {
                    Ok(text) => serde_json::from_str(text).map_err(|e| format!("{framing}, and not JSON either: {e}")),
                    Err(_) => Err(format!("{framing}, and not UTF-8 JSON either")),
                };
                (value, None)
            }
        }
    }
}

/// Where to start and when to stop.
#[derive(Debug, Clone)]
pub struct ObserveOptions {
    /// Start offsets per partition; `None` reads from the beginning.
    pub start: Option<Vec<(i32, i64)>>,
    /// Stop once this many messages were seen.
    pub expected: Option<u64>,
    /// Stop at the end offsets present when reading began.
    pub until_end: bool,
    pub timeout: Duration,
    /// Only messages of this produce run (by their sequence header) count;
    /// others on the topic are passed over.
    pub run_id: Option<String>,
    /// Only these partitions of each topic are read (one instance's share
    /// of a verify spread over several); `None` reads them all.
    pub partitions: Option<Vec<i32>>,
}

/// What was read, besides the messages handed on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    pub messages: u64,
    pub per_partition: BTreeMap<i32, u64>,
    pub timed_out: bool,
    /// Messages delivered again at an offset already handed on, passed over.
    pub redelivered: u64,
    /// Per topic and partition, when several topics were read.
    pub per_topic: BTreeMap<String, BTreeMap<i32, u64>>,
}

/// The last offset handed on, per partition. The observer never joins a
/// group (it assigns its partitions itself), so no rebalance can take them
/// away; a message at or before the last offset (a fetch repeated after a
/// reconnect, a rewind) is a re-delivery, passed over so that nothing is
/// counted twice.
#[derive(Debug, Clone, Default)]
pub struct Positions(BTreeMap<i32, i64>);

impl Positions {
    /// Records `offset` of `partition`; false when it was handed on before.
    pub fn advance(&mut self, partition: i32, offset: i64) -> bool {
        match self.0.get(&partition) {
            Some(last) if offset <= *last => false,
            _ => {
                self.0.insert(partition, offset);
                true
            }
        }
    }

    /// The last offset handed on of `partition`.
    pub fn last(&self, partition: i32) -> Option<i64> {
        self.0.get(&partition).copied()
    }
}

/// The end offset (high watermark) of each partition of `topic`.
pub fn end_offsets(cluster: &Cluster, topic: &str) -> Result<Vec<(i32, i64)>> {
    let consumer: BaseConsumer = cluster
        .client_config()
        .create()
        .map_err(|e| cluster.error("cannot create a consumer", e))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), cluster.timeout)
        .map_err(|e| cluster.error("metadata", e))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .first()
        .map(|t| t.partitions().iter().map(|p| p.id()).collect())
        .unwrap_or_default();
    partitions
        .into_iter()
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, cluster.timeout)
                .map(|(_, high)| (p, high))
                .map_err(|e| cluster.error(&format!("offsets of {topic}/{p}"), e))
        })
        .collect()
}

/// The run id and sequence number a produced message carries, if any:
/// the header's value is `RUN:SEQ`.
pub fn sequence_of<M: Message>(m: &M) -> Option<(String, u64)> {
    let headers = m.headers()?;
    let value = headers
        .iter()
        .find(|h| h.key == SEQUENCE_HEADER)
        .and_then(|h| h.value)?;
    let (run, seq) = std::str::from_utf8(value).ok()?.split_once(':')?;
    Some((run.to_string(), seq.parse().ok()?))
}

/// A message's headers as text (a header without a value reads as "").
pub fn headers_of<M: Message>(m: &M) -> Vec<(String, String)> {
    m.headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| {
                    let value = h.value.map(String::from_utf8_lossy).unwrap_or_default();
                    (h.key.to_string(), value.into_owned())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Reads `topic`, calling `each` with every message and the run id and
/// sequence number it carries.
pub fn observe(
    cluster: &Cluster,
    topic: &str,
    decoder: &Decoder,
    options: &ObserveOptions,
    each: &mut dyn FnMut(Observed, Option<(String, u64)>),
) -> Result<Observation> {
    observe_many(cluster, &[(topic, options.start.clone())], decoder, options, each)
}

/// A topic to read and where to start: offsets per partition, or `None`
/// for the beginning.
pub type Reading<'a> = (&'a str, Option<Vec<(i32, i64)>>);

/// Reads several topics in one consumer, each from its own start offsets
/// (`None`: the beginning); `options.start` is not used.
pub fn observe_many(
    cluster: &Cluster,
    topics: &[Reading<'_>],
    decoder: &Decoder,
    options: &ObserveOptions,
    each: &mut dyn FnMut(Observed, Option<(String, u64)>),
) -> Result<Observation> {
    let consumer = cluster.consumer(
        &format!("flowharness-observer-{}", uuid::Uuid::new_v4()),
        &[("fetch.wait.max.ms", "50")],
    )?;
    let mut ends: Vec<(usize, i32, i64)> = Vec::new();
    let mut assignment = Vec::new();
    for (t, (topic, start)) in topics.iter().enumerate() {
        let start_of = |p: i32| {
            start
                .as_ref()
                .and_then(|s| s.iter().find(|(q, _)| *q == p).map(|(_, o)| *o))
        };
        for (p, high) in end_offsets(cluster, topic)? {
            if options.partitions.as_ref().is_some_and(|only| !only.contains(&p)) {
                continue;
            }
            ends.push((t, p, high.max(start_of(p).unwrap_or(0))));
            assignment.push((*topic, p, start_of(p).map_or(Offset::Beginning, Offset::Offset)));
        }
    }
    cluster.assign_many(&consumer, assignment)?;
    let names: Vec<std::sync::Arc<str>> = topics.iter().map(|(t, _)| std::sync::Arc::from(*t)).collect();
    let starts: Vec<(usize, i32, i64)> = topics
        .iter()
        .enumerate()
        .flat_map(|(t, (_, s))| s.iter().flatten().map(move |(p, o)| (t, *p, *o)))
        .collect();
    let mut seen = Observation::default();
    let mut positions: Vec<Positions> = vec![Positions::default(); topics.len()];
    let deadline = Instant::now() + options.timeout;
    let at_end = |positions: &[Positions]| {
        ends.iter().all(|(t, p, high)| {
            let start = starts
                .iter()
                .find(|(u, q, _)| u == t && q == p)
                .map_or(0, |(_, _, o)| *o);
            *high <= start || positions[*t].last(*p).is_some_and(|pos| pos + 1 >= *high)
        })
    };
    // End offsets can lag behind what a broker holds (tansu's do), so the
    // end is reached only once nothing more arrives for a while.
    let mut last_message = Instant::now();
    loop {
        let quiet = last_message.elapsed() >= Duration::from_secs(1);
        if options.expected.is_some_and(|n| seen.messages >= n) || (options.until_end && quiet && at_end(&positions)) {
            break;
        }
        if Instant::now() >= deadline {
            seen.timed_out = true;
            break;
        }
        let Some(polled) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = match polled {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("observer: {e}");
                continue;
            }
        };
        last_message = Instant::now();
        let t = names.iter().position(|n| **n == *m.topic()).unwrap_or(0);
        if !positions[t].advance(m.partition(), m.offset()) {
            seen.redelivered += 1;
            continue;
        }
        let sequence = sequence_of(&m);
        if let Some(run) = &options.run_id
            && sequence.as_ref().is_none_or(|(id, _)| id != run)
        {
            continue;
        }
        seen.messages += 1;
        *seen.per_partition.entry(m.partition()).or_default() += 1;
        if topics.len() > 1 {
            *seen
                .per_topic
                .entry(names[t].to_string())
                .or_default()
                .entry(m.partition())
                .or_default() += 1;
        }
        let key = m.key().map(|k| String::from_utf8_lossy(k).into_owned());
        let (value, record) = decoder.decode_named(m.payload());
        let observed = Observed {
            topic: Some(names[t].clone()),
            record,
            partition: m.partition(),
            offset: m.offset(),
            key,
            value,
            headers: headers_of(&m),
        };
        each(observed, sequence);
    }
    Ok(seen)
}

/// Reads `topic` from the beginning until a message satisfies `wanted`,
/// for at most `within`; the topic may not exist yet when reading begins
/// (a service under test creates its output topic when it first writes).
/// Returns the message, or how many were read without a match.
pub fn first_match(
    cluster: &Cluster,
    topic: &str,
    decoder: &Decoder,
    within: Duration,
    wanted: &mut dyn FnMut(&Observed) -> bool,
) -> Result<std::result::Result<Observed, u64>> {
    let consumer = cluster.consumer(
        &format!("flowharness-watch-{}", uuid::Uuid::new_v4()),
        &[("topic.metadata.refresh.interval.ms", "500")],
    )?;
    consumer
        .subscribe(&[topic])
        .map_err(|e| cluster.error(&format!("subscribe to {topic}"), e))?;
    let deadline = Instant::now() + within;
    let mut read = 0;
    while Instant::now() < deadline {
        let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        read += 1;
        let (value, record) = decoder.decode_named(m.payload());
        let observed = Observed {
            topic: Some(std::sync::Arc::from(m.topic())),
            record,
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            value,
            headers: headers_of(&m),
        };
        if wanted(&observed) {
            return Ok(Ok(observed));
        }
    }
    Ok(Err(read))
}

#[cfg(test)]
mod tests {
    use super::Positions;

    #[test]
    fn a_message_delivered_again_is_passed_over() {
        let mut positions = Positions::default();
        // Partition 0 reads 0..3, partition 1 reads 0..2, then a reconnect
        // re-fetches partition 0 from offset 1.
        let delivered = [
            (0, 0),
            (0, 1),
            (1, 0),
            (0, 2),
            (1, 1),
            (0, 1),
            (0, 2),
            (0, 3),
            (1, 1),
            (1, 2),
        ];
        let handed_on: Vec<(i32, i64)> = delivered
            .into_iter()
            .filter(|(p, o)| positions.advance(*p, *o))
            .collect();
        assert_eq!(handed_on, vec![(0, 0), (0, 1), (1, 0), (0, 2), (1, 1), (0, 3), (1, 2)]);
        assert_eq!(positions.last(0), Some(3));
        assert_eq!(positions.last(1), Some(2));
        assert_eq!(positions.last(2), None);
    }
}
