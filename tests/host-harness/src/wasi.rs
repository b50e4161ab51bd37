//! The WASI preview1 calls Rust's std makes on wasm32-wasip1, by hand:
//! stdout/stderr are captured, there are no arguments, environment or
//! preopened directories, clocks are the host's fixed clock, randomness is a
//! deterministic generator, and `proc_exit` traps.

use wasmtime::{Caller, Linker};

use crate::abi::{read_bytes, trap, write_bytes, write_u32, write_u64, Res};
use crate::state::HostState;

const MODULE: &str = "wasi_snapshot_preview1";

const SUCCESS: i32 = 0;
const EBADF: i32 = 8;
const EINVAL: i32 = 28;
const ESPIPE: i32 = 70;

fn count(caller: &mut Caller<'_, HostState>, name: &'static str) {
    *caller.data_mut().call_counts.entry(name).or_insert(0) += 1;
}

macro_rules! wrap {
    ($linker:expr, $defined:expr, $name:literal, $f:expr) => {{
        $defined.push($name);
        $linker.func_wrap(MODULE, $name, $f)?;
    }};
}

/// Links the implemented WASI functions; returns their names.
pub(crate) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<Vec<&'static str>> {
    let mut d: Vec<&'static str> = Vec::new();

    wrap!(linker, d, "args_sizes_get", |mut c: Caller<
        '_,
        HostState,
    >,
                                        argc: i32,
                                        size: i32|
     -> Res<i32> {
        count(&mut c, "args_sizes_get");
        write_u32(&mut c, "args_sizes_get", argc, 0)?;
        write_u32(&mut c, "args_sizes_get", size, 0)?;
        Ok(SUCCESS)
    });
    wrap!(linker, d, "args_get", |mut c: Caller<'_, HostState>,
                                  _argv: i32,
                                  _buf: i32|
     -> Res<i32> {
        count(&mut c, "args_get");
        Ok(SUCCESS)
    });
    wrap!(linker, d, "environ_sizes_get", |mut c: Caller<
        '_,
        HostState,
    >,
                                           n: i32,
                                           size: i32|
     -> Res<i32> {
        count(&mut c, "environ_sizes_get");
        write_u32(&mut c, "environ_sizes_get", n, 0)?;
        write_u32(&mut c, "environ_sizes_get", size, 0)?;
        Ok(SUCCESS)
    });
    wrap!(linker, d, "environ_get", |mut c: Caller<'_, HostState>,
                                     _env: i32,
                                     _buf: i32|
     -> Res<i32> {
        count(&mut c, "environ_get");
        Ok(SUCCESS)
    });

    wrap!(linker, d, "clock_res_get", |mut c: Caller<
        '_,
        HostState,
    >,
                                       id: i32,
                                       ret: i32|
     -> Res<i32> {
        count(&mut c, "clock_res_get");
        if !(0..=3).contains(&id) {
            return Ok(EINVAL);
        }
        write_u64(&mut c, "clock_res_get", ret, 1)?;
        Ok(SUCCESS)
    });
    wrap!(linker, d, "clock_time_get", |mut c: Caller<
        '_,
        HostState,
    >,
                                        id: i32,
                                        _precision: i64,
                                        ret: i32|
     -> Res<i32> {
        count(&mut c, "clock_time_get");
        let st = c.data_mut();
        let t = match id {
            0 => st.time_ns,
            1..=3 => {
                st.monotonic_ns += 1_000;
                st.monotonic_ns
            }
            _ => return Ok(EINVAL),
        };
        write_u64(&mut c, "clock_time_get", ret, t)?;
        Ok(SUCCESS)
    });

    wrap!(linker, d, "fd_write", |mut c: Caller<'_, HostState>,
                                  fd: i32,
                                  iovs: i32,
                                  iovs_len: i32,
                                  nwritten: i32|
     -> Res<i32> {
        const CALL: &str = "fd_write";
        count(&mut c, CALL);
        if fd != 1 && fd != 2 {
            return Ok(EBADF);
        }
        let n = iovs_len as u32 as usize;
        let table_len = n
            .checked_mul(8)
            .and_then(|l| i32::try_from(l).ok())
            .ok_or_else(|| trap(CALL, format!("iovec count {n} too large")))?;
        let table = read_bytes(&mut c, CALL, iovs, table_len)?;
        let mut out = Vec::new();
        for iov in table.chunks_exact(8) {
            let mut w = [0u8; 4];
            w.copy_from_slice(iov.get(0..4).unwrap_or(&[0; 4]));
            let ptr = u32::from_le_bytes(w) as i32;
            w.copy_from_slice(iov.get(4..8).unwrap_or(&[0; 4]));
            let len = u32::from_le_bytes(w) as i32;
            out.extend(read_bytes(&mut c, CALL, ptr, len)?);
        }
        let written = out.len() as u32;
        let st = c.data_mut();
        if st.echo_level.is_some() {
            eprint!("{}", String::from_utf8_lossy(&out));
        }
        if fd == 1 {
            st.stdout.extend(out);
        } else {
            st.stderr.extend(out);
        }
        write_u32(&mut c, CALL, nwritten, written)?;
        Ok(SUCCESS)
    });

    wrap!(linker, d, "fd_close", |mut c: Caller<'_, HostState>,
                                  fd: i32|
     -> Res<i32> {
        count(&mut c, "fd_close");
        Ok(if (0..=2).contains(&fd) {
            SUCCESS
        } else {
            EBADF
        })
    });
    wrap!(linker, d, "fd_seek", |mut c: Caller<'_, HostState>,
                                 fd: i32,
                                 _offset: i64,
                                 _whence: i32,
                                 _ret: i32|
     -> Res<i32> {
        count(&mut c, "fd_seek");
        Ok(if (0..=2).contains(&fd) { ESPIPE } else { EBADF })
    });
    wrap!(linker, d, "fd_fdstat_get", |mut c: Caller<
        '_,
        HostState,
    >,
                                       fd: i32,
                                       ret: i32|
     -> Res<i32> {
        count(&mut c, "fd_fdstat_get");
        if !(0..=2).contains(&fd) {
            return Ok(EBADF);
        }
        // fdstat: filetype u8 (2 = character device), flags u16 at 2,
        // rights base u64 at 8, rights inheriting u64 at 16.
        let mut st = [0u8; 24];
        st[0] = 2;
        st[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        write_bytes(&mut c, "fd_fdstat_get", ret, &st)?;
        Ok(SUCCESS)
    });
    wrap!(linker, d, "fd_prestat_get", |mut c: Caller<
        '_,
        HostState,
    >,
                                        _fd: i32,
                                        _ret: i32|
     -> Res<i32> {
        count(&mut c, "fd_prestat_get");
        Ok(EBADF)
    });
    wrap!(linker, d, "fd_prestat_dir_name", |mut c: Caller<
        '_,
        HostState,
    >,
                                             _fd: i32,
                                             _ptr: i32,
                                             _len: i32|
     -> Res<i32> {
        count(&mut c, "fd_prestat_dir_name");
        Ok(EBADF)
    });

    wrap!(linker, d, "random_get", |mut c: Caller<'_, HostState>,
                                    buf: i32,
                                    len: i32|
     -> Res<i32> {
        count(&mut c, "random_get");
        let n = len as u32 as usize;
        let st = c.data_mut();
        let mut bytes = Vec::with_capacity(n + 8);
        while bytes.len() < n {
            bytes.extend_from_slice(&st.next_random().to_le_bytes());
        }
        bytes.truncate(n);
        write_bytes(&mut c, "random_get", buf, &bytes)?;
        Ok(SUCCESS)
    });

    wrap!(linker, d, "proc_exit", |mut c: Caller<'_, HostState>,
                                   code: i32|
     -> Res<()> {
        count(&mut c, "proc_exit");
        Err(trap(
            "proc_exit",
            format!("the module called proc_exit({code})"),
        ))
    });

    wrap!(
        linker,
        d,
        "sched_yield",
        |mut c: Caller<'_, HostState>| -> Res<i32> {
            count(&mut c, "sched_yield");
            Ok(SUCCESS)
        }
    );

    Ok(d)
}
