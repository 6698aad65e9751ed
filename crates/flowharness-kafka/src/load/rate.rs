//! The arrival schedule of an open-model load: when the k-th flow is meant
//! to start, whether or not earlier flows finished. A constant rate
//! (`20000/s`), a ramp over the whole run (`1000/s..50000/s`), stages
//! (`1000/s:10s,5000/s:20s`, each a constant rate for a while, or a ramp
//! `1000/s..5000/s:30s`), or `max` (no pacing at all).

use crate::error::{Error, Result};
use crate::generate::time::parse_duration_ms;
use crate::num::Cast as _;

/// One stretch of the schedule: the rate goes linearly from `from` to `to`
/// (flows per second) over `seconds`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub from: f64,
    pub to: f64,
    pub seconds: f64,
}

impl Segment {
    /// Flows started in the first `t` seconds of the segment.
    fn count_at(&self, t: f64) -> f64 {
        let slope = (self.to - self.from) / self.seconds;
        self.from * t + slope * t * t / 2.0
    }

    fn total(&self) -> f64 {
        self.count_at(self.seconds)
    }

    /// When, within the segment, the count reaches `n` (its inverse).
    fn time_of(&self, n: f64) -> f64 {
        let slope = (self.to - self.from) / self.seconds;
        if slope.abs() < 1e-12 {
            return n / self.from;
        }
        // slope/2 t² + from t − n = 0
        let disc = (self.from * self.from + 2.0 * slope * n).max(0.0);
        (disc.sqrt() - self.from) / slope
    }
}

/// When flows start.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// As fast as the harness and broker go.
    Unlimited,
    Paced(Vec<Segment>),
}

fn parse_rate(text: &str) -> Result<f64> {
    let t = text.trim();
    let number = t.strip_suffix("/s").unwrap_or(t);
    let rate: f64 = number
        .trim()
        .parse()
        .map_err(|_| Error::Usage(format!("--rate: expected a rate such as 20000/s, found {text:?}")))?;
    if !(rate.is_finite() && rate > 0.0) {
        return Err(Error::Usage(format!(
            "--rate: a rate must be above zero, found {text:?}"
        )));
    }
    Ok(rate)
}

fn parse_range(text: &str) -> Result<(f64, f64)> {
    match text.split_once("..") {
        Some((a, b)) => Ok((parse_rate(a)?, parse_rate(b)?)),
        None => {
            let r = parse_rate(text)?;
            Ok((r, r))
        }
    }
}

fn seconds(text: &str) -> Result<f64> {
    let ms = parse_duration_ms(text).map_err(|e| Error::Usage(format!("--rate: {e}")))?;
    if ms <= 0 {
        return Err(Error::Usage(format!(
            "--rate: a stage must last a while, found {text:?}"
        )));
    }
    Ok(ms.to_f64() / 1000.0)
}

impl Schedule {
    /// Parses `--rate` for a run of `duration` seconds (stages bring their
    /// own durations; the run ends with the last).
    pub fn parse(text: &str, duration: f64) -> Result<Schedule> {
        let text = text.trim();
        if matches!(text, "max" | "unlimited") {
            return Ok(Schedule::Unlimited);
        }
        if text.contains(':') {
            let mut segments = Vec::new();
            for stage in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let Some((rate, length)) = stage.rsplit_once(':') else {
                    return Err(Error::Usage(format!(
                        "--rate: every stage needs a length, as in 1000/s:10s, found {stage:?}"
                    )));
                };
                let (from, to) = parse_range(rate)?;
                segments.push(Segment {
                    from,
                    to,
                    seconds: seconds(length)?,
                });
            }
            return Ok(Schedule::Paced(segments));
        }
        if !(duration.is_finite() && duration > 0.0) {
            return Err(Error::Usage("--duration: must be above zero".into()));
        }
        let (from, to) = parse_range(text)?;
        Ok(Schedule::Paced(vec![Segment {
            from,
            to,
            seconds: duration,
        }]))
    }

    /// The schedule's own length, when its stages set one.
    pub fn seconds(&self) -> Option<f64> {
        match self {
            Schedule::Unlimited => None,
            Schedule::Paced(s) => Some(s.iter().map(|s| s.seconds).sum()),
        }
    }

    /// Flows meant to have started `t` seconds in.
    pub fn count_at(&self, t: f64) -> f64 {
        let Schedule::Paced(segments) = self else {
            return f64::INFINITY;
        };
        let mut before = 0.0;
        let mut start = 0.0;
        for s in segments {
            if t < start + s.seconds {
                return before + s.count_at(t - start);
            }
            before += s.total();
            start += s.seconds;
        }
        before
    }

    /// When the `k`-th flow (from 0) is meant to start, in seconds; `None`
    /// past the schedule's end.
    pub fn time_of(&self, k: u64) -> Option<f64> {
        let Schedule::Paced(segments) = self else {
            return Some(0.0);
        };
        let mut n = k.to_f64();
        let mut start = 0.0;
        for s in segments {
            let total = s.total();
            if n < total {
                return Some(start + s.time_of(n));
            }
            n -= total;
            start += s.seconds;
        }
        None
    }

    /// The target rate at `t` seconds.
    pub fn rate_at(&self, t: f64) -> Option<f64> {
        let Schedule::Paced(segments) = self else {
            return None;
        };
        let mut start = 0.0;
        for s in segments {
            if t < start + s.seconds {
                return Some(s.from + (s.to - s.from) * (t - start) / s.seconds);
            }
            start += s.seconds;
        }
        segments.last().map(|s| s.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_rate_spaces_starts_evenly() {
        let s = Schedule::parse("100/s", 10.0).unwrap();
        assert_eq!(s.time_of(0), Some(0.0));
        assert!((s.time_of(50).unwrap() - 0.5).abs() < 1e-9);
        assert_eq!(s.time_of(1000), None);
        assert!((s.count_at(2.0) - 200.0).abs() < 1e-9);
    }

    #[test]
    fn a_ramp_is_the_inverse_of_its_count() {
        let s = Schedule::parse("1000/s..5000/s", 10.0).unwrap();
        assert!((s.count_at(10.0) - 30_000.0).abs() < 1e-6);
        for k in [0_u64, 1, 999, 15_000, 29_999] {
            let t = s.time_of(k).unwrap();
            assert!((s.count_at(t) - k.to_f64()).abs() < 1e-6, "k {k}: t {t}");
        }
        assert!((s.rate_at(5.0).unwrap() - 3000.0).abs() < 1e-9);
    }

    #[test]
    fn stages_follow_one_another() {
        let s = Schedule::parse("100/s:2s, 1000/s:1s", 99.0).unwrap();
        assert_eq!(s.seconds(), Some(3.0));
        assert!((s.time_of(200).unwrap() - 2.0).abs() < 1e-9);
        assert!((s.time_of(700).unwrap() - 2.5).abs() < 1e-9);
        assert_eq!(s.time_of(1200), None);
    }

    #[test]
    fn bad_rates_are_refused_with_the_flag_named() {
        for bad in ["fast", "-5/s", "0/s", "100/s:", "100/s:0s", "1..x"] {
            let e = Schedule::parse(bad, 10.0).unwrap_err().to_string();
            assert!(e.contains("--rate"), "{bad}: {e}");
        }
        assert_eq!(Schedule::parse("max", 1.0).unwrap(), Schedule::Unlimited);
    }
}
