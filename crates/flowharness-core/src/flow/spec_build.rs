//! Building a [`FlowSpec`] from its file's tables: states, the `[flow]`
//! table, transitions, paths (derived when none are named), invariants,
//! timing and references, each problem collected at its key so one run
//! reports them all.

use serde_json::Value;

use super::schema_paths::Resolver;
use super::spec::{Channel, FlowSpec, PathDef, Problems, Reference, Severity, State};
use super::spec_file::{ChannelFile, PathFile, SpecFile, state_entry};

pub(super) fn build(file: SpecFile, channels: Vec<ChannelFile>, p: &mut Problems) -> FlowSpec {
    let states: Vec<State> = file
        .states
        .iter()
        .map(|(name, value)| {
            let (selector, channel) = state_entry(name, value, &channels, p);
            State {
                name: name.clone(),
                selector,
                branch: None,
                channel,
            }
        })
        .collect();
    if states.is_empty() {
        p.add("states", "a flow needs at least one state");
    }
    let find = |key: &str, name: &str, p: &mut Problems| -> Option<usize> {
        let found = states.iter().position(|s| s.name == name);
        if found.is_none() {
            let known: Vec<&str> = states.iter().map(|s| s.name.as_str()).collect();
            p.add(key, format!("unknown state {name:?} (states: {})", known.join(", ")));
        }
        found
    };
    let list = |key: &str, names: &[String], p: &mut Problems| -> Vec<usize> {
        names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| find(&format!("{key}[{i}]"), n, p))
            .collect()
    };
    let start = list("flow.start", &file.flow.start, p);
    let end = list("flow.end", &file.flow.end, p);
    let restart_after = list("flow.restart_after", &file.flow.restart_after, p);
    let mut transitions = vec![Vec::new(); states.len()];
    for (from, targets) in &file.transitions {
        let Some(f) = find(&format!("transitions.{from}"), from, p) else {
            continue;
        };
        for (to, weight) in targets {
            if let Some(t) = find(&format!("transitions.{from}.{to}"), to, p) {
                transitions[f].push((t, *weight));
            }
        }
    }
    for (i, s) in states.iter().enumerate() {
        if transitions[i].is_empty() && !end.contains(&i) {
            p.add(
                &format!("transitions.{}", s.name),
                format!(
                    "state {:?} is not an end state and has no transitions: flows would stop nowhere",
                    s.name
                ),
            );
        }
    }
    // Every end state must be reachable from a start state.
    let mut reached: Vec<usize> = start.clone();
    let mut i = 0;
    while i < reached.len() {
        for (t, _) in &transitions[reached[i]] {
            if !reached.contains(t) {
                reached.push(*t);
            }
        }
        i += 1;
    }
    for (k, e) in end.iter().enumerate() {
        if !reached.contains(e) {
            p.add(
                &format!("flow.end[{k}]"),
                format!("end state {:?} cannot be reached from a start state", states[*e].name),
            );
        }
    }
    let mut paths = Vec::new();
    for (name, def) in &file.paths {
        let raw: Vec<Vec<String>> = match def {
            PathFile::One(l) => vec![l.clone()],
            PathFile::Many(l) => l.clone(),
        };
        let mut alternatives = Vec::new();
        for (a, seq) in raw.iter().enumerate() {
            let key = format!("paths.{name}[{a}]");
            let ids = list(&key, seq, p);
            if ids.len() != seq.len() {
                continue;
            }
            if !ids.first().is_some_and(|s| start.contains(s)) {
                p.add(&key, "a path must begin with a start state");
            } else if !ids.last().is_some_and(|s| end.contains(s)) {
                p.add(&key, "a path must finish in an end state");
            } else if let Some(w) = ids
                .windows(2)
                .find(|w| !transitions[w[0]].iter().any(|(t, _)| *t == w[1]))
            {
                p.add(
                    &key,
                    format!(
                        "{} → {} is not an allowed transition",
                        states[w[0]].name, states[w[1]].name
                    ),
                );
            }
            alternatives.push(ids);
        }
        paths.push(PathDef {
            name: name.clone(),
            alternatives,
        });
    }
    if file.paths.is_empty() {
        paths = derived_paths(&states, &start, &end, &transitions);
        if paths.is_empty() && !start.is_empty() && !end.is_empty() {
            p.add(
                "paths",
                "no path without repeats leads from a start to an end state: give [paths]",
            );
        }
    }
    let restart_path = file.flow.restart_path.as_ref().and_then(|r| {
        let found = paths.iter().position(|x| &x.name == r);
        if found.is_none() {
            p.add("flow.restart_path", format!("unknown path {r:?}"));
        }
        found
    });
    let resolver = Resolver::new(&channels, &states, p);
    let keys: Vec<Option<String>> = channels.iter().map(|c| c.key.clone()).collect();
    let key = resolver.every_per_topic("key", &file.key, &keys, p);
    if file.key.trim().is_empty() {
        p.add(
            "key",
            "name the field the message key is, as a path (\"orderId\", \"meta.accountId\")",
        );
    }
    if file.flow.id.list().iter().any(|i| i.trim().is_empty()) {
        p.add(
            "flow.id",
            "name the field that identifies a flow, as a path (\"orderId\")",
        );
    }
    if file.flow.id_header.as_deref().is_some_and(|h| h.trim().is_empty()) {
        p.add("flow.id_header", "give the header's name, or leave id_header out");
    }
    let ids = file.flow.id.list();
    let flow_id = ids
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let per_topic: Vec<Option<String>> = channels
                .iter()
                .map(|c| c.id.as_ref().and_then(|ids| ids.get(i).cloned()))
                .collect();
            resolver.every_per_topic(&format!("flow.id[{i}]"), f, &per_topic, p)
        })
        .collect();
    for c in &channels {
        if c.id.as_ref().is_some_and(|own| own.len() != ids.len()) {
            p.add(
                &format!("topics.{}.id", c.topic),
                format!("give as many id fields as flow.id ({})", ids.len()),
            );
        }
    }
    let skew = file.flow.cross_topic_skew.as_ref().map_or(0, |s| {
        crate::generate::time::parse_duration_ms(s)
            .map_err(|e| p.add("flow.cross_topic_skew", e))
            .unwrap_or(0)
    });
    let invariants = resolver.some_of("flow.invariants", &file.flow.invariants, p);
    let unique = resolver.some_of("flow.unique", &file.flow.unique, p);
    let timing = file.timing.as_ref().map(|t| resolver.timing(t, p));
    let references = file
        .references
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let key = format!("references[{i}]");
            let state = find(&format!("{key}.state"), &r.state, p)?;
            let target_state = find(&format!("{key}.target_state"), &r.target_state, p)?;
            Some(Reference {
                state,
                field: resolver.in_state(&format!("{key}.field"), &r.field, state, p),
                target_state,
                target_field: resolver.in_state(&format!("{key}.target_field"), &r.target_field, target_state, p),
            })
        })
        .collect();
    let sources = resolver.sources();
    let branches = resolver.branches();
    if channels.len() > 1 {
        let timed = |s: usize| {
            timing
                .as_ref()
                .is_some_and(|t| t.states[s].is_some() || t.monotonic.iter().any(|m| m.field.at(s).is_some()))
        };
        for (s, state) in states.iter().enumerate() {
            if !timed(s) {
                p.add(
                    &format!("states.{}", state.name),
                    "a flow across topics orders its events by their times: give this state a time field in [timing.states] or timing.monotonic",
                );
            }
        }
    }
    let channels: Vec<Channel> = channels
        .into_iter()
        .zip(sources)
        .map(|(c, state_source)| Channel {
            records: c.state.record == Some(true),
            partitions: c.partitions,
            topic: c.topic,
            schema: c.schema,
            state_source,
        })
        .collect();
    let first = &channels[0];
    let (schema, topic, state_source) = (first.schema.clone(), first.topic.clone(), first.state_source.clone());
    let mut spec = FlowSpec {
        name: file.name,
        description: file.description,
        schema,
        topic,
        key,
        state_source,
        states,
        flow_id,
        id_header: file.flow.id_header.clone(),
        start,
        end,
        restart_after,
        restart_path,
        transitions,
        paths,
        invariants,
        unique,
        incomplete: file.flow.incomplete.unwrap_or(Severity::Warning),
        timing,
        references,
        channels,
        cross_topic_skew_ms: skew,
        source: Value::Null,
    };
    for (state, branch) in spec.states.iter_mut().zip(branches) {
        state.branch = branch;
    }
    spec
}

/// Paths for a spec that names none: every way from a start state to an
/// end state that visits no state twice (at most 32), each named by its
/// states (`created-issued-paid`).
fn derived_paths(states: &[State], start: &[usize], end: &[usize], transitions: &[Vec<(usize, u32)>]) -> Vec<PathDef> {
    const MAX: usize = 32;
    fn walk(
        at: usize,
        trail: &mut Vec<usize>,
        end: &[usize],
        transitions: &[Vec<(usize, u32)>],
        found: &mut Vec<Vec<usize>>,
    ) {
        if found.len() >= MAX {
            return;
        }
        trail.push(at);
        if end.contains(&at) {
            found.push(trail.clone());
        }
        for (next, _) in transitions.get(at).map(Vec::as_slice).unwrap_or_default() {
            if !trail.contains(next) {
                walk(*next, trail, end, transitions, found);
            }
        }
        trail.pop();
    }
    let mut found = Vec::new();
    for s in start {
        walk(*s, &mut Vec::new(), end, transitions, &mut found);
    }
    found
        .into_iter()
        .map(|states_of| PathDef {
            name: states_of
                .iter()
                .map(|i| states[*i].name.to_lowercase())
                .collect::<Vec<_>>()
                .join("-"),
            alternatives: vec![states_of],
        })
        .collect()
}
