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

/// The semantic versions the server parses (semver 2.0.0, no leading zeros;
/// major, minor and patch fit in 64 bits).
pub const SEMVER_PATTERN: &str = r"^(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})(-((0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?$";

/// A string with at least one character that is not Unicode White_Space.
const NOT_ONLY_WHITESPACE: &str =
    "[^\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

fn path_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string", "minLength": 1 } })
}

fn name_param() -> Value {
    path_param("name", "Component name; one this tenant may not use answers 404 like one that does not exist")
}

fn version_param() -> Value {
    json!({ "name": "version", "in": "path", "required": true, "description": "Semantic version of an installed version",
        "schema": { "type": "string", "pattern": SEMVER_PATTERN } })
}

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
        "408": error_response("The request took longer than the server allows"),
        "422": error_response("Input violates the component's schema (see violations), a bad sample, or a threshold outside the declared range"),
        "429": error_response("Tenant rate limit exceeded (see Retry-After)"),
        "500": error_response("The component misbehaved or the host could not do its part"),
        "503": error_response("All prediction slots busy (see Retry-After), or the audit log cannot record"),
        "504": error_response("The prediction exceeded its deadline"),
    });
    let with_errors = |ok: Value| {
        let mut r = errors.as_object().expect("object").clone();
        r.insert("200".into(), ok);
        Value::Object(r)
    };
    let json_ok = |description: &str| json!({ "description": description, "content": { "application/json": { "schema": { "type": "object" } } } });
    let components = s.runtime.components();
    let visible = components.iter().filter(|c| tenant.as_ref().is_some_and(|t| s.allowed(t, &c.manifest().name)));
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
    // Each installed version of each visible component: its own schema.
    for c in components.iter().filter(|c| tenant.as_ref().is_some_and(|t| s.allowed(t, &c.manifest().name))) {
        let m = c.manifest();
        paths.insert(format!("/v1/components/{}/{}/predict", m.name, m.version), json!({ "post": {
            "summary": format!("Predict with {} version {}", m.name, m.version),
            "operationId": format!("predict_{}_{}", m.name.replace('-', "_"), m.version.to_string().replace(['.', '-', '+'], "_")),
            "tags": ["components"], "security": [{ "bearer": [] }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": m.input_schema } } },
            "responses": with_errors(json!({ "description": "The prediction", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PredictResponse" } } } })) } }));
    }
    if tenant.is_none() {
        paths.insert("/v1/components/{name}/predict".into(), json!({ "post": {
            "summary": "Predict with a component (body: the component's input; call with a token for a document with each component's own schema)",
            "tags": ["components"], "security": [{ "bearer": [] }], "parameters": [name_param()],
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object" } } } },
            "responses": with_errors(json!({ "description": "The prediction", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PredictResponse" } } } })) } }));
        paths.insert("/v1/components/{name}/{version}/predict".into(), json!({ "post": {
            "summary": "Predict with a specific version (body: the component's input)", "tags": ["components"], "security": [{ "bearer": [] }],
            "parameters": [name_param(), version_param()],
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
        "responses": with_errors(json_ok("Recorded")) } }));
    let audit_params = json!([
        { "name": "component", "in": "query", "required": false, "schema": { "type": "string" } },
        { "name": "since", "in": "query", "required": false, "description": "RFC 3339, from 1970 on", "schema": { "type": "string", "format": "date-time", "pattern": "^(19[7-9][0-9]|[2-9][0-9]{3})-" } },
        { "name": "until", "in": "query", "required": false, "description": "RFC 3339, from 1970 on", "schema": { "type": "string", "format": "date-time", "pattern": "^(19[7-9][0-9]|[2-9][0-9]{3})-" } },
        { "name": "limit", "in": "query", "required": false, "description": "at most 10000 are returned", "schema": { "type": "integer", "minimum": 0, "maximum": 18446744073709551615u64 } },
        { "name": "after_seq", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0, "maximum": 18446744073709551615u64 } },
        { "name": "kind", "in": "query", "required": false, "schema": { "type": "string", "enum": ["prediction", "feedback", "admin"] } },
        { "name": "format", "in": "query", "required": false, "schema": { "type": "string", "enum": ["json", "jsonl"] } },
    ]);
    paths.insert("/v1/audit".into(), json!({ "get": {
        "summary": "This tenant's audit records (auditor); format=jsonl exports JSON Lines", "tags": ["oversight"], "security": [{ "bearer": [] }],
        "parameters": audit_params,
        "responses": with_errors(json!({ "description": "Records (JSON, or JSON Lines with format=jsonl)", "content": {
            "application/json": { "schema": { "type": "object" } }, "application/x-ndjson": { "schema": { "type": "string" } } } })) } }));
    // With a token: each visible component's own allowed range.
    for name in &named {
        let Ok(c) = s.runtime.lookup(name, None) else { continue };
        let Some(op) = &c.manifest().operating_point else { continue };
        let mut setting = json!({ "type": "object", "required": ["threshold", "reason"], "additionalProperties": false, "properties": {
            "threshold": { "type": "number", "minimum": op.min, "maximum": op.max, "description": op.reasoning },
            "reason": { "type": "string", "maxLength": 2000, "pattern": NOT_ONLY_WHITESPACE, "description": "why (not blank)" },
            "validation_report": { "type": ["string", "null"], "description": "id of a validation report of this component (vr_...)" } } });
        setting["properties"]["threshold"]["default"] = json!(op.default);
        paths.insert(format!("/v1/components/{name}/operating-point"), json!({
            "get": simple("The operating point this component declares (rule, default, allowed range), the one in use for this tenant, and the history of its changes", "oversight", true),
            "put": {
                "summary": format!("Set this tenant's decision threshold for {name} (admin), within [{}, {}]", op.min, op.max), "tags": ["oversight"], "security": [{ "bearer": [] }],
                "requestBody": { "required": true, "content": { "application/json": { "schema": setting } } },
                "responses": with_errors(json_ok("The operating point now in use")) },
            "delete": simple("Back to the component's own default (admin)", "oversight", true),
        }));
    }
    if tenant.is_none() {
        paths.insert("/v1/components/{name}/operating-point".into(), json!({
        "get": simple("The operating point this component declares (rule, default, allowed range), the one in use for this tenant, and the history of its changes", "oversight", true),
        "put": {
            "summary": "Set this tenant's decision threshold (admin); refused with 422 naming the allowed range when outside it", "tags": ["oversight"], "security": [{ "bearer": [] }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/OperatingPointSetting" } } } },
            "responses": with_errors(json_ok("The operating point now in use")) },
        "delete": simple("Back to the component's own default (admin)", "oversight", true),
    }));
    }
    let sample_params = json!([
        { "name": "group_by", "in": "query", "required": false, "schema": { "type": "array", "items": { "type": "string" } }, "style": "form", "explode": true, "description": "FIELD[=BANDS], repeatable (e.g. child_age=0-2,3-5,6-12,13-17)" },
        { "name": "positive", "in": "query", "required": false, "schema": { "type": "string" } },
        { "name": "version", "in": "query", "required": false, "schema": { "type": "string", "pattern": SEMVER_PATTERN } },
    ]);
    let mut created = with_errors(json_ok("unused"));
    created.as_object_mut().expect("object").remove("200");
    created["201"] = json_ok("The report");
    created["202"] = json_ok("The report's id while a long run continues");
    paths.insert("/v1/components/{name}/validation-reports".into(), json!({ "post": {
        "summary": "Validate the installed component on a labelled sample (auditor). The sample is not stored, only the report. 201 with the report, or 202 while a long run continues",
        "tags": ["oversight"], "security": [{ "bearer": [] }], "parameters": sample_params,
        "requestBody": { "required": true, "content": {
            "application/x-ndjson": { "schema": { "type": "string" }, "example": "{\"input\": {\"subject\": \"...\", \"body\": \"...\"}, \"label\": \"affald\"}" },
            "text/csv": { "schema": { "type": "string" } } } },
        "responses": created } }));
    paths.insert(
        "/v1/validation-reports".into(),
        json!({ "get": simple("This tenant's validation reports (id, component, version, digest, sample sha256, n, created)", "oversight", true) }),
    );
    let mut report = simple("A validation report (report.json) with its entry; 202 while it runs", "oversight", true);
    report["responses"]["202"] = json_ok("The entry while the run continues");
    paths.insert("/v1/validation-reports/{id}".into(), json!({ "get": report }));
    paths.insert("/v1/validation-reports/{id}/report.html".into(), json!({ "get": {
        "summary": "The validation report as a self-contained HTML page", "tags": ["oversight"], "security": [{ "bearer": [] }],
        "responses": with_errors(json!({ "description": "HTML", "content": { "text/html": { "schema": { "type": "string" } } } })) } }));
    for (path, summary) in [
        ("/v2/health/live", "Liveness (Open Inference Protocol)"),
        ("/v2/health/ready", "Readiness (503 with the same body when no component is installed)"),
        ("/v2", "Server metadata"),
    ] {
        let mut op = simple(summary, "open-inference-protocol", false);
        if path == "/v2/health/ready" {
            op["responses"]["503"] = json_ok("Not ready");
        }
        paths.insert(path.into(), json!({ "get": op }));
    }
    for (path, summary) in [
        ("/v2/models/{name}", "Model metadata"),
        ("/v2/models/{name}/versions/{version}", "Model metadata of a version"),
        ("/v2/models/{name}/ready", "Model readiness"),
        ("/v2/models/{name}/versions/{version}/ready", "Model readiness of a version"),
    ] {
        let mut op = simple(summary, "open-inference-protocol", true);
        if path.ends_with("/ready") {
            op["responses"]["503"] = json_ok("Withdrawn: not ready");
        }
        paths.insert(path.into(), json!({ "get": op }));
    }
    for path in ["/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer"] {
        paths.insert(path.into(), json!({ "post": {
            "summary": "Inference (JSON, or binary tensor data with Inference-Header-Content-Length)", "tags": ["open-inference-protocol"],
            "security": [{ "bearer": [] }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object" } }, "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
            "responses": with_errors(json!({ "description": "Inference response (binary tensor data when requested)", "content": {
                "application/json": { "schema": { "type": "object" } }, "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } })) } }));
    }
    paths.insert("/openapi.json".into(), json!({ "get": { "summary": "This document (with a bearer token: that tenant's components)", "tags": ["operations"],
        "responses": with_errors(json!({ "description": "OpenAPI 3.1", "content": { "application/json": { "schema": { "type": "object" } } } })) } }));
    declare_path_parameters(&mut paths, &named);

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
                "Feedback": { "oneOf": [
                    { "type": "object", "required": ["decision"], "additionalProperties": false, "properties": {
                        "decision": { "const": "accepted" },
                        "final_label": { "$ref": "#/components/schemas/Label", "description": "if given, the predicted label" },
                        "note": { "$ref": "#/components/schemas/Note" } } },
                    { "type": "object", "required": ["decision", "final_label"], "additionalProperties": false, "properties": {
                        "decision": { "const": "overridden" },
                        "final_label": { "$ref": "#/components/schemas/Label", "description": "the caseworker's label: one of the labels of the version that made the prediction, other than the predicted one" },
                        "note": { "$ref": "#/components/schemas/Note" } } } ] },
                "Label": { "type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$" },
                "Note": { "type": "string", "maxLength": 2000, "pattern": "^[^\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f]*$",
                    "description": "free text; no control characters but newline and tab" },
            }
        }
    })))
}

/// Declares every `{param}` of every path on each of its operations that
/// does not declare it yet (an OpenAPI document must).
/// With a token, `name` is one of the components the tenant may use.
fn declare_path_parameters(paths: &mut Map<String, Value>, names_visible: &std::collections::BTreeSet<String>) {
    for (path, item) in paths.iter_mut() {
        let names: Vec<&str> = path.split('/').filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}')).collect();
        let Some(ops) = item.as_object_mut() else { continue };
        for op in ops.values_mut() {
            let params = op.as_object_mut().expect("operation").entry("parameters").or_insert_with(|| json!([]));
            let list = params.as_array_mut().expect("parameters");
            for name in &names {
                if list.iter().any(|p| p["in"] == "path" && p["name"] == *name) {
                    continue;
                }
                list.push(match *name {
                    // Monitoring answers for any name with audit history.
                    "name" if !names_visible.is_empty() && !path.ends_with("/monitoring") => {
                        let mut p = name_param();
                        p["schema"]["enum"] = json!(names_visible);
                        p
                    }
                    "name" => name_param(),
                    "version" => version_param(),
                    "request_id" => path_param("request_id", "Request id of a prediction"),
                    "id" => path_param("id", "Id of a validation report (vr_...)"),
                    other => path_param(other, ""),
                });
            }
            if list.is_empty() {
                op.as_object_mut().expect("operation").remove("parameters");
            }
        }
    }
}
