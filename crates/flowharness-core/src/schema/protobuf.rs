//! Protobuf contracts: `.proto` files compiled in-process (protox), one
//! message of them the contract. Messages are held as proto3 JSON with the
//! proto field names (the printer's `preserving_proto_field_name`, which
//! every proto3 JSON parser reads) and 64-bit integers as numbers, so field
//! paths are the names the `.proto` declares and times in `int64` fields
//! work as they do in Avro `long`s.
//!
//! Two JSON Schemas are derived from the message: a *strict* one that
//! generation and path compiling use (every field of a proto3 message is
//! written, a `oneof` is a choice of one member), and a *lenient* one that
//! validation uses, which accepts anything a proto3 JSON parser accepts:
//! fields left out (defaults), 64-bit integers as strings, enums as numbers.
//! A `oneof` with more than one member set is a violation of its own.

use std::collections::BTreeMap;
use std::path::Path;

use miette::Diagnostic as _;
use prost_reflect::{DescriptorPool, FieldDescriptor, Kind, MessageDescriptor};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};
use serde_json::{Map, Value, json};

use super::JsonSchema;
use crate::error::{Diagnostic, Error, Result};
use crate::schema::path::Violation;

/// A `.proto` file by its import name, with its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoFile {
    pub name: String,
    pub source: String,
}

/// A compiled Protobuf contract: one message of a `.proto` file.
#[derive(Debug, Clone)]
pub struct ProtoSchema {
    file: ProtoFile,
    /// The files it imports, dependencies first (Google's well-known
    /// files left out: every registry has them).
    imports: Vec<ProtoFile>,
    message: MessageDescriptor,
    /// Where the message is in its file: Confluent's message indexes.
    indexes: Vec<i32>,
    strict: JsonSchema,
    lenient: JsonSchema,
    /// Per message path (`""` for the root, `order.payment`), its oneofs'
    /// members, for the at-most-one check.
    oneofs: Vec<(String, String, Vec<String>)>,
}

/// Files by import name, then Google's well-known ones.
struct Sources(BTreeMap<String, String>);

impl FileResolver for Sources {
    fn open_file(&self, name: &str) -> std::result::Result<File, protox::Error> {
        match self.0.get(name) {
            Some(text) => match descriptor_of(text) {
                Some(mut file) => {
                    file.name = Some(name.to_string());
                    Ok(File::from_file_descriptor_proto(file))
                }
                None => File::from_source(name, text),
            },
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

/// A schema registered as Confluent's clients register Protobuf: the
/// base64 of a serialized `FileDescriptorProto` rather than `.proto` text
/// (Confluent's registry takes both).
pub fn descriptor_of(text: &str) -> Option<prost_reflect::prost_types::FileDescriptorProto> {
    use base64::Engine as _;
    use prost::Message as _;
    let text = text.trim();
    if text.is_empty() || text.contains(|c: char| c.is_whitespace() || c == ';' || c == '"') {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
        .ok()?;
    prost_reflect::prost_types::FileDescriptorProto::decode(bytes.as_slice()).ok()
}

/// Reads a `.proto` and, recursively, the files it imports from beside it.
fn read_tree(dir: &Path, name: &str, into: &mut BTreeMap<String, String>) -> Result<()> {
    if into.contains_key(name) || name.starts_with("google/protobuf/") {
        return Ok(());
    }
    let path = dir.join(name);
    let text = crate::error::read_to_string(&path)?;
    into.insert(name.to_string(), text.clone());
    for import in imports_of(&text) {
        if dir.join(&import).exists() {
            read_tree(dir, &import, into)?;
        }
    }
    Ok(())
}

/// The `import "x.proto";` lines of a file.
fn imports_of(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("import "))
        .filter_map(|l| l.split('"').nth(1).map(str::to_string))
        .collect()
}

/// `line:column` (1-based) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl ProtoSchema {
    /// Compiles a `.proto` file, with the files it imports from its own
    /// folder; the error names file, line and column.
    pub fn load(path: &Path) -> Result<ProtoSchema> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let mut files = BTreeMap::new();
        read_tree(dir, &name, &mut files)?;
        let place = |file: &str| dir.join(file).display().to_string();
        Self::compile(&name, files, None).map_err(|e| match e {
            CompileError::At { file, message } => Error::invalid(Diagnostic::new(message).within(place(&file))),
            CompileError::Other(e) => e.within(&path.display().to_string()),
        })
    }

    /// Compiles from texts, as a registry holds them: the main file and
    /// the files its references name (`name` is the import name).
    pub fn from_sources(file: &ProtoFile, imports: &[ProtoFile], message: Option<&str>) -> Result<ProtoSchema> {
        let mut files: BTreeMap<String, String> = imports.iter().map(|f| (f.name.clone(), f.source.clone())).collect();
        files.insert(file.name.clone(), file.source.clone());
        Self::compile(&file.name, files, message).map_err(|e| match e {
            CompileError::At { file, message } => Error::invalid(Diagnostic::new(message).within(file)),
            CompileError::Other(e) => e,
        })
    }

    fn compile(name: &str, files: BTreeMap<String, String>, message: Option<&str>) -> CompileResult<ProtoSchema> {
        let texts = files.clone();
        let mut chain = ChainFileResolver::new();
        chain.add(Sources(files));
        chain.add(GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(chain);
        compiler.include_imports(true).include_source_info(false);
        if let Err(e) = compiler.open_file(name) {
            let file = e.file().unwrap_or(name).to_string();
            let at = e
                .labels()
                .and_then(|mut l| l.next())
                .and_then(|l| texts.get(&file).map(|t| line_column(t, l.offset())));
            let text = e.to_string();
            let message = match at {
                Some((line, column)) => format!("{line}:{column}: {text}"),
                None => text,
            };
            return Err(CompileError::At { file, message });
        }
        let pool = compiler.descriptor_pool();
        let main = pool
            .files()
            .find(|f| f.name() == name)
            .ok_or_else(|| CompileError::Other(Error::Usage(format!("{name}: compiled to nothing"))))?;
        let message = pick_message(&main, message).map_err(CompileError::Other)?;
        let indexes = indexes_of(&message);
        let mut imports = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        collect_imports(&main, &texts, &mut imports, &mut seen);
        let strict_json = derive::message(&message, derive::Mode::Strict, &mut Vec::new());
        let lenient_json = derive::message(&message, derive::Mode::Lenient, &mut Vec::new());
        let mut oneofs = Vec::new();
        derive::oneofs(&message, "", &mut oneofs, &mut Vec::new());
        let with_draft = |mut v: Value| {
            if let Some(o) = v.as_object_mut() {
                o.insert("$schema".into(), json!("https://json-schema.org/draft/2020-12/schema"));
                o.insert("title".into(), json!(message.name()));
            }
            v
        };
        Ok(ProtoSchema {
            file: ProtoFile {
                name: name.to_string(),
                source: texts.get(name).cloned().unwrap_or_default(),
            },
            imports,
            indexes,
            strict: JsonSchema::from_value(with_draft(strict_json)).map_err(CompileError::Other)?,
            lenient: JsonSchema::from_value(with_draft(lenient_json)).map_err(CompileError::Other)?,
            oneofs,
            message,
        })
    }

    /// The strict JSON Schema: generation and field paths.
    pub fn json_schema(&self) -> &JsonSchema {
        &self.strict
    }

    pub fn json(&self) -> &Value {
        self.strict.json()
    }

    pub fn message(&self) -> &MessageDescriptor {
        &self.message
    }

    /// The message's short name (`AccountMigrationEvent`).
    pub fn name(&self) -> &str {
        self.message.name()
    }

    pub fn file(&self) -> &ProtoFile {
        &self.file
    }

    pub fn imports(&self) -> &[ProtoFile] {
        &self.imports
    }

    pub fn indexes(&self) -> &[i32] {
        &self.indexes
    }

    pub fn pool(&self) -> DescriptorPool {
        self.message.parent_pool().clone()
    }

    /// The oneofs of the message and the messages below it: (path of the
    /// message holding it, oneof name, member field names).
    pub fn oneofs(&self) -> &[(String, String, Vec<String>)] {
        &self.oneofs
    }

    /// The message at a path of singular message fields (`""` is the root).
    fn message_at(&self, at: &str) -> Option<MessageDescriptor> {
        at.split('.')
            .filter(|s| !s.is_empty())
            .try_fold(self.message.clone(), |m, seg| match m.get_field_by_name(seg)?.kind() {
                Kind::Message(inner) => Some(inner),
                _ => None,
            })
    }

    /// The full name of the message type of field `member` in the message
    /// at `at`, if it is a message field.
    pub fn member_type(&self, at: &str, member: &str) -> Option<String> {
        match self.message_at(at)?.get_field_by_name(member)?.kind() {
            Kind::Message(m) => Some(m.full_name().to_string()),
            _ => None,
        }
    }

    /// The strict JSON Schema with the oneof holding `member` (in the
    /// message at `at`) pinned to it: generation for one state.
    pub fn pinned(&self, at: &str, member: &str) -> Result<JsonSchema> {
        let mut root = self.strict.json().clone();
        let mut holder = &mut root;
        for seg in at.split('.').filter(|s| !s.is_empty()) {
            holder = holder
                .get_mut("properties")
                .and_then(|p| p.get_mut(seg))
                .ok_or_else(|| Error::Usage(format!("{}: no message field {at}", self.name())))?;
        }
        let choices = holder
            .get_mut("allOf")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| Error::Usage(format!("{}: no oneof at {at:?}", self.name())))?;
        let pinned = choices.iter_mut().find_map(|c| {
            let alts = c.get("oneOf")?.as_array()?;
            let one = alts
                .iter()
                .find(|a| a.get("required").and_then(|r| r.get(0)).and_then(Value::as_str) == Some(member))?
                .clone();
            Some((c, one))
        });
        match pinned {
            Some((choice, one)) => *choice = one,
            None => return Err(Error::Usage(format!("{}: {member} is in no oneof", self.name()))),
        }
        JsonSchema::from_value(root)
    }

    /// Every violation of a proto3 JSON value.
    pub fn validate(&self, value: &Value) -> Vec<Violation> {
        let mut out = self.lenient.validate(value);
        for (at, name, members) in &self.oneofs {
            let holder = if at.is_empty() {
                Some(value)
            } else {
                at.split('.').try_fold(value, |v, s| v.get(s))
            };
            let Some(Value::Object(obj)) = holder else { continue };
            let set: Vec<&str> = members
                .iter()
                .filter(|m| obj.get(m.as_str()).is_some_and(|v| !v.is_null()))
                .map(String::as_str)
                .collect();
            if set.len() > 1 {
                out.push(Violation {
                    path: if at.is_empty() {
                        name.clone()
                    } else {
                        format!("{at}.{name}")
                    },
                    message: format!(
                        "oneof {name} has {} members set ({}): at most one",
                        set.len(),
                        set.join(", ")
                    ),
                });
            }
        }
        out
    }
}

enum CompileError {
    At { file: String, message: String },
    Other(Error),
}

type CompileResult<T> = std::result::Result<T, CompileError>;

/// The contract's message: the one named, else the file's first top-level
/// message that no other message of the file uses as a field.
fn pick_message(file: &prost_reflect::FileDescriptor, wanted: Option<&str>) -> Result<MessageDescriptor> {
    let all: Vec<MessageDescriptor> = file.messages().collect();
    if let Some(w) = wanted {
        return file
            .parent_pool()
            .all_messages()
            .find(|m| m.parent_file() == *file && (m.name() == w || m.full_name() == w))
            .ok_or_else(|| Error::Usage(format!("{}: no message {w}", file.name())));
    }
    let used: std::collections::BTreeSet<String> = file
        .parent_pool()
        .all_messages()
        .filter(|m| m.parent_file() == *file)
        .flat_map(|m| m.fields().collect::<Vec<_>>())
        .filter_map(|f| match f.kind() {
            Kind::Message(m) => Some(m.full_name().to_string()),
            _ => None,
        })
        .collect();
    all.iter()
        .find(|m| !used.contains(m.full_name()))
        .or(all.first())
        .cloned()
        .ok_or_else(|| Error::Usage(format!("{}: declares no message", file.name())))
}

/// Confluent's message indexes: the message's position in its file, one
/// index per level of nesting.
fn indexes_of(message: &MessageDescriptor) -> Vec<i32> {
    let mut out = Vec::new();
    let mut at = message.clone();
    loop {
        let siblings: Vec<MessageDescriptor> = match at.parent_message() {
            Some(p) => p.child_messages().collect(),
            None => at.parent_file().messages().collect(),
        };
        let i = siblings.iter().position(|m| *m == at).unwrap_or(0);
        out.push(i32::try_from(i).unwrap_or(i32::MAX));
        match at.parent_message() {
            Some(p) => at = p,
            None => break,
        }
    }
    out.reverse();
    out
}

fn collect_imports(
    file: &prost_reflect::FileDescriptor,
    texts: &BTreeMap<String, String>,
    out: &mut Vec<ProtoFile>,
    seen: &mut std::collections::BTreeSet<String>,
) {
    for dep in file.dependencies() {
        let name = dep.name().to_string();
        if name.starts_with("google/protobuf/") || !seen.insert(name.clone()) {
            continue;
        }
        collect_imports(&dep, texts, out, seen);
        out.push(ProtoFile {
            source: texts.get(&name).cloned().unwrap_or_default(),
            name,
        });
    }
}

/// JSON Schemas from descriptors.
mod derive {
    use super::*;

    #[derive(Clone, Copy, PartialEq, Eq)]
    pub(super) enum Mode {
        Strict,
        Lenient,
    }

    pub(super) fn message(m: &MessageDescriptor, mode: Mode, stack: &mut Vec<String>) -> Value {
        if let Some(wkt) = well_known(m.full_name(), mode) {
            return wkt;
        }
        if stack.iter().any(|s| s == m.full_name()) {
            // Recursion: the nested occurrence is any object.
            return json!({"type": "object"});
        }
        stack.push(m.full_name().to_string());
        let mut properties = Map::new();
        let mut required = Vec::new();
        for f in m.fields() {
            properties.insert(f.name().to_string(), field(&f, mode, stack));
            let in_oneof = f.containing_oneof().is_some_and(|o| !o.is_synthetic());
            let optional = f.containing_oneof().is_some_and(|o| o.is_synthetic());
            if mode == Mode::Strict && !in_oneof && !optional {
                required.push(json!(f.name()));
            }
        }
        let mut out = json!({"type": "object", "properties": properties, "additionalProperties": false});
        if !required.is_empty() {
            out["required"] = Value::Array(required);
        }
        if mode == Mode::Strict {
            let choices: Vec<Value> = m
                .oneofs()
                .filter(|o| !o.is_synthetic())
                .map(|o| {
                    let members: Vec<String> = o.fields().map(|f| f.name().to_string()).collect();
                    let alternatives: Vec<Value> = members
                        .iter()
                        .map(|one| {
                            let others: Vec<&String> = members.iter().filter(|x| *x != one).collect();
                            json!({"required": [one], "x-absent": others})
                        })
                        .collect();
                    json!({"oneOf": alternatives})
                })
                .collect();
            if !choices.is_empty() {
                out["allOf"] = Value::Array(choices);
            }
        }
        stack.pop();
        out
    }

    fn field(f: &FieldDescriptor, mode: Mode, stack: &mut Vec<String>) -> Value {
        if f.is_map() {
            let Kind::Message(entry) = f.kind() else {
                return json!({"type": "object"});
            };
            let value = single(&entry.map_entry_value_field(), mode, stack);
            return json!({"type": "object", "additionalProperties": value});
        }
        let one = single(f, mode, stack);
        if f.is_list() {
            json!({"type": "array", "items": one})
        } else {
            one
        }
    }

    fn single(f: &FieldDescriptor, mode: Mode, stack: &mut Vec<String>) -> Value {
        let lenient = mode == Mode::Lenient;
        let integer = |min: i128, max: i128| {
            if lenient {
                json!({"anyOf": [
                    {"type": "integer", "minimum": min, "maximum": max},
                    {"type": "string", "pattern": "^-?[0-9]+$"}
                ]})
            } else {
                json!({"type": "integer", "minimum": min, "maximum": max})
            }
        };
        match f.kind() {
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => integer(i32::MIN.into(), i32::MAX.into()),
            Kind::Uint32 | Kind::Fixed32 => integer(0, u32::MAX.into()),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => integer(i64::MIN.into(), i64::MAX.into()),
            Kind::Uint64 | Kind::Fixed64 => integer(0, u64::MAX.into()),
            Kind::Float | Kind::Double => {
                if lenient {
                    json!({"anyOf": [{"type": "number"}, {"enum": ["NaN", "Infinity", "-Infinity"]}]})
                } else {
                    json!({"type": "number"})
                }
            }
            Kind::Bool => json!({"type": "boolean"}),
            Kind::String => json!({"type": "string"}),
            Kind::Bytes => {
                json!({"type": "string", "contentEncoding": "base64", "pattern": "^[A-Za-z0-9+/_-]*={0,2}$"})
            }
            Kind::Enum(e) => {
                let names: Vec<String> = e.values().map(|v| v.name().to_string()).collect();
                if lenient {
                    json!({"anyOf": [{"type": "string", "enum": names}, {"type": "integer"}]})
                } else {
                    json!({"type": "string", "enum": names})
                }
            }
            Kind::Message(m) => {
                let mut inner = message(&m, mode, stack);
                if lenient {
                    // null is the default message; the type list keeps
                    // violations inside it at their own paths.
                    nullable(&mut inner);
                }
                inner
            }
        }
    }

    /// Lets a schema take null too, keeping its keywords at their paths.
    fn nullable(schema: &mut Value) {
        let Some(obj) = schema.as_object_mut() else { return };
        match obj.get("type").cloned() {
            Some(Value::String(t)) => {
                obj.insert("type".into(), json!([t, "null"]));
            }
            Some(_) => {}
            None if obj.contains_key("anyOf") => {
                if let Some(Value::Array(alts)) = obj.get_mut("anyOf") {
                    alts.push(json!({"type": "null"}));
                }
            }
            None if obj.is_empty() => {}
            None => {
                let inner = Value::Object(std::mem::take(obj));
                obj.insert("anyOf".into(), json!([inner, {"type": "null"}]));
            }
        }
    }

    /// The proto3 JSON forms of the well-known types.
    fn well_known(name: &str, mode: Mode) -> Option<Value> {
        let lenient = mode == Mode::Lenient;
        let wrapped = |t: Value| {
            if lenient {
                json!({"anyOf": [t, {"type": "null"}]})
            } else {
                t
            }
        };
        Some(match name {
            "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
            "google.protobuf.Duration" => json!({"type": "string", "pattern": "^-?[0-9]{1,6}(\\.[0-9]{1,9})?s$"}),
            "google.protobuf.StringValue" => wrapped(json!({"type": "string"})),
            "google.protobuf.BytesValue" => wrapped(json!({"type": "string", "contentEncoding": "base64"})),
            "google.protobuf.BoolValue" => wrapped(json!({"type": "boolean"})),
            "google.protobuf.Int32Value" => {
                wrapped(json!({"type": "integer", "minimum": i32::MIN, "maximum": i32::MAX}))
            }
            "google.protobuf.UInt32Value" => wrapped(json!({"type": "integer", "minimum": 0, "maximum": u32::MAX})),
            "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => {
                if lenient {
                    json!({"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^-?[0-9]+$"}, {"type": "null"}]})
                } else {
                    json!({"type": "integer", "minimum": 0, "maximum": i64::MAX})
                }
            }
            "google.protobuf.FloatValue" | "google.protobuf.DoubleValue" => wrapped(json!({"type": "number"})),
            "google.protobuf.Empty" => json!({"type": "object", "maxProperties": 0}),
            "google.protobuf.FieldMask" => json!({"type": "string"}),
            "google.protobuf.Struct" => json!({"type": "object"}),
            "google.protobuf.ListValue" => json!({"type": "array"}),
            "google.protobuf.Value" => json!({}),
            "google.protobuf.Any" => json!({"type": "object", "required": ["@type"]}),
            _ => return None,
        })
    }

    /// The oneofs of `m` and of the messages its singular fields hold.
    pub(super) fn oneofs(
        m: &MessageDescriptor,
        at: &str,
        out: &mut Vec<(String, String, Vec<String>)>,
        stack: &mut Vec<String>,
    ) {
        if stack.iter().any(|s| s == m.full_name()) || m.full_name().starts_with("google.protobuf.") {
            return;
        }
        stack.push(m.full_name().to_string());
        for o in m.oneofs().filter(|o| !o.is_synthetic()) {
            out.push((
                at.to_string(),
                o.name().to_string(),
                o.fields().map(|f| f.name().to_string()).collect(),
            ));
        }
        for f in m.fields().filter(|f| !f.is_list() && !f.is_map()) {
            if let Kind::Message(inner) = f.kind() {
                let path = if at.is_empty() {
                    f.name().to_string()
                } else {
                    format!("{at}.{}", f.name())
                };
                oneofs(&inner, &path, out, stack);
            }
        }
        stack.pop();
    }
}

#[cfg(test)]
#[path = "protobuf_tests.rs"]
mod tests;
