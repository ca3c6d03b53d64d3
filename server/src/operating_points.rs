//! A municipality's own operating point per component
//! (`/v1/components/{name}/operating-point`).
//!
//! A component may declare, signed in its manifest, what its decision
//! threshold means and the range `[min, max]` within which a municipality
//! may move it (`komp_artifact::OperatingPoint`). A tenant's admin sets a
//! threshold inside that range, with a reason and optionally the id of a
//! validation report it relies on; the host then takes the decision from
//! the component's unchanged scores at that threshold. Settings live in
//! `DATA_DIR/tenants/<tenant>/operating-points.json` (temp file + fsync +
//! rename), with every change in its `history`.

use super::auth::{Principal, Role};
use super::extract::{Path, RawBody};
use super::{ApiError, SharedState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use komp_audit::Tenant;
use komp_runtime::prediction::{rule_name, OperatingPointSource, OperatingPointUsed};
use komp_runtime::runtime::InstalledComponent;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::RwLock;

/// Longest reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 2000;

/// A tenant's threshold for one component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    pub threshold: f64,
    pub reason: String,
    #[serde(default)]
    pub validation_report: Option<String>,
    /// Token id of the admin who set it.
    pub set_by: String,
    pub set_at: String,
    /// The version and digest the setting was checked against.
    pub version: String,
    pub digest: String,
}

/// One change, kept for the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub at: String,
    pub token_id: String,
    pub component: String,
    pub from: Option<f64>,
    /// `None`: back to the component's default.
    pub to: Option<f64>,
    pub reason: String,
    #[serde(default)]
    pub validation_report: Option<String>,
}

/// The file of one tenant.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TenantFile {
    pub components: BTreeMap<String, Setting>,
    pub history: Vec<Change>,
}

/// Every tenant's settings, read at start and written through.
pub struct OperatingPoints {
    dir: PathBuf,
    tenants: RwLock<HashMap<Tenant, TenantFile>>,
}

impl OperatingPoints {
    /// Reads `DATA_DIR/tenants/*/operating-points.json`. A broken file stops
    /// the start: serving with another municipality's decision point silently
    /// replaced by the default would be worse.
    pub fn open(data_dir: &std::path::Path) -> anyhow::Result<OperatingPoints> {
        let dir = data_dir.join("tenants");
        let mut tenants = HashMap::new();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let path = e.path().join("operating-points.json");
                let Ok(tenant) = Tenant::parse(&e.file_name().to_string_lossy()) else { continue };
                if !path.exists() {
                    continue;
                }
                let bytes =
                    std::fs::read(&path).map_err(|err| anyhow::anyhow!("cannot read {}: {err}", path.display()))?;
                let file: TenantFile = serde_json::from_slice(&bytes).map_err(|err| {
                    anyhow::anyhow!(
                        "{} is not a valid operating-point file: {err}; restore it from backup or remove it (the tenant then uses the components' defaults)",
                        path.display()
                    )
                })?;
                tenants.insert(tenant, file);
            }
        }
        Ok(OperatingPoints { dir, tenants: RwLock::new(tenants) })
    }

    pub fn setting(&self, tenant: &Tenant, component: &str) -> Option<Setting> {
        self.tenants.read().expect("lock").get(tenant).and_then(|t| t.components.get(component)).cloned()
    }

    pub fn history(&self, tenant: &Tenant, component: &str) -> Vec<Change> {
        self.tenants
            .read()
            .expect("lock")
            .get(tenant)
            .map(|t| t.history.iter().filter(|c| c.component == component).cloned().collect())
            .unwrap_or_default()
    }

    /// Sets (`Some`) or clears (`None`) a tenant's setting and writes the file
    /// durably before the change is visible.
    fn change(&self, tenant: &Tenant, component: &str, setting: Option<Setting>, change: Change) -> anyhow::Result<()> {
        let mut tenants = self.tenants.write().expect("lock");
        let mut file = tenants.get(tenant).cloned().unwrap_or_default();
        match setting {
            Some(s) => {
                file.components.insert(component.to_string(), s);
            }
            None => {
                file.components.remove(component);
            }
        }
        file.history.push(change);
        let dir = self.dir.join(tenant.as_str());
        std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        komp_artifact::fsutil::write_atomic_mode(
            &dir.join("operating-points.json"),
            &serde_json::to_vec_pretty(&file)?,
            true,
        )?;
        tenants.insert(*tenant, file);
        Ok(())
    }

    /// The operating point a prediction of `c` for `tenant` uses: the
    /// tenant's setting when it is inside the range this version declares,
    /// else the component's default. `None` for a component without one.
    pub fn in_use(&self, tenant: &Tenant, c: &InstalledComponent) -> Option<OperatingPointUsed> {
        let m = c.manifest();
        let op = m.operating_point.as_ref()?;
        let default = OperatingPointUsed {
            threshold: op.default,
            source: OperatingPointSource::Default,
            default: op.default,
            rule: rule_name(op).to_string(),
            validation_report: None,
        };
        match self.setting(tenant, &m.name) {
            Some(s) if op.allows(s.threshold) => Some(OperatingPointUsed {
                threshold: s.threshold,
                source: OperatingPointSource::Tenant,
                validation_report: s.validation_report,
                ..default
            }),
            Some(s) => {
                tracing::warn!(
                    tenant = %tenant, component = %m.name, version = %m.version, threshold = s.threshold, min = op.min, max = op.max,
                    "the tenant's operating point is outside the range this version declares; using the component's default"
                );
                Some(default)
            }
            None => Some(default),
        }
    }
}

/// Applies the operating point in use to a successful prediction: the
/// decision moves, the scores do not.
pub fn apply(
    s: &SharedState,
    tenant: &Tenant,
    c: &InstalledComponent,
    outcome: &mut komp_runtime::runtime::PredictionOutcome,
) {
    let Some(used) = s.operating_points.in_use(tenant, c) else { return };
    if used.source == OperatingPointSource::Tenant {
        if let Some(op) = &c.manifest().operating_point {
            outcome.prediction.apply_operating_point(op, used.threshold);
        }
    }
    outcome.operating_point = Some(used);
}

fn component_for(s: &SharedState, p: &Principal, name: &str) -> Result<std::sync::Arc<InstalledComponent>, ApiError> {
    s.require_allowed(p, name)?;
    Ok(s.runtime.lookup(name, None)?)
}

fn state_json(s: &SharedState, p: &Principal, c: &InstalledComponent) -> Value {
    let m = c.manifest();
    json!({
        "tenant": p.tenant,
        "component": m.name,
        "version": m.version.to_string(),
        "digest": c.digest(),
        "declared": m.operating_point,
        "in_use": s.operating_points.in_use(&p.tenant, c),
        "setting": s.operating_points.setting(&p.tenant, &m.name),
        "history": s.operating_points.history(&p.tenant, &m.name),
    })
}

/// `GET /v1/components/{name}/operating-point`: what is declared, what is in
/// use for this tenant, and the history of its changes.
pub async fn get(
    State(s): State<SharedState>,
    p: Principal,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !(p.role.allows(Role::Auditor) || p.role.allows(Role::Caller)) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "needs role caller, auditor or admin"));
    }
    let c = component_for(&s, &p, &name)?;
    Ok(Json(state_json(&s, &p, &c)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetBody {
    pub threshold: f64,
    pub reason: String,
    #[serde(default)]
    pub validation_report: Option<String>,
}

/// `PUT /v1/components/{name}/operating-point` (admin): sets this tenant's threshold.
pub async fn put(
    State(s): State<SharedState>,
    p: Principal,
    Path(name): Path<String>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    s.require(&p, Role::Admin)?;
    let c = component_for(&s, &p, &name)?;
    let body: SetBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the body must be {{\"threshold\": number, \"reason\": \"...\", \"validation_report\"?: \"vr_...\"}}: {e}"),
        )
    })?;
    let m = c.manifest();
    let op = m.operating_point.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{} declares no operating point, so its decision cannot be moved", m.id()),
        )
    })?;
    if !op.allows(body.threshold) {
        let mut e = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "threshold {} is outside the range {} declares: [{}, {}] (default {}). {}",
                body.threshold,
                m.id(),
                op.min,
                op.max,
                op.default,
                op.reasoning
            ),
        );
        e.extra = Some(json!({ "allowed": { "min": op.min, "max": op.max, "default": op.default } }));
        return Err(e);
    }
    let reason = body.reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("reason must say why (1-{MAX_REASON_CHARS} characters), e.g. which validation report supports it"),
        ));
    }
    if let Some(id) = &body.validation_report {
        let entry = super::validation::find(&s, &p.tenant, id)?;
        if entry.component != m.name {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("validation report {id} is about {}, not {}", entry.component, m.name),
            ));
        }
    }
    let now = komp_audit::now_rfc3339();
    let before = s.operating_points.setting(&p.tenant, &m.name).map(|x| x.threshold);
    let setting = Setting {
        threshold: body.threshold,
        reason: reason.clone(),
        validation_report: body.validation_report.clone(),
        set_by: p.token_id.clone(),
        set_at: now.clone(),
        version: m.version.to_string(),
        digest: c.digest().to_string(),
    };
    let change = Change {
        at: now,
        token_id: p.token_id.clone(),
        component: m.name.clone(),
        from: before,
        to: Some(body.threshold),
        reason,
        validation_report: body.validation_report,
    };
    write(&s, &p, &m.name, Some(setting), change).await?;
    Ok(Json(state_json(&s, &p, &c)))
}

/// `DELETE /v1/components/{name}/operating-point` (admin): back to the component's default.
pub async fn delete(
    State(s): State<SharedState>,
    p: Principal,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    s.require(&p, Role::Admin)?;
    let c = component_for(&s, &p, &name)?;
    let before = s.operating_points.setting(&p.tenant, &name).map(|x| x.threshold);
    if before.is_some() {
        let change = Change {
            at: komp_audit::now_rfc3339(),
            token_id: p.token_id.clone(),
            component: name.clone(),
            from: before,
            to: None,
            reason: "back to the component's default".into(),
            validation_report: None,
        };
        write(&s, &p, &name, None, change).await?;
    }
    Ok(Json(state_json(&s, &p, &c)))
}

async fn write(
    s: &SharedState,
    p: &Principal,
    name: &str,
    setting: Option<Setting>,
    change: Change,
) -> Result<(), ApiError> {
    // On the record first: a change that is not in the audit log never takes effect.
    let action = if setting.is_some() {
        komp_audit::AdminAction::OperatingPointSet
    } else {
        komp_audit::AdminAction::OperatingPointReset
    };
    let details = json!({
        "from": change.from,
        "to": change.to,
        "reason": change.reason,
        "validation_report": change.validation_report,
        "version": setting.as_ref().map(|x| &x.version),
        "digest": setting.as_ref().map(|x| &x.digest),
    });
    let event = komp_audit::AdminEvent { token_id: p.token_id.clone(), component: name.to_string(), action, details };
    s.audit.record_admin_async(&p.tenant, event).await.map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the change could not be written to the audit log, so it is not in force: {e}"),
        )
    })?;
    let (st, tenant, component) = (s.clone(), p.tenant.clone(), name.to_string());
    let logged = change.clone();
    tokio::task::spawn_blocking(move || st.operating_points.change(&tenant, &component, setting, change))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the setting could not be stored, so it is not in force: {e:#}"),
            )
        })?;
    tracing::info!(
        tenant = %p.tenant, token_id = %logged.token_id, component = %logged.component, from = ?logged.from, to = ?logged.to,
        reason = %logged.reason, validation_report = ?logged.validation_report, "operating point changed"
    );
    Ok(())
}
