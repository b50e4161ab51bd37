//! The shared wasmtime engine, the compiled-module cache and the epoch ticker
//! that bounds how long one call into the guest may run.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use wasmtime::{Config, Engine, Module};

use crate::HostError;

/// How often the epoch advances. A call's deadline is counted in these ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(50);

struct Shared {
    engine: Engine,
    modules: Mutex<HashMap<(u64, usize), Module>>,
}

fn shared() -> Result<&'static Shared, HostError> {
    static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();
    let r = SHARED.get_or_init(|| {
        let mut cfg = Config::new();
        cfg.epoch_interruption(true);
        let engine = Engine::new(&cfg).map_err(|e| format!("{e:#}"))?;
        // A detached thread advancing the epoch; it lives as long as the process.
        let ticker = engine.clone();
        std::thread::Builder::new()
            .name("host-harness-epoch".into())
            .spawn(move || loop {
                std::thread::sleep(EPOCH_TICK);
                ticker.increment_epoch();
            })
            .map_err(|e| format!("cannot start the epoch thread: {e}"))?;
        Ok(Shared {
            engine,
            modules: Mutex::new(HashMap::new()),
        })
    });
    r.as_ref()
        .map_err(|e| HostError::Load(format!("cannot create the wasmtime engine: {e}")))
}

/// The process-wide engine every [`crate::Host`] uses.
pub fn engine() -> Result<&'static Engine, HostError> {
    Ok(&shared()?.engine)
}

fn fingerprint(bytes: &[u8]) -> u64 {
    // FNV-1a over the bytes, mixed with SipHash (fixed keys): collisions would
    // need both to collide for inputs of the same length.
    let mut fnv: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        fnv ^= u64::from(*b);
        fnv = fnv.wrapping_mul(0x0000_0100_0000_01b3);
    }
    #[allow(deprecated)]
    let mut sip = std::hash::SipHasher::new();
    bytes.hash(&mut sip);
    fnv ^ sip.finish().rotate_left(17)
}

/// Where compiled modules are kept between test runs: `HOST_HARNESS_CACHE_DIR`,
/// else `host-harness-cache/` next to the running test binary's `deps/` folder
/// (i.e. inside the cargo target dir).
fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("HOST_HARNESS_CACHE_DIR") {
        if dir.is_empty() {
            return None;
        }
        return Some(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().ok()?;
    let mut dir = exe.parent()?;
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir.parent()?;
    }
    Some(dir.join("host-harness-cache"))
}

fn load_from_disk(engine: &Engine, path: &Path) -> Option<Module> {
    if !path.is_file() {
        return None;
    }
    // SAFETY: the file is one this crate wrote with `Engine::precompile_module`
    // into the cargo target dir; wasmtime checks that it was produced by a
    // compatible engine and refuses it otherwise (we then recompile).
    unsafe { Module::deserialize_file(engine, path) }.ok()
}

fn store_on_disk(module: &Module, dir: &Path, path: &Path) {
    let Ok(bytes) = module.serialize() else {
        return;
    };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let tmp = dir.join(format!(
        ".tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    if std::fs::write(&tmp, bytes).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
    let _ = std::fs::remove_file(&tmp);
}

/// Compiles (or fetches from the in-process and on-disk caches) a module from
/// wasm binary or text. Compiling the release bridge module with a debug build
/// of Cranelift takes seconds; the caches make that a once-per-build cost.
pub fn compile(wasm: &[u8]) -> Result<Module, HostError> {
    let shared = shared()?;
    let key = (fingerprint(wasm), wasm.len());
    // One compilation at a time: tests starting in parallel wait for the
    // first to finish and then share its module instead of compiling it again.
    let mut map = shared
        .modules
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(m) = map.get(&key) {
        return Ok(m.clone());
    }
    let is_binary = wasm.starts_with(b"\0asm");
    let disk = if is_binary { cache_dir() } else { None };
    let file = disk
        .as_ref()
        .map(|d| d.join(format!("{:016x}-{}.cwasm", key.0, key.1)));
    let cached = file
        .as_ref()
        .and_then(|f| load_from_disk(&shared.engine, f));
    let module = match cached {
        Some(m) => m,
        None => {
            let m = Module::new(&shared.engine, wasm)
                .map_err(|e| HostError::Load(format!("cannot compile the module: {e:#}")))?;
            if let (Some(d), Some(f)) = (disk.as_ref(), file.as_ref()) {
                store_on_disk(&m, d, f);
            }
            m
        }
    };
    map.insert(key, module.clone());
    Ok(module)
}
