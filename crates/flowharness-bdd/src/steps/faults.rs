//! Deliberately broken traffic: a flow with an event dropped, duplicated,
//! swapped, changed or not matching the schema, and raw bytes from a
//! foreign producer.

use cucumber::when;

use super::super::world::{FlowWorld, off_thread, step_failed};
use super::{generated, index_of_state, produce, queue, set_field};
use crate::verify::Message;

#[when(expr = "a {word} flow is produced with its {word} event dropped")]
async fn a_flow_with_an_event_dropped(w: &mut FlowWorld, path: String, state: String) {
    let mut messages = generated(w, 1, &format!("{path}=1"));
    let i = index_of_state(w.flow(), &messages, &state);
    messages.remove(i);
    queue(w, messages);
    off_thread(w, produce).await;
}

#[when(expr = "a {word} flow is produced with its {word} event duplicated")]
async fn a_flow_with_an_event_duplicated(w: &mut FlowWorld, path: String, state: String) {
    let mut messages = generated(w, 1, &format!("{path}=1"));
    let i = index_of_state(w.flow(), &messages, &state);
    let copy = messages[i].clone();
    messages.insert(i + 1, copy);
    queue(w, messages);
    off_thread(w, produce).await;
}

#[when(expr = "a {word} flow is produced with its {word} and {word} events swapped")]
async fn a_flow_with_events_swapped(w: &mut FlowWorld, path: String, first: String, second: String) {
    let mut messages = generated(w, 1, &format!("{path}=1"));
    let (a, b) = (
        index_of_state(w.flow(), &messages, &first),
        index_of_state(w.flow(), &messages, &second),
    );
    messages.swap(a, b);
    queue(w, messages);
    off_thread(w, produce).await;
}

#[when(expr = "a {word} flow is produced with {word} of its {word} event set to {string}")]
async fn a_flow_with_a_field_changed(w: &mut FlowWorld, path: String, field: String, state: String, value: String) {
    let mut messages = generated(w, 1, &format!("{path}=1"));
    let spec = w.flow().clone();
    let i = index_of_state(&spec, &messages, &state);
    set_field(&spec, &mut messages[i].value, &field, &value);
    queue(w, messages);
    off_thread(w, produce).await;
}

#[when(expr = "a {word} flow is produced with its {word} event not matching the schema")]
async fn a_flow_with_an_event_off_schema(w: &mut FlowWorld, path: String, state: String) {
    let messages = generated(w, 1, &format!("{path}=1"));
    let i = index_of_state(w.flow(), &messages, &state);
    let at = w.pending.len() + i;
    queue(w, messages);
    // Framed with the registered schema's id, then cut short: what a
    // producer with a different schema in hand, or a broken one, sends.
    off_thread(w, move |w| {
        let env = super::super::world::environment();
        let schema = w.schema().clone();
        let subject = crate::registry::SubjectStrategy::Topic.subject(&w.topic, &schema);
        let id = env
            .registry
            .register(&subject, &schema)
            .unwrap_or_else(|e| step_failed(&e.to_string()));
        let mut bytes =
            crate::verify::encode(&schema, id, &w.pending[at].value).unwrap_or_else(|e| w.fail(&e.to_string()));
        let keep = 5 + (bytes.len() - 5) / 2;
        bytes.truncate(keep);
        w.pending[at].raw = Some(bytes);
        produce(w);
    })
    .await;
}

/// Bytes from hex text: `"00 00 00 00 01 ff"` or `"0x0000000001ff"`.
fn hex(text: &str) -> Vec<u8> {
    let digits: String = text
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    if !digits.len().is_multiple_of(2) || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        step_failed(&format!("{text:?}: expected hex bytes, such as \"00 00 00 00 01 ff\""));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap_or_default())
        .collect()
}

#[when(expr = "the bytes {string} are produced with the key {string}")]
async fn raw_bytes_are_produced(w: &mut FlowWorld, bytes: String, key: String) {
    let raw = hex(&bytes);
    w.pending.push(Message {
        key: Some(key),
        raw: Some(raw),
        ..Message::default()
    });
    off_thread(w, produce).await;
}

#[when(expr = "the text {string} is produced with the key {string}")]
async fn text_is_produced(w: &mut FlowWorld, text: String, key: String) {
    w.pending.push(Message {
        key: Some(key),
        raw: Some(text.into_bytes()),
        ..Message::default()
    });
    off_thread(w, produce).await;
}

#[cfg(test)]
mod tests {
    use super::hex;

    #[test]
    fn hex_bytes_read_with_spaces_or_a_prefix() {
        assert_eq!(hex("00 00 00 00 01 ff"), vec![0, 0, 0, 0, 1, 255]);
        assert_eq!(hex("0x0a0B"), vec![10, 11]);
    }
}
