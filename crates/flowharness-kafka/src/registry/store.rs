//! The embedded registry's state: schemas by global id, subjects with their
//! versions, and compatibility levels, with Confluent's rules and error
//! codes. Compatibility is checked with `schema::compat`.

use crate::num::Cast as _;
use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::schema::compat::{self, Mode};
use crate::schema::protobuf::ProtoFile;
use crate::schema::protobuf_compat;
use crate::schema::{AvroSchema, ProtoSchema, Schema};

/// A Confluent error: HTTP status, error code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: u32,
    pub message: String,
}

impl ApiError {
    fn new(status: u16, code: u32, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn subject_not_found(s: &str) -> Self {
        ApiError::new(404, 40401, format!("Subject '{s}' not found."))
    }
    pub fn version_not_found(v: &str) -> Self {
        ApiError::new(404, 40402, format!("Version {v} not found."))
    }
    pub fn schema_not_found() -> Self {
        ApiError::new(404, 40403, "Schema not found")
    }
    pub fn invalid_schema(m: impl Into<String>) -> Self {
        ApiError::new(422, 42201, m)
    }
    pub fn invalid_version(v: &str) -> Self {
        ApiError::new(
            422,
            42202,
            format!("The specified version '{v}' is not a valid version id."),
        )
    }
    pub fn invalid_compatibility(level: &str) -> Self {
        ApiError::new(422, 42203, format!("Invalid compatibility level {level:?}"))
    }
    pub fn incompatible(messages: &[String]) -> Self {
        ApiError::new(
            409,
            409,
            format!(
                "Schema being registered is incompatible with an earlier schema for subject; {}",
                messages.join("; ")
            ),
        )
    }
    pub fn no_subject_config(s: &str) -> Self {
        ApiError::new(
            404,
            40408,
            format!("Subject '{s}' does not have subject-level compatibility configured"),
        )
    }
    pub fn body(&self) -> Value {
        json!({"error_code": self.code, "message": self.message})
    }
}

/// A registered schema.
#[derive(Debug, Clone)]
pub struct Stored {
    pub id: u32,
    /// The schema text as registered.
    pub text: String,
    /// `AVRO` or `JSON`.
    pub kind: String,
    pub references: Value,
    /// Parsed JSON, for equality regardless of whitespace.
    json: Value,
    parsed: Parsed,
}

/// A stored schema in the form its compatibility rules read.
#[derive(Debug, Clone)]
enum Parsed {
    Avro(AvroSchema),
    Protobuf(Box<ProtoSchema>),
    /// JSON Schema: this registry checks no compatibility for it.
    Unchecked,
}

#[derive(Debug, Default)]
pub struct Store {
    schemas: Vec<Stored>,
    /// Subject → (version, schema id), oldest first.
    subjects: BTreeMap<String, Vec<(u32, u32)>>,
    global: Option<Mode>,
    per_subject: BTreeMap<String, Mode>,
}

/// A subject's version as the API shows it.
#[derive(Debug, Clone)]
pub struct Version {
    pub subject: String,
    pub version: u32,
    pub schema: Stored,
}

impl Version {
    pub fn body(&self) -> Value {
        let mut v =
            json!({"subject": self.subject, "version": self.version, "id": self.schema.id, "schema": self.schema.text});
        if self.schema.kind != "AVRO" {
            v["schemaType"] = json!(self.schema.kind);
        }
        if self.schema.references.as_array().is_some_and(|r| !r.is_empty()) {
            v["references"] = self.schema.references.clone();
        }
        v
    }
}

/// How a schema is compared for "the same schema": parsed JSON, or for
/// Protobuf the text with each line's surrounding whitespace dropped.
fn canonical(text: &str, kind: &str) -> Result<Value, ApiError> {
    if kind == "PROTOBUF" {
        let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        return Ok(Value::String(lines.join("\n")));
    }
    serde_json::from_str(text).map_err(|e| ApiError::invalid_schema(format!("Invalid schema: not JSON: {e}")))
}

fn parse_with(text: &str, kind: &str, references: &[Value]) -> Result<(Value, Parsed), ApiError> {
    if kind == "PROTOBUF" {
        // References arrive as {"$proto": import name, "source": text}.
        let imports: Vec<ProtoFile> = references
            .iter()
            .filter_map(|r| {
                Some(ProtoFile {
                    name: r.get("$proto")?.as_str()?.to_string(),
                    source: r.get("source")?.as_str()?.to_string(),
                })
            })
            .collect();
        let file = ProtoFile {
            name: "schema.proto".into(),
            source: text.to_string(),
        };
        let proto = ProtoSchema::from_sources(&file, &imports, None)
            .map_err(|e| ApiError::invalid_schema(format!("Invalid schema: {e}")))?;
        return Ok((canonical(text, kind)?, Parsed::Protobuf(Box::new(proto))));
    }
    let json: Value =
        serde_json::from_str(text).map_err(|e| ApiError::invalid_schema(format!("Invalid schema: not JSON: {e}")))?;
    match kind {
        "AVRO" => {
            let avro = crate::schema::avro_parse::parse_with_references(references, &json)
                .map_err(|e| ApiError::invalid_schema(format!("Invalid schema: {e}")))?;
            Ok((json, Parsed::Avro(avro)))
        }
        "JSON" => {
            Schema::from_value(&json).map_err(|e| ApiError::invalid_schema(format!("Invalid schema: {e}")))?;
            Ok((json, Parsed::Unchecked))
        }
        other => Err(ApiError::invalid_schema(format!(
            "Invalid schema type {other:?}: this registry holds AVRO, JSON and PROTOBUF"
        ))),
    }
}

impl Store {
    /// The schemas a `references` list names (`{name, subject, version}`),
    /// as JSON, in order.
    pub fn referenced(&self, references: &Value) -> Result<Vec<Value>, ApiError> {
        let mut out = Vec::new();
        for r in references.as_array().into_iter().flatten() {
            let subject = r.get("subject").and_then(Value::as_str).unwrap_or_default();
            let version = r
                .get("version")
                .map(|v| v.to_string().trim_matches('"').to_string())
                .unwrap_or_else(|| "latest".into());
            let v = self.version(subject, &version)?;
            out.extend(self.referenced(&v.schema.references)?);
            if v.schema.kind == "PROTOBUF" {
                let name = r.get("name").and_then(Value::as_str).unwrap_or(subject);
                out.push(json!({"$proto": name, "source": v.schema.text}));
            } else {
                out.push(v.schema.json.clone());
            }
        }
        Ok(out)
    }

    pub fn global_level(&self) -> Mode {
        self.global.unwrap_or(Mode::Backward)
    }

    pub fn set_global(&mut self, mode: Mode) {
        self.global = Some(mode);
    }

    pub fn subject_level(&self, subject: &str) -> Option<Mode> {
        self.per_subject.get(subject).copied()
    }

    pub fn set_subject_level(&mut self, subject: &str, mode: Mode) {
        self.per_subject.insert(subject.to_string(), mode);
    }

    pub fn subjects(&self) -> Vec<String> {
        self.subjects.keys().cloned().collect()
    }

    pub fn schema(&self, id: u32) -> Result<&Stored, ApiError> {
        self.schemas
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(ApiError::schema_not_found)
    }

    pub fn versions(&self, subject: &str) -> Result<Vec<u32>, ApiError> {
        self.subjects
            .get(subject)
            .map(|v| v.iter().map(|(v, _)| *v).collect())
            .ok_or_else(|| ApiError::subject_not_found(subject))
    }

    pub fn version(&self, subject: &str, version: &str) -> Result<Version, ApiError> {
        let versions = self
            .subjects
            .get(subject)
            .ok_or_else(|| ApiError::subject_not_found(subject))?;
        let (v, id) = match version {
            "latest" | "-1" => versions
                .last()
                .copied()
                .ok_or_else(|| ApiError::version_not_found(version))?,
            n => {
                let n: u32 = n
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ApiError::invalid_version(version))?;
                versions
                    .iter()
                    .copied()
                    .find(|(v, _)| *v == n)
                    .ok_or_else(|| ApiError::version_not_found(version))?
            }
        };
        Ok(Version {
            subject: subject.to_string(),
            version: v,
            schema: self.schema(id)?.clone(),
        })
    }

    fn find_same(&self, json: &Value, kind: &str) -> Option<&Stored> {
        self.schemas.iter().find(|s| s.kind == kind && s.json == *json)
    }

    /// The version under `subject` with this schema, if any.
    pub fn lookup(&self, subject: &str, text: &str, kind: &str) -> Result<Version, ApiError> {
        let versions = self
            .subjects
            .get(subject)
            .ok_or_else(|| ApiError::subject_not_found(subject))?;
        let json = canonical(text, kind)?;
        let stored = self.find_same(&json, kind).ok_or_else(ApiError::schema_not_found)?;
        let (version, _) = versions
            .iter()
            .copied()
            .find(|(_, id)| *id == stored.id)
            .ok_or_else(ApiError::schema_not_found)?;
        Ok(Version {
            subject: subject.to_string(),
            version,
            schema: stored.clone(),
        })
    }

    /// Why `text` cannot follow the subject's versions under its level.
    pub fn incompatibilities(
        &self,
        subject: &str,
        text: &str,
        kind: &str,
        against: Option<u32>,
        references: &[Value],
    ) -> Result<Vec<String>, ApiError> {
        let (_, parsed) = parse_with(text, kind, references)?;
        let mode = self.subject_level(subject).unwrap_or(self.global_level());
        let versions = self.subjects.get(subject).cloned().unwrap_or_default();
        let previous: Vec<Parsed> = versions
            .iter()
            .filter(|(v, _)| against.is_none_or(|a| a == *v))
            .filter_map(|(_, id)| self.schema(*id).ok().map(|s| s.parsed.clone()))
            .collect();
        let mode = if against.is_some() {
            // Against one version, the transitive modes mean their plain selves.
            match mode {
                Mode::BackwardTransitive => Mode::Backward,
                Mode::ForwardTransitive => Mode::Forward,
                Mode::FullTransitive => Mode::Full,
                m => m,
            }
        } else {
            mode
        };
        Ok(match parsed {
            Parsed::Avro(avro) => {
                let previous: Vec<AvroSchema> = previous
                    .into_iter()
                    .filter_map(|p| match p {
                        Parsed::Avro(a) => Some(a),
                        _ => None,
                    })
                    .collect();
                compat::check(mode, &avro, &previous)
                    .iter()
                    .map(|f| f.incompatibility.to_string())
                    .collect()
            }
            Parsed::Protobuf(proto) => {
                let previous: Vec<ProtoSchema> = previous
                    .into_iter()
                    .filter_map(|p| match p {
                        Parsed::Protobuf(p) => Some(*p),
                        _ => None,
                    })
                    .collect();
                protobuf_compat::check(mode, &proto, &previous)
                    .iter()
                    .filter(|f| !f.difference.change.compatible())
                    .map(|f| format!("{}: {}", f.direction, f.difference))
                    .collect()
            }
            Parsed::Unchecked => Vec::new(),
        })
    }

    /// Registers `text` under `subject`: the same schema keeps its id (and
    /// its version in this subject); a new one must be compatible.
    pub fn register(&mut self, subject: &str, text: &str, kind: &str, references: Value) -> Result<u32, ApiError> {
        let referenced = self.referenced(&references)?;
        let (json, parsed) = parse_with(text, kind, &referenced)?;
        if let Ok(existing) = self.lookup(subject, text, kind) {
            return Ok(existing.schema.id);
        }
        let problems = self.incompatibilities(subject, text, kind, None, &referenced)?;
        if !problems.is_empty() {
            return Err(ApiError::incompatible(&problems));
        }
        let id = match self.find_same(&json, kind) {
            Some(s) => s.id,
            None => {
                let id = self.schemas.len().sat_u32() + 1;
                self.schemas.push(Stored {
                    id,
                    text: text.to_string(),
                    kind: kind.to_string(),
                    references,
                    json,
                    parsed,
                });
                id
            }
        };
        let versions = self.subjects.entry(subject.to_string()).or_default();
        let next = versions.last().map_or(1, |(v, _)| v + 1);
        versions.push((next, id));
        Ok(id)
    }
}
