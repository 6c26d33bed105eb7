//! Schedule conflicts, found before they happen (domain.md step 5).
//!
//! A booked visit holds its technician from the appointment for the policy's expected visit
//! length, and the next visit needs the policy's travel allowance after that. Two visits of one
//! technician closer than that conflict. Conflicts are warnings, never refusals: the desk may
//! know the customers are neighbours, and a technician may have agreed an overlap with the
//! customer; both sides see the same list, computed by the same code from the same views.
//!
//! The arrival window (±1 h, [`super::Policy::arrival_window_minutes`]) is the technician's
//! tolerance on the day, not part of the plan: planning with it would flag every day of back to
//! back visits.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{JobNumber, JobView, Policy};

/// One visit on a technician's day: a job with a booked appointment, still to be done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub job_id: Uuid,
    pub number: Option<JobNumber>,
    pub at: DateTime<Utc>,
}

impl Visit {
    /// The visit a job's view books for `technician`, if it still holds them: booked, theirs,
    /// and neither finished (checked out, completed) nor cancelled.
    pub fn of(view: &JobView, technician: Uuid) -> Option<Visit> {
        let open = view.completed_at.is_none()
            && view.cancelled_at.is_none()
            && view.checked_out_at.is_none();
        (open && view.technician_id == Some(technician))
            .then_some(view.appointment_at)
            .flatten()
            .map(|at| Visit {
                job_id: view.id,
                number: view.number,
                at,
            })
    }
}

/// This visit and another of the same technician are too close: `other` starts less than a
/// visit plus the travel allowance after this one, or this one less than that after `other`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleConflict {
    pub job_id: Uuid,
    pub at: DateTime<Utc>,
    pub other_job_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_number: Option<JobNumber>,
    pub other_at: DateTime<Utc>,
    /// How many minutes short of a visit plus travel the gap between the two is (at least 1).
    pub short_by_minutes: i64,
}

/// Every pair of `visits` (one technician's) closer than a visit plus travel, listed from both
/// sides, in appointment order. Visits at the same time conflict too; a job never conflicts
/// with itself.
pub fn conflicts(visits: &[Visit], policy: &Policy) -> Vec<ScheduleConflict> {
    let needed = reach(policy);
    let mut sorted: Vec<&Visit> = visits.iter().collect();
    sorted.sort_by_key(|v| (v.at, v.job_id));
    let mut out = Vec::new();
    for (i, first) in sorted.iter().enumerate() {
        for second in &sorted[i + 1..] {
            let gap = second.at - first.at;
            if gap >= needed {
                // Sorted: every later visit is further away still.
                break;
            }
            if second.job_id == first.job_id {
                continue;
            }
            let short = (needed - gap).num_minutes().max(1);
            out.push(pair(first, second, short));
            out.push(pair(second, first, short));
        }
    }
    out.sort_by_key(|c| (c.at, c.job_id, c.other_at, c.other_job_id));
    out
}

/// The conflicts of `visit` with the `others` of its technician (the same entries as
/// [`conflicts`] lists for it), in one pass: a job's page costs no more than its day is long.
pub fn conflicts_of(visit: &Visit, others: &[Visit], policy: &Policy) -> Vec<ScheduleConflict> {
    let needed = reach(policy);
    let mut out: Vec<ScheduleConflict> = others
        .iter()
        .filter(|o| o.job_id != visit.job_id)
        .filter_map(|o| {
            let gap = (o.at - visit.at).abs();
            (gap < needed).then(|| pair(visit, o, (needed - gap).num_minutes().max(1)))
        })
        .collect();
    out.sort_by_key(|c| (c.other_at, c.other_job_id));
    out
}

/// A week: longer visit or travel settings are a typo, not a plan.
const MAX_MINUTES: i64 = 7 * 24 * 60;

/// From the start of one visit to the earliest start of the next: at least a minute, so two
/// visits at the same time always conflict. No visit further than this from another clashes
/// with it, so callers may look only this far around the visits they show.
pub fn reach(policy: &Policy) -> Duration {
    Duration::minutes(
        policy
            .visit_minutes
            .clamp(1, MAX_MINUTES)
            .saturating_add(policy.travel_minutes.clamp(0, MAX_MINUTES)),
    )
}

fn pair(this: &Visit, other: &Visit, short_by_minutes: i64) -> ScheduleConflict {
    ScheduleConflict {
        job_id: this.job_id,
        at: this.at,
        other_job_id: other.job_id,
        other_number: other.number,
        other_at: other.at,
        short_by_minutes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn visit(n: u128, hour: u32, minute: u32) -> Visit {
        Visit {
            job_id: Uuid::from_u128(n),
            number: None,
            at: Utc.with_ymd_and_hms(2026, 12, 7, hour, minute, 0).unwrap(),
        }
    }

    #[test]
    fn visits_a_visit_and_travel_apart_do_not_conflict_and_closer_ones_do() {
        // Defaults: a 90-minute visit and 30 minutes of travel.
        let policy = Policy::default();
        assert!(conflicts(&[visit(1, 9, 0), visit(2, 11, 0)], &policy).is_empty());
        let c = conflicts(&[visit(2, 10, 45), visit(1, 9, 0)], &policy);
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].job_id, Uuid::from_u128(1));
        assert_eq!(c[0].other_job_id, Uuid::from_u128(2));
        assert_eq!(c[0].short_by_minutes, 15);
        assert_eq!(c[1].job_id, Uuid::from_u128(2));
    }

    #[test]
    fn a_visit_squeezed_between_two_conflicts_with_both() {
        let policy = Policy::default();
        let day = [visit(1, 9, 0), visit(2, 10, 0), visit(3, 11, 0)];
        let middle = conflicts_of(&day[1], &day, &policy);
        let others: Vec<_> = middle.iter().map(|c| c.other_job_id).collect();
        assert_eq!(others, [Uuid::from_u128(1), Uuid::from_u128(3)]);
        // 9:00 and 11:00 are exactly a visit plus travel apart.
        assert_eq!(conflicts_of(&day[0], &day, &policy).len(), 1);
    }

    #[test]
    fn one_job_s_conflicts_are_what_the_whole_day_lists_for_it() {
        let policy = Policy::default();
        let day: Vec<Visit> = (0..40u32)
            .map(|n| visit(u128::from(n), 6 + (n * 7) % 14, (n * 23) % 60))
            .collect();
        let all = conflicts(&day, &policy);
        assert!(all.len() > 20, "the sample has clashes: {}", all.len());
        for v in &day {
            let listed: Vec<_> = all
                .iter()
                .filter(|c| c.job_id == v.job_id)
                .cloned()
                .collect();
            assert_eq!(conflicts_of(v, &day, &policy), listed, "job {}", v.job_id);
        }
    }

    #[test]
    fn only_open_visits_of_the_technician_count() {
        let tech = Uuid::from_u128(7);
        let mut view = JobView::created(&crate::fixtures::Desk::default().event(
            Uuid::from_u128(1),
            crate::fixtures::t0(),
            crate::fixtures::created(crate::fixtures::order(super::super::JobKind::Install)),
        ))
        .expect("a job");
        assert_eq!(Visit::of(&view, tech), None, "not booked");
        view.appointment_at = Some(crate::fixtures::t0());
        assert_eq!(Visit::of(&view, tech), None, "nobody's");
        view.technician_id = Some(tech);
        assert!(Visit::of(&view, tech).is_some());
        assert_eq!(Visit::of(&view, Uuid::from_u128(8)), None, "another's");
        for close in [
            |v: &mut JobView| v.checked_out_at = Some(crate::fixtures::t0()),
            |v: &mut JobView| v.completed_at = Some(crate::fixtures::t0()),
            |v: &mut JobView| v.cancelled_at = Some(crate::fixtures::t0()),
        ] {
            let mut done = view.clone();
            close(&mut done);
            assert_eq!(Visit::of(&done, tech), None);
        }
    }

    #[test]
    fn the_same_time_conflicts_and_absurd_settings_do_not_overflow() {
        let mut policy = Policy::default();
        assert_eq!(
            conflicts(&[visit(1, 9, 0), visit(2, 9, 0)], &policy).len(),
            2
        );
        policy.visit_minutes = i64::MAX;
        policy.travel_minutes = i64::MIN;
        let c = conflicts(&[visit(1, 9, 0), visit(2, 23, 0)], &policy);
        assert_eq!(c.len(), 2);
        assert!(c[0].short_by_minutes > 0);
        policy.visit_minutes = 0;
        policy.travel_minutes = 0;
        assert_eq!(
            conflicts(&[visit(1, 9, 0), visit(2, 9, 0)], &policy).len(),
            2
        );
    }
}
