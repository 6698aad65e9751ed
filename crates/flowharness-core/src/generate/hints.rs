//! Hints: which realistic generator fills which field. Built-in defaults go
//! by field name and logical type; a user's TOML file overrides them by
//! field path. The file format is documented in the README.
//!
//! ```toml
//! now = "2026-01-01"                      # anchor for dates and timestamps
//! [fields]
//! accountId = { generator = "digits", length = 8 }
//! "event.*.mpan" = { constant = "1200023305967" }
//! "data.code" = { regex = "[A-Z]{3,8}(_[A-Z]{3,8})?" }
//! "data.order" = { range = [1, 5] }
//! "data.status" = { one_of = ["ACTIVE"] }
//! ```
//!
//! A key matches a field when its dot-separated segments equal the last
//! segments of the field's path (`metadata.eventId` matches
//! `event.AccountMigrationScheduledEvent.metadata.eventId`); `*` inside a
//! segment matches any text. Array items are `name[]`, map values `name{}`.
//! A user key always beats a built-in one; among keys of one kind the one
//! with more literal characters wins.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::fakes::{self, Fake};
use super::time;
use crate::error::{Diagnostic, Error, Result};

/// How one field is filled.
#[derive(Debug, Clone, PartialEq)]
pub enum Hint {
    Fake(Fake),
    Constant(Value),
    Regex(String),
    /// Inclusive bounds, for numbers.
    Range(f64, f64),
    OneOf(Vec<Value>),
}

#[derive(Debug, Clone)]
struct Rule {
    key: String,
    segments: Vec<String>,
    hint: Hint,
    user: bool,
}

/// The hints in force, and the "now" that dates are generated around.
#[derive(Debug, Clone)]
pub struct Hints {
    rules: Vec<Rule>,
    /// Epoch milliseconds.
    pub now_ms: i64,
}

/// A matched hint, with where it came from.
#[derive(Debug, Clone, Copy)]
pub struct Matched<'a> {
    pub hint: &'a Hint,
    pub key: &'a str,
    /// A user's hint must fit its field; a built-in one is skipped when not.
    pub user: bool,
}

const BUILTIN: &[(&str, &str)] = &[
    ("*Id", "uuid"),
    ("*id", "uuid"),
    ("traceToken", "uuid"),
    ("accountId", "digits7"),
    ("mpan", "mpan"),
    ("code", "upper_snake"),
    ("subscriptions[]", "upper_snake"),
    ("*email", "email"),
    ("*Email", "email"),
    ("*Name", "name"),
    ("name", "name"),
    ("label", "i18n_label"),
    ("description", "i18n_description"),
    ("description", "sentence"),
    ("*At", "timestamp_millis"),
    // The same in snake_case, as .proto files (and many JSON APIs) name fields.
    ("*_id", "uuid"),
    ("trace_token", "uuid"),
    ("account_id", "digits7"),
    ("*_email", "email"),
    ("*_name", "name"),
    ("*_at", "timestamp_millis"),
    ("*_date", "date"),
];

fn builtin(name: &str) -> Fake {
    match name {
        "uuid" => Fake::Uuid,
        "digits7" => Fake::Digits(7),
        "mpan" => Fake::Mpan,
        "upper_snake" => Fake::UpperSnake(1, 3),
        "email" => Fake::Email,
        "name" => Fake::Name,
        "i18n_label" => Fake::I18nLabel(Vec::new()),
        "i18n_description" => Fake::I18nDescription(Vec::new()),
        "sentence" => Fake::Sentence,
        "date" => Fake::Date(30),
        _ => Fake::TimestampMillis(30),
    }
}

impl Hints {
    /// The built-in hints, around `now_ms`.
    pub fn builtin(now_ms: i64) -> Hints {
        let rules = BUILTIN
            .iter()
            .map(|(key, name)| Rule {
                key: key.to_string(),
                segments: split(key),
                hint: Hint::Fake(builtin(name)),
                user: false,
            })
            .collect();
        Hints { rules, now_ms }
    }

    /// The built-in hints around the start of today (UTC), so runs on one
    /// day with one seed agree.
    pub fn today() -> Hints {
        Hints::builtin(time::today_ms())
    }

    /// Reads a hint file over the built-in hints. `now` (epoch ms), when
    /// given, beats the file's own `now`.
    pub fn load(path: &Path, now: Option<i64>) -> Result<Hints> {
        let place = path.display().to_string();
        let text = crate::error::read_to_string(path)?;
        Hints::from_toml(&text, now).map_err(|e| e.within(&place))
    }

    pub fn from_toml(text: &str, now: Option<i64>) -> Result<Hints> {
        let file: HintFile = toml::from_str(text)
            .map_err(|e| Error::invalid(Diagnostic::new(e.to_string().trim().replace('\n', " "))))?;
        let now_ms = match (now, &file.now) {
            (Some(n), _) => n,
            (None, Some(text)) => time::parse(text).map_err(|e| Error::invalid(Diagnostic::new(e).within("now")))?,
            (None, None) => time::today_ms(),
        };
        let mut hints = Hints::builtin(now_ms);
        let mut problems = Vec::new();
        for (key, spec) in file.fields {
            match spec.to_hint() {
                Ok(hint) => hints.rules.push(Rule {
                    segments: split(&key),
                    key,
                    hint,
                    user: true,
                }),
                Err(message) => problems.push(Diagnostic::new(message).within(format!("fields.{key:?}"))),
            }
        }
        if problems.is_empty() {
            Ok(hints)
        } else {
            Err(Error::Invalid(problems))
        }
    }

    /// Adds a user hint in code (as a file line would).
    pub fn with(mut self, key: &str, hint: Hint) -> Hints {
        self.rules.push(Rule {
            key: key.to_string(),
            segments: split(key),
            hint,
            user: true,
        });
        self
    }

    /// Every hint matching a field path, best first.
    pub fn lookup(&self, path: &str) -> Vec<Matched<'_>> {
        let parts = split(path);
        let mut found: Vec<(&Rule, usize)> = self
            .rules
            .iter()
            .filter(|r| matches(&r.segments, &parts))
            .map(|r| (r, r.key.chars().filter(|c| *c != '*').count()))
            .collect();
        found.sort_by(|a, b| b.0.user.cmp(&a.0.user).then(b.1.cmp(&a.1)));
        found
            .into_iter()
            .map(|(r, _)| Matched {
                hint: &r.hint,
                key: &r.key,
                user: r.user,
            })
            .collect()
    }
}

fn split(path: &str) -> Vec<String> {
    path.split('.').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn matches(pattern: &[String], path: &[String]) -> bool {
    pattern.len() <= path.len()
        && pattern
            .iter()
            .zip(&path[path.len() - pattern.len()..])
            .all(|(p, s)| glob(p, s))
}

/// `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(tail) = text.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .filter(|i| tail.is_char_boundary(*i))
                .any(|i| glob(rest, &tail[i..]))
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HintFile {
    now: Option<String>,
    #[serde(default)]
    fields: BTreeMap<String, HintSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HintSpec {
    generator: Option<String>,
    length: Option<usize>,
    words: Option<[usize; 2]>,
    within_days: Option<i64>,
    locales: Option<Vec<String>>,
    constant: Option<toml::Value>,
    regex: Option<String>,
    range: Option<[f64; 2]>,
    one_of: Option<Vec<toml::Value>>,
}

fn to_json(v: &toml::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

impl HintSpec {
    fn to_hint(&self) -> std::result::Result<Hint, String> {
        let given = [
            self.generator.is_some(),
            self.constant.is_some(),
            self.regex.is_some(),
            self.range.is_some(),
            self.one_of.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err("give exactly one of generator, constant, regex, range, one_of".into());
        }
        if let Some(c) = &self.constant {
            return Ok(Hint::Constant(to_json(c)));
        }
        if let Some(r) = &self.regex {
            let _ = proptest::string::string_regex(r).map_err(|e| format!("regex {r:?} is not supported: {e}"))?;
            return Ok(Hint::Regex(r.clone()));
        }
        if let Some([min, max]) = self.range {
            if min > max {
                return Err(format!("range [{min}, {max}] is empty"));
            }
            return Ok(Hint::Range(min, max));
        }
        if let Some(list) = &self.one_of {
            if list.is_empty() {
                return Err("one_of needs at least one value".into());
            }
            return Ok(Hint::OneOf(list.iter().map(to_json).collect()));
        }
        let name = self.generator.as_deref().unwrap_or_default();
        let days = self.within_days.unwrap_or(30);
        let locales = self.locales.clone().unwrap_or_default();
        let [min, max] = self.words.unwrap_or([1, 3]);
        Ok(Hint::Fake(match name {
            "uuid" => Fake::Uuid,
            "digits" => Fake::Digits(self.length.ok_or("generator digits needs length")?),
            "mpan" => Fake::Mpan,
            "upper_snake" => Fake::UpperSnake(min, max),
            "words" => Fake::Words(min, max),
            "sentence" => Fake::Sentence,
            "name" => Fake::Name,
            "email" => Fake::Email,
            "company" => Fake::Company,
            "i18n_label" => Fake::I18nLabel(locales),
            "i18n_description" => Fake::I18nDescription(locales),
            "timestamp_millis" => Fake::TimestampMillis(days),
            "timestamp_micros" => Fake::TimestampMicros(days),
            "date" => Fake::Date(days),
            other => {
                return Err(format!(
                    "unknown generator {other:?} (known: {})",
                    fakes::NAMES.join(", ")
                ));
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_path_suffixes_with_globs() {
        assert!(glob("*Id", "accountId"));
        assert!(glob("a*c*e", "abcde"));
        assert!(!glob("*Id", "identity"));
        let hints = Hints::builtin(0);
        let best = |p: &str| hints.lookup(p).first().map(|m| m.key.to_string());
        assert_eq!(
            best("event.AccountMigrationScheduledEvent.accountId").as_deref(),
            Some("accountId")
        );
        assert_eq!(best("event.X.metadata.eventId").as_deref(), Some("*Id"));
        assert_eq!(best("data.subscriptions[]").as_deref(), Some("subscriptions[]"));
        assert_eq!(best("data.status"), None);
    }

    #[test]
    fn user_hints_beat_builtin_ones() {
        let hints = Hints::from_toml(
            "now = \"2026-01-02\"\n[fields]\n\"*.accountId\" = { generator = \"digits\", length = 9 }\n",
            None,
        )
        .unwrap();
        assert_eq!(hints.now_ms, 1_767_312_000_000);
        let m = hints.lookup("event.X.accountId");
        assert_eq!(m[0].hint, &Hint::Fake(Fake::Digits(9)));
        assert!(m[0].user);
    }

    #[test]
    fn bad_hint_files_name_the_key() {
        let err = Hints::from_toml(
            "[fields]\nx = { generator = \"digit\" }\ny = { range = [5, 1] }\nz = { constant = 1, regex = \"a\" }\n",
            None,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            format!(
                "fields.\"x\": unknown generator \"digit\" (known: {})\nfields.\"y\": range [5, 1] is empty\nfields.\"z\": give exactly one of generator, constant, regex, range, one_of",
                fakes::NAMES.join(", ")
            )
        );
        let err = Hints::from_toml("[fields]\nx = { colour = 1 }\n", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `colour`"), "{err}");
    }
}
