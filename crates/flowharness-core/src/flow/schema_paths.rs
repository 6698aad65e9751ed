//! Resolves a flow spec's field paths against its schema, state by state.
//!
//! A path is read from the message root (`orderId`, `metadata.createdAt`,
//! `payload.OrderPlaced.lines[].sku`). Where the state comes from a union
//! branch, a path may also be written inside the branch's record
//! (`accountId` for `event.AccountMigrationScheduledEvent.accountId`), the
//! short form. When both readings name a field, the spec must write the
//! one it means in full: the resolver never picks one silently.

use super::path::{self, Leaf, MsgPath, Start};
use super::spec::{ChannelFile, FieldRef, Problems, State, StateSource, StateTimingFile, TimingFile};
use super::timing::{StateTiming, TimeField, TimeRule, TimeUnit, Timing, Window};
use crate::generate::time::parse_duration_ms;
use crate::schema::Schema;
use crate::schema::avro::{Node, Union};

mod oneof;

/// Where a union state's body is.
struct Body<'a> {
    /// The union's path from the root.
    union: MsgPath,
    /// The union path with the branch selected (`event.AccountMigrationScheduledEvent`).
    prefix: MsgPath,
    branch: String,
    start: Start<'a>,
}

enum Resolved {
    Found(MsgPath),
    Absent(String),
    /// Names a field from the root and another inside the state's branch.
    Ambiguous(String, String),
}

/// How `text` reads in a message whose state's body is `body` (a union
/// branch), or the whole message for `None`: from the root, or (the short
/// form) inside the branch.
fn resolve_in(schema: &Schema, body: Option<&Body<'_>>, text: &str) -> Resolved {
    let root = path::compile(schema, Start::Root, text);
    let Some(body) = body else {
        return match root {
            Ok(p) => Resolved::Found(p),
            Err(e) => Resolved::Absent(e),
        };
    };
    let (root, other_branch) = match root {
        Ok(r) if path::other_branch(&r, &body.union, &body.branch) => (Err(String::new()), true),
        other => (other, false),
    };
    let short = path::compile(schema, body.start, text).map(|inner| path::extend(&body.prefix, &inner));
    match (root, short) {
        (Ok(r), Ok(s)) if r.text() != s.text() => Resolved::Ambiguous(r.text().to_string(), s.text().to_string()),
        (Ok(r), _) => Resolved::Found(r),
        (Err(_), Ok(s)) => Resolved::Found(s),
        (Err(_), Err(_)) if other_branch => {
            Resolved::Absent(format!("it is in another branch of {}", body.union.text()))
        }
        (Err(_), Err(inner)) => Resolved::Absent(format!("{inner}, nor has the message root")),
    }
}

/// The body of the union state whose branch is `u`'s `b`-th, the union at `union`.
fn branch_body<'a>(schema: &'a Schema, union: &MsgPath, u: &Union, b: usize) -> Option<Body<'a>> {
    let short = &u.keys[b].short;
    let prefix_text = if union.text().is_empty() {
        short.clone()
    } else {
        format!("{}.{short}", union.text())
    };
    Some(Body {
        union: union.clone(),
        prefix: path::compile(schema, Start::Root, &prefix_text).ok()?,
        branch: u.keys[b].full.clone(),
        start: Start::Avro(u.branches[b]),
    })
}

/// Resolves paths for every state of one spec.
pub(super) struct Resolver<'a> {
    /// Per state: its topic's schema.
    schemas: Vec<&'a Schema>,
    /// Per state: its topic.
    channel_of: Vec<usize>,
    topics: Vec<String>,
    sources: Vec<StateSource>,
    bodies: Vec<Option<Body<'a>>>,
    /// States whose branch names nothing: already reported, so not checked further.
    broken: Vec<bool>,
    names: Vec<String>,
}

impl<'a> Resolver<'a> {
    pub(super) fn new(channels: &'a [ChannelFile], states: &[State], p: &mut Problems) -> Resolver<'a> {
        let names = states.iter().map(|s| s.name.clone()).collect();
        let mut bodies: Vec<Option<Body<'a>>> = states.iter().map(|_| None).collect();
        let mut broken = vec![false; states.len()];
        let mut sources = Vec::with_capacity(channels.len());
        let many = channels.len() > 1;
        for (c, channel) in channels.iter().enumerate() {
            let mut problems = Problems(Vec::new());
            let on: Vec<usize> = (0..states.len()).filter(|s| states[*s].channel == c).collect();
            let mine: Vec<State> = on.iter().map(|s| states[*s].clone()).collect();
            let schema = &channel.schema;
            // Where the state source is broken (and reported), the spec is refused anyway.
            let fallback = || {
                path::compile(schema, Start::Root, "")
                    .map(StateSource::Field)
                    .unwrap_or_else(|_| unreachable_root())
            };
            let records = channel.state.record == Some(true);
            let union = match (&channel.state.union, records) {
                (None, true) => Some(""),
                (Some(u), false) => Some(u.as_str()),
                (Some(_), true) => {
                    problems.add("state", "give one of union, field or record");
                    None
                }
                (None, false) => None,
            };
            if records && channel.state.field.is_some() {
                problems.add("state", "give one of union, field or record");
            }
            let single = channel.state.single == Some(true);
            if single && (channel.state.union.is_some() || channel.state.field.is_some() || records) {
                problems.add("state", "single = true takes no union, field or record");
            }
            if single && on.len() != 1 {
                problems.add(
                    "state.single",
                    format!(
                        "single = true means every message on the topic is one state, but {} states are on it",
                        on.len()
                    ),
                );
            }
            if records && !matches!(schema, Schema::Avro(a) if matches!(a.node(a.root()), Node::Union(_))) {
                problems.add(
                    "state.record",
                    "record = true takes the schema's record types from a schema that is a union of records ([{...}, {...}])",
                );
            }
            let source = match (union, &channel.state.field) {
                _ if single => StateSource::Single,
                (Some(u), None) if matches!(schema, Schema::Protobuf(_)) => {
                    match oneof::bodies(schema, u, &mine, &mut problems) {
                        Some((source, found)) => {
                            for (s, body) in on.iter().zip(found) {
                                broken[*s] = body.is_none();
                                bodies[*s] = body;
                            }
                            source
                        }
                        None => {
                            for s in &on {
                                broken[*s] = true;
                            }
                            fallback()
                        }
                    }
                }
                (Some(u), None) => match union_bodies(schema, u, &mine, &mut problems) {
                    Some((union, found)) => {
                        for (s, body) in on.iter().zip(found) {
                            broken[*s] = body.is_none();
                            bodies[*s] = body;
                        }
                        StateSource::Union(union)
                    }
                    None => {
                        for s in &on {
                            broken[*s] = true;
                        }
                        fallback()
                    }
                },
                (None, Some(f)) => state_field(schema, f, &mine, &mut problems).unwrap_or_else(fallback),
                _ => {
                    problems.add(
                        "state",
                        "give exactly one of union = \"path of the union\", field = \"path of the state field\", record = true or single = true",
                    );
                    fallback()
                }
            };
            for d in problems.0 {
                // With several topics, a state problem names its topic.
                p.0.push(
                    if many
                        && d.location.first().is_some_and(|l| l.starts_with("state"))
                        && !d.location[0].starts_with("states.")
                    {
                        d.within(format!("topics.{}", channel.topic))
                    } else {
                        d
                    },
                );
            }
            sources.push(source);
        }
        Resolver {
            schemas: states.iter().map(|s| &channels[s.channel].schema).collect(),
            channel_of: states.iter().map(|s| s.channel).collect(),
            topics: channels.iter().map(|c| c.topic.clone()).collect(),
            sources,
            bodies,
            broken,
            names,
        }
    }

    pub(super) fn sources(&self) -> Vec<StateSource> {
        self.sources.clone()
    }

    /// Per state, the full name of its union branch.
    pub(super) fn branches(&self) -> Vec<Option<String>> {
        self.bodies
            .iter()
            .map(|b| b.as_ref().map(|b| b.branch.clone()))
            .collect()
    }

    /// Per state, how its text reads (`None` for a state whose branch
    /// names nothing, already reported).
    fn resolve_each<'t>(&self, text_of: impl Fn(usize) -> &'t str) -> Vec<Option<Resolved>> {
        (0..self.bodies.len())
            .map(|s| (!self.broken[s]).then(|| resolve_in(self.schemas[s], self.bodies[s].as_ref(), text_of(s))))
            .collect()
    }

    fn ambiguous(&self, text: &str, state: usize, root: &str, short: &str) -> String {
        format!(
            "{text:?} names both {root} and {short} in state {}: write the full path of the one you mean",
            self.names[state]
        )
    }

    /// `text` in every state; the first ambiguity is reported at `key`.
    fn per_state(&self, key: &str, text: &str, p: &mut Problems) -> Vec<Option<Resolved>> {
        let results = self.resolve_each(|_| text);
        if let Some((s, root, short)) = results.iter().enumerate().find_map(|(s, r)| match r {
            Some(Resolved::Ambiguous(root, short)) => Some((s, root, short)),
            _ => None,
        }) {
            p.add(key, self.ambiguous(text, s, root, short));
        }
        results
    }

    fn paths(results: Vec<Option<Resolved>>) -> Vec<Option<MsgPath>> {
        results
            .into_iter()
            .map(|r| match r {
                Some(Resolved::Found(path)) => Some(path),
                _ => None,
            })
            .collect()
    }

    /// A path every state's messages must have (the key, the flow id),
    /// written per topic where a topic names its own.
    pub(super) fn every_per_topic(
        &self,
        key: &str,
        text: &str,
        per_topic: &[Option<String>],
        p: &mut Problems,
    ) -> FieldRef {
        let own = |s: usize| per_topic.get(self.channel_of[s]).and_then(Option::as_deref);
        let results = self.resolve_each(|s| own(s).unwrap_or(text));
        // The first state that lacks it, or reads it two ways, is reported.
        let first = results.iter().enumerate().find_map(|(s, r)| match r {
            Some(Resolved::Found(_)) | None => None,
            Some(other) => Some((s, other)),
        });
        if let Some((s, problem)) = first {
            let path_text = own(s).unwrap_or(text);
            let place = match own(s) {
                Some(_) => format!("topics.{}.{}", self.topic_key(s), key.rsplit('.').next().unwrap_or(key)),
                None => key.to_string(),
            };
            let message = match problem {
                Resolved::Absent(why) => format!("field {path_text:?} is missing from state {}: {why}", self.names[s]),
                Resolved::Ambiguous(root, short) => self.ambiguous(path_text, s, root, short),
                Resolved::Found(_) => String::new(),
            };
            p.add(&place, message);
        }
        FieldRef::new(text, Self::paths(results))
    }

    fn topic_key(&self, state: usize) -> &str {
        &self.topics[self.channel_of[state]]
    }

    /// A path at least one state's messages have.
    pub(super) fn some(&self, key: &str, text: &str, p: &mut Problems) -> FieldRef {
        let results = self.per_state(key, text, p);
        let first_absent = results.iter().enumerate().find_map(|(s, r)| match r {
            Some(Resolved::Absent(why)) => Some(format!("state {}: {why}", self.names[s])),
            _ => None,
        });
        let found = Self::paths(results);
        if found.iter().all(Option::is_none)
            && !self.broken.contains(&true)
            && let Some(first) = first_absent
        {
            p.add(key, format!("no state has a field {text:?} ({first})"));
        }
        FieldRef::new(text, found)
    }

    pub(super) fn some_of(&self, key: &str, texts: &[String], p: &mut Problems) -> Vec<FieldRef> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| self.some(&format!("{key}[{i}]"), t, p))
            .collect()
    }

    /// A path one state's messages must have.
    pub(super) fn in_state(&self, key: &str, text: &str, state: usize, p: &mut Problems) -> FieldRef {
        let results = self.per_state(key, text, p);
        if let Some(Resolved::Absent(why)) = &results[state] {
            p.add(key, format!("state {} has no field {text:?}: {why}", self.names[state]));
        }
        let mut found = Self::paths(results);
        // Only that state's path counts.
        for (s, slot) in found.iter_mut().enumerate() {
            if s != state {
                *slot = None;
            }
        }
        FieldRef::new(text, found)
    }

    fn time_field(&self, key: &str, text: &str, unit: Option<&str>, p: &mut Problems) -> TimeField {
        let unit = unit.and_then(|u| TimeUnit::parse(u).map_err(|e| p.add(&format!("{key}_unit"), e)).ok());
        let field = self.some(key, text, p);
        if unit.is_none()
            && let Some(bad) = (0..self.bodies.len())
                .filter_map(|s| field.at(s))
                .find(|path| TimeUnit::of(path.leaf()).is_none())
        {
            p.add(
                key,
                format!(
                    "{} holds no time (an integer of days, ms or µs, or ISO-8601 text)",
                    bad.text()
                ),
            );
        }
        TimeField { field, unit }
    }

    pub(super) fn timing(&self, t: &TimingFile, p: &mut Problems) -> Timing {
        let anchor = t
            .anchor
            .as_ref()
            .map(|a| self.time_field("timing.anchor", a, t.anchor_unit.as_deref(), p));
        if t.anchor.is_none() && t.anchor_unit.is_some() {
            p.add("timing.anchor_unit", "a unit for no anchor: give timing.anchor too");
        }
        let monotonic = t
            .monotonic
            .iter()
            .enumerate()
            .map(|(i, m)| self.time_field(&format!("timing.monotonic[{i}]"), m, None, p))
            .collect();
        let mut states = vec![None; self.names.len()];
        for (name, st) in &t.states {
            let key = format!("timing.states.{name}");
            let Some(i) = self.names.iter().position(|s| s == name) else {
                p.add(&key, format!("unknown state {name:?}"));
                continue;
            };
            states[i] = self.state_timing(&key, i, st, anchor.as_ref(), p);
        }
        Timing {
            anchor,
            monotonic,
            states,
        }
    }

    fn state_timing(
        &self,
        key: &str,
        state: usize,
        st: &StateTimingFile,
        anchor: Option<&TimeField>,
        p: &mut Problems,
    ) -> Option<StateTiming> {
        if self.broken[state] {
            return None;
        }
        let mut duration = |which: &str, v: &Option<String>| -> Option<i64> {
            v.as_ref().and_then(|text| {
                parse_duration_ms(text)
                    .map_err(|e| p.add(&format!("{key}.{which}"), e))
                    .ok()
            })
        };
        let at = duration("at", &st.at);
        let within = duration("within", &st.within);
        let before = duration("before", &st.before);
        let after = duration("after", &st.after);
        let previous = Window {
            after: duration("after_previous", &st.after_previous),
            within: duration("within_previous", &st.within_previous),
        };
        let start = Window {
            after: duration("after_start", &st.after_start),
            within: duration("within_start", &st.within_start),
        };
        let rule = match (at, before, after) {
            (Some(offset), None, None) => Some(TimeRule::At {
                offset,
                within: within.unwrap_or(3_600_000),
            }),
            (None, Some(b), None) => Some(TimeRule::Before(b)),
            (None, None, Some(a)) => Some(TimeRule::After(a)),
            (None, None, None) => None,
            _ => {
                p.add(key, "give at most one of at, before, after");
                None
            }
        };
        if st.within.is_some() && st.at.is_none() {
            p.add(
                &format!("{key}.within"),
                "within goes with at; for a window after the previous event write within_previous",
            );
        }
        if rule.is_some() {
            match anchor {
                None => p.add(
                    key,
                    "at, before and after are relative to T0: give timing.anchor, or use after_previous, within_previous, after_start, within_start",
                ),
                Some(a) if a.field.at(state).is_none() => p.add(
                    "timing.anchor",
                    format!("state {} has no anchor field {:?}", self.names[state], a.field.text),
                ),
                Some(_) => {}
            }
        }
        let time = self.time_field(&format!("{key}.field"), &st.field, st.unit.as_deref(), p);
        if time.field.at(state).is_none() && !p.has(&format!("{key}.field")) {
            p.add(
                &format!("{key}.field"),
                format!("state {} has no field {:?}", self.names[state], st.field),
            );
        }
        Some(StateTiming {
            time,
            anchor: rule,
            previous,
            start,
        })
    }
}

#[allow(clippy::panic, reason = "a state that cannot be, stated as a panic with its message")]
fn unreachable_root() -> StateSource {
    panic!("the empty path always compiles")
}

/// The union at `text` and, per state, its branch's body.
fn union_bodies<'a>(
    schema: &'a Schema,
    text: &str,
    states: &[State],
    p: &mut Problems,
) -> Option<(MsgPath, Vec<Option<Body<'a>>>)> {
    let Schema::Avro(avro) = schema else {
        p.add(
            "state.union",
            "a JSON Schema has no unions to take states from: name the state field, field = \"data.type\"",
        );
        return None;
    };
    let (union_path, node) = match path::compile_avro_node(avro, avro.root(), text) {
        Ok(x) => x,
        Err(e) => {
            p.add("state.union", format!("{text:?} names no field: {e}"));
            return None;
        }
    };
    let Node::Union(union) = avro.node(node) else {
        p.add(
            "state.union",
            format!("{text:?} is {}, not a union", avro.describe(node)),
        );
        return None;
    };
    let bodies = states
        .iter()
        .map(|s| {
            let Some(b) = s.selector.as_str().and_then(|sel| union.find(sel)) else {
                let known: Vec<&str> = union.keys.iter().map(|k| k.short.as_str()).collect();
                p.add(
                    &format!("states.{}", s.name),
                    format!(
                        "union {text:?} has no branch {} (branches: {})",
                        s.selector,
                        known.join(", ")
                    ),
                );
                return None;
            };
            branch_body(schema, &union_path, union, b)
        })
        .collect();
    Some((union_path, bodies))
}

/// The state field: an enum (its states must be symbols) or a string.
fn state_field(schema: &Schema, text: &str, states: &[State], p: &mut Problems) -> Option<StateSource> {
    let path = match path::compile(schema, Start::Root, text) {
        Ok(path) => path,
        Err(e) => {
            p.add("state.field", format!("{text:?} names no field: {e}"));
            return None;
        }
    };
    if path.has_items() {
        p.add("state.field", "a state field cannot be inside an array");
    }
    if let Schema::Avro(avro) = schema {
        let node = path::compile_avro_node(avro, avro.root(), text)
            .ok()
            .map(|(_, n)| avro.node(n));
        match node {
            Some(Node::Enum(e)) => {
                for s in states {
                    if !s.selector.as_str().is_some_and(|v| e.symbols.iter().any(|x| x == v)) {
                        p.add(
                            &format!("states.{}", s.name),
                            format!(
                                "{} is not a symbol of enum {} ({})",
                                s.selector,
                                e.name.name,
                                e.symbols.join(", ")
                            ),
                        );
                    }
                }
            }
            Some(Node::String(_) | Node::Int(_) | Node::Long(_)) => {}
            Some(other) => p.add(
                "state.field",
                format!(
                    "{text:?} is {}: a state field is an enum, a string or a number",
                    other.type_name()
                ),
            ),
            None => {}
        }
    } else if matches!(path.leaf(), Leaf::Other) {
        p.add("state.field", format!("{text:?} is not a string or integer field"));
    }
    Some(StateSource::Field(path))
}

/// A path written at run time (a step's text), resolved for one state.
pub(super) fn resolve_one(spec: &super::spec::FlowSpec, state: usize, text: &str) -> Result<MsgPath, String> {
    let Some(channel) = spec.states.get(state).map(|s| &spec.channels[s.channel]) else {
        return Err(format!("no state {state}"));
    };
    let schema = &channel.schema;
    let body = match (&channel.state_source, spec.states[state].branch.as_deref(), schema) {
        (StateSource::Union(union), Some(branch), Schema::Avro(avro)) => {
            let node = path::compile_avro_node(avro, avro.root(), union.text())?.1;
            match avro.node(node) {
                Node::Union(u) => u.find(branch).and_then(|b| branch_body(schema, union, u, b)),
                _ => None,
            }
        }
        (StateSource::Oneof { holder, .. }, Some(member), Schema::Protobuf(_)) => {
            oneof::member_body(schema, holder, member)
        }
        _ => None,
    };
    match resolve_in(schema, body.as_ref(), text) {
        Resolved::Found(path) => Ok(path),
        Resolved::Absent(why) => Err(why),
        Resolved::Ambiguous(root, short) => Err(format!("{text:?} names both {root} and {short}: write the full path")),
    }
}
