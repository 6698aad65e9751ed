//! A service under test: start it with the run's broker and registry,
//! wait for its consumer group to catch up, and watch its output topic.
//! `{topic}` in a command, topic or group name stands for the scenario's
//! own topic.

use std::time::Duration;

use cucumber::{given, then, when};

use super::super::world::{FlowWorld, environment, off_thread, step_failed};
use crate::flow::fields;
use crate::kafka::lag;
use crate::kafka::observer::{Decoder, first_match};

fn with_topic(w: &FlowWorld, text: &str) -> String {
    text.replace("{topic}", &w.topic)
}

fn seconds(n: i64) -> Duration {
    u64::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .map(Duration::from_secs)
        .unwrap_or_else(|| step_failed(&format!("{n} seconds: give a positive number")))
}

#[given(expr = "the topic {string} exists")]
async fn a_topic_exists(w: &mut FlowWorld, topic: String) {
    let topic = with_topic(w, &topic);
    off_thread(w, move |w| {
        let partitions = w.flow_spec().and_then(|f| f.partitions()).unwrap_or(3);
        environment()
            .cluster
            .create_topic(&topic, partitions)
            .unwrap_or_else(|e| step_failed(&e.to_string()));
    })
    .await;
}

#[when(expr = "the command {string} is started")]
async fn a_command_is_started(w: &mut FlowWorld, command: String) {
    let command = with_topic(w, &command);
    off_thread(w, move |w| {
        let log = std::env::temp_dir().join(format!("{}-{}.log", w.topic, w.processes.0.len()));
        let child = crate::service::start(&command, environment(), &w.topic, &[], &log)
            .unwrap_or_else(|e| step_failed(&e.to_string()));
        crate::console::say(format!(
            "started {command:?} (pid {}, log {})",
            child.id(),
            log.display()
        ));
        w.processes.add(child);
    })
    .await;
}

#[when(expr = "the consumer group {string} reads the topic")]
async fn a_group_reads_the_topic(w: &mut FlowWorld, group: String) {
    let group = with_topic(w, &group);
    off_thread(w, move |w| {
        let read = lag::consume_and_commit(&environment().cluster, &group, &w.topic, Duration::from_secs(30))
            .unwrap_or_else(|e| step_failed(&e.to_string()));
        if read == 0 {
            step_failed(&format!("the consumer group {group} read nothing from {}", w.topic));
        }
    })
    .await;
}

#[then(expr = "the consumer group {string} has caught up within {int} seconds")]
async fn a_group_has_caught_up(w: &mut FlowWorld, group: String, within: i64) {
    let within = seconds(within);
    let group = with_topic(w, &group);
    off_thread(w, move |w| {
        let lag = lag::wait_for_zero_lag(&environment().cluster, &group, &w.topic, within)
            .unwrap_or_else(|e| step_failed(&e.to_string()));
        if let Err(left) = lag {
            step_failed(&format!(
                "the consumer group {group} still lags {left} messages behind on {} after {}s",
                w.topic,
                within.as_secs()
            ));
        }
    })
    .await;
}

#[then(expr = "the topic {string} receives a message with {word} equal to {string} within {int} seconds")]
async fn a_topic_receives(w: &mut FlowWorld, topic: String, field: String, expected: String, within: i64) {
    let topic = with_topic(w, &topic);
    let within = seconds(within);
    off_thread(w, move |_| {
        let env = environment();
        let decoder = Decoder {
            registry: env.registry.clone(),
        };
        let found = first_match(&env.cluster, &topic, &decoder, within, &mut |o| {
            o.value
                .as_ref()
                .ok()
                .and_then(|v| fields::get(v, &field))
                .is_some_and(|v| fields::text(v) == expected)
        })
        .unwrap_or_else(|e| step_failed(&e.to_string()));
        if let Err(read) = found {
            step_failed(&format!(
                "no message with {field} = {expected:?} on {topic} within {}s ({read} other messages read)",
                within.as_secs()
            ));
        }
    })
    .await;
}
