//! A client for any Confluent-compatible schema registry: registers schemas
//! on first use and caches ids, fetches schemas by id and caches them,
//! retries connection failures and 5xx answers with backoff up to a bound,
//! and never shows credentials.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::schema::Schema;

/// How a topic's subject is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubjectStrategy {
    /// `<topic>-value`
    #[default]
    Topic,
    /// `<record full name>`
    Record,
    /// `<topic>-<record full name>`
    TopicRecord,
}

impl std::str::FromStr for SubjectStrategy {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "topic" | "TopicNameStrategy" => Ok(SubjectStrategy::Topic),
            "record" | "RecordNameStrategy" => Ok(SubjectStrategy::Record),
            "topic-record" | "TopicRecordNameStrategy" => Ok(SubjectStrategy::TopicRecord),
            other => Err(format!(
                "unknown subject name strategy {other:?}, expected topic, record or topic-record"
            )),
        }
    }
}

impl SubjectStrategy {
    pub fn subject(&self, topic: &str, schema: &Schema) -> String {
        let record = match schema {
            Schema::Avro(a) => a.root_name(),
            Schema::Json(j) => j.json().get("title").and_then(Value::as_str).map(str::to_string),
            Schema::Protobuf(p) => Some(p.message().full_name().to_string()),
        };
        match (self, record) {
            (SubjectStrategy::Record, Some(r)) => r,
            (SubjectStrategy::TopicRecord, Some(r)) => format!("{topic}-{r}"),
            _ => format!("{topic}-value"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RegistryConfig {
    pub url: String,
    /// Basic auth user and password.
    pub auth: Option<(String, String)>,
    pub timeout: Duration,
    pub retries: u32,
}

impl RegistryConfig {
    pub fn new(url: &str) -> Self {
        RegistryConfig {
            url: url.trim_end_matches('/').to_string(),
            auth: None,
            timeout: Duration::from_secs(10),
            retries: 3,
        }
    }
}

/// A registry client; cheap to clone, caches shared.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    config: RegistryConfig,
    http: reqwest::blocking::Client,
    ids: Arc<Mutex<HashMap<(String, String), u32>>>,
    schemas: Arc<Mutex<HashMap<u32, Arc<Schema>>>>,
}

/// A URL with any `user:password@` taken out, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://***@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_string(),
    }
}

impl RegistryClient {
    pub fn new(config: RegistryConfig) -> Result<Self> {
        let http = reqwest::blocking::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| Error::unreachable("schema registry client", e))?;
        Ok(RegistryClient {
            config,
            http,
            ids: Arc::default(),
            schemas: Arc::default(),
        })
    }

    pub fn url(&self) -> String {
        redact_url(&self.config.url)
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}{path}", self.config.url);
        let place = format!("schema registry {}: {method} {path}", self.url());
        let mut attempt = 0;
        loop {
            let mut request = self
                .http
                .request(method.clone(), &url)
                .header("Accept", "application/vnd.schemaregistry.v1+json");
            if let Some((user, password)) = &self.config.auth {
                request = request.basic_auth(user, Some(password));
            }
            if let Some(b) = &body {
                request = request
                    .header("Content-Type", "application/vnd.schemaregistry.v1+json")
                    .body(b.to_string());
            }
            let retry = match request.send() {
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().unwrap_or_default();
                    let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if status.is_success() {
                        return Ok(json);
                    }
                    let message = json.get("message").and_then(Value::as_str).unwrap_or(&text).to_string();
                    let code = json
                        .get("error_code")
                        .and_then(Value::as_u64)
                        .unwrap_or(u64::from(status.as_u16()));
                    if !status.is_server_error() {
                        return Err(Error::Usage(format!(
                            "{place}: {} (error {code}): {message}",
                            status.as_u16()
                        )));
                    }
                    format!("{} (error {code}): {message}", status.as_u16())
                }
                Err(e) => redact_url(&e.to_string()).replace(&self.config.url, &self.url()),
            };
            attempt += 1;
            if attempt > self.config.retries {
                return Err(Error::unanswered(format!(
                    "{place}: {retry} (gave up after {attempt} attempts)"
                )));
            }
            std::thread::sleep(Duration::from_millis(100 * 3u64.pow(attempt - 1)));
        }
    }

    /// Registers `schema` under `subject` (once; the id is cached).
    pub fn register(&self, subject: &str, schema: &Schema) -> Result<u32> {
        let text = schema.text();
        let key = (subject.to_string(), text.clone());
        if let Some(id) = self
            .ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
        {
            return Ok(*id);
        }
        let mut body = json!({"schema": text});
        if schema.kind() != "AVRO" {
            body["schemaType"] = json!(schema.kind());
        }
        if let Schema::Protobuf(proto) = schema {
            body["references"] = Value::Array(self.register_imports(proto.imports())?);
        }
        let answer = self.call(
            reqwest::Method::POST,
            &format!("/subjects/{subject}/versions"),
            Some(body),
        )?;
        let id = answer
            .get("id")
            .and_then(Value::as_u64)
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "schema registry {}: register answered without an id: {answer}",
                    self.url()
                ))
            })?;
        self.ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, id);
        self.schemas
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(id)
            .or_insert_with(|| Arc::new(schema.clone()));
        Ok(id)
    }

    /// Registers a `.proto`'s imports, dependencies first, each under a
    /// subject named by its import path (Confluent's default reference
    /// subject naming), and gives the main file's `references`.
    fn register_imports(&self, imports: &[crate::schema::protobuf::ProtoFile]) -> Result<Vec<Value>> {
        let mut references = Vec::new();
        for (i, file) in imports.iter().enumerate() {
            // A file's own references: the imports registered before it
            // that it names.
            let own: Vec<Value> = imports[..i]
                .iter()
                .zip(&references)
                .filter(|(f, _)| file.source.contains(&format!("\"{}\"", f.name)))
                .map(|(_, r): (_, &Value)| r.clone())
                .collect();
            let body = json!({"schema": file.source, "schemaType": "PROTOBUF", "references": own});
            self.call(
                reqwest::Method::POST,
                &format!("/subjects/{}/versions", file.name.replace('/', "%2F")),
                Some(body.clone()),
            )?;
            let found = self.call(
                reqwest::Method::POST,
                &format!("/subjects/{}", file.name.replace('/', "%2F")),
                Some(body),
            )?;
            let version = found.get("version").and_then(Value::as_u64).ok_or_else(|| {
                Error::Usage(format!(
                    "schema registry {}: {} registered without a version: {found}",
                    self.url(),
                    file.name
                ))
            })?;
            references.push(json!({"name": file.name, "subject": file.name, "version": version}));
        }
        Ok(references)
    }

    /// The schema with this id (fetched once, then cached).
    pub fn schema(&self, id: u32) -> Result<Arc<Schema>> {
        if let Some(s) = self
            .schemas
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&id)
        {
            return Ok(s.clone());
        }
        let answer = self.call(reqwest::Method::GET, &format!("/schemas/ids/{id}"), None)?;
        let text = answer.get("schema").and_then(Value::as_str).unwrap_or_default();
        let kind = answer.get("schemaType").and_then(Value::as_str);
        if kind == Some("PROTOBUF") {
            let imports = self.referenced_protos(answer.get("references").unwrap_or(&Value::Null), 0)?;
            let file = crate::schema::protobuf::ProtoFile {
                name: format!("schema-{id}.proto"),
                source: text.to_string(),
            };
            let schema = Arc::new(Schema::Protobuf(Box::new(
                crate::schema::ProtoSchema::from_sources(&file, &imports, None)
                    .map_err(|e| e.within(&format!("schema id {id}")))?,
            )));
            self.schemas
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(id, schema.clone());
            return Ok(schema);
        }
        let json = crate::error::parse_json(text).map_err(|e| e.within(&format!("schema id {id}")))?;
        let schema = match kind {
            Some("JSON") => Schema::Json(crate::schema::JsonSchema::from_value(json)?),
            _ => {
                let references = self.referenced(answer.get("references").unwrap_or(&Value::Null), 0)?;
                Schema::Avro(crate::schema::avro_parse::parse_with_references(&references, &json)?)
            }
        };
        let schema = Arc::new(schema);
        self.schemas
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, schema.clone());
        Ok(schema)
    }

    /// The schemas `references` name, depth first: each reference's name
    /// (its import name for Protobuf) and the text the registry holds.
    fn referenced_texts(&self, references: &Value, depth: u32) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for r in references.as_array().into_iter().flatten() {
            if depth > 16 {
                return Err(Error::Usage(format!(
                    "schema registry {}: references nest deeper than 16",
                    self.url()
                )));
            }
            let subject = r.get("subject").and_then(Value::as_str).unwrap_or_default();
            let version = r
                .get("version")
                .map_or_else(|| "latest".to_string(), |v| v.to_string().trim_matches('"').to_string());
            let answer = self.call(
                reqwest::Method::GET,
                &format!("/subjects/{}/versions/{version}", subject.replace('/', "%2F")),
                None,
            )?;
            out.extend(self.referenced_texts(answer.get("references").unwrap_or(&Value::Null), depth + 1)?);
            let name = r.get("name").and_then(Value::as_str).unwrap_or(subject);
            let text = answer.get("schema").and_then(Value::as_str).unwrap_or_default();
            out.push((name.to_string(), text.to_string()));
        }
        Ok(out)
    }

    /// The `.proto` files `references` name, depth first, by import name.
    fn referenced_protos(&self, references: &Value, depth: u32) -> Result<Vec<crate::schema::protobuf::ProtoFile>> {
        Ok(self
            .referenced_texts(references, depth)?
            .into_iter()
            .map(|(name, source)| crate::schema::protobuf::ProtoFile { name, source })
            .collect())
    }

    /// The schemas `references` name, depth first, as JSON.
    fn referenced(&self, references: &Value, depth: u32) -> Result<Vec<Value>> {
        self.referenced_texts(references, depth)?
            .iter()
            .map(|(_, text)| crate::error::parse_json(text))
            .collect()
    }

    /// The subjects the registry holds.
    pub fn subjects(&self) -> Result<Vec<String>> {
        let answer = self.call(reqwest::Method::GET, "/subjects", None)?;
        Ok(answer
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect())
    }
}
