//! Reactive fakes: a fake upstream that answers. It reads request topics
//! in its own consumer group, decodes through the registry, lets the first
//! rule that takes a request draw its reply (a flow's continuation, with
//! the request's values copied in, and perhaps a planned fault), and sends
//! each reply event when it falls due. Every request is accounted for: a
//! reply, a planned omission, a finding, or still pending when stopped.

pub mod answer;
pub mod bench;
mod report;
pub mod requests;
mod rule_check;
pub mod rules;

use crate::num::Cast as _;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::Consumer as _;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message as _, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};

pub use self::answer::{Answer, Planned, Request, Responder};
pub use self::report::{FakeReport, Live, RuleCounts};
pub use self::rules::{Fault, Rules};
use crate::error::Result;
use crate::flow::FlowSpec;
use crate::flow::generator::{FlowGenerator, FlowOptions};
use crate::generate::hints::Hints;
use crate::kafka::Environment;
use crate::kafka::observer::{Decoder, headers_of};
use crate::kafka::producer::ProducerOptions;
use crate::load::sink::{AckContext, Acks};
use crate::registry::SubjectStrategy;
use crate::schema::Schema;
use crate::verify::TopicEncoder;

/// How a fake runs.
#[derive(Debug, Clone)]
pub struct FakeOptions {
    pub group: String,
    pub seed: u64,
    /// The flow's time is divided by this for delays (1 real time, 0 at once).
    pub time_scale: f64,
    pub hints: Arc<Hints>,
    /// Partitions of topics the fake creates.
    pub partitions: i32,
    /// Stop once this many requests are taken and answered.
    pub requests: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Counts kept up to date while it runs.
    pub live: Option<Arc<Live>>,
}

impl Default for FakeOptions {
    fn default() -> Self {
        FakeOptions {
            group: "flowharness-fake".into(),
            seed: 1,
            time_scale: 1.0,
            hints: Arc::new(Hints::today()),
            partitions: 1,
            requests: None,
            duration: None,
            live: None,
        }
    }
}

/// A reply event due at `due_us` (since the fake started).
struct Due {
    due_us: u64,
    seq: u64,
    request: u64,
    channel: usize,
    key: Option<String>,
    payload: Vec<u8>,
    headers: Vec<(String, String)>,
    intended_us: u64,
}

impl PartialEq for Due {
    fn eq(&self, o: &Self) -> bool {
        (self.due_us, self.seq) == (o.due_us, o.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Due {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.due_us, self.seq).cmp(&(o.due_us, o.seq))
    }
}

/// Encodes a planned event; a broken one is cut one byte short (Avro and
/// Protobuf: no reader decodes it) or loses a field its schema requires (JSON).
pub fn encode_planned(encoder: &TopicEncoder, schema: &Schema, p: &Planned) -> Result<Vec<u8>> {
    let mut bytes = encoder.encode(&p.value)?;
    if p.broken {
        match schema {
            Schema::Avro(_) => {
                bytes.pop();
            }
            Schema::Json(json) => bytes = break_json(json, &p.value),
            Schema::Protobuf(_) => {
                // A length-delimited field's length now runs past the end.
                bytes.pop();
            }
        }
    }
    Ok(bytes)
}

fn break_json(json: &crate::schema::json_schema::JsonSchema, value: &serde_json::Value) -> Vec<u8> {
    if let serde_json::Value::Object(m) = value {
        for k in m.keys() {
            let mut v = value.clone();
            if let Some(o) = v.as_object_mut() {
                o.remove(k);
            }
            if !json.validate(&v).is_empty() {
                return serde_json::to_vec(&v).unwrap_or_default();
            }
        }
    }
    // Nothing required to drop: a value of the wrong type altogether.
    b"[\"not what the schema describes\"]".to_vec()
}

/// Runs a fake until `stop` is set or its `requests`/`duration` are reached.
/// Values drawn per state for replies to be copied from.
pub const TEMPLATES_PER_STATE: usize = 256;

pub fn run(
    env: &Environment,
    spec: &FlowSpec,
    rules: &Rules,
    options: &FakeOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&FakeReport),
) -> Result<FakeReport> {
    let origin = Instant::now();
    let origin_epoch_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis().sat_i64());
    // Reply topics and their encoders; request topics.
    let mut encoders = Vec::with_capacity(spec.channels().len());
    for (c, ch) in spec.channels().iter().enumerate() {
        let topic = &rules.reply_topics[c];
        env.cluster.create_topic(topic, options.partitions)?;
        encoders.push(TopicEncoder::register(
            env,
            topic,
            &ch.schema,
            ch.records,
            SubjectStrategy::Topic,
        )?);
    }
    let mut request_topics: Vec<&str> = rules.rules.iter().map(|r| r.topic.as_str()).collect();
    request_topics.sort_unstable();
    request_topics.dedup();
    for t in &request_topics {
        env.cluster.create_topic(t, options.partitions)?;
    }
    let consumer = env.cluster.consumer(
        &options.group,
        &[("enable.auto.commit", "true"), ("fetch.wait.max.ms", "10")],
    )?;
    consumer
        .subscribe(&request_topics)
        .map_err(|e| env.cluster.error("subscribe", e))?;
    let acks = Arc::new(Acks::new(origin));
    let mut config = ProducerOptions::default().client_config(&env.cluster);
    config.set("linger.ms", "1");
    let producer: BaseProducer<AckContext> = config
        .create_with_context(AckContext(acks.clone()))
        .map_err(|e| env.cluster.error("cannot create a producer", e))?;

    let generator = FlowGenerator::new(
        spec,
        FlowOptions {
            flows: 1,
            mix: crate::flow::generator::Mix::uniform(spec),
            hints: options.hints.clone(),
            jitter: 0.5,
            time_scale: 1.0,
        },
    )?
    // Replies are copies of values drawn once, their ids and times stamped:
    // a fresh draw per event is the slow part of answering.
    .with_templates(TEMPLATES_PER_STATE, options.seed)?;
    let responder = Responder::new(spec, rules, generator, options.seed, options.time_scale);
    let decoder = Decoder {
        registry: env.registry.clone(),
    };
    let mut report = FakeReport::new(rules);
    let mut heap: BinaryHeap<Reverse<Due>> = BinaryHeap::new();
    let mut remaining: HashMap<u64, (u32, usize)> = HashMap::new();
    let mut seq = 0u64;
    let mut request_id = 0u64;
    let mut last_progress = Instant::now();
    let deadline = options.duration.map(|d| origin + d);
    let mut first_taken: Option<Instant> = None;
    loop {
        if let Some(live) = &options.live {
            live.update(&report, remaining.len().sat_u64());
        }
        if stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        if options.requests.is_some_and(|n| report.requests >= n) && heap.is_empty() {
            break;
        }
        // Send what is due.
        let now_us = origin.elapsed().as_micros().sat_u64();
        while heap.peek().is_some_and(|Reverse(d)| d.due_us <= now_us) {
            let Some(Reverse(d)) = heap.pop() else { break };
            send(&producer, &rules.reply_topics[d.channel], &d, &acks);
            report.reply_events += 1;
            if let Some((left, rule)) = remaining.get_mut(&d.request) {
                *left -= 1;
                if *left == 0 {
                    let rule = *rule;
                    remaining.remove(&d.request);
                    report.replied(rule);
                }
            }
        }
        let wait = heap.peek().map_or(Duration::from_millis(20), |Reverse(d)| {
            Duration::from_micros(d.due_us.saturating_sub(now_us)).min(Duration::from_millis(20))
        });
        producer.poll(Duration::ZERO);
        let Some(m) = consumer.poll(wait) else { continue };
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                report.finding(format!("reading requests: {e}"));
                continue;
            }
        };
        report.read += 1;
        let place = format!("{} partition {} offset {}", m.topic(), m.partition(), m.offset());
        let (value, record) = decoder.decode_named(m.payload());
        let value = match value {
            Ok(v) => v,
            Err(e) => {
                report.undecodable += 1;
                report.finding(format!("{place}: {e}"));
                continue;
            }
        };
        let headers = headers_of(&m);
        let request = Request {
            topic: m.topic(),
            key: m.key(),
            headers: &headers,
            value: &value,
            record: record.as_deref(),
        };
        let Some(rule) = responder.rule_for(&request) else {
            report.unmatched += 1;
            continue;
        };
        report.taken(rule);
        first_taken.get_or_insert_with(Instant::now);
        let sent_ms = m.timestamp().to_millis().unwrap_or(origin_epoch_ms);
        let read_us = origin.elapsed().as_micros().sat_u64();
        let request_us = (sent_ms - origin_epoch_ms).max(0).sat_u64() * 1000;
        match responder.answer(rule, &request) {
            Ok(Answer::Omitted) => {
                report.fault(Fault::None);
                report.omitted(rule);
            }
            Ok(Answer::Unanswerable(why)) => {
                report.unanswerable(rule);
                report.finding(format!("{place}: rule {}: {why}", rules.rules[rule].name));
            }
            Ok(Answer::Reply { events, fault }) => {
                if let Some(f) = fault {
                    report.fault(f);
                }
                let mut planned = Vec::with_capacity(events.len());
                let mut failed = None;
                for p in &events {
                    match encode_planned(&encoders[p.channel], &spec.channels()[p.channel].schema, p) {
                        Ok(bytes) => planned.push(bytes),
                        Err(e) => {
                            failed = Some(format!("{} event: {e}", spec.states()[p.state].name));
                            break;
                        }
                    }
                }
                if let Some(why) = failed {
                    report.unanswerable(rule);
                    report.finding(format!(
                        "{place}: rule {}: the reply would break its schema: {why}",
                        rules.rules[rule].name
                    ));
                    continue;
                }
                request_id += 1;
                remaining.insert(request_id, (events.len().sat_u32(), rule));
                for (p, payload) in events.into_iter().zip(planned) {
                    seq += 1;
                    heap.push(Reverse(Due {
                        due_us: read_us + p.at_ms * 1000,
                        seq,
                        request: request_id,
                        channel: p.channel,
                        key: p.key,
                        payload,
                        headers: p.headers,
                        intended_us: request_us + p.at_ms * 1000,
                    }));
                }
            }
            Err(e) => {
                report.unanswerable(rule);
                report.finding(format!("{place}: rule {}: {e}", rules.rules[rule].name));
            }
        }
        if last_progress.elapsed() >= Duration::from_secs(1) {
            last_progress = Instant::now();
            report.pending = remaining.len().sat_u64();
            report.seconds = origin.elapsed().as_secs_f64();
            progress(&report);
        }
    }
    // Stopped: what was not yet sent stays unsent, and is counted.
    report.pending = remaining.len().sat_u64();
    let flush_deadline = Instant::now() + Duration::from_secs(10);
    while producer.in_flight_count() > 0 && Instant::now() < flush_deadline {
        let _ = producer.flush(Duration::from_millis(100));
    }
    let _ = consumer.commit_consumer_state(rdkafka::consumer::CommitMode::Sync);
    report.active_seconds = first_taken.map_or(0.0, |t| t.elapsed().as_secs_f64());
    report.finish(&acks, origin.elapsed(), producer.in_flight_count().sat_u64());
    Ok(report)
}

fn send(producer: &BaseProducer<AckContext>, topic: &str, d: &Due, acks: &Acks) {
    let mut headers = OwnedHeaders::new_with_capacity(d.headers.len());
    for (k, v) in &d.headers {
        headers = headers.insert(Header {
            key: k,
            value: Some(v.as_bytes()),
        });
    }
    loop {
        let mut record = BaseRecord::with_opaque_to(topic, d.intended_us.sat_usize())
            .payload(&d.payload)
            .headers(headers.clone());
        if let Some(k) = &d.key {
            record = record.key(k.as_bytes());
        }
        match producer.send(record) {
            Ok(()) => return,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                producer.poll(Duration::from_millis(1));
            }
            Err((e, _)) => {
                acks.fail(format!("not enqueued: {e}"));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
