//! Output for people (aligned text in their language) or for scripts (`--json`).

use anyhow::Result;
use fieldcore::domain::{Event, Lang, Rulebook};
use fieldcore::protocol::EnrollResponse;
use fieldcore::store::{HousekeepingReport, JobDetail, JobSummary, PhotoUpload, PushState, Store};
use fieldcore::sync::SyncReport;
use serde_json::json;

/// `println!` that returns a closed pipe (`fieldtech show J | head`) as an error instead of
/// panicking; `main` ends quietly on it.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?
    }};
}

#[derive(Debug)]
pub struct Out {
    pub json: bool,
    pub lang: Lang,
}

impl Out {
    fn print_json(&self, v: serde_json::Value) -> Result<()> {
        say!("{}", serde_json::to_string_pretty(&v)?);
        Ok(())
    }

    pub fn done(&self, what: &str) -> Result<()> {
        if self.json {
            return self.print_json(json!({ "ok": what }));
        }
        say!("{what}");
        Ok(())
    }

    pub fn recorded(&self, e: &Event) -> Result<()> {
        if self.json {
            return self.print_json(serde_json::to_value(e)?);
        }
        say!(
            "recorded {} #{} ({})",
            e.body.kind().as_str(),
            e.device_seq.unwrap_or_default(),
            e.id
        );
        Ok(())
    }

    pub fn housekept(&self, r: &HousekeepingReport) -> Result<()> {
        if self.json {
            return self.print_json(serde_json::to_value(r)?);
        }
        say!(
            "photos pruned {}, leftovers removed {}, {:.1} MB freed",
            r.photos_pruned,
            r.leftovers_removed,
            r.bytes_freed as f64 / 1e6
        );
        Ok(())
    }

    pub fn enrolled(&self, r: &EnrollResponse) -> Result<()> {
        if self.json {
            return self.print_json(json!({
                "technician_id": r.technician_id,
                "technician_name": r.technician_name,
                "organisation": r.organisation_name,
            }));
        }
        say!(
            "enrolled as {} ({}) of {}",
            r.technician_name,
            r.technician_id,
            r.organisation_name
        );
        Ok(())
    }

    /// What `verify` found in an evidence bundle.
    pub fn verified(
        &self,
        m: &fieldcore::evidence::Manifest,
        v: &fieldcore::evidence::Verification,
    ) -> Result<()> {
        let problems: Vec<String> = v.problems.iter().map(ToString::to_string).collect();
        if self.json {
            return self.print_json(json!({
                "verified": v.is_ok(),
                "job_id": m.job_id,
                "job_number": m.job_number,
                "generated_at": m.generated_at,
                "signed_events": v.signed_events,
                "refused_events": v.refused_events,
                "refused_photos": v.refused_photos,
                "desk_events": v.desk_events,
                "photos": v.photos,
                "devices": v.devices,
                "shown_through": v.shown_through.iter().map(|(d, e)| json!({
                    "device_id": d,
                    "event_id": e,
                })).collect::<Vec<_>>(),
                "keys": m.chains.iter().map(|c| json!({
                    "device_id": c.device_id,
                    "public_key": c.public_key,
                })).collect::<Vec<_>>(),
                "problems": problems,
            }));
        }
        say!(
            "job {} ({}), bundle made {}",
            m.job_number.as_deref().unwrap_or("-"),
            m.job_id,
            m.generated_at.to_rfc3339()
        );
        if v.is_ok() {
            say!(
                "VERIFIED: {} signed field events from {} device(s), {} photos match their \
                 signed hashes",
                v.signed_events,
                v.devices,
                v.photos
            );
        } else {
            say!("NOT VERIFIED: {} problem(s)", problems.len());
            for p in &problems {
                say!("  - {p}");
            }
        }
        for (d, e) in &v.shown_through {
            let last = m
                .events
                .iter()
                .map(|r| &r.event)
                .chain(m.refused.iter().map(|r| &r.event))
                .find(|x| x.id == *e);
            say!(
                "  device {d}: every event of the job it recorded up to {} is here; a chain \
                 cannot rule out later ones",
                last.map(|x| format!(
                    "its {} of {}",
                    x.body.kind().as_str(),
                    x.recorded_at.to_rfc3339()
                ))
                .unwrap_or_else(|| format!("event {e}"))
            );
        }
        for p in &v.refused_photos {
            say!("  photo {p}: not in the bundle; the server says its event was refused");
        }
        if v.refused_events > 0 {
            say!(
                "  {} of the signed events the server says it refused (kept in the record)",
                v.refused_events
            );
        }
        say!(
            "  {} desk events are the server's statements (not signed by a device)",
            v.desk_events
        );
        for c in &m.chains {
            say!("  device {} key {}", c.device_id, c.public_key);
        }
        if !m.chains.is_empty() {
            say!(
                "  keys are the server's word unless you pinned them: keep them, and check later \
                 bundles with --key DEVICE_ID=KEY"
            );
        }
        Ok(())
    }

    pub fn jobs(&self, jobs: &[JobSummary]) -> Result<()> {
        if self.json {
            return self.print_json(serde_json::to_value(jobs)?);
        }
        if jobs.is_empty() {
            say!("no jobs");
        }
        for j in jobs {
            let when = j
                .appointment_at
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "-".into());
            // A job the desk gave away reads as such, in the list as in `show`.
            let status = if j.reassigned_away {
                "reassigned"
            } else {
                j.status.as_str()
            };
            say!(
                "{:<8}  {:<8} {:<16} {:<11} {:<26} {}  {}",
                j.short_id,
                j.number
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "-".into()),
                j.kind.as_str(),
                status,
                when,
                j.customer_name,
                j.address
            );
            for c in &j.schedule_conflicts {
                say!("          ! {}", conflict(c));
            }
        }
        Ok(())
    }

    pub fn job(&self, d: &JobDetail, rules: &Rulebook) -> Result<()> {
        if self.json {
            return self.print_json(serde_json::to_value(d)?);
        }
        let v = &d.view;
        let number = v.number.map(|n| format!(" {n}")).unwrap_or_default();
        say!(
            "job {}{number} ({}, {})",
            d.short_id,
            v.order.kind.as_str(),
            v.id
        );
        if d.reassigned_away {
            let kept = d
                .timeline
                .iter()
                .filter(|t| v.flagged_events.contains(&t.event.id))
                .count();
            say!("  status     reassigned to another technician");
            say!(
                "  kept       {kept} of your action(s) reached the desk after the hand-over; \
                 nothing more to do here"
            );
        } else {
            say!("  status     {}", d.status.as_str());
        }
        say!(
            "  customer   {}, {}, {}",
            v.order.customer_name,
            v.order.phone,
            v.order.address
        );
        say!("  work       {}", v.order.work);
        if let Some(t) = v.appointment_at {
            say!("  visit      {}", t.to_rfc3339());
        }
        for c in &d.schedule_conflicts {
            say!("  clash      {}", conflict(c));
        }
        let next: Vec<&str> = d.next_actions.iter().map(|a| a.as_str()).collect();
        say!("  next       {}", next.join(", "));
        for m in &d.completion_missing {
            say!("  missing    {}", m.message(self.lang));
        }
        for e in v.exceptions.iter().filter(|e| e.is_open()) {
            say!(
                "  exception  {} (open): {}",
                e.kind.label(self.lang),
                e.note
            );
        }
        for t in &d.timers {
            let state = if t.breached {
                "BREACHED"
            } else if t.stopped_at.is_some() {
                "met"
            } else {
                "running"
            };
            say!(
                "  timer      {:<16} due {}  {:>6} min left  {}{}",
                t.kind.as_str(),
                t.due_at.to_rfc3339(),
                t.remaining_secs / 60,
                state,
                if t.exempted { " (exempted)" } else { "" }
            );
        }
        let unanswered = rules
            .checklist
            .required()
            .filter(|i| !v.checklist.contains_key(&i.id))
            .count();
        say!("  checklist  {unanswered} required item(s) unanswered");
        say!("  timeline");
        for t in &d.timeline {
            let state = match t.push_state {
                PushState::Pending => "pending",
                PushState::Accepted => "synced",
                PushState::Duplicate => "synced",
                PushState::Rejected => "REJECTED",
                PushState::Remote => "from desk",
            };
            let state = if v.flagged_events.contains(&t.event.id) {
                "kept"
            } else if t.conflict.is_some() {
                "CONFLICT"
            } else {
                state
            };
            let note = match (&t.conflict, &t.push_note) {
                (Some(r), _) => r.message(self.lang),
                (None, Some(n)) => n.clone(),
                (None, None) => String::new(),
            };
            // The record and the bytes travel apart: say where the photo itself is.
            let photo = match t.photo_upload {
                Some(PhotoUpload::Uploaded) => "photo uploaded",
                Some(PhotoUpload::Waiting) => "photo waiting",
                None => "",
            };
            let note = [photo, note.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join("; ");
            // The time the rules use: the server's, once it confirmed the event.
            say!(
                "    {}  {:<26} {:<9} {}",
                t.event.at().to_rfc3339(),
                t.event.body.kind().as_str(),
                state,
                note
            );
        }
        Ok(())
    }

    pub fn status(&self, store: &Store, server: Option<String>) -> Result<()> {
        let outbox = store.outbox_len()?;
        let photos = store.photos_awaiting_upload()?;
        let technician = store.technician_id()?;
        if self.json {
            return self.print_json(json!({
                "device_id": store.device_id(),
                "technician_id": technician,
                "server": server,
                "outbox": outbox,
                "photos_waiting": photos.len(),
                "photo_bytes_waiting": photos.iter().map(|p| p.bytes).sum::<u64>(),
            }));
        }
        say!("device      {}", store.device_id());
        match (technician, server) {
            (Some(t), Some(s)) => say!("enrolled    technician {t} at {s}"),
            _ => say!("enrolled    no (run `fieldtech enroll`)"),
        }
        say!("outbox      {outbox} event(s) waiting");
        say!(
            "photos      {} waiting ({} bytes)",
            photos.len(),
            photos.iter().map(|p| p.bytes).sum::<u64>()
        );
        Ok(())
    }

    /// What the whole sync got through, also when it gave up: a technician leaving the
    /// basement wants to know what is safe and what still waits.
    pub fn synced(&self, r: &SyncReport) -> Result<()> {
        if self.json {
            return self.print_json(serde_json::to_value(r)?);
        }
        say!(
            "events  {} sent ({} accepted, {} already there, {} rejected), {} still waiting",
            r.events_sent,
            r.accepted,
            r.duplicates,
            r.rejected,
            r.events_waiting
        );
        say!(
            "photos  {} uploaded ({} bytes), {} still waiting",
            r.photos_uploaded,
            r.bytes_uploaded,
            r.photos_waiting
        );
        say!(
            "desk    {} change(s) received; {} retr{}",
            r.events_received,
            r.retries,
            if r.retries == 1 { "y" } else { "ies" }
        );
        if let Some(o) = r.clock_offset_ms {
            say!("clock offset {o} ms");
        }
        for e in &r.errors {
            say!("waiting: {e}");
        }
        Ok(())
    }
}

/// Another of my visits too close to this one, in a line.
fn conflict(c: &fieldcore::domain::ScheduleConflict) -> String {
    let other = c
        .other_number
        .map(|n| n.to_string())
        .unwrap_or_else(|| c.other_job_id.to_string());
    format!(
        "too close to {other} at {}: {} min short of a visit plus travel",
        c.other_at.to_rfc3339(),
        c.short_by_minutes
    )
}
