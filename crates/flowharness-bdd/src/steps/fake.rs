//! A fake upstream that answers, started for the scenario: by a rules
//! file (with faults from a table), or in a line for a request that is a
//! state of the flow. A request sent as the service under test would, and
//! the fake's accounting checked when the scenario is done with it.
//! `{topic}` in rules files stands for the scenario's topic; a flow's
//! other topics are `{topic}-NAME`, as the produce steps name them.

use crate::num::Cast as _;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use cucumber::gherkin::Step;
use cucumber::{given, then, when};

use super::super::world::{FlowWorld, RunningFake, environment, off_thread, step_failed};
use crate::fake::{FakeOptions, Live, Rules};
use crate::flow::FlowSpec;
use crate::flow::fields;
use crate::kafka::observer::{Decoder, first_match};

fn rows(step: &Step) -> Vec<Vec<String>> {
    step.table.as_ref().map(|t| t.rows.clone()).unwrap_or_default()
}

/// Starts the fake with `rules` for the scenario, its topics renamed.
fn start(w: &mut FlowWorld, spec: &Arc<FlowSpec>, mut rules: Rules) {
    if w.fake.is_some() {
        step_failed("the scenario already runs a fake");
    }
    let topic = w.topic.clone();
    rules.rename_channels(spec, &|c| format!("{topic}-{}", spec.channels()[c].topic));
    let live = Arc::new(Live::default());
    let options = FakeOptions {
        group: format!("fake-{topic}"),
        seed: rules.seed.unwrap_or(w.seed),
        time_scale: rules.time_scale.unwrap_or(86_400.0),
        live: Some(live.clone()),
        ..FakeOptions::default()
    };
    // The fake's topics exist before the step ends, so what is sent next finds them.
    let env = environment();
    for t in rules.rules.iter().map(|r| &r.topic).chain(&rules.reply_topics) {
        env.cluster
            .create_topic(t, 1)
            .unwrap_or_else(|e| step_failed(&e.to_string()));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (spec2, rules2, stop2) = (spec.clone(), rules.clone(), stop.clone());
    let handle =
        std::thread::spawn(move || crate::fake::run(environment(), &spec2, &rules2, &options, &stop2, &mut |_| {}));
    crate::console::say(format!(
        "fake: answering on {} (group fake-{topic}), replies on {}",
        rules
            .rules
            .iter()
            .map(|r| r.topic.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        rules.reply_topics.join(", ")
    ));
    w.fake = Some(RunningFake {
        stop,
        handle: Some(handle),
        live,
        rules,
    });
}

fn load_rules(w: &FlowWorld, spec: &FlowSpec, path: &str) -> Rules {
    Rules::load(&w.resolve_path(path), spec, &w.topic).unwrap_or_else(|e| step_failed(&e.to_string()))
}

#[given(expr = "a fake answers with the rules {string}")]
async fn a_fake_with_rules(w: &mut FlowWorld, path: String) {
    let spec = w.flow().clone();
    let rules = load_rules(w, &spec, &path);
    off_thread(w, move |w| start(w, &spec, rules)).await;
}

#[given(expr = "a fake answers with the rules {string} and these faults:")]
async fn a_fake_with_rules_and_faults(w: &mut FlowWorld, step: &Step, path: String) {
    let spec = w.flow().clone();
    let mut rules = load_rules(w, &spec, &path);
    let table = rows(step);
    let Some((head, body)) = table.split_first() else {
        step_failed("the step needs a table: | fault | percent | (and `by` for late)")
    };
    let col = |name: &str| head.iter().position(|h| h.trim() == name);
    let (Some(fc), Some(pc)) = (col("fault"), col("percent")) else {
        step_failed("the faults table needs the columns fault and percent")
    };
    for row in body {
        let fault = crate::fake::Fault::ALL
            .into_iter()
            .find(|f| f.name() == row[fc].trim())
            .unwrap_or_else(|| {
                let names: Vec<&str> = crate::fake::Fault::ALL.iter().map(|f| f.name()).collect();
                step_failed(&format!("no fault {:?} (faults: {})", row[fc], names.join(", ")))
            });
        let percent: f64 = row[pc]
            .trim()
            .parse()
            .unwrap_or_else(|_| step_failed(&format!("percent: expected a number, found {:?}", row[pc])));
        let by = col("by").map(|c| row[c].trim()).filter(|b| !b.is_empty());
        let late_by = by.map(|b| {
            crate::generate::time::parse_duration_ms(b)
                .unwrap_or_else(|e| step_failed(&format!("by: {e}")))
                .sat_u64()
        });
        if fault == crate::fake::Fault::Late && late_by.is_none() {
            step_failed("a late fault needs `by`: how much later");
        }
        for r in &mut rules.rules {
            r.faults.retain(|(f, _)| *f != fault);
            r.faults.push((fault, percent / 100.0));
            if let Some(ms) = late_by {
                r.late_by_ms = ms;
            }
            if fault == crate::fake::Fault::WrongCorrelation && r.correlation.is_empty() {
                step_failed(&format!(
                    "rule {}: its replies carry no correlation to get wrong",
                    r.name
                ));
            }
        }
    }
    off_thread(w, move |w| start(w, &spec, rules)).await;
}

fn state_rules(w: &FlowWorld, spec: &FlowSpec, state: &str, reply: &str) -> Rules {
    let text = format!("[[rule]]\nname = {state:?}\nstate = {state:?}\nreply = {reply:?}\n");
    Rules::parse(&text, spec, &w.topic, &|p: &str| {
        crate::schema::Schema::load(&w.resolve_path(p))
    })
    .unwrap_or_else(|e| step_failed(&e.to_string()))
}

#[given(expr = "a fake answers each {word} with a(n) {word} flow")]
async fn a_fake_answers_each(w: &mut FlowWorld, state: String, path: String) {
    let spec = w.flow().clone();
    let rules = state_rules(w, &spec, &state, &path);
    off_thread(w, move |w| start(w, &spec, rules)).await;
}

#[given(expr = "a fake answers each {word} with the mix {string}")]
async fn a_fake_answers_each_with_mix(w: &mut FlowWorld, state: String, mix: String) {
    let spec = w.flow().clone();
    let rules = state_rules(w, &spec, &state, &mix);
    off_thread(w, move |w| start(w, &spec, rules)).await;
}

fn send_request(w: &mut FlowWorld, which: &str, fields: &[(String, String)]) {
    let spec = w.flow().clone();
    let Some(fake) = &w.fake else {
        step_failed("no fake runs: start one with Given a fake answers …")
    };
    let rules = &fake.rules;
    let rule = rules
        .rules
        .iter()
        .find(|r| r.name == which)
        .or_else(|| {
            rules.rules.iter().find(|r| match &r.on {
                crate::fake::rules::On::State(s) => spec.states()[*s].name == which,
                crate::fake::rules::On::Record { schema, record } => {
                    record
                        .as_deref()
                        .is_some_and(|n| n == which || n.ends_with(&format!(".{which}")))
                        || matches!(schema.as_ref(), crate::schema::Schema::Avro(a)
                            if a.root_name().is_some_and(|n| n == which || n.ends_with(&format!(".{which}"))))
                }
            })
        })
        .unwrap_or_else(|| {
            let names: Vec<&str> = rules.rules.iter().map(|r| r.name.as_str()).collect();
            step_failed(&format!(
                "the fake has no rule, state or record {which:?} (rules: {})",
                names.join(", ")
            ))
        })
        .clone();
    let hints = Arc::new(crate::generate::hints::Hints::today());
    let mut request = crate::fake::requests::sample(&spec, &rule, &hints, 1, w.seed)
        .unwrap_or_else(|e| step_failed(&e.to_string()))
        .pop()
        .unwrap_or_else(|| step_failed("no request could be drawn"));
    crate::fake::requests::set_fields(&rule, &spec, &mut request.value, fields)
        .unwrap_or_else(|e| step_failed(&e.to_string()));
    let env = environment();
    let encoder = crate::fake::requests::encoder(env, &spec, &rule).unwrap_or_else(|e| step_failed(&e.to_string()));
    let payload = encoder
        .encode(&request.value)
        .unwrap_or_else(|e| step_failed(&e.to_string()));
    let mut producer =
        crate::kafka::producer::Producer::new(&env.cluster, &crate::kafka::producer::ProducerOptions::default())
            .unwrap_or_else(|e| step_failed(&e.to_string()));
    let headers: Vec<(&str, &[u8])> = request
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_bytes()))
        .collect();
    producer.send(&crate::kafka::producer::Outgoing {
        topic: &rule.topic,
        partition: None,
        key: request.key.as_deref().map(str::as_bytes),
        payload: Some(&payload),
        headers: &headers,
    });
    let delivery = producer.finish();
    if delivery.failed > 0 {
        step_failed(&format!("the request was not delivered: {:?}", delivery.failures));
    }
    crate::console::say(format!("sent to {}: {}", rule.topic, request.value));
}

#[when(expr = "a {word} request is sent")]
async fn a_request_is_sent(w: &mut FlowWorld, which: String) {
    off_thread(w, move |w| send_request(w, &which, &[])).await;
}

#[when(expr = "a {word} request is sent with these fields:")]
async fn a_request_is_sent_with(w: &mut FlowWorld, step: &Step, which: String) {
    let table = rows(step);
    let fields: Vec<(String, String)> = table
        .iter()
        .skip(1)
        .filter(|r| r.len() >= 2)
        .map(|r| (r[0].trim().to_string(), r[1].trim().to_string()))
        .collect();
    off_thread(w, move |w| send_request(w, &which, &fields)).await;
}

#[then(expr = "within {int} seconds the fake has answered {int} request(s): {int} replied and {int} omitted")]
async fn the_fake_has_answered(w: &mut FlowWorld, within: i64, requests: i64, replied: i64, omitted: i64) {
    off_thread(w, move |w| {
        let Some(mut fake) = w.fake.take() else {
            step_failed("no fake runs")
        };
        let deadline = Instant::now() + Duration::from_secs(within.max(1).sat_u64());
        while Instant::now() < deadline {
            let (n, settled) = fake.live.settled();
            if n >= requests.sat_u64() && settled {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let report = fake.stop().unwrap_or_else(|e| step_failed(&e.to_string()));
        crate::console::say(&report);
        let got = (report.requests, report.replied, report.omitted);
        let want = (requests.sat_u64(), replied.sat_u64(), omitted.sat_u64());
        if got != want || !report.balanced() || report.pending > 0 {
            step_failed(&format!(
                "the fake answered {} requests: {} replied and {} omitted ({} unanswerable, {} pending), not {requests}: {replied} and {omitted}\n{report}",
                got.0, got.1, got.2, report.unanswerable, report.pending
            ));
        }
    })
    .await;
}

#[then(expr = "within {int} seconds the topic {string} has {int} message(s) with {word} equal to {string}")]
async fn a_topic_has_messages(w: &mut FlowWorld, within: i64, topic: String, n: i64, field: String, expected: String) {
    let topic = topic.replace("{topic}", &w.topic);
    off_thread(w, move |_| {
        let env = environment();
        let decoder = Decoder {
            registry: env.registry.clone(),
        };
        let mut keys = std::collections::BTreeSet::new();
        let mut others = Vec::new();
        let found = first_match(
            &env.cluster,
            &topic,
            &decoder,
            Duration::from_secs(within.max(1).sat_u64()),
            &mut |o| {
                let v = o
                    .value
                    .as_ref()
                    .ok()
                    .and_then(|v| fields::get(v, &field))
                    .map(fields::text);
                if v.as_deref() == Some(expected.as_str()) {
                    keys.insert(o.key.clone().unwrap_or_else(|| format!("offset {}", o.offset)));
                } else if others.len() < 10 {
                    others.push(format!(
                        "{}: {}",
                        o.key.clone().unwrap_or_default(),
                        v.unwrap_or_else(|| "-".into())
                    ));
                }
                keys.len().sat_i64() >= n
            },
        )
        .unwrap_or_else(|e| step_failed(&e.to_string()));
        if found.is_err() {
            step_failed(&format!(
                "{} of {n} messages with {field} = {expected:?} on {topic} within {within}s; others: {}",
                keys.len(),
                if others.is_empty() {
                    "none".to_string()
                } else {
                    others.join(", ")
                }
            ));
        }
    })
    .await;
}
