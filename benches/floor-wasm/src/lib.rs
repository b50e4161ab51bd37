//! The floor a converter cannot beat, inside wasm: parse a body into a
//! `serde_json::Value` and serialize it back, the same work the bridge's
//! conversions measure against natively (benches/convert.rs).

/// Allocates `len` bytes for the host to write a body into.
#[no_mangle]
pub extern "C" fn floor_alloc(len: usize) -> *mut u8 {
    let mut buffer = Vec::<u8>::with_capacity(len);
    let ptr = buffer.as_mut_ptr();
    std::mem::forget(buffer);
    ptr
}

/// Frees what `floor_alloc` returned.
#[no_mangle]
pub extern "C" fn floor_free(ptr: *mut u8, len: usize) {
    // SAFETY: `ptr` and `len` come from `floor_alloc`.
    drop(unsafe { Vec::from_raw_parts(ptr, 0, len) });
}

/// One parse + serialize of the body at `ptr..ptr+len`; returns the output
/// length (0 when the body is not JSON).
#[no_mangle]
pub extern "C" fn floor_run(ptr: *const u8, len: usize) -> usize {
    // SAFETY: the host wrote `len` bytes at `ptr` (from `floor_alloc`).
    let body = unsafe { std::slice::from_raw_parts(ptr, len) };
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => serde_json::to_vec(&value).map_or(0, |out| out.len()),
        Err(_) => 0,
    }
}

/// The stream floor: every `data: {…}` line parsed and written back.
#[no_mangle]
pub extern "C" fn floor_stream(ptr: *const u8, len: usize) -> usize {
    // SAFETY: as in `floor_run`.
    let body = unsafe { std::slice::from_raw_parts(ptr, len) };
    body.split(|b| *b == b'\n')
        .filter_map(|line| line.strip_prefix(b"data: "))
        .filter(|data| data.first() == Some(&b'{'))
        .map(|data| floor_run(data.as_ptr(), data.len()))
        .sum()
}
