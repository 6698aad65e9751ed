//! How to reach a cluster: bootstrap servers and librdkafka properties
//! (SASL/SSL included), with secrets never shown; and topic creation.

use crate::num::Cast as _;
use std::fmt;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::error::{Error, Result};

/// Property names whose values are secrets.
const SECRET_KEYS: &[&str] = &[
    "sasl.password",
    "ssl.key.password",
    "ssl.keystore.password",
    "ssl.truststore.password",
    "sasl.oauthbearer.client.secret",
    "ssl.key.pem",
];

pub fn is_secret(key: &str) -> bool {
    SECRET_KEYS.contains(&key) || key.contains("password") || key.contains("secret")
}

/// Connection settings for a cluster.
#[derive(Clone)]
pub struct Cluster {
    pub bootstrap: String,
    /// Extra librdkafka properties (`-X key=value`, a properties file).
    pub properties: Vec<(String, String)>,
    /// Bound on connecting and on each admin call.
    pub timeout: Duration,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let props: Vec<String> = self
            .properties
            .iter()
            .map(|(k, v)| {
                if is_secret(k) {
                    format!("{k}=***")
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        f.debug_struct("Cluster")
            .field("bootstrap", &self.bootstrap)
            .field("properties", &props)
            .finish()
    }
}

impl Cluster {
    pub fn new(bootstrap: &str) -> Self {
        Cluster {
            bootstrap: bootstrap.to_string(),
            properties: Vec::new(),
            timeout: Duration::from_secs(10),
        }
    }

    /// Parses `key=value` properties (from `-X` or a file's lines).
    pub fn with_properties(mut self, lines: &[String]) -> Result<Self> {
        for line in lines
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| Error::Usage(format!("property {:?}: expected key=value", redact_line(line))))?;
            self.properties.push((k.trim().to_string(), v.trim().to_string()));
        }
        Ok(self)
    }

    /// A librdkafka configuration with the bootstrap and properties set.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        config.set(
            "socket.connection.setup.timeout.ms",
            self.timeout.as_millis().to_string(),
        );
        config.set("log_level", "3");
        for (k, v) in &self.properties {
            config.set(k, v);
        }
        config
    }

    /// A consumer in `group` that commits only when told to and, where the
    /// group has no committed offset, starts at the earliest; `extra`
    /// librdkafka settings on top.
    pub fn consumer(&self, group: &str, extra: &[(&str, &str)]) -> Result<BaseConsumer> {
        let mut config = self.client_config();
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest");
        for (k, v) in extra {
            config.set(*k, *v);
        }
        config.create().map_err(|e| self.error("cannot create a consumer", e))
    }

    /// Assigns `consumer` the partitions of `topic` at the given offsets
    /// (no group membership, so no rebalance can take them away).
    pub fn assign(
        &self,
        consumer: &BaseConsumer,
        topic: &str,
        offsets: impl IntoIterator<Item = (i32, Offset)>,
    ) -> Result<()> {
        let mut assignment = TopicPartitionList::new();
        for (p, offset) in offsets {
            assignment
                .add_partition_offset(topic, p, offset)
                .map_err(|e| self.error("assign", e))?;
        }
        consumer
            .assign(&assignment)
            .map_err(|e| self.error(&format!("assign {topic}"), e))
    }

    /// Assigns `consumer` partitions of several topics at the given offsets.
    pub fn assign_many<'t>(
        &self,
        consumer: &BaseConsumer,
        offsets: impl IntoIterator<Item = (&'t str, i32, Offset)>,
    ) -> Result<()> {
        let mut assignment = TopicPartitionList::new();
        for (topic, p, offset) in offsets {
            assignment
                .add_partition_offset(topic, p, offset)
                .map_err(|e| self.error("assign", e))?;
        }
        consumer.assign(&assignment).map_err(|e| self.error("assign", e))
    }

    /// Checks the cluster answers a metadata request within the timeout.
    pub fn ping(&self) -> Result<()> {
        let consumer: BaseConsumer = self
            .client_config()
            .create()
            .map_err(|e| self.error("cannot create a client", e))?;
        consumer
            .fetch_metadata(None, self.timeout)
            .map(|_| ())
            .map_err(|e| self.error(&format!("no answer within {:?}", self.timeout), e))
    }

    pub(crate) fn error(&self, what: &str, e: impl Into<crate::error::BoxError>) -> Error {
        Error::unreachable(format!("kafka {}: {what}", self.bootstrap), e)
    }

    /// Creates a topic (the embedded broker creates none by itself); an
    /// existing one is fine.
    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<()> {
        let admin: AdminClient<DefaultClientContext> = self
            .client_config()
            .create()
            .map_err(|e| self.error("cannot create an admin client", e))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| self.error("runtime", e))?;
        let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
        let options = AdminOptions::new()
            .operation_timeout(Some(self.timeout))
            .request_timeout(Some(self.timeout));
        let results = runtime
            .block_on(admin.create_topics(&[new], &options))
            .map_err(|e| self.error(&format!("creating topic {topic}"), e))?;
        for r in results {
            match r {
                Ok(_) => {}
                Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => return Err(self.error(&format!("creating topic {name}"), code)),
            }
        }
        // Wait until the topic's partitions are visible.
        let consumer: BaseConsumer = self
            .client_config()
            .create()
            .map_err(|e| self.error("cannot create a client", e))?;
        let deadline = std::time::Instant::now() + self.timeout;
        loop {
            let seen = consumer
                .fetch_metadata(Some(topic), Duration::from_secs(2))
                .ok()
                .and_then(|m| m.topics().first().map(|t| t.partitions().len()))
                .unwrap_or(0);
            if seen.sat_i32() >= partitions {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(self.error(
                    &format!("topic {topic}"),
                    format!("{seen} of {partitions} partitions visible after {:?}", self.timeout),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn redact_line(line: &str) -> String {
    match line.split_once('=') {
        Some((k, _)) if is_secret(k.trim()) => format!("{k}=***"),
        _ => line.to_string(),
    }
}
