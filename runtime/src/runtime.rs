//! The embeddable runtime: install components, run predictions in a fresh
//! sandboxed instance per call.

use crate::bindings::{StandardComponent, StandardComponentPre};
use crate::config::RuntimeConfig;
use crate::engine::{build_engine, deadline_ticks, CompileCache, EpochTicker};
use crate::error::{component_text, RuntimeError, VerifyError, Violation};
use crate::nn::{HostLimit, LoadedModel, ModelSet, NnState, NnView};
use crate::prediction::{FeatureWeight, LabelScore, Prediction};
use komp_artifact::{Artifact, Manifest};
use semver::Version;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use wasmtime::component::{HasData, Linker, Resource, ResourceTable, ResourceTableError};
use wasmtime::{Engine, ResourceLimiter, Store, Trap};
use wasmtime_wasi::clocks::{HostMonotonicClock, HostWallClock};
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Decides whether an artifact may be installed, before anything is compiled
/// or parsed. The registry's trust policy plugs in here (`komp-server`'s
/// `TrustVerifier`; `runtime/examples/case_system.rs` shows a vendor's own).
///
/// ```
/// use komp_artifact::Artifact;
/// use komp_runtime::{ArtifactVerifier, VerifyError};
///
/// /// Accepts only the components a case system has listed by digest.
/// struct Allowed(Vec<String>);
///
/// impl ArtifactVerifier for Allowed {
///     fn verify(&self, artifact: &Artifact) -> Result<(), VerifyError> {
///         if self.0.iter().any(|d| d == artifact.digest()) {
///             Ok(())
///         } else {
///             Err(VerifyError::NotTrusted { message: format!("digest {} is not on the list", artifact.digest()) })
///         }
///     }
/// }
/// ```
pub trait ArtifactVerifier: Send + Sync {
    /// `Ok(())` to accept; `Err` to refuse. The runtime answers
    /// [`RuntimeError::Untrusted`] with the error, whose text users see.
    fn verify(&self, artifact: &Artifact) -> Result<(), VerifyError>;
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
    /// The signed manifest (model card, labels, input schema, golden vectors, …).
    pub fn manifest(&self) -> &Manifest {
        self.artifact.manifest()
    }

    /// The component's identity: sha256 of its signed content.
    pub fn digest(&self) -> &str {
        self.artifact.digest()
    }

    /// The verified component file.
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
    /// The component's name.
    pub component: String,
    /// The exact version that answered.
    pub version: String,
    /// The component's identity (sha256 of its signed content).
    pub digest: String,
    /// The component's answer.
    pub prediction: Prediction,
    /// Time spent in the sandbox (instantiate + predict), in microseconds.
    pub elapsed_us: u64,
    /// The decision threshold the prediction's decision was taken at, for a
    /// component that declares an operating point (the server fills it in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operating_point: Option<crate::prediction::OperatingPointUsed>,
}

/// Summary of an install.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstallReport {
    /// The component's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its identity (sha256 of its signed content).
    pub digest: String,
    /// How many golden vectors passed (all of them).
    pub golden_vectors_passed: usize,
    /// Whether the compiled code came from the compile cache.
    pub compile_cache_hit: bool,
    /// Milliseconds spent compiling (or loading from the cache).
    pub compile_ms: u64,
}

/// State of one store (one instance, one call).
pub struct CallState {
    table: ResourceTable,
    wasi: WasiCtx,
    nn: NnState,
    limiter: MemoryLimiter,
    /// The component's monotonic clock (virtual; see [`DeadlineClock`]).
    clock: VirtualClock,
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

/// What `wasi:clocks/wall-clock` tells every component: 2000-01-01T00:00:00Z,
/// always. A component runs identically in every municipality, so nothing in
/// its answer may depend on when or where it ran; a component that needs a
/// date must get it in its input.
pub const FIXED_WALL_CLOCK: Duration = Duration::from_secs(946_684_800);

/// The fixed wall clock ([`FIXED_WALL_CLOCK`]).
struct FixedWallClock;
impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }
    fn now(&self) -> Duration {
        FIXED_WALL_CLOCK
    }
}

/// A monotonic clock that stands still at 0, for anything in wasmtime-wasi
/// that reads the context's clock directly; components see [`DeadlineClock`].
struct FrozenMonotonicClock;
impl HostMonotonicClock for FrozenMonotonicClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        0
    }
}

/// A call's monotonic clock: virtual time, in nanoseconds since the instance
/// was created. It moves only when the component sleeps, by exactly what it
/// asked for, so readings are the same on every host and reveal nothing of
/// the host's time or load. `deadline_ns` is the call's deadline on this clock.
struct VirtualClock {
    now_ns: u64,
    deadline_ns: u64,
    /// Set when the component asked to sleep past its deadline (the call is
    /// then a timeout).
    cut: bool,
}

/// `wasi:clocks/monotonic-clock` on the call's [`VirtualClock`], whose sleeps
/// never outlast the deadline.
///
/// Epoch interruption stops wasm code, not a host call: with the stock
/// implementation a component could sleep (`subscribe-duration` + `poll`)
/// far past its deadline, holding a host thread and an instance slot, and
/// its clock readings were the host's. Here a subscription advances the
/// virtual clock to its end and is ready at once (no host thread waits); one
/// that would end past the deadline stops the call with
/// [`RuntimeError::Timeout`], whatever the component would do next. A
/// component that busy-waits for its clock to move is an endless loop, which
/// the epoch deadline ends.
struct DeadlineClock;
impl HasData for DeadlineClock {
    type Data<'a> = DeadlineClockView<'a>;
}

struct DeadlineClockView<'a> {
    table: &'a mut ResourceTable,
    clock: &'a mut VirtualClock,
}

fn deadline_clock_view(s: &mut CallState) -> DeadlineClockView<'_> {
    DeadlineClockView { table: &mut s.table, clock: &mut s.clock }
}

/// A pollable that is ready at once: the sleep already happened on the
/// virtual clock.
struct Elapsed;

#[wasmtime_wasi::async_trait]
impl wasmtime_wasi::p2::Pollable for Elapsed {
    async fn ready(&mut self) {}
}

/// The trap that ends a call that asked to sleep past its deadline.
#[derive(Debug, thiserror::Error)]
#[error("the component asked to sleep past its deadline")]
struct SleptPastDeadline;

impl DeadlineClockView<'_> {
    fn sleep_until(&mut self, until_ns: u64) -> wasmtime::Result<Resource<DynPollable>> {
        if until_ns > self.clock.deadline_ns {
            self.clock.cut = true;
            self.clock.now_ns = self.clock.deadline_ns;
            return Err(SleptPastDeadline.into());
        }
        self.clock.now_ns = self.clock.now_ns.max(until_ns);
        let table = &mut *self.table;
        let elapsed = table.push(Elapsed).map_err(|e| crate::nn::table_error(e, table))?;
        wasmtime_wasi::p2::subscribe(self.table, elapsed)
    }
}

impl monotonic_clock::Host for DeadlineClockView<'_> {
    fn now(&mut self) -> wasmtime::Result<monotonic_clock::Instant> {
        Ok(self.clock.now_ns)
    }

    fn resolution(&mut self) -> wasmtime::Result<monotonic_clock::Duration> {
        Ok(1)
    }

    fn subscribe_instant(&mut self, when: monotonic_clock::Instant) -> wasmtime::Result<Resource<DynPollable>> {
        self.sleep_until(when)
    }

    fn subscribe_duration(&mut self, duration: monotonic_clock::Duration) -> wasmtime::Result<Resource<DynPollable>> {
        self.sleep_until(self.clock.now_ns.saturating_add(duration))
    }
}

/// The seed of a call's `wasi:random`: sha256 over a domain tag, what the call
/// is (`predict` or `metadata`), the component digest and the exact input
/// bytes. The same component given the same input draws the same "random"
/// bytes on every host, so its answer is reproducible; different inputs or
/// components draw unrelated streams.
pub fn call_seed(kind: &str, digest: &str, input: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"komp/wasi-random/v1\0");
    h.update(kind.as_bytes());
    h.update(b"\0");
    h.update(digest.as_bytes());
    h.update(b"\0");
    h.update(input);
    h.finalize().into()
}

/// One of the independent seeds derived from a call seed.
fn sub_seed(seed: &[u8; 32], what: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::new().chain_update(seed).chain_update(what.as_bytes()).finalize().into()
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
/// A case system creates one, installs the signed component files it was
/// given, and asks for predictions; every call runs in a fresh sandboxed
/// instance. `runtime/examples/case_system.rs` is the whole path (trust
/// policy, a folder of letters, the vendor's own audit trail).
///
/// ```
/// use komp_runtime::{Runtime, RuntimeConfig};
/// # let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/komp-components");
/// # let read = |f: &str| std::fs::read(format!("{dir}/{f}")).unwrap_or_else(|e| panic!(
/// #     "{dir}/{f}: {e}; build the components first: scripts/build-components.sh target/debug/komp"));
/// let rt = Runtime::new(RuntimeConfig::default())?;
/// rt.install(read("postsortering.wasm"))?;
/// let out = rt.predict("postsortering", None, r#"{"subject":"Tømning","body":"Skraldespanden er ikke blevet tømt i tre uger."}"#)?;
/// println!("{} ({:.2}) from {}@{}", out.prediction.label, out.prediction.scores[0].score, out.component, out.version);
/// assert_eq!(out.prediction.label, "affald");
/// # Ok::<(), komp_runtime::RuntimeError>(())
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
    /// empty, deterministic WASI (no files, no environment, no network; a
    /// fixed wall clock, a virtual monotonic clock, `wasi:random` seeded per
    /// call from the component and its input).
    ///
    /// ```
    /// use komp_runtime::{Runtime, RuntimeConfig};
    /// use std::time::Duration;
    ///
    /// // Tighter than the defaults: half a second and 32 MiB per call.
    /// let config = RuntimeConfig { deadline: Duration::from_millis(500), memory_cap: 32 << 20, ..RuntimeConfig::default() };
    /// let rt = Runtime::new(config)?;
    /// assert!(rt.components().is_empty());
    /// # Ok::<(), komp_runtime::RuntimeError>(())
    /// ```
    pub fn new(config: RuntimeConfig) -> Result<Runtime, RuntimeError> {
        let engine = build_engine(&config)?;
        let mut linker: Linker<CallState> = Linker::new(&engine);
        let host = |e: wasmtime::Error| RuntimeError::Host(format!("cannot link host interfaces: {e:#}"));
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(host)?;
        // Replace the monotonic clock with a virtual one whose sleeps end at the deadline.
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

    /// The limits and settings the runtime was created with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Installs a component file: verify (if a verifier is set), check the
    /// format, compile (or load from the compile cache), load its models with
    /// tract, check its metadata against the manifest, run its golden vectors.
    /// Only a component that passes all of that becomes callable. Installing
    /// the same file again is a no-op; other bytes under an installed
    /// `name@version` are [`RuntimeError::VersionConflict`].
    ///
    /// ```
    /// use komp_runtime::{ErrorKind, Fault, Runtime, RuntimeConfig};
    /// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/komp-components/example-feedback.wasm");
    /// # let read = || std::fs::read(path).unwrap_or_else(|e| panic!(
    /// #     "{path}: {e}; build the components first: scripts/build-components.sh target/debug/komp"));
    /// let rt = Runtime::new(RuntimeConfig::default())?;
    /// let report = rt.install(read())?;
    /// assert_eq!(report.name, "example-feedback");
    /// assert!(report.golden_vectors_passed > 0);
    ///
    /// // A file that is not a component is refused before anything runs.
    /// let err = rt.install(b"not a component".to_vec()).unwrap_err();
    /// assert_eq!((err.kind(), err.class().fault), (ErrorKind::InvalidArtifact, Fault::Component));
    /// # Ok::<(), komp_runtime::RuntimeError>(())
    /// ```
    pub fn install(&self, bytes: Vec<u8>) -> Result<InstallReport, RuntimeError> {
        let artifact = Artifact::parse(bytes)?;
        if let Some(v) = &self.verifier {
            v.verify(&artifact).map_err(RuntimeError::Untrusted)?;
        }
        let manifest = artifact.manifest().clone();
        let (name, version) = (manifest.name.clone(), manifest.version.clone());
        if let Ok(existing) = self.lookup(&name, Some(&version)) {
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
            return Err(RuntimeError::VersionConflict {
                component: manifest.id(),
                installed_digest: existing.digest().to_string(),
            });
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
            // `Artifact::parse` checked every model's bytes against this digest; hashing the bytes again
            // would cost ~0.3 s per install for postsortering's 100 MB encoder.
            let digest = manifest
                .models
                .iter()
                .find(|m| m.name == model_name)
                .map(|m| m.sha256.to_ascii_lowercase())
                .unwrap_or_else(|| komp_artifact::sha256_hex(onnx));
            let cached = self.models.lock().expect("lock").get(&digest).cloned();
            let loaded = match cached {
                Some(m) => m,
                None => {
                    let m = LoadedModel::load_shared(model_name, &digest, onnx).map_err(|source| {
                        RuntimeError::Model { component: manifest.id(), model: model_name.to_string(), source }
                    })?;
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

    /// All installed components, by name then version.
    pub fn components(&self) -> Vec<Arc<InstalledComponent>> {
        self.components.read().expect("lock").values().flat_map(|v| v.values().cloned()).collect()
    }

    /// The installed versions of `name`, oldest first (empty if none).
    pub fn versions(&self, name: &str) -> Vec<String> {
        let map = self.components.read().expect("lock");
        map.get(name).map(|v| v.keys().map(Version::to_string).collect()).unwrap_or_default()
    }

    /// The installed component `name` at `version`, or its default version:
    /// the highest stable one that is not withdrawn.
    pub fn lookup(&self, name: &str, version: Option<&Version>) -> Result<Arc<InstalledComponent>, RuntimeError> {
        let map = self.components.read().expect("lock");
        let versions = map.get(name).ok_or_else(|| RuntimeError::UnknownComponent(name.to_string()))?;
        match version {
            Some(v) => versions.get(v).cloned().ok_or_else(|| RuntimeError::UnknownVersion {
                name: name.to_string(),
                version: v.to_string(),
                installed: versions.keys().map(|v| v.to_string()).collect::<Vec<_>>().join(", "),
            }),
            // The registry's rule (one function for both): the highest
            // *stable* version that is not withdrawn; a pre-release
            // (`2.0.0-rc.1`) only when nothing stable is there. With every
            // version withdrawn, the newest, so the caller learns why (410).
            None => {
                komp_artifact::default_version(versions.iter().filter(|(_, c)| c.withdrawn().is_none()).map(|(v, _)| v))
                    .and_then(|v| versions.get(&v))
                    .or_else(|| versions.values().next_back())
                    .cloned()
                    .ok_or_else(|| RuntimeError::UnknownComponent(name.to_string()))
            }
        }
    }

    /// Validates `input` against the component's schema and runs one
    /// prediction in a fresh instance. `version: None` is the default
    /// version: the highest stable one that is not withdrawn.
    ///
    /// ```
    /// use komp_runtime::{Fault, Runtime, RuntimeConfig, RuntimeError};
    /// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/komp-components/example-feedback.wasm");
    /// # let bytes = std::fs::read(path).unwrap_or_else(|e| panic!(
    /// #     "{path}: {e}; build the components first: scripts/build-components.sh target/debug/komp"));
    /// let rt = Runtime::new(RuntimeConfig::default())?;
    /// rt.install(bytes)?;
    /// let out = rt.predict("example-feedback", None, r#"{"text": "Tak for den hurtige hjælp!"}"#)?;
    /// assert_eq!(out.prediction.label, "positiv");
    ///
    /// // Input the schema does not allow: every violation, and the caller's fault.
    /// let err = rt.predict("example-feedback", None, r#"{"tekst": 1}"#).unwrap_err();
    /// let RuntimeError::InputSchema(violations) = &err else { panic!("{err}") };
    /// assert!(!violations.is_empty());
    /// assert_eq!(err.class().fault, Fault::Caller);
    /// # Ok::<(), komp_runtime::RuntimeError>(())
    /// ```
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
            return Err(RuntimeError::Withdrawn { component: component.manifest().id(), reason });
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
            operating_point: None,
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

    /// A store for one call, with WASI that gives no files, environment or
    /// network, the fixed wall clock, a virtual monotonic clock and
    /// `wasi:random` (secure and insecure) seeded from `seed`.
    fn new_store(&self, component: &InstalledComponent, seed: &[u8; 32]) -> Store<CallState> {
        use chacha20::rand_core::SeedableRng;
        use chacha20::ChaCha20Rng;
        let insecure_seed = sub_seed(seed, "insecure-seed");
        let wasi = WasiCtxBuilder::new()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .wall_clock(FixedWallClock)
            .monotonic_clock(FrozenMonotonicClock)
            .secure_random(ChaCha20Rng::from_seed(sub_seed(seed, "secure")))
            .insecure_random(ChaCha20Rng::from_seed(sub_seed(seed, "insecure")))
            .insecure_random_seed(u128::from_le_bytes(insecure_seed[..16].try_into().expect("16 bytes")))
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(self.config.max_host_resources_per_call);
        let deadline_ns = u64::try_from(self.config.deadline.as_nanos()).unwrap_or(u64::MAX);
        let state = CallState {
            table,
            wasi,
            nn: NnState {
                models: component.models.clone(),
                max_tensor_bytes: self.config.max_tensor_bytes,
                max_held_bytes: self.config.max_tensor_bytes_per_call,
                held_bytes: 0,
            },
            limiter: MemoryLimiter { cap: self.config.memory_cap, hit: false },
            clock: VirtualClock { now_ns: 0, deadline_ns, cut: false },
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(deadline_ticks(self.config.deadline));
        store.epoch_deadline_trap();
        store
    }

    /// Runs `f` on a fresh instance of `component` whose `wasi:random` is
    /// seeded with `seed`, mapping traps to clear errors.
    fn with_instance<R>(
        &self,
        component: &InstalledComponent,
        seed: &[u8; 32],
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
        let mut store = self.new_store(component, seed);
        let result = component.pre.instantiate(&mut store).and_then(|inst| f(&inst, &mut store));
        if store.data().clock.cut {
            return Err(RuntimeError::Timeout(self.config.deadline));
        }
        result.map_err(|e| self.map_trap(e, store.data()))
    }

    fn map_trap(&self, e: wasmtime::Error, state: &CallState) -> RuntimeError {
        if state.limiter.hit {
            return RuntimeError::MemoryLimit(self.config.memory_cap);
        }
        if let Some(l) = e.downcast_ref::<HostLimit>() {
            return RuntimeError::HostLimit(l.clone());
        }
        // WASI's own resources (streams, pollables) fill the same table.
        if let Some(ResourceTableError::Full) = e.downcast_ref::<ResourceTableError>() {
            return RuntimeError::HostLimit(HostLimit::Resources { limit: state.table.max_capacity() });
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
                    // May quote the component (e.g. function names from its
                    // name section in a backtrace).
                    RuntimeError::Trap(component_text(&msg))
                }
            }
        }
    }

    fn call_predict(&self, component: &InstalledComponent, input: &str) -> Result<Prediction, RuntimeError> {
        let seed = call_seed("predict", component.digest(), input.as_bytes());
        let raw = self.with_instance(component, &seed, |inst, store| inst.call_predict(store, input))?;
        // Every text the component chose is capped and escaped before it
        // leaves the runtime (it ends up in HTTP responses and the audit log).
        use crate::bindings::komp::component::types::Error as E;
        let p = raw.map_err(|e| match e {
            E::InvalidInput(m) => RuntimeError::InvalidInput(component_text(&m)),
            E::Model(m) => RuntimeError::ComponentModel(component_text(&m)),
            E::Internal(m) => RuntimeError::ComponentInternal(component_text(&m)),
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
            return Err(bad(format!("label \"{}\" is not one of the declared labels", component_text(&p.label))));
        }
        for s in &p.scores {
            if !component.labels.contains(&s.label) {
                return Err(bad(format!("score for undeclared label \"{}\"", component_text(&s.label))));
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
        let seed = call_seed("metadata", c.digest(), b"");
        let info = self.with_instance(c, &seed, |inst, store| inst.call_metadata(store))?;
        let m = c.manifest();
        let mismatch = |field: &'static str, code: String, manifest: String| RuntimeError::MetadataMismatch {
            component: m.id(),
            field,
            code: component_text(&code),
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
                    // A host moves the decision with the declared rule; at the
                    // default it must be exactly the component's own decision.
                    if let Some(op) = &c.manifest().operating_point {
                        let d = p.decide(op, op.default);
                        if d.label != p.label || d.requires_human_review != p.requires_human_review {
                            report.push(format!(
                                "  golden vector {i}: the declared operating point (default {}) gives label {:?} and review {}, \
                                 but the component answered label {:?} and review {}; fix the manifest's operating_point",
                                op.default, d.label, d.requires_human_review, p.label, p.requires_human_review
                            ));
                        }
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
        self.with_instance(component, &call_seed("instantiate", component.digest(), b""), |_, _| Ok(()))?;
        Ok(started.elapsed())
    }
}
