//! In-wasm throughput: time many conversions through one VM.

use std::fmt;
use std::time::{Duration, Instant};

use crate::{usage, Chunking, Host, HostError};

/// The result of a benchmark run.
#[derive(Clone, Debug)]
pub struct BenchReport {
    pub name: String,
    pub iterations: u32,
    /// Body bytes fed to the module per iteration.
    pub bytes_in: usize,
    /// Body bytes the module produced per iteration.
    pub bytes_out: usize,
    /// Wall time of the timed part, the harness's own bookkeeping included.
    pub total: Duration,
    /// Of that, time inside the module's callbacks (the host functions they
    /// call included, as on an Envoy worker): the in-wasm cost.
    pub in_module: Duration,
    /// Guest memory after the run (growth across runs hints at a leak).
    pub memory_after: usize,
}

impl BenchReport {
    /// In-module time per iteration.
    pub fn per_iteration(&self) -> Duration {
        self.in_module / self.iterations.max(1)
    }

    /// Input megabytes (10^6) per second of in-module time.
    pub fn mb_per_s(&self) -> f64 {
        let secs = self.in_module.as_secs_f64();
        if secs == 0.0 {
            return 0.0;
        }
        (self.bytes_in as f64 * f64::from(self.iterations)) / secs / 1e6
    }

    /// Iterations per second of in-module time.
    pub fn per_second(&self) -> f64 {
        let secs = self.in_module.as_secs_f64();
        if secs == 0.0 {
            return 0.0;
        }
        f64::from(self.iterations) / secs
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} x {} B in -> {} B out, {:?}/iter in module, {:.1} MB/s, {:.0} iter/s (wall {:?}/iter)",
            self.name,
            self.iterations,
            self.bytes_in,
            self.bytes_out,
            self.per_iteration(),
            self.mb_per_s(),
            self.per_second(),
            self.total / self.iterations.max(1)
        )
    }
}

impl Host {
    /// Times `iterations` request conversions: each a fresh HTTP context,
    /// headers then the whole body with end_of_stream. A local reply is an
    /// error (the benchmark input must convert).
    pub fn bench_request(
        &mut self,
        name: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        iterations: u32,
    ) -> Result<BenchReport, HostError> {
        let mut total = Duration::ZERO;
        let mut in_module = Duration::ZERO;
        let mut bytes_out = 0;
        for _ in 0..iterations {
            let mut s = self.http_stream();
            let g = s.host().guest_time();
            let t = Instant::now();
            s.request_headers(headers, body.is_empty())?;
            if !body.is_empty() {
                s.request_body(body, true)?;
            }
            total += t.elapsed();
            in_module += s.host().guest_time() - g;
            if let Some(lr) = s.local_response() {
                return Err(usage(format!(
                    "bench {name}: the module answered locally: {} {}",
                    lr.status,
                    lr.body_str()
                )));
            }
            bytes_out = s.request_body_out().len();
            s.finish()?;
        }
        Ok(BenchReport {
            name: name.to_string(),
            iterations,
            bytes_in: body.len(),
            bytes_out,
            total,
            in_module,
            memory_after: self.memory_size(),
        })
    }

    /// Times `iterations` response conversions: each a fresh context whose
    /// request (untimed) is `request_headers` + `request_body`, then the
    /// response headers and body split as `chunking` says (timed).
    #[allow(clippy::too_many_arguments)]
    pub fn bench_response(
        &mut self,
        name: &str,
        request_headers: &[(&str, &str)],
        request_body: &[u8],
        response_headers: &[(&str, &str)],
        response_body: &[u8],
        chunking: &Chunking,
        iterations: u32,
    ) -> Result<BenchReport, HostError> {
        let mut total = Duration::ZERO;
        let mut in_module = Duration::ZERO;
        let mut bytes_out = 0;
        for _ in 0..iterations {
            let mut s = self.http_stream();
            s.request(request_headers, request_body, &Chunking::Whole)?;
            if let Some(lr) = s.local_response() {
                return Err(usage(format!(
                    "bench {name}: the request was answered locally: {} {}",
                    lr.status,
                    lr.body_str()
                )));
            }
            let g = s.host().guest_time();
            let t = Instant::now();
            s.response(response_headers, response_body, chunking)?;
            total += t.elapsed();
            in_module += s.host().guest_time() - g;
            bytes_out = s.response_body_out().len();
            s.finish()?;
        }
        Ok(BenchReport {
            name: name.to_string(),
            iterations,
            bytes_in: response_body.len(),
            bytes_out,
            total,
            in_module,
            memory_after: self.memory_size(),
        })
    }
}
