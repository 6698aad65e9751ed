//! Row generators: the fast path. For an encode plan, one generator per
//! leaf fills a reusable row of leaf values, which the plan writes straight
//! into the output buffer. No value tree, and no allocation once the row's
//! strings have grown to size.

use crate::num::Cast as _;
use rand::RngExt;

use super::fakes::{Fake, Rng, Yields};
use super::hints::{Hint, Hints};
use crate::codec::plan::{EncodePlan, LeafKind, OwnedDatum, PlanError};
use crate::schema::avro::{AvroSchema, Logical};

/// How one leaf is filled.
#[derive(Debug, Clone)]
enum LeafGen {
    Fake(Fake),
    Constant(OwnedDatum),
    Int(i64, i64),
    Float(f64, f64),
    Boolean,
    Bytes(usize),
    /// A small decimal (0 to 99 unscaled), in bytes of this size (None: minimal).
    Decimal(Option<usize>),
    Enum(u32),
}

/// Fills rows for one encode plan.
#[derive(Debug, Clone)]
pub struct RowGenerator {
    kinds: Vec<LeafKind>,
    gens: Vec<LeafGen>,
    now_ms: i64,
}

impl RowGenerator {
    /// One generator per leaf of `plan`, chosen by `hints` as the value
    /// strategies choose them. Leaves hints cannot fill get type defaults.
    pub fn new(schema: &AvroSchema, plan: &EncodePlan, hints: &Hints) -> Result<RowGenerator, PlanError> {
        let mut gens = Vec::with_capacity(plan.leaves().len());
        for leaf in plan.leaves() {
            let node = schema.node(leaf.node);
            let mut chosen = None;
            for m in hints.lookup(&leaf.path) {
                chosen = match (m.hint, &leaf.kind) {
                    (Hint::Fake(f), LeafKind::String) if f.yields() == Yields::String => Some(LeafGen::Fake(f.clone())),
                    (Hint::Fake(f @ Fake::Date(_)), LeafKind::Int) => Some(LeafGen::Fake(f.clone())),
                    (Hint::Fake(f), LeafKind::Long) if f.yields() == Yields::Integer => Some(LeafGen::Fake(f.clone())),
                    (Hint::Constant(v), LeafKind::String) => {
                        v.as_str().map(|s| LeafGen::Constant(OwnedDatum::Str(s.into())))
                    }
                    (Hint::Constant(v), LeafKind::Long) => v.as_i64().map(|n| LeafGen::Constant(OwnedDatum::Long(n))),
                    (Hint::Range(lo, hi), LeafKind::Int | LeafKind::Long) => {
                        Some(LeafGen::Int((*lo).sat_i64(), (*hi).sat_i64()))
                    }
                    (Hint::Range(lo, hi), LeafKind::Float | LeafKind::Double) => Some(LeafGen::Float(*lo, *hi)),
                    _ => None,
                };
                if chosen.is_some() {
                    break;
                }
                if m.user {
                    return Err(PlanError {
                        path: leaf.path.clone(),
                        message: format!(
                            "hint {:?} cannot fill a {} leaf on the fast path",
                            m.key,
                            leaf.kind.name()
                        ),
                    });
                }
            }
            let leaf_gen = chosen.unwrap_or_else(|| match (&leaf.kind, node.logical()) {
                (LeafKind::Long, Some(Logical::TimestampMillis | Logical::LocalTimestampMillis)) => {
                    LeafGen::Fake(Fake::TimestampMillis(30))
                }
                (LeafKind::Long, Some(Logical::TimestampMicros | Logical::LocalTimestampMicros)) => {
                    LeafGen::Fake(Fake::TimestampMicros(30))
                }
                (LeafKind::Int, Some(Logical::Date)) => LeafGen::Fake(Fake::Date(365)),
                (LeafKind::String, Some(Logical::Uuid)) => LeafGen::Fake(Fake::Uuid),
                (LeafKind::String, _) => LeafGen::Fake(Fake::UpperSnake(1, 2)),
                (LeafKind::Int, _) => LeafGen::Int(0, 10_000),
                (LeafKind::Long, _) => LeafGen::Int(0, 1_000_000),
                (LeafKind::Float | LeafKind::Double, _) => LeafGen::Float(0.0, 1000.0),
                (LeafKind::Boolean, _) => LeafGen::Boolean,
                (LeafKind::Bytes, Some(Logical::Decimal { .. })) => LeafGen::Decimal(None),
                (LeafKind::Fixed(n), Some(Logical::Decimal { .. })) => LeafGen::Decimal(Some(*n)),
                (LeafKind::Bytes, _) => LeafGen::Bytes(8),
                (LeafKind::Fixed(n), _) => LeafGen::Bytes(*n),
                (LeafKind::Enum(n), _) => LeafGen::Enum((*n).sat_u32()),
            });
            gens.push(leaf_gen);
        }
        Ok(RowGenerator {
            kinds: plan.leaves().iter().map(|l| l.kind.clone()).collect(),
            gens,
            now_ms: hints.now_ms,
        })
    }

    /// A row of the right length, to be filled again and again.
    pub fn empty_row(&self) -> Vec<OwnedDatum> {
        self.kinds
            .iter()
            .map(|k| match k {
                LeafKind::String => OwnedDatum::Str(String::with_capacity(40)),
                LeafKind::Bytes | LeafKind::Fixed(_) => OwnedDatum::Bytes(Vec::new()),
                _ => OwnedDatum::Null,
            })
            .collect()
    }

    /// Fills every leaf of `row`, except those whose index `keep` says to
    /// keep (values a flow sets itself).
    pub fn fill(&self, rng: &mut Rng, row: &mut [OwnedDatum], keep: &dyn Fn(usize) -> bool) {
        for (i, (leaf_gen, slot)) in self.gens.iter().zip(row.iter_mut()).enumerate() {
            if keep(i) {
                continue;
            }
            let kind = &self.kinds[i];
            match leaf_gen {
                LeafGen::Fake(f) if f.yields() == Yields::Integer => {
                    let n = f.integer(rng, self.now_ms);
                    *slot = if *kind == LeafKind::Int {
                        OwnedDatum::Int(n.sat_i32())
                    } else {
                        OwnedDatum::Long(n)
                    };
                }
                LeafGen::Fake(f) => {
                    if !matches!(slot, OwnedDatum::Str(_)) {
                        *slot = OwnedDatum::Str(String::new());
                    }
                    if let OwnedDatum::Str(s) = slot {
                        f.write_str(rng, s);
                    }
                }
                LeafGen::Constant(d) => slot.clone_from(d),
                LeafGen::Int(lo, hi) => {
                    let n = rng.random_range(*lo..=*hi);
                    *slot = if *kind == LeafKind::Int {
                        OwnedDatum::Int(n.sat_i32())
                    } else {
                        OwnedDatum::Long(n)
                    };
                }
                LeafGen::Float(lo, hi) => {
                    let f = rng.random_range(*lo..=*hi);
                    *slot = if *kind == LeafKind::Float {
                        OwnedDatum::Float(f.to_f32())
                    } else {
                        OwnedDatum::Double(f)
                    };
                }
                LeafGen::Boolean => *slot = OwnedDatum::Boolean(rng.random()),
                LeafGen::Bytes(n) => {
                    let mut b = vec![0u8; *n];
                    rng.fill(&mut b[..]);
                    *slot = OwnedDatum::Bytes(b);
                }
                LeafGen::Decimal(size) => {
                    // Within any precision of at least 2 digits.
                    let mut b = vec![0u8; size.unwrap_or(1).max(1)];
                    if let Some(last) = b.last_mut() {
                        *last = rng.random_range(0..100u8);
                    }
                    *slot = OwnedDatum::Bytes(b);
                }
                LeafGen::Enum(n) => *slot = OwnedDatum::Enum(rng.random_range(0..*n)),
            }
        }
    }
}
