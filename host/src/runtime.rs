//! The embeddable runtime: install components, run predictions in a fresh
//! sandboxed instance per call.

use crate::bindings::{StandardComponent, StandardComponentPre};
use crate::config::RuntimeConfig;
use crate::engine::{build_engine, deadline_ticks, CompileCache, EpochTicker};
use crate::error::{RuntimeError, Violation};
use crate::nn::{LoadedModel, ModelSet, NnState, NnView, TensorLimit};
use crate::prediction::{FeatureWeight, LabelScore, Prediction};
use komp_artifact::{Artifact, Manifest};
use semver::Version;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Store, Trap};
use wasmtime_wasi::clocks::WasiClocksCtxView;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Decides whether an artifact may be installed, before anything is compiled
/// or parsed. The registry's trust policy plugs in here.
pub trait ArtifactVerifier: Send + Sync {
    /// `Ok(())` to accept; `Err(reason)` to refuse with that reason.
    fn verify(&self, artifact: &Artifact) -> Result<(), String>;
}

/// An installed component, ready to instantiate.
pub struct InstalledComponent {
    artifact: Artifact,
    pre: StandardComponentPre<CallState>,
    models: ModelSet,
    schema: jsonschema::Validator,
    labels: Vec<String>,
    golden_passed: usize,
    withdrawn: RwLock<Option<String>>,
    /// Calls of this component running now.
    in_flight: AtomicU32,
    /// Its recent faults (see [`RuntimeError::is_component_fault`]).
    faults: Mutex<Faults>,
}

impl InstalledComponent {
    pub fn manifest(&self) -> &Manifest {
        self.artifact.manifest()
    }

    /// The component's identity: sha256 of its signed content.
    pub fn digest(&self) -> &str {
        self.artifact.digest()
    }

    pub fn artifact(&self) -> &Artifact {
        &self.artifact
    }

    /// How many golden vectors passed at install (all of them, or it would not be installed).
    pub fn golden_passed(&self) -> usize {
        self.golden_passed
    }

    /// The reason the component was withdrawn, if it was.
    pub fn withdrawn(&self) -> Option<String> {
        self.withdrawn.read().expect("lock").clone()
    }
}

/// What `predict` returns: the prediction and which exact component made it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PredictionOutcome {
    pub component: String,
    pub version: String,
    pub digest: String,
    pub prediction: Prediction,
    /// Time spent in the sandbox (instantiate + predict), in microseconds.
    pub elapsed_us: u64,
}

/// Summary of an install.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstallReport {
    pub name: String,
    pub version: String,
    pub digest: String,
    pub golden_vectors_passed: usize,
    pub compile_cache_hit: bool,
    pub compile_ms: u64,
}

/// State of one store (one instance, one call).
pub struct CallState {
    table: ResourceTable,
    wasi: WasiCtx,
    nn: NnState,
    limiter: MemoryLimiter,
    /// When this call's deadline passes; no sleep in a host call outlasts it.
    deadline_at: Instant,
    /// Set when the component asked to sleep past its deadline (the call is
    /// then a timeout, whatever the component does after waking up).
    sleep_cut: bool,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

struct HasNn;
impl HasData for HasNn {
    type Data<'a> = NnView<'a>;
}

fn nn_view(s: &mut CallState) -> NnView<'_> {
    NnView { table: &mut s.table, state: &mut s.nn }
}

/// `wasi:clocks/monotonic-clock` whose sleeps end at the call's deadline.
///
/// Epoch interruption stops wasm code, not a host call: with the stock
/// implementation a component could sleep (`subscribe-duration` + `poll`)
/// far past its deadline, holding a host thread and an instance slot. Here
/// every subscription wakes up at the deadline at the latest, and a call that
/// asked to sleep past its deadline ends in [`RuntimeError::Timeout`] (the
/// epoch ticker can lag wall time under load, so this does not rely on it).
struct DeadlineClock;
impl HasData for DeadlineClock {
    type Data<'a> = DeadlineClockView<'a>;
}

struct DeadlineClockView<'a> {
    clocks: WasiClocksCtxView<'a>,
    deadline: Instant,
    cut: &'a mut bool,
}

fn deadline_clock_view(s: &mut CallState) -> DeadlineClockView<'_> {
    DeadlineClockView {
        clocks: WasiClocksCtxView { ctx: s.wasi.clocks(), table: &mut s.table },
        deadline: s.deadline_at,
        cut: &mut s.sleep_cut,
    }
}

struct Sleep(tokio::time::Instant);

#[wasmtime_wasi::async_trait]
impl wasmtime_wasi::p2::Pollable for Sleep {
    async fn ready(&mut self) {
        tokio::time::sleep_until(self.0).await;
    }
}

impl DeadlineClockView<'_> {
    fn sleep(&mut self, requested: Duration) -> wasmtime::Result<Resource<DynPollable>> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if requested > remaining {
            *self.cut = true;
        }
        let until = tokio::time::Instant::now() + requested.min(remaining);
        let sleep = self.clocks.table.push(Sleep(until))?;
        wasmtime_wasi::p2::subscribe(self.clocks.table, sleep)
    }
}

impl monotonic_clock::Host for DeadlineClockView<'_> {
    fn now(&mut self) -> wasmtime::Result<monotonic_clock::Instant> {
        monotonic_clock::Host::now(&mut self.clocks)
    }

    fn resolution(&mut self) -> wasmtime::Result<monotonic_clock::Duration> {
        monotonic_clock::Host::resolution(&mut self.clocks)
    }

    fn subscribe_instant(&mut self, when: monotonic_clock::Instant) -> wasmtime::Result<Resource<DynPollable>> {
        let now = monotonic_clock::Host::now(&mut self.clocks)?;
        self.sleep(Duration::from_nanos(when.saturating_sub(now)))
    }

    fn subscribe_duration(&mut self, duration: monotonic_clock::Duration) -> wasmtime::Result<Resource<DynPollable>> {
        self.sleep(Duration::from_nanos(duration))
    }
}

/// Caps linear memory and remembers that the cap was hit, so a trap that
/// follows a failed allocation is reported as what it is.
struct MemoryLimiter {
    cap: usize,
    hit: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The komp runtime. Cheap to share behind an `Arc`; all methods take `&self`.
///
/// ```no_run
/// let rt = komp_host::Runtime::new(komp_host::RuntimeConfig::default()).unwrap();
/// let bytes = std::fs::read("postsortering.wasm").unwrap();
/// rt.install(bytes).unwrap();
/// let out = rt.predict("postsortering", None, r#"{"subject":"Tømning","body":"Skraldet er ikke hentet"}"#).unwrap();
/// println!("{} ({:.2})", out.prediction.label, out.prediction.scores[0].score);
/// ```
pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    config: RuntimeConfig,
    cache: Option<CompileCache>,
    models: Mutex<HashMap<String, Arc<LoadedModel>>>,
    components: RwLock<BTreeMap<String, BTreeMap<Version, Arc<InstalledComponent>>>>,
    verifier: Option<Arc<dyn ArtifactVerifier>>,
    in_flight: AtomicU32,
    _ticker: EpochTicker,
}

/// A component's recent faults. It is throttled once it has faulted
/// [`FAULTS_TO_THROTTLE`] times with no gap longer than the cooldown, so a
/// single timeout of a good component under load does not throttle it.
#[derive(Default)]
struct Faults {
    last: Option<Instant>,
    count: u32,
    what: String,
}

/// Faults in a row (each within the cooldown of the previous one) before a
/// component is throttled.
pub const FAULTS_TO_THROTTLE: u32 = 3;

impl Faults {
    fn record(&mut self, e: &RuntimeError, cooldown: Duration) {
        let recent = self.last.is_some_and(|t| t.elapsed() < cooldown);
        self.count = if recent { self.count.saturating_add(1) } else { 1 };
        self.last = Some(Instant::now());
        self.what = e.to_string();
    }

    /// The last fault, if the component is throttled now.
    fn throttling(&self, cooldown: Duration) -> Option<String> {
        let recent = self.last.is_some_and(|t| t.elapsed() < cooldown);
        (recent && self.count >= FAULTS_TO_THROTTLE).then(|| self.what.clone())
    }
}

/// Decrements the in-flight counter when a call ends, however it ends.
struct Slot<'a>(&'a AtomicU32);
impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Runtime {
    /// Creates a runtime: one engine, one linker with `wasi:nn` (tract) and an
    /// empty WASI (no files, no environment, no network).
    pub fn new(config: RuntimeConfig) -> Result<Runtime, RuntimeError> {
        let engine = build_engine(&config)?;
        let mut linker: Linker<CallState> = Linker::new(&engine);
        let host = |e: wasmtime::Error| RuntimeError::Host(format!("cannot link host interfaces: {e:#}"));
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(host)?;
        // Replace the monotonic clock with one whose sleeps end at the deadline.
        linker.allow_shadowing(true);
        monotonic_clock::add_to_linker::<CallState, DeadlineClock>(&mut linker, deadline_clock_view).map_err(host)?;
        linker.allow_shadowing(false);
        StandardComponent::add_to_linker::<CallState, HasNn>(&mut linker, nn_view).map_err(host)?;
        let cache = config.cache_dir.as_deref().map(|d| CompileCache::open(d, &engine)).transpose()?;
        let ticker = EpochTicker::start(engine.clone());
        Ok(Runtime {
            engine,
            linker,
            config,
            cache,
            models: Mutex::new(HashMap::new()),
            components: RwLock::new(BTreeMap::new()),
            verifier: None,
            in_flight: AtomicU32::new(0),
            _ticker: ticker,
        })
    }

    /// Requires every installed artifact to pass `verifier` first.
    pub fn with_verifier(mut self, verifier: Arc<dyn ArtifactVerifier>) -> Runtime {
        self.verifier = Some(verifier);
        self
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Installs a component file: verify (if a verifier is set), check the
    /// format, compile (or load from the compile cache), load its models with
    /// tract, check its metadata against the manifest, run its golden vectors.
    /// Only a component that passes all of that becomes callable.
    pub fn install(&self, bytes: Vec<u8>) -> Result<InstallReport, RuntimeError> {
        let artifact = Artifact::parse(bytes)?;
        if let Some(v) = &self.verifier {
            v.verify(&artifact).map_err(RuntimeError::Untrusted)?;
        }
        let manifest = artifact.manifest().clone();
        let (name, version) = (manifest.name.clone(), manifest.version.clone());
        if let Some(existing) = self.lookup(&name, Some(&version)).ok() {
            if existing.digest() == artifact.digest() {
                return Ok(InstallReport {
                    name,
                    version: version.to_string(),
                    digest: artifact.digest().to_string(),
                    golden_vectors_passed: existing.golden_passed,
                    compile_cache_hit: true,
                    compile_ms: 0,
                });
            }
            return Err(RuntimeError::VersionConflict(manifest.id(), existing.digest().to_string()));
        }
        let schema = jsonschema::validator_for(&manifest.input_schema).map_err(|e| {
            RuntimeError::Artifact(komp_artifact::ArtifactError::ManifestInvalid(format!(
                "input_schema is not a valid JSON Schema: {e}"
            )))
        })?;

        let started = Instant::now();
        let (component, cache_hit) = match &self.cache {
            Some(c) => c.get_or_compile(&self.engine, artifact.digest(), artifact.bytes()),
            None => wasmtime::component::Component::new(&self.engine, artifact.bytes()).map(|c| (c, false)),
        }
        .map_err(|e| RuntimeError::Compile {
            name: name.clone(),
            version: version.to_string(),
            reason: format!("{e:#}"),
        })?;
        let compile_ms = started.elapsed().as_millis() as u64;

        let wrong_world = |reason: String| RuntimeError::WrongWorld {
            name: name.clone(),
            version: version.to_string(),
            world: komp_artifact::manifest::STANDARD_WORLD.into(),
            reason,
        };
        let pre = self.linker.instantiate_pre(&component).map_err(|e| wrong_world(format!("{e:#}")))?;
        let pre = StandardComponentPre::new(pre).map_err(|e| wrong_world(format!("{e:#}")))?;

        let mut models = HashMap::new();
        for (model_name, onnx) in artifact.models() {
            let digest = komp_artifact::sha256_hex(onnx);
            let cached = self.models.lock().expect("lock").get(&digest).cloned();
            let loaded = match cached {
                Some(m) => m,
                None => {
                    let m = Arc::new(LoadedModel::load(model_name, &digest, onnx).map_err(|reason| {
                        RuntimeError::Model { component: manifest.id(), model: model_name.to_string(), reason }
                    })?);
                    self.models.lock().expect("lock").insert(digest, m.clone());
                    m
                }
            };
            models.insert(model_name.to_string(), loaded);
        }

        let labels = manifest.labels.iter().map(|l| l.id.clone()).collect();
        let mut installed = InstalledComponent {
            artifact,
            pre,
            models: Arc::new(models),
            schema,
            labels,
            golden_passed: 0,
            withdrawn: RwLock::new(None),
            in_flight: AtomicU32::new(0),
            faults: Mutex::new(Faults::default()),
        };
        self.check_metadata(&installed)?;
        installed.golden_passed = self.check_golden_vectors(&installed)?;

        let digest = installed.digest().to_string();
        let golden = installed.golden_passed;
        let mut map = self.components.write().expect("lock");
        map.entry(name.clone()).or_default().insert(version.clone(), Arc::new(installed));
        tracing::info!(component = %name, %version, %digest, golden, cache_hit, compile_ms, "installed component");
        Ok(InstallReport {
            name,
            version: version.to_string(),
            digest,
            golden_vectors_passed: golden,
            compile_cache_hit: cache_hit,
            compile_ms,
        })
    }

    /// Stops serving `name@version` (e.g. after a revocation); calls get
    /// [`RuntimeError::Withdrawn`] with `reason`. Returns whether it was installed.
    pub fn withdraw(&self, name: &str, version: &Version, reason: &str) -> bool {
        match self.lookup(name, Some(version)) {
            Ok(c) => {
                *c.withdrawn.write().expect("lock") = Some(reason.to_string());
                true
            }
            Err(_) => false,
        }
    }

    /// Removes `name@version` entirely.
    pub fn uninstall(&self, name: &str, version: &Version) -> bool {
        let mut map = self.components.write().expect("lock");
        let removed = map.get_mut(name).and_then(|v| v.remove(version)).is_some();
        if map.get(name).is_some_and(|v| v.is_empty()) {
            map.remove(name);
        }
        removed
    }

    /// All installed components, by name then version.
    pub fn components(&self) -> Vec<Arc<InstalledComponent>> {
        self.components.read().expect("lock").values().flat_map(|v| v.values().cloned()).collect()
    }

    /// The installed versions of `name`, oldest first (empty if none).
    pub fn versions(&self, name: &str) -> Vec<String> {
        let map = self.components.read().expect("lock");
        map.get(name).map(|v| v.keys().map(Version::to_string).collect()).unwrap_or_default()
    }

    /// The installed component `name` at `version`, or its newest version.
    pub fn lookup(&self, name: &str, version: Option<&Version>) -> Result<Arc<InstalledComponent>, RuntimeError> {
        let map = self.components.read().expect("lock");
        let versions = map.get(name).ok_or_else(|| RuntimeError::UnknownComponent(name.to_string()))?;
        match version {
            Some(v) => versions.get(v).cloned().ok_or_else(|| RuntimeError::UnknownVersion {
                name: name.to_string(),
                version: v.to_string(),
                installed: versions.keys().map(|v| v.to_string()).collect::<Vec<_>>().join(", "),
            }),
            None => versions
                .values()
                .rev()
                .find(|c| c.withdrawn().is_none())
                .or_else(|| versions.values().next_back())
                .cloned()
                .ok_or_else(|| RuntimeError::UnknownComponent(name.to_string())),
        }
    }

    /// Validates `input` against the component's schema and runs one
    /// prediction in a fresh instance.
    pub fn predict(
        &self,
        name: &str,
        version: Option<&Version>,
        input: &str,
    ) -> Result<PredictionOutcome, RuntimeError> {
        let component = self.lookup(name, version)?;
        self.predict_with(&component, input)
    }

    /// Like [`Runtime::predict`] for an already looked-up component.
    pub fn predict_with(&self, component: &InstalledComponent, input: &str) -> Result<PredictionOutcome, RuntimeError> {
        if let Some(reason) = component.withdrawn() {
            return Err(RuntimeError::Withdrawn(component.manifest().id(), reason));
        }
        self.validate_input(component, input)?;
        let started = Instant::now();
        let prediction = self.call_predict(component, input).inspect_err(|e| {
            if e.is_component_fault() {
                component.faults.lock().expect("lock").record(e, self.config.fault_cooldown);
            }
        })?;
        let m = component.manifest();
        Ok(PredictionOutcome {
            component: m.name.clone(),
            version: m.version.to_string(),
            digest: component.digest().to_string(),
            prediction,
            elapsed_us: started.elapsed().as_micros() as u64,
        })
    }

    /// Checks size, JSON syntax and the input schema; returns every violation.
    pub fn validate_input(
        &self,
        component: &InstalledComponent,
        input: &str,
    ) -> Result<serde_json::Value, RuntimeError> {
        if input.len() > self.config.max_input_bytes {
            return Err(RuntimeError::InputTooLarge { size: input.len(), limit: self.config.max_input_bytes });
        }
        let value: serde_json::Value =
            serde_json::from_str(input).map_err(|e| RuntimeError::InputNotJson(e.to_string()))?;
        let violations: Vec<Violation> = component
            .schema
            .iter_errors(&value)
            .map(|e| Violation { path: e.instance_path.to_string(), reason: e.to_string() })
            .collect();
        if !violations.is_empty() {
            return Err(RuntimeError::InputSchema(violations));
        }
        Ok(value)
    }

    fn new_store(&self, component: &InstalledComponent) -> Store<CallState> {
        let wasi = WasiCtxBuilder::new().allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false).build();
        let state = CallState {
            table: ResourceTable::new(),
            wasi,
            nn: NnState {
                models: component.models.clone(),
                max_tensor_bytes: self.config.max_tensor_bytes,
                max_held_bytes: self.config.max_tensor_bytes_per_call,
                held_bytes: 0,
            },
            limiter: MemoryLimiter { cap: self.config.memory_cap, hit: false },
            deadline_at: Instant::now() + self.config.deadline,
            sleep_cut: false,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(deadline_ticks(self.config.deadline));
        store.epoch_deadline_trap();
        store
    }

    /// Runs `f` on a fresh instance of `component`, mapping traps to clear errors.
    fn with_instance<R>(
        &self,
        component: &InstalledComponent,
        f: impl FnOnce(&StandardComponent, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> Result<R, RuntimeError> {
        // A component that keeps faulting gets only a few slots, so that a
        // hostile one cannot take the slots and cores of the others. Checked
        // before taking a shared slot, so its refused calls take none.
        let mine = component.in_flight.fetch_add(1, Ordering::AcqRel);
        let _mine = Slot(&component.in_flight);
        let limit = self.config.faulty_max_instances.max(1);
        if mine >= limit {
            if let Some(fault) = component.faults.lock().expect("lock").throttling(self.config.fault_cooldown) {
                return Err(RuntimeError::Throttled { component: component.manifest().id(), limit, fault });
            }
        }
        let n = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let _slot = Slot(&self.in_flight);
        if n >= self.config.max_instances {
            return Err(RuntimeError::Busy(self.config.max_instances));
        }
        let mut store = self.new_store(component);
        let result = component.pre.instantiate(&mut store).and_then(|inst| f(&inst, &mut store));
        if store.data().sleep_cut {
            return Err(RuntimeError::Timeout(self.config.deadline));
        }
        result.map_err(|e| self.map_trap(e, store.data()))
    }

    fn map_trap(&self, e: wasmtime::Error, state: &CallState) -> RuntimeError {
        if state.limiter.hit {
            return RuntimeError::MemoryLimit(self.config.memory_cap);
        }
        if let Some(l) = e.downcast_ref::<TensorLimit>() {
            return RuntimeError::Trap(format!("stopped: {l}"));
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => RuntimeError::Timeout(self.config.deadline),
            Some(Trap::StackOverflow) => RuntimeError::StackOverflow,
            Some(Trap::UnreachableCodeReached) => {
                RuntimeError::Trap("the component panicked or aborted (wasm `unreachable` executed)".into())
            }
            Some(Trap::AllocationTooLarge) => RuntimeError::MemoryLimit(self.config.memory_cap),
            // A Rust guest keeps its stack in linear memory below its data;
            // too deep recursion runs off the bottom of memory.
            Some(Trap::MemoryOutOfBounds) => RuntimeError::Trap(
                "the component accessed memory out of bounds (typically its stack overflowed from too deep recursion)"
                    .into(),
            ),
            Some(t) => RuntimeError::Trap(t.to_string()),
            None => {
                let msg = format!("{e:#}");
                if msg.contains("concurrent") && msg.contains("limit") {
                    RuntimeError::Busy(self.config.max_instances)
                } else {
                    RuntimeError::Trap(msg)
                }
            }
        }
    }

    fn call_predict(&self, component: &InstalledComponent, input: &str) -> Result<Prediction, RuntimeError> {
        let raw = self.with_instance(component, |inst, store| inst.call_predict(store, input))?;
        use crate::bindings::komp::component::types::Error as E;
        let p = raw.map_err(|e| match e {
            E::InvalidInput(m) => RuntimeError::InvalidInput(m),
            E::Model(m) => RuntimeError::ComponentModel(m),
            E::Internal(m) => RuntimeError::ComponentInternal(m),
        })?;
        let size = p.label.len()
            + p.details.len()
            + p.scores.iter().map(|s| s.label.len() + 4).sum::<usize>()
            + p.explanation.iter().map(|f| f.feature.len() + 4).sum::<usize>();
        if size > self.config.max_output_bytes {
            return Err(RuntimeError::OutputTooLarge { size, limit: self.config.max_output_bytes });
        }
        let bad = |m: String| RuntimeError::BadOutput(m);
        if !component.labels.contains(&p.label) {
            return Err(bad(format!("label {:?} is not one of the declared labels", p.label)));
        }
        for s in &p.scores {
            if !component.labels.contains(&s.label) {
                return Err(bad(format!("score for undeclared label {:?}", s.label)));
            }
            if !s.score.is_finite() {
                return Err(bad(format!("score for {:?} is not a finite number", s.label)));
            }
        }
        if p.explanation.iter().any(|f| !f.weight.is_finite()) {
            return Err(bad("an explanation weight is not a finite number".into()));
        }
        let details: serde_json::Value = if p.details.is_empty() {
            serde_json::json!({})
        } else {
            serde_json::from_str(&p.details).map_err(|e| bad(format!("details is not JSON: {e}")))?
        };
        if !details.is_object() {
            return Err(bad("details is not a JSON object".into()));
        }
        Ok(Prediction {
            label: p.label,
            scores: p.scores.into_iter().map(|s| LabelScore { label: s.label, score: s.score }).collect(),
            explanation: p
                .explanation
                .into_iter()
                .map(|f| FeatureWeight { feature: f.feature, weight: f.weight })
                .collect(),
            requires_human_review: p.requires_human_review,
            details,
        })
    }

    fn check_metadata(&self, c: &InstalledComponent) -> Result<(), RuntimeError> {
        let info = self.with_instance(c, |inst, store| inst.call_metadata(store))?;
        let m = c.manifest();
        let mismatch = |field: &'static str, code: String, manifest: String| RuntimeError::MetadataMismatch {
            component: m.id(),
            field,
            code,
            manifest,
        };
        if info.name != m.name {
            return Err(mismatch("name", info.name, m.name.clone()));
        }
        if info.version != m.version.to_string() {
            return Err(mismatch("version", info.version, m.version.to_string()));
        }
        if info.labels != c.labels {
            return Err(mismatch("labels", info.labels.join(","), c.labels.join(",")));
        }
        Ok(())
    }

    /// Runs every golden vector; returns how many passed or a report of all
    /// that failed (which vector, what differed, by how much).
    fn check_golden_vectors(&self, c: &InstalledComponent) -> Result<usize, RuntimeError> {
        let vectors = &c.manifest().golden_vectors;
        let mut report = Vec::new();
        for (i, g) in vectors.iter().enumerate() {
            let input = g.input.to_string();
            let result = self.validate_input(c, &input).and_then(|_| self.call_predict(c, &input));
            match result {
                Err(e) => report.push(format!("  golden vector {i}: prediction failed: {e}")),
                Ok(p) => {
                    if p.label != g.expected.label {
                        report
                            .push(format!("  golden vector {i}: label {:?}, expected {:?}", p.label, g.expected.label));
                    }
                    for (label, expected) in &g.expected.scores {
                        match p.scores.iter().find(|s| &s.label == label) {
                            None => report.push(format!("  golden vector {i}: no score for label {label:?}")),
                            Some(s) => {
                                let diff = (s.score - expected).abs();
                                if diff > g.tolerance {
                                    report.push(format!(
                                        "  golden vector {i}: score for {label:?} is {:.6}, expected {expected:.6} (differs by {diff:.6} > tolerance {})",
                                        s.score, g.tolerance
                                    ));
                                }
                            }
                        }
                    }
                }
            }
        }
        if report.is_empty() {
            Ok(vectors.len())
        } else {
            let failed = report
                .iter()
                .map(|l| l.split(':').next().unwrap_or_default().to_string())
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            Err(RuntimeError::GoldenVectors {
                component: c.manifest().id(),
                failed,
                total: vectors.len(),
                report: report.join("\n"),
            })
        }
    }

    /// Measures a bare instantiate (no call) of `component`, for benchmarks.
    pub fn time_instantiate(&self, component: &InstalledComponent) -> Result<Duration, RuntimeError> {
        let started = Instant::now();
        self.with_instance(component, |_, _| Ok(()))?;
        Ok(started.elapsed())
    }
}
