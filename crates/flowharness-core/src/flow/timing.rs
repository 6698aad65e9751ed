//! Time in flows: the rules of a spec's `[timing]` table, and reading and
//! writing event times in whatever unit a field holds them: epoch days,
//! milliseconds, microseconds, or ISO-8601 text.
//!
//! Every rule is in milliseconds. A rule is relative to the flow's anchor
//! T0 (a field such as an enrollment date), to the flow's first event, or
//! to its previous event; flows without a T0 use the last two.

use serde_json::Value;

use super::path::{Leaf, MsgPath};
use crate::generate::time::{format_date, parse};
use crate::schema::avro::Logical;

const DAY_MS: i64 = 86_400_000;

/// How a field holds a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Days,
    Millis,
    Micros,
    /// ISO-8601 text: `2026-12-02T10:00:00Z`, or `2026-12-02` for a date.
    Iso {
        date_only: bool,
    },
}

impl TimeUnit {
    /// A unit as a spec writes it: `days`, `ms`, `us` (or `µs`), `iso`.
    pub fn parse(text: &str) -> Result<TimeUnit, String> {
        match text {
            "days" | "day" => Ok(TimeUnit::Days),
            "ms" | "millis" => Ok(TimeUnit::Millis),
            "us" | "µs" | "micros" => Ok(TimeUnit::Micros),
            "iso" | "iso8601" | "date-time" => Ok(TimeUnit::Iso { date_only: false }),
            "date" => Ok(TimeUnit::Iso { date_only: true }),
            other => Err(format!(
                "expected \"days\", \"ms\", \"us\", \"iso\" or \"date\", found {other:?}"
            )),
        }
    }

    /// The unit a field's schema type implies: the logical type of an Avro
    /// number, the `format` of a JSON string; plain integers are milliseconds.
    pub fn of(leaf: Leaf) -> Option<TimeUnit> {
        match leaf {
            Leaf::Integer(Some(Logical::Date)) => Some(TimeUnit::Days),
            Leaf::Integer(Some(Logical::TimestampMicros | Logical::LocalTimestampMicros | Logical::TimeMicros)) => {
                Some(TimeUnit::Micros)
            }
            Leaf::Integer(_) => Some(TimeUnit::Millis),
            Leaf::String { date, .. } => Some(TimeUnit::Iso { date_only: date }),
            Leaf::Enum | Leaf::Other => None,
        }
    }
}

/// A time field: a path per state, and its unit when the spec names one.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeField {
    pub field: super::spec::FieldRef,
    /// Overrides the unit the schema implies.
    pub unit: Option<TimeUnit>,
}

impl TimeField {
    /// The field's time in epoch milliseconds, in a message of `state`.
    pub fn read(&self, value: &Value, state: usize) -> Option<i64> {
        let path = self.field.at(state)?;
        read_ms(path, self.unit, value)
    }

    /// Writes `ms` into the field, in its unit; false where the state has no such field.
    pub fn write(&self, value: &mut Value, state: usize, ms: i64) -> bool {
        let Some(path) = self.field.at(state) else { return false };
        path.set(value, to_value(self.unit_at(path), ms));
        true
    }

    fn unit_at(&self, path: &MsgPath) -> TimeUnit {
        self.unit.or(TimeUnit::of(path.leaf())).unwrap_or(TimeUnit::Millis)
    }
}

/// Reads a time at `path` in epoch milliseconds.
pub fn read_ms(path: &MsgPath, unit: Option<TimeUnit>, value: &Value) -> Option<i64> {
    let v = path.get(value)?;
    let unit = unit.or(TimeUnit::of(path.leaf())).unwrap_or(TimeUnit::Millis);
    match (unit, v) {
        (TimeUnit::Days, Value::Number(n)) => n.as_i64().map(|d| d * DAY_MS),
        (TimeUnit::Millis, Value::Number(n)) => n.as_i64(),
        (TimeUnit::Micros, Value::Number(n)) => n.as_i64().map(|us| us.div_euclid(1000)),
        (_, Value::String(s)) => parse_iso(s),
        _ => None,
    }
}

/// A time in the unit's JSON form.
pub fn to_value(unit: TimeUnit, ms: i64) -> Value {
    match unit {
        TimeUnit::Days => Value::from(ms.div_euclid(DAY_MS)),
        TimeUnit::Millis => Value::from(ms),
        TimeUnit::Micros => Value::from(ms.saturating_mul(1000)),
        TimeUnit::Iso { date_only: true } => Value::String(format_date(ms)),
        TimeUnit::Iso { date_only: false } => Value::String(format_date_time(ms)),
    }
}

/// `YYYY-MM-DDTHH:MM:SS.sssZ` of epoch milliseconds (the `.sss` only when not zero).
pub fn format_date_time(ms: i64) -> String {
    let date = format_date(ms);
    let in_day = ms.rem_euclid(DAY_MS);
    let (secs, millis) = (in_day / 1000, in_day % 1000);
    let clock = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if millis == 0 {
        format!("{date}T{clock}Z")
    } else {
        format!("{date}T{clock}.{millis:03}Z")
    }
}

/// Parses ISO-8601 text with `Z` or a `±HH:MM` offset, or a plain date.
pub fn parse_iso(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(ms) = parse(t) {
        return Some(ms);
    }
    // An offset: 2026-12-02T10:00:00+01:00.
    let (body, sign, offset) = match t.len().checked_sub(6).map(|i| t.split_at(i)) {
        Some((body, off)) if (off.starts_with('+') || off.starts_with('-')) && off.as_bytes()[3] == b':' => {
            (body, if off.starts_with('-') { -1 } else { 1 }, &off[1..])
        }
        _ => return None,
    };
    let (h, m) = offset.split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    let utc = parse(&format!("{body}Z")).ok()?;
    Some(utc - sign * (h * 3_600_000 + m * 60_000))
}

/// A window relative to a reference time: `after` at least, `within` at most.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub after: Option<i64>,
    pub within: Option<i64>,
}

impl Window {
    pub fn is_empty(&self) -> bool {
        self.after.is_none() && self.within.is_none()
    }

    /// Whether `t` is inside the window from `reference`, with rules divided by `scale`.
    pub fn holds(&self, t: i64, reference: i64, scale: &dyn Fn(i64) -> i64) -> bool {
        let d = t - reference;
        self.after.is_none_or(|a| d >= scale(a)) && self.within.is_none_or(|w| d <= scale(w))
    }

    /// [`Window::holds`], give or take `slack` either way (clocks of
    /// producers on different topics).
    pub fn holds_within(&self, t: i64, reference: i64, slack: i64, scale: &dyn Fn(i64) -> i64) -> bool {
        let d = t - reference;
        self.after.is_none_or(|a| d + slack >= scale(a)) && self.within.is_none_or(|w| d - slack <= scale(w))
    }

    /// The rule as text, for findings.
    pub fn describe(&self, what: &str, scale: &dyn Fn(i64) -> i64) -> String {
        match (self.after, self.within) {
            (Some(a), Some(w)) => format!("{}ms to {}ms after {what}", scale(a), scale(w)),
            (Some(a), None) => format!("at least {}ms after {what}", scale(a)),
            (None, Some(w)) => format!("within {}ms of {what}", scale(w)),
            (None, None) => String::new(),
        }
    }
}

/// When a state's event happens, relative to the flow's anchor time T0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeRule {
    /// At T0 + offset, give or take `within`.
    At {
        offset: i64,
        within: i64,
    },
    Before(i64),
    After(i64),
}

/// The timing of one state.
#[derive(Debug, Clone, PartialEq)]
pub struct StateTiming {
    /// The state's own time field.
    pub time: TimeField,
    /// Relative to T0.
    pub anchor: Option<TimeRule>,
    /// Relative to the flow's previous event.
    pub previous: Window,
    /// Relative to the flow's first event.
    pub start: Window,
}

/// A flow's timing rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// The field holding T0, when flows have one.
    pub anchor: Option<TimeField>,
    /// Fields that never go backwards within a flow.
    pub monotonic: Vec<TimeField>,
    /// Per state, by index.
    pub states: Vec<Option<StateTiming>>,
}

impl Timing {
    /// An event's own time: its state's time field, else the first
    /// monotonic field it has.
    pub fn event_time(&self, value: &Value, state: usize) -> Option<i64> {
        self.states[state]
            .as_ref()
            .and_then(|s| s.time.read(value, state))
            .or_else(|| self.monotonic.iter().find_map(|m| m.read(value, state)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times_round_trip_and_offsets_are_honoured() {
        let ms = parse_iso("2026-12-02T10:00:00Z").expect("parses");
        assert_eq!(format_date_time(ms), "2026-12-02T10:00:00Z");
        assert_eq!(parse_iso("2026-12-02T11:00:00+01:00"), Some(ms));
        assert_eq!(parse_iso("2026-12-02T09:30:00-00:30"), Some(ms));
        assert_eq!(format_date_time(ms + 5), "2026-12-02T10:00:00.005Z");
        assert_eq!(parse_iso(&format_date_time(ms + 5)), Some(ms + 5));
        assert_eq!(parse_iso("yesterday"), None);
    }

    #[test]
    fn units_parse_and_windows_hold() {
        assert_eq!(TimeUnit::parse("us"), Ok(TimeUnit::Micros));
        assert_eq!(
            TimeUnit::parse("weeks"),
            Err("expected \"days\", \"ms\", \"us\", \"iso\" or \"date\", found \"weeks\"".to_string())
        );
        let w = Window {
            after: Some(0),
            within: Some(2 * DAY_MS),
        };
        let id = |x: i64| x;
        assert!(w.holds(DAY_MS, 0, &id));
        assert!(!w.holds(3 * DAY_MS, 0, &id));
        assert!(!w.holds(-1, 0, &id));
    }
}
