//! Field paths inside a value: `event.AccountMigrationScheduledEvent.metadata.createdAt`,
//! `items[3]`, `labels["fr-FR"]`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Field(String),
    /// A union branch, by its short name.
    Branch(String),
    Index(usize),
    Key(String),
}

/// A path from the root of a value, built up while walking it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(Vec<Segment>);

impl FieldPath {
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    pub fn push(&mut self, segment: Segment) {
        self.0.push(segment);
    }

    pub fn pop(&mut self) {
        self.0.pop();
    }

    pub fn segments(&self) -> &[Segment] {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(root)");
        }
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Field(name) | Segment::Branch(name) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(name)?;
                }
                Segment::Index(index) => write!(f, "[{index}]")?,
                Segment::Key(key) => write!(f, "[{key:?}]")?,
            }
        }
        Ok(())
    }
}

/// One way a value breaks its schema, at a path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct Violation {
    pub path: String,
    pub message: String,
}

impl Violation {
    pub fn new(path: &FieldPath, message: impl Into<String>) -> Self {
        Violation {
            path: path.to_string(),
            message: message.into(),
        }
    }

    pub fn to_diagnostic(&self) -> crate::error::Diagnostic {
        crate::error::Diagnostic::new(self.message.clone()).within(self.path.clone())
    }
}

/// A short rendering of a JSON value for messages: `string "2005-02-02"`, `null`.
pub fn describe_json(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => {
            let shown: String = s.chars().take(60).collect();
            if shown.len() < s.len() {
                format!("string {:?}…", shown)
            } else {
                format!("string {s:?}")
            }
        }
        Value::Array(a) => format!("array of {} items", a.len()),
        Value::Object(o) => {
            let keys: Vec<&str> = o.keys().take(5).map(String::as_str).collect();
            format!("object {{{}}}", keys.join(", "))
        }
    }
}
