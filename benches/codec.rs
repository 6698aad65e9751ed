//! Encode throughput of Confluent-framed `AccountMigrationEvent` datums, on
//! the same generated events:
//!
//! - `plan`: flowharness's encode plan, leaf values straight into the
//!   buffer, no value tree per message (the throughput path);
//! - `value`: flowharness's schema-directed encoder from Avro JSON values;
//! - `apache-avro`: apache-avro's `Value` path (`GenericDatumWriter`).
//!
//! Each runs over a hot working set (1,000 events, in cache, as when an
//! event is encoded right after it is generated) and a cold one (50,000
//! events, memory-bound). Prints the rates and the ratios to apache-avro.
//! Targets, on the hot set: plan ≥ 1,000,000 events/s and ≥ 3× apache-avro.
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

use std::collections::HashMap;
use std::hint::black_box;

use apache_avro::writer::datum::GenericDatumWriter;
use criterion::{Criterion, Throughput};
use flowharness::codec::plan::{EncodePlan, OwnedDatum};
use flowharness::codec::{binary, confluent};
use flowharness::generate;
use flowharness::schema::AvroSchema;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;

const HOT: usize = 1_000;
const COLD: usize = 50_000;
const SCHEMA_ID: u32 = 1;

/// Working set name, then plan, value-encoder and apache-avro rates.
type Rates = (&'static str, f64, f64, f64);

struct Events {
    values: Vec<Value>,
    apache: Vec<apache_avro::types::Value>,
    /// Plan index and leaf values per event.
    rows: Vec<(usize, Vec<OwnedDatum>)>,
}

fn events(schema: &std::sync::Arc<AvroSchema>, branches: &HashMap<String, usize>, n: usize) -> Events {
    let strategy = generate::avro::strategy(schema);
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let values: Vec<Value> = (0..n)
        .map(|_| strategy.new_tree(&mut runner).map(|t| t.current()).unwrap())
        .collect();
    let apache = values
        .iter()
        .map(|v| common::to_apache(schema, schema.root(), v))
        .collect();
    let rows = values
        .iter()
        .map(|v| {
            let mut datums = Vec::new();
            common::datums_of(schema, schema.root(), v, &mut datums);
            (branches[&common::branch_of(v)], datums)
        })
        .collect();
    Events { values, apache, rows }
}

fn plan_path(plans: &[EncodePlan], rows: &[(usize, Vec<OwnedDatum>)], buf: &mut Vec<u8>) -> usize {
    let mut bytes = 0;
    for (plan, datums) in rows {
        buf.clear();
        confluent::write_header(buf, SCHEMA_ID);
        plans[*plan]
            .encode(datums.iter().map(OwnedDatum::as_datum), buf)
            .unwrap();
        bytes += black_box(buf.len());
    }
    bytes
}

fn value_path(schema: &AvroSchema, values: &[Value], buf: &mut Vec<u8>) -> usize {
    let mut bytes = 0;
    for v in values {
        buf.clear();
        confluent::write_header(buf, SCHEMA_ID);
        binary::encode(schema, v, buf).unwrap();
        bytes += black_box(buf.len());
    }
    bytes
}

fn apache_path(writer: &GenericDatumWriter<'_>, values: &[apache_avro::types::Value], buf: &mut Vec<u8>) -> usize {
    let mut bytes = 0;
    for v in values {
        buf.clear();
        confluent::write_header(buf, SCHEMA_ID);
        writer.write_value_ref(buf, v).unwrap();
        bytes += black_box(buf.len());
    }
    bytes
}

fn main() {
    let schema = std::sync::Arc::new(common::migration_schema());
    let apache_schema = apache_avro::Schema::parse(schema.json()).unwrap();
    let writer = GenericDatumWriter::builder(&apache_schema).build().unwrap();
    let names = common::MIGRATION_BRANCHES;
    let plans: Vec<EncodePlan> = names
        .iter()
        .map(|b| EncodePlan::for_branch(&schema, b).unwrap())
        .collect();
    let branches: HashMap<String, usize> = names.iter().enumerate().map(|(i, b)| (b.to_string(), i)).collect();
    let hot = events(&schema, &branches, HOT);

    // All three paths must write the same bytes before their speed means anything.
    for ((v, a), (p, datums)) in hot.values.iter().zip(&hot.apache).zip(&hot.rows) {
        let by_value = binary::encode_to_vec(&schema, v).unwrap();
        let mut by_plan = Vec::new();
        plans[*p]
            .encode(datums.iter().map(OwnedDatum::as_datum), &mut by_plan)
            .unwrap();
        assert_eq!(by_value, by_plan);
        assert_eq!(by_value, writer.write_value_to_vec(a.clone()).unwrap());
    }

    let mut buf = Vec::with_capacity(512);
    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("encode AccountMigrationEvent, Confluent-framed, hot");
    group.throughput(Throughput::Elements(HOT as u64));
    group.bench_function("plan", |b| b.iter(|| plan_path(&plans, &hot.rows, &mut buf)));
    group.bench_function("value", |b| b.iter(|| value_path(&schema, &hot.values, &mut buf)));
    group.bench_function("apache-avro", |b| {
        b.iter(|| apache_path(&writer, &hot.apache, &mut buf))
    });
    group.finish();
    criterion.final_summary();

    let cold = events(&schema, &branches, COLD);
    println!("\nevents/s, one core           hot ({HOT})    cold ({COLD})");
    let mut results: Vec<Rates> = Vec::new();
    for (name, set) in [("hot", &hot), ("cold", &cold)] {
        let n = set.values.len();
        let plan = support::rate(n, || plan_path(&plans, &set.rows, &mut buf));
        let value = support::rate(n, || value_path(&schema, &set.values, &mut buf));
        let apache = support::rate(n, || apache_path(&writer, &set.apache, &mut buf));
        results.push((name, plan, value, apache));
    }
    let row = |label: &str, pick: &dyn Fn(&Rates) -> f64| {
        println!("{label:<28} {:>12.0} {:>14.0}", pick(&results[0]), pick(&results[1]));
    };
    row("flowharness plan", &|r| r.1);
    row("flowharness value encoder", &|r| r.2);
    row("apache-avro Value", &|r| r.3);
    for (name, plan, value, apache) in &results {
        println!(
            "ratio to apache-avro, {name}: plan {:.2}x, value encoder {:.2}x",
            plan / apache,
            value / apache
        );
    }
    let (_, plan, _, apache) = results[0];
    let verdict = |ok: bool| if ok { "met" } else { "NOT MET" };
    println!(
        "targets (hot): plan ≥ 1,000,000 events/s {}; plan ≥ 3x apache-avro {}",
        verdict(plan >= 1_000_000.0),
        verdict(plan / apache >= 3.0)
    );
}
