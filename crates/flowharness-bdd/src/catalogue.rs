//! The step catalogue: every step with one example, as `flowharness steps`
//! prints it and the README lists it. Tests check that every example runs
//! into exactly one step, and that every step has an example.

use std::io::Write;

/// Every step: keyword, pattern, and an example.
pub const CATALOGUE: &[(&str, &str, &str)] = &[
    // The contract, the seed, the broker and registry.
    ("Given", "the {string} flow", "Given the \"account-migration\" flow"),
    (
        "Given",
        "the schema {string}",
        "Given the schema \"subscription-event\"",
    ),
    ("Given", "the seed {int}", "Given the seed 42"),
    ("Given", "the broker and registry", "Given the broker and registry"),
    (
        "Given",
        "the broker and registry from the environment",
        "Given the broker and registry from the environment",
    ),
    // Producing.
    (
        "When",
        "{int} {word} flows are produced",
        "When 5 happy flows are produced",
    ),
    (
        "When",
        "{int} flows are produced with the mix {string}",
        "When 20 flows are produced with the mix \"happy=80,cancel=15,rollback=5\"",
    ),
    (
        "When",
        "a {word} flow is produced for the account {string}",
        "When a rollback flow is produced for the account \"1000001\"",
    ),
    (
        "When",
        "{word} flows are produced for the accounts {string}",
        "When happy flows are produced for the accounts \"1000002,1000003\"",
    ),
    (
        "When",
        "a {word} flow is produced with these fields:",
        "When a happy flow is produced with these fields:\n      | event | field | value |\n      | * | mpan | 1200023305967 |",
    ),
    (
        "When",
        "an event is produced with these fields:",
        "When an event is produced with these fields:\n      | field | value |\n      | data.code | INVOICE_NOTIFICATION |",
    ),
    (
        "Given",
        "the topic {string} exists",
        "Given the topic \"{topic}-status\" exists",
    ),
    // Hunting: the smallest failing case.
    (
        "Given",
        "the service under test runs as {string} in the consumer group {string}",
        "Given the service under test runs as \"my-service --group {group}\" in the consumer group \"{topic}-svc\"",
    ),
    (
        "When",
        "any {int} flows with the mix {string} are hunted for a case where, within {int} seconds, the topic {string} does not show each account's events as:",
        "When any 12 flows with the mix \"happy=1,cancel=1\" are hunted for a case where, within 20 seconds, the topic \"{topic}-status\" does not show each account's events as:\n      | event | state |\n      | Scheduled | SCHEDULED |",
    ),
    (
        "Then",
        "for any {int} flows with the mix {string}, within {int} seconds the topic {string} shows each account's events as:",
        "Then for any 30 flows with the mix \"happy=1,cancel=1,rollback=1\", within 30 seconds the topic \"{topic}-status\" shows each account's events as:\n      | event | state |\n      | Scheduled | SCHEDULED |",
    ),
    (
        "Then",
        "the hunt finds no failing case",
        "Then the hunt finds no failing case",
    ),
    (
        "Then",
        "the hunt shrinks the failure to {int} account(s) and {int} flow(s)",
        "Then the hunt shrinks the failure to 1 account and 1 flow",
    ),
    (
        "Then",
        "the smallest failing case sends its accounts {string}",
        "Then the smallest failing case sends its accounts \"interleaved\"",
    ),
    (
        "Then",
        "the saved replay fails the same way",
        "Then the saved replay fails the same way",
    ),
    (
        "When",
        "the fixture {string} is produced",
        "When the fixture \"fixtures/complex.json\" is produced",
    ),
    // Faults.
    (
        "When",
        "a {word} flow is produced with its {word} event dropped",
        "When a happy flow is produced with its BalanceRetrieved event dropped",
    ),
    (
        "When",
        "a {word} flow is produced with its {word} event duplicated",
        "When a happy flow is produced with its Validated event duplicated",
    ),
    (
        "When",
        "a {word} flow is produced with its {word} and {word} events swapped",
        "When a happy flow is produced with its BalanceRetrieved and Validated events swapped",
    ),
    (
        "When",
        "a {word} flow is produced with {word} of its {word} event set to {string}",
        "When a happy flow is produced with mpan of its Scheduled event set to \"1200023305967\"",
    ),
    (
        "When",
        "a {word} flow is produced with its {word} event not matching the schema",
        "When a happy flow is produced with its Validated event not matching the schema",
    ),
    (
        "When",
        "the bytes {string} are produced with the key {string}",
        "When the bytes \"00 00 00 00 63 ff\" are produced with the key \"1000009\"",
    ),
    (
        "When",
        "the text {string} is produced with the key {string}",
        "When the text \"hello\" is produced with the key \"1000009\"",
    ),
    // The subscription catalog.
    (
        "When",
        "the subscription {string} is published with its options",
        "When the subscription \"INVOICE_NOTIFICATION\" is published with its options",
    ),
    (
        "When",
        "the {word} {string} is published without its {word}",
        "When the subscription \"INVOICE_NOTIFICATION\" is published without its options",
    ),
    (
        "When",
        "the group {string} is published listing {string}",
        "When the group \"BILLING\" is published listing \"INVOICE_NOTIFICATION,PAYMENT_REMINDER\"",
    ),
    (
        "When",
        "the subscription {string} is updated to {word}",
        "When the subscription \"INVOICE_NOTIFICATION\" is updated to INACTIVE",
    ),
    (
        "When",
        "the published events are produced",
        "When the published events are produced",
    ),
    // What was observed.
    (
        "Then",
        "{int} complete {word} flows are observed",
        "Then 5 complete happy flows are observed",
    ),
    (
        "Then",
        "nothing is lost or duplicated",
        "Then nothing is lost or duplicated",
    ),
    ("Then", "no violations are reported", "Then no violations are reported"),
    (
        "Then",
        "a(n) {word} violation is reported",
        "Then a transition-not-allowed violation is reported",
    ),
    (
        "Then",
        "a(n) {word} violation is reported for the account {string}",
        "Then an unknown-flow violation is reported for the account \"1000001\"",
    ),
    (
        "Then",
        "every message decodes with the registered schema",
        "Then every message decodes with the registered schema",
    ),
    (
        "Then",
        "the events of each key are observed in flow order",
        "Then the events of each key are observed in flow order",
    ),
    (
        "Then",
        "the {word} event of the account {string} has {word} equal to {string}",
        "Then the Scheduled event of the account \"1000001\" has accountId equal to \"1000001\"",
    ),
    (
        "Then",
        "every {word} event has {word} matching {string}",
        "Then every Scheduled event has mpan matching \"[0-9]{13}\"",
    ),
    // A service under test.
    (
        "When",
        "the command {string} is started",
        "When the command \"my-service --input {topic} --output {topic}-status\" is started",
    ),
    (
        "When",
        "the consumer group {string} reads the topic",
        "When the consumer group \"audit\" reads the topic",
    ),
    (
        "Then",
        "the consumer group {string} has caught up within {int} seconds",
        "Then the consumer group \"audit\" has caught up within 10 seconds",
    ),
    (
        "Then",
        "the topic {string} receives a message with {word} equal to {string} within {int} seconds",
        "Then the topic \"{topic}-status\" receives a message with accountId equal to \"1000001\" within 10 seconds",
    ),
    (
        "Then",
        "within {int} seconds the topic {string} shows each account's events as:",
        "Then within 30 seconds the topic \"{topic}-status\" shows each account's events as:\n      | event | state | flowId |\n      | Completed | MIGRATED | {flow id} |\n      | Cancelled | - | - |",
    ),
    // A fake upstream that answers.
    (
        "Given",
        "a fake answers with the rules {string}",
        "Given a fake answers with the rules \"examples/migration-scheduler/fake.toml\"",
    ),
    (
        "Given",
        "a fake answers with the rules {string} and these faults:",
        "Given a fake answers with the rules \"examples/migration-scheduler/fake.toml\" and these faults:\n      | fault | percent | by |\n      | late | 50 | 10s |",
    ),
    (
        "Given",
        "a fake answers each {word} with a(n) {word} flow",
        "Given a fake answers each Requested with an authorized flow",
    ),
    (
        "Given",
        "a fake answers each {word} with the mix {string}",
        "Given a fake answers each Requested with the mix \"authorized=9,declined=1\"",
    ),
    (
        "When",
        "a {word} request is sent",
        "When a ScheduleMigration request is sent",
    ),
    (
        "When",
        "a {word} request is sent with these fields:",
        "When a Requested request is sent with these fields:\n      | field | value |\n      | accountId | acc-000042 |",
    ),
    (
        "Then",
        "within {int} seconds the fake has answered {int} request(s): {int} replied and {int} omitted",
        "Then within 10 seconds the fake has answered 3 requests: 2 replied and 1 omitted",
    ),
    (
        "Then",
        "within {int} seconds the topic {string} has {int} message(s) with {word} equal to {string}",
        "Then within 30 seconds the topic \"{topic}-outcomes\" has 3 messages with outcome equal to \"MIGRATED\"",
    ),
];

/// Prints the catalogue, one step and its example a line.
pub fn write_catalogue(out: &mut dyn Write) -> std::io::Result<()> {
    for (keyword, pattern, example) in CATALOGUE {
        writeln!(out, "{keyword} {pattern}\n    e.g. {example}")?;
    }
    Ok(())
}
