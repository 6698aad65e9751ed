//! Seeded sampling: the same seed (and the same "now") gives the same
//! values on every run and every machine with the same version.

use crate::num::Cast as _;
use std::sync::Arc;

use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;

use super::hints::Hints;
use super::{avro, json_schema};
use crate::error::{Error, Result};
use crate::schema::Schema;

/// A test runner whose randomness comes only from `seed`.
pub fn seeded_runner(seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    let mut state = seed;
    for chunk in bytes.chunks_mut(8) {
        // splitmix64, to spread one u64 over the 32-byte ChaCha seed.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// A seed for runs that were not given one; printed so they can be replayed.
pub fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    (nanos.sat_u64()) ^ u64::from(std::process::id()).rotate_left(32)
}

/// The realistic strategy for any schema: Avro (optionally one union
/// branch) or JSON Schema.
pub fn strategy(schema: &Schema, hints: &Arc<Hints>, branch: Option<&str>) -> Result<BoxedStrategy<Value>> {
    match schema {
        Schema::Avro(s) => avro::realistic_strategy(&Arc::new(s.clone()), hints, branch),
        Schema::Json(s) => {
            if let Some(b) = branch {
                return Err(Error::Usage(format!(
                    "--branch {b:?} applies to Avro unions; this is a JSON Schema"
                )));
            }
            json_schema::strategy(&Arc::new(s.clone()), hints)
        }
        Schema::Protobuf(p) => match branch {
            None => json_schema::strategy(&Arc::new(p.json_schema().clone()), hints),
            Some(b) => {
                // A oneof member by field name or by its message type's
                // short or full name, in the first oneof that has it.
                let hit = p.oneofs().iter().find_map(|(at, _, members)| {
                    members
                        .iter()
                        .find(|m| {
                            m.as_str() == b
                                || p.member_type(at, m)
                                    .is_some_and(|t| t == b || t.rsplit('.').next() == Some(b))
                        })
                        .map(|m| (at.clone(), m.clone()))
                });
                let Some((at, member)) = hit else {
                    let all: Vec<String> = p.oneofs().iter().flat_map(|(_, _, m)| m.clone()).collect();
                    return Err(Error::Usage(format!(
                        "--branch {b:?}: no oneof member of {} is named so or has that message type (members: {})",
                        p.name(),
                        if all.is_empty() {
                            "none".to_string()
                        } else {
                            all.join(", ")
                        }
                    )));
                };
                json_schema::strategy(&Arc::new(p.pinned(&at, &member)?), hints)
            }
        },
    }
}

/// `count` values drawn with `seed`.
pub fn values(strategy: &BoxedStrategy<Value>, count: usize, seed: u64) -> Result<Vec<Value>> {
    let mut runner = seeded_runner(seed);
    (0..count)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .map(|t| t.current())
                .map_err(|e| Error::Usage(format!("generating a value failed: {e}")))
        })
        .collect()
}
