//! Local validation over HTTP, for a municipality's auditors
//! (`/v1/components/{name}/validation-reports`, `/v1/validation-reports`).
//!
//! The auditor uploads a labelled sample (JSONL or CSV, by Content-Type);
//! the host runs the exact installed, signed component over it in the
//! sandbox (on the blocking pool) and computes the report with the same
//! library code as `komp validate run` (`komp_validate::validate_sample`).
//! Only the report is kept, per tenant, in
//! `DATA_DIR/tenants/<tenant>/validation-reports/<id>/` (`entry.json`,
//! `report.json`, `report.html`): the sample's texts are never written
//! anywhere, only its sha256. Reports are made at the component's own
//! (signed) operating point; the threshold curve in the report shows the
//! others, which is what a tenant cites when it moves its own.

use super::auth::{Principal, Role};
use super::extract::{Path, Query};
use super::{ApiError, SharedState};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use komp_audit::Tenant;
use komp_validate::sample::{SampleFormat, SampleSpec};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// Validation runs at once on one host; more get 503 + Retry-After.
pub const MAX_CONCURRENT_RUNS: usize = 2;

/// Most reports listed.
pub const MAX_LISTED: usize = 1000;

/// What the list shows of a report, and what `entry.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub component: String,
    pub version: String,
    pub digest: String,
    /// sha256 of the uploaded sample's bytes (the sample itself is not kept).
    pub sample_sha256: String,
    pub sample_format: String,
    /// Labelled rows in the sample.
    pub n: usize,
    pub created: String,
    /// `running`, `done`, `failed` (or `interrupted`: the host stopped during the run).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub evaluated: Option<usize>,
    #[serde(default)]
    pub failed_rows: Option<usize>,
    /// Token id of the auditor who ran it.
    pub token_id: String,
    /// The threshold the component's decisions were taken at (its signed default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_point: Option<f64>,
}

/// The reports' place on disk and the runs in progress.
pub struct ValidationReports {
    dir: PathBuf,
    running: Mutex<HashSet<String>>,
    slots: Arc<Semaphore>,
}

impl ValidationReports {
    pub fn new(data_dir: &std::path::Path) -> ValidationReports {
        ValidationReports {
            dir: data_dir.join("tenants"),
            running: Mutex::new(HashSet::new()),
            slots: Arc::new(Semaphore::new(MAX_CONCURRENT_RUNS)),
        }
    }

    /// The folder of report `id` of `tenant` (`entry.json`, `report.json`,
    /// `report.html`); `id` must pass [`valid_id`].
    pub(crate) fn report_dir(&self, tenant: &Tenant, id: &str) -> PathBuf {
        self.dir.join(tenant.as_str()).join("validation-reports").join(id)
    }

    fn write_entry(&self, tenant: &Tenant, e: &Entry) -> anyhow::Result<()> {
        let dir = self.report_dir(tenant, &e.id);
        std::fs::create_dir_all(&dir).map_err(|err| anyhow::anyhow!("cannot create {}: {err}", dir.display()))?;
        komp_artifact::fsutil::write_atomic_mode(&dir.join("entry.json"), &serde_json::to_vec_pretty(e)?, true)?;
        Ok(())
    }

    fn read_entry(&self, tenant: &Tenant, id: &str) -> Option<Entry> {
        let bytes = std::fs::read(self.report_dir(tenant, id).join("entry.json")).ok()?;
        let mut e: Entry = serde_json::from_slice(&bytes).ok()?;
        if e.status == "running" && !self.running.lock().expect("lock").contains(id) {
            e.status = "interrupted".into();
            e.error = Some("the host stopped before the run finished; upload the sample again".into());
        }
        Some(e)
    }

    /// The reports of `tenant` only, newest first (at most [`MAX_LISTED`]).
    pub(crate) fn list(&self, tenant: &Tenant) -> Vec<Entry> {
        let Ok(dirs) = std::fs::read_dir(self.dir.join(tenant.as_str()).join("validation-reports")) else {
            return Vec::new();
        };
        let mut out: Vec<Entry> = dirs
            .flatten()
            .filter_map(|d| d.file_name().to_str().map(str::to_string))
            .filter(|id| valid_id(id))
            .filter_map(|id| self.read_entry(tenant, &id))
            .collect();
        out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        out.truncate(MAX_LISTED);
        out
    }
}

/// Report ids: `vr_` and 16 lowercase hex digits (nothing else reaches the file system).
pub fn valid_id(id: &str) -> bool {
    id.len() == 19 && id.starts_with("vr_") && id[3..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn new_id() -> Result<String, ApiError> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("no randomness: {e}")))?;
    Ok(format!("vr_{}", hex::encode(b)))
}

/// The entry of report `id` of `tenant` (404 for another tenant's or an unknown id).
pub fn find(s: &SharedState, tenant: &Tenant, id: &str) -> Result<Entry, ApiError> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, format!("no validation report {id} for tenant {tenant}"));
    if !valid_id(id) {
        return Err(not_found());
    }
    s.validation_reports.read_entry(tenant, id).ok_or_else(not_found)
}

fn format_of(headers: &HeaderMap) -> Result<SampleFormat, ApiError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match mime.as_str() {
        "application/x-ndjson" | "application/jsonl" | "application/jsonlines" | "application/json-lines" => {
            Ok(SampleFormat::Jsonl)
        }
        "text/csv" => Ok(SampleFormat::Csv),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type {ct:?} is not a sample format: send JSON Lines as `application/x-ndjson` \
                 (one {{\"input\": {{...}}, \"label\": \"...\"}} per line) or CSV with a header row as `text/csv`"
            ),
        )),
    }
}

/// Reads the body up to `limit` bytes; a larger one is 413 with the limit.
async fn read_sample(body: Body, headers: &HeaderMap, limit: usize) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the sample is larger than this host's limit of {limit} bytes (`max_sample_bytes`); a validation \
                 needs a few thousand labelled cases (`komp validate plan`): upload a random subset"
            ),
        )
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(b) => Ok(b.to_vec()),
        Err(e) => {
            let source = std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default();
            if source.contains("length limit") || e.to_string().contains("length limit") {
                Err(too_large())
            } else {
                Err(ApiError::new(StatusCode::BAD_REQUEST, format!("cannot read the sample: {e}")))
            }
        }
    }
}

/// `POST /v1/components/{name}/validation-reports` (auditor): runs the
/// installed component over the uploaded sample and keeps the report.
/// Query: `group_by` (repeatable, `FIELD[=BANDS]`), `positive`, `version`.
pub async fn create(
    State(s): State<SharedState>,
    p: Principal,
    Path(name): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    s.require(&p, Role::Auditor)?;
    s.require_allowed(&p, &name)?;
    let mut group_by = Vec::new();
    let mut positive = None;
    let mut version = None;
    for (k, v) in query {
        match k.as_str() {
            "group_by" => group_by.extend(v.split(';').filter(|g| !g.trim().is_empty()).map(|g| g.trim().to_string())),
            "positive" => positive = Some(v),
            "version" => version = Some(v),
            other => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("unknown query parameter {other:?}; use group_by, positive or version"),
                ))
            }
        }
    }
    let version = super::api::parse_version(version.as_deref())?;
    let component = s.runtime.lookup(&name, version.as_ref())?;
    if let Some(reason) = component.withdrawn() {
        return Err(ApiError::new(StatusCode::GONE, format!("{} was withdrawn: {reason}", component.manifest().id())));
    }
    let format = format_of(&headers)?;
    let bytes = read_sample(body, &headers, s.config.max_sample_bytes).await?;
    let slot = s.validation_reports.slots.clone().try_acquire_owned().map_err(|_| {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{MAX_CONCURRENT_RUNS} validation runs are in progress on this host; retry in a minute"),
        );
        e.retry_after = Some(30);
        e
    })?;

    // Check the sample (columns, labels, values) and the groups before
    // anything runs: a bad sample is answered at once.
    let manifest = component.manifest().clone();
    let file_name = PathBuf::from(match format {
        SampleFormat::Jsonl => "sample.jsonl",
        SampleFormat::Csv => "sample.csv",
    });
    let settings = komp_validate::RunSettings {
        group_by,
        positive,
        resamples: komp_validate::stats::DEFAULT_RESAMPLES,
        seed: komp_validate::stats::DEFAULT_SEED,
        site: s
            .config
            .tenants
            .get(&p.tenant)
            .map(|t| t.name.clone())
            .filter(|n| !n.is_empty())
            .or(Some(p.tenant.to_string())),
    };
    let (m2, set2) = (manifest.clone(), settings.clone());
    let sample = tokio::task::spawn_blocking(move || -> Result<komp_validate::Sample, ApiError> {
        let spec = SampleSpec::from_manifest(&m2);
        let sample = komp_validate::sample::from_bytes(&bytes, &file_name, format, &spec)
            .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
        drop(bytes);
        let asked = if set2.group_by.is_empty() {
            komp_validate::groups::defaults(&spec)
        } else {
            set2.group_by
                .iter()
                .map(|g| komp_validate::GroupSpec::parse(g))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?
        };
        komp_validate::groups::resolve(&asked, &spec, &sample.rows, &sample.extra_columns)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
        if let Some(pos) = set2.positive.as_ref().filter(|pos| !m2.labels.iter().any(|l| &l.id == *pos)) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "positive={pos:?} is not a label of {}; its labels are: {}",
                    m2.name,
                    m2.labels.iter().map(|l| l.id.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        Ok(sample)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("sample check failed: {e}")))??;

    let id = new_id()?;
    let entry = Entry {
        id: id.clone(),
        component: manifest.name.clone(),
        version: manifest.version.to_string(),
        digest: component.digest().to_string(),
        sample_sha256: sample.sha256.clone(),
        sample_format: match format {
            SampleFormat::Jsonl => "jsonl".into(),
            SampleFormat::Csv => "csv".into(),
        },
        n: sample.rows.len(),
        created: komp_audit::now_rfc3339(),
        status: "running".into(),
        error: None,
        evaluated: None,
        failed_rows: None,
        token_id: p.token_id.clone(),
        operating_point: manifest.operating_point.as_ref().map(|op| op.default),
    };
    // On the audit record before it runs: who validated which exact component on which sample
    // (its hash and size; never a text).
    let event = komp_audit::AdminEvent {
        token_id: p.token_id.clone(),
        component: entry.component.clone(),
        action: komp_audit::AdminAction::ValidationRun,
        details: json!({
            "report": id,
            "version": entry.version,
            "digest": entry.digest,
            "sample_sha256": entry.sample_sha256,
            "rows": entry.n,
        }),
    };
    s.audit.record_admin_async(&p.tenant, event).await.map_err(|e| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("the audit log cannot record the validation run: {e}"))
    })?;
    s.validation_reports.running.lock().expect("lock").insert(id.clone());
    s.validation_reports
        .write_entry(&p.tenant, &entry)
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("cannot store the report: {e:#}")))?;
    tracing::info!(
        tenant = %p.tenant, token_id = %p.token_id, report = %id, component = %entry.component, version = %entry.version,
        digest = %entry.digest, sample_sha256 = %entry.sample_sha256, rows = entry.n, "validation run started"
    );

    let provenance = s
        .verifier
        .provenance
        .lock()
        .expect("lock")
        .get(component.digest())
        .cloned()
        .unwrap_or_else(|| json!({ "signatures": [] }));
    let (st, tenant) = (s.clone(), p.tenant.clone());
    let task = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let runtime = st.runtime.clone();
        let result =
            komp_validate::validate_sample(&manifest, component.digest(), provenance, sample, &settings, |input| {
                runtime
                    .predict_with(&component, input)
                    .map(|o| komp_validate::PredictionLike {
                        label: o.prediction.label,
                        scores: o.prediction.scores.iter().map(|s| (s.label.clone(), s.score as f64)).collect(),
                        requires_human_review: o.prediction.requires_human_review,
                    })
                    .map_err(|e| e.to_string())
            });
        finish(&st, &tenant, entry, result)
    });
    // Small samples are answered with the report; a long run answers 202
    // and the report appears under its id when it is done.
    let wait = std::time::Duration::from_millis(s.config.request_timeout_ms / 2);
    let links = json!({
        "self": format!("/v1/validation-reports/{id}"),
        "html": format!("/v1/validation-reports/{id}/report.html"),
    });
    match tokio::time::timeout(wait, task).await {
        Ok(Ok((entry, report))) => match entry.status.as_str() {
            "done" => {
                Ok((StatusCode::CREATED, Json(json!({ "id": id, "entry": entry, "report": report, "links": links })))
                    .into_response())
            }
            _ => {
                let mut e = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    entry.error.clone().unwrap_or_else(|| "the validation failed".into()),
                );
                e.extra = Some(json!({ "id": id }));
                Err(e)
            }
        },
        Ok(Err(e)) => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("validation task failed: {e}"))),
        Err(_) => {
            Ok((StatusCode::ACCEPTED, Json(json!({ "id": id, "status": "running", "links": links }))).into_response())
        }
    }
}

/// Writes the report files (or the failure) and the final entry.
fn finish(
    s: &SharedState,
    tenant: &Tenant,
    mut entry: Entry,
    result: Result<komp_validate::Evaluation, komp_validate::RunError>,
) -> (Entry, Value) {
    let dir = s.validation_reports.report_dir(tenant, &entry.id);
    let mut report = Value::Null;
    let outcome: anyhow::Result<()> = match result {
        Ok(ev) => (|| {
            let json = serde_json::to_vec_pretty(&ev.report)?;
            komp_artifact::fsutil::write_atomic_mode(&dir.join("report.json"), &json, true)?;
            komp_artifact::fsutil::write_atomic_mode(
                &dir.join("report.html"),
                komp_validate::html::render(&ev.report).as_bytes(),
                true,
            )?;
            entry.status = "done".into();
            entry.evaluated = Some(ev.report.evaluated);
            entry.failed_rows = Some(ev.report.prediction_errors.count);
            report = serde_json::to_value(&ev.report)?;
            Ok(())
        })(),
        Err(e) => {
            entry.status = "failed".into();
            entry.error = Some(e.to_string());
            Ok(())
        }
    };
    if let Err(e) = outcome {
        entry.status = "failed".into();
        entry.error = Some(format!("the report could not be stored: {e:#}"));
    }
    if let Err(e) = s.validation_reports.write_entry(tenant, &entry) {
        tracing::error!(report = %entry.id, error = %format!("{e:#}"), "cannot write the validation report's entry");
    }
    s.validation_reports.running.lock().expect("lock").remove(&entry.id);
    tracing::info!(
        tenant = %tenant, report = %entry.id, component = %entry.component, status = %entry.status, evaluated = ?entry.evaluated,
        failed_rows = ?entry.failed_rows, "validation run finished"
    );
    (entry, report)
}

/// `GET /v1/validation-reports` (auditor): this tenant's reports, newest first.
pub async fn list(State(s): State<SharedState>, p: Principal) -> Result<Json<Value>, ApiError> {
    s.require(&p, Role::Auditor)?;
    let (st, tenant) = (s.clone(), p.tenant.clone());
    let reports = tokio::task::spawn_blocking(move || st.validation_reports.list(&tenant))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(json!({ "tenant": p.tenant, "reports": reports })))
}

/// `GET /v1/validation-reports/{id}` (auditor): the entry and `report.json`.
pub async fn get(State(s): State<SharedState>, p: Principal, Path(id): Path<String>) -> Result<Response, ApiError> {
    s.require(&p, Role::Auditor)?;
    let entry = find(&s, &p.tenant, &id)?;
    if entry.status != "done" {
        let status = if entry.status == "running" { StatusCode::ACCEPTED } else { StatusCode::OK };
        return Ok((status, Json(json!({ "id": id, "status": entry.status, "entry": entry }))).into_response());
    }
    let path = s.validation_reports.report_dir(&p.tenant, &id).join("report.json");
    let report: Value = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("report {id} cannot be read")))?;
    Ok(Json(json!({ "id": id, "status": "done", "entry": entry, "report": report })).into_response())
}

/// `GET /v1/validation-reports/{id}/report.html` (auditor): the page.
pub async fn html(State(s): State<SharedState>, p: Principal, Path(id): Path<String>) -> Result<Response, ApiError> {
    s.require(&p, Role::Auditor)?;
    let entry = find(&s, &p.tenant, &id)?;
    if entry.status != "done" {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("validation report {id} has no page: its run is {}", entry.status),
        ));
    }
    let path = s.validation_reports.report_dir(&p.tenant, &id).join("report.html");
    let page = std::fs::read(&path)
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("report {id} cannot be read")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The page is self-contained (inline CSS and SVG); it may load nothing.
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'; img-src data:"),
        ],
        page,
    )
        .into_response())
}
