//! The OpenAPI 3.1 description served at `GET /v1/openapi.json`.

pub fn document() -> serde_json::Value {
    serde_json::json!({"openapi": "3.1.0"})
}
