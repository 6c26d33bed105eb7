//! The dispatcher, over the server's real HTTP API.

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery";

#[derive(Debug, Clone)]
pub struct Desk {
    http: Client,
    pub base: String,
    pub token: String,
    pub organisation_id: Uuid,
}

impl Desk {
    pub fn login(base: &str, email: &str, password: &str) -> Desk {
        let http = Client::new();
        let res = http
            .post(format!("{base}/v1/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .expect("login");
        assert_eq!(res.status(), StatusCode::OK);
        let v: Value = res.json().expect("json");
        Desk {
            http,
            base: base.to_string(),
            token: v["token"].as_str().expect("token").to_string(),
            organisation_id: v["organisation_id"]
                .as_str()
                .expect("org")
                .parse()
                .expect("uuid"),
        }
    }

    pub fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .expect("request");
        let status = res.status();
        (status, res.json().unwrap_or(Value::Null))
    }

    pub fn get(&self, path: &str) -> (StatusCode, Value) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .expect("request");
        let status = res.status();
        (status, res.json().unwrap_or(Value::Null))
    }

    pub fn get_bytes(&self, path: &str) -> (StatusCode, Vec<u8>) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .expect("request");
        let status = res.status();
        (status, res.bytes().map(|b| b.to_vec()).unwrap_or_default())
    }

    /// A console page as the dispatcher's browser gets it (the session token is the cookie).
    pub fn console_page(&self, path: &str) -> String {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", format!("fc_session={}", self.token))
            .send()
            .expect("request");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        res.text().expect("html")
    }

    pub fn technician(&self, name: &str) -> Uuid {
        let (s, v) = self.post(
            "/v1/technicians",
            json!({"name": name, "phone": "+86 139 0000 0000"}),
        );
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_str().expect("id").parse().expect("uuid")
    }

    pub fn code(&self, technician: Uuid) -> String {
        let (s, v) = self.post(
            &format!("/v1/technicians/{technician}/enrolment-codes"),
            json!({}),
        );
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["code"].as_str().expect("code").to_string()
    }

    /// A job of this kind for `technician`, the visit booked at `appointment`.
    pub fn job(
        &self,
        kind: fieldcore::domain::JobKind,
        technician: Uuid,
        appointment: chrono::DateTime<chrono::Utc>,
    ) -> Uuid {
        let order = fieldcore::fixtures::order(kind);
        let (s, v) = self.post(
            "/v1/jobs",
            json!({"order": order, "technician_id": technician, "appointment_at": appointment}),
        );
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["view"]["id"].as_str().expect("id").parse().expect("uuid")
    }

    pub fn job_detail(&self, job: Uuid) -> Value {
        let (s, v) = self.get(&format!("/v1/jobs/{job}"));
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }
}
