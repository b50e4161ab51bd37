//! Incremental Server-Sent Events parser and encoder.
//!
//! The parser accepts the body in arbitrary pieces (a split may fall inside a
//! line, inside `\r\n`, or inside a UTF-8 character) and reports only whole
//! events, so any chunking of the same bytes gives the same events. It keeps
//! only the unfinished line and the current event's data, both bounded by
//! `max_line_bytes`: memory is O(longest event), never O(stream length).
//!
//! A converter also bounds everything it holds at once, parser and handler
//! together, by one cap (`max_held_bytes`): `SseConverter::held_bytes` never
//! exceeds it, and the stream ends with an error where it would.

use serde::Serialize;
use std::cell::Cell;
use std::fmt;

/// Default bound on one line (and on one event's data).
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// What the parser reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem<'a> {
    /// A dispatched event: its `event:` name (empty when none) and its
    /// `data:` lines joined with `\n`.
    /// `terminated` is false for the last event of a body that ended before
    /// its blank line: it may have been cut.
    Event {
        event: &'a str,
        data: &'a str,
        terminated: bool,
    },
    /// A comment line (`: keep-alive`), without the colon and one leading space.
    Comment(&'a str),
}

/// Why the parser stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseError {
    /// A line or event grew past the parser's bound.
    LineTooLong { limit: usize },
    /// The parser's and the handler's held bytes together would pass the cap.
    OverCap { cap: usize },
}

impl fmt::Display for SseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SseError::LineTooLong { limit } => write!(
                f,
                "upstream sent an SSE line or event longer than {limit} bytes"
            ),
            SseError::OverCap { cap } => over_cap_message(f, *cap),
        }
    }
}

/// The message a stream ends with when its held bytes would pass the cap.
pub fn over_cap(cap: usize) -> String {
    SseError::OverCap { cap }.to_string()
}

fn over_cap_message(f: &mut fmt::Formatter<'_>, cap: usize) -> fmt::Result {
    write!(
        f,
        "the upstream's stream needed more than {cap} bytes held at once to convert (max_held_bytes)"
    )
}

#[derive(Debug)]
pub struct SseParser {
    line: Vec<u8>,
    /// The previous piece ended in `\r`; a `\n` starting the next one belongs to it.
    skip_lf: bool,
    data: String,
    has_data: bool,
    event: String,
    max_line_bytes: usize,
    /// Bound on what the parser holds plus what its handler holds.
    cap: usize,
}

impl Default for SseParser {
    fn default() -> Self {
        SseParser::new(MAX_LINE_BYTES)
    }
}

impl SseParser {
    pub fn new(max_line_bytes: usize) -> SseParser {
        SseParser::with_cap(max_line_bytes, usize::MAX)
    }

    /// A parser whose held bytes plus the handler's never pass `cap`.
    pub fn with_cap(max_line_bytes: usize, cap: usize) -> SseParser {
        SseParser {
            line: Vec::new(),
            skip_lf: false,
            data: String::new(),
            has_data: false,
            event: String::new(),
            max_line_bytes,
            cap,
        }
    }

    /// Bytes held between calls: the unfinished line and event.
    pub fn held_bytes(&self) -> usize {
        self.line.len() + self.data.len() + self.event.len()
    }

    /// Drops everything held, capacity included (after the stream ended).
    pub fn release(&mut self) {
        self.line = Vec::new();
        self.data = String::new();
        self.event = String::new();
        self.has_data = false;
    }

    /// Feeds the next piece of the body, calling `sink` for every completed item.
    pub fn feed(
        &mut self,
        bytes: &[u8],
        sink: &mut dyn FnMut(SseItem<'_>),
    ) -> Result<(), SseError> {
        self.feed_sharing(bytes, sink, &Cell::new(0))
    }

    /// `feed`, for a parser whose handler holds `elsewhere` bytes (kept
    /// current by the sink): the cap bounds both together.
    pub fn feed_sharing(
        &mut self,
        mut bytes: &[u8],
        sink: &mut dyn FnMut(SseItem<'_>),
        elsewhere: &Cell<usize>,
    ) -> Result<(), SseError> {
        if self.skip_lf && !bytes.is_empty() {
            self.skip_lf = false;
            if let Some((b'\n', rest)) = bytes.split_first() {
                bytes = rest;
            }
        }
        while let Some(end) = bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
            let (segment, rest) = bytes.split_at(end);
            let (terminator, rest) = match rest.split_first() {
                Some((&t, rest)) => (t, rest),
                None => break,
            };
            bytes = rest;
            if terminator == b'\r' {
                match bytes.split_first() {
                    Some((b'\n', rest)) => bytes = rest,
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            self.check_line(self.line.len() + segment.len(), elsewhere)?;
            if self.line.is_empty() {
                self.process_line(segment, sink, elsewhere)?;
            } else {
                self.line.extend_from_slice(segment);
                let line = std::mem::take(&mut self.line);
                let result = self.process_line(&line, sink, elsewhere);
                self.line = line;
                self.line.clear();
                result?;
            }
        }
        if !bytes.is_empty() {
            self.check_line(self.line.len() + bytes.len(), elsewhere)?;
            self.line.extend_from_slice(bytes);
        }
        Ok(())
    }

    /// Ends the body: a last line without a terminator and a last event
    /// without its blank line are still reported (some upstreams end that way).
    pub fn finish(&mut self, sink: &mut dyn FnMut(SseItem<'_>)) -> Result<(), SseError> {
        self.finish_sharing(sink, &Cell::new(0))
    }

    /// `finish` for a parser whose handler holds `elsewhere` bytes.
    pub fn finish_sharing(
        &mut self,
        sink: &mut dyn FnMut(SseItem<'_>),
        elsewhere: &Cell<usize>,
    ) -> Result<(), SseError> {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, sink, elsewhere)?;
        }
        self.dispatch(sink, false);
        Ok(())
    }

    fn check_len(&self, len: usize) -> Result<(), SseError> {
        if len > self.max_line_bytes {
            Err(SseError::LineTooLong {
                limit: self.max_line_bytes,
            })
        } else {
            Ok(())
        }
    }

    /// The current line (`line_len` bytes, wherever it is kept) plus the
    /// event so far plus `extra` plus the handler's bytes must fit the cap;
    /// counted the same whatever the chunking.
    fn check_held_with(
        &self,
        line_len: usize,
        extra: usize,
        elsewhere: &Cell<usize>,
    ) -> Result<(), SseError> {
        let held = line_len
            .saturating_add(self.data.len() + self.event.len())
            .saturating_add(extra)
            .saturating_add(elsewhere.get());
        if held > self.cap {
            Err(SseError::OverCap { cap: self.cap })
        } else {
            Ok(())
        }
    }

    /// Both bounds on a line of `line_len` bytes so far. A line is checked
    /// where its piece ends and again where it ends, so when both bounds are
    /// passed the error is the one the growing line passed first: the same
    /// error whatever the chunking.
    fn check_line(&self, line_len: usize, elsewhere: &Cell<usize>) -> Result<(), SseError> {
        let others = (self.data.len() + self.event.len()).saturating_add(elsewhere.get());
        let too_long = self.check_len(line_len);
        let over_cap = self.check_held_with(line_len, 0, elsewhere);
        match (too_long, over_cap) {
            (Err(long), Err(cap)) => Err(
                match self.max_line_bytes <= self.cap.saturating_sub(others) {
                    true => long,
                    false => cap,
                },
            ),
            (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(())) => Ok(()),
        }
    }

    fn process_line(
        &mut self,
        line: &[u8],
        sink: &mut dyn FnMut(SseItem<'_>),
        elsewhere: &Cell<usize>,
    ) -> Result<(), SseError> {
        if line.is_empty() {
            self.dispatch(sink, true);
            return Ok(());
        }
        let text = String::from_utf8_lossy(line);
        if let Some(comment) = text.strip_prefix(':') {
            sink(SseItem::Comment(
                comment.strip_prefix(' ').unwrap_or(comment),
            ));
            return Ok(());
        }
        let (field, value) = match text.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (text.as_ref(), ""),
        };
        match field {
            "data" => {
                self.check_len(self.data.len() + value.len() + 1)?;
                self.check_held_with(line.len(), value.len() + 1, elsewhere)?;
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => {
                self.check_held_with(line.len(), value.len(), elsewhere)?;
                self.event.clear();
                self.event.push_str(value);
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, sink: &mut dyn FnMut(SseItem<'_>), terminated: bool) {
        if self.has_data {
            sink(SseItem::Event {
                event: &self.event,
                data: &self.data,
                terminated,
            });
        }
        self.data.clear();
        self.event.clear();
        self.has_data = false;
    }
}

/// A stream converter's logic for one stream, fed whole SSE items.
pub trait SseHandler {
    fn on_item(&mut self, item: SseItem<'_>, out: &mut Vec<u8>);
    /// The body broke SSE framing (a line longer than the parser's bound),
    /// or the parser's and handler's held bytes would pass the cap.
    fn on_invalid(&mut self, error: &SseError, out: &mut Vec<u8>);
    /// The body ended.
    fn on_end(&mut self, out: &mut Vec<u8>);
    /// A final event has been written; nothing more will be.
    fn is_done(&self) -> bool;
    /// Bytes the handler holds across events (held fragments, collected blocks).
    fn held_bytes(&self) -> usize;
}

/// An incremental parser driving a handler: what every stream converter
/// shares. Feed it the body as it arrives; once the handler is done, the
/// rest of the body is not even parsed.
#[derive(Debug)]
pub struct SseConverter<H> {
    parser: SseParser,
    handler: H,
}

impl<H: SseHandler> SseConverter<H> {
    pub fn from_parts(handler: H, parser: SseParser) -> SseConverter<H> {
        SseConverter { parser, handler }
    }

    /// Converts the next piece of the body, appending to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if self.handler.is_done() {
            return;
        }
        let handler = &mut self.handler;
        let elsewhere = Cell::new(handler.held_bytes());
        let mut sink = |item: SseItem<'_>| {
            handler.on_item(item, out);
            elsewhere.set(handler.held_bytes());
        };
        if let Err(e) = self.parser.feed_sharing(bytes, &mut sink, &elsewhere) {
            handler.on_invalid(&e, out);
        }
        self.release_when_done();
    }

    /// Ends the body: a last event without its blank line still counts.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.handler.is_done() {
            return;
        }
        let handler = &mut self.handler;
        let elsewhere = Cell::new(handler.held_bytes());
        let mut sink = |item: SseItem<'_>| {
            handler.on_item(item, out);
            elsewhere.set(handler.held_bytes());
        };
        if let Err(e) = self.parser.finish_sharing(&mut sink, &elsewhere) {
            handler.on_invalid(&e, out);
        }
        handler.on_end(out);
        self.release_when_done();
    }

    /// Once the stream has ended nothing more is parsed: free the parser.
    fn release_when_done(&mut self) {
        if self.handler.is_done() && self.parser.held_bytes() > 0 {
            self.parser.release();
        }
    }

    /// Bytes held between calls, parser and handler together.
    pub fn held_bytes(&self) -> usize {
        self.parser.held_bytes() + self.handler.held_bytes()
    }

    pub fn is_done(&self) -> bool {
        self.handler.is_done()
    }

    pub fn handler(&self) -> &H {
        &self.handler
    }
}

/// Appends `event: <name>\ndata: <json>\n\n`.
pub fn write_event(out: &mut Vec<u8>, event: &str, data: &impl Serialize) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.as_bytes());
    out.push(b'\n');
    write_data(out, data);
}

/// Appends `data: <json>\n\n`.
pub fn write_data(out: &mut Vec<u8>, data: &impl Serialize) {
    out.extend_from_slice(b"data: ");
    // Serializing plain structs into a Vec cannot fail.
    let _ = crate::json::write(out, data);
    out.extend_from_slice(b"\n\n");
}

/// Appends `data: <text>\n\n` for a literal payload such as `[DONE]`.
pub fn write_raw_data(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\n\n");
}

/// Appends an SSE comment line, `: <text>\n\n`.
pub fn write_comment(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b": ");
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Owned {
        Event(String, String),
        Comment(String),
    }

    fn collect(pieces: &[&[u8]]) -> Vec<Owned> {
        let mut parser = SseParser::default();
        let mut items = Vec::new();
        let mut sink = |item: SseItem<'_>| {
            items.push(match item {
                SseItem::Event { event, data, .. } => {
                    Owned::Event(event.to_string(), data.to_string())
                }
                SseItem::Comment(text) => Owned::Comment(text.to_string()),
            })
        };
        for piece in pieces {
            parser.feed(piece, &mut sink).unwrap();
        }
        parser.finish(&mut sink).unwrap();
        items
    }

    fn event(name: &str, data: &str) -> Owned {
        Owned::Event(name.to_string(), data.to_string())
    }

    #[test]
    fn all_three_line_endings_give_the_same_events() {
        let expected = vec![event("a", "1"), event("", "2")];
        for body in [
            "event: a\ndata: 1\n\ndata: 2\n\n",
            "event: a\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n",
            "event: a\rdata: 1\r\rdata: 2\r\r",
        ] {
            assert_eq!(collect(&[body.as_bytes()]), expected, "{body:?}");
        }
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines() {
        assert_eq!(
            collect(&[b"data: a\ndata:b\ndata:  c\n\n"]),
            vec![event("", "a\nb\n c")]
        );
    }

    #[test]
    fn comments_are_reported_and_unknown_fields_ignored() {
        let items = collect(&[b": OPENROUTER PROCESSING\n\nid: 7\nretry: 10\nfoo\ndata: x\n\n"]);
        assert_eq!(
            items,
            vec![
                Owned::Comment("OPENROUTER PROCESSING".to_string()),
                event("", "x")
            ]
        );
    }

    #[test]
    fn a_last_event_without_its_blank_line_is_still_reported() {
        assert_eq!(collect(&[b"event: e\ndata: {}"]), vec![event("e", "{}")]);
        assert_eq!(collect(&[b"data: {}\n"]), vec![event("", "{}")]);
    }

    #[test]
    fn a_blank_line_without_data_dispatches_nothing() {
        assert_eq!(collect(&[b"event: lonely\n\n\n\n"]), vec![]);
    }

    #[test]
    fn every_split_gives_the_same_events() {
        let body =
            "event: a\r\ndata: héllo 🦀\r\n\r\n: ping\rdata: x\r\rdata: [DONE]\n\n".as_bytes();
        let whole = collect(&[body]);
        assert_eq!(whole.len(), 4);
        for split in 0..=body.len() {
            let (a, b) = body.split_at(split);
            assert_eq!(collect(&[a, b]), whole, "split at {split}");
        }
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(collect(&bytes), whole);
    }

    #[test]
    fn a_split_between_cr_and_lf_is_one_line_ending() {
        assert_eq!(
            collect(&[b"data: 1\r", b"\n", b"\r", b"\ndata: 2\r", b"", b"\n\r\n"]),
            vec![event("", "1"), event("", "2")]
        );
    }

    #[test]
    fn lines_longer_than_the_bound_are_an_error() {
        let mut parser = SseParser::new(16);
        let mut sink = |_: SseItem<'_>| {};
        assert!(parser.feed(b"data: 0123456789", &mut sink).is_ok());
        assert_eq!(
            parser.feed(b"abcdef", &mut sink),
            Err(SseError::LineTooLong { limit: 16 })
        );
        let mut parser = SseParser::new(16);
        let err = parser.feed(b"data: 0123456789abcdef\n", &mut sink);
        assert_eq!(err, Err(SseError::LineTooLong { limit: 16 }));
    }

    #[test]
    fn event_data_across_lines_is_bounded_too() {
        let mut parser = SseParser::new(16);
        let mut sink = |_: SseItem<'_>| {};
        parser.feed(b"data: 0123456789\n", &mut sink).unwrap();
        assert!(parser.feed(b"data: 0123456789\n", &mut sink).is_err());
    }

    #[test]
    fn the_cap_counts_the_handlers_bytes_and_any_chunking_alike() {
        let body = b"event: e\ndata: 0123456789\ndata: abc\n\n";
        let outcome = |cap: usize, elsewhere: usize, pieces: &[&[u8]]| {
            let mut parser = SseParser::with_cap(1024, cap);
            let held = Cell::new(elsewhere);
            let mut events = 0;
            let mut sink = |_: SseItem<'_>| events += 1;
            let result = pieces
                .iter()
                .try_for_each(|piece| parser.feed_sharing(piece, &mut sink, &held));
            (result, events)
        };
        // The largest moment: the line `data: 0123456789` (16) and the
        // copy of its value in the event's data (11) while the name `e` (1)
        // is held: 28 bytes, plus the handler's.
        assert_eq!(outcome(28, 0, &[body]), (Ok(()), 1));
        assert_eq!(
            outcome(27, 0, &[body]),
            (Err(SseError::OverCap { cap: 27 }), 0)
        );
        assert_eq!(
            outcome(38, 10, &[body]),
            (Ok(()), 1),
            "the handler's 10 bytes count"
        );
        assert_eq!(
            outcome(37, 10, &[body]),
            (Err(SseError::OverCap { cap: 37 }), 0)
        );
        for split in 0..=body.len() {
            let (a, b) = body.split_at(split);
            assert_eq!(outcome(28, 0, &[a, b]), (Ok(()), 1), "split at {split}");
            assert_eq!(outcome(27, 0, &[a, b]).1, 0, "split at {split}");
            assert!(outcome(27, 0, &[a, b]).0.is_err(), "split at {split}");
        }
    }

    #[test]
    fn encoder_writes_named_events_and_data() {
        let mut out = Vec::new();
        write_event(&mut out, "ping", &serde_json::json!({"type": "ping"}));
        write_raw_data(&mut out, "[DONE]");
        write_comment(&mut out, "ping");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "event: ping\ndata: {\"type\":\"ping\"}\n\ndata: [DONE]\n\n: ping\n\n"
        );
    }
}
