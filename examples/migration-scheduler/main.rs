//! migration-scheduler: a reference service that sends commands and waits
//! for replies, for `flowharness fake` to answer.
//!
//! For each account it is given, it sends a `ScheduleMigration` command
//! (Confluent-framed Avro, encoded with apache-avro, its schema registered
//! by itself) to the commands topic, keyed by account, then waits on the
//! migration events topic for the flow whose `enrollmentId` is the
//! command's `requestId`. It publishes one outcome per account, as JSON,
//! on the outcomes topic:
//!
//! ```json
//! {"accountId": "1000001", "requestId": "…", "outcome": "MIGRATED", "events": 4}
//! ```
//!
//! Outcomes: MIGRATED (Completed), CANCELLED (Cancelled), or TIMED_OUT when
//! the flow has not ended within `--timeout` of the command. Events of
//! another request (a wrong correlation) are ignored, and an event seen
//! twice counts once. It exits once every account has its outcome.
//!
//! ```sh
//! cargo run --bin migration-scheduler -- --help
//! ```

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, anyhow, bail};
use apache_avro::types::{Record, Value as Avro};
use clap::Parser;
use rdkafka::ClientConfig;
use rdkafka::Offset;
use rdkafka::TopicPartitionList;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message as _;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};

const SCHEMA: &str = include_str!("schedule-migration.avsc");

#[derive(Debug, Parser)]
#[command(about = "A reference service: ScheduleMigration commands out, migration flows awaited")]
struct Args {
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    bootstrap_servers: String,
    #[arg(long, env = "SCHEMA_REGISTRY_URL")]
    schema_registry_url: String,
    /// The topic of migration events (the replies).
    #[arg(long, env = "FLOWHARNESS_TOPIC", default_value = "account-migration")]
    topic: String,
    /// Where commands go (default: the events topic with `-commands`).
    #[arg(long)]
    commands_topic: Option<String>,
    /// Where outcomes go (default: the events topic with `-outcomes`).
    #[arg(long)]
    outcomes_topic: Option<String>,
    /// The accounts to migrate, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    accounts: Vec<String>,
    /// Send the commands as URGENT.
    #[arg(long)]
    urgent: bool,
    /// How long to wait for an account's flow to end (500ms, 5s).
    #[arg(long, default_value = "10s")]
    timeout: String,
}

fn duration(text: &str) -> Result<Duration> {
    let (n, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = n.parse().with_context(|| format!("--timeout {text}"))?;
    Ok(match unit {
        "ms" => Duration::from_millis(n),
        "s" | "" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => bail!("--timeout {text}: expected ms, s or m"),
    })
}

/// The kind of a migration event, told by the timestamp only it has, with
/// its account and enrollment id.
fn event_of(value: &Avro) -> Option<(&'static str, String, String)> {
    const KINDS: [(&str, &str); 7] = [
        ("scheduledAt", "Scheduled"),
        ("retrievedAt", "BalanceRetrieved"),
        ("validatedAt", "Validated"),
        ("completedAt", "Completed"),
        ("cancelledAt", "Cancelled"),
        ("rollBackInitiatedAt", "RollBackInitiated"),
        ("rolledBackAt", "RolledBack"),
    ];
    let Avro::Record(outer) = value else { return None };
    let (_, Avro::Union(_, branch)) = outer.iter().find(|(n, _)| n == "event")? else {
        return None;
    };
    let Avro::Record(fields) = branch.as_ref() else {
        return None;
    };
    let get = |name: &str| {
        fields.iter().find(|(n, _)| n == name).and_then(|(_, v)| match v {
            Avro::String(s) => Some(s.clone()),
            _ => None,
        })
    };
    let kind = KINDS
        .iter()
        .find(|(f, _)| fields.iter().any(|(n, _)| n == f))
        .map(|(_, k)| *k)?;
    Some((kind, get("accountId")?, get("enrollmentId")?))
}

fn create_topics(config: &ClientConfig, topics: &[&str]) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = config.create()?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, 1, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for r in futures::executor::block_on(admin.create_topics(&new, &options))? {
        match r {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, e)) => bail!("create topic {t}: {e}"),
        }
    }
    Ok(())
}

struct Registry {
    url: String,
    http: reqwest::blocking::Client,
    schemas: HashMap<u32, apache_avro::Schema>,
}

impl Registry {
    fn register(&self, subject: &str, schema: &str) -> Result<u32> {
        let body: serde_json::Value = self
            .http
            .post(format!(
                "{}/subjects/{subject}/versions",
                self.url.trim_end_matches('/')
            ))
            .header("Content-Type", "application/vnd.schemaregistry.v1+json")
            .json(&serde_json::json!({ "schema": schema }))
            .send()
            .and_then(reqwest::blocking::Response::error_for_status)
            .with_context(|| format!("registering {subject}"))?
            .json()?;
        body["id"]
            .as_u64()
            .and_then(|id| u32::try_from(id).ok())
            .ok_or_else(|| anyhow!("registering {subject}: no id in {body}"))
    }

    fn decode(&mut self, payload: &[u8]) -> Result<Avro> {
        if payload.len() < 5 || payload[0] != 0 {
            bail!("not Confluent-framed");
        }
        let id = u32::from_be_bytes([payload[1], payload[2], payload[3], payload[4]]);
        if !self.schemas.contains_key(&id) {
            let body: serde_json::Value = self
                .http
                .get(format!("{}/schemas/ids/{id}", self.url.trim_end_matches('/')))
                .send()
                .and_then(reqwest::blocking::Response::error_for_status)?
                .json()?;
            let text = body["schema"].as_str().ok_or_else(|| anyhow!("schema id {id}: none"))?;
            self.schemas.insert(id, apache_avro::Schema::parse_str(text)?);
        }
        let schema = &self.schemas[&id];
        Ok(apache_avro::reader::datum::GenericDatumReader::builder(schema)
            .build()?
            .read_value(&mut &payload[5..])?)
    }
}

/// An account waiting for its flow.
struct Waiting {
    request_id: String,
    sent: Instant,
    events: HashSet<String>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let timeout = duration(&args.timeout)?;
    let commands = args
        .commands_topic
        .clone()
        .unwrap_or_else(|| format!("{}-commands", args.topic));
    let outcomes = args
        .outcomes_topic
        .clone()
        .unwrap_or_else(|| format!("{}-outcomes", args.topic));
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &args.bootstrap_servers);
    create_topics(&config, &[&commands, &outcomes])?;
    let producer: BaseProducer = config.clone().set("linger.ms", "1").create()?;
    let consumer: BaseConsumer = config.clone().set("group.id", "migration-scheduler").create()?;
    let mut registry = Registry {
        url: args.schema_registry_url.clone(),
        http: reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?,
        schemas: HashMap::new(),
    };
    let schema = apache_avro::Schema::parse_str(SCHEMA)?;
    let id = registry.register(&format!("{commands}-value"), SCHEMA)?;
    // Read replies from where the topic ends now: only replies to these commands count.
    let metadata = consumer.fetch_metadata(Some(&args.topic), Duration::from_secs(10))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .first()
        .map(|t| t.partitions().iter().map(|p| p.id()).collect())
        .unwrap_or_default();
    if partitions.is_empty() {
        bail!("topic {} has no partitions (does it exist?)", args.topic);
    }
    let mut assignment = TopicPartitionList::new();
    for p in partitions {
        let (_, high) = consumer.fetch_watermarks(&args.topic, p, Duration::from_secs(10))?;
        assignment.add_partition_offset(&args.topic, p, Offset::Offset(high))?;
    }
    consumer.assign(&assignment)?;
    eprintln!(
        "migration-scheduler: {} commands → {commands}, awaiting flows on {}, outcomes → {outcomes}, timeout {timeout:?}",
        args.accounts.len(),
        args.topic
    );
    let now_ms = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
    let mut waiting: HashMap<String, Waiting> = HashMap::new();
    for account in &args.accounts {
        let request_id = uuid::Uuid::new_v4().to_string();
        let mut record = Record::new(&schema).ok_or_else(|| anyhow!("the command schema is not a record"))?;
        record.put("requestId", Avro::Uuid(uuid::Uuid::parse_str(&request_id)?));
        record.put("accountId", account.as_str());
        record.put("mpan", format!("19{:011}", account.bytes().map(u64::from).sum::<u64>()));
        record.put("traceToken", uuid::Uuid::new_v4().to_string());
        record.put(
            "priority",
            Avro::Enum(
                u32::from(args.urgent),
                if args.urgent { "URGENT" } else { "NORMAL" }.into(),
            ),
        );
        record.put("requestedAt", Avro::TimestampMillis(now_ms));
        let mut payload = vec![0u8];
        payload.extend_from_slice(&id.to_be_bytes());
        payload.extend(
            apache_avro::writer::datum::GenericDatumWriter::builder(&schema)
                .build()?
                .write_value_to_vec(record)?,
        );
        producer
            .send(BaseRecord::to(&commands).key(account).payload(&payload))
            .map_err(|(e, _)| anyhow!("sending the command for {account}: {e}"))?;
        waiting.insert(
            account.clone(),
            Waiting {
                request_id,
                sent: Instant::now(),
                events: HashSet::new(),
            },
        );
    }
    producer.flush(Duration::from_secs(10))?;
    let publish = |account: &str, w: &Waiting, outcome: &str| -> Result<()> {
        let body = serde_json::json!({
            "accountId": account,
            "requestId": w.request_id,
            "outcome": outcome,
            "events": w.events.len(),
        })
        .to_string();
        producer
            .send(BaseRecord::to(&outcomes).key(account).payload(&body))
            .map_err(|(e, _)| anyhow!("publishing the outcome for {account}: {e}"))?;
        eprintln!("{account}: {outcome} after {} events", w.events.len());
        Ok(())
    };
    while !waiting.is_empty() {
        if let Some(m) = consumer.poll(Duration::from_millis(20)) {
            let m = m?;
            let decoded = m.payload().map(|p| registry.decode(p));
            match decoded {
                Some(Ok(value)) => {
                    if let Some((kind, account, enrollment)) = event_of(&value)
                        && let Some(w) = waiting.get_mut(&account)
                        && w.request_id == enrollment
                    {
                        w.events.insert(kind.to_string());
                        let outcome = match kind {
                            "Completed" => Some("MIGRATED"),
                            "Cancelled" => Some("CANCELLED"),
                            _ => None,
                        };
                        if let Some(o) = outcome
                            && let Some(w) = waiting.remove(&account)
                        {
                            publish(&account, &w, o)?;
                        }
                    }
                }
                Some(Err(e)) => eprintln!("skipped partition {} offset {}: {e:#}", m.partition(), m.offset()),
                None => {}
            }
        }
        let late: Vec<String> = waiting
            .iter()
            .filter(|(_, w)| w.sent.elapsed() >= timeout)
            .map(|(a, _)| a.clone())
            .collect();
        for account in late {
            if let Some(w) = waiting.remove(&account) {
                publish(&account, &w, "TIMED_OUT")?;
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(10))?;
    Ok(())
}
