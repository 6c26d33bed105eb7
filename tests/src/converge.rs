//! One truth: after a sync, the phone and the desk show the same job. [`compare`] is the check
//! (every field both show, exactly: confirmed events carry the server's corrected time on both
//! sides), and [`Schedule`] the seeded, replayable run of field and desk actions, faults, wrong
//! and jumping phone clocks and killed apps that the convergence harness throws at it.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use fieldcore::domain::{CallOutcome, EventBody, JobKind, JobView, Packaging, PhotoCategory};
use serde_json::Value;
use uuid::Uuid;

use crate::proxy::{FaultProxy, Faults};
use crate::{Desk, Device, Server, SkewedClock};

/// The fields of a job's view that both the phone and the desk show.
const SHARED_FIELDS: &[&str] = &[
    "technician_id",
    "accepted_at",
    "goods_arrived_at",
    "appointment_at",
    "appointment_booked_at",
    "reschedules",
    "checked_in_at",
    "work_done_at",
    "code_entered_at",
    "completed_at",
    "checked_out_at",
    "cancelled_at",
    "reassigned_at",
    "calls",
    "pickup",
    "checklist",
    "photos",
    "signature",
    "exceptions",
    "exemptions",
    "flagged_events",
    "conflicts_acknowledged",
    "event_count",
];

/// Compare what `phone` shows for `job` with what the desk's API shows, after a sync. A job
/// the desk gave to someone else must show as given away; a job the phone holds must agree on
/// status, owner, every time and every timer.
pub fn compare(desk: &Desk, phone: &Device, job: Uuid) -> Result<(), String> {
    let server = desk.job_detail(job);
    let sv = &server["view"];
    let me = phone
        .store
        .technician_id()
        .map_err(|e| e.to_string())?
        .ok_or("phone not enrolled")?;
    let Some(local) = phone.store.job(job).map_err(|e| e.to_string())? else {
        return if sv["technician_id"] == me.to_string() {
            Err(format!(
                "job {job}: the desk gave it to this phone, the phone has none"
            ))
        } else {
            Ok(())
        };
    };
    let held_by_me = sv["technician_id"] == me.to_string();
    if !held_by_me {
        // Given away: the phone says so, and offers nothing more.
        if !local.reassigned_away {
            return Err(format!(
                "job {job}: the desk gave it to {} but the phone shows it as its own ({})",
                sv["technician_id"],
                local.status.as_str()
            ));
        }
        if !local.next_actions.is_empty() {
            return Err(format!(
                "job {job}: given away, still offers {:?}",
                local.next_actions
            ));
        }
        return Ok(());
    }
    if local.reassigned_away {
        return Err(format!(
            "job {job}: the phone holds it but shows it as given away"
        ));
    }
    let lv = serde_json::to_value(&local.view).map_err(|e| e.to_string())?;
    let mut diffs = Vec::new();
    if server["status"] != local.status.as_str() {
        diffs.push(format!(
            "status: desk {} phone {}",
            server["status"],
            local.status.as_str()
        ));
    }
    for f in SHARED_FIELDS {
        let (s, l) = (&sv[*f], &lv[*f]);
        if s != l && !(s.is_null() && l.is_null()) {
            diffs.push(format!("{f}: desk {s} phone {l}"));
        }
    }
    let timers = |v: &Value| -> Vec<(Value, Value, Value, Value)> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|t| {
                        let stopped = t["stopped_at"].clone();
                        // A running clock's breach depends on when it is read.
                        let breached = if stopped.is_null() {
                            Value::Null
                        } else {
                            t["breached"].clone()
                        };
                        (t["kind"].clone(), t["due_at"].clone(), stopped, breached)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let local_timers = serde_json::to_value(&local.timers).map_err(|e| e.to_string())?;
    if timers(&server["timers"]) != timers(&local_timers) {
        diffs.push(format!(
            "timers: desk {:?} phone {:?}",
            timers(&server["timers"]),
            timers(&local_timers)
        ));
    }
    // Every field event the phone made continues its signed chain (ADR 0016).
    let chain = &server["evidence_chain"];
    if chain["broken"] != 0 || chain["unsigned"] != 0 {
        diffs.push(format!("evidence chain: {}", server["evidence_chain"]));
    }
    // The same visits too close, seen from both sides.
    let local_conflicts =
        serde_json::to_value(&local.schedule_conflicts).map_err(|e| e.to_string())?;
    if server["schedule_conflicts"] != local_conflicts {
        diffs.push(format!(
            "schedule conflicts: desk {} phone {local_conflicts}",
            server["schedule_conflicts"]
        ));
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(format!("job {job}: {}", diffs.join("; ")))
    }
}

/// The console's page for `job` shows the status and technician the API shows.
pub fn compare_console(
    desk: &Desk,
    job: Uuid,
    names: &BTreeMap<Uuid, String>,
) -> Result<(), String> {
    let server = desk.job_detail(job);
    let html = desk.console_page(&format!("/console/jobs/{job}"));
    let status = server["status"].as_str().unwrap_or_default();
    if !html.contains(&format!("data-status=\"{status}\"")) {
        return Err(format!(
            "job {job}: the console does not show status {status}"
        ));
    }
    let tech: Option<Uuid> = server["view"]["technician_id"]
        .as_str()
        .and_then(|s| s.parse().ok());
    if let Some(name) = tech.and_then(|t| names.get(&t))
        && !html.contains(&format!("<b id=\"technician\">{name}</b>"))
    {
        return Err(format!(
            "job {job}: the console does not show technician {name}"
        ));
    }
    Ok(())
}

/// A seeded xorshift: the same seed, the same schedule.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }

    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }

    /// A number from `lo` to `hi`, both included.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }
}

/// One phone in a schedule.
#[derive(Debug)]
pub struct Phone {
    pub device: Device,
    pub technician: Uuid,
    pub clock: std::sync::Arc<SkewedClock>,
}

/// What a schedule did, for the record.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub field_actions: u32,
    pub desk_actions: u32,
    pub syncs: u32,
    pub failed_syncs: u32,
    pub restarts: u32,
    pub clock_jumps: u32,
    /// Requests the proxy cut and responses it dropped.
    pub faults: u64,
    /// Jobs that ended completed, cancelled, or with field work kept aside as a conflict.
    pub completed: u32,
    pub cancelled: u32,
    pub conflicts: u32,
}

impl Tally {
    pub fn add(&mut self, t: &Tally) {
        self.field_actions += t.field_actions;
        self.desk_actions += t.desk_actions;
        self.syncs += t.syncs;
        self.failed_syncs += t.failed_syncs;
        self.restarts += t.restarts;
        self.clock_jumps += t.clock_jumps;
        self.faults += t.faults;
        self.completed += t.completed;
        self.cancelled += t.cancelled;
        self.conflicts += t.conflicts;
    }
}

/// One seeded schedule: two phones, one job of each kind, random field and desk actions,
/// syncs through a faulty proxy, clock jumps and app restarts; then quiescence (faults off,
/// every phone syncs twice) and the comparison of every job on every side.
#[derive(Debug)]
pub struct Schedule<'a> {
    pub seed: u64,
    pub server: &'a Server,
    pub desk: &'a Desk,
}

impl Schedule<'_> {
    pub fn run(&self, steps: u32) -> Result<Tally, String> {
        let mut rng = Rng::new(self.seed);
        let mut tally = Tally::default();
        let proxy = FaultProxy::start(self.server.addr, Faults::none(), self.seed);
        let mut names = BTreeMap::new();
        let mut phones: Vec<Phone> = Vec::new();
        for i in 0..2 {
            let name = format!("Tech {}-{i}", self.seed);
            let technician = self.desk.technician(&name);
            names.insert(technician, name);
            // Wrong wall clocks (hours off either way), honest monotonic clocks.
            let skew = Duration::minutes(rng.below(8 * 60) as i64 - 4 * 60);
            let clock = SkewedClock::new(skew);
            let mut device = Device::with_clock(&proxy.url(), clock.clone());
            device.chunk_size = 32 * 1024;
            device.enroll(&self.desk.code(technician));
            phones.push(Phone {
                device,
                technician,
                clock,
            });
        }
        let mut jobs = Vec::new();
        for kind in [JobKind::Install, JobKind::DeliveryInstall, JobKind::Repair] {
            let holder = phones[rng.below(2) as usize].technician;
            // Visits within a few hours, at any minute: close enough to clash (ADR 0014).
            let when = Utc::now() + Duration::minutes(120 + rng.below(6 * 60) as i64);
            jobs.push((self.desk.job(kind, holder, when), kind));
        }
        for p in &phones {
            let _ = p.device.sync();
        }
        // Some schedules are calm (the desk leaves the jobs alone, so visits run to the end),
        // others turbulent (reassignments, moves and cancellations while phones are offline).
        let calm = rng.chance(40);
        for step in 0..steps {
            let faults = if rng.chance(30) {
                Faults {
                    reset_request_pct: 10,
                    drop_response_pct: 10,
                    ..Faults::none()
                }
            } else {
                Faults::none()
            };
            proxy.set_faults(faults);
            let p = rng.below(2) as usize;
            let (job, kind) = jobs[rng.below(jobs.len() as u64) as usize];
            let roll = rng.below(100);
            let roll = if calm && (75..=90).contains(&roll) {
                roll - 75
            } else {
                roll
            };
            match roll {
                0..=54 => {
                    if field_move(&phones[p].device, job, kind, &mut rng, self.seed, step) {
                        tally.field_actions += 1;
                    }
                }
                55..=74 => {
                    tally.syncs += 1;
                    if phones[p].device.sync().is_err() {
                        tally.failed_syncs += 1;
                    }
                }
                75..=82 => {
                    let to = phones[1 - p].technician;
                    self.desk.post(
                        &format!("/v1/jobs/{job}/assign"),
                        serde_json::json!({ "technician_id": to }),
                    );
                    tally.desk_actions += 1;
                }
                83..=88 => {
                    let at = Utc::now() + Duration::minutes(60 + rng.below(6 * 60) as i64);
                    self.desk.post(
                        &format!("/v1/jobs/{job}/appointment"),
                        serde_json::json!({ "at": at, "note": "desk moved it" }),
                    );
                    tally.desk_actions += 1;
                }
                89 => {
                    self.desk.post(
                        &format!("/v1/jobs/{job}/cancel"),
                        serde_json::json!({ "reason": "the customer cancelled" }),
                    );
                    tally.desk_actions += 1;
                }
                90 => {
                    // The desk acknowledges what was kept aside (refused when nothing is).
                    self.desk.post(
                        &format!("/v1/jobs/{job}/conflicts/acknowledge"),
                        serde_json::json!({ "note": "seen" }),
                    );
                    tally.desk_actions += 1;
                }
                91..=95 => {
                    // The user moves the phone's clock; the monotonic clock goes on.
                    let skew = Duration::minutes(rng.below(24 * 60) as i64 - 12 * 60);
                    phones[p].clock.set(skew);
                    tally.clock_jumps += 1;
                }
                _ => {
                    phones[p].device.restart();
                    tally.restarts += 1;
                }
            }
        }
        // Quiescence: the network heals, everyone syncs twice.
        proxy.set_faults(Faults::none());
        for _ in 0..2 {
            for p in &phones {
                p.device
                    .sync()
                    .map_err(|e| format!("sync after the faults stopped: {e}"))?;
            }
        }
        for (job, _) in &jobs {
            for p in &phones {
                compare(self.desk, &p.device, *job)?;
            }
            compare_console(self.desk, *job, &names)?;
            exactly_once(self.desk, &phones, *job)?;
            let d = self.desk.job_detail(*job);
            match d["status"].as_str() {
                Some("completed") => tally.completed += 1,
                Some("cancelled") => tally.cancelled += 1,
                _ => {}
            }
            if d["view"]["flagged_events"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
            {
                tally.conflicts += 1;
            }
        }
        use std::sync::atomic::Ordering::Relaxed;
        tally.faults = proxy.counters.requests_cut.load(Relaxed)
            + proxy.counters.responses_dropped.load(Relaxed);
        Ok(tally)
    }
}

/// Every event a phone made for the job is on the server exactly once (or was refused).
fn exactly_once(desk: &Desk, phones: &[Phone], job: Uuid) -> Result<(), String> {
    let server = desk.job_detail(job);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for t in server["timeline"].as_array().into_iter().flatten() {
        if let Some(id) = t["event"]["id"].as_str() {
            *counts.entry(id.to_string()).or_default() += 1;
        }
    }
    if let Some((id, n)) = counts.iter().find(|(_, n)| **n > 1) {
        return Err(format!("job {job}: event {id} stored {n} times"));
    }
    let rejected: Vec<String> = server["rejections"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["event"]["id"].as_str().map(str::to_string))
        .collect();
    for p in phones {
        for t in p
            .device
            .store
            .job(job)
            .ok()
            .flatten()
            .map(|d| d.timeline)
            .unwrap_or_default()
        {
            let id = t.event.id.to_string();
            let mine = matches!(t.event.actor, fieldcore::domain::Actor::Technician { device_id, .. } if device_id == p.device.store.device_id());
            if mine && !counts.contains_key(&id) && !rejected.contains(&id) {
                return Err(format!(
                    "job {job}: event {id} ({}) never reached the server",
                    t.event.body.kind().as_str()
                ));
            }
        }
    }
    Ok(())
}

/// The technician's next step on a visit, as the local view allows it; `false` if there was
/// none or the phone refused it (the job was cancelled or given away, say).
fn field_move(
    device: &Device,
    job: Uuid,
    kind: JobKind,
    rng: &mut Rng,
    seed: u64,
    step: u32,
) -> bool {
    let Ok(Some(detail)) = device.store.job(job) else {
        return false;
    };
    if detail.reassigned_away {
        return false;
    }
    let v: &JobView = &detail.view;
    let delivery = kind == JobKind::DeliveryInstall;
    let photo_seed = seed.wrapping_mul(1000).wrapping_add(u64::from(step));
    let photo = |category| {
        device
            .store
            .capture_photo(
                job,
                category,
                fieldcore::photo::PhotoSource::Bytes(&crate::camera_jpeg(160, 120, photo_seed)),
                None,
                &fieldcore::photo::PipelineConfig::default(),
            )
            .is_ok()
    };
    let act = |body: EventBody| device.store.act(job, body).is_ok();
    let count = |c| v.photos.iter().filter(|p| p.category == c).count();
    if v.accepted_at.is_none() {
        return act(EventBody::JobAccepted);
    }
    if delivery && v.goods_arrived_at.is_none() {
        return act(EventBody::LogisticsArrived {
            arrived_at: device.store.clock().now() - Duration::minutes(30),
            note: String::new(),
        });
    }
    if v.calls.is_empty() {
        return act(EventBody::CustomerCallLogged {
            outcome: CallOutcome::Reached,
            note: "booked with the customer".into(),
        });
    }
    if delivery && count(PhotoCategory::Pickup) == 0 {
        return photo(PhotoCategory::Pickup);
    }
    if delivery && v.pickup.is_none() {
        return act(EventBody::PickupRecorded {
            pieces: 2,
            packaging: Packaging::Intact,
            note: String::new(),
        });
    }
    if v.checked_in_at.is_none() && (v.appointment_at.is_none() || rng.chance(15)) {
        let at = device.store.clock().now() + Duration::minutes(60 + rng.below(6 * 60) as i64);
        return if v.appointment_at.is_none() {
            act(EventBody::AppointmentBooked {
                at,
                note: String::new(),
            })
        } else {
            act(EventBody::AppointmentRescheduled {
                at,
                reason: "the customer asked".into(),
                customer_consented: true,
            })
        };
    }
    if v.checked_in_at.is_none() {
        return act(EventBody::CheckedIn { location: None });
    }
    // The checklist is gone through in one go (nineteen quick taps).
    let rules = device.store.rulebook();
    let unanswered: Vec<String> = rules
        .checklist
        .required()
        .filter(|i| !v.checklist.contains_key(&i.id))
        .map(|i| i.id.clone())
        .collect();
    if !unanswered.is_empty() {
        return unanswered.into_iter().all(|item_id| {
            act(EventBody::ChecklistAnswered {
                item_id,
                answer: true,
                note: String::new(),
            })
        });
    }
    if v.work_done_at.is_none() {
        return act(EventBody::WorkMarkedDone {
            note: String::new(),
        });
    }
    if count(PhotoCategory::Completion) < 2 {
        return photo(PhotoCategory::Completion);
    }
    if v.signature.is_none() {
        return device
            .store
            .capture_signature(job, &fieldcore::fixtures::pad_signature())
            .is_ok();
    }
    if count(PhotoCategory::Receipt) == 0 {
        return photo(PhotoCategory::Receipt);
    }
    if v.order.requires_verification && v.code_entered_at.is_none() {
        return act(EventBody::ConfirmationCodeEntered {
            code: "834201".into(),
        });
    }
    if v.completed_at.is_none() {
        return act(EventBody::JobCompleted {
            note: String::new(),
        });
    }
    if v.checked_out_at.is_none() {
        return act(EventBody::CheckedOut);
    }
    false
}
