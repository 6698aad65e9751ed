//! Confluent wire framing: magic byte 0, a 4-byte big-endian schema id, then
//! the payload.

pub const MAGIC: u8 = 0;
pub const HEADER_LEN: usize = 5;

/// Why bytes are not a Confluent-framed message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("no Confluent framing: message is {0} bytes, shorter than the 5-byte header")]
    TooShort(usize),
    #[error("no Confluent framing: magic byte is {0}, expected 0")]
    BadMagic(u8),
}

/// Writes the 5-byte header for `schema_id` into `out`.
pub fn write_header(out: &mut Vec<u8>, schema_id: u32) {
    out.push(MAGIC);
    out.extend_from_slice(&schema_id.to_be_bytes());
}

/// Frames a payload.
pub fn frame(schema_id: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    write_header(&mut out, schema_id);
    out.extend_from_slice(payload);
    out
}

/// Splits a framed message into its schema id and payload.
pub fn unframe(bytes: &[u8]) -> Result<(u32, &[u8]), FramingError> {
    if bytes.len() < HEADER_LEN {
        return Err(FramingError::TooShort(bytes.len()));
    }
    if bytes[0] != MAGIC {
        return Err(FramingError::BadMagic(bytes[0]));
    }
    let id = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
    Ok((id, &bytes[HEADER_LEN..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_unframes() {
        let framed = frame(0x0102_0304, b"abc");
        assert_eq!(framed, [0, 1, 2, 3, 4, b'a', b'b', b'c']);
        assert_eq!(unframe(&framed), Ok((0x0102_0304, &b"abc"[..])));
    }

    #[test]
    fn rejects_short_and_bad_magic() {
        assert_eq!(unframe(&[0, 1]), Err(FramingError::TooShort(2)));
        assert_eq!(unframe(&[7, 0, 0, 0, 1]), Err(FramingError::BadMagic(7)));
        assert_eq!(
            unframe(b"{\"a\"").map_err(|e| e.to_string()),
            Err("no Confluent framing: message is 4 bytes, shorter than the 5-byte header".to_string())
        );
    }
}
