//! `fieldtech`: a technician's device on the command line.
//!
//! Everything goes through `fieldcore` exactly as the phone app does (the same store, rules and
//! sync client), so a support engineer can reproduce what a phone did, a demo needs no phone,
//! and the end-to-end tests can kill a real device process in the middle of a sync.

mod progress;
mod render;
mod verify;
mod when;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, Subcommand, ValueEnum};
use fieldcore::domain::{
    CallOutcome, EventBody, ExceptionKind, ExemptionReason, GeoPoint, JobStatus, Lang, Packaging,
    PhotoCategory, TimerKind,
};
use fieldcore::photo::{PhotoSource, PipelineConfig, Point, Signature, Stroke};
use fieldcore::store::{
    ActionError, HousekeepingPolicy, JobFilter, Store, StoreOptions, short_ids,
};
use fieldcore::sync::{InterruptScope, SyncClient, SyncConfig, enrolled_server};
use uuid::Uuid;

#[derive(Debug, Parser)]
#[command(
    name = "fieldtech",
    version,
    about = "A technician's device on the command line"
)]
struct Cli {
    /// The device's database (photos are kept beside it).
    #[arg(
        long,
        env = "FIELDTECH_DB",
        default_value = "device/device.db",
        global = true
    )]
    db: PathBuf,
    /// Language of messages: en or zh-CN.
    #[arg(long, env = "FIELDTECH_LANG", default_value = "en", global = true)]
    lang: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a job's evidence bundle (the console's or the API's evidence.zip) offline: every
    /// signature, each device's chain through the job, every photo's bytes. Exits 0 when it
    /// verifies, 1 when it does not, 2 when the file cannot be read as a bundle. Needs no
    /// device store.
    Verify {
        bundle: PathBuf,
        /// A device's public key you hold already (from an earlier bundle, or the webhook
        /// deliveries you received as the work happened), as DEVICE_ID=HEX_KEY; repeatable.
        /// Without it, a bundle's keys are the server's word.
        #[arg(long = "key", value_name = "DEVICE_ID=KEY")]
        keys: Vec<String>,
        /// The job the bundle must be of (its id, as in your order): a bundle's job number and
        /// order are the server's word.
        #[arg(long)]
        job: Option<Uuid>,
        /// An event of the job you received as it happened (a webhook delivery's
        /// `data.event.id`); repeatable. Each must be in the bundle, verified: otherwise a
        /// device's whole chain, or any event, could be left out unseen.
        #[arg(long = "event", value_name = "EVENT_ID")]
        events: Vec<Uuid>,
    },
    /// Enrol this device with a one-time code from the dispatcher.
    Enroll {
        #[arg(
            long,
            env = "FIELDTECH_SERVER",
            default_value = "http://127.0.0.1:8080"
        )]
        server: String,
        #[arg(long)]
        code: String,
        #[arg(long, default_value = "fieldtech")]
        name: String,
    },
    /// My jobs, by status and day.
    Jobs {
        #[arg(long)]
        status: Vec<String>,
        /// A local date, YYYY-MM-DD.
        #[arg(long)]
        day: Option<chrono::NaiveDate>,
    },
    /// One job: status, what to do next, timers and timeline.
    Show { job: String },
    /// Accept the job.
    Accept { job: String },
    /// Log a call to the customer.
    Call {
        job: String,
        #[arg(long, value_enum, default_value = "reached")]
        outcome: Outcome,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// The goods reached the logistics point (delivery jobs).
    GoodsArrived {
        job: String,
        /// When they arrived: RFC 3339, "now", or relative like "-30m".
        #[arg(long, default_value = "now", allow_hyphen_values = true)]
        at: String,
    },
    /// Record the pickup (take the pickup photos first).
    Pickup {
        job: String,
        #[arg(long)]
        pieces: u32,
        #[arg(long)]
        damaged: bool,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Book the visit with the customer.
    Book {
        job: String,
        /// RFC 3339, or relative like "+2h".
        #[arg(long, allow_hyphen_values = true)]
        at: String,
    },
    /// Move the visit, with the customer's consent.
    Reschedule {
        job: String,
        #[arg(long, allow_hyphen_values = true)]
        at: String,
        #[arg(long)]
        reason: String,
        /// The customer agreed to the new time (without it the core refuses: ask the desk).
        #[arg(long)]
        customer_consented: bool,
    },
    /// Check in on arrival.
    Checkin {
        job: String,
        #[arg(long, requires = "lon")]
        lat: Option<f64>,
        #[arg(long, requires = "lat")]
        lon: Option<f64>,
    },
    /// Answer checklist items: `check JOB ITEM yes`, or `check JOB --all-yes`.
    Check {
        job: String,
        item: Option<String>,
        answer: Option<YesNo>,
        #[arg(long, conflicts_with_all = ["item", "answer"])]
        all_yes: bool,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Raise an exception for the desk.
    Exception {
        job: String,
        #[arg(long)]
        kind: String,
        #[arg(long)]
        note: String,
    },
    /// Mark the work as done.
    Done {
        job: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Enter the customer's confirmation code (only after the work is done).
    Code { job: String, code: String },
    /// Complete the job.
    Complete {
        job: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Claim an exemption from a timer.
    Claim {
        job: String,
        #[arg(long)]
        timer: String,
        #[arg(long, value_enum)]
        reason: Reason,
        #[arg(long)]
        note: String,
    },
    /// Leave the site.
    Checkout { job: String },
    /// Photos: `photo add JOB --category completion FILE`.
    #[command(subcommand)]
    Photo(PhotoCommand),
    /// The customer's signature, from a JSON file of strokes (or `--demo` for a drawn one).
    Sign {
        job: String,
        /// `{"width":..,"height":..,"strokes":[{"points":[{"x":..,"y":..,"t_ms":..}]}]}`
        #[arg(long, conflicts_with = "demo")]
        strokes: Option<PathBuf>,
        #[arg(long)]
        demo: bool,
    },
    /// Push, pull and upload now.
    Sync {
        /// Bytes of the first upload chunk while the link's speed is unknown (then chunks are
        /// sized to take a few seconds at the measured speed).
        #[arg(long, default_value_t = 256 * 1024)]
        chunk_size: usize,
    },
    /// Outbox, photos waiting, enrolment.
    Status,
    /// Free storage: drop the files of photos the server has held for some days (records and
    /// hashes stay), and what captures killed mid-way left behind.
    Housekeeping {
        /// Days after upload before a photo's files may go; 0: as soon as uploaded.
        #[arg(long, default_value_t = 30)]
        prune_after_days: u32,
    },
}

#[derive(Debug, Subcommand)]
enum PhotoCommand {
    /// Process a camera file and record it on the job.
    Add {
        job: String,
        #[arg(long, value_enum)]
        category: Category,
        file: PathBuf,
        #[arg(long, requires = "lon")]
        lat: Option<f64>,
        #[arg(long, requires = "lat")]
        lon: Option<f64>,
        /// Delete the camera's original once it is stored.
        #[arg(long)]
        delete_original: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Category {
    Pickup,
    Completion,
    Receipt,
    Exception,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Outcome {
    Reached,
    NoAnswer,
    Busy,
    Unreachable,
    WrongNumber,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum YesNo {
    Yes,
    No,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Reason {
    Weather,
    Customer,
    CodeUnavailable,
    Other,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let lang = Lang::parse(&cli.lang).unwrap_or_default();
    if let Command::Verify {
        bundle,
        keys,
        job,
        events,
    } = &cli.command
    {
        let out = render::Out {
            json: cli.json,
            lang,
        };
        let ask = verify::Ask {
            bundle,
            keys,
            job: *job,
            events,
        };
        return match verify::check(&ask) {
            Ok((manifest, v)) => match out.verified(&manifest, &v) {
                Ok(()) if v.is_ok() => ExitCode::SUCCESS,
                Ok(()) => ExitCode::from(1),
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            },
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    match run(cli, lang) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head`): what it wanted, it has.
        Err(e) if is_closed_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // A refusal is the rulebook speaking to the technician: print it in their language.
            match e.downcast_ref::<ActionError>() {
                Some(ActionError::Refused(r)) => {
                    eprintln!("refused ({}): {}", r.rule.code(), r.message(lang))
                }
                _ => eprintln!("error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

fn is_closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli, lang: Lang) -> Result<()> {
    let store = Store::open_with(StoreOptions::new(&cli.db))
        .with_context(|| format!("opening the device store {}", cli.db.display()))?;
    let out = render::Out {
        json: cli.json,
        lang,
    };
    let job = |s: &str| resolve_job(&store, s);
    let body = match cli.command {
        Command::Enroll { server, code, name } => {
            let mut config = SyncConfig::new(server);
            config.lang = out.lang;
            let client = SyncClient::new(config)?;
            let enrolled = client.enroll(&store, &code, &name)?;
            return out.enrolled(&enrolled);
        }
        Command::Jobs { status, day } => {
            let statuses = status
                .iter()
                .map(|s| JobStatus::parse(s).ok_or_else(|| anyhow!("unknown status {s:?}")))
                .collect::<Result<_>>()?;
            let jobs = store.jobs(&JobFilter { statuses, day })?;
            return out.jobs(&jobs);
        }
        Command::Show { job: j } => {
            let id = job(&j)?;
            let detail = store.job(id)?.ok_or_else(|| anyhow!("no job {id}"))?;
            return out.job(&detail, &store.rulebook());
        }
        Command::Status => return out.status(&store, enrolled_server(&store)?),
        Command::Housekeeping { prune_after_days } => {
            let policy = HousekeepingPolicy {
                prune_uploaded_after: Some(chrono::Duration::days(prune_after_days.into())),
                ..HousekeepingPolicy::default()
            };
            return out.housekept(&store.housekeeping(&policy)?);
        }
        Command::Sync { chunk_size } => return sync(&store, &out, chunk_size),
        Command::Verify { .. } => unreachable!("verify runs before the store opens"),
        Command::Check {
            job: j,
            item,
            answer,
            all_yes,
            note,
        } => {
            let id = job(&j)?;
            if all_yes {
                let view = store.view(id)?.ok_or_else(|| anyhow!("no job {id}"))?;
                for item in store.rulebook().checklist.items {
                    if !view.checklist.contains_key(&item.id) {
                        store.act(
                            id,
                            EventBody::ChecklistAnswered {
                                item_id: item.id.clone(),
                                answer: true,
                                note: note.clone(),
                            },
                        )?;
                    }
                }
                return out.done("checklist answered");
            }
            let (Some(item), Some(answer)) = (item, answer) else {
                bail!("name an item and yes/no, or pass --all-yes");
            };
            act(
                &store,
                &out,
                id,
                EventBody::ChecklistAnswered {
                    item_id: item,
                    answer: matches!(answer, YesNo::Yes),
                    note,
                },
            )?;
            return Ok(());
        }
        Command::Accept { job: j } => (job(&j)?, EventBody::JobAccepted),
        Command::Call {
            job: j,
            outcome,
            note,
        } => (
            job(&j)?,
            EventBody::CustomerCallLogged {
                outcome: match outcome {
                    Outcome::Reached => CallOutcome::Reached,
                    Outcome::NoAnswer => CallOutcome::NoAnswer,
                    Outcome::Busy => CallOutcome::Busy,
                    Outcome::Unreachable => CallOutcome::Unreachable,
                    Outcome::WrongNumber => CallOutcome::WrongNumber,
                },
                note,
            },
        ),
        Command::GoodsArrived { job: j, at } => (
            job(&j)?,
            EventBody::LogisticsArrived {
                arrived_at: when::parse(&at, store.clock().now())?,
                note: String::new(),
            },
        ),
        Command::Pickup {
            job: j,
            pieces,
            damaged,
            note,
        } => (
            job(&j)?,
            EventBody::PickupRecorded {
                pieces,
                packaging: if damaged {
                    Packaging::Damaged
                } else {
                    Packaging::Intact
                },
                note,
            },
        ),
        Command::Book { job: j, at } => (
            job(&j)?,
            EventBody::AppointmentBooked {
                at: when::parse(&at, store.clock().now())?,
                note: String::new(),
            },
        ),
        Command::Reschedule {
            job: j,
            at,
            reason,
            customer_consented,
        } => (
            job(&j)?,
            EventBody::AppointmentRescheduled {
                at: when::parse(&at, store.clock().now())?,
                reason,
                customer_consented,
            },
        ),
        Command::Checkin { job: j, lat, lon } => (
            job(&j)?,
            EventBody::CheckedIn {
                location: lat.zip(lon).map(|(lat, lon)| GeoPoint {
                    lat,
                    lon,
                    accuracy_m: None,
                }),
            },
        ),
        Command::Exception { job: j, kind, note } => {
            let kind = ExceptionKind::ALL
                .into_iter()
                .find(|k| k.as_str() == kind)
                .ok_or_else(|| anyhow!("unknown exception kind {kind:?}"))?;
            (
                job(&j)?,
                EventBody::ExceptionRaised {
                    exception_id: Uuid::now_v7(),
                    kind,
                    note,
                    photo_ids: vec![],
                },
            )
        }
        Command::Done { job: j, note } => (job(&j)?, EventBody::WorkMarkedDone { note }),
        Command::Code { job: j, code } => (job(&j)?, EventBody::ConfirmationCodeEntered { code }),
        Command::Complete { job: j, note } => (job(&j)?, EventBody::JobCompleted { note }),
        Command::Claim {
            job: j,
            timer,
            reason,
            note,
        } => {
            let timer: TimerKind = serde_json::from_value(serde_json::Value::String(timer))
                .context("unknown timer (e.g. completion, arrival_window)")?;
            (
                job(&j)?,
                EventBody::ExemptionClaimed {
                    claim_id: Uuid::now_v7(),
                    timer,
                    reason: match reason {
                        Reason::Weather => ExemptionReason::Weather,
                        Reason::Customer => ExemptionReason::Customer,
                        Reason::CodeUnavailable => ExemptionReason::CodeUnavailable,
                        Reason::Other => ExemptionReason::Other,
                    },
                    note,
                },
            )
        }
        Command::Checkout { job: j } => (job(&j)?, EventBody::CheckedOut),
        Command::Photo(PhotoCommand::Add {
            job: j,
            category,
            file,
            lat,
            lon,
            delete_original,
        }) => {
            let category = match category {
                Category::Pickup => PhotoCategory::Pickup,
                Category::Completion => PhotoCategory::Completion,
                Category::Receipt => PhotoCategory::Receipt,
                Category::Exception => PhotoCategory::Exception,
            };
            let location = lat.zip(lon).map(|(lat, lon)| GeoPoint {
                lat,
                lon,
                accuracy_m: None,
            });
            let captured = store.capture_photo(
                job(&j)?,
                category,
                PhotoSource::Path(&file),
                location,
                &PipelineConfig::default(),
            )?;
            if delete_original {
                fieldcore::photo::remove_original(&file)?;
            }
            out.recorded(&captured.event)?;
            return out.done(&format!(
                "stored {}x{} ({} bytes) as {}",
                captured.width, captured.height, captured.bytes, captured.sha256
            ));
        }
        Command::Sign {
            job: j,
            strokes,
            demo,
        } => {
            let signature = match (strokes, demo) {
                (Some(path), _) => serde_json::from_slice(
                    &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
                )
                .context("the strokes file is not a signature")?,
                (None, true) => demo_signature(),
                (None, false) => bail!("pass --strokes FILE or --demo"),
            };
            let s = store.capture_signature(job(&j)?, &signature)?;
            out.recorded(&s.signature_event)?;
            return out.recorded(&s.photo_event);
        }
    };
    act(&store, &out, body.0, body.1)
}

/// A plausible two-stroke signature, for demos.
fn demo_signature() -> Signature {
    let stroke = |y: f32, phase: f32| Stroke {
        points: (0..40u32)
            .map(|i| Point {
                x: 30.0 + i as f32 * 10.0,
                y: y + (i as f32 * 0.4 + phase).sin() * 35.0,
                t_ms: i * 15,
            })
            .collect(),
    };
    Signature {
        width: 480,
        height: 240,
        strokes: vec![stroke(90.0, 0.0), stroke(160.0, 1.3)],
    }
}

fn act(store: &Store, out: &render::Out, job: Uuid, body: EventBody) -> Result<()> {
    let event = store.act(job, body)?;
    out.recorded(&event)
}

/// A job by its short id (as `jobs` lists it), its full id, or the start of the full id.
fn resolve_job(store: &Store, s: &str) -> Result<Uuid> {
    Ok(store.find_job(s)?)
}

fn sync(store: &Store, out: &render::Out, chunk_size: usize) -> Result<()> {
    let server = enrolled_server(store)?.ok_or_else(|| anyhow!("enrol this device first"))?;
    let mut config = SyncConfig::new(server);
    config.chunk_size = chunk_size;
    config.lang = out.lang;
    let client = SyncClient::new(config)?;
    let short = short_ids(&store.job_ids()?);
    let line = progress::Line::new(out.json, short);
    let run = client.run(store, &|p| line.show(&p), &InterruptScope::never());
    line.finish();
    out.synced(&run.report)?;
    run.outcome?;
    Ok(())
}
