//! Output for people (aligned text in their language) or for scripts (`--json`).

use anyhow::Result;
use fieldcore::domain::{Event, Lang, Rulebook};
use fieldcore::protocol::EnrollResponse;
use fieldcore::store::{HousekeepingReport, JobDetail, JobSummary, PushState, Store};
use fieldcore::sync::SyncReport;
use serde_json::json;

#[derive(Debug)]
pub struct Out {
    pub json: bool,
    pub lang: Lang,
}

impl Out {
    fn print_json(&self, v: serde_json::Value) -> Result<()> {
        println!("{}", serde_json::to_string_pretty(&v)?);
        Ok(())
    }

    pub fn done(&self, what: &str) -> Result<()> {
        if self.json {
            return self.print_json(json!({ "ok": what }));
        }
        println!("{what}");
        Ok(())
    }

    pub fn recorded(&self, e: &Event) -> Result<()> {
        if self.json {
            return self.print_json(serde_json::to_value(e)?);
        }
        println!(
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
        println!(
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
        println!(
            "enrolled as {} ({}) of {}",
            r.technician_name, r.technician_id, r.organisation_name
        );
        Ok(())
    }

    pub fn jobs(&self, jobs: &[JobSummary]) -> Result<()> {
        if self.json {
            return self.print_json(serde_json::to_value(jobs)?);
        }
        if jobs.is_empty() {
            println!("no jobs");
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
            println!(
                "{}  {:<16} {:<11} {:<26} {}  {}",
                &j.id.to_string()[..8],
                j.kind.as_str(),
                status,
                when,
                j.customer_name,
                j.address
            );
        }
        Ok(())
    }

    pub fn job(&self, d: &JobDetail, rules: &Rulebook) -> Result<()> {
        if self.json {
            return self.print_json(serde_json::to_value(d)?);
        }
        let v = &d.view;
        println!("job {} ({})", v.id, v.order.kind.as_str());
        if d.reassigned_away {
            let kept = d
                .timeline
                .iter()
                .filter(|t| v.flagged_events.contains(&t.event.id))
                .count();
            println!("  status     reassigned to another technician");
            println!(
                "  kept       {kept} of your action(s) reached the desk after the hand-over; \
                 nothing more to do here"
            );
        } else {
            println!("  status     {}", d.status.as_str());
        }
        println!(
            "  customer   {}, {}, {}",
            v.order.customer_name, v.order.phone, v.order.address
        );
        println!("  work       {}", v.order.work);
        if let Some(t) = v.appointment_at {
            println!("  visit      {}", t.to_rfc3339());
        }
        let next: Vec<&str> = d.next_actions.iter().map(|a| a.as_str()).collect();
        println!("  next       {}", next.join(", "));
        for m in &d.completion_missing {
            println!("  missing    {}", m.message(self.lang));
        }
        for e in v.exceptions.iter().filter(|e| e.is_open()) {
            println!(
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
            println!(
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
        println!("  checklist  {unanswered} required item(s) unanswered");
        println!("  timeline");
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
            // The time the rules use: the server's, once it confirmed the event.
            println!(
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
        println!("device      {}", store.device_id());
        match (technician, server) {
            (Some(t), Some(s)) => println!("enrolled    technician {t} at {s}"),
            _ => println!("enrolled    no (run `fieldtech enroll`)"),
        }
        println!("outbox      {outbox} event(s) waiting");
        println!(
            "photos      {} waiting ({} bytes)",
            photos.len(),
            photos.iter().map(|p| p.bytes).sum::<u64>()
        );
        Ok(())
    }

    pub fn synced(&self, r: &SyncReport) -> Result<()> {
        if self.json {
            return self.print_json(serde_json::to_value(r)?);
        }
        println!(
            "pushed {} ({} accepted, {} duplicate, {} rejected), received {}, photos {} ({} bytes), retries {}",
            r.events_sent,
            r.accepted,
            r.duplicates,
            r.rejected,
            r.events_received,
            r.photos_uploaded,
            r.bytes_uploaded,
            r.retries
        );
        if let Some(o) = r.clock_offset_ms {
            println!("clock offset {o} ms");
        }
        for e in &r.errors {
            println!("error: {e}");
        }
        Ok(())
    }
}
