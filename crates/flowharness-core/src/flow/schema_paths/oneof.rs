//! States from a Protobuf `oneof`: which member is set. A state's body is
//! its member's message, so short field paths resolve inside it.

use super::{Body, Problems, State, StateSource, path};
use crate::flow::path::{MsgPath, Start};
use crate::schema::Schema;

/// The body of the state whose member is `member`, in the message at
/// `holder` (the root where `holder` is empty).
pub(super) fn member_body<'a>(schema: &'a Schema, holder: &MsgPath, member: &str) -> Option<Body<'a>> {
    let Schema::Protobuf(proto) = schema else { return None };
    let holder_json = holder
        .text()
        .split('.')
        .filter(|s| !s.is_empty())
        .try_fold(proto.json(), |v, seg| v.get("properties").and_then(|p| p.get(seg)))?;
    let prefix_text = if holder.text().is_empty() {
        member.to_string()
    } else {
        format!("{}.{member}", holder.text())
    };
    Some(Body {
        union: holder.clone(),
        prefix: path::compile(schema, Start::Root, &prefix_text).ok()?,
        branch: member.to_string(),
        start: Start::Json(holder_json.get("properties")?.get(member)?),
    })
}

/// A Protobuf `oneof` (`event`, or `envelope.event` inside a field's
/// message) and, per state, its member's body: a state names its member by
/// field name (`dispatched`) or by the member's message type (`Dispatched`).
pub(super) fn bodies<'a>(
    schema: &'a Schema,
    text: &str,
    states: &[State],
    p: &mut Problems,
) -> Option<(StateSource, Vec<Option<Body<'a>>>)> {
    let Schema::Protobuf(proto) = schema else { return None };
    let full = |at: &str, name: &str| {
        if at.is_empty() {
            name.to_string()
        } else {
            format!("{at}.{name}")
        }
    };
    let found = proto.oneofs().iter().find(|(at, name, _)| full(at, name) == text);
    let Some((at, name, members)) = found else {
        let known: Vec<String> = proto.oneofs().iter().map(|(at, name, _)| full(at, name)).collect();
        p.add(
            "state.union",
            format!(
                "{} has no oneof {text:?} (oneofs: {})",
                proto.name(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ),
        );
        return None;
    };
    let holder = path::compile(schema, Start::Root, at).ok()?;
    let bodies = states
        .iter()
        .map(|s| {
            let sel = s.selector.as_str().unwrap_or_default();
            let member = members.iter().find(|m| {
                m.as_str() == sel
                    || proto
                        .member_type(at, m)
                        .is_some_and(|t| t == sel || t.rsplit('.').next() == Some(sel))
            });
            let Some(member) = member else {
                p.add(
                    &format!("states.{}", s.name),
                    format!(
                        "oneof {text:?} has no member {} (members: {})",
                        s.selector,
                        members.join(", ")
                    ),
                );
                return None;
            };
            member_body(schema, &holder, member)
        })
        .collect();
    Some((
        StateSource::Oneof {
            holder,
            name: name.clone(),
            members: members.clone(),
        },
        bodies,
    ))
}
