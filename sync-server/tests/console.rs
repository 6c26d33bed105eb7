//! The console's HTML routes over a real socket: who may see them, which forms count, what
//! stays inside an organisation, and that customer text is shown, never run.
//!
//! The console shares the API's sessions, so a token from `POST /v1/auth/login` is a valid
//! `fc_session` cookie: these tests log in through the API and browse with the cookie.

mod common;

use common::{Desk, World};
use fieldcore::domain::{EventBody, JobKind};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use serde_json::json;
use uuid::Uuid;

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            let enc: String = v
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

struct Session<'a> {
    w: &'a World,
    http: reqwest::Client,
    cookie: String,
}

impl Session<'_> {
    fn of<'a>(w: &'a World, desk: &Desk) -> Session<'a> {
        Session {
            w,
            http: browser(),
            cookie: format!("fc_session={}", desk.token),
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let res = self
            .http
            .get(self.w.url(path))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap();
        (res.status(), res.text().await.unwrap())
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.w.url(path))
            .header(COOKIE, &self.cookie)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form(fields))
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token the board's forms carry.
    async fn csrf(&self) -> String {
        let (s, html) = self.get("/console").await;
        assert_eq!(s, StatusCode::OK);
        let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
        html[at..at + 64].to_string()
    }
}

#[tokio::test]
async fn pages_need_a_session_and_the_login_form_gives_one() {
    let w = World::start().await;
    let _desk = w.desk("Acme").await;
    let http = browser();
    for path in [
        "/console",
        "/console/technicians",
        "/console/jobs/new",
        "/console/events",
    ] {
        let res = http.get(w.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        let to = res.headers()[LOCATION].to_str().unwrap();
        assert!(to.starts_with("/console/login?next="), "{path} -> {to}");
    }
    let res = http
        .get(w.url("/console"))
        .header(COOKIE, "fc_session=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    // The login form: a double-submit token in a cookie and a hidden field.
    let res = http.get(w.url("/console/login")).send().await.unwrap();
    let login_cookie = res.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(login_cookie.contains("HttpOnly") && login_cookie.contains("SameSite=Lax"));
    let token = login_cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("fc_login=")
        .to_string();
    let body = |login_csrf: &str| {
        form(&[
            ("login_csrf", login_csrf),
            ("next", "//evil.example/"),
            ("email", "desk@acme.example"),
            ("password", common::PASSWORD),
        ])
    };
    let post = |cookie: String, body: String| {
        http.post(w.url("/console/login"))
            .header(COOKIE, cookie)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    // Without the matching cookie the form is refused, even with the right password.
    let res = post(String::new(), body(&token)).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = post(format!("fc_login={token}"), body(&token))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // `next` pointing off-site is ignored.
    assert_eq!(res.headers()[LOCATION], "/console");
    let session = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("fc_session="))
        .expect("a session cookie");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(session.contains(attr), "{session}");
    }
    assert!(!session.contains("Secure"), "off by default for plain http");
    let cookie = session.split(';').next().unwrap().to_string();
    let res = http
        .get(w.url("/console"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("id=\"live\""));
}

#[tokio::test]
async fn forms_without_the_session_token_are_refused() {
    let w = World::start().await;
    let desk = w.desk("Acme").await;
    let s = Session::of(&w, &desk);
    let tech = desk.technician("Wang").await;
    let job = desk.job_for(tech).await;
    let csrf = s.csrf().await;

    for token in [None, Some("0".repeat(64))] {
        let mut fields = vec![("reason", "customer moved")];
        if let Some(t) = &token {
            fields.push(("csrf", t));
        }
        let res = s
            .post(&format!("/console/jobs/{job}/cancel"), &fields)
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let res = s.post("/console/technicians", &[("name", "Mallory")]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(desk.job(job).await["status"], "scheduled");
    let (_, list) = desk.get("/v1/technicians").await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Another session's token does not fit this session either.
    let other = {
        let res = reqwest::Client::new()
            .post(w.url("/v1/auth/login"))
            .json(&json!({"email": "desk@acme.example", "password": common::PASSWORD}))
            .send()
            .await
            .unwrap();
        let v: serde_json::Value = res.json().await.unwrap();
        Session {
            w: &w,
            http: browser(),
            cookie: format!("fc_session={}", v["token"].as_str().unwrap()),
        }
    };
    let res = other
        .post(
            &format!("/console/jobs/{job}/cancel"),
            &[("csrf", &csrf), ("reason", "x")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // With it, the action happens and the browser is sent back to the job.
    let res = s
        .post(
            &format!("/console/jobs/{job}/cancel"),
            &[("csrf", &csrf), ("reason", "customer moved")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(desk.job(job).await["status"], "cancelled");
}

#[tokio::test]
async fn an_organisation_sees_nothing_of_another() {
    let w = World::start().await;
    let acme = w.desk("Acme").await;
    let other = w.desk("Other Co").await;
    let tech = acme.technician("Wang Wei").await;
    let job = acme.job_for(tech).await;
    let device = w.device(&acme, tech).await;
    let photo = fieldcore::domain::PhotoRef {
        photo_id: Uuid::now_v7(),
        category: fieldcore::domain::PhotoCategory::Completion,
        sha256: "a".repeat(64),
        location: None,
    };
    let pushed = device
        .push(&[
            device.event(job, EventBody::JobAccepted),
            device.event(job, EventBody::CheckedIn { location: None }),
            device.event(
                job,
                EventBody::PhotoCaptured {
                    photo: photo.clone(),
                },
            ),
        ])
        .await;
    assert!(
        pushed
            .results
            .iter()
            .all(|r| r.status == fieldcore::protocol::PushStatus::Accepted),
        "{pushed:?}"
    );

    let mine = Session::of(&w, &acme);
    let theirs = Session::of(&w, &other);
    let (s, html) = mine.get(&format!("/console/jobs/{job}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(&format!("data-photo=\"{}\"", photo.photo_id)));

    let (s, html) = theirs.get(&format!("/console/jobs/{job}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(!html.contains("Wang Wei"));
    let (s, _) = theirs
        .get(&format!("/console/photos/{}", photo.photo_id))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    for path in ["/console", "/console/technicians"] {
        let (s, html) = theirs.get(path).await;
        assert_eq!(s, StatusCode::OK);
        assert!(!html.contains(&job.to_string()), "{path}");
        assert!(!html.contains("Wang Wei"), "{path}");
    }
    // Their forms cannot reach our job or our technician.
    let csrf = theirs.csrf().await;
    let res = theirs
        .post(
            &format!("/console/jobs/{job}/cancel"),
            &[("csrf", &csrf), ("reason", "x")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = theirs
        .post(
            &format!("/console/technicians/{tech}/enrolment-code"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(acme.job(job).await["status"], "on_site");
}

#[tokio::test]
async fn customer_text_is_escaped_everywhere() {
    let w = World::start().await;
    let desk = w.desk("Acme").await;
    let evil = "<script>alert(1)</script>";
    let tech = desk.technician("<img src=x onerror=alert(2)>").await;
    let mut order = fieldcore::fixtures::order(JobKind::Install);
    order.customer_name = evil.to_string();
    order.address = "\"><b>addr</b>".to_string();
    let (s, v) = desk
        .post(
            "/v1/jobs",
            json!({"order": order, "technician_id": tech,
                   "appointment_at": chrono::Utc::now() + chrono::Duration::hours(1)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let job = v["view"]["id"].as_str().unwrap();
    let s = Session::of(&w, &desk);
    for path in [
        "/console".to_string(),
        "/console?fragment=1".to_string(),
        format!("/console/jobs/{job}"),
        "/console/technicians".to_string(),
        "/console/jobs/new".to_string(),
    ] {
        let (status, html) = s.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(!html.contains("<script>alert"), "{path}");
        assert!(!html.contains("<img src=x"), "{path}");
        assert!(!html.contains("<b>addr"), "{path}");
    }
    let (_, html) = s.get(&format!("/console/jobs/{job}")).await;
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[tokio::test]
async fn the_console_speaks_chinese_on_request() {
    let w = World::start().await;
    let desk = w.desk("Acme").await;
    let s = Session::of(&w, &desk);
    let (_, en) = s.get("/console").await;
    assert!(en.contains("<html lang=\"en\"") && en.contains("Board"));
    let (_, zh) = s.get("/console?lang=zh-CN").await;
    assert!(zh.contains("<html lang=\"zh-CN\"") && zh.contains("看板"));
    // The switch remembers the choice in a cookie and returns to a local page only.
    let res = s
        .http
        .get(w.url("/console/lang?to=zh-CN&back=https://evil.example/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()[LOCATION], "/console");
    assert!(
        res.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .starts_with("fc_lang=zh-CN")
    );
}

#[tokio::test]
async fn desk_actions_and_device_pushes_reach_the_live_stream() {
    let w = World::start().await;
    let desk = w.desk("Acme").await;
    let other = w.desk("Other Co").await;
    let tech = desk.technician("Wang").await;
    let mut mine = w.server.state().notifier.subscribe(desk.organisation_id);
    let mut theirs = w.server.state().notifier.subscribe(other.organisation_id);
    let job = desk.job_for(tech).await;
    assert_eq!(mine.recv().await.unwrap().job_id, job);
    let device = w.device(&desk, tech).await;
    device
        .push(&[device.event(job, EventBody::JobAccepted)])
        .await;
    assert_eq!(mine.recv().await.unwrap().job_id, job);
    // A repeated batch stores nothing new and says nothing.
    assert!(mine.try_recv().is_err());
    assert!(theirs.try_recv().is_err());

    // The SSE endpoint answers as an event stream for a session.
    let res = browser()
        .get(w.url("/console/events"))
        .header(COOKIE, format!("fc_session={}", desk.token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CONTENT_TYPE], "text/event-stream");
    let mut res = res;
    desk.post(
        &format!("/v1/jobs/{job}/appointment"),
        json!({"at": chrono::Utc::now() + chrono::Duration::days(2)}),
    )
    .await;
    let mut seen = String::new();
    while !seen.contains(&format!("data: {job}")) {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), res.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: change"), "{seen}");
    // An open stream does not hold up the server's graceful shutdown.
    let World { server, dir, .. } = w;
    tokio::time::timeout(std::time::Duration::from_secs(10), server.shutdown())
        .await
        .expect("shutdown with an open event stream");
    drop((res, dir));
}

#[tokio::test]
async fn desk_forms_edit_reschedule_and_cancel_through_the_rulebook() {
    let w = World::start().await;
    let desk = w.desk("Acme").await;
    let tech = desk.technician("Wang").await;
    let job = desk.job_for(tech).await;
    let s = Session::of(&w, &desk);
    let csrf = s.csrf().await;
    let path = |action: &str| format!("/console/jobs/{job}/{action}");
    let order = |kind: &str, address: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("kind", kind.to_string()),
            ("customer_name", "Li Na".to_string()),
            ("address", address.to_string()),
            ("phone", "+86 138 0000 0002".to_string()),
            ("work", "Install".to_string()),
            ("fee_basis", "in_warranty".to_string()),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>, action: &'static str| {
        let s = &s;
        let path = path(action);
        async move {
            let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s.post(&path, &refs).await
        }
    };

    let res = send(order("install", "12 New Street"), "edit").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        desk.job(job).await["view"]["order"]["address"],
        "12 New Street"
    );

    // The rulebook's refusal is shown on the job page, and nothing changes.
    let res = send(order("repair", "Elsewhere"), "edit").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("class=\"notice error\""), "{html}");
    assert!(html.contains("invalid_input"));
    // The same refusal for a dispatcher reading Chinese is in Chinese.
    let fields = order("repair", "Elsewhere");
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = s.post(&format!("{}?lang=zh-CN", path("edit")), &refs).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    let notice = &html[html.find("class=\"notice error\"").unwrap()..];
    let notice = &notice[..notice.find("</").unwrap()];
    // The rulebook's own words for invalid input, not only the console's label around them.
    assert!(
        notice.contains("填写的信息无效") && !notice.contains("Some details are not valid"),
        "{notice}"
    );
    assert_eq!(
        desk.job(job).await["view"]["order"]["address"],
        "12 New Street"
    );

    // A visit booked two months out (the rulebook keeps bookings within a year).
    let day = (chrono::Utc::now() + chrono::Duration::days(60)).date_naive();
    let res = send(
        vec![
            ("csrf", csrf.clone()),
            ("at", format!("{day}T14:30")),
            ("note", "customer asked".to_string()),
        ],
        "appointment",
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // 14:30 in the organisation's default calendar (UTC+8).
    assert_eq!(
        desk.job(job).await["view"]["appointment_at"],
        format!("{day}T06:30:00Z")
    );

    let res = send(
        vec![("csrf", csrf.clone()), ("reason", String::new())],
        "cancel",
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = send(
        vec![("csrf", csrf.clone()), ("reason", "customer moved".into())],
        "cancel",
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let v = desk.job(job).await;
    assert_eq!(v["status"], "cancelled");
    let (_, html) = s.get(&format!("/console/jobs/{job}")).await;
    assert!(html.contains("customer moved") && html.contains("order amended"));
}

/// A job far from any deadline still shows its next clock on the board, muted; the desk
/// reads at a glance how long every job has left.
#[tokio::test]
async fn the_board_shows_each_job_s_next_clock() {
    let w = World::start().await;
    let desk = w.desk("Acme").await;
    let tech = desk.technician("Wang").await;
    let job = desk.job_for(tech).await;
    let phone = w.device(&desk, tech).await;
    let r = phone
        .push(&[phone.event(job, fieldcore::domain::EventBody::JobAccepted)])
        .await;
    assert_eq!(
        r.results[0].status,
        fieldcore::protocol::PushStatus::Accepted
    );
    let (status, _) = desk
        .post(
            &format!("/v1/jobs/{job}/appointment"),
            json!({"at": chrono::Utc::now() + chrono::Duration::days(20)}),
        )
        .await;
    assert!(status.is_success());

    let s = Session::of(&w, &desk);
    let (_, board) = s.get("/console").await;
    let row = &board[board.find(&format!("id=\"job-{job}\"")).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("<span class=\"timer\" data-timer=") && row.contains(" left"),
        "{row}"
    );
}

#[tokio::test]
async fn after_the_visit_return_visit_and_complaint_forms() {
    let w = World::start().await;
    let desk = w.desk("Acme").await;
    let tech = desk.technician("Wang").await;
    let job = desk.job_for(tech).await;
    let device = w.device(&desk, tech).await;
    let appointment: chrono::DateTime<chrono::Utc> = desk.job(job).await["view"]["appointment_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let ids: Vec<String> = fieldcore::domain::ChecklistTemplate::default_template()
        .items
        .iter()
        .map(|i| i.id.clone())
        .collect();
    let events: Vec<_> = fieldcore::fixtures::clean_visit(JobKind::Install, appointment, &ids)
        .into_iter()
        // The desk booked the visit already.
        .filter(|b| !matches!(b, EventBody::AppointmentBooked { .. }))
        .map(|b| device.event(job, b))
        .collect();
    let pushed = device.push(&events).await;
    assert!(
        pushed
            .results
            .iter()
            .all(|r| r.status == fieldcore::protocol::PushStatus::Accepted),
        "{pushed:?}"
    );
    let s = Session::of(&w, &desk);
    let (_, board) = s.get("/console").await;
    let due = &board[board.find("id=\"return-visits\"").unwrap()..];
    assert!(due[..due.find("</section>").unwrap()].contains(&job.to_string()));

    let csrf = s.csrf().await;
    let path = |a: &str| format!("/console/jobs/{job}/{a}");
    let res = s
        .post(
            &path("return-visit"),
            &[
                ("csrf", &csrf),
                ("quality", "5"),
                ("attitude", "4"),
                ("note", "happy"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let v = desk.job(job).await;
    assert_eq!(v["view"]["return_visit"]["quality"], 5);

    let res = s
        .post(
            &path("complaint"),
            &[("csrf", &csrf), ("note", "scratched the floor")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let complaint = desk.job(job).await["view"]["complaints"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, html) = s.get(&format!("/console/jobs/{job}")).await;
    assert!(html.contains("data-timer=\"complaint_answer\""));
    let res = s
        .post(
            &path("answer"),
            &[("csrf", &csrf), ("target", &complaint), ("accepted", "yes")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, html) = s.get(&format!("/console/jobs/{job}")).await;
    assert!(html.contains("data-timer=\"complaint_result\""));
    let res = s
        .post(
            &path("close"),
            &[
                ("csrf", &csrf),
                ("target", &complaint),
                ("result", "floor repaired"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let v = desk.job(job).await;
    assert_eq!(v["view"]["complaints"][0]["result"], "floor repaired");

    // The technician's figures count the completion and the complaint.
    // The arrival window is tomorrow's: a period that includes it.
    let (_, html) = s
        .get("/console/technicians?from=2000-01-01&to=2099-12-31")
        .await;
    let row = &html[html.find(&format!("data-technician=\"{tech}\"")).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    // Complaint rate 1 of 1 completed; arrival 0 of 1 (checked in a day before the window).
    assert!(row.contains("100% (1/1)"), "{row}");
    assert!(row.contains("0% (0/1)"), "{row}");
}

#[tokio::test]
async fn webhooks_are_added_listed_logged_and_deleted_in_the_console_of_their_organisation_only() {
    let w = World::start().await;
    let acme = w.desk("Acme").await;
    let other = w.desk("Other Co").await;
    let mine = Session::of(&w, &acme);
    let csrf = mine.csrf().await;
    // A URL a hostile desk user might type: stored as given, shown escaped.
    let url = "http://hooks.example.invalid/hook?x=<script>alert(1)</script>";
    let res = mine
        .post(
            "/console/webhooks",
            &[
                ("csrf", &csrf),
                ("url", url),
                ("event:job.created", "on"),
                ("event:job.completed", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let hooks = acme.get("/v1/webhooks").await.1;
    assert_eq!(hooks[0]["url"], url);
    assert_eq!(
        hooks[0]["events"],
        serde_json::json!(["job.created", "job.completed"])
    );
    let secret = hooks[0]["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));

    let tech = acme.technician("Wang Wei").await;
    let job = acme.job_for(tech).await;
    let (s, html) = mine.get("/console/webhooks").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(secret));
    assert!(!html.contains("<script>alert"), "escaped");
    assert!(
        html.contains(&format!("/console/jobs/{job}")),
        "the delivery is logged"
    );
    assert!(
        html.contains("/retry\""),
        "an undelivered delivery can be sent again"
    );

    // Without the session's token, or from another organisation: nothing happens.
    let res = mine
        .post(
            "/console/webhooks",
            &[("url", "http://example.com/"), ("event:job.created", "on")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let theirs = Session::of(&w, &other);
    let (_, html) = theirs.get("/console/webhooks").await;
    assert!(!html.contains(secret) && !html.contains(&job.to_string()));
    let id = hooks[0]["id"].as_str().unwrap();
    let their_csrf = theirs.csrf().await;
    theirs
        .post(
            &format!("/console/webhooks/{id}/delete"),
            &[("csrf", &their_csrf)],
        )
        .await;
    assert_eq!(
        acme.get("/v1/webhooks").await.1.as_array().unwrap().len(),
        1
    );

    // A bad URL is refused with the reason on the page.
    let res = mine
        .post(
            "/console/webhooks",
            &[
                ("csrf", &csrf),
                ("url", "ftp://x"),
                ("event:job.created", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("http(s) URL"));
    // Nor one inside the server's own network (SSRF).
    let res = mine
        .post(
            "/console/webhooks",
            &[
                ("csrf", &csrf),
                ("url", "http://169.254.169.254/latest"),
                ("event:job.created", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("169.254.169.254 is not a public address")
    );

    let res = mine
        .post(
            &format!("/console/webhooks/{id}/delete"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(acme.get("/v1/webhooks").await.1, serde_json::json!([]));
    assert!(
        acme.get("/v1/webhooks/deliveries")
            .await
            .1
            .as_array()
            .unwrap()
            .is_empty()
    );
}
