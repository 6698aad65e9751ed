//! Confluent's Protobuf wire format after the 5-byte header: the message
//! indexes (a zigzag varint count, then zigzag varints; `[0]`, the file's
//! first message, is the single byte 0), then the message. Values go in and
//! out as proto3 JSON with proto field names and 64-bit integers as numbers.

use prost::Message as _;
use prost_reflect::{DeserializeOptions, DynamicMessage, SerializeOptions};
use serde_json::Value;

use crate::schema::protobuf::ProtoSchema;

/// Why bytes or a value are not a message of the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    #[error("message indexes: {0}")]
    Indexes(String),
    #[error("message indexes {found:?} name another message than the contract's {name} {expected:?}")]
    OtherMessage {
        found: Vec<i32>,
        expected: Vec<i32>,
        name: String,
    },
    #[error("not a {name} message: {reason}")]
    Decode { name: String, reason: String },
    #[error("{0}")]
    Json(String),
}

fn zigzag(n: i32) -> u64 {
    u64::from(((n << 1) ^ (n >> 31)).cast_unsigned())
}

fn unzigzag(n: u64) -> i64 {
    i64::try_from(n >> 1).unwrap_or(i64::MAX) ^ -i64::try_from(n & 1).unwrap_or(0)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = u8::try_from(v & 0x7f).unwrap_or(0);
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A varint from the front of `bytes`, and how many bytes it took.
fn get_varint(bytes: &[u8]) -> Result<(u64, usize), ProtoError> {
    let mut v = 0u64;
    for (i, b) in bytes.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    Err(ProtoError::Indexes(if bytes.len() < 10 {
        "truncated varint".into()
    } else {
        "varint longer than 10 bytes".into()
    }))
}

/// Writes the message indexes.
pub fn write_indexes(out: &mut Vec<u8>, indexes: &[i32]) {
    if indexes == [0] {
        out.push(0);
        return;
    }
    put_varint(out, zigzag(i32::try_from(indexes.len()).unwrap_or(i32::MAX)));
    for i in indexes {
        put_varint(out, zigzag(*i));
    }
}

/// Reads the message indexes from the front of a payload (after the
/// 5-byte header): the indexes and the rest.
pub fn read_indexes(bytes: &[u8]) -> Result<(Vec<i32>, &[u8]), ProtoError> {
    let (count, mut at) = get_varint(bytes)?;
    let count = unzigzag(count);
    if count == 0 {
        return Ok((vec![0], &bytes[at..]));
    }
    if !(1..=64).contains(&count) {
        return Err(ProtoError::Indexes(format!("{count} indexes: expected 1 to 64")));
    }
    let mut out = Vec::new();
    for _ in 0..count {
        let (v, n) = get_varint(&bytes[at..])?;
        at += n;
        let i = i32::try_from(unzigzag(v)).map_err(|_| ProtoError::Indexes("index out of range".into()))?;
        if i < 0 {
            return Err(ProtoError::Indexes(format!("negative index {i}")));
        }
        out.push(i);
    }
    Ok((out, &bytes[at..]))
}

fn json_options() -> SerializeOptions {
    SerializeOptions::new()
        .use_proto_field_name(true)
        .stringify_64_bit_integers(false)
        .skip_default_fields(false)
}

/// The message a proto3 JSON value is; fails on fields the message does not have.
pub fn message_of(schema: &ProtoSchema, value: &Value) -> Result<DynamicMessage, ProtoError> {
    DynamicMessage::deserialize_with_options(
        schema.message().clone(),
        value,
        &DeserializeOptions::new().deny_unknown_fields(true),
    )
    .map_err(|e| ProtoError::Json(format!("not a {} in proto3 JSON: {e}", schema.name())))
}

/// The message's bytes (no header, no indexes).
pub fn encode_message(schema: &ProtoSchema, value: &Value) -> Result<Vec<u8>, ProtoError> {
    Ok(message_of(schema, value)?.encode_to_vec())
}

/// Indexes then message: what follows the 5-byte header.
pub fn encode_payload(schema: &ProtoSchema, value: &Value, out: &mut Vec<u8>) -> Result<(), ProtoError> {
    let message = message_of(schema, value)?;
    write_indexes(out, schema.indexes());
    message
        .encode(out)
        .map_err(|e| ProtoError::Json(format!("encoding {}: {e}", schema.name())))
}

/// A message's bytes (no header, no indexes) as proto3 JSON.
pub fn decode_message(schema: &ProtoSchema, bytes: &[u8]) -> Result<Value, ProtoError> {
    let message = DynamicMessage::decode(schema.message().clone(), bytes).map_err(|e| ProtoError::Decode {
        name: schema.name().to_string(),
        reason: e.to_string(),
    })?;
    message
        .serialize_with_options(serde_json::value::Serializer, &json_options())
        .map_err(|e| ProtoError::Json(e.to_string()))
}

/// What follows the 5-byte header, as proto3 JSON: the indexes must name
/// the contract's message.
pub fn decode_payload(schema: &ProtoSchema, bytes: &[u8]) -> Result<Value, ProtoError> {
    let (indexes, rest) = read_indexes(bytes)?;
    if indexes != schema.indexes() {
        return Err(ProtoError::OtherMessage {
            found: indexes,
            expected: schema.indexes().to_vec(),
            name: schema.name().to_string(),
        });
    }
    decode_message(schema, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_round_trip_in_confluents_encoding() {
        for indexes in [vec![0], vec![1], vec![0, 2], vec![3, 0, 1], vec![200]] {
            let mut out = Vec::new();
            write_indexes(&mut out, &indexes);
            let (back, rest) = read_indexes(&out).unwrap();
            assert_eq!(back, indexes);
            assert!(rest.is_empty());
        }
        // [0] is the single byte 0; [1] is count 1 then index 1, zigzagged.
        let mut out = Vec::new();
        write_indexes(&mut out, &[0]);
        assert_eq!(out, [0]);
        out.clear();
        write_indexes(&mut out, &[1]);
        assert_eq!(out, [2, 2]);
        out.clear();
        write_indexes(&mut out, &[0, 2]);
        assert_eq!(out, [4, 0, 4]);
    }

    #[test]
    fn truncated_and_absurd_indexes_are_errors_not_panics() {
        assert_eq!(read_indexes(&[]), Err(ProtoError::Indexes("truncated varint".into())));
        assert_eq!(
            read_indexes(&[0x80]),
            Err(ProtoError::Indexes("truncated varint".into()))
        );
        assert_eq!(
            read_indexes(&[2, 0xff]),
            Err(ProtoError::Indexes("truncated varint".into()))
        );
        assert!(matches!(read_indexes(&[1]), Err(ProtoError::Indexes(_))));
        assert!(matches!(read_indexes(&[0xff; 12]), Err(ProtoError::Indexes(_))));
        assert!(matches!(read_indexes(&[2, 1]), Err(ProtoError::Indexes(_))));
    }
}
