//! How wasmtime is configured for serving, in one place: pooling allocator,
//! epoch deadlines, stack cap, and the integrity-checked compile cache.

use crate::config::RuntimeConfig;
use crate::error::RuntimeError;
use sha2::Sha256;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// One epoch tick. Deadlines are rounded up to whole ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Builds the engine every component of a runtime shares.
///
/// - Pooling allocator: instance slots are reserved once, so a fresh instance
///   per prediction costs microseconds, and `max_instances` bounds concurrency.
/// - Epoch interruption: a background thread ticks every [`EPOCH_TICK`]; each
///   store gets a deadline in ticks, so an endless loop ends on time.
/// - `memory_cap` is both the pool's per-memory size and (in the store's
///   limiter) the point where growth fails with a clear error.
pub fn build_engine(config: &RuntimeConfig) -> Result<Engine, RuntimeError> {
    let mut c = Config::new();
    c.wasm_component_model(true);
    c.epoch_interruption(true);
    c.max_wasm_stack(config.max_wasm_stack);
    // `KOMP_PERFMAP=1` writes /tmp/perf-<pid>.map so that `perf report`
    // names the functions of compiled components (profiling only).
    if std::env::var_os("KOMP_PERFMAP").is_some_and(|v| v == "1") {
        c.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let n = config.max_instances.max(1);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(n)
        .total_core_instances(n * 4)
        .total_memories(n * 2)
        .total_tables(n * 4)
        .total_stacks(n)
        .max_core_instances_per_component(8)
        .max_memories_per_component(2)
        .max_tables_per_component(8)
        .max_memory_size(config.memory_cap)
        .table_keep_resident(64 << 10);
    // How a returned slot is cleaned (never whether: every call gets memory in
    // its pristine state). A fresh instance per call would otherwise
    // page-fault in every page it touches, because the slot is decommitted
    // when returned. Keeping the first 256 KiB resident turns that into a
    // memset (measured: ~90 page faults per prediction of the standard
    // components before). Where the kernel has `PAGEMAP_SCAN` (Linux >= 6.7),
    // wasmtime resets only the pages a call dirtied, so keeping far more
    // resident costs nothing for pages no call touches. Measured 2026-12-02
    // (release, postsortering, 20,000 calls in a loop, `perf stat`): with
    // 256 KiB and a memset, 11 page faults per call remained and a call took
    // 288 µs; with 4 MiB and `PAGEMAP_SCAN`, 0 page faults and 213 µs. Without
    // the ioctl a 4 MiB memset per call would cost more than the faults.
    //
    // Profiling only, like `KOMP_PERFMAP` (BENCHMARKS.md, "Slot reset
    // measured"): `KOMP_POOL_PAGEMAP_SCAN=0|1` turns the ioctl off or asks for
    // it where available, and `KOMP_POOL_KEEP_RESIDENT=<bytes>` replaces the
    // size that goes with the choice.
    let pagemap_scan = match std::env::var("KOMP_POOL_PAGEMAP_SCAN").as_deref() {
        Ok("0") => false,
        _ => PoolingAllocationConfig::is_pagemap_scan_available(),
    };
    let keep_resident = std::env::var("KOMP_POOL_KEEP_RESIDENT")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(if pagemap_scan { 4 << 20 } else { 256 << 10 });
    pool.linear_memory_keep_resident(keep_resident).pagemap_scan(if pagemap_scan {
        wasmtime::Enabled::Yes
    } else {
        wasmtime::Enabled::No
    });
    c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    // The default 4 GiB reservation plus guard region lets Cranelift drop
    // explicit bounds checks on every load and store of a 32-bit memory;
    // it is virtual address space only (about 1 TiB for 256 memory slots).
    Engine::new(&c).map_err(|e| RuntimeError::Host(format!("cannot configure wasmtime: {e:#}")))
}

/// Ticks the engine's epoch until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: Engine) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("komp-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        EpochTicker { stop, thread: Some(thread) }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Deadline in epoch ticks, rounded up, at least one.
pub fn deadline_ticks(deadline: Duration) -> u64 {
    (deadline.as_micros().div_ceil(EPOCH_TICK.as_micros())).max(1) as u64
}

/// Compiled code cached on disk, keyed by component digest and engine
/// compatibility.
///
/// Deserialising compiled code is `unsafe`: wasmtime trusts the bytes as
/// machine code. So every entry carries an HMAC-SHA256 under a secret key that
/// only this host knows (`<dir>/cache.key`, mode 0600), checked over the exact
/// bytes that are then deserialised *and* the component digest and engine
/// compatibility they were compiled for (`CompileCache::mac`). A corrupt,
/// truncated or planted entry, or a genuine entry of another component or
/// engine copied or renamed to this one's path, is ignored and recompiled,
/// never loaded.
pub struct CompileCache {
    dir: PathBuf,
    key: [u8; 32],
    compat: String,
}

impl CompileCache {
    pub fn open(dir: &Path, engine: &Engine) -> Result<CompileCache, RuntimeError> {
        let err = |what: &str, e: std::io::Error| RuntimeError::Cache(format!("{what} {}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(|e| err("cannot create", e))?;
        let key_path = dir.join("cache.key");
        let key = match std::fs::read(&key_path) {
            Ok(k) if k.len() == 32 => k.try_into().expect("32 bytes"),
            _ => {
                let mut k = [0u8; 32];
                getrandom(&mut k).map_err(|e| err("no randomness for the cache key in", e))?;
                write_atomic(&key_path, &k, true).map_err(|e| err("cannot write the cache key in", e))?;
                k
            }
        };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Ok(CompileCache { dir: dir.to_path_buf(), key, compat: format!("{:016x}", h.finish()) })
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", self.compat))
    }

    /// HMAC over a version tag, the component digest, the engine
    /// compatibility and the code, each length-prefixed so that no two
    /// different triples give the same message. Binding the digest means a
    /// file under another component's name is not that component's code.
    fn mac(&self, digest: &str, code: &[u8]) -> [u8; 32] {
        use hmac::Mac;
        let mut m = hmac::Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        m.update(b"komp-compile-cache/v2\0");
        for part in [digest.as_bytes(), self.compat.as_bytes()] {
            m.update(&(part.len() as u64).to_le_bytes());
            m.update(part);
        }
        m.update(code);
        m.finalize().into_bytes().into()
    }

    /// Returns the cached component for `digest`, or compiles `wasm` and
    /// stores it. The second value says whether the cache was hit.
    pub fn get_or_compile(&self, engine: &Engine, digest: &str, wasm: &[u8]) -> wasmtime::Result<(Component, bool)> {
        let path = self.path(digest);
        if let Ok(file) = std::fs::read(&path) {
            if file.len() > 32 {
                let (mac, code) = file.split_at(32);
                if constant_time_eq(mac, &self.mac(digest, code)) {
                    // SAFETY: `code` is exactly the bytes this host serialised
                    // for this component digest with this engine configuration,
                    // as proven by the HMAC under a key only this host holds;
                    // they were read into memory before the check, so they
                    // cannot change after it.
                    if let Ok(c) = unsafe { Component::deserialize(engine, code) } {
                        return Ok((c, true));
                    }
                }
            }
            tracing::warn!(path = %path.display(), "ignoring a compile cache entry that failed its integrity check");
        }
        let component = Component::new(engine, wasm)?;
        let code = component.serialize()?;
        let mut file = Vec::with_capacity(code.len() + 32);
        file.extend_from_slice(&self.mac(digest, &code));
        file.extend_from_slice(&code);
        if let Err(e) = write_atomic(&path, &file, false) {
            tracing::warn!(path = %path.display(), error = %e, "could not write the compile cache");
        }
        Ok((component, false))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// HMAC-SHA256 (RFC 2104) of one message: the reference [`CompileCache::mac`]
/// is tested against.
#[cfg(test)]
fn hmac_sha256(key: &[u8; 32], msg: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    let mut m = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(msg);
    m.finalize().into_bytes().into()
}

fn getrandom(buf: &mut [u8]) -> std::io::Result<()> {
    getrandom::fill(buf).map_err(std::io::Error::other)
}

/// Atomic file writes (temp file, fsync, rename), shared with the registry.
pub use komp_artifact::fsutil::write_atomic_mode as write_atomic;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_style_vector() {
        // HMAC-SHA256 with a 32-byte key of 0x0b and "Hi There" (RFC 4231 uses a
        // 20-byte key; padding with zeros to 32 bytes gives the same HMAC).
        let mut key = [0u8; 32];
        key[..20].copy_from_slice(&[0x0b; 20]);
        assert_eq!(
            hex::encode(hmac_sha256(&key, b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }

    #[test]
    fn the_cache_mac_covers_digest_compat_and_code() {
        let cache = CompileCache { dir: PathBuf::new(), key: [7; 32], compat: "00112233aabbccdd".into() };
        let digest = "ab".repeat(32);
        let mut msg = b"komp-compile-cache/v2\0".to_vec();
        msg.extend_from_slice(&64u64.to_le_bytes());
        msg.extend_from_slice(digest.as_bytes());
        msg.extend_from_slice(&16u64.to_le_bytes());
        msg.extend_from_slice(b"00112233aabbccdd");
        msg.extend_from_slice(b"code");
        let mac = cache.mac(&digest, b"code");
        assert_eq!(mac, hmac_sha256(&[7; 32], &msg));
        assert_ne!(mac, cache.mac(&"cd".repeat(32), b"code"), "another digest");
        assert_ne!(mac, cache.mac(&digest, b"codf"), "other code");
        let other_engine = CompileCache { compat: "ffffffffffffffff".into(), ..cache };
        assert_ne!(mac, other_engine.mac(&digest, b"code"), "another engine");
    }

    #[test]
    fn deadline_rounds_up() {
        assert_eq!(deadline_ticks(Duration::from_millis(1)), 1);
        assert_eq!(deadline_ticks(Duration::from_millis(12)), 3);
    }
}
