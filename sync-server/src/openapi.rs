//! The OpenAPI 3.1 document served at `GET /v1/openapi.json`, generated from the code: every
//! route is registered with its operation (`utoipa_axum::routes!`), so none can be missing; the
//! schemas are the wire types themselves (`fieldcore`'s with its `openapi` feature); each
//! handler's annotation lists what it answers. What the layers around every handler answer
//! (rate limit, timeout, authentication, JSON rejections, idempotency keys, `Tus-Resumable`)
//! is added here, once, next to nothing else, and the limits the configuration sets are written
//! in from it. `sync-server openapi` prints it; CI validates it and runs schemathesis against it.

use serde_json::{Map, Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::config::Config;
use fieldcore::protocol::{HEADER_SERVER_TIME, PROBLEM_CONTENT_TYPE};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "fieldcore sync server",
        description = "Devices enrol, push their recorded events, pull their feed and upload \
            photos over tus 1.0; dispatchers run the desk. Every failure is an RFC 9457 \
            problem document (`application/problem+json`)."
    ),
    modifiers(&SecurityAddon),
    components(schemas(fieldcore::protocol::Problem)),
    tags(
        (name = "devices", description = "The phone's side: enrolment, push, pull"),
        (name = "uploads", description = "Photos over tus 1.0 (creation, checksum, termination, expiration)"),
        (name = "sessions", description = "Dispatcher log-in"),
        (name = "technicians", description = "Technicians, their enrolment codes and devices"),
        (name = "jobs", description = "Jobs and the desk's actions on them"),
        (name = "webhooks", description = "Job events sent to an ordering party's receivers, signed, retried"),
        (name = "server", description = "Health and this document"),
    )
)]
pub struct ApiDoc;

/// The two bearer tokens: a device's (from enrolment) and a dispatcher's session (from log-in).
#[derive(Debug)]
struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("opaque")
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme(
            DEVICE_TOKEN,
            bearer(
                "A device token from POST /v1/devices/enroll; dead once the device is revoked \
                 or enrolled again",
            ),
        );
        components.add_security_scheme(
            DISPATCHER_SESSION,
            bearer("A session token from POST /v1/auth/login; ends at logout or expiry"),
        );
    }
}

pub const DEVICE_TOKEN: &str = "deviceToken";
pub const DISPATCHER_SESSION: &str = "dispatcherSession";

/// The document for this configuration.
pub fn document(config: &Config) -> Value {
    let (_, doc) = crate::api::api_routes(config).split_for_parts();
    finish(doc, config)
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The generated document, completed with what the layers around the handlers answer and the
/// limits this configuration sets.
pub fn finish(doc: utoipa::openapi::OpenApi, config: &Config) -> Value {
    let mut v = serde_json::to_value(&doc).unwrap_or_else(|_| json!({}));
    if let Some(paths) = v.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let tus = crate::tus::is_tus_path(path);
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in item.iter_mut() {
                if METHODS.contains(&method.as_str()) {
                    complete_operation(method, tus, op, config);
                }
            }
        }
    }
    integer_bounds(&mut v);
    split_nullable(&mut v);
    let events = "/components/schemas/PushRequest/properties/events";
    if let Some(e) = v.pointer_mut(events).and_then(Value::as_object_mut) {
        e.insert("maxItems".into(), config.max_push_events.into());
    }
    v
}

/// The range of each sized integer (`u8` is `format: uint8`), as bounds a client and a test
/// generator read: a `u8` field takes 0..=255, not any integer.
fn integer_bounds(v: &mut Value) {
    match v {
        Value::Object(o) => {
            // utoipa spells the unsigned formats `u-int8` ...: written as `uint8` ... here.
            if let Some(f) = o.get("format").and_then(Value::as_str)
                && let Some(bits) = f.strip_prefix("u-int")
            {
                let fixed = format!("uint{bits}");
                o.insert("format".into(), fixed.into());
            }
            let range: Option<(i64, i64)> = match o.get("format").and_then(Value::as_str) {
                Some("int8") => Some((i8::MIN.into(), i8::MAX.into())),
                Some("uint8") => Some((0, u8::MAX.into())),
                Some("int16") => Some((i16::MIN.into(), i16::MAX.into())),
                Some("uint16") => Some((0, u16::MAX.into())),
                Some("int32") => Some((i32::MIN.into(), i32::MAX.into())),
                Some("uint32") => Some((0, u32::MAX.into())),
                Some("uint64") => Some((0, i64::MAX)),
                _ => None,
            };
            if let Some((lo, hi)) = range {
                o.entry("minimum").or_insert(lo.into());
                o.entry("maximum").or_insert(hi.into());
            }
            o.values_mut().for_each(integer_bounds);
        }
        Value::Array(a) => a.iter_mut().for_each(integer_bounds),
        _ => {}
    }
}

/// `{"type": ["string", "null"], "format": "date-time"}` (utoipa's `Option<T>`) as the
/// equivalent `anyOf` of the constrained type and `null`: test generators that read a type list
/// drop the constraints of its non-null member (schemathesis sent `""` as a date-time).
fn split_nullable(v: &mut Value) {
    match v {
        Value::Object(o) => {
            let nullable_pair = o
                .get("type")
                .and_then(Value::as_array)
                .filter(|t| t.len() == 2 && t.contains(&json!("null")))
                .and_then(|t| t.iter().find(|x| *x != "null").cloned());
            let constrained = o
                .keys()
                .any(|k| !matches!(k.as_str(), "type" | "description"));
            if let (Some(inner), true) = (nullable_pair, constrained) {
                let mut member = Map::new();
                member.insert("type".into(), inner);
                let keys: Vec<String> = o
                    .keys()
                    .filter(|k| !matches!(k.as_str(), "type" | "description"))
                    .cloned()
                    .collect();
                for k in keys {
                    if let Some(x) = o.remove(&k) {
                        member.insert(k, x);
                    }
                }
                o.remove("type");
                o.insert(
                    "anyOf".into(),
                    json!([Value::Object(member), { "type": "null" }]),
                );
            }
            o.values_mut().for_each(split_nullable);
        }
        Value::Array(a) => a.iter_mut().for_each(split_nullable),
        _ => {}
    }
}

fn complete_operation(method: &str, tus: bool, op: &mut Value, config: &Config) {
    let security: Vec<String> = op
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|o| o.keys().cloned())
        .collect();
    let json_body = op
        .pointer("/requestBody/content/application~1json")
        .is_some();
    let has_query = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
    // The idempotency layer's reach (crate::idempotency): the desk's POSTs.
    let idempotent = method == "post" && security.iter().any(|s| s == DISPATCHER_SESSION);

    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_string())
            .or_insert_with(|| json!({ "description": description }));
    };
    add(
        "429",
        "Rate limited: too many requests from this token or address (`Retry-After`)",
    );
    add("500", "Internal error");
    if !tus {
        add("408", "The request took longer than the server allows");
    }
    if !security.is_empty() {
        add("401", "Missing, unknown, expired or revoked token");
    }
    if json_body {
        add("400", "The body is not JSON");
        add("413", "The body is larger than this operation accepts");
        add("415", "The body is not `application/json`");
        add("422", "The body does not match the schema");
    }
    if has_query {
        add("400", "A query parameter is malformed");
    }
    if idempotent {
        add("400", "A malformed `Idempotency-Key`");
        add(
            "409",
            "A request with this `Idempotency-Key` is still running (`Retry-After`)",
        );
        add("422", "This `Idempotency-Key` was used for another request");
    }

    for (status, response) in responses.iter_mut() {
        let Some(r) = response.as_object_mut() else {
            continue;
        };
        let error = status.parse::<u16>().is_ok_and(|s| s >= 400);
        // HEAD answers carry no body.
        if error && method != "head" && !r.contains_key("content") {
            r.insert(
                "content".into(),
                json!({ PROBLEM_CONTENT_TYPE: {
                    "schema": { "$ref": "#/components/schemas/Problem" }
                }}),
            );
        }
        let headers = r
            .entry("headers")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(h) = headers.as_object_mut() {
            h.insert(
                HEADER_SERVER_TIME.into(),
                json!({
                    "description": "The server's clock (RFC 3339), for the device's offset",
                    "schema": { "type": "string", "format": "date-time" }
                }),
            );
            if tus {
                h.insert(
                    "Tus-Resumable".into(),
                    json!({
                        "description": "The tus version: on every tus response, errors included",
                        "required": true,
                        "schema": { "type": "string", "enum": ["1.0.0"] }
                    }),
                );
            }
            if matches!(status.as_str(), "423" | "429" | "503") {
                h.insert(
                    "Retry-After".into(),
                    json!({
                        "description": "Seconds to wait before trying again",
                        "schema": { "type": "integer", "minimum": 0 }
                    }),
                );
            }
        }
    }

    let params = op
        .as_object_mut()
        .map(|o| o.entry("parameters").or_insert_with(|| json!([])));
    if let Some(Value::Array(params)) = params {
        if idempotent {
            params.push(json!({
                "name": "Idempotency-Key",
                "in": "header",
                "required": false,
                "description": "Repeat a request safely: the same key within 24 h gets the first \
                    answer again (`Idempotent-Replayed: true`)",
                "schema": { "type": "string", "pattern": "^[!-~]{1,255}$" }
            }));
        }
        for p in params.iter_mut() {
            if p["in"] == "header" && p["name"] == "Upload-Length" {
                p["schema"]["maximum"] = config.max_upload_bytes.into();
            }
        }
        if params.is_empty()
            && let Some(o) = op.as_object_mut()
        {
            o.remove("parameters");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        document(&Config::default())
    }

    fn op<'a>(d: &'a Value, path: &str, method: &str) -> &'a Value {
        let p = format!("/paths/{}/{method}", path.replace('/', "~1"));
        d.pointer(&p)
            .unwrap_or_else(|| panic!("{method} {path} is not documented"))
    }

    #[test]
    fn every_route_is_there_with_its_id_and_no_console() {
        let d = doc();
        assert!(d["openapi"].as_str().unwrap().starts_with("3.1"));
        let mut n = 0;
        for (path, item) in d["paths"].as_object().unwrap() {
            assert!(!path.starts_with("/console"), "{path}");
            for (m, o) in item.as_object().unwrap() {
                if METHODS.contains(&m.as_str()) {
                    assert!(o["operationId"].is_string(), "{m} {path}");
                    n += 1;
                }
            }
        }
        assert_eq!(n, 42, "every operation of the API");
        op(&d, "/metrics", "get");
        op(&d, "/v1/webhooks/deliveries/{id}/retry", "post");
        op(&d, "/v1/jobs/{id}/conflicts/acknowledge", "post");
        op(&d, "/v1/uploads/{id}", "patch");
        op(&d, "/v1/jobs/{id}/evidence.zip", "get");
        op(&d, "/v1/jobs/{id}/evidence.pdf", "get");
    }

    #[test]
    fn what_may_be_null_is_nullable_and_enums_and_bounds_are_declared() {
        let d = doc();
        let s = &d["components"]["schemas"];
        let nullable = |schema: &Value| {
            schema["type"]
                .as_array()
                .is_some_and(|t| t.contains(&json!("null")))
                || ["oneOf", "anyOf"].iter().any(|k| {
                    schema[k]
                        .as_array()
                        .is_some_and(|o| o.iter().any(|x| x["type"] == "null"))
                })
        };
        for (schema, field) in [
            ("Device", "revoked_at"),
            ("Device", "last_seen_at"),
            ("JobSummary", "technician_id"),
            ("JobSummary", "appointment_at"),
            ("JobView", "technician_id"),
        ] {
            assert!(
                nullable(&s[schema]["properties"][field]),
                "{schema}.{field}: {}",
                s[schema]["properties"][field]
            );
        }
        let flags: Vec<&str> = s["EventFlag"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(flags.len(), 8, "{flags:?}");
        let pull = op(&d, "/v1/sync/pull", "get");
        let limit = pull["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap();
        assert_eq!(limit["schema"]["minimum"], 1);
        assert_eq!(limit["schema"]["maximum"], 1000);
        let jobs = op(&d, "/v1/jobs", "get");
        let status = jobs["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "status")
            .unwrap();
        assert!(status.to_string().contains("JobStatus"), "{status}");
        assert_eq!(
            s["PushRequest"]["properties"]["events"]["maxItems"],
            Config::default().max_push_events
        );
    }

    /// Every "not blank" pattern is the one the server means (`api::dispatcher::NON_BLANK`):
    /// utoipa takes only literals, so the copies are checked here.
    #[test]
    fn every_text_pattern_is_the_servers_not_blank() {
        fn patterns(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(o) => {
                    if let Some(p) = o.get("pattern").and_then(Value::as_str) {
                        out.push(p.to_string());
                    }
                    o.values().for_each(|x| patterns(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| patterns(x, out)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        patterns(&doc(), &mut found);
        let protocol = [
            "^1\\.0\\.0$",
            "^[0-9]{0,18}$",
            "^[!-~]{1,255}$",
            "^[0-9a-f]{64}$",
        ];
        let mut blanks = 0;
        for p in &found {
            // The webhook URL's pattern describes URLs, not blank text.
            if p.starts_with("^(sha1 ")
                || p.starts_with("^https?://")
                || protocol.contains(&p.as_str())
            {
                continue;
            }
            assert_eq!(p, crate::api::dispatcher::NON_BLANK);
            blanks += 1;
        }
        assert!(blanks >= 8, "{found:?}");
        let not_blank = lists_every_white_space(crate::api::dispatcher::NON_BLANK);
        assert!(not_blank);
    }

    /// The pattern excludes exactly Rust's white space: each white-space character is listed.
    fn lists_every_white_space(pattern: &str) -> bool {
        let body = pattern
            .strip_prefix("[^")
            .and_then(|p| p.strip_suffix(']'))
            .unwrap();
        (0..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace())
            .all(|c| {
                let escaped = format!("\\u{:04X}", c as u32);
                let listed = match c {
                    '\t' => body.contains("\\t"),
                    '\n' => body.contains("\\n"),
                    '\u{0B}' => body.contains("\\v"),
                    '\u{0C}' => body.contains("\\f"),
                    '\r' => body.contains("\\r"),
                    ' ' => body.contains(' '),
                    '\u{2000}'..='\u{200A}' => body.contains("\\u2000-\\u200A"),
                    _ => body.contains(&escaped),
                };
                assert!(listed, "white space {:?} is not in {pattern}", c);
                listed
            })
    }

    #[test]
    fn the_layers_answers_are_documented_on_every_operation() {
        let d = doc();
        for (path, item) in d["paths"].as_object().unwrap() {
            for (m, o) in item.as_object().unwrap() {
                if !METHODS.contains(&m.as_str()) {
                    continue;
                }
                let r = &o["responses"];
                assert!(r["429"].is_object() && r["500"].is_object(), "{m} {path}");
                if o["security"].is_array() {
                    assert!(r["401"].is_object(), "{m} {path}");
                }
                if path.starts_with("/v1/uploads") {
                    assert!(
                        r.as_object()
                            .unwrap()
                            .values()
                            .all(|x| x["headers"]["Tus-Resumable"].is_object()),
                        "{m} {path}"
                    );
                }
            }
        }
        let patch = op(&d, "/v1/uploads/{id}", "patch");
        assert!(patch["responses"]["460"].is_object());
        assert!(patch["responses"]["423"]["headers"]["Retry-After"].is_object());
    }
}
