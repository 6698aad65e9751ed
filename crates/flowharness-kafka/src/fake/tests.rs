//! The fake's rules and answers, without Kafka: bad rules refused at their
//! key, replies that keep the flow's contract (checked by the checker), the
//! same reply for the same request, and each fault doing what it says.
//! Two designs that are not the seed's: a request/reply flow across two
//! topics in JSON Schema with patterns (AsyncAPI), and a command with an
//! enum of its own answered by an envelope with a payload union.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};

use super::answer::{Answer, Planned, Request, Responder};
use super::requests;
use super::rules::{Fault, Rules};
use crate::flow::FlowSpec;
use crate::flow::checker::{CheckOptions, Checker, Report};
use crate::flow::fixture_io::{Keyed, as_observed};
use crate::flow::generator::{FlowGenerator, FlowOptions, Mix};
use crate::flow::spec::Severity;
use crate::generate::hints::Hints;
use crate::schema::Schema;

// The repository root: these tests read its examples wherever cargo runs them.
const PAYMENTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/asyncapi/payments-request-reply-3.0.yaml"
);
const SCHEDULER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/migration-scheduler");

fn spec(arg: &str) -> FlowSpec {
    crate::contract::resolve_flow(arg).expect("the flow loads")
}

fn rules(spec: &FlowSpec, text: &str) -> crate::error::Result<Rules> {
    Rules::parse(text, spec, spec.topic(), &|p: &str| {
        Schema::load(&Path::new(SCHEDULER).join(p))
    })
}

fn responder<'s>(spec: &'s FlowSpec, rules: &'s Rules, seed: u64) -> Responder<'s> {
    let generator = FlowGenerator::new(
        spec,
        FlowOptions {
            flows: 1,
            mix: Mix::uniform(spec),
            hints: Arc::new(Hints::builtin(1_790_000_000_000)),
            jitter: 0.5,
            time_scale: 1.0,
        },
    )
    .expect("a generator")
    .with_templates(16, seed)
    .expect("templates");
    Responder::new(spec, rules, generator, seed, 86_400.0)
}

fn keyed(spec: &FlowSpec, p: &Planned) -> Keyed {
    Keyed {
        key: p.key.clone().unwrap_or_default(),
        value: p.value.clone(),
        topic: Some(Arc::from(spec.channels()[p.channel].topic.as_str())),
        headers: p.headers.clone(),
    }
}

fn check(spec: &FlowSpec, messages: &[Keyed]) -> Report {
    let mut checker = Checker::new(
        spec,
        CheckOptions {
            incomplete: Some(Severity::Warning),
            ..CheckOptions::default()
        },
    );
    for o in as_observed(messages, 1) {
        checker.observe(&o);
    }
    checker.finish()
}

fn answer(r: &Responder<'_>, topic: &str, out: &requests::Outgoing, record: Option<&str>) -> Answer {
    let request = Request {
        topic,
        key: out.key.as_deref().map(str::as_bytes),
        headers: &out.headers,
        value: &out.value,
        record,
    };
    let rule = r.rule_for(&request).expect("a rule takes the request");
    r.answer(rule, &request).expect("an answer")
}

fn error_text(e: crate::error::Error) -> String {
    e.to_string()
}

const PAYMENT_RULES: &str = r#"
[[rule]]
name = "authorize"
state = "Requested"
reply = "authorized=3,declined=1"
delay = "5ms"
"#;

#[test]
fn replies_to_a_request_in_the_flow_continue_its_flow_and_keep_its_contract() {
    let spec = spec(PAYMENTS);
    let rules = rules(&spec, PAYMENT_RULES).expect("rules parse");
    let r = responder(&spec, &rules, 7);
    let rule = &rules.rules[0];
    let reqs = requests::sample(&spec, rule, &Arc::new(Hints::builtin(1_790_000_000_000)), 40, 3).expect("requests");
    assert_eq!(reqs.len(), 40);
    let mut all = Vec::new();
    let mut states = std::collections::BTreeSet::new();
    for q in &reqs {
        let Answer::Reply { events, fault: None } = answer(&r, &rule.topic, q, None) else {
            panic!("a plain reply")
        };
        assert_eq!(events.len(), 1, "one reply event after the request");
        let e = &events[0];
        // The reply carries the request's payment, account and correlation header.
        assert_eq!(e.value["paymentId"], q.value["paymentId"]);
        assert_eq!(e.value["accountId"], q.value["accountId"]);
        assert_eq!(e.key, q.key);
        let header = |h: &[(String, String)]| h.iter().find(|(k, _)| k == "correlationId").map(|(_, v)| v.clone());
        assert_eq!(header(&e.headers), header(&q.headers));
        assert!(e.at_ms >= 5, "the rule's delay is kept: {}", e.at_ms);
        states.insert(spec.states()[e.state].name.clone());
        all.push(Keyed {
            key: q.key.clone().unwrap_or_default(),
            value: q.value.clone(),
            topic: Some(Arc::from(spec.channels()[spec.states()[0].channel].topic.as_str())),
            headers: q.headers.clone(),
        });
        let requested = spec.states().iter().position(|s| s.name == "Requested").expect("state");
        let last = all.last_mut().expect("pushed");
        last.topic = Some(Arc::from(
            spec.channels()[spec.states()[requested].channel].topic.as_str(),
        ));
        all.push(keyed(&spec, e));
    }
    assert_eq!(states.len(), 2, "both paths of the mix are drawn: {states:?}");
    let report = check(&spec, &all);
    assert_eq!(report.errors, 0, "{:#?}", report.findings);
}

#[test]
fn the_same_request_gets_the_same_reply_and_another_seed_another() {
    let spec = spec(PAYMENTS);
    let rules = rules(&spec, PAYMENT_RULES).expect("rules parse");
    let rule = &rules.rules[0];
    let reqs = requests::sample(&spec, rule, &Arc::new(Hints::builtin(1_790_000_000_000)), 10, 9).expect("requests");
    let a = responder(&spec, &rules, 1);
    let b = responder(&spec, &rules, 1);
    let c = responder(&spec, &rules, 2);
    let mut differs = false;
    for q in &reqs {
        let x = answer(&a, &rule.topic, q, None);
        assert_eq!(x, answer(&b, &rule.topic, q, None));
        differs |= x != answer(&c, &rule.topic, q, None);
    }
    assert!(differs, "another seed draws other replies");
}

const SCHEDULE_RULES: &str = r#"
[[rule]]
name = "schedule"
topic = "{topic}-commands"
schema = "schedule-migration.avsc"
record = "ScheduleMigration"
when = { priority = "NORMAL", accountId = { matches = "^[0-9]{7}$" } }
reply = "happy=1,cancel=1,rollback=1"

[rule.copy]
accountId = "accountId"
mpan = "mpan"
enrollmentId = "requestId"
"metadata.traceToken" = "traceToken"
"header:traceparent" = "header:traceparent"
"#;

fn command(account: &str, priority: &str) -> requests::Outgoing {
    requests::Outgoing {
        key: Some(account.to_string()),
        value: json!({
            "requestId": "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f",
            "accountId": account,
            "mpan": "1900000000001",
            "traceToken": "trace-1",
            "priority": priority,
            "requestedAt": 1_790_000_000_000i64
        }),
        headers: vec![("traceparent".into(), "00-abc-def-01".into())],
    }
}

#[test]
fn a_command_outside_the_flow_is_answered_with_a_whole_flow_carrying_its_values() {
    let spec = spec("account-migration");
    let rules = rules(&spec, SCHEDULE_RULES).expect("rules parse");
    let r = responder(&spec, &rules, 5);
    let topic = "account-migration-commands";
    let mut paths = std::collections::BTreeSet::new();
    let mut all = Vec::new();
    for i in 0..30 {
        let account = format!("{}", 2_000_000 + i);
        let mut q = command(&account, "NORMAL");
        q.value["requestId"] = json!(format!("6f1c2d3e-4b5a-4c7d-8e9f-{:012}", i));
        let Answer::Reply { events, fault: None } =
            answer(&r, topic, &q, Some("com.example.migration.commands.ScheduleMigration"))
        else {
            panic!("a plain reply")
        };
        let first = &events[0];
        assert_eq!(spec.states()[first.state].name, "Scheduled");
        let branch = |v: &Value| {
            v["event"]
                .as_object()
                .and_then(|m| m.values().next())
                .cloned()
                .expect("a branch")
        };
        let b = branch(&first.value);
        assert_eq!(b["enrollmentId"], q.value["requestId"], "the request id is the flow id");
        assert_eq!(b["metadata"]["traceToken"], json!("trace-1"));
        for e in &events {
            assert_eq!(e.key.as_deref(), Some(account.as_str()));
            assert!(e.headers.contains(&("traceparent".into(), "00-abc-def-01".into())));
            assert_eq!(branch(&e.value)["accountId"], json!(account));
        }
        // A cancelled or rolled-back flow restarts with a flow id of its own.
        let ids: std::collections::BTreeSet<String> = events
            .iter()
            .map(|e| branch(&e.value)["enrollmentId"].to_string())
            .collect();
        let names: Vec<&str> = events.iter().map(|e| spec.states()[e.state].name.as_str()).collect();
        paths.insert(names.len());
        if names.contains(&"Cancelled") || names.contains(&"RolledBack") {
            assert_eq!(ids.len(), 2, "{names:?}");
        } else {
            assert_eq!(ids.len(), 1, "{names:?}");
        }
        assert!(
            events.windows(2).all(|w| w[0].at_ms <= w[1].at_ms),
            "delays follow the flow's time"
        );
        all.extend(events.iter().map(|e| keyed(&spec, e)));
    }
    assert!(paths.len() >= 2, "several paths drawn: {paths:?}");
    let report = check(&spec, &all);
    assert_eq!(report.errors, 0, "{:#?}", report.findings);
}

#[test]
fn when_tests_and_rule_order_decide_which_rule_takes_a_request() {
    let spec = spec("account-migration");
    let rules = rules(&spec, SCHEDULE_RULES).expect("rules parse");
    let r = responder(&spec, &rules, 5);
    let topic = "account-migration-commands";
    let take = |q: &requests::Outgoing, t: &str, record: Option<&str>| {
        r.rule_for(&Request {
            topic: t,
            key: None,
            headers: &q.headers,
            value: &q.value,
            record,
        })
    };
    let full = Some("com.example.migration.commands.ScheduleMigration");
    assert_eq!(take(&command("1234567", "NORMAL"), topic, full), Some(0));
    assert_eq!(
        take(&command("1234567", "NORMAL"), topic, Some("ScheduleMigration")),
        Some(0)
    );
    assert_eq!(take(&command("1234567", "URGENT"), topic, full), None, "equals");
    assert_eq!(take(&command("12345", "NORMAL"), topic, full), None, "matches");
    assert_eq!(take(&command("1234567", "NORMAL"), "other", full), None, "topic");
    assert_eq!(
        take(&command("1234567", "NORMAL"), topic, Some("CancelMigration")),
        None,
        "record"
    );
}

fn with_fault(base: &str, fault: &str) -> String {
    format!("{base}\n[rule.faults]\n{fault} = 1.0\nlate_by = \"30s\"\n")
}

#[test]
fn each_fault_does_what_it_says_and_the_checker_sees_the_broken_ones() {
    let spec = spec("account-migration");
    let topic = "account-migration-commands";
    let full = Some("com.example.migration.commands.ScheduleMigration");
    let q = command("1234567", "NORMAL");
    let plain_rules = rules(&spec, SCHEDULE_RULES).expect("rules");
    let Answer::Reply { events: plain, .. } = answer(&responder(&spec, &plain_rules, 5), topic, &q, full) else {
        panic!("a reply")
    };
    let run = |fault: &str| {
        let rules = rules(&spec, &with_fault(SCHEDULE_RULES, fault)).expect("rules");
        answer(&responder(&spec, &rules, 5), topic, &q, full)
    };
    assert_eq!(run("none"), Answer::Omitted);
    let Answer::Reply { events, fault } = run("late") else {
        panic!("a reply")
    };
    assert_eq!(fault, Some(Fault::Late));
    assert!(events.iter().zip(&plain).all(|(l, p)| l.at_ms == p.at_ms + 30_000));
    let errors = |events: &[Planned]| check(&spec, &events.iter().map(|e| keyed(&spec, e)).collect::<Vec<_>>());
    assert_eq!(errors(&events).errors, 0, "a late reply keeps the contract");
    let Answer::Reply { events, .. } = run("duplicate") else {
        panic!("a reply")
    };
    assert_eq!(events.len(), plain.len() + 1);
    assert!(errors(&events).errors > 0, "the checker sees the duplicate");
    let Answer::Reply { events, .. } = run("out_of_order") else {
        panic!("a reply")
    };
    assert_eq!(events.len(), plain.len());
    assert_ne!(
        events.iter().map(|e| e.state).collect::<Vec<_>>(),
        plain.iter().map(|e| e.state).collect::<Vec<_>>()
    );
    assert!(errors(&events).errors > 0, "the checker sees the order");
    let Answer::Reply { events, .. } = run("wrong_correlation") else {
        panic!("a reply")
    };
    let id = |e: &Planned| spec.flow_id_of(&e.value, e.state);
    assert_ne!(id(&events[0]), id(&plain[0]), "the flow id is not the request's");
    assert_eq!(
        id(&events[0]).map(|s| s.len()),
        id(&plain[0]).map(|s| s.len()),
        "but has its shape"
    );
    let Answer::Reply { events, .. } = run("schema_invalid") else {
        panic!("a reply")
    };
    let broken: Vec<&Planned> = events.iter().filter(|e| e.broken).collect();
    assert_eq!(broken.len(), 1);
    // Cut short, no reader decodes it.
    let Schema::Avro(avro) = &spec.channels()[broken[0].channel].schema else {
        panic!("Avro")
    };
    let mut bytes = Vec::new();
    crate::codec::binary::encode(avro, &broken[0].value, &mut bytes).expect("encodes");
    bytes.pop();
    let cut = crate::codec::binary::decode(avro, &bytes).unwrap_err();
    assert!(cut.offset <= bytes.len(), "{cut}");
    assert!(cut.message.contains("truncated"), "{cut}");
}

#[test]
fn bad_rules_are_refused_at_their_key() {
    let spec = spec("account-migration");
    let cases: &[(&str, &str)] = &[
        (
            "[[rule]]\nstate = \"Shipped\"\nreply = \"happy\"\n",
            "rule[0].state: flow account-migration has no state \"Shipped\"",
        ),
        (
            "[[rule]]\nname = \"s\"\ntopic = \"c\"\nschema = \"schedule-migration.avsc\"\nreply = \"happy\"\nwhen = { acount = \"1\" }\n",
            "rule[0] (s).when.acount:",
        ),
        (
            "[[rule]]\ntopic = \"c\"\nschema = \"schedule-migration.avsc\"\nreply = \"happy\"\nwhen = { accountId = { matches = \"[0-9\" } }\n",
            "rule[0].when.accountId: matches: the regex does not compile",
        ),
        (
            "[[rule]]\ntopic = \"c\"\nschema = \"schedule-migration.avsc\"\nreply = \"happy\"\n[rule.copy]\naccountId = \"requestedAt\"\n",
            "rule[0].copy.accountId: requestedAt is an integer and accountId is a string: a copy between incompatible types",
        ),
        (
            "[[rule]]\ntopic = \"c\"\nschema = \"schedule-migration.avsc\"\nreply = \"happy\"\n[rule.copy]\nscheduledAt = \"requestedAt\"\n",
            "rule[0].copy.scheduledAt:",
        ),
        (
            "[[rule]]\ntopic = \"c\"\nschema = \"schedule-migration.avsc\"\nreply = \"express\"\n",
            "rule[0].reply: flow account-migration has no path \"express\"",
        ),
        (
            "[[rule]]\ntopic = \"c\"\nschema = \"schedule-migration.avsc\"\nreply = \"happy\"\n[rule.faults]\nnone = 0.6\nduplicate = 0.6\n",
            "rule[0].faults: the probabilities sum to",
        ),
        (
            "[[rule]]\ntopic = \"c\"\nschema = \"schedule-migration.avsc\"\nreply = \"happy\"\n[rule.faults]\nwrong_correlation = 0.1\n",
            "rule[0].faults.wrong_correlation: the reply carries no correlation",
        ),
        (
            "[[rule]]\ntopic = \"c\"\nschema = \"schedule-migration.avsc\"\nreply = \"happy\"\n[rule.faults]\nlate = 0.1\n",
            "rule[0].faults.late_by: missing",
        ),
        (
            "[[rule]]\ntopic = \"c\"\nreply = \"happy\"\n",
            "rule[0].schema: missing",
        ),
        ("[fake]\nseed = 1\n", "rule: no [[rule]]"),
    ];
    for (text, want) in cases {
        let got = rules(&spec, text).map(|_| ()).map_err(error_text);
        let Err(got) = got else { panic!("accepted: {text}") };
        assert!(got.contains(want), "{text}\nwant: {want}\ngot:  {got}");
    }
    // The request/reply flow's one reply event leaves nothing to reorder.
    let payments = self::spec(PAYMENTS);
    let got = rules(
        &payments,
        &format!("{PAYMENT_RULES}\n[rule.faults]\nout_of_order = 0.1\n"),
    )
    .map_err(error_text);
    let Err(got) = got else { panic!("accepted") };
    assert!(
        got.contains("rule[0] (authorize).faults.out_of_order: a reply of path"),
        "{got}"
    );
    // A path that never passes the request's state cannot continue from it.
    let got = rules(&spec, "[[rule]]\nstate = \"Validated\"\nreply = \"cancel\"\n").map_err(error_text);
    let Err(got) = got else { panic!("accepted") };
    assert!(got.contains("does not pass through Validated"), "{got}");
}
