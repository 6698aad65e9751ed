//! Encode plans: the throughput path, which builds no value tree per message.
//!
//! A plan flattens one shape of a schema (every union resolved to a chosen
//! branch, except nullable leaves) into a list of operations: constant
//! bytes (record structure, chosen union indices) and leaves. A message is
//! then the sequence of its leaf values, [`Datum`]s borrowed from wherever
//! they live, written straight into the output buffer. Generators produce
//! leaf values in [`EncodePlan::leaves`] order.

use super::binary::write_long;
use crate::num::Cast as _;
use crate::schema::avro::{AvroSchema, Node, NodeId};
use crate::schema::path::{FieldPath, Segment};

/// One leaf value, borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Datum<'a> {
    Null,
    Boolean(bool),
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    Str(&'a str),
    Bytes(&'a [u8]),
    /// An enum symbol, by index.
    Enum(u32),
}

impl Datum<'_> {
    fn name(&self) -> &'static str {
        match self {
            Datum::Null => "null",
            Datum::Boolean(_) => "boolean",
            Datum::Int(_) => "int",
            Datum::Long(_) => "long",
            Datum::Float(_) => "float",
            Datum::Double(_) => "double",
            Datum::Str(_) => "string",
            Datum::Bytes(_) => "bytes",
            Datum::Enum(_) => "enum",
        }
    }
}

/// What a leaf accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum LeafKind {
    Boolean,
    Int,
    Long,
    Float,
    Double,
    String,
    Bytes,
    Fixed(usize),
    Enum(usize),
}

impl LeafKind {
    pub fn name(&self) -> String {
        match self {
            LeafKind::Boolean => "boolean".into(),
            LeafKind::Int => "int".into(),
            LeafKind::Long => "long".into(),
            LeafKind::Float => "float".into(),
            LeafKind::Double => "double".into(),
            LeafKind::String => "string".into(),
            LeafKind::Bytes => "bytes".into(),
            LeafKind::Fixed(n) => format!("fixed({n})"),
            LeafKind::Enum(n) => format!("enum index < {n}"),
        }
    }
}

/// An owned leaf value, for rows kept in memory.
#[derive(Debug, Clone, PartialEq)]
pub enum OwnedDatum {
    Null,
    Boolean(bool),
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    Str(String),
    Bytes(Vec<u8>),
    Enum(u32),
}

impl OwnedDatum {
    pub fn as_datum(&self) -> Datum<'_> {
        match self {
            OwnedDatum::Null => Datum::Null,
            OwnedDatum::Boolean(b) => Datum::Boolean(*b),
            OwnedDatum::Int(v) => Datum::Int(*v),
            OwnedDatum::Long(v) => Datum::Long(*v),
            OwnedDatum::Float(v) => Datum::Float(*v),
            OwnedDatum::Double(v) => Datum::Double(*v),
            OwnedDatum::Str(s) => Datum::Str(s),
            OwnedDatum::Bytes(b) => Datum::Bytes(b),
            OwnedDatum::Enum(i) => Datum::Enum(*i),
        }
    }
}

/// A leaf of the plan: its path in the value and what it accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    pub path: String,
    pub kind: LeafKind,
    /// The schema node of the leaf, for generators.
    pub node: NodeId,
    /// Union indices for null and for the value, when the leaf is nullable.
    pub nullable: Option<(u8, u8)>,
}

#[derive(Debug, Clone)]
enum Op {
    /// Bytes `consts[start..end]`.
    Const(usize, usize),
    Leaf(usize),
}

/// Why a plan cannot be built, or a message cannot be written with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PlanError {
    pub path: String,
    pub message: String,
}

/// A flattened encoder for one shape of a schema.
#[derive(Debug, Clone)]
pub struct EncodePlan {
    ops: Vec<Op>,
    consts: Vec<u8>,
    leaves: Vec<Leaf>,
}

impl EncodePlan {
    /// Compiles a plan for `node`. `choose` picks the branch of each union
    /// that is not a nullable leaf, given the union's path and its branch
    /// keys; `None` makes compiling fail.
    pub fn compile(
        schema: &AvroSchema,
        node: NodeId,
        choose: &mut dyn FnMut(&FieldPath, &[&str]) -> Option<usize>,
    ) -> Result<EncodePlan, PlanError> {
        let mut plan = EncodePlan {
            ops: Vec::new(),
            consts: Vec::new(),
            leaves: Vec::new(),
        };
        let mut path = FieldPath::root();
        plan.flatten(schema, node, &mut path, choose, &mut Vec::new())?;
        Ok(plan)
    }

    /// A plan for the root record with every union resolved to the branch
    /// whose short or full name is `branch` (the usual event-union shape).
    pub fn for_branch(schema: &AvroSchema, branch: &str) -> Result<EncodePlan, PlanError> {
        EncodePlan::compile(schema, schema.root(), &mut |_, keys| {
            keys.iter()
                .position(|k| *k == branch || k.rsplit('.').next() == Some(branch))
        })
    }

    pub fn leaves(&self) -> &[Leaf] {
        &self.leaves
    }

    fn push_leaf(&mut self, leaf: Leaf) {
        self.leaves.push(leaf);
        self.ops.push(Op::Leaf(self.leaves.len() - 1));
    }

    fn push_const(&mut self, bytes: &[u8]) {
        let start = self.consts.len();
        self.consts.extend_from_slice(bytes);
        match self.ops.last_mut() {
            Some(Op::Const(_, end)) if *end == start => *end = self.consts.len(),
            _ => self.ops.push(Op::Const(start, self.consts.len())),
        }
    }

    fn flatten(
        &mut self,
        schema: &AvroSchema,
        id: NodeId,
        path: &mut FieldPath,
        choose: &mut dyn FnMut(&FieldPath, &[&str]) -> Option<usize>,
        stack: &mut Vec<NodeId>,
    ) -> Result<(), PlanError> {
        let error = |path: &FieldPath, message: String| PlanError {
            path: path.to_string(),
            message,
        };
        if let Some(kind) = leaf_kind(schema, id) {
            self.push_leaf(Leaf {
                path: path.to_string(),
                kind,
                node: id,
                nullable: None,
            });
            return Ok(());
        }
        match schema.node(id) {
            Node::Record(record) => {
                if stack.contains(&id) {
                    return Err(error(
                        path,
                        format!("recursive record {} has no fixed shape", record.name),
                    ));
                }
                stack.push(id);
                for field in &record.fields {
                    path.push(Segment::Field(field.name.clone()));
                    self.flatten(schema, field.node, path, choose, stack)?;
                    path.pop();
                }
                stack.pop();
                Ok(())
            }
            Node::Array(_) | Node::Map(_) => Err(error(
                path,
                format!("{} has no fixed shape; use the value encoder", schema.describe(id)),
            )),
            Node::Union(union) => {
                let keys: Vec<&str> = union.keys.iter().map(|k| k.full.as_str()).collect();
                if let (2, Some(null)) = (keys.len(), union.null_branch()) {
                    let other = 1 - null;
                    if let Some(kind) = leaf_kind(schema, union.branches[other]) {
                        self.push_leaf(Leaf {
                            path: path.to_string(),
                            kind,
                            node: union.branches[other],
                            nullable: Some((null.sat_u8(), other.sat_u8())),
                        });
                        return Ok(());
                    }
                }
                let Some(i) = choose(path, &keys).filter(|i| *i < keys.len()) else {
                    return Err(error(path, format!("no branch chosen for {}", schema.describe(id))));
                };
                let mut index = Vec::with_capacity(1);
                write_long(&mut index, i.sat_i64());
                self.push_const(&index);
                path.push(Segment::Branch(union.keys[i].short.clone()));
                self.flatten(schema, union.branches[i], path, choose, stack)?;
                path.pop();
                Ok(())
            }
            // Every other node is a leaf, handled above.
            _ => Ok(()),
        }
    }

    /// Appends one message, given its leaf values in [`leaves`](Self::leaves)
    /// order. On failure `out` is left as it was.
    pub fn encode<'a>(&self, datums: impl IntoIterator<Item = Datum<'a>>, out: &mut Vec<u8>) -> Result<(), PlanError> {
        let start = out.len();
        let mut datums = datums.into_iter();
        let result = self.write(&mut datums, out).and_then(|()| match datums.next() {
            None => Ok(()),
            Some(_) => Err(PlanError {
                path: "(root)".into(),
                message: format!("more values than the plan's {} leaves", self.leaves.len()),
            }),
        });
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn write<'a>(&self, datums: &mut impl Iterator<Item = Datum<'a>>, out: &mut Vec<u8>) -> Result<(), PlanError> {
        for op in &self.ops {
            match op {
                Op::Const(start, end) => out.extend_from_slice(&self.consts[*start..*end]),
                Op::Leaf(i) => {
                    let leaf = &self.leaves[*i];
                    let Some(datum) = datums.next() else {
                        return Err(PlanError {
                            path: leaf.path.clone(),
                            message: format!("missing value: the plan has {} leaves", self.leaves.len()),
                        });
                    };
                    write_leaf(leaf, datum, out)?;
                }
            }
        }
        Ok(())
    }
}

fn leaf_kind(schema: &AvroSchema, id: NodeId) -> Option<LeafKind> {
    Some(match schema.node(id) {
        Node::Boolean => LeafKind::Boolean,
        Node::Int(_) => LeafKind::Int,
        Node::Long(_) => LeafKind::Long,
        Node::Float => LeafKind::Float,
        Node::Double => LeafKind::Double,
        Node::String(_) => LeafKind::String,
        Node::Bytes(_) => LeafKind::Bytes,
        Node::Fixed(f) => LeafKind::Fixed(f.size),
        Node::Enum(e) => LeafKind::Enum(e.symbols.len()),
        _ => return None,
    })
}

#[inline]
fn write_leaf(leaf: &Leaf, datum: Datum<'_>, out: &mut Vec<u8>) -> Result<(), PlanError> {
    if let Some((null, some)) = leaf.nullable {
        if datum == Datum::Null {
            out.push(null << 1);
            return Ok(());
        }
        out.push(some << 1);
    }
    match (&leaf.kind, datum) {
        (LeafKind::Boolean, Datum::Boolean(b)) => out.push(u8::from(b)),
        (LeafKind::Int, Datum::Int(v)) => write_long(out, i64::from(v)),
        (LeafKind::Long, Datum::Long(v)) => write_long(out, v),
        (LeafKind::Long, Datum::Int(v)) => write_long(out, i64::from(v)),
        (LeafKind::Float, Datum::Float(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (LeafKind::Double, Datum::Double(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (LeafKind::String | LeafKind::Bytes, Datum::Str(s)) => {
            write_long(out, s.len().sat_i64());
            out.extend_from_slice(s.as_bytes());
        }
        (LeafKind::Bytes, Datum::Bytes(b)) => {
            write_long(out, b.len().sat_i64());
            out.extend_from_slice(b);
        }
        (LeafKind::Fixed(size), Datum::Bytes(b)) if b.len() == *size => out.extend_from_slice(b),
        (LeafKind::Enum(n), Datum::Enum(i)) if (i.sat_usize()) < *n => write_long(out, i64::from(i)),
        (kind, datum) => {
            return Err(PlanError {
                path: leaf.path.clone(),
                message: format!("expected {}, found {} {datum:?}", kind.name(), datum.name()),
            });
        }
    }
    Ok(())
}
