//! The OpenAPI 3.1 description served at `GET /v1/openapi.json`.
//!
//! Hand-written as data: the wire types live in `fieldcore::protocol` and the domain, so the
//! schemas here name them and describe their shape loosely (`object`), while every path, method,
//! status and header is spelled out. `tests/server.rs` checks the main paths are there.

use serde_json::{Value, json};

fn problem(status: &str, what: &str) -> (String, Value) {
    (
        status.to_string(),
        json!({
            "description": what,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        }),
    )
}

fn ok_json(status: &str, what: &str, schema: Value) -> (String, Value) {
    (
        status.to_string(),
        json!({"description": what, "content": {"application/json": {"schema": schema}}}),
    )
}

fn no_content(status: &str, what: &str) -> (String, Value) {
    (status.to_string(), json!({"description": what}))
}

fn schema(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn op(
    summary: &str,
    tag: &str,
    security: Option<&str>,
    body: Option<Value>,
    responses: Vec<(String, Value)>,
) -> Value {
    let mut o = json!({"summary": summary, "tags": [tag], "responses": {}});
    if let Some(s) = security {
        o["security"] = json!([{ s: [] }]);
    }
    if let Some(b) = body {
        o["requestBody"] =
            json!({"required": true, "content": {"application/json": {"schema": b}}});
    }
    for (k, v) in responses {
        o["responses"][k] = v;
    }
    o
}

fn id_param(name: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}})
}

fn tus_header(name: &str, required: bool) -> Value {
    json!({"name": name, "in": "header", "required": required, "schema": {"type": "string"}})
}

/// A desk action on one job: body in, the job detail out, refusals as problems with `rule`.
fn desk_action(summary: &str, body: Value, params: &[&str]) -> Value {
    let mut o = op(
        summary,
        "jobs",
        Some("session"),
        Some(body),
        vec![
            ok_json("200", "The job as it now stands", schema("JobDetail")),
            problem("404", "No such job in your organisation"),
            problem("409", "The rulebook refused (see `rule`)"),
            problem("422", "Invalid input (rule `invalid_input`)"),
        ],
    );
    o["parameters"] = Value::Array(params.iter().map(|p| id_param(p)).collect());
    json!({ "post": o })
}

pub fn document() -> Value {
    let obj = |props: Value| json!({"type": "object", "properties": props});
    let s = |t: &str| json!({"type": t});
    let uuid = json!({"type": "string", "format": "uuid"});
    let time = json!({"type": "string", "format": "date-time"});
    let unauthorized = || problem("401", "Missing, unknown, expired or revoked token");
    let limited = || problem("429", "Rate limited; see Retry-After");

    let mut paths = serde_json::Map::new();
    let mut add = |path: &str, item: Value| {
        paths.insert(path.to_string(), item);
    };

    add(
        "/healthz",
        json!({"get": op("Liveness and database check", "ops", None, None, vec![
            ok_json("200", "Healthy", obj(json!({"status": s("string")}))),
            problem("503", "The database does not answer"),
        ])}),
    );
    add(
        "/v1/openapi.json",
        json!({"get": op("This document", "ops", None, None, vec![
            ok_json("200", "OpenAPI 3.1", s("object")),
        ])}),
    );

    // Device API.
    add(
        "/v1/devices/enroll",
        json!({"post": op("Trade a one-time enrolment code for a device token", "device", None,
        Some(schema("EnrollRequest")), vec![
            ok_json("200", "Enrolled; the token is shown once", schema("EnrollResponse")),
            problem("401", "`/problems/enrolment-code-invalid`: unknown, used or expired code"),
            limited(),
        ])}),
    );
    add(
        "/v1/sync/push",
        json!({"post": op("Push a batch of events (at most 500); safe to repeat", "device", Some("device"),
        Some(schema("PushRequest")), vec![
            ok_json("200", "One result per event: accepted, duplicate or rejected with its rule (the message in the request's Accept-Language: zh for Chinese, else English)", schema("PushResponse")),
            problem("400", "Malformed body"),
            unauthorized(),
            problem("403", "The token belongs to another device than `device_id`"),
            problem("413", "More than 500 events, or a body over 8 MiB"),
            limited(),
        ])}),
    );
    let mut pull = op(
        "Pull the technician's feed after a cursor",
        "device",
        Some("device"),
        None,
        vec![
            ok_json(
                "200",
                "A page of events, oldest first, and the next cursor",
                schema("PullResponse"),
            ),
            problem("400", "`/problems/invalid-cursor`"),
            unauthorized(),
            limited(),
        ],
    );
    pull["parameters"] = json!([
        {"name": "cursor", "in": "query", "required": false, "schema": {"type": "string"}, "description": "Opaque; the next_cursor of the previous page"},
        {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 200}}
    ]);
    add("/v1/sync/pull", json!({ "get": pull }));

    // tus.
    let mut create = op(
        "tus creation: start an upload for a recorded photo",
        "uploads",
        Some("device"),
        None,
        vec![
            no_content("201", "Created; Location, Upload-Expires"),
            problem("400", "Missing Upload-Length or metadata"),
            unauthorized(),
            problem("412", "Tus-Resumable is not 1.0.0"),
            problem("413", "Upload-Length over Tus-Max-Size"),
            problem(
                "422",
                "`/problems/no-such-photo`: no photo with this id, job and SHA-256 on a job of yours",
            ),
        ],
    );
    create["parameters"] = json!([
        tus_header("Tus-Resumable", true),
        tus_header("Upload-Length", true),
        {"name": "Upload-Metadata", "in": "header", "required": true, "schema": {"type": "string"},
         "description": "base64 values of photo_id, job_id, sha256 (required), filename, filetype"}
    ]);
    add(
        "/v1/uploads",
        json!({
            "options": op("tus discovery", "uploads", None, None, vec![no_content("204",
                "Tus-Version, Tus-Extension (creation,checksum,termination,expiration), Tus-Max-Size, Tus-Checksum-Algorithm (sha1,sha256)")]),
            "post": create,
        }),
    );
    let mut head = op(
        "tus: the upload's offset",
        "uploads",
        Some("device"),
        None,
        vec![
            no_content(
                "200",
                "Upload-Offset, Upload-Length, Upload-Expires, Cache-Control: no-store",
            ),
            problem("404", "Unknown, or another technician's"),
            problem("410", "Expired"),
            problem("412", "Tus-Resumable is not 1.0.0"),
        ],
    );
    head["parameters"] = json!([id_param("id"), tus_header("Tus-Resumable", true)]);
    let mut patch = op(
        "tus: append a chunk at Upload-Offset (at most 16 MiB per request)",
        "uploads",
        Some("device"),
        None,
        vec![
            no_content(
                "204",
                "Stored; the new Upload-Offset. At the last byte the photo is verified and linked",
            ),
            problem(
                "400",
                "Unknown checksum algorithm, or missing Upload-Offset",
            ),
            problem("404", "Unknown, or another technician's"),
            problem("409", "Upload-Offset differs from the server's"),
            problem("410", "Expired"),
            problem("412", "Tus-Resumable is not 1.0.0"),
            problem(
                "413",
                "Chunk over the per-request limit or past Upload-Length",
            ),
            problem("415", "Content-Type is not application/offset+octet-stream"),
            problem(
                "422",
                "`/problems/photo-hash-mismatch`: the whole file's SHA-256 differs; discarded",
            ),
            problem("460", "Upload-Checksum mismatch; chunk discarded"),
        ],
    );
    patch["parameters"] = json!([
        id_param("id"),
        tus_header("Tus-Resumable", true),
        tus_header("Upload-Offset", true),
        tus_header("Upload-Checksum", false)
    ]);
    patch["requestBody"] = json!({"required": true, "content": {"application/offset+octet-stream": {"schema": {"type": "string", "format": "binary"}}}});
    let mut delete = op(
        "tus termination",
        "uploads",
        Some("device"),
        None,
        vec![
            no_content("204", "Removed"),
            problem("404", "Unknown, or another technician's"),
        ],
    );
    delete["parameters"] = json!([id_param("id"), tus_header("Tus-Resumable", true)]);
    add(
        "/v1/uploads/{id}",
        json!({
            "options": op("tus discovery", "uploads", None, None, vec![no_content("204", "Capabilities")]),
            "head": head, "patch": patch, "delete": delete,
        }),
    );

    // Dispatcher API.
    add(
        "/v1/auth/login",
        json!({"post": op("Log in", "desk", None,
        Some(obj(json!({"email": s("string"), "password": s("string")}))), vec![
            ok_json("200", "A session token", obj(json!({"token": s("string"), "dispatcher_id": uuid, "organisation_id": uuid, "name": s("string"), "expires_at": time}))),
            problem("401", "`/problems/invalid-credentials`"),
        ])}),
    );
    add(
        "/v1/auth/logout",
        json!({"post": op("End the session", "desk", Some("session"), None, vec![no_content("204", "Logged out"), unauthorized()])}),
    );
    add(
        "/v1/me",
        json!({"get": op("Who is logged in", "desk", Some("session"), None, vec![
            ok_json("200", "The dispatcher and organisation", obj(json!({"dispatcher_id": uuid, "organisation_id": uuid, "organisation_name": s("string"), "name": s("string"), "email": s("string")}))),
            unauthorized(),
        ])}),
    );
    add(
        "/v1/technicians",
        json!({
            "post": op("Add a technician", "desk", Some("session"), Some(obj(json!({"name": s("string"), "phone": s("string")}))), vec![
                ok_json("201", "Created", schema("Technician")), unauthorized()]),
            "get": op("List technicians", "desk", Some("session"), None, vec![
                ok_json("200", "Technicians", json!({"type": "array", "items": schema("Technician")})), unauthorized()]),
        }),
    );
    let mut code = op(
        "Issue a one-time enrolment code",
        "desk",
        Some("session"),
        Some(obj(json!({"ttl_minutes": s("integer")}))),
        vec![
            ok_json(
                "201",
                "The code (10 characters, shown once)",
                obj(json!({"code": s("string"), "technician_id": uuid, "expires_at": time})),
            ),
            problem("404", "No such technician in your organisation"),
        ],
    );
    code["parameters"] = json!([id_param("id")]);
    code["requestBody"]["required"] = json!(false);
    add(
        "/v1/technicians/{id}/enrolment-codes",
        json!({ "post": code }),
    );
    add(
        "/v1/devices",
        json!({"get": op("List enrolled devices", "desk", Some("session"), None, vec![
        ok_json("200", "Devices", json!({"type": "array", "items": schema("Device")})), unauthorized()])}),
    );
    let mut revoke = op(
        "Revoke a device's token",
        "desk",
        Some("session"),
        None,
        vec![
            no_content("204", "Revoked"),
            problem("404", "No such device in your organisation"),
        ],
    );
    revoke["parameters"] = json!([id_param("id")]);
    add("/v1/devices/{id}/revoke", json!({ "post": revoke }));

    let mut list = op(
        "List jobs",
        "jobs",
        Some("session"),
        None,
        vec![
            ok_json(
                "200",
                "Job summaries",
                json!({"type": "array", "items": schema("JobSummary")}),
            ),
            unauthorized(),
        ],
    );
    list["parameters"] = json!([
        {"name": "status", "in": "query", "required": false, "schema": {"type": "string"}},
        {"name": "technician_id", "in": "query", "required": false, "schema": uuid}
    ]);
    add(
        "/v1/jobs",
        json!({
            "post": op("Create a job (optionally assigned and booked)", "jobs", Some("session"),
                Some(obj(json!({"order": schema("JobOrder"), "technician_id": uuid, "appointment_at": time}))), vec![
                    ok_json("201", "The new job", schema("JobDetail")),
                    problem("404", "No such technician in your organisation"),
                    problem("422", "Invalid order (rule `invalid_input`)")]),
            "get": list,
        }),
    );
    let mut detail = op(
        "A job: view, timers, timeline, photos, rejections",
        "jobs",
        Some("session"),
        None,
        vec![
            ok_json("200", "The job", schema("JobDetail")),
            problem("404", "No such job in your organisation"),
        ],
    );
    detail["parameters"] = json!([id_param("id")]);
    add("/v1/jobs/{id}", json!({ "get": detail }));
    add(
        "/v1/jobs/{id}/assign",
        desk_action(
            "Assign or reassign",
            obj(json!({"technician_id": uuid})),
            &["id"],
        ),
    );
    add(
        "/v1/jobs/{id}/appointment",
        desk_action(
            "Book the visit",
            obj(json!({"at": time, "note": s("string")})),
            &["id"],
        ),
    );
    add(
        "/v1/jobs/{id}/order",
        desk_action(
            "Amend the order (same kind; fee basis locked once accepted)",
            obj(json!({"order": schema("JobOrder")})),
            &["id"],
        ),
    );
    add(
        "/v1/jobs/{id}/cancel",
        desk_action("Cancel", obj(json!({"reason": s("string")})), &["id"]),
    );
    add(
        "/v1/jobs/{id}/exceptions/{eid}/resolve",
        desk_action(
            "Decide an exception",
            obj(json!({"decision": {"enum": ["proceed", "stop"]}, "note": s("string")})),
            &["id", "eid"],
        ),
    );
    add(
        "/v1/jobs/{id}/exemptions/{cid}/decide",
        desk_action(
            "Grant or refuse an exemption claim",
            obj(json!({"granted": s("boolean"), "note": s("string")})),
            &["id", "cid"],
        ),
    );
    add(
        "/v1/jobs/{id}/return-visit",
        desk_action(
            "Record the return visit",
            obj(json!({"quality": s("integer"), "attitude": s("integer"), "note": s("string")})),
            &["id"],
        ),
    );
    add(
        "/v1/jobs/{id}/complaints",
        desk_action(
            "File a complaint (the server mints its id)",
            obj(json!({"note": s("string")})),
            &["id"],
        ),
    );
    add(
        "/v1/jobs/{id}/complaints/{cid}/answer",
        desk_action(
            "Accept or reject a complaint",
            obj(json!({"accepted": s("boolean"), "note": s("string")})),
            &["id", "cid"],
        ),
    );
    add(
        "/v1/jobs/{id}/complaints/{cid}/close",
        desk_action(
            "Close an accepted complaint with its result",
            obj(json!({"result": s("string")})),
            &["id", "cid"],
        ),
    );
    let mut photo = op(
        "A photo's bytes",
        "jobs",
        Some("session"),
        None,
        vec![
            (
                "200".to_string(),
                json!({"description": "The image", "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}),
            ),
            problem(
                "404",
                "No such photo in your organisation, or not uploaded yet",
            ),
        ],
    );
    photo["parameters"] = json!([id_param("photo_id")]);
    add("/v1/photos/{photo_id}", json!({ "get": photo }));

    let loose = |d: &str| json!({"type": "object", "description": d});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "fieldcore sync server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Device sync (enrol, push, pull, tus photo uploads) and the dispatcher desk. Every response carries `fieldcore-server-time` (RFC 3339). Errors are RFC 9457 problem documents."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "device": {"type": "http", "scheme": "bearer", "description": "Device token from /v1/devices/enroll"},
                "session": {"type": "http", "scheme": "bearer", "description": "Session token from /v1/auth/login"}
            },
            "schemas": {
                "Problem": {"type": "object", "required": ["type", "title", "status"], "properties": {
                    "type": s("string"), "title": s("string"), "status": s("integer"),
                    "detail": s("string"), "rule": {"type": "string", "description": "The rulebook's rule code"}}},
                "EnrollRequest": obj(json!({"code": s("string"), "device_id": uuid, "device_name": s("string")})),
                "EnrollResponse": loose("fieldcore::protocol::EnrollResponse: token, technician, organisation, policy, checklist, server_time"),
                "PushRequest": obj(json!({"device_id": uuid, "sent_at": time, "sent_monotonic_ms": s("integer"),
                    "events": {"type": "array", "maxItems": 500, "items": schema("Event")}})),
                "PushResponse": obj(json!({"server_time": time, "results": {"type": "array", "items": obj(json!({
                    "event_id": uuid, "status": {"enum": ["accepted", "duplicate", "rejected"]},
                    "rule": s("string"), "message": s("string"),
                    "flags": {"type": "array", "items": {"enum": ["after_cancellation", "clock_jumped", "device_rebooted"]}}}))}})),
                "PullResponse": obj(json!({"events": {"type": "array", "items": schema("Event")}, "next_cursor": s("string"), "has_more": s("boolean"), "server_time": time})),
                "Event": loose("fieldcore::domain::Event: id, job_id, actor, recorded_at, monotonic_ms, device_seq, clock_offset_ms, corrected_at, body {type, ...}"),
                "JobOrder": loose("fieldcore::domain::JobOrder"),
                "Technician": obj(json!({"id": uuid, "organisation_id": uuid, "name": s("string"), "phone": s("string"), "created_at": time})),
                "Device": obj(json!({"id": uuid, "technician_id": uuid, "name": s("string"), "enrolled_at": time, "revoked_at": time, "last_seen_at": time})),
                "JobSummary": obj(json!({"id": uuid, "kind": s("string"), "status": s("string"), "technician_id": uuid,
                    "customer_name": s("string"), "address": s("string"), "appointment_at": time, "updated_at": time, "breached": s("boolean")})),
                "JobDetail": obj(json!({"view": loose("fieldcore::domain::JobView"), "status": s("string"),
                    "timers": {"type": "array", "items": loose("fieldcore::domain::Timer")},
                    "timeline": {"type": "array", "items": obj(json!({"event": schema("Event"), "server_received_at": time, "corrected_at": time, "flags": {"type": "array", "items": s("string")}}))},
                    "photos": {"type": "array", "items": obj(json!({"photo_id": uuid, "category": s("string"), "sha256": s("string"), "uploaded": s("boolean"), "url": s("string")}))},
                    "rejections": {"type": "array", "items": obj(json!({"event": schema("Event"), "rule": s("string"), "message": s("string"), "received_at": time}))}}))
            }
        }
    })
}
