//! migration-status-service: a reference consumer for flowharness to test.
//!
//! It reads `AccountMigrationEvent`s (Confluent-framed Avro, decoded with
//! apache-avro and the schema the registry holds for the message's id, so
//! nothing of flowharness's own codec is involved), keeps each account's
//! migration state, and publishes a JSON status per change to an output
//! topic, keyed by account:
//!
//! ```json
//! {"accountId": "1000001", "flowId": "…", "state": "MIGRATED", "at": 1790000000000}
//! ```
//!
//! States: SCHEDULED → BALANCE_RETRIEVED → VALIDATED → MIGRATED, then
//! ROLLING_BACK → SIEMENS after a rollback. It follows the schema's consumer
//! rules: a Scheduled event with a new flow id replaces the account's flow,
//! events of any other flow are ignored, and a Cancelled event changes
//! nothing (a restart follows it). Offsets are committed after the statuses
//! of what was read are acknowledged: at least once.
//!
//! `--bug rollback-ignored`, `--bug stale-flow-id` and `--bug
//! crossed-accounts` each plant one realistic consumer bug, for the
//! features that show the suite catching it and `flowharness hunt`
//! shrinking it. The last needs two accounts interleaved on one partition.
//!
//! ```sh
//! cargo run --example migration-status-service -- --help
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use apache_avro::types::Value as Avro;
use clap::{Parser, ValueEnum};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _};
use rdkafka::message::Message as _;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Bug {
    /// Treats MIGRATED as final: the RolledBack event is dropped, so a
    /// rolled-back account never returns to SIEMENS.
    RollbackIgnored,
    /// Keeps the first flow id it saw for an account: after a restart the
    /// statuses carry the old, stale flow id.
    StaleFlowId,
    /// Remembers the account of the last Scheduled event read and files
    /// the next BalanceRetrieved under it (a lookup cached in the wrong
    /// place): harmless while accounts migrate one after another, wrong
    /// when another account is scheduled in between on the same partition.
    CrossedAccounts,
}

#[derive(Debug, Parser)]
#[command(about = "A reference consumer: account migration events in, status changes out")]
struct Args {
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    bootstrap_servers: String,
    #[arg(long, env = "SCHEMA_REGISTRY_URL")]
    schema_registry_url: String,
    /// `user:password` for the registry, if it wants them.
    #[arg(long, env = "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", hide_env_values = true)]
    schema_registry_auth: Option<String>,
    /// The topic of migration events.
    #[arg(long, env = "FLOWHARNESS_TOPIC", default_value = "account-migration")]
    topic: String,
    /// Where statuses go (default: the input topic with `-status`).
    #[arg(long)]
    output_topic: Option<String>,
    #[arg(long, default_value = "migration-status-service")]
    group: String,
    /// Plant a consumer bug.
    #[arg(long, value_enum)]
    bug: Option<Bug>,
}

/// An event, as the service understands it.
#[derive(Debug)]
struct Event {
    kind: &'static str,
    account: String,
    flow_id: String,
    at: i64,
}

/// An account's migration.
#[derive(Debug, Clone)]
struct Account {
    flow_id: String,
    state: &'static str,
}

/// The branch of the union, told by the timestamp field only it has.
const KINDS: [(&str, &str); 7] = [
    ("scheduledAt", "Scheduled"),
    ("retrievedAt", "BalanceRetrieved"),
    ("validatedAt", "Validated"),
    ("completedAt", "Completed"),
    ("cancelledAt", "Cancelled"),
    ("rollBackInitiatedAt", "RollBackInitiated"),
    ("rolledBackAt", "RolledBack"),
];

fn field<'a>(fields: &'a [(String, Avro)], name: &str) -> Option<&'a Avro> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

fn text(v: Option<&Avro>) -> Option<String> {
    match v {
        Some(Avro::String(s)) => Some(s.clone()),
        _ => None,
    }
}

fn event_of(value: &Avro) -> Result<Event> {
    let Avro::Record(outer) = value else {
        bail!("not a record")
    };
    let Some(Avro::Union(_, branch)) = field(outer, "event") else {
        bail!("no union field event")
    };
    let Avro::Record(fields) = branch.as_ref() else {
        bail!("event: not a record")
    };
    let (at_field, kind) = KINDS
        .iter()
        .find(|(f, _)| field(fields, f).is_some())
        .ok_or_else(|| anyhow!("event: an event of a kind this service does not know"))?;
    let at = match field(fields, at_field) {
        Some(Avro::TimestampMillis(ms) | Avro::Long(ms)) => *ms,
        _ => 0,
    };
    Ok(Event {
        kind,
        account: text(field(fields, "accountId")).context("event.accountId")?,
        flow_id: text(field(fields, "enrollmentId")).context("event.enrollmentId")?,
        at,
    })
}

/// Schemas by id, fetched from the registry once.
struct Registry {
    url: String,
    auth: Option<(String, String)>,
    http: reqwest::blocking::Client,
    schemas: HashMap<u32, apache_avro::Schema>,
}

impl Registry {
    fn schema(&mut self, id: u32) -> Result<&apache_avro::Schema> {
        if !self.schemas.contains_key(&id) {
            let mut request = self
                .http
                .get(format!("{}/schemas/ids/{id}", self.url.trim_end_matches('/')));
            if let Some((user, password)) = &self.auth {
                request = request.basic_auth(user, Some(password));
            }
            let body: serde_json::Value = request
                .send()
                .and_then(reqwest::blocking::Response::error_for_status)
                .with_context(|| format!("schema id {id}"))?
                .json()?;
            let text = body["schema"]
                .as_str()
                .ok_or_else(|| anyhow!("schema id {id}: no schema"))?;
            let schema = apache_avro::Schema::parse_str(text).with_context(|| format!("schema id {id}"))?;
            self.schemas.insert(id, schema);
        }
        Ok(&self.schemas[&id])
    }

    fn decode(&mut self, payload: &[u8]) -> Result<Event> {
        if payload.len() < 5 || payload[0] != 0 {
            bail!("not Confluent-framed");
        }
        let id = u32::from_be_bytes([payload[1], payload[2], payload[3], payload[4]]);
        let schema = self.schema(id)?;
        let value = apache_avro::reader::datum::GenericDatumReader::builder(schema)
            .build()?
            .read_value(&mut &payload[5..])?;
        event_of(&value)
    }
}

/// The state machine: the status to publish for an event, if any.
fn apply(accounts: &mut HashMap<String, Account>, e: &Event, bug: Option<Bug>) -> Option<Account> {
    let current = accounts.get(&e.account).cloned();
    let next = match (e.kind, current) {
        ("Scheduled", Some(a)) if a.flow_id == e.flow_id => return None, // redelivered
        ("Scheduled", Some(a)) if bug == Some(Bug::StaleFlowId) => Account {
            flow_id: a.flow_id,
            state: "SCHEDULED",
        },
        ("Scheduled", _) => Account {
            flow_id: e.flow_id.clone(),
            state: "SCHEDULED",
        },
        // Consumers do not react to a cancellation: a restart follows.
        ("Cancelled", _) => return None,
        // Nothing known of this account's flow (we joined late): skip.
        (_, None) => return None,
        // An event of another flow than the account's current one.
        (_, Some(a)) if a.flow_id != e.flow_id && bug != Some(Bug::StaleFlowId) => return None,
        ("RolledBack", Some(_)) if bug == Some(Bug::RollbackIgnored) => return None,
        (kind, Some(a)) => Account {
            flow_id: a.flow_id,
            state: match kind {
                "BalanceRetrieved" => "BALANCE_RETRIEVED",
                "Validated" => "VALIDATED",
                "Completed" => "MIGRATED",
                "RollBackInitiated" => "ROLLING_BACK",
                "RolledBack" => "SIEMENS",
                _ => return None,
            },
        },
    };
    accounts.insert(e.account.clone(), next.clone());
    Some(next)
}

fn create_topic(config: &ClientConfig, topic: &str) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = config.create()?;
    let new = NewTopic::new(topic, 3, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = futures::executor::block_on(admin.create_topics([&new], &options))?;
    for r in results {
        match r {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, e)) => bail!("create topic {t}: {e}"),
        }
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    let output = args
        .output_topic
        .clone()
        .unwrap_or_else(|| format!("{}-status", args.topic));
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &args.bootstrap_servers);
    create_topic(&config, &output)?;
    let producer: BaseProducer = config.clone().set("linger.ms", "5").create()?;
    let consumer: BaseConsumer = config
        .clone()
        .set("group.id", &args.group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()?;
    consumer.subscribe(&[&args.topic])?;
    let mut registry = Registry {
        url: args.schema_registry_url.clone(),
        auth: args
            .schema_registry_auth
            .as_deref()
            .and_then(|a| a.split_once(':'))
            .map(|(u, p)| (u.to_string(), p.to_string())),
        http: reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?,
        schemas: HashMap::new(),
    };
    eprintln!(
        "migration-status-service: {} → {output}, group {}{}",
        args.topic,
        args.group,
        args.bug.map_or(String::new(), |b| format!(", planted bug {b:?}"))
    );
    let mut accounts: HashMap<String, Account> = HashMap::new();
    let mut last_scheduled: Option<String> = None;
    let mut uncommitted = 0usize;
    let mut last_commit = Instant::now();
    loop {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                uncommitted += 1;
                let event = m
                    .payload()
                    .map_or_else(|| Err(anyhow!("tombstone")), |p| registry.decode(p));
                match event {
                    Ok(mut e) => {
                        if args.bug == Some(Bug::CrossedAccounts) {
                            match e.kind {
                                "Scheduled" => last_scheduled = Some(e.account.clone()),
                                "BalanceRetrieved" => {
                                    if let Some(a) = &last_scheduled {
                                        e.account.clone_from(a);
                                    }
                                }
                                _ => {}
                            }
                        }
                        if let Some(status) = apply(&mut accounts, &e, args.bug) {
                            let body = serde_json::json!({
                                "accountId": e.account,
                                "flowId": status.flow_id,
                                "state": status.state,
                                "at": e.at,
                            })
                            .to_string();
                            let mut record = BaseRecord::to(&output).key(&e.account).payload(&body);
                            while let Err((err, back)) = producer.send(record) {
                                eprintln!("produce: {err}; retrying");
                                producer.poll(Duration::from_millis(100));
                                record = back;
                            }
                        }
                    }
                    Err(e) => eprintln!("skipped partition {} offset {}: {e:#}", m.partition(), m.offset()),
                }
            }
            Some(Err(e)) => eprintln!("consumer: {e}"),
            None => {}
        }
        producer.poll(Duration::ZERO);
        // Commit what was read once its statuses are acknowledged.
        if uncommitted > 0 && (uncommitted >= 500 || last_commit.elapsed() >= Duration::from_millis(200)) {
            producer.flush(Duration::from_secs(30))?;
            if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
                eprintln!("commit: {e}");
            } else {
                uncommitted = 0;
            }
            last_commit = Instant::now();
        }
    }
}
