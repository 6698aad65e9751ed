//! What a consumer under test should publish: a table that maps each state
//! of the flow to the message the consumer publishes for it (`-` in every
//! cell: none), with `{flow id}` and `{key}` standing for the event's own
//! flow id and key. The same table serves the BDD step `shows each
//! account's events as:` and `flowharness hunt --expect FILE`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::flow::FlowSpec;
use crate::flow::fields;
use crate::flow::fixture_io::Keyed;
use crate::kafka::Environment;
use crate::kafka::observer::{Decoder, first_match};

/// A message the consumer should publish: (field, value) pairs, in the
/// table's column order.
pub type Expected = Vec<(String, String)>;

/// The expectation table.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectations {
    /// The output message's fields the table names.
    pub fields: Vec<String>,
    /// Per state: what the consumer publishes for it (`None`: nothing).
    pub by_state: BTreeMap<String, Option<Expected>>,
    /// The table's rows as written, for a replay to repeat.
    pub rows: Vec<Vec<String>>,
}

/// One account whose output differs from what its events imply.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub key: String,
    /// 0-based index of the first output message that differs.
    pub at: usize,
    pub expected_count: usize,
    pub expected: Option<Expected>,
    pub observed: Option<Expected>,
}

/// Renders a message `{state=MIGRATED, flowId=…}`.
pub fn render(message: &[(String, String)]) -> String {
    let parts: Vec<String> = message.iter().map(|(f, v)| format!("{f}={v}")).collect();
    format!("{{{}}}", parts.join(", "))
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |m: Option<&Expected>| m.map_or_else(|| "nothing".into(), |m| render(m));
        write!(
            f,
            "account {}: message {} of {}: expected {}, observed {}",
            self.key,
            self.at + 1,
            self.expected_count,
            show(self.expected.as_ref()),
            show(self.observed.as_ref())
        )
    }
}

impl Expectations {
    /// From table rows, the header first: `| event | field ... |`. Every
    /// state named must be one of `spec`'s.
    pub fn from_rows(spec: &FlowSpec, rows: &[Vec<String>]) -> Result<Expectations> {
        let Some((header, body)) = rows.split_first() else {
            return Err(Error::Usage("the table is empty".into()));
        };
        if header.len() < 2 || header[0] != "event" {
            return Err(Error::Usage(
                "the table's header is | event | a field of the output message ... |".into(),
            ));
        }
        let fields = header[1..].to_vec();
        let mut by_state = BTreeMap::new();
        for (n, row) in body.iter().enumerate() {
            if row.len() != header.len() {
                return Err(Error::Usage(format!(
                    "row {}: {} cells, the header has {}",
                    n + 2,
                    row.len(),
                    header.len()
                )));
            }
            if spec.state_index(&row[0]).is_none() {
                let known: Vec<&str> = spec.states().iter().map(|s| s.name.as_str()).collect();
                return Err(Error::Usage(format!(
                    "row {}: flow {} has no state {:?} (states: {})",
                    n + 2,
                    spec.name(),
                    row[0],
                    known.join(", ")
                )));
            }
            let values = &row[1..];
            let message = if values.iter().all(|v| v == "-") {
                None
            } else {
                Some(fields.iter().cloned().zip(values.iter().cloned()).collect())
            };
            by_state.insert(row[0].clone(), message);
        }
        Ok(Expectations {
            fields,
            by_state,
            rows: rows.to_vec(),
        })
    }

    /// From a Gherkin-style table in text: `| event | state |` lines;
    /// blank lines and `#` comments are passed over.
    pub fn parse(spec: &FlowSpec, text: &str) -> Result<Expectations> {
        let rows: Vec<Vec<String>> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .enumerate()
            .map(|(n, l)| {
                let inner = l
                    .strip_prefix('|')
                    .and_then(|l| l.strip_suffix('|'))
                    .ok_or_else(|| Error::Usage(format!("line {}: a table row starts and ends with |", n + 1)))?;
                Ok(inner.split('|').map(|c| c.trim().to_string()).collect())
            })
            .collect::<Result<_>>()?;
        Expectations::from_rows(spec, &rows)
    }

    /// The table as Gherkin, indented by `indent`, its columns aligned.
    pub fn to_gherkin(&self, indent: &str) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            out.push_str(indent);
            out.push('|');
            for (c, cell) in row.iter().enumerate() {
                out.push_str(&format!(" {cell:<w$} |", w = widths[c]));
            }
            out.push('\n');
        }
        out
    }

    /// What each key should see on the output topic, from what was sent
    /// (in send order); an event of a state the table has no row for is an
    /// error naming it.
    pub fn wanted(&self, spec: &FlowSpec, sent: &[Keyed]) -> Result<BTreeMap<String, Vec<Expected>>> {
        let mut wanted: BTreeMap<String, Vec<Expected>> = BTreeMap::new();
        for k in sent {
            let Some(state) = state_of(spec, k) else { continue };
            let name = &spec.states()[state].name;
            let Some(expected) = self.by_state.get(name) else {
                return Err(Error::Usage(format!("the table has no row for the {name} event")));
            };
            let flow_id = spec.flow_id_of(&k.value, state).unwrap_or_default();
            let list = wanted.entry(k.key.clone()).or_default();
            list.extend(expected.as_ref().map(|m| {
                m.iter()
                    .map(|(f, v)| (f.clone(), v.replace("{flow id}", &flow_id).replace("{key}", &k.key)))
                    .collect::<Expected>()
            }));
        }
        Ok(wanted)
    }

    /// An output message as the table sees it: the named fields' values.
    pub fn seen(&self, value: &Value) -> Expected {
        self.fields
            .iter()
            .map(|f| {
                (
                    f.clone(),
                    fields::get(value, f)
                        .map(fields::text)
                        .unwrap_or_else(|| "(missing)".into()),
                )
            })
            .collect()
    }
}

/// What watching a consumer's output topic found.
#[derive(Debug, Clone, PartialEq)]
pub struct Watched {
    /// Keys whose output is not what their events imply.
    pub differences: Vec<Difference>,
    /// Messages that did not decode, by partition and offset.
    pub undecodable: Vec<String>,
    /// Whether the wait ran out before every key had its messages.
    pub timed_out: bool,
}

/// Reads `topic` from its start until every key of `wanted` has as many
/// messages as it should (or `within` runs out), keeping what
/// `expectations` looks at, then compares: the BDD output step and the
/// library's `each_account` both read a consumer's output this way.
pub fn watch(
    env: &Environment,
    topic: &str,
    expectations: &Expectations,
    wanted: &BTreeMap<String, Vec<Expected>>,
    within: Duration,
) -> Result<Watched> {
    let decoder = Decoder {
        registry: env.registry.clone(),
    };
    let mut seen: BTreeMap<String, Vec<Expected>> = BTreeMap::new();
    let mut undecodable = Vec::new();
    let complete = first_match(&env.cluster, topic, &decoder, within, &mut |o| {
        match (&o.key, &o.value) {
            (Some(key), Ok(value)) if wanted.contains_key(key) => {
                seen.entry(key.clone()).or_default().push(expectations.seen(value));
            }
            (_, Err(e)) => undecodable.push(format!("partition {}, offset {}: {e}", o.partition, o.offset)),
            _ => {}
        }
        wanted.iter().all(|(k, v)| seen.get(k).map_or(0, Vec::len) >= v.len())
    })?;
    Ok(Watched {
        differences: compare(wanted, &seen),
        undecodable,
        timed_out: complete.is_err(),
    })
}

/// The state of a sent message: classified on its own topic's schema for
/// a flow across topics.
pub fn state_of(spec: &FlowSpec, k: &Keyed) -> Option<usize> {
    let channel = k.topic.as_deref().and_then(|t| spec.channel_of(t));
    match channel {
        Some(c) if spec.is_multi_topic() => spec.classify_on(c, &k.value).ok(),
        _ => spec.classify(&k.value).ok(),
    }
}

/// Accounts whose observed output differs from what is wanted, each with
/// the first message that differs.
pub fn compare(wanted: &BTreeMap<String, Vec<Expected>>, seen: &BTreeMap<String, Vec<Expected>>) -> Vec<Difference> {
    let mut out = Vec::new();
    for (key, expected) in wanted {
        let actual = seen.get(key).map_or(&[][..], Vec::as_slice);
        if actual != expected.as_slice() {
            let at = expected.iter().zip(actual).take_while(|(e, a)| e == a).count();
            out.push(Difference {
                key: key.clone(),
                at,
                expected_count: expected.len(),
                expected: expected.get(at).cloned(),
                observed: actual.get(at).cloned(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_string()).collect()
    }

    #[test]
    fn differences_name_the_first_message_that_differs() {
        let m = |s: &str| vec![("state".to_string(), s.to_string())];
        let wanted = BTreeMap::from([("a".to_string(), vec![m("ONE"), m("TWO")])]);
        let seen = BTreeMap::from([("a".to_string(), vec![m("ONE")])]);
        let d = compare(&wanted, &seen);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].at, 1);
        assert_eq!(
            d[0].to_string(),
            "account a: message 2 of 2: expected {state=TWO}, observed nothing"
        );
        assert!(compare(&wanted, &wanted).is_empty());
    }

    #[test]
    fn a_table_round_trips_through_gherkin() {
        let e = Expectations {
            fields: vec!["state".into()],
            by_state: BTreeMap::new(),
            rows: vec![row(&["event", "state"]), row(&["Scheduled", "SCHEDULED"])],
        };
        assert_eq!(
            e.to_gherkin("  "),
            "  | event     | state     |\n  | Scheduled | SCHEDULED |\n"
        );
    }
}
