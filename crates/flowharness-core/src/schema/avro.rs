//! The Avro schema model: an arena of nodes in which named-type references
//! are already resolved to node ids, so codecs and checkers never look a
//! name up at run time. Built by [`parse`](super::avro_parse).

use std::collections::HashMap;
use std::fmt;

pub type NodeId = usize;

/// A parsed Avro schema.
#[derive(Debug, Clone)]
pub struct AvroSchema {
    pub(crate) nodes: Vec<Node>,
    pub(crate) root: NodeId,
    /// Full name of every named type, to its node.
    pub(crate) names: HashMap<String, NodeId>,
    /// The schema's JSON as the user wrote it.
    pub(crate) json: serde_json::Value,
}

/// A full Avro name: `namespace.name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name {
    pub name: String,
    pub namespace: Option<String>,
}

impl Name {
    pub fn fullname(&self) -> String {
        match &self.namespace {
            Some(ns) if !ns.is_empty() => format!("{ns}.{}", self.name),
            _ => self.name.clone(),
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.fullname())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logical {
    Date,
    TimeMillis,
    TimeMicros,
    TimestampMillis,
    TimestampMicros,
    LocalTimestampMillis,
    LocalTimestampMicros,
    Uuid,
    Decimal { precision: u32, scale: u32 },
    Duration,
}

impl Logical {
    pub fn name(&self) -> &'static str {
        match self {
            Logical::Date => "date",
            Logical::TimeMillis => "time-millis",
            Logical::TimeMicros => "time-micros",
            Logical::TimestampMillis => "timestamp-millis",
            Logical::TimestampMicros => "timestamp-micros",
            Logical::LocalTimestampMillis => "local-timestamp-millis",
            Logical::LocalTimestampMicros => "local-timestamp-micros",
            Logical::Uuid => "uuid",
            Logical::Decimal { .. } => "decimal",
            Logical::Duration => "duration",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub aliases: Vec<String>,
    pub doc: Option<String>,
    pub node: NodeId,
    /// The default as written in the schema (the first union branch's JSON).
    pub default: Option<serde_json::Value>,
    /// The same default in Avro JSON encoding, as the codecs take values.
    pub default_value: Option<serde_json::Value>,
}

/// How a union branch is named in the Avro JSON encoding.
#[derive(Debug, Clone)]
pub struct BranchKey {
    /// Full name for named types, the type name (`string`, `array`) otherwise.
    pub full: String,
    /// The short name of a named type; the type name otherwise.
    pub short: String,
}

#[derive(Debug, Clone)]
pub struct Union {
    pub branches: Vec<NodeId>,
    pub keys: Vec<BranchKey>,
}

impl Union {
    /// Finds the branch a JSON key names: a full name first, then a short name.
    pub fn find(&self, key: &str) -> Option<usize> {
        self.keys
            .iter()
            .position(|k| k.full == key)
            .or_else(|| self.keys.iter().position(|k| k.short == key))
    }

    /// The branch index of `null`, if the union has one.
    pub fn null_branch(&self) -> Option<usize> {
        self.keys.iter().position(|k| k.full == "null")
    }
}

#[derive(Debug, Clone)]
pub struct Record {
    pub name: Name,
    /// Full names.
    pub aliases: Vec<String>,
    pub doc: Option<String>,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone)]
pub struct Enum {
    pub name: Name,
    pub aliases: Vec<String>,
    pub symbols: Vec<String>,
    pub default: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Fixed {
    pub name: Name,
    pub aliases: Vec<String>,
    pub size: usize,
    pub logical: Option<Logical>,
}

#[derive(Debug, Clone)]
pub enum Node {
    Null,
    Boolean,
    Int(Option<Logical>),
    Long(Option<Logical>),
    Float,
    Double,
    Bytes(Option<Logical>),
    String(Option<Logical>),
    Record(Record),
    Enum(Enum),
    Array(NodeId),
    Map(NodeId),
    Union(Union),
    Fixed(Fixed),
}

impl Node {
    /// The Avro type name: `long`, `record`, ...
    pub fn type_name(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Boolean => "boolean",
            Node::Int(_) => "int",
            Node::Long(_) => "long",
            Node::Float => "float",
            Node::Double => "double",
            Node::Bytes(_) => "bytes",
            Node::String(_) => "string",
            Node::Record(_) => "record",
            Node::Enum(_) => "enum",
            Node::Array(_) => "array",
            Node::Map(_) => "map",
            Node::Union(_) => "union",
            Node::Fixed(_) => "fixed",
        }
    }

    pub fn name(&self) -> Option<&Name> {
        match self {
            Node::Record(r) => Some(&r.name),
            Node::Enum(e) => Some(&e.name),
            Node::Fixed(f) => Some(&f.name),
            _ => None,
        }
    }

    pub fn aliases(&self) -> &[String] {
        match self {
            Node::Record(r) => &r.aliases,
            Node::Enum(e) => &e.aliases,
            Node::Fixed(f) => &f.aliases,
            _ => &[],
        }
    }

    pub fn logical(&self) -> Option<Logical> {
        match self {
            Node::Int(l) | Node::Long(l) | Node::Bytes(l) | Node::String(l) => *l,
            Node::Fixed(f) => f.logical,
            _ => None,
        }
    }
}

impl AvroSchema {
    pub fn root(&self) -> NodeId {
        self.root
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The schema JSON as written by the user.
    pub fn json(&self) -> &serde_json::Value {
        &self.json
    }

    /// The node of a named type, by full name.
    pub fn named(&self, fullname: &str) -> Option<NodeId> {
        self.names.get(fullname).copied()
    }

    /// The name of the root type, when it is named.
    pub fn root_name(&self) -> Option<String> {
        self.node(self.root).name().map(Name::fullname)
    }

    /// What the node is, for messages: `long (timestamp-millis)`, `record X`.
    pub fn describe(&self, id: NodeId) -> String {
        let node = self.node(id);
        match node {
            Node::Record(r) => format!("record {}", r.name),
            Node::Enum(e) => format!("enum {}", e.name),
            Node::Fixed(f) => format!("fixed {} ({} bytes)", f.name, f.size),
            Node::Union(union) => {
                let names: Vec<&str> = union.keys.iter().map(|k| k.full.as_str()).collect();
                format!("union [{}]", names.join(", "))
            }
            Node::Array(items) => format!("array of {}", self.describe(*items)),
            Node::Map(values) => format!("map of {}", self.describe(*values)),
            other => match other.logical() {
                Some(l) => format!("{} ({})", other.type_name(), l.name()),
                None => other.type_name().to_string(),
            },
        }
    }
}
