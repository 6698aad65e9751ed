//! Civil dates and epoch milliseconds, without a date library: enough to
//! anchor generated dates at a "now" a user can give and see.

use crate::num::Cast as _;

const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1).sat_u32();
    let m = (if mp < 10 { mp + 3 } else { mp - 9 }).sat_u32();
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

/// `YYYY-MM-DD` of epoch milliseconds.
pub fn format_date(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

/// The start of today, UTC, in epoch milliseconds.
pub fn today_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis().sat_i64())
        .unwrap_or(0);
    now - now.rem_euclid(DAY_MS)
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ` (UTC) or epoch milliseconds.
pub fn parse(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if let Ok(ms) = t.parse::<i64>() {
        return Ok(ms);
    }
    let bad = || format!("expected YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or epoch milliseconds, found {text:?}");
    let (date, clock) = match t.split_once('T') {
        Some((d, c)) => (d, Some(c.strip_suffix('Z').ok_or_else(bad)?)),
        None => (t, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let [y, m, d] = parts.as_slice() else { return Err(bad()) };
    let (y, m, d): (i64, u32, u32) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || civil_from_days(days_from_civil(y, m, d)) != (y, m, d) {
        return Err(bad());
    }
    let mut ms = days_from_civil(y, m, d) * DAY_MS;
    if let Some(clock) = clock {
        let hms: Vec<&str> = clock.split(':').collect();
        let [h, mi, s] = hms.as_slice() else { return Err(bad()) };
        let (h, mi): (i64, i64) = (h.parse().map_err(|_| bad())?, mi.parse().map_err(|_| bad())?);
        let s: f64 = s.parse().map_err(|_| bad())?;
        if !(0..24).contains(&h) || !(0..60).contains(&mi) || !(0.0..61.0).contains(&s) {
            return Err(bad());
        }
        ms += h * 3_600_000 + mi * 60_000 + (s * 1000.0).sat_i64();
    }
    Ok(ms)
}

/// Parses a duration: `500ms`, `30s`, `15m`, `12h`, `2d`, optionally
/// negative (`-2d`), or several parts (`1d12h`). Milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<i64, String> {
    let bad = || format!("expected a duration such as 500ms, 30s, 15m, 12h, 2d or 1d12h, found {text:?}");
    let t = text.trim();
    let (negative, mut rest) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 1.0,
            "s" => 1000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => DAY_MS.to_f64(),
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += (number * factor).round().sat_i64();
    }
    Ok(if negative { -total } else { total })
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("1d12h"), Ok(129_600_000));
        assert_eq!(parse_duration_ms("-2d"), Ok(-172_800_000));
        assert_eq!(parse_duration_ms("1.5s"), Ok(1500));
        assert_eq!(
            parse_duration_ms("2 days"),
            Err(format!(
                "expected a duration such as 500ms, 30s, 15m, 12h, 2d or 1d12h, found {:?}",
                "2 days"
            ))
        );
        assert_eq!(
            parse_duration_ms(""),
            Err(format!(
                "expected a duration such as 500ms, 30s, 15m, 12h, 2d or 1d12h, found {:?}",
                ""
            ))
        );
        assert_eq!(
            parse_duration_ms("10"),
            Err(format!(
                "expected a duration such as 500ms, 30s, 15m, 12h, 2d or 1d12h, found {:?}",
                "10"
            ))
        );
    }

    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for z in [-1000, 0, 59, 60, 11_016, 19_700, 40_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(format_date(1_525_478_400_000), "2018-05-05");
    }

    #[test]
    fn parses_dates_times_and_millis() {
        assert_eq!(parse("2018-05-05"), Ok(1_525_478_400_000));
        assert_eq!(parse("2018-05-05T01:00:00Z"), Ok(1_525_482_000_000));
        assert_eq!(parse("1525478400000"), Ok(1_525_478_400_000));
        assert_eq!(
            parse("2018-02-30"),
            Err("expected YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or epoch milliseconds, found \"2018-02-30\"".to_string())
        );
        assert!(parse("yesterday").unwrap_err().starts_with("expected YYYY-MM-DD"));
    }
}
