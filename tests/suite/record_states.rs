//! A topic of several record types (`account-lifecycle`): each record is
//! registered on its own under the topic-record subject strategy, every
//! message is written with its own record's schema, and a message's state
//! is the record its writer schema names.

use crate::common;

use std::time::Duration;

use flowharness::flow::checker::CheckOptions;
use flowharness::flow::generator::FlowGenerator;
use flowharness::flow::shipped;
use flowharness::kafka::Environment;
use flowharness::kafka::producer::ProducerOptions;
use flowharness::registry::SubjectStrategy;
use flowharness::schema::Schema;
use flowharness::verify::{Message, ProduceRun, produce_and_check};

#[test]
fn each_record_has_its_subject_and_the_writer_schema_names_the_state() {
    let env = Environment::embedded().unwrap();
    let spec = shipped::resolve("account-lifecycle").unwrap();
    assert!(spec.channels()[0].records);
    let messages = FlowGenerator::new(&spec, common::flow_options(&spec, 12, ""))
        .unwrap()
        .generate(8)
        .unwrap()
        .into_iter()
        .map(|k| Message::keyed(k.key, k.value))
        .collect();
    let run = ProduceRun {
        topic: "accounts-records".into(),
        others: Vec::new(),
        partitions: 2,
        schema: spec.schema().clone(),
        messages,
        seed: Some(8),
        strategy: SubjectStrategy::Topic,
        producer: ProducerOptions::default(),
        observe_timeout: Duration::from_secs(30),
        keep_observed: true,
    };
    let report = produce_and_check(&env, &run, Some(&spec), CheckOptions::default()).unwrap();
    assert!(report.check.findings.is_empty(), "{:#?}", report.check.findings);
    assert_eq!(report.check.complete_by_path.values().sum::<u64>(), 12);
    let mut subjects = env.registry.subjects().unwrap();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "accounts-records-com.example.accounts.AccountClosed",
            "accounts-records-com.example.accounts.AccountOpened",
            "accounts-records-com.example.accounts.AccountReinstated",
            "accounts-records-com.example.accounts.AccountSuspended",
        ]
    );
    // On the wire each message is its record alone, decodable with the
    // schema its id names, which is that record's.
    for o in &report.observed {
        let named = o.record.as_deref().unwrap();
        assert!(named.starts_with("com.example.accounts.Account"), "{named}");
        let value = o.value.as_ref().unwrap();
        assert!(value.get("accountId").is_some(), "a bare record, not a union: {value}");
    }
    // The run's first schema id is a record's own schema, not the union.
    let first = env.registry.schema(report.schema_id).unwrap();
    let Schema::Avro(avro) = first.as_ref() else {
        panic!("Avro")
    };
    assert!(avro.root_name().is_some_and(|n| n.starts_with("com.example.accounts.")));
}

#[test]
fn record_states_need_a_union_of_records() {
    let schema = Schema::from_value(&serde_json::json!({
        "type": "record", "name": "One", "fields": [{"name": "id", "type": "string"}]
    }))
    .unwrap();
    let text = "name = \"x\"\nschema = \"s\"\ntopic = \"t\"\nkey = \"id\"\n[state]\nrecord = true\n[states]\nA = \"One\"\n\
                [flow]\nid = \"id\"\nstart = [\"A\"]\nend = [\"A\"]\n[paths]\np = [\"A\"]\n";
    let e = flowharness::flow::FlowSpec::parse(text, &|_| Ok(schema.clone()))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "state.record: record = true takes the schema's record types from a schema that is a union of records"
        ),
        "{e}"
    );
}
