//! Runs against a real broker: produce messages through the registry, read
//! them back the way a consumer would, and judge what was observed: every
//! message against its schema and its flow, nothing lost, nothing doubled.

use crate::num::Cast as _;
use std::time::Duration;

use crate::codec::{binary, confluent};
use crate::error::{Error, Result};
use crate::flow::checker::{CheckOptions, Checker, Finding, Observed, Report, Rule};
use crate::flow::{FlowSpec, Severity};
use crate::kafka::Environment;
use crate::kafka::observer::{self, Decoder, FLOW_HEADER, Observation, ObserveOptions, SEED_HEADER, SEQUENCE_HEADER};
use crate::kafka::producer::{Delivery, Outgoing, Producer, ProducerOptions};
use crate::registry::SubjectStrategy;
use crate::schema::Schema;
use crate::schema::avro::{AvroSchema, Node};

/// One message to produce.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Message {
    pub key: Option<String>,
    pub partition: Option<i32>,
    pub value: serde_json::Value,
    pub flow_id: Option<String>,
    /// Bytes sent as they are instead of the encoded `value`: a foreign
    /// producer, or a deliberately broken message.
    pub raw: Option<Vec<u8>>,
    /// Which of the run's topics it goes to: 0 the run's `topic`, c the
    /// (c-1)-th of `others`.
    pub channel: usize,
    /// Headers of its own (a fixture's), sent beside flowharness's.
    pub headers: Vec<(String, String)>,
}

impl Message {
    /// A message with a key and a value to encode.
    pub fn keyed(key: impl Into<String>, value: serde_json::Value) -> Message {
        Message {
            key: Some(key.into()),
            value,
            ..Message::default()
        }
    }
}

/// What to produce and how.
#[derive(Debug, Clone)]
pub struct ProduceRun {
    pub topic: String,
    pub partitions: i32,
    pub schema: Schema,
    /// Further topics, for a flow across topics, each with its schema.
    pub others: Vec<(String, Schema)>,
    pub messages: Vec<Message>,
    pub seed: Option<u64>,
    pub strategy: SubjectStrategy,
    pub producer: ProducerOptions,
    pub observe_timeout: Duration,
    /// Keep every observed message in the report, for assertions on fields.
    pub keep_observed: bool,
}

/// What a run delivered, observed and found.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub schema_id: u32,
    pub delivery: Delivery,
    pub observation: Observation,
    pub lost: u64,
    pub duplicated: u64,
    pub check: Report,
    /// What was observed, in the order it was read (when the run asked).
    pub observed: Vec<Observed>,
    /// From the first send to the last acknowledgement, in seconds
    /// (making the messages included, observing not).
    pub send_seconds: f64,
}

impl RunReport {
    /// Whether anything went wrong: failures, violations, loss or doubles.
    pub fn failed(&self) -> bool {
        self.delivery.failed > 0 || self.check.errors > 0 || self.lost > 0 || self.duplicated > 0
    }
}

/// Encodes a value for the wire: Confluent-framed Avro or Protobuf (with
/// its message indexes), or plain JSON.
pub fn encode(schema: &Schema, schema_id: u32, value: &serde_json::Value) -> Result<Vec<u8>> {
    match schema {
        Schema::Avro(avro) => {
            let mut out = Vec::with_capacity(128);
            confluent::write_header(&mut out, schema_id);
            binary::encode(avro, value, &mut out)
                .map_err(|v| Error::Invalid(v.iter().map(|v| v.to_diagnostic()).collect()))?;
            Ok(out)
        }
        Schema::Json(json) => {
            if let Some(v) = json.validate(value).into_iter().next() {
                return Err(Error::invalid(v.to_diagnostic()));
            }
            serde_json::to_vec(value).map_err(|e| Error::internal_from("serializing JSON", e))
        }
        Schema::Protobuf(proto) => {
            if let Some(v) = proto.validate(value).into_iter().next() {
                return Err(Error::invalid(v.to_diagnostic()));
            }
            let mut out = Vec::with_capacity(128);
            confluent::write_header(&mut out, schema_id);
            crate::codec::protobuf::encode_payload(proto, value, &mut out)
                .map_err(|e| Error::invalid(crate::error::Diagnostic::new(e.to_string())))?;
            Ok(out)
        }
    }
}

/// How a topic's values are encoded: with the topic's one schema, or, for a
/// topic of several record types (topic-record subjects), each union
/// branch with a schema of its own, registered as `{topic}-{record}`.
#[derive(Debug)]
pub struct TopicEncoder {
    schema: Schema,
    id: u32,
    records: Vec<(String, AvroSchema, u32)>,
}

impl TopicEncoder {
    /// Registers what the topic needs.
    pub fn register(
        env: &Environment,
        topic: &str,
        schema: &Schema,
        records: bool,
        strategy: SubjectStrategy,
    ) -> Result<TopicEncoder> {
        let mut branches = Vec::new();
        if records
            && let Schema::Avro(avro) = schema
            && let Node::Union(u) = avro.node(avro.root())
        {
            for (b, key) in u.branches.iter().zip(&u.keys) {
                let json = crate::schema::avro_write::standalone(avro, *b);
                let own = crate::schema::avro_parse::parse_value(&json)?;
                let id = env
                    .registry
                    .register(&format!("{topic}-{}", key.full), &Schema::Avro(own.clone()))?;
                branches.push((key.full.clone(), own, id));
            }
        }
        let id = match branches.first() {
            Some((_, _, id)) => *id,
            None => env.registry.register(&strategy.subject(topic, schema), schema)?,
        };
        Ok(TopicEncoder {
            schema: schema.clone(),
            id,
            records: branches,
        })
    }

    /// The schema id of the topic's (first) schema.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Encodes a value: a record branch with its own schema and id.
    pub fn encode(&self, value: &serde_json::Value) -> Result<Vec<u8>> {
        if !self.records.is_empty()
            && let Some((full, inner)) = value.as_object().filter(|m| m.len() == 1).and_then(|m| m.iter().next())
            && let Some((_, avro, id)) = self.records.iter().find(|(name, _, _)| name == full)
        {
            return encode(&Schema::Avro(avro.clone()), *id, inner);
        }
        encode(&self.schema, self.id, value)
    }
}

/// Produces, observes from the run's start offsets, and checks against
/// `flow` (or only against the schema, without one).
pub fn produce_and_check(
    env: &Environment,
    run: &ProduceRun,
    flow: Option<&FlowSpec>,
    check: CheckOptions,
) -> Result<RunReport> {
    produce_stream(env, run, flow, check, &mut |send| {
        for m in &run.messages {
            send(m.clone())?;
        }
        Ok(())
    })
}

/// Which sequence numbers of a run were read, and how often beyond once:
/// a bit per message sent (a million messages take 125 kB), not a map.
#[derive(Debug, Default)]
struct Seen {
    bits: Vec<u64>,
    read: u64,
    duplicated: u64,
}

impl Seen {
    fn mark(&mut self, seq: u64) {
        let Ok(word) = usize::try_from(seq / 64) else { return };
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        let bit = 1u64 << (seq % 64);
        if self.bits[word] & bit == 0 {
            self.bits[word] |= bit;
            self.read += 1;
        } else {
            self.duplicated += 1;
        }
    }

    /// Sequence numbers below `produced` never read.
    fn missing(&self, produced: u64) -> u64 {
        produced.saturating_sub(self.read)
    }
}

/// Messages handed to a produce run one at a time: `feed` calls `send`
/// with each, and each is encoded and sent before the next is made.
pub type Feed<'a> = dyn FnMut(&mut dyn FnMut(Message) -> Result<()>) -> Result<()> + 'a;

/// As [`produce_and_check`], with the messages made as they are sent
/// (`run.messages` is not read): memory follows the producer's queue and
/// the checker's open flows, never the number of messages.
pub fn produce_stream(
    env: &Environment,
    run: &ProduceRun,
    flow: Option<&FlowSpec>,
    check: CheckOptions,
    feed: &mut Feed<'_>,
) -> Result<RunReport> {
    let cluster = &env.cluster;
    let topics: Vec<(&str, &Schema)> = std::iter::once((run.topic.as_str(), &run.schema))
        .chain(run.others.iter().map(|(t, s)| (t.as_str(), s)))
        .collect();
    let encoders = open_topics(env, &topics, flow, run.partitions, run.strategy)?;
    let starts = topics
        .iter()
        .map(|(topic, _)| observer::end_offsets(cluster, topic))
        .collect::<Result<Vec<_>>>()?;
    let schema_id = encoders[0].id();
    let mut producer = Producer::new(cluster, &run.producer)?;
    let seed = run.seed.map(|s| s.to_string());
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let mut seq = 0usize;
    let mut seq_text = String::with_capacity(48);
    let began = std::time::Instant::now();
    feed(&mut |m: Message| {
        seq_text.clear();
        seq_text.push_str(&run_id);
        seq_text.push(':');
        seq_text.push_str(&seq.to_string());
        let mut headers: Vec<(&str, &[u8])> = vec![(SEQUENCE_HEADER, seq_text.as_bytes())];
        if let Some(s) = &seed {
            headers.push((SEED_HEADER, s.as_bytes()));
        }
        send_message(&mut producer, &topics, &encoders, seq, &m, headers)?;
        seq += 1;
        Ok(())
    })?;
    let delivery = producer.finish();
    let send_seconds = began.elapsed().as_secs_f64();
    let decoder = Decoder {
        registry: env.registry.clone(),
    };
    let options = ObserveOptions {
        start: None,
        expected: Some(delivery.acknowledged),
        until_end: false,
        timeout: run.observe_timeout,
        run_id: Some(run_id.clone()),
        partitions: None,
    };
    let mut check = check;
    if check.topics.is_empty() && flow.is_some_and(FlowSpec::is_multi_topic) {
        check.topics = topics.iter().map(|(t, _)| t.to_string()).collect();
    }
    let mut checker = flow.map(|f| Checker::new(f, check));
    let mut schema_only = Report::default();
    let mut seen = Seen::default();
    let mut kept = Vec::new();
    let reading: Vec<observer::Reading<'_>> = topics.iter().zip(starts).map(|((t, _), s)| (*t, Some(s))).collect();
    let observation = observer::observe_many(cluster, &reading, &decoder, &options, &mut |o, seq| {
        if let Some((_, s)) = seq {
            seen.mark(s);
        }
        match checker.as_mut() {
            Some(c) => c.observe(&o),
            None => {
                let schema = o
                    .topic
                    .as_deref()
                    .and_then(|t| topics.iter().find(|(n, _)| *n == t))
                    .map_or(&run.schema, |(_, s)| *s);
                judge_schema(schema, &o, &mut schema_only);
            }
        }
        if run.keep_observed {
            kept.push(o);
        }
    })?;
    let check_report = match checker {
        Some(c) => c.finish(),
        None => schema_only,
    };
    let lost = seen.missing(seq.sat_u64()).saturating_sub(delivery.failed);
    Ok(RunReport {
        schema_id,
        delivery,
        observation,
        lost,
        duplicated: seen.duplicated,
        check: check_report,
        observed: kept,
        send_seconds,
    })
}

/// Creates a run's topics and registers what each needs (for a flow's
/// topic of several record types, each record's schema).
fn open_topics(
    env: &Environment,
    topics: &[(&str, &Schema)],
    flow: Option<&FlowSpec>,
    partitions: i32,
    strategy: SubjectStrategy,
) -> Result<Vec<TopicEncoder>> {
    let mut encoders = Vec::with_capacity(topics.len());
    for (c, (topic, schema)) in topics.iter().enumerate() {
        env.cluster.create_topic(topic, partitions)?;
        let records = flow.is_some_and(|f| f.channels().get(c).is_some_and(|ch| ch.records));
        encoders.push(TopicEncoder::register(env, topic, schema, records, strategy)?);
    }
    Ok(encoders)
}

/// Encodes message `seq` for its topic (or takes its raw bytes) and hands
/// it to the producer: `headers` first, then its flow id's and its own.
fn send_message<'m>(
    producer: &mut Producer,
    topics: &[(&str, &Schema)],
    encoders: &[TopicEncoder],
    seq: usize,
    m: &'m Message,
    mut headers: Vec<(&'m str, &'m [u8])>,
) -> Result<()> {
    let c = m.channel.min(topics.len() - 1);
    let encoded;
    let payload = match &m.raw {
        Some(raw) => raw.as_slice(),
        None => {
            encoded = encoders[c]
                .encode(&m.value)
                .map_err(|e| e.within(&format!("message {seq}")))?;
            encoded.as_slice()
        }
    };
    if let Some(f) = &m.flow_id {
        headers.push((FLOW_HEADER, f.as_bytes()));
    }
    headers.extend(m.headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())));
    producer.send(&Outgoing {
        topic: topics[c].0,
        partition: m.partition,
        key: m.key.as_deref().map(str::as_bytes),
        payload: Some(payload),
        headers: &headers,
    });
    Ok(())
}

/// Produces `messages` to a flow's topics (`topic` for its first, and
/// `{topic}-{name}` for the others) and waits for every acknowledgement,
/// reading nothing back: for a consumer under test, whose own reading is
/// what counts. Messages carry their flow id and their own headers only.
pub fn produce_only(
    env: &Environment,
    spec: &FlowSpec,
    topic: &str,
    partitions: i32,
    messages: &[Message],
) -> Result<Delivery> {
    let names: Vec<String> = std::iter::once(topic.to_string())
        .chain(spec.channels().iter().skip(1).map(|c| format!("{topic}-{}", c.topic)))
        .collect();
    let topics: Vec<(&str, &Schema)> = names
        .iter()
        .map(String::as_str)
        .zip(std::iter::once(spec.schema()).chain(spec.channels().iter().skip(1).map(|c| &c.schema)))
        .collect();
    let encoders = open_topics(env, &topics, Some(spec), partitions, SubjectStrategy::Topic)?;
    let mut producer = Producer::new(&env.cluster, &ProducerOptions::default())?;
    for (seq, m) in messages.iter().enumerate() {
        send_message(&mut producer, &topics, &encoders, seq, m, Vec::new())?;
    }
    Ok(producer.finish())
}

/// How many flows a saved replay holds at most: the keys of the first
/// this many with violations.
pub const REPLAY_KEYS: usize = 100;

/// The keys of the first [`REPLAY_KEYS`] flows with violations.
pub fn keys_with_violations(report: &Report) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for f in report.findings.iter().filter(|f| f.severity == Severity::Error) {
        if let Some(k) = &f.key
            && keys.len() < REPLAY_KEYS
            && !keys.contains(k)
        {
            keys.push(k.clone());
        }
    }
    keys
}

/// Reads a flow's topics again from where a run began (`None`: the
/// beginning) to their end, keeping the messages of `keys` in the order
/// read, each named by its topic in the spec: the flows a replay holds.
/// Messages that do not decode are left out.
pub fn read_keys(
    env: &Environment,
    spec: &FlowSpec,
    reading: &[observer::Reading<'_>],
    keys: &std::collections::HashSet<String>,
    timeout: Duration,
) -> Result<Vec<crate::flow::fixture_io::Keyed>> {
    let decoder = Decoder {
        registry: env.registry.clone(),
    };
    let options = ObserveOptions {
        start: None,
        expected: None,
        until_end: true,
        timeout,
        run_id: None,
        partitions: None,
    };
    let names: Vec<&str> = reading.iter().map(|(t, _)| *t).collect();
    let mut out = Vec::new();
    observer::observe_many(&env.cluster, reading, &decoder, &options, &mut |o, _| {
        if let (Some(key), Ok(value)) = (o.key, o.value)
            && keys.contains(&key)
        {
            let channel = o
                .topic
                .as_deref()
                .and_then(|t| names.iter().position(|n| *n == t))
                .unwrap_or(0);
            out.push(crate::flow::fixture_io::Keyed {
                key,
                value,
                topic: spec
                    .channels()
                    .get(channel)
                    .map(|c| std::sync::Arc::from(c.topic.as_str())),
                headers: o.headers,
            });
        }
    })?;
    Ok(out)
}

/// A generated message of `spec`, ready to produce: its flow id read
/// from the value (for the flow header) and its channel from its topic.
pub fn flow_message(spec: &FlowSpec, k: crate::flow::fixture_io::Keyed) -> Message {
    let flow_id = spec.classify(&k.value).ok().and_then(|s| spec.flow_id_of(&k.value, s));
    Message {
        key: Some(k.key),
        partition: None,
        flow_id,
        raw: None,
        channel: k.topic.as_deref().and_then(|t| spec.channel_of(t)).unwrap_or(0),
        headers: k.headers,
        value: k.value,
    }
}

/// The messages of a fixture's entry, on `channel`.
pub fn entry_messages(
    entry: crate::fixture::Entry,
    channel: usize,
    send: &mut dyn FnMut(Message) -> Result<()>,
) -> Result<()> {
    let key = match &entry.key {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    };
    for value in entry.messages {
        send(Message {
            key: key.clone(),
            partition: entry.partition,
            value,
            channel,
            headers: entry.headers.clone(),
            ..Message::default()
        })?;
    }
    Ok(())
}

/// Parses a partition list: `0-5`, `0,2,4`, or both (`0-2,7`); sorted,
/// each once.
pub fn parse_partitions(text: &str) -> Result<Vec<i32>> {
    let bad = |part: &str| {
        Error::Usage(format!(
            "--partitions {text}: expected partition numbers or ranges such as 0-5,8, found {part:?}"
        ))
    };
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim) {
        let (from, to) = part.split_once('-').unwrap_or((part, part));
        let (from, to): (i32, i32) = (
            from.trim().parse().map_err(|_| bad(part))?,
            to.trim().parse().map_err(|_| bad(part))?,
        );
        if from < 0 || to < from {
            return Err(bad(part));
        }
        out.extend(from..=to);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Without a flow, a message is judged by its schema alone.
fn judge_schema(schema: &Schema, o: &Observed, report: &mut Report) {
    report.messages += 1;
    let problem = match &o.value {
        Err(e) => Some(e.clone()),
        Ok(v) => schema.validate(v).into_iter().next().map(|v| v.to_string()),
    };
    if let Some(message) = problem {
        report.count(Rule::SchemaInvalid, Severity::Error);
        report.findings.push(Finding {
            rule: Rule::SchemaInvalid,
            severity: Severity::Error,
            topic: None,
            partition: o.partition,
            offset: o.offset,
            key: o.key.clone(),
            flow_id: None,
            message,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_lists_parse_ranges_and_single_numbers() {
        assert_eq!(parse_partitions("0-2,7,1").unwrap(), vec![0, 1, 2, 7]);
        assert_eq!(parse_partitions("3").unwrap(), vec![3]);
        for bad in ["", "2-1", "-1", "a", "0-"] {
            let e = parse_partitions(bad).unwrap_err().to_string();
            assert!(e.contains("--partitions"), "{bad}: {e}");
        }
    }

    #[test]
    fn sequences_read_twice_are_duplicates_and_unread_ones_lost() {
        let mut seen = Seen::default();
        for s in [0, 1, 1, 130, 5, 130, 130] {
            seen.mark(s);
        }
        assert_eq!(seen.read, 4);
        assert_eq!(seen.duplicated, 3);
        assert_eq!(seen.missing(131), 127);
    }
}
