//! Open Inference Protocol endpoints (`/v2`). The tensor mapping is in
//! [`super::oip`].

use super::api::{parse_version, run_prediction};
use super::auth::{Principal, Role};
use super::extract::{Path, RawBody};
use super::oip::{self, OutputData};
use super::{ApiError, SharedState};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use komp_runtime::runtime::InstalledComponent;
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn live() -> Json<Value> {
    Json(json!({ "live": true }))
}

/// Ready when at least one component is installed. The body also says how
/// current the revocation list is: an expired one does not make the host
/// unready (it keeps serving what it verified), but operators must see it.
pub async fn ready(State(s): State<SharedState>) -> Response {
    let ready = !s.runtime.components().is_empty();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let revocations = super::run::revocation_gauges(&s);
    let expired = matches!(revocations, komp_registry::ExpiryStatus::Expired { .. });
    let mut list = serde_json::to_value(&revocations).unwrap_or_default();
    list["serial"] = json!(s.verifier.revocations.read().expect("lock").serial);
    if expired {
        list["refusing_new_installs"] = json!(s.config.refuse_installs_when_revocations_expired);
    }
    (status, Json(json!({ "ready": ready, "revocation_list": list }))).into_response()
}

pub async fn server_metadata() -> Json<Value> {
    Json(json!({
        "name": "komp",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": ["binary_tensor_data"],
    }))
}

fn lookup(
    s: &SharedState,
    p: &Principal,
    name: &str,
    version: Option<&str>,
) -> Result<Arc<InstalledComponent>, ApiError> {
    s.require_allowed(p, name)?;
    let v = parse_version(version)?;
    Ok(s.runtime.lookup(name, v.as_ref())?)
}

fn metadata(s: &SharedState, c: &InstalledComponent) -> Value {
    let m = c.manifest();
    let versions = s.runtime.versions(&m.name);
    json!({
        "name": m.name,
        "versions": versions,
        "platform": "komp_wasm_onnx",
        "inputs": [{ "name": "input", "datatype": "BYTES", "shape": [-1] }],
        "outputs": [
            { "name": "label", "datatype": "BYTES", "shape": [-1] },
            { "name": "scores", "datatype": "FP32", "shape": [-1, m.labels.len()] },
            { "name": "requires_human_review", "datatype": "BOOL", "shape": [-1] },
            { "name": "explanation", "datatype": "BYTES", "shape": [-1] },
            { "name": "details", "datatype": "BYTES", "shape": [-1] },
        ],
        "parameters": {
            "labels": m.labels.iter().map(|l| l.id.clone()).collect::<Vec<_>>(),
            "digest": c.digest(),
            "input_schema": m.input_schema,
        },
    })
}

pub async fn model_metadata(
    State(s): State<SharedState>,
    p: Principal,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let c = lookup(&s, &p, &name, None)?;
    Ok(Json(metadata(&s, &c)))
}

pub async fn model_metadata_version(
    State(s): State<SharedState>,
    p: Principal,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let c = lookup(&s, &p, &name, Some(&version))?;
    Ok(Json(metadata(&s, &c)))
}

fn ready_response(c: Result<Arc<InstalledComponent>, ApiError>) -> Result<Response, ApiError> {
    let c = c?;
    let ready = c.withdrawn().is_none();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    Ok((status, Json(json!({ "name": c.manifest().name, "ready": ready }))).into_response())
}

pub async fn model_ready(
    State(s): State<SharedState>,
    p: Principal,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    ready_response(lookup(&s, &p, &name, None))
}

pub async fn model_ready_version(
    State(s): State<SharedState>,
    p: Principal,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    ready_response(lookup(&s, &p, &name, Some(&version)))
}

pub async fn infer(
    State(s): State<SharedState>,
    p: Principal,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    infer_inner(s, p, name, None, headers, body).await
}

pub async fn infer_version(
    State(s): State<SharedState>,
    p: Principal,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    infer_inner(s, p, name, Some(version), headers, body).await
}

/// The component's single required string field, if it has exactly one.
fn text_field(c: &InstalledComponent) -> Option<String> {
    let schema = &c.manifest().input_schema;
    let required: Vec<&str> = schema.get("required")?.as_array()?.iter().filter_map(Value::as_str).collect();
    let strings: Vec<&str> = required
        .into_iter()
        .filter(|r| schema.pointer(&format!("/properties/{r}/type")).and_then(Value::as_str) == Some("string"))
        .collect();
    (strings.len() == 1 && schema["required"].as_array().map(|a| a.len()) == Some(1)).then(|| strings[0].to_string())
}

async fn infer_inner(
    s: SharedState,
    p: Principal,
    name: String,
    version: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    s.require(&p, Role::Caller)?;
    let c = lookup(&s, &p, &name, version.as_deref())?;
    let bad = |e: oip::BadRequest| ApiError::new(StatusCode::BAD_REQUEST, e.0);
    let header_len = headers.get("inference-header-content-length").map(|v| v.to_str().unwrap_or("invalid"));
    let (json_part, binary) = oip::split_body(&body, header_len).map_err(bad)?;
    let req: oip::InferRequest = serde_json::from_slice(json_part)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("the inference request is not valid: {e}")))?;
    // `decode_inputs` checks the declared shapes and names against
    // `oip::MAX_ROWS`, `MAX_INPUTS` and `MAX_NAME_BYTES` before it decodes
    // anything, so what follows is bounded by the limits, not by the body.
    let wanted = oip::requested_outputs(&req).map_err(bad)?;
    let columns = oip::decode_inputs(&req, binary).map_err(bad)?;
    let rows = oip::rows(&columns, text_field(&c).as_deref()).map_err(bad)?;

    let labels: Vec<String> = c.manifest().labels.iter().map(|l| l.id.clone()).collect();
    let mut label = Vec::new();
    let mut scores = Vec::new();
    let mut review = Vec::new();
    let mut explanation = Vec::new();
    let mut details = Vec::new();
    let mut request_ids = Vec::new();
    let mut operating_point = None;
    for row in rows {
        let (request_id, outcome) = run_prediction(&s, &p, c.clone(), row).await?;
        operating_point = outcome.operating_point;
        let pr = outcome.prediction;
        request_ids.push(Value::from(request_id));
        for l in &labels {
            scores.push(pr.score(l).unwrap_or(0.0));
        }
        label.push(pr.label);
        review.push(pr.requires_human_review);
        explanation.push(serde_json::to_string(&pr.explanation).unwrap_or_default());
        details.push(pr.details.to_string());
    }
    let mut data: Vec<(String, bool, OutputData)> = Vec::new();
    for (name, binary) in wanted {
        let d = match name.as_str() {
            "label" => OutputData::Bytes(std::mem::take(&mut label)),
            "scores" => OutputData::Fp32 { values: std::mem::take(&mut scores), cols: labels.len() },
            "requires_human_review" => OutputData::Bool(std::mem::take(&mut review)),
            "explanation" => OutputData::Bytes(std::mem::take(&mut explanation)),
            _ => OutputData::Bytes(std::mem::take(&mut details)),
        };
        data.push((name, binary, d));
    }
    let (outputs, tail) = oip::encode_outputs(data);
    let mut params = serde_json::Map::new();
    params.insert("request_ids".into(), Value::Array(request_ids));
    params.insert("digest".into(), Value::from(c.digest()));
    if let Some(op) = operating_point {
        params.insert("operating_point".into(), serde_json::to_value(op).unwrap_or_default());
    }
    let resp = oip::InferResponse {
        model_name: c.manifest().name.clone(),
        model_version: c.manifest().version.to_string(),
        id: req.id,
        parameters: Some(params),
        outputs,
    };
    let json =
        serde_json::to_vec(&resp).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    if tail.is_empty() {
        return Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response());
    }
    let header_len = json.len();
    let mut body = json;
    body.extend_from_slice(&tail);
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header("inference-header-content-length", header_len)
        .body(Body::from(body))
        .expect("valid response"))
}
