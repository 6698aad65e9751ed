//! The reactive fake on the embedded broker: every request accounted for
//! under faults, a stop in the middle leaves the accounting exact, what it
//! sends is what the broker holds, and the CLI's bad input and bench.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use flowharness::contract::resolve_flow;
use flowharness::fake::{self, FakeOptions, Live, Rules, requests};
use flowharness::generate::hints::Hints;
use flowharness::kafka::Environment;
use flowharness::kafka::observer::end_offsets;
use flowharness::kafka::producer::{Outgoing, Producer, ProducerOptions};

use crate::common::{flowharness, repo_path};

const PAYMENTS: &str = "tests/asyncapi/payments-request-reply-3.0.yaml";

fn payment_rules(spec: &flowharness::flow::FlowSpec, topic: &str, faults: &str) -> Rules {
    let text = format!(
        "[[rule]]\nname = \"authorize\"\nstate = \"Requested\"\nreply = \"authorized=3,declined=1\"\n[rule.faults]\n{faults}\n"
    );
    let mut rules = Rules::parse(&text, spec, topic, &|p: &str| {
        flowharness::schema::Schema::load(&repo_path(p))
    })
    .unwrap();
    rules.rename_channels(spec, &|c| format!("{topic}-{}", spec.channels()[c].topic));
    rules
}

/// Sends `n` requests of the first rule (distinct ones) and gives the fake's report.
fn run_with(env: &Environment, rules: &Rules, n: usize, stop_when: &dyn Fn(&Live) -> bool) -> fake::FakeReport {
    let spec = resolve_flow(PAYMENTS).unwrap();
    let hints = Arc::new(Hints::builtin(1_790_000_000_000));
    let rule = &rules.rules[0];
    let reqs = requests::sample(&spec, rule, &hints, n, 11).unwrap();
    assert_eq!(reqs.len(), n);
    let live = Arc::new(Live::default());
    let options = FakeOptions {
        group: format!("fake-{}", rule.topic),
        seed: 4,
        time_scale: 0.0,
        hints,
        live: Some(live.clone()),
        ..FakeOptions::default()
    };
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let fake = s.spawn(|| fake::run(env, &spec, rules, &options, &stop, &mut |_| {}).unwrap());
        env.cluster.create_topic(&rule.topic, 1).unwrap();
        let encoder = requests::encoder(env, &spec, rule).unwrap();
        let mut producer = Producer::new(&env.cluster, &ProducerOptions::default()).unwrap();
        for q in &reqs {
            let payload = encoder.encode(&q.value).unwrap();
            let headers: Vec<(&str, &[u8])> = q.headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())).collect();
            producer.send(&Outgoing {
                topic: &rule.topic,
                partition: None,
                key: q.key.as_deref().map(str::as_bytes),
                payload: Some(&payload),
                headers: &headers,
            });
        }
        assert_eq!(producer.finish().failed, 0);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !stop_when(&live) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Relaxed);
        fake.join().unwrap()
    })
}

fn held(env: &Environment, topic: &str) -> i64 {
    end_offsets(&env.cluster, topic).unwrap().iter().map(|(_, o)| o).sum()
}

#[test]
fn every_request_is_replied_omitted_or_a_finding_under_faults() {
    let env = Environment::embedded().unwrap();
    let spec = resolve_flow(PAYMENTS).unwrap();
    let topic = "fake-accounting";
    let rules = payment_rules(
        &spec,
        topic,
        "none = 0.1\nduplicate = 0.1\nwrong_correlation = 0.1\nschema_invalid = 0.1\nlate = 0.1\nlate_by = \"200ms\"",
    );
    let n = 400;
    let report = run_with(&env, &rules, n, &|l| l.settled() == (n as u64, true));
    assert!(report.balanced(), "{report}");
    assert_eq!(report.requests, n as u64, "{report}");
    assert_eq!(report.pending, 0, "{report}");
    assert_eq!(report.unanswerable, 0, "{report}");
    assert_eq!(report.replied + report.omitted, n as u64, "{report}");
    assert_eq!(report.omitted, report.faults["none"], "{report}");
    for f in ["duplicate", "wrong_correlation", "schema_invalid", "late"] {
        assert!(report.faults.get(f).copied().unwrap_or(0) > 10, "{f} given: {report}");
    }
    // One event per reply, and one more per duplicate: all of it on the reply topic.
    assert_eq!(
        report.reply_events,
        report.replied + report.faults["duplicate"],
        "{report}"
    );
    assert_eq!(report.acknowledged, report.reply_events, "{report}");
    assert_eq!(held(&env, topic), report.reply_events as i64);
}

#[test]
fn a_stop_in_the_middle_leaves_the_accounting_exact() {
    let env = Environment::embedded().unwrap();
    let spec = resolve_flow(PAYMENTS).unwrap();
    let topic = "fake-stopped";
    let rules = payment_rules(&spec, topic, "late = 0.5\nlate_by = \"60s\"");
    let n = 200;
    // Stop once every request is taken and every reply not held back is sent.
    let report = run_with(&env, &rules, n, &|l| {
        let (taken, _) = l.settled();
        taken == n as u64 && l.replied.load(Ordering::Relaxed) + l.pending.load(Ordering::Relaxed) == n as u64
    });
    assert!(report.balanced(), "{report}");
    assert_eq!(report.requests, n as u64);
    assert_eq!(
        report.pending, report.faults["late"],
        "the late replies were still due: {report}"
    );
    assert!(report.pending > 50 && report.pending < 150, "{report}");
    assert_eq!(report.replied, n as u64 - report.pending);
    assert_eq!(held(&env, topic), report.replied as i64, "nothing pending was sent");
}

#[test]
fn the_cli_refuses_bad_rules_at_their_key_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"authorize\"\nstate = \"Requested\"\nreply = \"authorized\"\nwhen = { accountId = { matches = \"acc-(\" } }\n[rule.copy]\nauthCode = \"amount.amountMinor\"\n",
    )
    .unwrap();
    let (code, out, err) = flowharness(&["fake", "--flow", PAYMENTS, "--rules", rules.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    let place = rules.display();
    assert!(
        err.contains(&format!(
            "{place}: rule[0] (authorize).when.accountId: matches: the regex does not compile"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{place}: rule[0] (authorize).copy.authCode: amount.amountMinor is an integer and authCode is a string: a copy between incompatible types"
        )),
        "{err}"
    );
}

#[test]
fn the_cli_bench_answers_every_request_at_full_speed_and_paced() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nstate = \"Requested\"\nreply = \"authorized=9,declined=1\"\n",
    )
    .unwrap();
    for rate in [None, Some("400")] {
        let mut args = vec![
            "fake",
            "--flow",
            PAYMENTS,
            "--rules",
            rules.to_str().unwrap(),
            "--bench",
            "300",
            "--seed",
            "3",
        ];
        if let Some(r) = rate {
            args.extend(["--rate", r]);
        }
        let (code, out, err) = flowharness(&args);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("fake: 300 requests"), "{out}");
        assert!(
            out.contains("300 replied, 0 omitted as planned, 0 unanswerable, 0 pending at stop"),
            "{out}"
        );
        assert!(
            out.contains("fake bench: 300 requests (1.0 reply events each) answered at"),
            "{out}"
        );
        let pace = match rate {
            Some(_) => "latency at 400 requests/s paced: p50",
            None => "latency at full speed (queueing included): p50",
        };
        assert!(out.contains(pace), "{out}");
        assert!(
            out.contains(
                "accounting exact: 300 requests acknowledged to the requester, 300 taken; 300 reply events acknowledged, 300 held on the reply topics"
            ),
            "{out}"
        );
    }
}
