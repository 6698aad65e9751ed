//! What a service under test wrote: for every account the scenario
//! produced, the messages the service published on its output topic, in
//! order, against what the produced events imply (the table of
//! [`crate::hunt::expect`]).

use std::time::Duration;

use cucumber::gherkin::Step;
use cucumber::then;

use super::super::world::{FlowWorld, environment, off_thread, step_failed};
use crate::flow::fixture_io::Keyed;
use crate::hunt::expect::{Expectations, Watched, watch};

#[then(expr = "within {int} seconds the topic {string} shows each account's events as:")]
async fn the_output_follows_the_events(w: &mut FlowWorld, within: i64, topic: String, step: &Step) {
    let within = u64::try_from(within)
        .ok()
        .filter(|n| *n > 0)
        .map(Duration::from_secs)
        .unwrap_or_else(|| step_failed(&format!("{within} seconds: give a positive number")));
    let topic = topic.replace("{topic}", &w.topic);
    let Some(table) = step.table.as_ref() else {
        step_failed("this step needs a table: | event | field ... |")
    };
    let spec = w.flow().clone();
    let expectations = Expectations::from_rows(&spec, &table.rows).unwrap_or_else(|e| step_failed(&e.to_string()));
    // What each account should see, from what was produced, in order.
    let sent: Vec<Keyed> = w
        .run()
        .observed
        .iter()
        .filter_map(|o| match (&o.key, &o.value) {
            (Some(key), Ok(value)) => Some(Keyed {
                key: key.clone(),
                value: value.clone(),
                topic: o.topic.clone(),
                headers: Vec::new(),
            }),
            _ => None,
        })
        .collect();
    let wanted = expectations
        .wanted(&spec, &sent)
        .unwrap_or_else(|e| step_failed(&e.to_string()));
    if wanted.is_empty() {
        w.fail("nothing the scenario produced calls for a message on the output topic");
    }
    off_thread(w, move |w| {
        let Watched {
            differences: wrong,
            undecodable,
            timed_out,
        } = watch(environment(), &topic, &expectations, &wanted, within)
            .unwrap_or_else(|e| step_failed(&e.to_string()));
        if !wrong.is_empty() || !undecodable.is_empty() {
            let shown: Vec<String> = wrong.iter().take(10).map(|d| format!("  {d}")).collect();
            w.fail(&format!(
                "{} of {} accounts on {topic} do not follow their events{}:\n{}{}{}",
                wrong.len(),
                wanted.len(),
                if timed_out {
                    format!(" (waited {}s)", within.as_secs())
                } else {
                    String::new()
                },
                shown.join("\n"),
                if wrong.len() > shown.len() {
                    format!("\n  … and {} more", wrong.len() - shown.len())
                } else {
                    String::new()
                },
                if undecodable.is_empty() {
                    String::new()
                } else {
                    format!("\n  undecodable: {}", undecodable.join("; "))
                }
            ));
        }
    })
    .await;
}
