//! Parses Avro schema JSON into an [`AvroSchema`], reporting the JSON path
//! inside the schema document for every problem (`fields[0].type[2].name`).

use crate::num::Cast as _;
use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::avro::{AvroSchema, BranchKey, Enum, Field, Fixed, Logical, Name, Node, NodeId, Record, Union};
use crate::codec::avro_json;
use crate::error::{Diagnostic, Error, Result};

/// Parses schema JSON text.
pub fn parse_str(text: &str) -> Result<AvroSchema> {
    let json = crate::error::parse_json(text)?;
    parse_value(&json)
}

/// Parses an already-read schema JSON value.
pub fn parse_value(json: &Value) -> Result<AvroSchema> {
    parse_with_references(&[], json)
}

/// Parses a schema whose named types may come from `references`: other
/// schemas (a registry's schema references), parsed first, in order.
pub fn parse_with_references(references: &[Value], json: &Value) -> Result<AvroSchema> {
    let mut parser = Parser {
        nodes: Vec::new(),
        names: HashMap::new(),
    };
    for (i, reference) in references.iter().enumerate() {
        parser.parse(reference, None, "").map_err(|(at, message)| {
            Error::invalid(schema_diagnostic(&at, message).within(format!("references[{i}]")))
        })?;
    }
    let root = parser
        .parse(json, None, "")
        .map_err(|(at, message)| Error::invalid(schema_diagnostic(&at, message)))?;
    let mut schema = AvroSchema {
        nodes: parser.nodes,
        root,
        names: parser.names,
        json: json.clone(),
    };
    resolve_defaults(&mut schema)?;
    Ok(schema)
}

fn schema_diagnostic(at: &str, message: String) -> Diagnostic {
    let at = if at.is_empty() { "(root)" } else { at };
    Diagnostic::new(message).within(at)
}

type ParseResult<T> = std::result::Result<T, (String, String)>;

struct Parser {
    nodes: Vec<Node>,
    names: HashMap<String, NodeId>,
}

fn join(at: &str, part: &str) -> String {
    if at.is_empty() {
        part.to_string()
    } else if part.starts_with('[') {
        format!("{at}{part}")
    } else {
        format!("{at}.{part}")
    }
}

fn fail<T>(at: &str, message: impl Into<String>) -> ParseResult<T> {
    Err((at.to_string(), message.into()))
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

const PRIMITIVES: &[&str] = &["null", "boolean", "int", "long", "float", "double", "bytes", "string"];

impl Parser {
    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn parse(&mut self, json: &Value, namespace: Option<&str>, at: &str) -> ParseResult<NodeId> {
        match json {
            Value::String(name) => self.parse_reference(name, namespace, at),
            Value::Array(branches) => self.parse_union(branches, namespace, at),
            Value::Object(obj) => self.parse_object(obj, namespace, at),
            other => fail(
                at,
                format!("expected a type name, an object or an array, found {other}"),
            ),
        }
    }

    fn parse_reference(&mut self, name: &str, namespace: Option<&str>, at: &str) -> ParseResult<NodeId> {
        if let Some(node) = primitive(name) {
            return Ok(self.push(node));
        }
        let full = qualify(name, namespace);
        if let Some(id) = self.names.get(&full).or_else(|| self.names.get(name)) {
            return Ok(*id);
        }
        fail(
            at,
            format!("unknown type \"{name}\" (named types must be defined before use)"),
        )
    }

    fn parse_union(&mut self, branches: &[Value], namespace: Option<&str>, at: &str) -> ParseResult<NodeId> {
        if branches.is_empty() {
            return fail(at, "a union needs at least one branch");
        }
        let mut ids = Vec::with_capacity(branches.len());
        let mut seen = HashSet::new();
        for (i, branch) in branches.iter().enumerate() {
            let here = join(at, &format!("[{i}]"));
            let id = self.parse(branch, namespace, &here)?;
            let node = &self.nodes[id];
            if matches!(node, Node::Union(_)) {
                return fail(&here, "a union may not directly contain another union");
            }
            let key = match node.name() {
                Some(name) => name.fullname(),
                None => node.type_name().to_string(),
            };
            if !seen.insert(key.clone()) {
                return fail(&here, format!("duplicate union branch \"{key}\""));
            }
            ids.push(id);
        }
        let keys = ids.iter().map(|id| branch_keys(&self.nodes[*id])).collect();
        Ok(self.push(Node::Union(Union { branches: ids, keys })))
    }

    fn parse_object(&mut self, obj: &Map<String, Value>, namespace: Option<&str>, at: &str) -> ParseResult<NodeId> {
        let Some(type_value) = obj.get("type") else {
            return fail(at, "missing \"type\"");
        };
        let type_name = match type_value {
            Value::String(s) => s.as_str(),
            // `{"type": {...}}` or `{"type": [...]}`: a wrapped schema.
            other => return self.parse(other, namespace, &join(at, "type")),
        };
        let logical = obj.get("logicalType").and_then(Value::as_str);
        match type_name {
            "record" | "error" => self.parse_record(obj, namespace, at),
            "enum" => self.parse_enum(obj, namespace, at),
            "fixed" => self.parse_fixed(obj, namespace, at, logical),
            "array" => {
                let Some(items) = obj.get("items") else {
                    return fail(at, "array is missing \"items\"");
                };
                let items = self.parse(items, namespace, &join(at, "items"))?;
                Ok(self.push(Node::Array(items)))
            }
            "map" => {
                let Some(values) = obj.get("values") else {
                    return fail(at, "map is missing \"values\"");
                };
                let values = self.parse(values, namespace, &join(at, "values"))?;
                Ok(self.push(Node::Map(values)))
            }
            name if PRIMITIVES.contains(&name) => {
                let node = primitive(name).unwrap_or(Node::Null);
                let node = match logical {
                    Some(l) => with_logical(node, l, obj, at)?,
                    None => node,
                };
                Ok(self.push(node))
            }
            // A reference written as {"type": "some.Name"}.
            name => self.parse_reference(name, namespace, &join(at, "type")),
        }
    }

    fn declare(
        &mut self,
        obj: &Map<String, Value>,
        namespace: Option<&str>,
        at: &str,
    ) -> ParseResult<(Name, Vec<String>)> {
        let Some(raw) = obj.get("name").and_then(Value::as_str) else {
            return fail(at, "named type is missing a string \"name\"");
        };
        let explicit_ns = obj.get("namespace").and_then(Value::as_str);
        let (name, ns) = match raw.rsplit_once('.') {
            Some((ns, name)) => (name.to_string(), Some(ns.to_string())),
            None => (
                raw.to_string(),
                explicit_ns.or(namespace).filter(|s| !s.is_empty()).map(str::to_string),
            ),
        };
        if !valid_name(&name) {
            return fail(&join(at, "name"), format!("invalid name \"{name}\""));
        }
        if let Some(ns) = &ns
            && let Some(bad) = ns.split('.').find(|part| !valid_name(part))
        {
            return fail(
                &join(at, "namespace"),
                format!("invalid namespace part \"{bad}\" in \"{ns}\""),
            );
        }
        let full = Name { name, namespace: ns };
        if PRIMITIVES.contains(&full.fullname().as_str()) {
            return fail(&join(at, "name"), format!("\"{full}\" is a primitive type name"));
        }
        if self.names.contains_key(&full.fullname()) {
            return fail(&join(at, "name"), format!("type \"{full}\" is defined twice"));
        }
        let aliases = match obj.get("aliases") {
            None => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .map(|a| match a.as_str() {
                    Some(a) => Ok(qualify(a, full.namespace.as_deref())),
                    None => fail(&join(at, "aliases"), "aliases must be strings"),
                })
                .collect::<ParseResult<_>>()?,
            Some(_) => return fail(&join(at, "aliases"), "aliases must be an array of strings"),
        };
        Ok((full, aliases))
    }

    fn parse_record(&mut self, obj: &Map<String, Value>, namespace: Option<&str>, at: &str) -> ParseResult<NodeId> {
        let (name, aliases) = self.declare(obj, namespace, at)?;
        let Some(Value::Array(fields_json)) = obj.get("fields") else {
            return fail(at, format!("record \"{name}\" needs a \"fields\" array"));
        };
        // Registered before its fields, so a record may refer to itself.
        let placeholder = Record {
            name: name.clone(),
            aliases: aliases.clone(),
            doc: None,
            fields: Vec::new(),
        };
        let id = self.push(Node::Record(placeholder));
        self.names.insert(name.fullname(), id);
        let inner_ns = name.namespace.clone();
        let mut fields = Vec::with_capacity(fields_json.len());
        let mut seen = HashSet::new();
        for (i, field) in fields_json.iter().enumerate() {
            let here = join(at, &format!("fields[{i}]"));
            let Some(field) = field.as_object() else {
                return fail(&here, "a field must be an object");
            };
            let Some(field_name) = field.get("name").and_then(Value::as_str) else {
                return fail(&here, "field is missing a string \"name\"");
            };
            if !valid_name(field_name) {
                return fail(&join(&here, "name"), format!("invalid field name \"{field_name}\""));
            }
            if !seen.insert(field_name.to_string()) {
                return fail(&join(&here, "name"), format!("duplicate field \"{field_name}\""));
            }
            let Some(type_json) = field.get("type") else {
                return fail(&here, format!("field \"{field_name}\" is missing \"type\""));
            };
            let node = self.parse(type_json, inner_ns.as_deref(), &join(&here, "type"))?;
            let field_aliases = field
                .get("aliases")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default();
            fields.push(Field {
                name: field_name.to_string(),
                aliases: field_aliases,
                doc: field.get("doc").and_then(Value::as_str).map(str::to_string),
                node,
                default: field.get("default").cloned(),
                default_value: None,
            });
        }
        self.nodes[id] = Node::Record(Record {
            name,
            aliases,
            doc: obj.get("doc").and_then(Value::as_str).map(str::to_string),
            fields,
        });
        Ok(id)
    }

    fn parse_enum(&mut self, obj: &Map<String, Value>, namespace: Option<&str>, at: &str) -> ParseResult<NodeId> {
        let (name, aliases) = self.declare(obj, namespace, at)?;
        let Some(Value::Array(list)) = obj.get("symbols") else {
            return fail(at, format!("enum \"{name}\" needs a \"symbols\" array"));
        };
        let mut symbols = Vec::with_capacity(list.len());
        for (i, symbol) in list.iter().enumerate() {
            let here = join(at, &format!("symbols[{i}]"));
            match symbol.as_str() {
                Some(s) if valid_name(s) => {
                    if symbols.iter().any(|x| x == s) {
                        return fail(&here, format!("duplicate symbol \"{s}\""));
                    }
                    symbols.push(s.to_string());
                }
                _ => return fail(&here, format!("invalid enum symbol {symbol}")),
            }
        }
        let default = match obj.get("default") {
            None => None,
            Some(Value::String(s)) if symbols.contains(s) => Some(s.clone()),
            Some(other) => {
                return fail(
                    &join(at, "default"),
                    format!("enum default {other} is not one of the symbols"),
                );
            }
        };
        let id = self.push(Node::Enum(Enum {
            name,
            aliases,
            symbols,
            default,
        }));
        let full = self.nodes[id].name().map(Name::fullname).unwrap_or_default();
        self.names.insert(full, id);
        Ok(id)
    }

    fn parse_fixed(
        &mut self,
        obj: &Map<String, Value>,
        namespace: Option<&str>,
        at: &str,
        logical: Option<&str>,
    ) -> ParseResult<NodeId> {
        let (name, aliases) = self.declare(obj, namespace, at)?;
        let Some(size) = obj.get("size").and_then(Value::as_u64) else {
            return fail(at, format!("fixed \"{name}\" needs a non-negative integer \"size\""));
        };
        let size = usize::try_from(size).map_err(|_| (at.to_string(), "fixed size too large".to_string()))?;
        let logical = match logical {
            Some("decimal") => Some(decimal(obj, at, Some(size))?),
            Some("duration") if size == 12 => Some(Logical::Duration),
            Some("duration") => return fail(at, format!("logical type duration needs fixed size 12, found {size}")),
            Some("uuid") if size == 16 => Some(Logical::Uuid),
            _ => None,
        };
        let id = self.push(Node::Fixed(Fixed {
            name,
            aliases,
            size,
            logical,
        }));
        let full = self.nodes[id].name().map(Name::fullname).unwrap_or_default();
        self.names.insert(full, id);
        Ok(id)
    }
}

fn branch_keys(node: &Node) -> BranchKey {
    match node.name() {
        Some(name) => BranchKey {
            full: name.fullname(),
            short: name.name.clone(),
        },
        None => BranchKey {
            full: node.type_name().to_string(),
            short: node.type_name().to_string(),
        },
    }
}

fn qualify(name: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if !name.contains('.') && !ns.is_empty() => format!("{ns}.{name}"),
        _ => name.to_string(),
    }
}

fn primitive(name: &str) -> Option<Node> {
    Some(match name {
        "null" => Node::Null,
        "boolean" => Node::Boolean,
        "int" => Node::Int(None),
        "long" => Node::Long(None),
        "float" => Node::Float,
        "double" => Node::Double,
        "bytes" => Node::Bytes(None),
        "string" => Node::String(None),
        _ => return None,
    })
}

/// Attaches a logical type. Unknown logical types are ignored, as the Avro
/// specification says; a known one on the wrong base type is an error,
/// since it is always a mistake.
fn with_logical(node: Node, logical: &str, obj: &Map<String, Value>, at: &str) -> ParseResult<Node> {
    let wrong = |expected: &str| {
        fail(
            at,
            format!(
                "logical type {logical} needs type {expected}, found {}",
                node.type_name()
            ),
        )
    };
    Ok(match (logical, &node) {
        ("date", Node::Int(_)) => Node::Int(Some(Logical::Date)),
        ("time-millis", Node::Int(_)) => Node::Int(Some(Logical::TimeMillis)),
        ("time-micros", Node::Long(_)) => Node::Long(Some(Logical::TimeMicros)),
        ("timestamp-millis", Node::Long(_)) => Node::Long(Some(Logical::TimestampMillis)),
        ("timestamp-micros", Node::Long(_)) => Node::Long(Some(Logical::TimestampMicros)),
        ("local-timestamp-millis", Node::Long(_)) => Node::Long(Some(Logical::LocalTimestampMillis)),
        ("local-timestamp-micros", Node::Long(_)) => Node::Long(Some(Logical::LocalTimestampMicros)),
        ("uuid", Node::String(_)) => Node::String(Some(Logical::Uuid)),
        ("decimal", Node::Bytes(_)) => Node::Bytes(Some(decimal(obj, at, None)?)),
        ("date" | "time-millis", _) => return wrong("int"),
        (
            "time-micros"
            | "timestamp-millis"
            | "timestamp-micros"
            | "local-timestamp-millis"
            | "local-timestamp-micros",
            _,
        ) => {
            return wrong("long");
        }
        ("uuid", _) => return wrong("string or fixed(16)"),
        ("decimal", _) => return wrong("bytes or fixed"),
        ("duration", _) => return wrong("fixed(12)"),
        _ => node,
    })
}

fn decimal(obj: &Map<String, Value>, at: &str, fixed_size: Option<usize>) -> ParseResult<Logical> {
    let Some(precision) = obj.get("precision").and_then(Value::as_u64).filter(|p| *p > 0) else {
        return fail(at, "decimal needs a positive integer \"precision\"");
    };
    let scale = match obj.get("scale") {
        None => 0,
        Some(s) => s.as_u64().ok_or_else(|| {
            (
                join(at, "scale"),
                "decimal scale must be a non-negative integer".to_string(),
            )
        })?,
    };
    if scale > precision {
        return fail(at, format!("decimal scale {scale} exceeds precision {precision}"));
    }
    if let Some(size) = fixed_size {
        // The largest precision a fixed of `size` bytes can hold.
        let max = ((8.0 * size.to_f64() - 1.0) * 2f64.log10()).floor().sat_u64();
        if precision > max {
            return fail(
                at,
                format!("decimal precision {precision} does not fit in fixed({size}), at most {max}"),
            );
        }
    }
    let to_u32 = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    Ok(Logical::Decimal {
        precision: to_u32(precision),
        scale: to_u32(scale),
    })
}

/// Checks every field default against its field's type, and keeps it in
/// Avro JSON form for the codecs.
fn resolve_defaults(schema: &mut AvroSchema) -> Result<()> {
    let mut problems = Vec::new();
    let mut resolved = Vec::new();
    for (id, node) in schema.nodes().iter().enumerate() {
        let Node::Record(record) = node else { continue };
        for (i, field) in record.fields.iter().enumerate() {
            let Some(default) = &field.default else { continue };
            match avro_json::default_to_value(schema, field.node, default) {
                Ok(value) => resolved.push((id, i, value)),
                Err(message) => problems.push(
                    Diagnostic::new(format!("invalid default for field \"{}\": {message}", field.name))
                        .within(format!("{}.{}", record.name, field.name)),
                ),
            }
        }
    }
    for (id, i, value) in resolved {
        if let Node::Record(record) = &mut schema.nodes[id] {
            record.fields[i].default_value = Some(value);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(problems))
    }
}
