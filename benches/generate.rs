//! Generated-and-encoded `AccountMigrationEvent`s per second on one core,
//! against encoding alone, over the seven event types in turn:
//!
//! - encode only: rows generated beforehand, written by the encode plans;
//! - generate + encode: realistic rows (UUIDs, account ids, MPANs with
//!   check digits, timestamps near now) filled and written per event;
//! - proptest values: the shrinkable value strategies plus the value
//!   encoder, the path `sample` and property tests use (for reference).
//!
//! Target: generate + encode in the same order as encode only (ratio ≥ 0.1).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::as_conversions,
    reason = "a benchmark: a failed unwrap stops it with its message; casts turn counts into rates"
)]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;

use flowharness::codec::plan::{EncodePlan, OwnedDatum};
use flowharness::codec::{binary, confluent};
use flowharness::generate::fakes::Rng;
use flowharness::generate::hints::Hints;
use flowharness::generate::rows::RowGenerator;
use flowharness::generate::sample;
use flowharness::schema::Schema;
use rand::SeedableRng;

use common::MIGRATION_BRANCHES as BRANCHES;

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/account-migration-event.avsc");
    let schema = Schema::load(std::path::Path::new(path)).unwrap();
    let Schema::Avro(avro) = &schema else { unreachable!() };
    let hints = Hints::builtin(1_790_000_000_000);
    let plans: Vec<EncodePlan> = BRANCHES
        .iter()
        .map(|b| EncodePlan::for_branch(avro, b).unwrap())
        .collect();
    let gens: Vec<RowGenerator> = plans
        .iter()
        .map(|p| RowGenerator::new(avro, p, &hints).unwrap())
        .collect();
    let mut rng = Rng::seed_from_u64(7);
    let mut buf = Vec::with_capacity(256);

    const N: usize = 1_000;
    let rows: Vec<(usize, Vec<OwnedDatum>)> = (0..N)
        .map(|i| {
            let k = i % BRANCHES.len();
            let mut row = gens[k].empty_row();
            gens[k].fill(&mut rng, &mut row, &|_| false);
            (k, row)
        })
        .collect();
    let encode_only = support::rate(N, || {
        let mut bytes = 0;
        for (k, row) in &rows {
            buf.clear();
            confluent::write_header(&mut buf, 1);
            plans[*k]
                .encode(row.iter().map(OwnedDatum::as_datum), &mut buf)
                .unwrap();
            bytes += buf.len();
        }
        bytes
    });

    let mut scratch: Vec<Vec<OwnedDatum>> = gens.iter().map(RowGenerator::empty_row).collect();
    let generate_encode = support::rate(N, || {
        let mut bytes = 0;
        for i in 0..N {
            let k = i % BRANCHES.len();
            gens[k].fill(&mut rng, &mut scratch[k], &|_| false);
            buf.clear();
            confluent::write_header(&mut buf, 1);
            plans[k]
                .encode(scratch[k].iter().map(OwnedDatum::as_datum), &mut buf)
                .unwrap();
            bytes += buf.len();
        }
        bytes
    });

    let strategy = sample::strategy(&schema, &Arc::new(hints), None).unwrap();
    let mut seed = 0u64;
    const M: usize = 200;
    let proptest_values = support::rate(M, || {
        seed += 1;
        let mut bytes = 0;
        for v in sample::values(&strategy, M, seed).unwrap() {
            buf.clear();
            confluent::write_header(&mut buf, 1);
            binary::encode(avro, &v, &mut buf).unwrap();
            bytes += buf.len();
        }
        bytes
    });

    let ratio = generate_encode / encode_only;
    println!("events/s, one core, AccountMigrationEvent, Confluent-framed");
    println!("encode only (plans):            {encode_only:>12.0}");
    println!("generate + encode (row gens):   {generate_encode:>12.0}");
    println!("proptest values + value encoder:{proptest_values:>12.0}");
    println!("ratio generate+encode / encode-only: {ratio:.3}");
    println!(
        "target: same order as encode only (ratio ≥ 0.1): {}; ≥ 1,000,000 generate+encode events/s: {}",
        if ratio >= 0.1 { "met" } else { "NOT MET" },
        if generate_encode >= 1_000_000.0 {
            "met"
        } else {
            "NOT MET"
        }
    );
}
