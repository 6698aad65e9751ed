//! Stamps: how `load` draws a fresh key, flow id or event id per flow
//! that the field's own schema accepts. A stamp is learned from the values
//! the field's generator drew (respecting hints): per character position,
//! the characters seen there, or a UUID. It keeps the value's length, so
//! stamping rewrites bytes in place and the encoded event stays valid.

use crate::num::Cast as _;
use rand::Rng as _;

use crate::generate::fakes::Rng;

/// How to draw a fresh value like the ones the field's own generator
/// gives, at the same length, so the encoded bytes stay valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stamp {
    Uuid {
        upper: bool,
    },
    /// Per character: `None` where every sample agreed (a prefix such as
    /// `C` in `C123456`), else the characters the samples had there.
    Mask(Vec<Option<Vec<u8>>>),
}

const DIGITS: &[u8] = b"0123456789";
const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";

impl Stamp {
    /// Learns the stamp from values the field's generator drew: each
    /// position keeps exactly the characters seen there. With fewer than
    /// two samples, each character keeps its class (digit, letter of its
    /// case), which [`Pool::check_stamps`] then proves or refuses.
    pub fn learn(template: &[u8], samples: &[&[u8]]) -> Stamp {
        let same: Vec<&[u8]> = samples.iter().copied().filter(|s| s.len() == template.len()).collect();
        if is_uuid(template) && same.iter().all(|s| is_uuid(s)) {
            return Stamp::Uuid {
                upper: template.iter().any(u8::is_ascii_uppercase),
            };
        }
        if same.len() < 2 {
            // Nothing to learn from: every character keeps its class.
            return Stamp::Mask(template.iter().map(|c| class_of(*c).map(<[u8]>::to_vec)).collect());
        }
        // Only characters seen are used: widening `[A-F]` to all capitals
        // because few samples were drawn would break the pattern.
        let positions = (0..template.len())
            .map(|i| {
                let mut seen: Vec<u8> = same.iter().map(|s| s[i]).collect();
                seen.sort_unstable();
                seen.dedup();
                (seen.len() > 1).then_some(seen)
            })
            .collect();
        Stamp::Mask(positions)
    }

    /// How many distinct values the stamp can give.
    pub fn capacity(&self) -> u64 {
        match self {
            Stamp::Uuid { .. } => u64::MAX,
            Stamp::Mask(m) => m
                .iter()
                .flatten()
                .fold(1u64, |n, a| n.saturating_mul(a.len().sat_u64())),
        }
    }

    /// Writes a fresh value over `target` (as long as the template): no
    /// allocation, for the stamping loop.
    pub(super) fn fresh(&self, rng: &mut Rng, target: &mut [u8]) {
        let mask = match self {
            Stamp::Uuid { upper } => return fresh_uuid(*upper, rng, target),
            Stamp::Mask(m) => m,
        };
        // One 64-bit draw gives many characters: take them off it until
        // it runs low, then draw again.
        let (mut bits, mut left) = (0u64, 0u64);
        for (t, alphabet) in target.iter_mut().zip(mask) {
            let Some(alphabet) = alphabet else { continue };
            let n = alphabet.len().sat_u64();
            if left < n {
                (bits, left) = (rng.next_u64(), u64::MAX);
            }
            *t = alphabet[(bits % n).sat_usize()];
            bits /= n;
            left /= n;
        }
    }

    /// The `index`-th value, written over `out` (a copy of the template):
    /// a bijection, so distinct accounts get distinct keys.
    pub(super) fn nth(&self, index: u64, out: &mut [u8]) {
        let Stamp::Mask(mask) = self else {
            // A UUID key: the index in its last hex digits.
            let mut n = index;
            for c in out.iter_mut().rev().filter(|c| **c != b'-').take(12) {
                let d = (n % 16).sat_u8();
                *c = if d < 10 { b'0' + d } else { b'a' + d - 10 };
                n /= 16;
            }
            return;
        };
        let mut n = index;
        for (c, alphabet) in out.iter_mut().zip(mask).rev() {
            let Some(alphabet) = alphabet else { continue };
            let k = alphabet.len().sat_u64();
            *c = alphabet[(n % k).sat_usize()];
            n /= k;
        }
    }
}

fn class_of(c: u8) -> Option<&'static [u8]> {
    match c {
        b'0'..=b'9' => Some(DIGITS),
        b'a'..=b'z' => Some(LOWER),
        b'A'..=b'Z' => Some(UPPER),
        _ => None,
    }
}

fn fresh_uuid(upper: bool, rng: &mut Rng, target: &mut [u8]) {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let letters = if upper { b'A' } else { b'a' };
    let mut at = 0;
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            target[at] = b'-';
            at += 1;
        }
        for nibble in [b >> 4, b & 0x0f] {
            target[at] = if nibble < 10 {
                b'0' + nibble
            } else {
                letters + nibble - 10
            };
            at += 1;
        }
    }
}

/// A value shaped like `template`: a fresh UUID for a UUID, otherwise each
/// digit a random digit and each letter a random letter of its case.
pub fn fresh_like(template: &[u8], rng: &mut Rng, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(template);
    Stamp::learn(template, &[]).fresh(rng, out);
}

pub(super) fn is_uuid(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};

    use super::*;

    #[test]
    fn learned_keys_are_distinct_and_keep_fixed_characters() {
        let mut rng = Rng::seed_from_u64(3);
        let samples: Vec<Vec<u8>> = (0..200)
            .map(|_| format!("C{:06}", rng.random_range(0..1_000_000)).into_bytes())
            .collect();
        let refs: Vec<&[u8]> = samples.iter().map(Vec::as_slice).collect();
        let stamp = Stamp::learn(&samples[0], &refs);
        let mut seen = std::collections::HashSet::new();
        for i in 0..2000 {
            let mut out = samples[0].clone();
            stamp.nth(i, &mut out);
            assert_eq!(out[0], b'C', "the fixed prefix stays");
            assert!(out[1..].iter().all(u8::is_ascii_digit));
            assert!(seen.insert(out));
        }
        assert_eq!(stamp.capacity(), 1_000_000);
    }

    #[test]
    fn positions_keep_the_characters_seen_and_fresh_values_keep_the_shape() {
        let mut rng = Rng::seed_from_u64(1);
        let mut out = Vec::new();
        fresh_like(b"0b0c5f0e-7f5e-4c43-9b8e-2f7b4c1d9a10", &mut rng, &mut out);
        assert!(is_uuid(&out) && out[14] == b'4');
        fresh_like(b"AB12-x", &mut rng, &mut out);
        assert!(
            out[0].is_ascii_uppercase() && out[2].is_ascii_digit() && out[4] == b'-' && out[5].is_ascii_lowercase()
        );
        let stamp = Stamp::learn(b"10A0", &[b"10A0", b"23A5", b"10B0"]);
        assert_eq!(
            stamp.capacity(),
            2 * 2 * 2 * 2,
            "each position keeps what was seen there"
        );
        let mut out = b"10A0".to_vec();
        stamp.nth(15, &mut out);
        assert_eq!(out, b"23B5");
    }
}
