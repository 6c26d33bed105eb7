//! One desk-action type: every change the desk makes to an existing job, as the JSON API and
//! the console's forms both send it, and the one mapping from it to the event it records. Both
//! faces deserialize into [`DeskAction`] (JSON bodies, or the forms' fields), so a rule about a
//! desk action (which technician may be assigned, what a complaint id is, how a visit time is
//! read) is written once; atomicity (`desk`) and idempotency (`crate::idempotency`) sit under it.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use fieldcore::domain::{EventBody, ExceptionDecision, JobNumber, JobOrder};
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use crate::AppState;
use crate::auth::DispatcherAuth;
use crate::error::{ApiError, ApiResult};

/// A change to one job. `target` names the exception, exemption claim or complaint acted on.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum DeskAction {
    Assign {
        #[serde(alias = "technician")]
        technician_id: Uuid,
    },
    Appointment {
        at: DeskTime,
        #[serde(default)]
        note: String,
    },
    Cancel {
        reason: String,
    },
    Edit {
        order: JobOrder,
    },
    Resolve {
        target: Uuid,
        decision: ExceptionDecision,
        #[serde(default)]
        note: String,
    },
    Decide {
        target: Uuid,
        #[serde(deserialize_with = "lenient::yes")]
        granted: bool,
        #[serde(default)]
        note: String,
    },
    ReturnVisit {
        #[serde(deserialize_with = "lenient::rating")]
        quality: u8,
        #[serde(deserialize_with = "lenient::rating")]
        attitude: u8,
        #[serde(default)]
        note: String,
    },
    Complaint {
        note: String,
    },
    Answer {
        target: Uuid,
        #[serde(deserialize_with = "lenient::yes")]
        accepted: bool,
        #[serde(default)]
        note: String,
    },
    Close {
        target: Uuid,
        result: String,
    },
    /// The desk has seen the field actions kept aside (ADR 0007).
    Acknowledge {
        #[serde(default)]
        note: String,
    },
}

/// A visit time: RFC 3339 (API clients), or a local `YYYY-MM-DDTHH:MM` as a browser's
/// `datetime-local` input sends it, read in the organisation's calendar.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DeskTime {
    Exact(DateTime<Utc>),
    Local(String),
}

impl DeskTime {
    pub fn resolve(&self, offset: FixedOffset) -> Option<DateTime<Utc>> {
        match self {
            DeskTime::Exact(t) => Some(*t),
            DeskTime::Local(s) => {
                let s = s.trim();
                let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
                    .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
                    .ok()?;
                offset
                    .from_local_datetime(&naive)
                    .single()
                    .map(|t| t.with_timezone(&Utc))
            }
        }
    }
}

impl DeskAction {
    /// From a console form's fields (strings), for `route_action`.
    pub fn from_form(
        route_action: &str,
        form: &std::collections::HashMap<String, String>,
    ) -> Option<DeskAction> {
        let mut fields: Vec<(&str, &str)> = form
            .iter()
            .filter(|(k, _)| k.as_str() != "action")
            .map(|(k, v)| (k.as_str(), v.trim()))
            .collect();
        fields.push(("action", route_action));
        let encoded = serde_urlencoded::to_string(&fields).ok()?;
        serde_urlencoded::from_str(&encoded).ok()
    }

    /// The event this action records, checked against what only the server knows (the
    /// technician must be of this organisation; complaint ids are minted here).
    pub async fn into_event(
        self,
        state: &AppState,
        auth: &DispatcherAuth,
        offset: FixedOffset,
    ) -> ApiResult<EventBody> {
        Ok(match self {
            DeskAction::Assign { technician_id } => {
                super::dispatcher::technician_of_org(state, auth, technician_id).await?;
                EventBody::JobAssigned { technician_id }
            }
            DeskAction::Appointment { at, note } => EventBody::AppointmentBooked {
                at: at.resolve(offset).ok_or_else(|| {
                    ApiError::bad_request("at: a time (RFC 3339, or YYYY-MM-DDTHH:MM local)")
                })?,
                note,
            },
            DeskAction::Cancel { reason } => EventBody::JobCancelled { reason },
            DeskAction::Edit { order } => EventBody::OrderAmended { order },
            DeskAction::Resolve {
                target,
                decision,
                note,
            } => EventBody::ExceptionResolved {
                exception_id: target,
                decision,
                note,
            },
            DeskAction::Decide {
                target,
                granted,
                note,
            } => EventBody::ExemptionDecided {
                claim_id: target,
                granted,
                note,
            },
            DeskAction::ReturnVisit {
                quality,
                attitude,
                note,
            } => EventBody::ReturnVisitRecorded {
                quality,
                attitude,
                note,
            },
            DeskAction::Complaint { note } => EventBody::ComplaintFiled {
                complaint_id: Uuid::now_v7(),
                note,
            },
            DeskAction::Answer {
                target,
                accepted,
                note,
            } => EventBody::ComplaintAnswered {
                complaint_id: target,
                accepted,
                note,
            },
            DeskAction::Close { target, result } => EventBody::ComplaintClosed {
                complaint_id: target,
                result,
            },
            DeskAction::Acknowledge { note } => EventBody::ConflictsAcknowledged { note },
        })
    }
}

// ---------------------------------------------------------------- the JSON API's bodies
//
// One typed body per route, so the API is strict (JSON booleans, numbers and RFC 3339 times;
// what the schema forbids is 422) and its OpenAPI schema is the type itself. Each becomes the
// one `DeskAction`; the console's forms reach the same type through `from_form`. Lengths and
// blank text are the rulebook's to refuse (422 `invalid_input`), on the phone and here alike.

/// `POST /v1/jobs/{id}/assign`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AssignRequest {
    /// A technician of your organisation.
    pub technician_id: Uuid,
}

/// `POST /v1/jobs/{id}/appointment`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AppointmentRequest {
    pub at: DateTime<Utc>,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub note: String,
}

/// `POST /v1/jobs/{id}/order`: the whole order as it now stands.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AmendOrderRequest {
    pub order: JobOrder,
}

/// `POST /v1/jobs/{id}/cancel`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CancelRequest {
    #[schema(
        max_length = 1000,
        pattern = "[^\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub reason: String,
}

/// `POST /v1/jobs/{id}/exceptions/{eid}/resolve`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ResolveExceptionRequest {
    pub decision: ExceptionDecision,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub note: String,
}

/// `POST /v1/jobs/{id}/exemptions/{cid}/decide`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DecideExemptionRequest {
    pub granted: bool,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub note: String,
}

/// `POST /v1/jobs/{id}/return-visit`: the customer's ratings, 1 to 5.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReturnVisitRequest {
    #[schema(minimum = 1, maximum = 5)]
    pub quality: u8,
    #[schema(minimum = 1, maximum = 5)]
    pub attitude: u8,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub note: String,
}

/// `POST /v1/jobs/{id}/complaints`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct FileComplaintRequest {
    #[schema(
        max_length = 1000,
        pattern = "[^\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub note: String,
}

/// `POST /v1/jobs/{id}/complaints/{cid}/answer`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AnswerComplaintRequest {
    pub accepted: bool,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub note: String,
}

/// `POST /v1/jobs/{id}/complaints/{cid}/close`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CloseComplaintRequest {
    #[schema(max_length = 1000)]
    pub result: String,
}

/// `POST /v1/jobs/{id}/conflicts/acknowledge`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct AcknowledgeConflictsRequest {
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub note: String,
}

impl From<AssignRequest> for DeskAction {
    fn from(r: AssignRequest) -> Self {
        DeskAction::Assign {
            technician_id: r.technician_id,
        }
    }
}

impl From<AppointmentRequest> for DeskAction {
    fn from(r: AppointmentRequest) -> Self {
        DeskAction::Appointment {
            at: DeskTime::Exact(r.at),
            note: r.note,
        }
    }
}

impl From<AmendOrderRequest> for DeskAction {
    fn from(r: AmendOrderRequest) -> Self {
        DeskAction::Edit { order: r.order }
    }
}

impl From<CancelRequest> for DeskAction {
    fn from(r: CancelRequest) -> Self {
        DeskAction::Cancel { reason: r.reason }
    }
}

impl From<ReturnVisitRequest> for DeskAction {
    fn from(r: ReturnVisitRequest) -> Self {
        DeskAction::ReturnVisit {
            quality: r.quality,
            attitude: r.attitude,
            note: r.note,
        }
    }
}

impl From<FileComplaintRequest> for DeskAction {
    fn from(r: FileComplaintRequest) -> Self {
        DeskAction::Complaint { note: r.note }
    }
}

impl From<AcknowledgeConflictsRequest> for DeskAction {
    fn from(r: AcknowledgeConflictsRequest) -> Self {
        DeskAction::Acknowledge { note: r.note }
    }
}

impl ResolveExceptionRequest {
    pub fn on(self, target: Uuid) -> DeskAction {
        DeskAction::Resolve {
            target,
            decision: self.decision,
            note: self.note,
        }
    }
}

impl DecideExemptionRequest {
    pub fn on(self, target: Uuid) -> DeskAction {
        DeskAction::Decide {
            target,
            granted: self.granted,
            note: self.note,
        }
    }
}

impl AnswerComplaintRequest {
    pub fn on(self, target: Uuid) -> DeskAction {
        DeskAction::Answer {
            target,
            accepted: self.accepted,
            note: self.note,
        }
    }
}

impl CloseComplaintRequest {
    pub fn on(self, target: Uuid) -> DeskAction {
        DeskAction::Close {
            target,
            result: self.result,
        }
    }
}

/// A new job: created, given to a technician and booked in one request (all or none through
/// `desk`), as the JSON API and the console's new-job form both make it.
pub fn new_job_events(
    order: JobOrder,
    number: JobNumber,
    technician_id: Option<Uuid>,
    appointment_at: Option<DateTime<Utc>>,
) -> Vec<EventBody> {
    let mut bodies = vec![EventBody::JobCreated {
        order,
        number: Some(number),
    }];
    if let Some(technician_id) = technician_id {
        bodies.push(EventBody::JobAssigned { technician_id });
    }
    if let Some(at) = appointment_at {
        bodies.push(EventBody::AppointmentBooked {
            at,
            note: String::new(),
        });
    }
    bodies
}

/// Forms send every value as a string (and the JSON bodies above are strict types).
mod lenient {
    use super::*;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum BoolOrText {
        Bool(bool),
        Text(String),
    }

    pub fn yes<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        match BoolOrText::deserialize(d)? {
            BoolOrText::Bool(b) => Ok(b),
            BoolOrText::Text(t) => match t.as_str() {
                "yes" | "true" | "1" | "on" => Ok(true),
                "no" | "false" | "0" => Ok(false),
                other => Err(serde::de::Error::custom(format!(
                    "{other:?} is not yes or no"
                ))),
            },
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(u8),
        Text(String),
    }

    pub fn rating<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
        match NumberOrText::deserialize(d)? {
            NumberOrText::Number(n) => Ok(n),
            NumberOrText::Text(t) => t.trim().parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_form_and_a_json_body_make_the_same_action() {
        let target = Uuid::now_v7();
        let form: HashMap<String, String> = [
            ("quality", "4"),
            ("attitude", " 5 "),
            ("note", "polite"),
            ("csrf", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let from_form = DeskAction::from_form("return-visit", &form).expect("form");
        let from_json: DeskAction = serde_json::from_value::<ReturnVisitRequest>(
            serde_json::json!({"quality": 4, "attitude": 5, "note": "polite"}),
        )
        .expect("json")
        .into();
        assert_eq!(format!("{from_form:?}"), format!("{from_json:?}"));

        let form: HashMap<String, String> =
            [("target", target.to_string()), ("granted", "yes".into())]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
        assert!(matches!(
            DeskAction::from_form("decide", &form),
            Some(DeskAction::Decide { granted: true, .. })
        ));
        assert!(DeskAction::from_form("decide", &HashMap::new()).is_none());
    }

    #[test]
    fn a_local_visit_time_is_read_in_the_organisations_calendar() {
        let utc8 = FixedOffset::east_opt(8 * 3600).unwrap();
        let t = DeskTime::Local("2031-05-06T14:30".into())
            .resolve(utc8)
            .unwrap();
        assert_eq!(t.to_rfc3339(), "2031-05-06T06:30:00+00:00");
        assert!(DeskTime::Local("tomorrow".into()).resolve(utc8).is_none());
    }
}
