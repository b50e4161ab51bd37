//! The proxy-wasm ABI 0.2.1 host functions (`env.proxy_*`) the Rust SDK 0.2.5
//! can import, with Envoy's semantics. Calls the harness does not implement
//! are linked to a stub that traps naming the call.

use wasmtime::{Caller, Extern, Linker, Memory};

use crate::state::{
    deserialize_pairs, serialize_pairs, Direction, HeaderMap, HostState, LocalResponse, LogEntry,
    LogLevel, MetricKind,
};

pub(crate) type Res<T> = wasmtime::Result<T>;

/// proxy-wasm status codes (WasmResult).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub(crate) enum Status {
    Ok = 0,
    NotFound = 1,
    BadArgument = 2,
}

/// The prefix of every harness-generated trap message.
pub const TRAP_PREFIX: &str = "host-harness:";

pub(crate) fn trap(call: &str, msg: impl std::fmt::Display) -> wasmtime::Error {
    wasmtime::Error::msg(format!("{TRAP_PREFIX} {call}: {msg}"))
}

pub(crate) fn unimplemented_trap(module: &str, name: &str) -> wasmtime::Error {
    wasmtime::Error::msg(format!(
        "{TRAP_PREFIX} unimplemented host call {module}.{name} (the harness does not provide it; \
         add it to tests/host-harness if the filter really needs it)"
    ))
}

fn memory(caller: &mut Caller<'_, HostState>, call: &str) -> Res<Memory> {
    if let Some(m) = caller.data().memory {
        return Ok(m);
    }
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => {
            caller.data_mut().memory = Some(m);
            Ok(m)
        }
        _ => Err(trap(call, "the module exports no memory named `memory`")),
    }
}

fn range(ptr: i32, len: i32) -> (usize, usize) {
    (ptr as u32 as usize, len as u32 as usize)
}

pub(crate) fn read_bytes(
    caller: &mut Caller<'_, HostState>,
    call: &str,
    ptr: i32,
    len: i32,
) -> Res<Vec<u8>> {
    let mem = memory(caller, call)?;
    let (p, l) = range(ptr, len);
    let data = mem.data(&*caller);
    p.checked_add(l)
        .and_then(|end| data.get(p..end))
        .map(|s| s.to_vec())
        .ok_or_else(|| {
            trap(
                call,
                format!(
                    "guest buffer out of bounds (ptr={p}, len={l}, memory size={})",
                    data.len()
                ),
            )
        })
}

fn read_str(caller: &mut Caller<'_, HostState>, call: &str, ptr: i32, len: i32) -> Res<String> {
    let b = read_bytes(caller, call, ptr, len)?;
    Ok(String::from_utf8_lossy(&b).into_owned())
}

pub(crate) fn write_bytes(
    caller: &mut Caller<'_, HostState>,
    call: &str,
    ptr: i32,
    bytes: &[u8],
) -> Res<()> {
    let mem = memory(caller, call)?;
    let p = ptr as u32 as usize;
    let data = mem.data_mut(&mut *caller);
    let size = data.len();
    let dst = p
        .checked_add(bytes.len())
        .and_then(|end| data.get_mut(p..end))
        .ok_or_else(|| {
            trap(
                call,
                format!(
                    "guest return pointer out of bounds (ptr={p}, len={}, memory size={size})",
                    bytes.len()
                ),
            )
        })?;
    dst.copy_from_slice(bytes);
    Ok(())
}

pub(crate) fn write_u32(
    caller: &mut Caller<'_, HostState>,
    call: &str,
    ptr: i32,
    v: u32,
) -> Res<()> {
    write_bytes(caller, call, ptr, &v.to_le_bytes())
}

pub(crate) fn write_u64(
    caller: &mut Caller<'_, HostState>,
    call: &str,
    ptr: i32,
    v: u64,
) -> Res<()> {
    write_bytes(caller, call, ptr, &v.to_le_bytes())
}

/// Envoy's `copyToPointerSize`: allocates guest memory with the module's
/// `proxy_on_memory_allocate` (or `malloc`), copies `bytes` there and writes
/// the pointer and size. An empty value is reported as a null pointer.
fn copy_out(
    caller: &mut Caller<'_, HostState>,
    call: &str,
    bytes: &[u8],
    ptr_ptr: i32,
    size_ptr: i32,
) -> Res<()> {
    if bytes.is_empty() {
        write_u32(caller, call, ptr_ptr, 0)?;
        return write_u32(caller, call, size_ptr, 0);
    }
    let alloc = match caller.data().alloc.clone() {
        Some(f) => f,
        None => {
            let f = caller
                .get_export("proxy_on_memory_allocate")
                .or_else(|| caller.get_export("malloc"))
                .and_then(Extern::into_func)
                .ok_or_else(|| trap(call, "the module exports no proxy_on_memory_allocate"))?;
            let f = f.typed::<i32, i32>(&*caller).map_err(|e| {
                trap(
                    call,
                    format!("proxy_on_memory_allocate has the wrong type: {e}"),
                )
            })?;
            caller.data_mut().alloc = Some(f.clone());
            f
        }
    };
    let len = i32::try_from(bytes.len())
        .map_err(|_| trap(call, format!("value too large ({} bytes)", bytes.len())))?;
    let p = alloc.call(&mut *caller, len)?;
    if p == 0 {
        return Err(trap(
            call,
            format!("proxy_on_memory_allocate({len}) returned null"),
        ));
    }
    write_bytes(caller, call, p, bytes)?;
    write_u32(caller, call, ptr_ptr, p as u32)?;
    write_u32(caller, call, size_ptr, bytes.len() as u32)
}

fn count(caller: &mut Caller<'_, HostState>, name: &'static str) {
    *caller.data_mut().call_counts.entry(name).or_insert(0) += 1;
}

/// Header map selector → (direction, is_trailers).
fn map_kind(t: i32) -> Option<(Direction, bool)> {
    match t {
        0 => Some((Direction::Request, false)),
        1 => Some((Direction::Request, true)),
        2 => Some((Direction::Response, false)),
        3 => Some((Direction::Response, true)),
        _ => None,
    }
}

fn map_name(t: i32) -> &'static str {
    match t {
        0 => "HttpRequestHeaders",
        1 => "HttpRequestTrailers",
        2 => "HttpResponseHeaders",
        3 => "HttpResponseTrailers",
        4 => "GrpcReceiveInitialMetadata",
        5 => "GrpcReceiveTrailingMetadata",
        6 => "HttpCallResponseHeaders",
        7 => "HttpCallResponseTrailers",
        _ => "invalid map type",
    }
}

/// The map as Envoy's `getConstMap` sees it: None when not available now.
fn const_map(st: &HostState, t: i32) -> Option<&HeaderMap> {
    let (dir, trailers) = map_kind(t)?;
    let side = st.stream()?.side(dir);
    if trailers {
        if side.trailers_accessible {
            side.trailers.as_ref()
        } else {
            None
        }
    } else if side.headers_accessible {
        Some(&side.headers)
    } else {
        None
    }
}

/// The map as Envoy's `getMap` sees it (for changes). Asking for trailers in
/// the last body callback creates them (`addDecodedTrailers`).
fn mut_map(st: &mut HostState, t: i32) -> Option<&mut HeaderMap> {
    let (dir, trailers) = map_kind(t)?;
    let side = st.stream_mut()?.side_mut(dir);
    if trailers {
        if !side.trailers_accessible
            && side.trailers.is_none()
            && side.in_body_callback
            && side.body_callback_eos
        {
            side.trailers = Some(HeaderMap::new());
            side.trailers_accessible = true;
        }
        if side.trailers_accessible {
            side.trailers.as_mut()
        } else {
            None
        }
    } else if side.headers_accessible {
        Some(&mut side.headers)
    } else {
        None
    }
}

fn check_header(st: &mut HostState, call: &str, key: &str, value: &[u8]) {
    let bad_key = key.is_empty()
        || key
            .bytes()
            .any(|b| b <= b' ' || b == 0x7f || b == b':' && !key.starts_with(':'));
    if bad_key {
        st.violation(format!("{call}: invalid header name {key:?}"));
    }
    if value.iter().any(|b| *b == b'\r' || *b == b'\n' || *b == 0) {
        st.violation(format!(
            "{call}: header {key:?} has a value with CR, LF or NUL: {:?}",
            String::from_utf8_lossy(value)
        ));
    }
}

/// Body buffer of the current callback, as Envoy's `getBuffer` returns it.
enum BufRef {
    Body(Direction),
    VmConfig,
    PluginConfig,
}

fn buffer_kind(st: &HostState, t: i32) -> Option<BufRef> {
    match t {
        0 => Some(BufRef::Body(Direction::Request)),
        1 => Some(BufRef::Body(Direction::Response)),
        6 => Some(BufRef::VmConfig),
        7 if st.in_configure => Some(BufRef::PluginConfig),
        _ => None,
    }
}

/// `len` bytes of the buffer from `start` (the caller checked the range).
fn buffer_slice(st: &HostState, b: &BufRef, start: usize, len: usize) -> Vec<u8> {
    let whole: &[u8] = match b {
        BufRef::Body(d) => match st.stream() {
            Some(s) if s.side(*d).body_accessible() => s.side(*d).body.visible(),
            _ => &[],
        },
        BufRef::VmConfig => &st.vm_config,
        BufRef::PluginConfig => &st.plugin_config,
    };
    whole
        .get(start..start.saturating_add(len))
        .unwrap_or_default()
        .to_vec()
}

/// Buffer sizes, for the length part of get_buffer_bytes without copying.
fn buffer_len(st: &HostState, b: &BufRef) -> usize {
    match b {
        BufRef::Body(d) => match st.stream() {
            Some(s) if s.side(*d).body_accessible() => s.side(*d).body.visible().len(),
            _ => 0,
        },
        BufRef::VmConfig => st.vm_config.len(),
        BufRef::PluginConfig => st.plugin_config.len(),
    }
}

macro_rules! wrap {
    ($linker:expr, $defined:expr, $name:literal, $f:expr) => {{
        $defined.push($name);
        $linker.func_wrap("env", $name, $f)?;
    }};
}

/// Links every implemented `env.proxy_*` function; returns their names.
pub(crate) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<Vec<&'static str>> {
    let mut d: Vec<&'static str> = Vec::new();

    wrap!(linker, d, "proxy_log", |mut c: Caller<'_, HostState>,
                                   level: i32,
                                   ptr: i32,
                                   len: i32|
     -> Res<i32> {
        const CALL: &str = "proxy_log";
        count(&mut c, CALL);
        let msg = read_str(&mut c, CALL, ptr, len)?;
        let Some(level) = LogLevel::from_u32(level as u32) else {
            return Err(trap(CALL, format!("invalid log level {level}")));
        };
        let st = c.data_mut();
        let entry = LogEntry {
            level,
            context_id: st.ctx(),
            message: msg,
        };
        if st.echo_level.is_some_and(|min| level >= min) {
            eprintln!("wasm log {entry}");
        }
        if level == LogLevel::Critical {
            st.critical_in_call.push(entry.message.clone());
        }
        st.logs.push(entry);
        Ok(Status::Ok as i32)
    });

    wrap!(linker, d, "proxy_get_log_level", |mut c: Caller<
        '_,
        HostState,
    >,
                                             ret: i32|
     -> Res<i32> {
        const CALL: &str = "proxy_get_log_level";
        count(&mut c, CALL);
        let l = c.data().log_level as u32;
        write_u32(&mut c, CALL, ret, l)?;
        Ok(Status::Ok as i32)
    });

    wrap!(
        linker,
        d,
        "proxy_get_current_time_nanoseconds",
        |mut c: Caller<'_, HostState>, ret: i32| -> Res<i32> {
            const CALL: &str = "proxy_get_current_time_nanoseconds";
            count(&mut c, CALL);
            let t = c.data().time_ns;
            write_u64(&mut c, CALL, ret, t)?;
            Ok(Status::Ok as i32)
        }
    );

    wrap!(
        linker,
        d,
        "proxy_get_monotonic_time_nanoseconds",
        |mut c: Caller<'_, HostState>, ret: i32| -> Res<i32> {
            const CALL: &str = "proxy_get_monotonic_time_nanoseconds";
            count(&mut c, CALL);
            let t = c.data().monotonic_ns;
            write_u64(&mut c, CALL, ret, t)?;
            Ok(Status::Ok as i32)
        }
    );

    wrap!(
        linker,
        d,
        "proxy_set_tick_period_milliseconds",
        |mut c: Caller<'_, HostState>, period: i32| -> Res<i32> {
            count(&mut c, "proxy_set_tick_period_milliseconds");
            c.data_mut().tick_period_ms = Some(period as u32);
            Ok(Status::Ok as i32)
        }
    );

    wrap!(linker, d, "proxy_get_buffer_bytes", |mut c: Caller<
        '_,
        HostState,
    >,
                                                t: i32,
                                                start: i32,
                                                max: i32,
                                                ptr_ptr: i32,
                                                size_ptr: i32|
     -> Res<i32> {
        const CALL: &str = "proxy_get_buffer_bytes";
        count(&mut c, CALL);
        let st = c.data();
        let Some(kind) = buffer_kind(st, t) else {
            return Ok(Status::NotFound as i32);
        };
        let len = buffer_len(st, &kind);
        let (start, max) = (start as u32 as usize, max as u32 as usize);
        if start.checked_add(max).is_none() {
            return Ok(Status::BadArgument as i32);
        }
        if start > len {
            // Envoy would underflow here; no SDK call can get here legitimately.
            c.data_mut().violation(format!(
                "{CALL}: start {start} is past the end of the buffer ({len} bytes)"
            ));
            return Ok(Status::BadArgument as i32);
        }
        let n = max.min(len - start);
        if n == 0 {
            // Envoy returns Ok without writing the pointers: the SDK sees None.
            return Ok(Status::Ok as i32);
        }
        let slice = buffer_slice(c.data(), &kind, start, n);
        copy_out(&mut c, CALL, &slice, ptr_ptr, size_ptr)?;
        Ok(Status::Ok as i32)
    });

    wrap!(linker, d, "proxy_set_buffer_bytes", |mut c: Caller<
        '_,
        HostState,
    >,
                                                t: i32,
                                                start: i32,
                                                size: i32,
                                                ptr: i32,
                                                len: i32|
     -> Res<i32> {
        const CALL: &str = "proxy_set_buffer_bytes";
        count(&mut c, CALL);
        let data = read_bytes(&mut c, CALL, ptr, len)?;
        let (start, size) = (start as u32 as usize, size as u32 as usize);
        let st = c.data_mut();
        let dir = match buffer_kind(st, t) {
            Some(BufRef::Body(d)) => d,
            Some(_) => {
                st.violation(format!("{CALL}: buffer type {t} is read-only"));
                return Ok(Status::BadArgument as i32);
            }
            None => return Ok(Status::NotFound as i32),
        };
        let Some(stream) = st.stream_mut() else {
            st.violation(format!(
                "{CALL}: {} body changed outside an HTTP context",
                dir.name()
            ));
            return Ok(Status::BadArgument as i32);
        };
        let side = stream.side_mut(dir);
        if !side.body_accessible() {
            st.violation(format!(
                "{CALL}: {} body changed outside its body callback with nothing buffered",
                dir.name()
            ));
            return Ok(Status::BadArgument as i32);
        }
        // Envoy's Buffer::copyFrom: start 0 drains `size` bytes (all of them
        // when size >= length) and prepends; start >= length appends;
        // anything else is BadArgument.
        let buf = side.body.visible_mut();
        if start == 0 {
            let n = size.min(buf.len());
            if n == buf.len() {
                *buf = data;
            } else {
                let mut joined = Vec::with_capacity(data.len() + buf.len() - n);
                joined.extend_from_slice(&data);
                joined.extend_from_slice(buf.get(n..).unwrap_or_default());
                *buf = joined;
            }
            Ok(Status::Ok as i32)
        } else if start >= buf.len() {
            buf.extend_from_slice(&data);
            Ok(Status::Ok as i32)
        } else {
            let blen = buf.len();
            st.violation(format!(
                "{CALL}: start {start} inside a {blen}-byte {} body (Envoy only replaces from 0 or appends)",
                dir.name()
            ));
            Ok(Status::BadArgument as i32)
        }
    });

    wrap!(linker, d, "proxy_get_buffer_status", |mut c: Caller<
        '_,
        HostState,
    >,
                                                 t: i32,
                                                 len_ptr: i32,
                                                 flags_ptr: i32|
     -> Res<i32> {
        const CALL: &str = "proxy_get_buffer_status";
        count(&mut c, CALL);
        let st = c.data();
        let Some(kind) = buffer_kind(st, t) else {
            return Ok(Status::NotFound as i32);
        };
        let len = buffer_len(st, &kind) as u32;
        write_u32(&mut c, CALL, len_ptr, len)?;
        write_u32(&mut c, CALL, flags_ptr, 0)?;
        Ok(Status::Ok as i32)
    });

    wrap!(linker, d, "proxy_get_header_map_pairs", |mut c: Caller<
        '_,
        HostState,
    >,
                                                    t: i32,
                                                    ptr_ptr: i32,
                                                    size_ptr: i32|
     -> Res<i32> {
        const CALL: &str = "proxy_get_header_map_pairs";
        count(&mut c, CALL);
        if !(0..=7).contains(&t) {
            return Ok(Status::BadArgument as i32);
        }
        // Envoy answers Ok with no pairs when the map is not available now.
        let pairs = const_map(c.data(), t)
            .map(HeaderMap::to_byte_pairs)
            .unwrap_or_default();
        let bytes = if pairs.is_empty() {
            Vec::new()
        } else {
            serialize_pairs(&pairs)
        };
        copy_out(&mut c, CALL, &bytes, ptr_ptr, size_ptr)?;
        Ok(Status::Ok as i32)
    });

    wrap!(linker, d, "proxy_set_header_map_pairs", |mut c: Caller<
        '_,
        HostState,
    >,
                                                    t: i32,
                                                    ptr: i32,
                                                    len: i32|
     -> Res<i32> {
        const CALL: &str = "proxy_set_header_map_pairs";
        count(&mut c, CALL);
        let raw = read_bytes(&mut c, CALL, ptr, len)?;
        let pairs = deserialize_pairs(&raw).map_err(|e| trap(CALL, e))?;
        let st = c.data_mut();
        let pairs: Vec<(String, Vec<u8>)> = pairs
            .into_iter()
            .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v))
            .collect();
        for (k, v) in &pairs {
            check_header(st, CALL, k, v);
        }
        match mut_map(st, t) {
            Some(m) => {
                *m = HeaderMap::from_pairs(&pairs);
                Ok(Status::Ok as i32)
            }
            None => {
                st.violation(format!(
                    "{CALL}: {} is not available in this callback (Envoy: BadArgument)",
                    map_name(t)
                ));
                Ok(Status::BadArgument as i32)
            }
        }
    });

    wrap!(linker, d, "proxy_get_header_map_value", |mut c: Caller<
        '_,
        HostState,
    >,
                                                    t: i32,
                                                    kptr: i32,
                                                    klen: i32,
                                                    ptr_ptr: i32,
                                                    size_ptr: i32|
     -> Res<i32> {
        const CALL: &str = "proxy_get_header_map_value";
        count(&mut c, CALL);
        let key = read_str(&mut c, CALL, kptr, klen)?;
        let value = match const_map(c.data(), t) {
            None => {
                let st = c.data_mut();
                st.violation(format!(
                    "{CALL}: {} is not available in this callback (Envoy: BadArgument; the Rust SDK panics on it) — key {key:?}",
                    map_name(t)
                ));
                return Ok(Status::BadArgument as i32);
            }
            Some(m) => m.get_bytes(&key).map(<[u8]>::to_vec),
        };
        match value {
            None => Ok(Status::NotFound as i32),
            Some(v) => {
                copy_out(&mut c, CALL, &v, ptr_ptr, size_ptr)?;
                Ok(Status::Ok as i32)
            }
        }
    });

    wrap!(
        linker,
        d,
        "proxy_replace_header_map_value",
        |mut c: Caller<'_, HostState>,
         t: i32,
         kptr: i32,
         klen: i32,
         vptr: i32,
         vlen: i32|
         -> Res<i32> {
            const CALL: &str = "proxy_replace_header_map_value";
            count(&mut c, CALL);
            let key = read_str(&mut c, CALL, kptr, klen)?;
            let value = read_bytes(&mut c, CALL, vptr, vlen)?;
            let st = c.data_mut();
            check_header(st, CALL, &key, &value);
            match mut_map(st, t) {
                Some(m) => {
                    m.replace_bytes(&key, &value);
                    Ok(Status::Ok as i32)
                }
                None => {
                    st.violation(format!(
                    "{CALL}: {} is not available in this callback (Envoy: BadArgument) — {key:?}",
                    map_name(t)
                ));
                    Ok(Status::BadArgument as i32)
                }
            }
        }
    );

    wrap!(linker, d, "proxy_add_header_map_value", |mut c: Caller<
        '_,
        HostState,
    >,
                                                    t: i32,
                                                    kptr: i32,
                                                    klen: i32,
                                                    vptr: i32,
                                                    vlen: i32|
     -> Res<i32> {
        const CALL: &str = "proxy_add_header_map_value";
        count(&mut c, CALL);
        let key = read_str(&mut c, CALL, kptr, klen)?;
        let value = read_bytes(&mut c, CALL, vptr, vlen)?;
        let st = c.data_mut();
        check_header(st, CALL, &key, &value);
        match mut_map(st, t) {
            Some(m) => {
                m.add_bytes(&key, &value);
                Ok(Status::Ok as i32)
            }
            None => {
                st.violation(format!(
                    "{CALL}: {} is not available in this callback (Envoy: BadArgument) — {key:?}",
                    map_name(t)
                ));
                Ok(Status::BadArgument as i32)
            }
        }
    });

    wrap!(
        linker,
        d,
        "proxy_remove_header_map_value",
        |mut c: Caller<'_, HostState>, t: i32, kptr: i32, klen: i32| -> Res<i32> {
            const CALL: &str = "proxy_remove_header_map_value";
            count(&mut c, CALL);
            let key = read_str(&mut c, CALL, kptr, klen)?;
            let st = c.data_mut();
            match mut_map(st, t) {
                Some(m) => {
                    m.remove(&key);
                    Ok(Status::Ok as i32)
                }
                None => {
                    st.violation(format!(
                    "{CALL}: {} is not available in this callback (Envoy: BadArgument) — {key:?}",
                    map_name(t)
                ));
                    Ok(Status::BadArgument as i32)
                }
            }
        }
    );

    wrap!(linker, d, "proxy_get_property", |mut c: Caller<
        '_,
        HostState,
    >,
                                            ptr: i32,
                                            len: i32,
                                            ptr_ptr: i32,
                                            size_ptr: i32|
     -> Res<i32> {
        const CALL: &str = "proxy_get_property";
        count(&mut c, CALL);
        let raw = read_bytes(&mut c, CALL, ptr, len)?;
        let path: Vec<String> = raw
            .split(|b| *b == 0)
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        let st = c.data_mut();
        st.property_requests.push(path.clone());
        let value = property(st, &path);
        match value {
            None => Ok(Status::NotFound as i32),
            Some(v) => {
                copy_out(&mut c, CALL, &v, ptr_ptr, size_ptr)?;
                Ok(Status::Ok as i32)
            }
        }
    });

    wrap!(linker, d, "proxy_set_property", |mut c: Caller<
        '_,
        HostState,
    >,
                                            ptr: i32,
                                            len: i32,
                                            vptr: i32,
                                            vlen: i32|
     -> Res<i32> {
        const CALL: &str = "proxy_set_property";
        count(&mut c, CALL);
        let raw = read_bytes(&mut c, CALL, ptr, len)?;
        let value = read_bytes(&mut c, CALL, vptr, vlen)?;
        let path: Vec<String> = raw
            .split(|b| *b == 0)
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        c.data_mut().properties.insert(path, value);
        Ok(Status::Ok as i32)
    });

    wrap!(linker, d, "proxy_continue_stream", |mut c: Caller<
        '_,
        HostState,
    >,
                                               t: i32|
     -> Res<i32> {
        const CALL: &str = "proxy_continue_stream";
        count(&mut c, CALL);
        let dir = match t {
            0 => Direction::Request,
            1 => Direction::Response,
            _ => return Ok(Status::BadArgument as i32),
        };
        let st = c.data_mut();
        match st.stream_mut() {
            Some(s) => {
                s.side_mut(dir).continue_requested = true;
                Ok(Status::Ok as i32)
            }
            None => {
                st.violation(format!("{CALL}: called outside an HTTP context"));
                Ok(Status::Ok as i32)
            }
        }
    });

    wrap!(linker, d, "proxy_close_stream", |mut c: Caller<
        '_,
        HostState,
    >,
                                            t: i32|
     -> Res<i32> {
        const CALL: &str = "proxy_close_stream";
        count(&mut c, CALL);
        if !(0..=3).contains(&t) {
            return Ok(Status::BadArgument as i32);
        }
        if let Some(s) = c.data_mut().stream_mut() {
            s.close_requested.push(t as u32);
        }
        Ok(Status::Ok as i32)
    });

    wrap!(linker, d, "proxy_send_local_response", |mut c: Caller<
        '_,
        HostState,
    >,
                                                   status: i32,
                                                   dptr: i32,
                                                   dlen: i32,
                                                   bptr: i32,
                                                   blen: i32,
                                                   hptr: i32,
                                                   hlen: i32,
                                                   grpc: i32|
     -> Res<i32> {
        const CALL: &str = "proxy_send_local_response";
        count(&mut c, CALL);
        let details = read_str(&mut c, CALL, dptr, dlen)?;
        let body = read_bytes(&mut c, CALL, bptr, blen)?;
        let raw = read_bytes(&mut c, CALL, hptr, hlen)?;
        let pairs = deserialize_pairs(&raw).map_err(|e| trap(CALL, e))?;
        let st = c.data_mut();
        let headers: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(&k).to_ascii_lowercase(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect();
        for (k, v) in &headers {
            check_header(st, CALL, k, v.as_bytes());
        }
        if !(100..=599).contains(&status) {
            st.violation(format!("{CALL}: invalid HTTP status {status}"));
        }
        let sent_from = st.current_call.to_string();
        let lr = LocalResponse {
            status: status as u32,
            details,
            body,
            headers,
            grpc_status: grpc,
            sent_from,
        };
        match st.stream_mut() {
            Some(s) => {
                if s.pending_local.is_some() {
                    st.violation(format!(
                        "{CALL}: a second local response in the same callback (Envoy sends only the first)"
                    ));
                } else {
                    s.pending_local = Some(lr);
                }
            }
            None => st.violation(format!(
                "{CALL}: called outside an HTTP context (Envoy ignores it)"
            )),
        }
        Ok(Status::Ok as i32)
    });

    wrap!(linker, d, "proxy_set_effective_context", |mut c: Caller<
        '_,
        HostState,
    >,
                                                     id: i32|
     -> Res<i32> {
        count(&mut c, "proxy_set_effective_context");
        let id = id as u32;
        let st = c.data_mut();
        if id == st.root_id || st.streams.contains_key(&id) {
            st.effective = Some(id);
            Ok(Status::Ok as i32)
        } else {
            Ok(Status::BadArgument as i32)
        }
    });

    wrap!(
        linker,
        d,
        "proxy_done",
        |mut c: Caller<'_, HostState>| -> Res<i32> {
            count(&mut c, "proxy_done");
            c.data_mut().done_calls += 1;
            Ok(Status::Ok as i32)
        }
    );

    wrap!(linker, d, "proxy_define_metric", |mut c: Caller<
        '_,
        HostState,
    >,
                                             t: i32,
                                             ptr: i32,
                                             len: i32,
                                             ret: i32|
     -> Res<i32> {
        const CALL: &str = "proxy_define_metric";
        count(&mut c, CALL);
        let name = read_str(&mut c, CALL, ptr, len)?;
        let kind = match t {
            0 => MetricKind::Counter,
            1 => MetricKind::Gauge,
            2 => MetricKind::Histogram,
            _ => return Ok(Status::BadArgument as i32),
        };
        let id = c.data_mut().metrics.define(kind, &name);
        write_u32(&mut c, CALL, ret, id)?;
        Ok(Status::Ok as i32)
    });

    wrap!(linker, d, "proxy_increment_metric", |mut c: Caller<
        '_,
        HostState,
    >,
                                                id: i32,
                                                offset: i64|
     -> Res<i32> {
        count(&mut c, "proxy_increment_metric");
        let Some(m) = c.data_mut().metrics.by_id(id as u32) else {
            return Ok(Status::NotFound as i32);
        };
        match m.kind {
            // Envoy's counters are u64 and wrap on overflow.
            MetricKind::Counter if offset > 0 => {
                m.value = (m.value as u64).wrapping_add(offset as u64) as i64;
                Ok(Status::Ok as i32)
            }
            MetricKind::Gauge => {
                m.value = m.value.saturating_add(offset);
                Ok(Status::Ok as i32)
            }
            _ => Ok(Status::BadArgument as i32),
        }
    });

    wrap!(linker, d, "proxy_record_metric", |mut c: Caller<
        '_,
        HostState,
    >,
                                             id: i32,
                                             value: i64|
     -> Res<i32> {
        count(&mut c, "proxy_record_metric");
        let Some(m) = c.data_mut().metrics.by_id(id as u32) else {
            return Ok(Status::NotFound as i32);
        };
        let v = value as u64;
        match m.kind {
            MetricKind::Counter => m.value = m.value.saturating_add(v as i64),
            MetricKind::Gauge => m.value = v as i64,
            MetricKind::Histogram => m.samples.push(v),
        }
        Ok(Status::Ok as i32)
    });

    wrap!(linker, d, "proxy_get_metric", |mut c: Caller<
        '_,
        HostState,
    >,
                                          id: i32,
                                          ret: i32|
     -> Res<i32> {
        const CALL: &str = "proxy_get_metric";
        count(&mut c, CALL);
        let v = match c.data_mut().metrics.by_id(id as u32) {
            None => return Ok(Status::NotFound as i32),
            Some(m) if m.kind == MetricKind::Histogram => return Ok(Status::BadArgument as i32),
            Some(m) => m.value as u64,
        };
        write_u64(&mut c, CALL, ret, v)?;
        Ok(Status::Ok as i32)
    });

    Ok(d)
}

/// `proxy_get_property`: values the test set, then a few Envoy attributes
/// derived from the current stream, all as raw bytes (strings) or
/// little-endian integers, as Envoy serializes CEL values.
fn property(st: &HostState, path: &[String]) -> Option<Vec<u8>> {
    if let Some(v) = st.properties.get(path) {
        return Some(v.clone());
    }
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    let stream = st.stream();
    let req = stream.map(|s| &s.request.headers);
    let resp = stream.map(|s| &s.response.headers);
    let hv =
        |m: Option<&HeaderMap>, k: &str| m.and_then(|m| m.get(k)).map(|v| v.as_bytes().to_vec());
    match p.as_slice() {
        ["plugin_name"] => Some(b"host-harness".to_vec()),
        ["plugin_root_id"] | ["plugin_vm_id"] => Some(Vec::new()),
        ["request", "path"] => hv(req, ":path"),
        ["request", "url_path"] => hv(req, ":path").map(|v| {
            let end = v.iter().position(|b| *b == b'?').unwrap_or(v.len());
            v.get(..end).unwrap_or_default().to_vec()
        }),
        ["request", "method"] => hv(req, ":method"),
        ["request", "host"] => hv(req, ":authority"),
        ["request", "scheme"] => hv(req, ":scheme"),
        ["request", "id"] => hv(req, "x-request-id"),
        ["response", "code"] => resp
            .and_then(|m| m.get(":status"))
            .and_then(|s| s.parse::<i64>().ok())
            .map(|c| c.to_le_bytes().to_vec()),
        _ => None,
    }
}
