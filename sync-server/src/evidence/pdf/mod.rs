//! The evidence report for people (ADR 0017): what happened on the job, in the order it
//! happened, with the times the device, the server's correction and the server's receipt
//! give, and the evidence check's result on its first page.

mod layout;
mod picture;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use fieldcore::domain::{Actor, EventBody, Phase, PhotoCategory, TimerKind};
use uuid::Uuid;

use super::Evidence;
use crate::console::html::Ui;
use crate::storage::Organisation;
use layout::{Doc, Picture, TEXT_W};

/// Who the report names, and when it was made.
#[derive(Debug)]
pub struct Context<'a> {
    pub org: &'a Organisation,
    pub technicians: &'a HashMap<Uuid, String>,
    pub ui: Ui,
    pub now: DateTime<Utc>,
}

/// The PDF's bytes. Decodes photos: call it off the async workers.
pub fn render(e: &Evidence, cx: &Context<'_>) -> Vec<u8> {
    let ui = cx.ui;
    let v = &e.detail.view;
    let number = v
        .number
        .map(|n| n.to_string())
        .unwrap_or_else(|| v.id.to_string());
    let title = format!(
        "{} {number}",
        ui.t("Evidence report · Job", "服务证据报告 · 工单")
    );
    let mut d = Doc::new(&title);
    d.title(&title);
    d.para(
        &format!(
            "{} · {}: {} · {}: {}",
            cx.org.name,
            ui.t("job id", "工单 ID"),
            v.id,
            ui.t("made", "生成于"),
            ui.local(cx.now)
        ),
        8.5,
        0.0,
    );

    check(&mut d, e, cx);
    order(&mut d, e, cx);
    calls_and_pickup(&mut d, e, cx);
    arrival(&mut d, e, cx);
    checklist(&mut d, e, cx);
    completion(&mut d, e, cx);
    decisions(&mut d, e, cx);
    timeline(&mut d, e, cx);
    photos(&mut d, e, cx);

    d.finish(&format!(
        "{} {}",
        ui.t("made by fieldcore", "由 fieldcore 生成"),
        ui.local(cx.now)
    ))
}

/// The evidence check, first: what an ordering party most needs to know.
fn check(d: &mut Doc, e: &Evidence, cx: &Context<'_>) {
    let ui = cx.ui;
    let r = &e.verification;
    d.heading(ui.t("Evidence check", "证据校验"));
    if r.is_ok() {
        d.para(
            &format!(
                "{}: {} {}, {} {}, {} {}.",
                ui.t("VERIFIED", "已验证"),
                r.signed_events,
                ui.t("signed field events", "条已签名的现场记录"),
                r.photos,
                ui.t(
                    "photos matching their signed hashes",
                    "张照片与签名哈希一致"
                ),
                r.devices,
                ui.t("device chain(s)", "条设备记录链"),
            ),
            10.5,
            0.0,
        );
    } else {
        d.para(
            &format!(
                "{} ({} {})",
                ui.t("NOT VERIFIED", "未通过验证"),
                r.problems.len(),
                ui.t("problems", "个问题")
            ),
            10.5,
            0.0,
        );
        for p in &r.problems {
            d.para(&format!("• {p}"), 8.5, 10.0);
        }
    }
    for (device, last) in &r.shown_through {
        let at = e
            .detail
            .timeline
            .iter()
            .find(|t| t.event.id == *last)
            .map(|t| {
                format!(
                    "{} {}",
                    ui.action(t.event.body.kind()),
                    ui.local(t.corrected_at)
                )
            })
            .unwrap_or_else(|| last.to_string());
        d.para(
            &format!(
                "{} {}: {} {at}{}",
                ui.t("Device", "设备"),
                short(*device),
                ui.t(
                    "every event of this job it recorded, up to",
                    "本工单的全部记录均在此，截至"
                ),
                ui.t(
                    ", is here, none altered or left out (a chain cannot rule out events after \
                     its last one).",
                    "，无改动、无遗漏（记录链无法排除最后一条之后的记录）。"
                ),
            ),
            8.5,
            0.0,
        );
    }
    for p in &r.refused_photos {
        d.para(
            &format!(
                "{} {}: {}",
                ui.t("Photo", "照片"),
                short(*p),
                ui.t(
                    "its event was refused by the server's rules, so the photo was not taken in.",
                    "其记录被服务器规则拒绝，照片未被接收。"
                )
            ),
            8.5,
            0.0,
        );
    }
    if r.refused_events > 0 {
        d.para(
            &format!(
                "{} {}",
                r.refused_events,
                ui.t(
                    "of the signed events were refused by the server's rules (listed in the \
                     timeline).",
                    "条已签名的记录被服务器规则拒绝（见时间线）。"
                )
            ),
            8.5,
            0.0,
        );
    }
    d.para(
        ui.t(
            "Each field event is signed on the technician's phone with the phone's own key and \
             linked to the phone's previous event. Anyone can check this without trusting us: \
             download the evidence bundle (evidence.zip) and run `fieldtech verify` on it. The \
             server's times and flags and the dispatchers' events below are the server's \
             statements, not signed by a phone.",
            "每条现场记录都在技术员手机上用该手机自己的密钥签名，并与该手机的上一条记录相连。\
             任何人都可以不依赖我们自行核验：下载证据包（evidence.zip）并运行 `fieldtech verify`。\
             下文中服务器的时间与标记以及调度员的记录是服务器的陈述，并非手机签名。",
        ),
        8.0,
        0.0,
    );
    let rows: Vec<Vec<String>> = e
        .manifest
        .chains
        .iter()
        .map(|c| vec![c.device_id.to_string(), c.public_key.clone()])
        .collect();
    if !rows.is_empty() {
        d.gap(4.0);
        d.table(
            &[170.0, TEXT_W - 170.0],
            &[
                ui.t("Device", "设备"),
                ui.t("Public key (Ed25519)", "公钥 (Ed25519)"),
            ],
            &rows,
            7.5,
        );
    }
}

fn order(d: &mut Doc, e: &Evidence, cx: &Context<'_>) {
    let ui = cx.ui;
    let v = &e.detail.view;
    d.heading(ui.t("Order", "订单"));
    let technician = v
        .technician_id
        .map(|t| name(cx, t))
        .unwrap_or_else(|| ui.t("unassigned", "未派单").to_string());
    let state = [
        (ui.t("Status", "状态"), ui.status(v.status()).to_string()),
        (ui.t("Kind", "类型"), ui.kind(v.order.kind).to_string()),
        (ui.t("Technician", "技术员"), technician),
        (ui.t("Created", "创建时间"), ui.local(v.created_at)),
    ];
    for (label, value) in state.into_iter().chain(ui.order_fields(v)) {
        if !value.is_empty() {
            d.field(label, &value);
        }
    }
    if let Some(reason) = &v.cancel_reason {
        d.field(ui.t("Cancelled", "已取消"), reason);
    }
}

/// The calls to the customer and the goods' pickup: the steps before the visit [000 一.2].
fn calls_and_pickup(d: &mut Doc, e: &Evidence, cx: &Context<'_>) {
    let ui = cx.ui;
    let v = &e.detail.view;
    d.heading(ui.t("Calls and pickup", "联系客户与提货"));
    let mut rows: Vec<Vec<String>> = v
        .calls
        .iter()
        .map(|c| {
            let outcome = serde_json::to_value(c.outcome)
                .ok()
                .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                .unwrap_or_default();
            vec![
                ui.action(fieldcore::domain::ActionKind::CustomerCallLogged)
                    .to_string(),
                ui.local(c.at),
                format!("{outcome} {}", c.note),
            ]
        })
        .collect();
    if let Some(p) = &v.pickup {
        let packaging = match p.packaging {
            fieldcore::domain::Packaging::Intact => ui.t("packaging intact", "包装完好"),
            fieldcore::domain::Packaging::Damaged => ui.t("packaging damaged", "包装破损"),
        };
        rows.push(vec![
            ui.action(fieldcore::domain::ActionKind::PickupRecorded)
                .to_string(),
            ui.local(p.at),
            format!(
                "{} {} · {packaging} {}",
                p.pieces,
                ui.t("pieces", "件"),
                p.note
            ),
        ]);
    }
    if rows.is_empty() {
        d.para(ui.t("None.", "无。"), 9.0, 0.0);
    } else {
        d.table(
            &[110.0, 95.0, TEXT_W - 205.0],
            &[
                ui.t("What", "事件"),
                ui.t("When", "时间"),
                ui.t("Outcome", "结果"),
            ],
            &rows,
            8.0,
        );
    }
}

fn arrival(d: &mut Doc, e: &Evidence, cx: &Context<'_>) {
    let ui = cx.ui;
    let v = &e.detail.view;
    let timers = cx.org.policy.timers(v, cx.now);
    let window = timers.iter().find(|t| t.kind == TimerKind::ArrivalWindow);
    d.heading(ui.t("Arrival", "上门签到"));
    let opt = |t: Option<DateTime<Utc>>| t.map(|t| ui.local(t)).unwrap_or_else(|| "—".into());
    d.field(ui.t("Appointment", "预约时间"), &opt(v.appointment_at));
    if let Some(w) = window {
        d.field(
            ui.t("Window", "时间窗"),
            &format!("{} – {}", opt(w.not_before), ui.local(w.due_at)),
        );
    }
    let (verdict, _) = ui.arrival(window, v.checked_in_at);
    d.field(
        ui.t("Checked in", "签到时间"),
        &format!("{} ({verdict})", opt(v.checked_in_at)),
    );
    if let Some(p) = v.check_in_location {
        d.field(
            ui.t("Location", "位置"),
            &format!(
                "{:.5}, {:.5}{}",
                p.lat,
                p.lon,
                p.accuracy_m
                    .map(|a| format!(" (±{a:.0} m)"))
                    .unwrap_or_default()
            ),
        );
    }
    let rows: Vec<Vec<String>> = timers
        .iter()
        .map(|t| {
            let state = ui.timer_state(t);
            vec![
                ui.timer(t.kind).to_string(),
                ui.local(t.started_at),
                ui.local(t.due_at),
                opt(t.stopped_at),
                state,
            ]
        })
        .collect();
    if !rows.is_empty() {
        d.gap(6.0);
        d.table(
            &[110.0, 95.0, 95.0, 95.0, TEXT_W - 395.0],
            &[
                ui.t("SLA clock", "SLA 时限"),
                ui.t("Started", "开始"),
                ui.t("Due", "截止"),
                ui.t("Stopped", "完成于"),
                ui.t("State", "状态"),
            ],
            &rows,
            8.0,
        );
    }
}

fn checklist(d: &mut Doc, e: &Evidence, cx: &Context<'_>) {
    let ui = cx.ui;
    let v = &e.detail.view;
    d.heading(ui.t("Conduct checklist", "服务规范检查"));
    let mut rows = Vec::new();
    for phase in [Phase::BeforeEntering, Phase::During, Phase::Finishing] {
        for item in cx.org.checklist.items.iter().filter(|i| i.phase == phase) {
            let a = v.checklist.get(&item.id);
            rows.push(vec![
                format!(
                    "{}{}",
                    item.text(ui.lang),
                    if item.required { " *" } else { "" }
                ),
                match a {
                    Some(a) => ui.yes_no(a.answer).to_string(),
                    None => "—".into(),
                },
                a.map(|a| ui.local(a.at)).unwrap_or_default(),
                a.map(|a| a.note.clone()).unwrap_or_default(),
            ]);
        }
    }
    d.table(
        &[230.0, 40.0, 95.0, TEXT_W - 365.0],
        &[
            ui.t("Item (* required)", "检查项（* 必答）"),
            ui.t("Answer", "回答"),
            ui.t("When", "时间"),
            ui.t("Note", "备注"),
        ],
        &rows,
        8.0,
    );
}

fn completion(d: &mut Doc, e: &Evidence, cx: &Context<'_>) {
    let ui = cx.ui;
    let v = &e.detail.view;
    d.heading(ui.t(
        "Signature, confirmation code, completion",
        "客户签名、确认码与完工",
    ));
    let at_of = |pred: fn(&EventBody) -> bool| {
        e.detail
            .timeline
            .iter()
            .rev()
            .find(|t| pred(&t.event.body))
            .map(|t| ui.local(t.corrected_at))
    };
    d.field(
        ui.t("Customer's signature", "客户签名"),
        &match &v.signature {
            Some(s) => format!(
                "{} {} ({} {}; {}: {})",
                ui.t("captured", "已签"),
                at_of(|b| matches!(b, EventBody::SignatureCaptured { .. })).unwrap_or_default(),
                s.stroke_count,
                ui.t("strokes", "笔"),
                ui.t("strokes SHA-256", "笔迹 SHA-256"),
                s.strokes_sha256
            ),
            None => ui.t("not yet", "未签").to_string(),
        },
    );
    let signature = e
        .detail
        .photos
        .iter()
        .rev()
        .find(|p| p.category == PhotoCategory::Signature.as_str() && p.blob_path.is_some())
        .and_then(|p| bundled(e, p.photo_id))
        .and_then(|b| picture::picture(&b));
    if let Some(p) = signature {
        d.pictures(vec![(Some(p), Vec::new())], 3);
    }
    d.field(
        ui.t("Confirmation code", "服务确认码"),
        &match (v.order.requires_verification, v.code_entered_at) {
            (_, Some(t)) => format!("{} {}", ui.t("entered", "已录入"), ui.local(t)),
            (true, None) => ui
                .t("required, not entered yet", "需要，尚未录入")
                .to_string(),
            (false, None) => ui.t("not required", "无需核销").to_string(),
        },
    );
    let opt = |t: Option<DateTime<Utc>>| t.map(|t| ui.local(t)).unwrap_or_else(|| "—".into());
    d.field(ui.t("Work done", "完工"), &opt(v.work_done_at));
    d.field(ui.t("Completed", "完成"), &opt(v.completed_at));
}

fn decisions(d: &mut Doc, e: &Evidence, cx: &Context<'_>) {
    let ui = cx.ui;
    let v = &e.detail.view;
    d.heading(ui.t("Exceptions and decisions", "异常与处理决定"));
    if v.exceptions.is_empty() && v.exemptions.is_empty() && v.complaints.is_empty() {
        d.para(ui.t("None.", "无。"), 9.0, 0.0);
    }
    for x in &v.exceptions {
        d.para(
            &format!(
                "{} · {} · {}",
                x.kind.label(ui.lang),
                ui.local(x.raised_at),
                x.note
            ),
            9.0,
            0.0,
        );
        let decided = match &x.resolution {
            Some(r) => format!(
                "{}: {} {} {}",
                ui.t("Decided", "已决定"),
                ui.decision(r.decision),
                ui.local(r.decided_at),
                r.note
            ),
            None => ui.t("Open: not decided yet", "待处理").to_string(),
        };
        d.para(&decided, 8.5, 12.0);
    }
    for x in &v.exemptions {
        d.para(
            &format!(
                "{}: {} · {} · {} · {}",
                ui.t("Exemption claimed for", "豁免申请"),
                ui.timer(x.timer),
                ui.reason(x.reason),
                ui.local(x.claimed_at),
                x.note
            ),
            9.0,
            0.0,
        );
        let decided = match (x.granted, x.decided_at) {
            (Some(g), at) => format!(
                "{}: {} {}",
                ui.t("Decided", "已决定"),
                if g {
                    ui.t("granted", "已批准")
                } else {
                    ui.t("refused", "已拒绝")
                },
                at.map(|t| ui.local(t)).unwrap_or_default()
            ),
            (None, _) => ui.t("Open: not decided yet", "待处理").to_string(),
        };
        d.para(&decided, 8.5, 12.0);
    }
    for c in &v.complaints {
        d.para(
            &format!(
                "{} · {} · {}{}",
                ui.t("Complaint", "投诉"),
                ui.local(c.filed_at),
                c.note,
                c.result
                    .as_ref()
                    .map(|r| format!(" → {r}"))
                    .unwrap_or_default()
            ),
            9.0,
            0.0,
        );
    }
}

fn timeline(d: &mut Doc, e: &Evidence, cx: &Context<'_>) {
    let ui = cx.ui;
    d.heading(ui.t("Timeline", "时间线"));
    let rows: Vec<Vec<String>> = e
        .detail
        .timeline
        .iter()
        .map(|t| {
            let who = match t.event.actor {
                Actor::Technician {
                    technician_id,
                    device_id,
                } => format!(
                    "{} ({} {})",
                    name(cx, technician_id),
                    ui.t("device", "设备"),
                    short(device_id)
                ),
                Actor::Dispatcher { .. } => ui.t("desk", "调度").to_string(),
            };
            let mut flags: Vec<&str> = t.flags.iter().map(|f| ui.flag(*f)).collect();
            if matches!(t.event.actor, Actor::Technician { .. }) && t.event.seal.is_some() {
                flags.insert(0, ui.t("signed", "已签名"));
            }
            vec![
                ui.action(t.event.body.kind()).to_string(),
                who,
                ui.local(t.event.recorded_at),
                ui.local(t.corrected_at),
                ui.local(t.server_received_at),
                flags.join(", "),
            ]
        })
        .collect();
    d.table(
        &[80.0, 118.0, 78.0, 78.0, 78.0, TEXT_W - 432.0],
        &[
            ui.t("What", "事件"),
            ui.t("Who", "操作人"),
            ui.t("Device time", "设备时间"),
            ui.t("Corrected time", "校正时间"),
            ui.t("Received by server", "服务器接收"),
            ui.t("Flags", "标记"),
        ],
        &rows,
        7.5,
    );
    if !e.detail.unreadable.is_empty() {
        d.gap(6.0);
        d.para(
            ui.t(
                "Stored entries that could not be read (not in this report or the bundle)",
                "无法读取的记录（未列入本报告和证据包）",
            ),
            9.5,
            0.0,
        );
        for u in &e.detail.unreadable {
            d.para(&format!("{} {}: {}", u.what, u.id, u.problem), 8.0, 10.0);
        }
    }
    if !e.detail.rejections.is_empty() {
        d.gap(6.0);
        d.para(ui.t("Refused device events", "被拒绝的设备事件"), 9.5, 0.0);
        for r in &e.detail.rejections {
            d.para(
                &format!(
                    "{} · {} · {}: {}",
                    ui.local(r.received_at),
                    ui.action(r.event.body.kind()),
                    r.rule,
                    r.message
                ),
                8.0,
                10.0,
            );
        }
    }
}

fn photos(d: &mut Doc, e: &Evidence, cx: &Context<'_>) {
    let ui = cx.ui;
    d.heading(ui.t("Photos", "照片"));
    if e.detail.photos.is_empty() {
        d.para(ui.t("No photos.", "无照片。"), 9.0, 0.0);
    }
    // Where and when each photo was taken, from its signed event.
    let taken: HashMap<Uuid, (DateTime<Utc>, Option<String>)> = e
        .detail
        .timeline
        .iter()
        .filter_map(|t| match &t.event.body {
            EventBody::PhotoCaptured { photo } => Some((
                photo.photo_id,
                (
                    t.corrected_at,
                    photo
                        .location
                        .map(|p| format!("{:.5}, {:.5}", p.lat, p.lon)),
                ),
            )),
            _ => None,
        })
        .collect();
    let altered: Vec<Uuid> = e
        .verification
        .problems
        .iter()
        .filter_map(|p| match p {
            fieldcore::evidence::Problem::PhotoAltered { photo }
            | fieldcore::evidence::Problem::PhotoMissing { photo }
            | fieldcore::evidence::Problem::PhotoUnvouched { photo } => Some(*photo),
            _ => None,
        })
        .collect();
    for cat in PhotoCategory::ALL {
        let items: Vec<(Option<Picture>, Vec<String>)> = e
            .detail
            .photos
            .iter()
            .filter(|p| p.category == cat.as_str())
            .map(|p| {
                let pic = bundled(e, p.photo_id).and_then(|b| picture::picture(&b));
                let mut caption = vec![format!("{} · {}", ui.category(cat), short(p.photo_id))];
                if let Some((at, place)) = taken.get(&p.photo_id) {
                    caption.push(ui.local(*at));
                    caption.extend(place.clone());
                }
                caption.push(if p.blob_path.is_none() {
                    ui.t("not uploaded yet", "尚未上传").to_string()
                } else if altered.contains(&p.photo_id) {
                    ui.t("DOES NOT MATCH its signed hash", "与签名哈希不符")
                        .to_string()
                } else {
                    ui.t("matches its signed hash", "与签名哈希一致")
                        .to_string()
                });
                (pic, caption)
            })
            .collect();
        if !items.is_empty() {
            d.para(ui.category(cat), 10.0, 0.0);
            d.gap(3.0);
            d.pictures(items, 3);
        }
    }
}

/// The bytes of a photo in the bundle.
fn bundled(e: &Evidence, photo: Uuid) -> Option<bytes::Bytes> {
    let p = e.manifest.photos.iter().find(|p| p.photo_id == photo)?;
    e.files.get(p.file.as_deref()?).cloned()
}

fn name(cx: &Context<'_>, technician: Uuid) -> String {
    cx.technicians
        .get(&technician)
        .cloned()
        .unwrap_or_else(|| short(technician))
}

/// The last 8 hex digits of an id: enough to tell devices and photos apart on paper (the
/// first ones of a UUIDv7 are its time, shared by ids made together).
fn short(id: Uuid) -> String {
    let hex = id.simple().to_string();
    hex[hex.len() - 8..].to_string()
}
