//! AsyncAPI documents as files: YAML or JSON text, JSON pointers, and
//! `$ref`s to components, to other files, and to parts of other files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Diagnostic, Error, Result};

/// How many `$ref`s may follow one another before a chain counts as a loop.
const MAX_HOPS: usize = 64;

/// A place in a document: the file, and a JSON pointer into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub file: PathBuf,
    pub pointer: String,
}

impl Place {
    /// The place of a child: `key` appended to the pointer, escaped.
    pub fn child(&self, key: &str) -> Place {
        Place {
            file: self.file.clone(),
            pointer: format!("{}/{}", self.pointer, escape(key)),
        }
    }

    /// How errors name it: `file.yaml#/channels/orders`.
    pub fn name(&self) -> String {
        format!("{}#{}", self.file.display(), self.pointer)
    }

    /// An error at this place.
    pub fn error(&self, message: impl Into<String>) -> Error {
        Error::invalid(Diagnostic::new(message).within(self.name()))
    }
}

/// The files a document and its `$ref`s reach, each parsed once.
#[derive(Debug, Default)]
pub struct Files {
    parsed: HashMap<PathBuf, Value>,
}

impl Files {
    /// The parsed content of a file (YAML, or JSON, which is YAML too).
    pub fn get(&mut self, path: &Path) -> Result<&Value> {
        if !self.parsed.contains_key(path) {
            let value = parse_file(path)?;
            self.parsed.insert(path.to_path_buf(), value);
        }
        self.parsed
            .get(path)
            .ok_or_else(|| Error::Usage(format!("{}: could not be kept after parsing", path.display())))
    }

    /// The value at a place.
    pub fn at(&mut self, place: &Place) -> Result<Value> {
        let root = self.get(&place.file)?;
        lookup(root, &place.pointer)
            .cloned()
            .ok_or_else(|| place.error("nothing at this JSON pointer"))
    }

    /// Follows `$ref`s from a value found at `place` to what they name.
    /// Returns the value and its own place (later relative `$ref`s inside
    /// it resolve against that place's file).
    pub fn deref(&mut self, value: Value, place: Place) -> Result<(Value, Place)> {
        let (mut value, mut place) = (value, place);
        for _ in 0..MAX_HOPS {
            let Some(reference) = ref_of(&value) else {
                return Ok((value, place));
            };
            let target = target_of(&place, reference)?;
            let found = self.at(&target).map_err(|e| {
                e.within(&format!(
                    "{}: $ref {reference:?} is dangling",
                    place.child("$ref").name()
                ))
            })?;
            value = found;
            place = target;
        }
        Err(place.error(format!("$ref chain longer than {MAX_HOPS}: a loop")))
    }

    /// A value with every `$ref` in it replaced by what it names, for
    /// schemas handed to a validator that cannot see the document. A
    /// schema that refers to itself is refused, naming where.
    /// A `$ref` into the value itself (a schema's own `$defs`) stays, made
    /// relative to the value (`#/$defs/X`).
    pub fn inline(&mut self, value: &Value, place: &Place) -> Result<Value> {
        let mut stack = Vec::new();
        self.inline_at(value, place, place, &mut stack)
    }

    fn inline_at(&mut self, value: &Value, place: &Place, root: &Place, stack: &mut Vec<Place>) -> Result<Value> {
        if stack.len() > MAX_HOPS {
            return Err(place.error("schema nested too deep"));
        }
        match value {
            Value::Object(map) => {
                if let Some(reference) = ref_of(value) {
                    let target = target_of(place, reference)?;
                    let inside = format!("{}/", root.pointer);
                    if target.file == root.file
                        && let Some(rest) = target.pointer.strip_prefix(&inside)
                    {
                        let mut kept = map.clone();
                        kept.insert("$ref".into(), Value::String(format!("#/{rest}")));
                        return Ok(Value::Object(kept));
                    }
                    if stack.contains(&target) {
                        return Err(place.child("$ref").error(format!(
                            "$ref {reference:?} refers back to a schema that contains it: recursive schemas are not supported"
                        )));
                    }
                    let found = self.at(&target).map_err(|e| {
                        e.within(&format!(
                            "{}: $ref {reference:?} is dangling",
                            place.child("$ref").name()
                        ))
                    })?;
                    stack.push(target.clone());
                    let inlined = self.inline_at(&found, &target, root, stack);
                    stack.pop();
                    return inlined;
                }
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    out.insert(k.clone(), self.inline_at(v, &place.child(k), root, stack)?);
                }
                Ok(Value::Object(out))
            }
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| self.inline_at(v, &place.child(&i.to_string()), root, stack))
                .collect::<Result<Vec<_>>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }
}

/// A key as a JSON pointer segment (RFC 6901): `~` → `~0`, `/` → `~1`.
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A JSON pointer segment as the key it names.
pub fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// The `$ref` of an object, when it is a reference object.
pub fn ref_of(value: &Value) -> Option<&str> {
    value.as_object()?.get("$ref")?.as_str()
}

/// Where a `$ref` written at `place` points: `#/a/b`, `file.yaml`,
/// `file.yaml#/a/b`, relative to the file it is written in.
fn target_of(place: &Place, reference: &str) -> Result<Place> {
    let (file, pointer) = match reference.split_once('#') {
        Some((file, pointer)) => (file, pointer),
        None => (reference, ""),
    };
    if file.contains("://") {
        return Err(place.child("$ref").error(format!(
            "$ref {reference:?} is remote: only references within the document and to local files are supported"
        )));
    }
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err(place
            .child("$ref")
            .error(format!("$ref {reference:?}: the part after # must be a JSON pointer")));
    }
    let file = if file.is_empty() {
        place.file.clone()
    } else {
        place
            .file
            .parent()
            .map(|d| d.join(file))
            .unwrap_or_else(|| PathBuf::from(file))
    };
    Ok(Place {
        file,
        pointer: percent_decode(pointer),
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value at a JSON pointer (RFC 6901).
pub fn lookup<'v>(root: &'v Value, pointer: &str) -> Option<&'v Value> {
    if pointer.is_empty() {
        return Some(root);
    }
    root.pointer(pointer)
}

/// Parses a document file: JSON when it parses as JSON, YAML otherwise.
pub fn parse_file(path: &Path) -> Result<Value> {
    let text = crate::error::read_to_string(path)?;
    parse_text(&text).map_err(|e| e.within(&path.display().to_string()))
}

/// Parses document text, JSON or YAML.
pub fn parse_text(text: &str) -> Result<Value> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return crate::error::parse_json(text);
    }
    serde_saphyr::from_str::<Value>(text).map_err(|e| {
        let message = e.to_string();
        let first = message.lines().next().unwrap_or("invalid YAML").trim().to_string();
        Error::invalid(Diagnostic::new(format!("invalid YAML: {first}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_escape_and_decode() {
        let place = Place {
            file: PathBuf::from("a.yaml"),
            pointer: String::new(),
        };
        assert_eq!(place.child("a/b").child("c~d").pointer, "/a~1b/c~0d");
        assert_eq!(percent_decode("/x%20y"), "/x y");
        let doc = serde_json::json!({"a/b": {"c~d": 1}});
        assert_eq!(lookup(&doc, "/a~1b/c~0d"), Some(&serde_json::json!(1)));
    }

    #[test]
    fn yaml_and_json_parse_alike() {
        let y = parse_text("a: 1\nb: [x, {c: true}]\n").unwrap();
        let j = parse_text(r#"{"a": 1, "b": ["x", {"c": true}]}"#).unwrap();
        assert_eq!(y, j);
        let bad = parse_text("a: [1, 2\nb: {").unwrap_err().to_string();
        assert!(bad.contains("invalid YAML"), "{bad}");
        assert!(bad.contains("line"), "{bad}");
    }
}
