//! What a flow remembers of its invariants' first values.

use serde_json::Value;

use crate::flow::fields::text;

/// An invariant's first value, held compactly for as long as the flow is
/// remembered (a window of resting flows holds many): a text in its own
/// allocation, anything else boxed.
#[derive(Debug)]
pub(super) enum FirstValue {
    Text(Box<str>),
    Other(Box<Value>),
}

impl FirstValue {
    pub(super) fn of(value: &Value) -> FirstValue {
        match value {
            Value::String(s) => FirstValue::Text(s.as_str().into()),
            other => FirstValue::Other(Box::new(other.clone())),
        }
    }

    /// Whether `value` equals the held value.
    pub(super) fn is(&self, value: &Value) -> bool {
        match (self, value) {
            (FirstValue::Text(held), Value::String(s)) => **held == **s,
            (FirstValue::Other(held), other) => **held == *other,
            (FirstValue::Text(_), _) => false,
        }
    }

    pub(super) fn text(&self) -> String {
        match self {
            FirstValue::Text(s) => s.to_string(),
            FirstValue::Other(v) => text(v),
        }
    }
}
