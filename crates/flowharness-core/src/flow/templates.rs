//! Values drawn once per state, for generators that must be fast (a fake
//! answering thousands of requests a second): an event is a copy of a
//! template with its key, flow id and unique fields stamped new. A stamp keeps what every
//! template of the state agrees on (`acc-` in `acc-123456`), draws each
//! other digit as a digit and letter as a letter, and gives a UUID a new
//! UUID, so stamped ids keep the shape the schema's patterns ask for.

use rand::RngExt;
use serde_json::Value;

use super::spec::{FieldRef, FlowSpec};
use crate::generate::fakes::Rng;

/// Per state: the drawn values, and per id field (the key, then each flow
/// id field) the positions fixed across them, per text length.
/// Per text length, which of its positions every template agrees on.
type Fixed = Vec<(usize, Vec<bool>)>;

#[derive(Debug, Clone)]
pub(super) struct Templates {
    pools: Vec<Vec<Value>>,
    /// Per state, per id field.
    fixed: Vec<Vec<Fixed>>,
}

/// What must differ between copies of a template: the key, the flow id
/// fields and the fields the spec says are unique (event ids).
fn id_fields(spec: &FlowSpec) -> impl Iterator<Item = &FieldRef> {
    std::iter::once(&spec.key)
        .chain(spec.flow_id.iter())
        .chain(spec.unique.iter())
}

impl Templates {
    pub(super) fn new(spec: &FlowSpec, pools: Vec<Vec<Value>>) -> Templates {
        let fixed = pools
            .iter()
            .enumerate()
            .map(|(state, pool)| {
                id_fields(spec)
                    .map(|field| {
                        let texts: Vec<&str> = pool
                            .iter()
                            .filter_map(|v| field.get(v, state).and_then(Value::as_str))
                            .collect();
                        let mut by_len: Vec<(usize, Vec<bool>)> = Vec::new();
                        for t in &texts {
                            let n = t.chars().count();
                            if by_len.iter().any(|(l, _)| *l == n) {
                                continue;
                            }
                            let same: Vec<Vec<char>> = texts
                                .iter()
                                .filter(|o| o.chars().count() == n)
                                .map(|o| o.chars().collect())
                                .collect();
                            // One sample says nothing about what is fixed.
                            let mask = (0..n)
                                .map(|i| same.len() > 1 && same.iter().all(|c| c[i] == same[0][i]))
                                .collect();
                            by_len.push((n, mask));
                        }
                        by_len
                    })
                    .collect()
            })
            .collect();
        Templates { pools, fixed }
    }

    /// A copy of one of `state`'s templates, its ids stamped new.
    pub(super) fn draw(&self, spec: &FlowSpec, state: usize, rng: &mut Rng) -> Option<Value> {
        let pool = self.pools.get(state).filter(|p| !p.is_empty())?;
        let mut value = pool[rng.random_range(0..pool.len())].clone();
        for (f, field) in id_fields(spec).enumerate() {
            if let Some(Value::String(old)) = field.get(&value, state) {
                let n = old.chars().count();
                let mask = self.fixed[state][f]
                    .iter()
                    .find(|(l, _)| *l == n)
                    .map(|(_, m)| m.as_slice());
                let new = stamped(old, mask.unwrap_or(&[]), rng);
                field.set(&mut value, state, Value::String(new));
            }
        }
        Some(value)
    }
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `old` stamped: a new UUID for a UUID; otherwise the fixed positions
/// kept and each other digit or ASCII letter drawn anew in its class.
pub(super) fn stamped(old: &str, fixed: &[bool], rng: &mut Rng) -> String {
    if is_uuid(old) {
        let mut out = String::with_capacity(36);
        crate::generate::fakes::uuid(rng, &mut out);
        if old.bytes().any(|b| b.is_ascii_uppercase()) {
            out.make_ascii_uppercase();
        }
        return out;
    }
    old.chars()
        .enumerate()
        .map(|(i, c)| match c {
            _ if fixed.get(i).copied().unwrap_or(false) => c,
            '0'..='9' => char::from(b'0' + rng.random_range(0..10u8)),
            'a'..='z' => char::from(b'a' + rng.random_range(0..26u8)),
            'A'..='Z' => char::from(b'A' + rng.random_range(0..26u8)),
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn stamps_keep_fixed_positions_and_classes() {
        let mut rng = Rng::seed_from_u64(1);
        let fixed = [true, true, true, true, false, false, false];
        for _ in 0..100 {
            let s = stamped("acc-123", &fixed, &mut rng);
            assert!(s.starts_with("acc-"), "{s}");
            assert!(s[4..].chars().all(|c| c.is_ascii_digit()), "{s}");
        }
        let u = stamped("3f2b8c1e-0d4a-4c6b-9e7f-112233445566", &[], &mut rng);
        assert!(is_uuid(&u) && u != "3f2b8c1e-0d4a-4c6b-9e7f-112233445566", "{u}");
        let distinct: std::collections::HashSet<String> =
            (0..1000).map(|_| stamped("AB-9999-zz", &[], &mut rng)).collect();
        assert!(distinct.len() > 990, "{}", distinct.len());
        assert!(
            distinct
                .iter()
                .all(|s| s.len() == 10 && &s[2..3] == "-" && &s[7..8] == "-")
        );
    }
}
