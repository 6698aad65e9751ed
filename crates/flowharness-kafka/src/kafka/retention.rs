//! How much the embedded broker keeps: a bound by size and one by age
//! (`--retention 1GiB,1h`), the oldest batches going first.

use std::fmt;
use std::time::Duration;

use crate::error::{Error, Result};

/// The embedded broker's retention. `None` in a bound: no bound of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_bytes: Option<u64>,
    pub max_age: Option<Duration>,
}

/// What the embedded broker keeps when not told: 1 GiB or 1 hour, whichever
/// comes first. At the embedded broker's top rate (about 60k events/s of
/// 100–300 byte events) 1 GiB is reached in a few minutes, so a soak of any
/// length stays near 1 GiB of record data plus the broker's baseline.
pub const DEFAULT: Retention = Retention {
    max_bytes: Some(1 << 30),
    max_age: Some(Duration::from_secs(3600)),
};

/// Where and how much the embedded broker keeps: records in memory under
/// `retention`, or, with a data directory, in tansu's sqlite engine there
/// (data survives a restart; records go by each topic's `retention.ms`
/// under `cleanup.policy=delete`, not by `retention`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerStore {
    pub retention: Retention,
    pub data_dir: Option<std::path::PathBuf>,
}

impl Default for Retention {
    fn default() -> Self {
        DEFAULT
    }
}

impl Retention {
    /// Keeps everything (the broker grows without bound).
    pub const UNBOUNDED: Retention = Retention {
        max_bytes: None,
        max_age: None,
    };

    /// Parses `SIZE`, `AGE`, `SIZE,AGE` (either order) or `none`: sizes as
    /// `512MiB`, `1GiB`, `2GB`, `100000` (bytes); ages as `90s`, `30m`, `1h`,
    /// `2d`.
    pub fn parse(text: &str) -> Result<Retention> {
        let bad = |why: String| Error::Usage(format!("--retention {text:?}: {why}"));
        let text_trimmed = text.trim();
        if text_trimmed.eq_ignore_ascii_case("none") || text_trimmed.eq_ignore_ascii_case("unbounded") {
            return Ok(Retention::UNBOUNDED);
        }
        let mut out = Retention::UNBOUNDED;
        for part in text_trimmed.split(',').map(str::trim) {
            if part.is_empty() {
                return Err(bad("an empty part; write e.g. 1GiB,1h".into()));
            }
            if let Some(bytes) = parse_size(part) {
                if out.max_bytes.replace(bytes).is_some() {
                    return Err(bad("two sizes given".into()));
                }
            } else if let Some(age) = parse_age(part) {
                if out.max_age.replace(age).is_some() {
                    return Err(bad("two ages given".into()));
                }
            } else {
                return Err(bad(format!(
                    "{part:?} is neither a size (512MiB, 1GiB, 2GB) nor an age (90s, 30m, 1h, 2d)"
                )));
            }
        }
        if out.max_bytes == Some(0) || out.max_age == Some(Duration::ZERO) {
            return Err(bad("a bound of zero keeps nothing".into()));
        }
        Ok(out)
    }
}

fn parse_size(s: &str) -> Option<u64> {
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(digits);
    let n: u64 = n.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" => 1 << 10,
        "mb" => 1_000_000,
        "mib" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        "tb" => 1_000_000_000_000,
        "tib" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(factor)
}

fn parse_age(s: &str) -> Option<Duration> {
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(digits);
    let n: u64 = n.parse().ok()?;
    let seconds = match unit.trim() {
        "ms" => return Some(Duration::from_millis(n)),
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(seconds).map(Duration::from_secs)
}

fn size_text(bytes: u64) -> String {
    for (unit, factor) in [
        ("TiB", 1u64 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ] {
        if bytes >= factor && bytes.is_multiple_of(factor) {
            return format!("{}{unit}", bytes / factor);
        }
    }
    format!("{bytes}B")
}

fn age_text(age: Duration) -> String {
    let s = age.as_secs();
    if age.subsec_millis() != 0 || s == 0 {
        return format!("{}ms", age.as_millis());
    }
    for (unit, factor) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if s.is_multiple_of(factor) {
            return format!("{}{unit}", s / factor);
        }
    }
    format!("{s}s")
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.max_bytes, self.max_age) {
            (None, None) => f.write_str("none"),
            (Some(b), None) => f.write_str(&size_text(b)),
            (None, Some(a)) => f.write_str(&age_text(a)),
            (Some(b), Some(a)) => write!(f, "{},{}", size_text(b), age_text(a)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ages_in_either_order() {
        let r = Retention::parse("1GiB,1h").unwrap();
        assert_eq!(r, DEFAULT);
        assert_eq!(Retention::parse("1h, 1GiB").unwrap(), DEFAULT);
        assert_eq!(Retention::parse("512MiB").unwrap().max_bytes, Some(512 << 20));
        assert_eq!(Retention::parse("2GB").unwrap().max_bytes, Some(2_000_000_000));
        assert_eq!(
            Retention::parse("30m").unwrap().max_age,
            Some(Duration::from_secs(1800))
        );
        assert_eq!(Retention::parse("none").unwrap(), Retention::UNBOUNDED);
        assert_eq!(Retention::parse("100000").unwrap().max_bytes, Some(100_000));
    }

    #[test]
    fn display_reads_back() {
        for text in ["1GiB,1h", "512MiB", "90s", "none", "3KiB,2d", "1000B,250ms"] {
            let r = Retention::parse(text).unwrap();
            assert_eq!(r.to_string(), text);
            assert_eq!(Retention::parse(&r.to_string()).unwrap(), r);
        }
    }

    #[test]
    fn nonsense_is_refused_with_the_reason() {
        let e = Retention::parse("1GiB,lots").unwrap_err().to_string();
        assert!(e.contains("\"lots\" is neither a size"), "{e}");
        assert!(
            Retention::parse("1GiB,2GiB")
                .unwrap_err()
                .to_string()
                .contains("two sizes")
        );
        assert!(Retention::parse("0s").unwrap_err().to_string().contains("zero"));
        let empty = Retention::parse("1GiB,").unwrap_err().to_string();
        assert!(empty.contains("an empty part"), "{empty}");
    }
}
