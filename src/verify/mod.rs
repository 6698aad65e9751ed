//! Runs against a real broker: produce messages through the registry, read
//! them back the way a consumer would, and judge what was observed: every
//! message against its schema and its flow, nothing lost, nothing doubled.

use std::collections::HashMap;
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
}

impl RunReport {
    /// Whether anything went wrong: failures, violations, loss or doubles.
    pub fn failed(&self) -> bool {
        self.delivery.failed > 0 || self.check.errors > 0 || self.lost > 0 || self.duplicated > 0
    }
}

/// Encodes a value for the wire: Confluent-framed Avro, or plain JSON.
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
            serde_json::to_vec(value).map_err(|e| Error::Usage(e.to_string()))
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
    let cluster = &env.cluster;
    let topics: Vec<(&str, &Schema)> = std::iter::once((run.topic.as_str(), &run.schema))
        .chain(run.others.iter().map(|(t, s)| (t.as_str(), s)))
        .collect();
    let mut encoders = Vec::with_capacity(topics.len());
    let mut starts = Vec::with_capacity(topics.len());
    for (c, (topic, schema)) in topics.iter().enumerate() {
        cluster.create_topic(topic, run.partitions)?;
        let records = flow.is_some_and(|f| f.channels.get(c).is_some_and(|ch| ch.records));
        encoders.push(TopicEncoder::register(env, topic, schema, records, run.strategy)?);
        starts.push(observer::end_offsets(cluster, topic)?);
    }
    let schema_id = encoders[0].id();
    let mut producer = Producer::new(cluster, &run.producer)?;
    let seed = run.seed.map(|s| s.to_string());
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    for (seq, m) in run.messages.iter().enumerate() {
        let c = m.channel.min(topics.len() - 1);
        let payload = match &m.raw {
            Some(raw) => raw.clone(),
            None => encoders[c]
                .encode(&m.value)
                .map_err(|e| e.within(&format!("message {seq}")))?,
        };
        let seq_text = format!("{run_id}:{seq}");
        let mut headers: Vec<(&str, &[u8])> = vec![(SEQUENCE_HEADER, seq_text.as_bytes())];
        if let Some(f) = &m.flow_id {
            headers.push((FLOW_HEADER, f.as_bytes()));
        }
        if let Some(s) = &seed {
            headers.push((SEED_HEADER, s.as_bytes()));
        }
        headers.extend(m.headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())));
        producer.send(&Outgoing {
            topic: topics[c].0,
            partition: m.partition,
            key: m.key.as_deref().map(str::as_bytes),
            payload: Some(&payload),
            headers: &headers,
        });
    }
    let delivery = producer.finish();
    let decoder = Decoder {
        registry: env.registry.clone(),
    };
    let options = ObserveOptions {
        start: None,
        expected: Some(delivery.acknowledged),
        until_end: false,
        timeout: run.observe_timeout,
        run_id: Some(run_id.clone()),
    };
    let mut check = check;
    if check.topics.is_empty() && flow.is_some_and(FlowSpec::is_multi_topic) {
        check.topics = topics.iter().map(|(t, _)| t.to_string()).collect();
    }
    let mut checker = flow.map(|f| Checker::new(f, check));
    let mut schema_only = Report::default();
    let mut seen: HashMap<u64, u32> = HashMap::new();
    let mut kept = Vec::new();
    let reading: Vec<observer::Reading<'_>> = topics.iter().zip(starts).map(|((t, _), s)| (*t, Some(s))).collect();
    let observation = observer::observe_many(cluster, &reading, &decoder, &options, &mut |o, seq| {
        if let Some((_, s)) = seq {
            *seen.entry(s).or_default() += 1;
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
    let produced = run.messages.len() as u64;
    let lost = (0..produced).filter(|s| !seen.contains_key(s)).count() as u64;
    let duplicated = seen.values().map(|n| u64::from(n.saturating_sub(1))).sum::<u64>();
    let lost = lost.saturating_sub(delivery.failed);
    Ok(RunReport {
        schema_id,
        delivery,
        observation,
        lost,
        duplicated,
        check: check_report,
        observed: kept,
    })
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
