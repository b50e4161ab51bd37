//! The HTTP stream lifecycle, as Envoy's filter manager runs one filter:
//! headers, body chunks, trailers in each direction, local replies, the end.

use crate::state::{Direction, HeaderMap, LocalReplyPath, LocalResponse, Side, StreamState};
use crate::{usage, Action, Host, HostError};

/// How a body is split into callbacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chunking {
    /// One callback with the whole body.
    Whole,
    /// Callbacks of at most `n` bytes (`Bytes(1)`: one byte per callback).
    Bytes(usize),
    /// `n` callbacks of nearly equal size.
    Count(usize),
    /// These sizes, then the rest in one callback.
    Sizes(Vec<usize>),
    /// The inner split, then end_of_stream on an extra, empty callback.
    EmptyEos(Box<Chunking>),
}

impl Chunking {
    /// The same split followed by an empty end_of_stream callback.
    pub fn then_empty_eos(self) -> Chunking {
        Chunking::EmptyEos(Box::new(self))
    }

    /// The chunks and whether an empty end_of_stream chunk follows them.
    pub fn split<'a>(&self, body: &'a [u8]) -> (Vec<&'a [u8]>, bool) {
        match self {
            Chunking::Whole => (vec![body], false),
            Chunking::Bytes(n) => (body.chunks((*n).max(1)).collect(), false),
            Chunking::Count(n) => {
                let n = (*n).max(1);
                let size = body.len().div_ceil(n).max(1);
                (body.chunks(size).collect(), false)
            }
            Chunking::Sizes(sizes) => {
                let mut out = Vec::new();
                let mut rest = body;
                for s in sizes {
                    let (a, b) = rest.split_at((*s).min(rest.len()));
                    out.push(a);
                    rest = b;
                }
                if !rest.is_empty() || out.is_empty() {
                    out.push(rest);
                }
                (out, false)
            }
            Chunking::EmptyEos(inner) => (inner.split(body).0, true),
        }
    }
}

impl Host {
    /// Opens a stream that outlives any one handle, so a test can interleave
    /// several on one VM (as an Envoy worker does): drive it through
    /// [`Host::attach`], end it with [`Host::end_stream`].
    pub fn open_stream(&mut self) -> u32 {
        self.new_stream_id()
    }

    /// A handle on a stream from [`Host::open_stream`]; dropping it does not
    /// end the stream.
    pub fn attach(&mut self, id: u32) -> Result<HttpStream<'_>, HostError> {
        self.state(id)?;
        Ok(HttpStream {
            host: self,
            id,
            attached: true,
        })
    }

    /// Ends a stream from [`Host::open_stream`] (log, done, delete) and drops
    /// its state.
    pub fn end_stream(&mut self, id: u32) -> Result<(), HostError> {
        let r = self.finish_stream(id);
        self.store.data_mut().streams.remove(&id);
        r
    }

    pub(crate) fn new_stream_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        self.store
            .data_mut()
            .streams
            .insert(id, StreamState::default());
        id
    }

    fn state(&self, id: u32) -> Result<&StreamState, HostError> {
        self.store
            .data()
            .streams
            .get(&id)
            .ok_or_else(|| usage(format!("no stream {id}")))
    }

    fn state_mut(&mut self, id: u32) -> Result<&mut StreamState, HostError> {
        self.store
            .data_mut()
            .streams
            .get_mut(&id)
            .ok_or_else(|| usage(format!("no stream {id}")))
    }

    fn side_mut(&mut self, id: u32, d: Direction) -> Result<&mut Side, HostError> {
        Ok(self.state_mut(id)?.side_mut(d))
    }

    /// Envoy creates the VM context on the first filter callback.
    fn ensure_created(&mut self, id: u32) -> Result<(), HostError> {
        let st = self.state_mut(id)?;
        if st.finished {
            return Err(usage(format!("stream {id} has already finished")));
        }
        if st.guest_created {
            return Ok(());
        }
        st.guest_created = true;
        let root = self.root_id();
        if let Some(f) = self.ex.on_context_create.clone() {
            self.call_guest(
                "proxy_on_context_create",
                Some(id),
                f,
                (id as i32, root as i32),
            )?;
        }
        Ok(())
    }

    /// After a local reply Envoy delivers nothing more from the client or
    /// the upstream to this filter.
    fn ignored(&mut self, id: u32, what: &str) -> Result<bool, HostError> {
        let st = self.state_mut(id)?;
        if st.local_reply.is_some() {
            st.ignored_calls.push(what.to_string());
            return Ok(true);
        }
        Ok(false)
    }

    pub(crate) fn deliver_headers(
        &mut self,
        id: u32,
        dir: Direction,
        headers: HeaderMap,
        eos: bool,
        internal: bool,
    ) -> Result<Action, HostError> {
        self.ensure_created(id)?;
        if !internal {
            if self.ignored(id, &format!("{} headers", dir.name()))? {
                return Ok(Action::NotDelivered);
            }
            let st = self.state(id)?;
            if dir == Direction::Response && !st.request.headers_received {
                return Err(usage("response headers before request headers"));
            }
        }
        let side = self.side_mut(id, dir)?;
        if side.headers_received {
            return Err(usage(format!("{} headers delivered twice", dir.name())));
        }
        side.headers = headers;
        side.headers_received = true;
        side.headers_accessible = true;
        side.headers_eos = eos;
        side.eos_received = eos;
        let n = side.headers.len() as i32;
        let (name, f) = match dir {
            Direction::Request => (
                "proxy_on_request_headers",
                self.ex.on_request_headers.clone(),
            ),
            Direction::Response => (
                "proxy_on_response_headers",
                self.ex.on_response_headers.clone(),
            ),
        };
        let raw = match f {
            Some(f) => self.call_guest(name, Some(id), f, (id as i32, n, eos as i32))?,
            None => 0,
        };
        let action = Action::from_raw(raw);
        let st = self.state_mut(id)?;
        let local = st.pending_local.is_some();
        let side = st.side_mut(dir);
        if local {
            // The local reply stops this direction; nothing goes on.
            side.headers_accessible = false;
        } else if action == Action::Continue {
            side.headers_forwarded = Some(side.headers.clone());
            side.headers_accessible = false;
            if eos {
                side.complete = true;
            }
        } else {
            // Envoy (allow_on_headers_stop_iteration unset) turns a stop here
            // into StopAllIterationAndWatermark: no body callbacks follow.
            side.stalled_at_headers = true;
            side.held_eos = eos;
        }
        self.after_callback(id)?;
        Ok(action)
    }

    pub(crate) fn body(
        &mut self,
        id: u32,
        dir: Direction,
        chunk: &[u8],
        eos: bool,
    ) -> Result<Action, HostError> {
        self.ensure_created(id)?;
        if self.ignored(id, &format!("{} body ({} bytes)", dir.name(), chunk.len()))? {
            return Ok(Action::NotDelivered);
        }
        let side = self.side_mut(id, dir)?;
        if !side.headers_received {
            return Err(usage(format!("{} body before its headers", dir.name())));
        }
        if side.eos_received {
            return Err(usage(format!("{} body after end_of_stream", dir.name())));
        }
        side.eos_received = eos;
        if side.stalled_at_headers {
            side.held.extend_from_slice(chunk);
            side.held_eos = eos;
            return Ok(Action::NotDelivered);
        }
        self.deliver_body(id, dir, chunk, eos)
    }

    fn limit_exceeded(&self, id: u32, dir: Direction) -> bool {
        let limit = self.store.data().buffer_limit;
        match (limit, self.state(id)) {
            (Some(l), Ok(st)) => {
                let b = &st.side(dir).body;
                b.buffering && b.buffered.len() > l
            }
            _ => false,
        }
    }

    fn buffer_overflow(&mut self, id: u32, dir: Direction) -> Result<Action, HostError> {
        let (status, body, details) = match dir {
            Direction::Request => (413, "Payload Too Large", "request_payload_too_large"),
            Direction::Response => (500, "Internal Server Error", "response_payload_too_large"),
        };
        let st = self.state_mut(id)?;
        st.buffer_limit_hit = Some(dir);
        let lr = LocalResponse {
            status,
            details: details.to_string(),
            body: body.as_bytes().to_vec(),
            headers: Vec::new(),
            grpc_status: -1,
            sent_from: "host (buffer limit)".to_string(),
        };
        self.local_reply(id, lr)?;
        Ok(Action::Pause)
    }

    pub(crate) fn deliver_body(
        &mut self,
        id: u32,
        dir: Direction,
        chunk: &[u8],
        eos: bool,
    ) -> Result<Action, HostError> {
        let size = {
            let side = self.side_mut(id, dir)?;
            let b = &mut side.body;
            if b.buffering {
                // Envoy: addDecodedData/addEncodedData, then the whole buffer.
                b.buffered.extend_from_slice(chunk);
                b.current.clear();
            } else {
                b.current = chunk.to_vec();
            }
            b.visible().len()
        };
        if self.limit_exceeded(id, dir) {
            return self.buffer_overflow(id, dir);
        }
        {
            let side = self.side_mut(id, dir)?;
            side.in_body_callback = true;
            side.body_callback_eos = eos;
            side.body.callbacks += 1;
        }
        let (name, f) = match dir {
            Direction::Request => ("proxy_on_request_body", self.ex.on_request_body.clone()),
            Direction::Response => ("proxy_on_response_body", self.ex.on_response_body.clone()),
        };
        let r = match f {
            Some(f) => self.call_guest(name, Some(id), f, (id as i32, size as i32, eos as i32)),
            None => Ok(0),
        };
        let st = self.state_mut(id)?;
        let local = st.pending_local.is_some();
        let side = st.side_mut(dir);
        side.in_body_callback = false;
        side.body_callback_eos = false;
        if side.trailers_accessible {
            // Trailers the module created in the last body callback.
            side.trailers_accessible = false;
        }
        let action = Action::from_raw(r?);
        let b = &mut side.body;
        if local {
            // A local reply was sent from this callback: Envoy stops the
            // chain, nothing of this body goes on.
        } else {
            match action {
                Action::Continue => {
                    let mut out = std::mem::take(&mut b.buffered);
                    out.append(&mut b.current);
                    b.forwarded.extend(out);
                    b.buffering = false;
                    if eos {
                        side.complete = true;
                        side.trailers_forwarded = side.trailers.clone();
                    }
                }
                Action::Other(3) => {
                    // StopIterationNoBuffer: the chunk is the filter's problem.
                    b.current.clear();
                    b.buffering = false;
                }
                _ => {
                    // StopIterationAndBuffer (and Watermark): Envoy keeps it.
                    let mut cur = std::mem::take(&mut b.current);
                    b.buffered.append(&mut cur);
                    b.buffering = true;
                }
            }
        }
        if let Action::Other(v) = action {
            if v != 3 && v != 2 {
                self.store
                    .data_mut()
                    .violation(format!("{name} returned {v}, not a FilterDataStatus"));
            }
        }
        if !local && self.limit_exceeded(id, dir) {
            return self.buffer_overflow(id, dir);
        }
        self.after_callback(id)?;
        Ok(action)
    }

    pub(crate) fn trailers(
        &mut self,
        id: u32,
        dir: Direction,
        trailers: HeaderMap,
    ) -> Result<Action, HostError> {
        self.ensure_created(id)?;
        if self.ignored(id, &format!("{} trailers", dir.name()))? {
            return Ok(Action::NotDelivered);
        }
        let side = self.side_mut(id, dir)?;
        if !side.headers_received {
            return Err(usage(format!("{} trailers before headers", dir.name())));
        }
        if side.eos_received {
            return Err(usage(format!(
                "{} trailers after end_of_stream",
                dir.name()
            )));
        }
        side.eos_received = true;
        side.trailers = Some(trailers);
        if side.stalled_at_headers {
            side.held_eos = true;
            return Ok(Action::NotDelivered);
        }
        side.trailers_accessible = true;
        let n = side.trailers.as_ref().map_or(0, HeaderMap::len) as i32;
        let (name, f) = match dir {
            Direction::Request => (
                "proxy_on_request_trailers",
                self.ex.on_request_trailers.clone(),
            ),
            Direction::Response => (
                "proxy_on_response_trailers",
                self.ex.on_response_trailers.clone(),
            ),
        };
        let r = match f {
            Some(f) => self.call_guest(name, Some(id), f, (id as i32, n)),
            None => Ok(0),
        };
        let st = self.state_mut(id)?;
        let local = st.pending_local.is_some();
        let side = st.side_mut(dir);
        side.trailers_accessible = false;
        let action = Action::from_raw(r?);
        if !local && action == Action::Continue {
            let b = &mut side.body;
            let mut out = std::mem::take(&mut b.buffered);
            out.append(&mut b.current);
            b.forwarded.extend(out);
            b.buffering = false;
            side.trailers_forwarded = side.trailers.clone();
            side.complete = true;
        }
        self.after_callback(id)?;
        Ok(action)
    }

    /// Envoy's deferred after-VM-call actions: the local reply, then
    /// continue requests.
    fn after_callback(&mut self, id: u32) -> Result<(), HostError> {
        let pending = self.state_mut(id)?.pending_local.take();
        if let Some(lr) = pending {
            self.local_reply(id, lr)?;
        }
        for dir in [Direction::Request, Direction::Response] {
            let side = self.side_mut(id, dir)?;
            if side.continue_requested {
                side.continue_requested = false;
                self.resume(id, dir)?;
            }
        }
        self.check_lengths(id)
    }

    /// Envoy sends a `content-length` the filter leaves in place as it is:
    /// if the body that went out has another length, the peer reads a
    /// truncated body or waits for bytes that never come.
    fn check_lengths(&mut self, id: u32) -> Result<(), HostError> {
        let mut found = Vec::new();
        for dir in [Direction::Request, Direction::Response] {
            let side = self.side_mut(id, dir)?;
            if !side.complete || side.length_checked || side.reset {
                continue;
            }
            side.length_checked = true;
            let declared = side
                .headers_forwarded
                .as_ref()
                .and_then(|h| h.get("content-length"))
                .and_then(|v| v.trim().parse::<u64>().ok());
            let sent = side.body.forwarded.len() as u64;
            if let Some(n) = declared.filter(|n| *n != sent) {
                found.push(format!(
                    "{} went out with content-length {n} but {sent} body bytes",
                    dir.name()
                ));
            }
        }
        for f in found {
            self.store.data_mut().violation(f);
        }
        Ok(())
    }

    /// `proxy_continue_stream`: resumes a stalled or buffering direction.
    fn resume(&mut self, id: u32, dir: Direction) -> Result<(), HostError> {
        if self.state(id)?.local_reply.is_some() {
            return Ok(());
        }
        let side = self.side_mut(id, dir)?;
        if side.stalled_at_headers {
            side.stalled_at_headers = false;
            side.headers_forwarded = Some(side.headers.clone());
            side.headers_accessible = false;
            if side.headers_eos {
                side.complete = true;
                return Ok(());
            }
            let held = std::mem::take(&mut side.held);
            let eos = side.held_eos;
            if !held.is_empty() || eos {
                self.deliver_body(id, dir, &held, eos)?;
            }
        } else if side.body.buffering && !side.in_body_callback {
            let b = &mut side.body;
            let out = std::mem::take(&mut b.buffered);
            b.forwarded.extend(out);
            b.buffering = false;
            if side.eos_received {
                side.complete = true;
                side.trailers_forwarded = side.trailers.clone();
            }
        }
        Ok(())
    }

    /// `FilterManager::sendLocalReply`.
    fn local_reply(&mut self, id: u32, lr: LocalResponse) -> Result<(), HostError> {
        let mut headers = HeaderMap::new();
        headers.add(":status", &lr.status.to_string());
        for (k, v) in &lr.headers {
            headers.add(k, v);
        }
        if !lr.body.is_empty() {
            headers.replace("content-length", &lr.body.len().to_string());
            if !headers.contains("content-type") {
                headers.add("content-type", "text/plain");
            }
        }
        let st = self.state_mut(id)?;
        let first = st.local_reply.is_none();
        if first {
            st.local_reply = Some(lr.clone());
        }
        if !st.request.complete && st.request.headers_forwarded.is_some() {
            // The upstream request had started: Envoy resets it.
            st.request.reset = true;
        }
        let path = if !st.response.headers_received {
            LocalReplyPath::ViaFilterChain
        } else if st.response.headers_forwarded.is_none() {
            LocalReplyPath::Direct
        } else {
            LocalReplyPath::StreamReset
        };
        if first {
            st.local_reply_path = Some(path);
        } else {
            self.store.data_mut().violation(format!(
                "a second local reply ({}) while the first was being sent ({path:?})",
                lr.status
            ));
        }
        match path {
            LocalReplyPath::ViaFilterChain => {
                let eos = lr.body.is_empty();
                self.deliver_headers(id, Direction::Response, headers, eos, true)?;
                if !eos {
                    let side = self.side_mut(id, Direction::Response)?;
                    if side.eos_received {
                        // A nested local reply already ended the response.
                    } else if side.stalled_at_headers {
                        side.held.extend_from_slice(&lr.body);
                        side.held_eos = true;
                        side.eos_received = true;
                    } else {
                        side.eos_received = true;
                        self.deliver_body(id, Direction::Response, &lr.body, true)?;
                    }
                }
            }
            LocalReplyPath::Direct => {
                let side = self.side_mut(id, Direction::Response)?;
                side.headers_forwarded = Some(headers);
                side.body.forwarded = lr.body;
                side.body.buffered.clear();
                side.body.current.clear();
                side.body.buffering = false;
                side.headers_accessible = false;
                side.eos_received = true;
                side.complete = true;
            }
            LocalReplyPath::StreamReset => {
                self.side_mut(id, Direction::Response)?.reset = true;
            }
        }
        Ok(())
    }

    /// `proxy_on_log`, `proxy_on_done`, `proxy_on_delete` (Envoy's order:
    /// access log, then filter destruction).
    pub(crate) fn finish_stream(&mut self, id: u32) -> Result<(), HostError> {
        let st = self.state_mut(id)?;
        if st.finished {
            return Ok(());
        }
        st.finished = true;
        if !st.guest_created {
            return Ok(());
        }
        if let Some(f) = self.ex.on_log.clone() {
            self.call_guest("proxy_on_log", Some(id), f, id as i32)?;
        }
        if let Some(f) = self.ex.on_done.clone() {
            self.call_guest("proxy_on_done", Some(id), f, id as i32)?;
        }
        if let Some(f) = self.ex.on_delete.clone() {
            self.call_guest("proxy_on_delete", Some(id), f, id as i32)?;
        }
        Ok(())
    }
}

/// One HTTP request/response through the filter, driven by the test.
/// Dropping it ends the stream (log, done, delete) if `finish` was not called.
pub struct HttpStream<'h> {
    host: &'h mut Host,
    id: u32,
    /// Made by [`Host::attach`]: dropping it leaves the stream open.
    attached: bool,
}

fn to_map<V: AsRef<[u8]>>(headers: &[(&str, V)]) -> HeaderMap {
    HeaderMap::from_pairs(headers)
}

impl<'h> HttpStream<'h> {
    pub(crate) fn new(host: &'h mut Host, id: u32) -> HttpStream<'h> {
        HttpStream {
            host,
            id,
            attached: false,
        }
    }

    /// The context id.
    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn host(&self) -> &Host {
        self.host
    }

    pub fn host_mut(&mut self) -> &mut Host {
        self.host
    }

    fn st(&self) -> &StreamState {
        // The stream exists for as long as this handle does.
        self.host
            .store
            .data()
            .streams
            .get(&self.id)
            .unwrap_or_else(|| unreachable!("stream state removed while its handle is alive"))
    }

    /// Header values may be any bytes (`&str` or `&[u8]`).
    pub fn request_headers<V: AsRef<[u8]>>(
        &mut self,
        headers: &[(&str, V)],
        end_of_stream: bool,
    ) -> Result<Action, HostError> {
        self.host.deliver_headers(
            self.id,
            Direction::Request,
            to_map(headers),
            end_of_stream,
            false,
        )
    }

    pub fn request_body(&mut self, chunk: &[u8], end_of_stream: bool) -> Result<Action, HostError> {
        self.host
            .body(self.id, Direction::Request, chunk, end_of_stream)
    }

    pub fn request_trailers<V: AsRef<[u8]>>(
        &mut self,
        trailers: &[(&str, V)],
    ) -> Result<Action, HostError> {
        self.host
            .trailers(self.id, Direction::Request, to_map(trailers))
    }

    /// Header values may be any bytes (`&str` or `&[u8]`).
    pub fn response_headers<V: AsRef<[u8]>>(
        &mut self,
        headers: &[(&str, V)],
        end_of_stream: bool,
    ) -> Result<Action, HostError> {
        self.host.deliver_headers(
            self.id,
            Direction::Response,
            to_map(headers),
            end_of_stream,
            false,
        )
    }

    pub fn response_body(
        &mut self,
        chunk: &[u8],
        end_of_stream: bool,
    ) -> Result<Action, HostError> {
        self.host
            .body(self.id, Direction::Response, chunk, end_of_stream)
    }

    pub fn response_trailers<V: AsRef<[u8]>>(
        &mut self,
        trailers: &[(&str, V)],
    ) -> Result<Action, HostError> {
        self.host
            .trailers(self.id, Direction::Response, to_map(trailers))
    }

    /// Headers (end_of_stream when `body` is empty), then the body split as
    /// `chunking` says. Returns every callback's action, headers first.
    pub fn request<V: AsRef<[u8]>>(
        &mut self,
        headers: &[(&str, V)],
        body: &[u8],
        chunking: &Chunking,
    ) -> Result<Vec<Action>, HostError> {
        let mut out = vec![self.request_headers(headers, body.is_empty())?];
        if !body.is_empty() {
            out.extend(self.feed(Direction::Request, body, chunking)?);
        }
        Ok(out)
    }

    /// Like [`HttpStream::request`] for the upstream's response.
    pub fn response<V: AsRef<[u8]>>(
        &mut self,
        headers: &[(&str, V)],
        body: &[u8],
        chunking: &Chunking,
    ) -> Result<Vec<Action>, HostError> {
        let mut out = vec![self.response_headers(headers, body.is_empty())?];
        if !body.is_empty() {
            out.extend(self.feed(Direction::Response, body, chunking)?);
        }
        Ok(out)
    }

    /// Feeds a body in chunks, end_of_stream on the last (or on an extra
    /// empty chunk for [`Chunking::EmptyEos`]).
    pub fn feed(
        &mut self,
        dir: Direction,
        body: &[u8],
        chunking: &Chunking,
    ) -> Result<Vec<Action>, HostError> {
        let (chunks, empty_eos) = chunking.split(body);
        let n = chunks.len();
        let mut out = Vec::with_capacity(n + 1);
        for (i, c) in chunks.into_iter().enumerate() {
            let eos = !empty_eos && i + 1 == n;
            out.push(self.host.body(self.id, dir, c, eos)?);
        }
        if empty_eos {
            out.push(self.host.body(self.id, dir, b"", true)?);
        }
        Ok(out)
    }

    /// Ends the stream: `proxy_on_log`, `proxy_on_done`, `proxy_on_delete`.
    pub fn finish(&mut self) -> Result<(), HostError> {
        self.host.finish_stream(self.id)
    }

    // ---- what the module produced ----

    /// Request headers as they went upstream (None: not forwarded).
    pub fn request_headers_out(&self) -> Option<&HeaderMap> {
        self.st().request.headers_forwarded.as_ref()
    }

    /// Request body bytes forwarded upstream so far.
    pub fn request_body_out(&self) -> &[u8] {
        &self.st().request.body.forwarded
    }

    pub fn request_trailers_out(&self) -> Option<&HeaderMap> {
        self.st().request.trailers_forwarded.as_ref()
    }

    /// end_of_stream went upstream.
    pub fn request_complete(&self) -> bool {
        self.st().request.complete
    }

    /// Response headers as the client gets them (None: none yet).
    pub fn response_headers_out(&self) -> Option<&HeaderMap> {
        self.st().response.headers_forwarded.as_ref()
    }

    /// Response body bytes sent to the client so far.
    pub fn response_body_out(&self) -> &[u8] {
        &self.st().response.body.forwarded
    }

    pub fn response_trailers_out(&self) -> Option<&HeaderMap> {
        self.st().response.trailers_forwarded.as_ref()
    }

    /// end_of_stream went to the client.
    pub fn response_complete(&self) -> bool {
        self.st().response.complete
    }

    /// The `:status` the client gets.
    pub fn response_status(&self) -> Option<u16> {
        self.response_headers_out()
            .and_then(|h| h.get(":status"))
            .and_then(|s| s.parse().ok())
    }

    /// The live request header map (what the module last left in it).
    pub fn request_headers_now(&self) -> &HeaderMap {
        &self.st().request.headers
    }

    pub fn response_headers_now(&self) -> &HeaderMap {
        &self.st().response.headers
    }

    /// What sits in the filter's buffer now (bytes the module held back by
    /// returning Pause).
    pub fn request_buffered(&self) -> &[u8] {
        &self.st().request.body.buffered
    }

    pub fn response_buffered(&self) -> &[u8] {
        &self.st().response.body.buffered
    }

    /// The module's first local reply, as it sent it.
    pub fn local_response(&self) -> Option<&LocalResponse> {
        self.st().local_reply.as_ref()
    }

    pub fn local_reply_path(&self) -> Option<LocalReplyPath> {
        self.st().local_reply_path
    }

    /// Pause from the request headers stalled the request (Envoy never calls
    /// the body callbacks; the request hangs).
    pub fn request_stalled_at_headers(&self) -> bool {
        self.st().request.stalled_at_headers
    }

    pub fn response_stalled_at_headers(&self) -> bool {
        self.st().response.stalled_at_headers
    }

    /// The client sent everything but nothing ended the request: it hangs.
    pub fn request_hung(&self) -> bool {
        let st = self.st();
        st.local_reply.is_none() && st.request.eos_received && !st.request.complete
    }

    /// The upstream sent everything but the client's response never ended.
    pub fn response_hung(&self) -> bool {
        let st = self.st();
        st.response.eos_received && !st.response.complete && !st.response.reset
    }

    /// Upstream request reset (a local reply after it had started).
    pub fn request_reset(&self) -> bool {
        self.st().request.reset
    }

    /// Client response reset (a local reply after headers went out).
    pub fn response_reset(&self) -> bool {
        self.st().response.reset
    }

    /// Data Envoy held because the headers callback paused.
    pub fn request_held(&self) -> &[u8] {
        &self.st().request.held
    }

    pub fn request_body_callbacks(&self) -> usize {
        self.st().request.body.callbacks
    }

    pub fn response_body_callbacks(&self) -> usize {
        self.st().response.body.callbacks
    }

    /// Calls the test made that Envoy would not have delivered.
    pub fn ignored_calls(&self) -> &[String] {
        &self.st().ignored_calls
    }

    /// `proxy_close_stream` stream types the module asked to close.
    pub fn close_requests(&self) -> &[u32] {
        &self.st().close_requested
    }

    /// Envoy's buffer limit was exceeded (413/500 sent by the host).
    pub fn buffer_limit_hit(&self) -> Option<Direction> {
        self.st().buffer_limit_hit
    }
}

impl Drop for HttpStream<'_> {
    fn drop(&mut self) {
        if self.attached {
            return;
        }
        // Best effort: a trap here is recorded as the VM's failure.
        let _ = self.host.finish_stream(self.id);
        self.host.store.data_mut().streams.remove(&self.id);
    }
}
