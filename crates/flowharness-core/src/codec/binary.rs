//! Avro binary datums, schema-directed, to and from the Avro JSON form.
//!
//! The encoder writes straight from a borrowed JSON value into the output
//! buffer: no intermediate value tree is built, names were resolved when
//! the schema was parsed, and union branches are chosen by their key,
//! never by the value's shape. When it meets an invalid value it falls back
//! to [`avro_json::validate`] to report every violation with its path.

use crate::num::Cast as _;
use serde_json::{Map, Number, Value};

use std::borrow::Cow;

use super::avro_json::{self, bytes_of, decimal_fits, is_uuid};
use crate::schema::avro::{AvroSchema, Logical, Node, NodeId};
use crate::schema::path::{FieldPath, Segment, Violation};

/// Appends the binary encoding of `value` (Avro JSON form) to `out`.
/// On failure `out` is left as it was.
pub fn encode(schema: &AvroSchema, value: &Value, out: &mut Vec<u8>) -> Result<(), Vec<Violation>> {
    let start = out.len();
    if write(schema, schema.root(), value, out).is_ok() {
        return Ok(());
    }
    out.truncate(start);
    let violations = avro_json::validate(schema, value);
    if violations.is_empty() {
        // The fast path and the validator disagree: a bug, but never a panic.
        return Err(vec![Violation::new(&FieldPath::root(), "value could not be encoded")]);
    }
    Err(violations)
}

/// Whether `value` is valid, by the encoder's fast path (no paths built).
pub fn is_valid(schema: &AvroSchema, value: &Value) -> bool {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(512));
    }
    SCRATCH.with(|scratch| {
        let mut buf = scratch.borrow_mut();
        buf.clear();
        let ok = write(schema, schema.root(), value, &mut buf).is_ok();
        if buf.capacity() > 1 << 20 {
            *buf = Vec::with_capacity(512);
        }
        ok
    })
}

/// Encodes into a new buffer.
pub fn encode_to_vec(schema: &AvroSchema, value: &Value) -> Result<Vec<u8>, Vec<Violation>> {
    let mut out = Vec::with_capacity(128);
    encode(schema, value, &mut out)?;
    Ok(out)
}

#[inline]
pub fn write_long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)).cast_unsigned();
    while z >= 0x80 {
        out.push((z & 0x7f).sat_u8() | 0x80);
        z >>= 7;
    }
    out.push(z.sat_u8());
}

#[inline]
fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_long(out, b.len().sat_i64());
    out.extend_from_slice(b);
}

struct Invalid;

fn write(schema: &AvroSchema, id: NodeId, value: &Value, out: &mut Vec<u8>) -> Result<(), Invalid> {
    match (schema.node(id), value) {
        (Node::Null, Value::Null) => {}
        (Node::Boolean, Value::Bool(b)) => out.push(u8::from(*b)),
        (Node::Int(_), Value::Number(n)) => {
            let v = n.as_i64().filter(|v| i32::try_from(*v).is_ok()).ok_or(Invalid)?;
            write_long(out, v);
        }
        (Node::Long(_), Value::Number(n)) => write_long(out, n.as_i64().ok_or(Invalid)?),
        (Node::Float, Value::Number(n)) => out.extend_from_slice(&(n.as_f64().ok_or(Invalid)?.to_f32()).to_le_bytes()),
        (Node::Double, Value::Number(n)) => out.extend_from_slice(&n.as_f64().ok_or(Invalid)?.to_le_bytes()),
        (Node::String(logical), Value::String(s)) => {
            if *logical == Some(Logical::Uuid) && !is_uuid(s) {
                return Err(Invalid);
            }
            write_bytes(out, s.as_bytes());
        }
        (Node::Bytes(logical), Value::String(s)) => {
            let b = if s.is_ascii() {
                Cow::Borrowed(s.as_bytes())
            } else {
                Cow::Owned(bytes_of(s).ok_or(Invalid)?)
            };
            if let Some(Logical::Decimal { precision, .. }) = logical
                && !decimal_fits(&b, *precision)
            {
                return Err(Invalid);
            }
            write_bytes(out, &b);
        }
        (Node::Fixed(f), Value::String(s)) => {
            let b = bytes_of(s).ok_or(Invalid)?;
            let decimal_ok = match f.logical {
                Some(Logical::Decimal { precision, .. }) => decimal_fits(&b, precision),
                _ => true,
            };
            if b.len() != f.size || !decimal_ok {
                return Err(Invalid);
            }
            out.extend_from_slice(&b);
        }
        (Node::Enum(e), Value::String(s)) => {
            let index = e.symbols.iter().position(|x| x == s).ok_or(Invalid)?;
            write_long(out, index.sat_i64());
        }
        (Node::Array(items), Value::Array(list)) => {
            if !list.is_empty() {
                write_long(out, list.len().sat_i64());
                for item in list {
                    write(schema, *items, item, out)?;
                }
            }
            out.push(0);
        }
        (Node::Map(values), Value::Object(map)) => {
            if !map.is_empty() {
                write_long(out, map.len().sat_i64());
                for (key, item) in map {
                    write_bytes(out, key.as_bytes());
                    write(schema, *values, item, out)?;
                }
            }
            out.push(0);
        }
        (Node::Record(record), Value::Object(map)) => {
            // Values usually list their fields in schema order: compare keys
            // in step, and hash-look-up only when the order differs.
            let mut in_order = map.iter();
            let mut used = 0;
            for field in &record.fields {
                let found = match in_order.next() {
                    Some((k, v)) if *k == field.name => Some(v),
                    _ => map.get(&field.name),
                };
                match found {
                    Some(v) => {
                        used += 1;
                        write(schema, field.node, v, out)?;
                    }
                    None => write(schema, field.node, field.default_value.as_ref().ok_or(Invalid)?, out)?,
                }
            }
            if used != map.len() {
                return Err(Invalid);
            }
        }
        (Node::Union(union), Value::Null) => write_long(out, union.null_branch().ok_or(Invalid)?.sat_i64()),
        (Node::Union(union), Value::Object(map)) if map.len() == 1 => {
            let (key, inner) = map.iter().next().ok_or(Invalid)?;
            let index = union.find(key).ok_or(Invalid)?;
            if union.keys[index].full == "null" {
                return Err(Invalid);
            }
            write_long(out, index.sat_i64());
            write(schema, union.branches[index], inner, out)?;
        }
        _ => return Err(Invalid),
    }
    Ok(())
}

/// Why a datum could not be decoded: where in the value, at which byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message} (at byte {offset})")]
pub struct DecodeError {
    pub path: String,
    pub offset: usize,
    pub message: String,
}

/// Decodes a whole datum; bytes left over are an error.
pub fn decode(schema: &AvroSchema, bytes: &[u8]) -> Result<Value, DecodeError> {
    let mut reader = Reader {
        bytes,
        pos: 0,
        path: FieldPath::root(),
    };
    let value = reader.read(schema, schema.root())?;
    if reader.pos != bytes.len() {
        return Err(reader.error(format!("{} bytes left over after the datum", bytes.len() - reader.pos)));
    }
    Ok(value)
}

/// Items whose encoding may take no bytes at all (null, empty records)
/// cannot be bounded by the input length; this bounds them instead.
const MAX_ZERO_SIZE_ITEMS: u64 = 1 << 20;

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: FieldPath,
}

impl Reader<'_> {
    fn error(&self, message: impl Into<String>) -> DecodeError {
        DecodeError {
            path: self.path.to_string(),
            offset: self.pos,
            message: message.into(),
        }
    }

    fn long(&mut self) -> Result<i64, DecodeError> {
        let mut z: u64 = 0;
        let mut shift = 0;
        loop {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(self.error("truncated: the data ends inside a varint"));
            };
            if shift >= 64 || (shift == 63 && b > 1) {
                return Err(self.error("varint longer than 64 bits"));
            }
            self.pos += 1;
            z |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        Ok((z >> 1).cast_signed() ^ -((z & 1).cast_signed()))
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|end| *end <= self.bytes.len());
        let Some(end) = end else {
            return Err(self.error(format!(
                "truncated: {what} needs {n} bytes, {} left",
                self.bytes.len() - self.pos
            )));
        };
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn length(&mut self, what: &str) -> Result<usize, DecodeError> {
        let n = self.long()?;
        usize::try_from(n).map_err(|_| self.error(format!("negative {what} length {n}")))
    }

    fn latin1(b: &[u8]) -> String {
        b.iter().map(|c| char::from(*c)).collect()
    }

    /// Reads block counts of an array or map, calling `item` for each entry.
    fn blocks(
        &mut self,
        zero_size: bool,
        mut item: impl FnMut(&mut Self, usize) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        let mut index = 0usize;
        loop {
            let mut count = self.long()?;
            if count == 0 {
                return Ok(());
            }
            if count < 0 {
                count = count.checked_neg().ok_or_else(|| self.error("invalid block count"))?;
                self.length("block size")?;
            }
            let count = count.sat_u64();
            // Every item of a non-empty type takes at least one byte; the
            // others are bounded in total.
            let remaining = (self.bytes.len() - self.pos).sat_u64();
            let too_many = if zero_size {
                index.sat_u64() + count > MAX_ZERO_SIZE_ITEMS
            } else {
                count > remaining
            };
            if too_many {
                return Err(self.error(format!("block of {count} items cannot fit in the data")));
            }
            for _ in 0..count {
                item(self, index)?;
                index += 1;
            }
        }
    }

    fn read(&mut self, schema: &AvroSchema, id: NodeId) -> Result<Value, DecodeError> {
        Ok(match schema.node(id) {
            Node::Null => Value::Null,
            Node::Boolean => match self.take(1, "boolean")?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(self.error(format!("invalid boolean byte {b}"))),
            },
            Node::Int(_) => {
                let v = self.long()?;
                let v = i32::try_from(v).map_err(|_| self.error(format!("int out of range: {v}")))?;
                Value::from(v)
            }
            Node::Long(_) => Value::from(self.long()?),
            Node::Float => {
                let b = self.take(4, "float")?;
                let v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                Number::from_f64(f64::from(v))
                    .map(Value::Number)
                    .ok_or_else(|| self.error(format!("float {v} has no JSON form")))?
            }
            Node::Double => {
                let b = self.take(8, "double")?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                let v = f64::from_le_bytes(a);
                Number::from_f64(v)
                    .map(Value::Number)
                    .ok_or_else(|| self.error(format!("double {v} has no JSON form")))?
            }
            Node::String(_) => {
                let n = self.length("string")?;
                let start = self.pos;
                let b = self.take(n, "string")?;
                match std::str::from_utf8(b) {
                    Ok(s) => Value::String(s.to_string()),
                    Err(_) => {
                        self.pos = start;
                        return Err(self.error("string is not valid UTF-8"));
                    }
                }
            }
            node @ (Node::Bytes(_) | Node::Fixed(_)) => {
                let start = self.pos;
                let n = match node {
                    Node::Fixed(f) => f.size,
                    _ => self.length("bytes")?,
                };
                let b = self.take(n, node.type_name())?;
                let text = Self::latin1(b);
                if let Some(Logical::Decimal { precision, .. }) = node.logical()
                    && !decimal_fits(b, precision)
                {
                    self.pos = start;
                    return Err(self.error(format!("decimal has more than {precision} digits")));
                }
                Value::String(text)
            }
            Node::Enum(e) => {
                let i = self.long()?;
                let symbol = usize::try_from(i).ok().and_then(|i| e.symbols.get(i));
                match symbol {
                    Some(s) => Value::String(s.clone()),
                    None => {
                        return Err(self.error(format!(
                            "enum index {i} out of range for {} ({} symbols)",
                            e.name,
                            e.symbols.len()
                        )));
                    }
                }
            }
            Node::Array(items) => {
                let items = *items;
                let zero = can_be_empty(schema, items);
                let mut list = Vec::new();
                self.blocks(zero, |r, i| {
                    r.path.push(Segment::Index(i));
                    list.push(r.read(schema, items)?);
                    r.path.pop();
                    Ok(())
                })?;
                Value::Array(list)
            }
            Node::Map(values) => {
                let values = *values;
                let mut map = Map::new();
                self.blocks(false, |r, _| {
                    let n = r.length("map key")?;
                    let key = match std::str::from_utf8(r.take(n, "map key")?) {
                        Ok(k) => k.to_string(),
                        Err(_) => return Err(r.error("map key is not valid UTF-8")),
                    };
                    r.path.push(Segment::Key(key.clone()));
                    let v = r.read(schema, values)?;
                    r.path.pop();
                    map.insert(key, v);
                    Ok(())
                })?;
                Value::Object(map)
            }
            Node::Record(record) => {
                let mut map = Map::with_capacity(record.fields.len());
                for field in &record.fields {
                    self.path.push(Segment::Field(field.name.clone()));
                    let v = self.read(schema, field.node)?;
                    self.path.pop();
                    map.insert(field.name.clone(), v);
                }
                Value::Object(map)
            }
            Node::Union(union) => {
                let i = self.long()?;
                let Some(index) = usize::try_from(i).ok().filter(|i| *i < union.branches.len()) else {
                    return Err(self.error(format!(
                        "union index {i} out of range ({} branches)",
                        union.branches.len()
                    )));
                };
                let key = &union.keys[index];
                if key.full == "null" {
                    return Ok(Value::Null);
                }
                self.path.push(Segment::Branch(key.short.clone()));
                let inner = self.read(schema, union.branches[index])?;
                self.path.pop();
                let mut map = Map::with_capacity(1);
                map.insert(key.full.clone(), inner);
                Value::Object(map)
            }
        })
    }
}

/// Whether a value of this node may encode to zero bytes.
fn can_be_empty(schema: &AvroSchema, id: NodeId) -> bool {
    fn walk(schema: &AvroSchema, id: NodeId, seen: &mut Vec<NodeId>) -> bool {
        if seen.contains(&id) {
            return false;
        }
        seen.push(id);
        match schema.node(id) {
            Node::Null => true,
            Node::Fixed(f) => f.size == 0,
            Node::Record(r) => r.fields.iter().all(|f| walk(schema, f.node, seen)),
            _ => false,
        }
    }
    walk(schema, id, &mut Vec::new())
}
