//! `GET /openapi.json`: an OpenAPI 3.1 document of this server. With a
//! bearer token, each component the token's tenant may use gets its own
//! predict operation with the component's input schema as the request body,
//! so client generators produce typed calls per component. Without a token
//! the document describes the API with one generic predict operation and
//! names no component: what is installed is the tenants' business.

use super::{ApiError, SharedState};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Map, Value};

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

pub async fn openapi(State(s): State<SharedState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let tenant = match headers.contains_key(axum::http::header::AUTHORIZATION) {
        true => Some(s.authenticate(&headers)?.tenant),
        false => None,
    };
    let mut paths = Map::new();
    let errors = json!({
        "400": error_response("Malformed request"),
        "401": error_response("Missing or unknown token"),
        "403": error_response("The token's role does not allow this"),
        "404": error_response("Unknown component, version or request id"),
        "410": error_response("The component was withdrawn (revoked or yanked)"),
        "413": error_response("Body or input too large"),
        "415": error_response("Unsupported Content-Type (validation samples: application/x-ndjson or text/csv)"),
        "422": error_response("Input violates the component's schema (see violations), a bad sample, or a threshold outside the declared range"),
        "429": error_response("Tenant rate limit exceeded (see Retry-After)"),
        "503": error_response("All prediction slots busy (see Retry-After)"),
        "504": error_response("The prediction exceeded its deadline"),
    });
    let with_errors = |ok: Value| {
        let mut r = errors.as_object().expect("object").clone();
        r.insert("200".into(), ok);
        Value::Object(r)
    };
    let components = s.runtime.components();
    let visible = components.iter().filter(|c| tenant.as_deref().is_some_and(|t| s.allowed(t, &c.manifest().name)));
    let mut named = std::collections::BTreeSet::new();
    for c in visible {
        let m = c.manifest();
        if !named.insert(m.name.clone()) {
            continue;
        }
        let op = json!({
            "post": {
                "summary": format!("Predict with {} ({})", m.name, m.description),
                "operationId": format!("predict_{}", m.name.replace('-', "_")),
                "tags": ["components"],
                "security": [{ "bearer": [] }],
                "requestBody": { "required": true, "content": { "application/json": { "schema": m.input_schema } } },
                "responses": with_errors(json!({ "description": "The prediction", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PredictResponse" } } } })),
            }
        });
        paths.insert(format!("/v1/components/{}/predict", m.name), op);
    }
    if tenant.is_none() {
        paths.insert("/v1/components/{name}/predict".into(), json!({ "post": {
            "summary": "Predict with a component (body: the component's input; call with a token for a document with each component's own schema)",
            "tags": ["components"], "security": [{ "bearer": [] }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object" } } } },
            "responses": with_errors(json!({ "description": "The prediction", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PredictResponse" } } } })) } }));
    }
    let simple = |summary: &str, tag: &str, secured: bool| {
        let mut op = json!({ "summary": summary, "tags": [tag], "responses": with_errors(json!({ "description": "OK", "content": { "application/json": { "schema": { "type": "object" } } } })) });
        if secured {
            op["security"] = json!([{ "bearer": [] }]);
        }
        op
    };
    paths.insert(
        "/v1/components".into(),
        json!({ "get": simple("Components this tenant may call", "components", true) }),
    );
    paths.insert("/v1/components/{name}".into(), json!({ "get": simple("Manifest, model card, ALTAI, AI Act class, provenance, golden vector status", "components", true) }));
    paths.insert("/v1/components/{name}/{version}/predict".into(), json!({ "post": {
        "summary": "Predict with a specific version (body: the component's input)", "tags": ["components"], "security": [{ "bearer": [] }],
        "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object" } } } },
        "responses": with_errors(json!({ "description": "The prediction", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PredictResponse" } } } })) } }));
    paths.insert(
        "/v1/components/{name}/monitoring".into(),
        json!({ "get": simple("Agreement and override rates from caseworker feedback (auditor)", "oversight", true) }),
    );
    paths.insert(
        "/v1/predictions/{request_id}".into(),
        json!({ "get": simple("The audit record of a prediction and its feedback", "oversight", true) }),
    );
    paths.insert("/v1/predictions/{request_id}/feedback".into(), json!({ "post": {
        "summary": "Record the caseworker's decision on a prediction", "tags": ["oversight"], "security": [{ "bearer": [] }],
        "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Feedback" } } } },
        "responses": with_errors(json!({ "description": "Recorded" })) } }));
    let mut audit_params: Vec<Value> = ["component", "since", "until", "limit", "after_seq", "format"]
        .iter()
        .map(|n| json!({ "name": n, "in": "query", "required": false, "schema": { "type": "string" } }))
        .collect();
    audit_params.push(json!({ "name": "kind", "in": "query", "required": false,
        "schema": { "type": "string", "enum": ["prediction", "feedback", "admin"] } }));
    paths.insert("/v1/audit".into(), json!({ "get": {
        "summary": "This tenant's audit records (auditor); format=jsonl exports JSON Lines", "tags": ["oversight"], "security": [{ "bearer": [] }],
        "parameters": audit_params,
        "responses": with_errors(json!({ "description": "Records" })) } }));
    paths.insert("/v1/components/{name}/operating-point".into(), json!({
        "get": simple("The operating point this component declares (rule, default, allowed range), the one in use for this tenant, and the history of its changes", "oversight", true),
        "put": {
            "summary": "Set this tenant's decision threshold (admin); refused with 422 naming the allowed range when outside it", "tags": ["oversight"], "security": [{ "bearer": [] }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/OperatingPointSetting" } } } },
            "responses": with_errors(json!({ "description": "The operating point now in use" })) },
        "delete": simple("Back to the component's own default (admin)", "oversight", true),
    }));
    let sample_params = json!([
        { "name": "group_by", "in": "query", "required": false, "schema": { "type": "string" }, "description": "FIELD[=BANDS], repeatable (e.g. child_age=0-2,3-5,6-12,13-17)" },
        { "name": "positive", "in": "query", "required": false, "schema": { "type": "string" } },
        { "name": "version", "in": "query", "required": false, "schema": { "type": "string" } },
    ]);
    paths.insert("/v1/components/{name}/validation-reports".into(), json!({ "post": {
        "summary": "Validate the installed component on a labelled sample (auditor). The sample is not stored, only the report. 201 with the report, or 202 while a long run continues",
        "tags": ["oversight"], "security": [{ "bearer": [] }], "parameters": sample_params,
        "requestBody": { "required": true, "content": {
            "application/x-ndjson": { "schema": { "type": "string" }, "example": "{\"input\": {\"subject\": \"...\", \"body\": \"...\"}, \"label\": \"affald\"}" },
            "text/csv": { "schema": { "type": "string" } } } },
        "responses": with_errors(json!({ "description": "The report (201), or its id while it runs (202)" })) } }));
    paths.insert(
        "/v1/validation-reports".into(),
        json!({ "get": simple("This tenant's validation reports (id, component, version, digest, sample sha256, n, created)", "oversight", true) }),
    );
    paths.insert(
        "/v1/validation-reports/{id}".into(),
        json!({ "get": simple("A validation report (report.json) with its entry; 202 while it runs", "oversight", true) }),
    );
    paths.insert("/v1/validation-reports/{id}/report.html".into(), json!({ "get": {
        "summary": "The validation report as a self-contained HTML page", "tags": ["oversight"], "security": [{ "bearer": [] }],
        "responses": with_errors(json!({ "description": "HTML", "content": { "text/html": {} } })) } }));
    for (path, summary) in [
        ("/v2/health/live", "Liveness (Open Inference Protocol)"),
        ("/v2/health/ready", "Readiness"),
        ("/v2", "Server metadata"),
    ] {
        paths.insert(path.into(), json!({ "get": simple(summary, "open-inference-protocol", false) }));
    }
    for (path, summary) in [
        ("/v2/models/{name}", "Model metadata"),
        ("/v2/models/{name}/versions/{version}", "Model metadata of a version"),
        ("/v2/models/{name}/ready", "Model readiness"),
        ("/v2/models/{name}/versions/{version}/ready", "Model readiness of a version"),
    ] {
        paths.insert(path.into(), json!({ "get": simple(summary, "open-inference-protocol", true) }));
    }
    for path in ["/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer"] {
        paths.insert(path.into(), json!({ "post": {
            "summary": "Inference (JSON, or binary tensor data with Inference-Header-Content-Length)", "tags": ["open-inference-protocol"],
            "security": [{ "bearer": [] }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object" } }, "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
            "responses": with_errors(json!({ "description": "Inference response" })) } }));
    }
    paths.insert("/openapi.json".into(), json!({ "get": { "summary": "This document", "tags": ["operations"], "responses": { "200": { "description": "OpenAPI 3.1" } } } }));

    Ok(Json(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "komp municipal host",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Standard AI components for municipalities. Every prediction is a recommendation to a caseworker, audited with a keyed hash of its input.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": { "type": "object", "required": ["error"], "properties": {
                    "error": { "type": "string" },
                    "violations": { "type": "array", "items": { "type": "object", "properties": { "path": { "type": "string" }, "reason": { "type": "string" } } } } } },
                "Prediction": { "type": "object", "required": ["label", "scores", "explanation", "requires_human_review", "details"], "properties": {
                    "label": { "type": "string" },
                    "scores": { "type": "array", "items": { "type": "object", "properties": { "label": { "type": "string" }, "score": { "type": "number" } } } },
                    "explanation": { "type": "array", "items": { "type": "object", "properties": { "feature": { "type": "string" }, "weight": { "type": "number" } } } },
                    "requires_human_review": { "type": "boolean" },
                    "details": { "type": "object" } } },
                "PredictResponse": { "type": "object", "required": ["request_id", "component", "version", "digest", "prediction"], "properties": {
                    "request_id": { "type": "string" }, "component": { "type": "string" }, "version": { "type": "string" },
                    "digest": { "type": "string" }, "elapsed_us": { "type": "integer" },
                    "prediction": { "$ref": "#/components/schemas/Prediction" },
                    "operating_point": { "$ref": "#/components/schemas/OperatingPointUsed" },
                    "routing": { "type": "object", "properties": { "unit": { "type": "string" }, "inbox": { "type": "string" }, "kle": { "type": ["string", "null"] } } } } },
                "OperatingPointSetting": { "type": "object", "required": ["threshold", "reason"], "properties": {
                    "threshold": { "type": "number", "minimum": 0, "maximum": 1 },
                    "reason": { "type": "string", "maxLength": 2000 },
                    "validation_report": { "type": "string", "description": "id of a validation report of this component (vr_...)" } } },
                "OperatingPointUsed": { "type": "object", "properties": {
                    "threshold": { "type": "number" }, "source": { "enum": ["default", "tenant"] }, "default": { "type": "number" },
                    "rule": { "type": "string" }, "validation_report": { "type": "string" } } },
                "Feedback": { "type": "object", "required": ["decision"], "properties": {
                    "decision": { "enum": ["accepted", "overridden"] },
                    "final_label": { "type": "string" },
                    "note": { "type": "string", "maxLength": 2000 } } },
            }
        }
    })))
}
