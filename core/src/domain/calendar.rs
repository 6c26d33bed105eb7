//! Working-day arithmetic for limits counted in working days (the return visit).
//!
//! Working days are judged in the organisation's local time: a job completed at 23:30 on a
//! Friday in Shanghai was completed on Friday, whatever UTC says.

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkCalendar {
    /// The organisation's offset from UTC, in minutes (China: +480).
    pub utc_offset_minutes: i32,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<WeekdayName>))]
    pub weekend: Vec<Weekday>,
    /// Public holidays, local dates.
    pub holidays: Vec<NaiveDate>,
    /// Weekend days made working days (China's 调休 make-up days).
    #[serde(default)]
    pub extra_working_days: Vec<NaiveDate>,
}

/// How chrono writes a `Weekday` (its `Display`), for the schema: chrono has none of its own.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
enum WeekdayName {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Default for WorkCalendar {
    fn default() -> Self {
        WorkCalendar {
            utc_offset_minutes: 8 * 60,
            weekend: vec![Weekday::Sat, Weekday::Sun],
            holidays: Vec::new(),
            extra_working_days: Vec::new(),
        }
    }
}

impl WorkCalendar {
    pub fn offset(&self) -> FixedOffset {
        FixedOffset::east_opt(self.utc_offset_minutes * 60)
            .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset is valid"))
    }

    pub fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.offset()).date_naive()
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        if self.extra_working_days.contains(&d) {
            return true;
        }
        !self.weekend.contains(&d.weekday()) && !self.holidays.contains(&d)
    }

    /// The end of the `n`th working day after the day `start` falls on: "within 1 working day"
    /// of a Friday afternoon means by the end of Monday (or Tuesday, if Monday is a holiday).
    pub fn end_of_nth_working_day_after(&self, start: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        let mut day = self.local_date(start);
        let mut left = n;
        // Bounded: even a calendar of nothing but holidays cannot loop forever.
        let mut guard = 0;
        while left > 0 && guard < 3660 {
            day = day.checked_add_days(Days::new(1)).unwrap_or(day);
            if self.is_working_day(day) {
                left -= 1;
            }
            guard += 1;
        }
        let next_midnight = day
            .checked_add_days(Days::new(1))
            .unwrap_or(day)
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists");
        self.offset()
            .from_local_datetime(&next_midnight)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shanghai(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        FixedOffset::east_opt(8 * 3600)
            .unwrap()
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn weekday_completion_is_due_end_of_next_day() {
        let cal = WorkCalendar::default();
        // Wednesday 2026-11-18 10:00 -> end of Thursday 19th.
        let due = cal.end_of_nth_working_day_after(shanghai(2026, 11, 18, 10, 0), 1);
        assert_eq!(due, shanghai(2026, 11, 20, 0, 0));
    }

    #[test]
    fn friday_completion_skips_the_weekend_and_holidays() {
        let mut cal = WorkCalendar::default();
        let due = cal.end_of_nth_working_day_after(shanghai(2026, 11, 20, 15, 0), 1);
        assert_eq!(due, shanghai(2026, 11, 24, 0, 0), "end of Monday 23rd");
        cal.holidays
            .push(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        let due = cal.end_of_nth_working_day_after(shanghai(2026, 11, 20, 15, 0), 1);
        assert_eq!(due, shanghai(2026, 11, 25, 0, 0), "end of Tuesday 24th");
    }

    #[test]
    fn local_date_not_utc_date_decides_the_day() {
        let cal = WorkCalendar::default();
        // Friday 23:30 in Shanghai is still Friday 15:30 UTC; Saturday 00:30 local is Friday UTC.
        let sat_local = shanghai(2026, 11, 21, 0, 30);
        assert_eq!(
            sat_local.date_naive(),
            NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
        );
        let due = cal.end_of_nth_working_day_after(sat_local, 1);
        assert_eq!(
            due,
            shanghai(2026, 11, 24, 0, 0),
            "Saturday counts from Monday"
        );
    }

    #[test]
    fn make_up_working_days_count() {
        let mut cal = WorkCalendar::default();
        cal.extra_working_days
            .push(NaiveDate::from_ymd_opt(2026, 11, 21).unwrap());
        let due = cal.end_of_nth_working_day_after(shanghai(2026, 11, 20, 15, 0), 1);
        assert_eq!(due, shanghai(2026, 11, 22, 0, 0), "end of make-up Saturday");
    }
}
