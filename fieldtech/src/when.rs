//! Times on the command line: RFC 3339, "now", or relative to now ("+2h", "-30m", "+1d").

use anyhow::{Result, anyhow};
use chrono::{DateTime, Duration, Utc};

pub fn parse(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let s = s.trim();
    if s == "now" {
        return Ok(now);
    }
    if let Some(rest) = s.strip_prefix('+').or_else(|| s.strip_prefix('-')) {
        let sign = if s.starts_with('-') { -1 } else { 1 };
        let (num, unit) = rest.split_at(rest.len().saturating_sub(1));
        let n: i64 = num
            .parse()
            .map_err(|_| anyhow!("{s:?}: expected a number then m, h or d"))?;
        let d = match unit {
            "m" => Duration::minutes(n),
            "h" => Duration::hours(n),
            "d" => Duration::days(n),
            _ => return Err(anyhow!("{s:?}: the unit is m, h or d")),
        };
        return Ok(now + d * sign);
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| anyhow!("{s:?}: not an RFC 3339 time ({e}); try 2026-11-24T10:00:00+08:00"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_absolute_times() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse("now", now).unwrap(), now);
        assert_eq!(parse("+2h", now).unwrap(), now + Duration::hours(2));
        assert_eq!(parse("-30m", now).unwrap(), now - Duration::minutes(30));
        assert_eq!(
            parse("2026-11-24T10:00:00+08:00", now).unwrap(),
            now + Duration::hours(17)
        );
        assert!(parse("tomorrow", now).is_err());
        assert!(parse("+2w", now).is_err());
    }
}
