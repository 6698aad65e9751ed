//! JSON Schema (draft 2020-12) contracts, validated through jsonschema's
//! `iter_errors`, every violation with its instance and schema paths.

use serde_json::Value;

use crate::error::{Diagnostic, Error, Result};
use crate::schema::path::Violation;

/// A compiled JSON Schema.
#[derive(Debug)]
pub struct JsonSchema {
    json: Value,
    validator: jsonschema::Validator,
}

impl Clone for JsonSchema {
    fn clone(&self) -> Self {
        // The schema compiled once already, so compiling again cannot fail.
        Self::from_value(self.json.clone()).unwrap_or_else(|_| unreachable_clone())
    }
}

#[allow(clippy::panic, reason = "a state that cannot be, stated as a panic with its message")]
fn unreachable_clone() -> JsonSchema {
    panic!("a JSON Schema that compiled once failed to compile again")
}

/// The draft a schema declares with `$schema` (default 2020-12).
fn draft_of(json: &Value) -> jsonschema::Draft {
    let declared = json.get("$schema").and_then(Value::as_str).unwrap_or("");
    if declared.contains("draft-07") {
        jsonschema::Draft::Draft7
    } else if declared.contains("draft-06") {
        jsonschema::Draft::Draft6
    } else if declared.contains("draft-04") {
        jsonschema::Draft::Draft4
    } else if declared.contains("2019-09") {
        jsonschema::Draft::Draft201909
    } else {
        jsonschema::Draft::Draft202012
    }
}

impl JsonSchema {
    pub fn from_value(json: Value) -> Result<Self> {
        let validator = jsonschema::options()
            .with_draft(draft_of(&json))
            .build(&json)
            .map_err(|e| {
                let at = pointer(&e.instance_path().to_string());
                Error::invalid(Diagnostic::new(format!("JSON Schema does not compile: {e}")).within(at))
            })?;
        Ok(JsonSchema { json, validator })
    }

    pub fn json(&self) -> &Value {
        &self.json
    }

    /// Every violation of `instance`, each at its instance path, with the
    /// schema path of the keyword that failed.
    pub fn validate(&self, instance: &Value) -> Vec<Violation> {
        if self.validator.is_valid(instance) {
            return Vec::new();
        }
        self.validator
            .iter_errors(instance)
            .map(|e| Violation {
                path: pointer(&e.instance_path().to_string()),
                message: format!("{e} (schema path {})", e.schema_path()),
            })
            .collect()
    }

    /// The `examples` the schema carries at its root.
    pub fn examples(&self) -> Vec<Value> {
        self.json
            .get("examples")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }
}

/// Turns a JSON pointer (`/data/options/0/code`) into our path style
/// (`data.options[0].code`).
fn pointer(p: &str) -> String {
    let mut out = String::new();
    for part in p.split('/').filter(|s| !s.is_empty()) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if part.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&part);
        }
    }
    if out.is_empty() { "(root)".to_string() } else { out }
}

#[cfg(test)]
mod tests {
    use super::pointer;

    #[test]
    fn pointers_become_field_paths() {
        assert_eq!(pointer(""), "(root)");
        assert_eq!(pointer("/data/options/0/code"), "data.options[0].code");
        assert_eq!(pointer("/a~1b"), "a/b");
    }
}
