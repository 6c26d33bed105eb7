//! A real server on 127.0.0.1:0 with its SQLite file in a temporary directory, and small
//! clients for the desk and for devices. No mocks.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use fieldcore::domain::{Actor, Event, EventBody, JobKind};
use fieldcore::protocol::{EnrollRequest, EnrollResponse, PullResponse, PushRequest, PushResponse};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sync_server::{Config, RunningServer};
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery";

pub struct World {
    pub dir: tempfile::TempDir,
    pub server: RunningServer,
    pub http: reqwest::Client,
    pub config: Config,
}

impl World {
    pub async fn start() -> World {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut Config)) -> World {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_tests(dir.path().join("data"));
        tune(&mut config);
        let server = sync_server::start(config.clone()).await.unwrap();
        World {
            dir,
            server,
            http: reqwest::Client::new(),
            config,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.server.base_url(), path)
    }

    /// A new organisation with one dispatcher, logged in.
    pub async fn desk(&self, org: &str) -> Desk {
        let email = format!("desk@{}.example", org.to_lowercase().replace(' ', "-"));
        sync_server::create_dispatcher(&self.config, org, &email, "Desk", PASSWORD)
            .await
            .unwrap();
        let res = self
            .http
            .post(self.url("/v1/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let v: Value = res.json().await.unwrap();
        Desk {
            http: self.http.clone(),
            base: self.server.base_url(),
            token: v["token"].as_str().unwrap().to_string(),
            dispatcher_id: v["dispatcher_id"].as_str().unwrap().parse().unwrap(),
            organisation_id: v["organisation_id"].as_str().unwrap().parse().unwrap(),
        }
    }

    /// Enrol a new device for `technician` with a fresh code.
    pub async fn device(&self, desk: &Desk, technician: Uuid) -> DeviceClient {
        let code = desk.code(technician).await;
        let device_id = Uuid::now_v7();
        let (status, body) = self.enroll(&code, device_id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let r: EnrollResponse = serde_json::from_value(body).unwrap();
        DeviceClient {
            http: self.http.clone(),
            base: self.server.base_url(),
            token: r.token,
            device_id,
            technician_id: r.technician_id,
        }
    }

    pub async fn enroll(&self, code: &str, device_id: Uuid) -> (StatusCode, Value) {
        let res = self
            .http
            .post(self.url("/v1/devices/enroll"))
            .json(&EnrollRequest {
                code: code.to_string(),
                device_id,
                device_name: "test phone".into(),
            })
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

pub struct Desk {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
    pub dispatcher_id: Uuid,
    pub organisation_id: Uuid,
}

impl Desk {
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn technician(&self, name: &str) -> Uuid {
        let (s, v) = self
            .post(
                "/v1/technicians",
                json!({"name": name, "phone": "+86 139 0000 0000"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn code(&self, technician: Uuid) -> String {
        let (s, v) = self
            .post(
                &format!("/v1/technicians/{technician}/enrolment-codes"),
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["code"].as_str().unwrap().to_string()
    }

    /// An install job for `technician`, visit booked tomorrow.
    pub async fn job_for(&self, technician: Uuid) -> Uuid {
        let order = fieldcore::fixtures::order(JobKind::Install);
        let (s, v) = self
            .post(
                "/v1/jobs",
                json!({
                    "order": order,
                    "technician_id": technician,
                    "appointment_at": Utc::now() + chrono::Duration::days(1),
                }),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["view"]["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn job(&self, job: Uuid) -> Value {
        let (s, v) = self.get(&format!("/v1/jobs/{job}")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }
}

pub struct DeviceClient {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
    pub device_id: Uuid,
    pub technician_id: Uuid,
}

impl DeviceClient {
    pub fn event(&self, job_id: Uuid, body: EventBody) -> Event {
        Event {
            id: Uuid::now_v7(),
            job_id,
            actor: Actor::Technician {
                technician_id: self.technician_id,
                device_id: self.device_id,
            },
            recorded_at: Utc::now(),
            monotonic_ms: None,
            device_seq: None,
            clock_offset_ms: None,
            corrected_at: None,
            body,
        }
    }

    pub async fn push_raw(&self, events: &[Event]) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/sync/push", self.base))
            .bearer_auth(&self.token)
            .json(&PushRequest {
                device_id: self.device_id,
                sent_at: Utc::now(),
                sent_monotonic_ms: 0,
                events: events.to_vec(),
            })
            .send()
            .await
            .unwrap()
    }

    pub async fn push(&self, events: &[Event]) -> PushResponse {
        let res = self.push_raw(events).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    pub async fn pull_raw(&self, cursor: Option<&str>, limit: usize) -> reqwest::Response {
        let mut q = vec![("limit", limit.to_string())];
        if let Some(c) = cursor {
            q.push(("cursor", c.to_string()));
        }
        self.http
            .get(format!("{}/v1/sync/pull", self.base))
            .bearer_auth(&self.token)
            .query(&q)
            .send()
            .await
            .unwrap()
    }

    pub async fn pull(&self, cursor: Option<&str>, limit: usize) -> PullResponse {
        let res = self.pull_raw(cursor, limit).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    /// Every event in the feed, paging through.
    pub async fn pull_all(&self) -> Vec<Event> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.pull(cursor.as_deref(), 1000).await;
            out.extend(page.events);
            cursor = Some(page.next_cursor);
            if !page.has_more {
                return out;
            }
        }
    }
}

pub fn now() -> DateTime<Utc> {
    Utc::now()
}
