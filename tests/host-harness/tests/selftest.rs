//! Harness self-tests: a hand-written module (selftest.wat) checks the host
//! side itself — buffer semantics, header maps, the Envoy stream rules, and
//! that anything unimplemented or broken fails loudly.

use std::time::Duration;

use host_harness::{
    deserialize_pairs, serialize_pairs, Action, Chunking, HeaderMap, Host, HostError, HostOptions,
    LocalReplyPath, LogLevel,
};

const WAT: &str = include_str!("selftest.wat");

fn host(mode: &str) -> Host {
    host_with(mode, HostOptions::default())
}

fn host_with(mode: &str, opts: HostOptions) -> Host {
    let mut h = Host::with_options(WAT.as_bytes(), opts).expect("load selftest.wat");
    assert!(h.start(mode).expect("start"), "mode {mode} rejected");
    h
}

const REQ: &[(&str, &str)] = &[
    (":method", "POST"),
    (":path", "/old?q=1"),
    (":authority", "example"),
    ("X-Remove", "a"),
    ("content-type", "application/json"),
];

fn body(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

#[test]
fn pairs_round_trip_and_reject_garbage() {
    let pairs = vec![(":path", "/x"), ("a", ""), ("k", "v\u{e9}")];
    let bytes = serialize_pairs(&pairs);
    let back = deserialize_pairs(&bytes).unwrap();
    let back: Vec<(String, String)> = back
        .into_iter()
        .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
        .collect();
    let want: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(back, want);
    assert!(deserialize_pairs(&[]).unwrap().is_empty());
    assert!(deserialize_pairs(&bytes[..bytes.len() - 1]).is_err());
    assert!(deserialize_pairs(&[9, 0, 0, 0]).is_err());
    assert!(deserialize_pairs(&[1, 0]).is_err());
}

#[test]
fn header_map_behaves_like_envoy() {
    let mut m = HeaderMap::from_pairs(&[("A", "1"), (":path", "/"), ("a", "2")]);
    assert_eq!(
        m.keys(),
        vec![":path", "a", "a"],
        "pseudo-headers first, keys lower-cased"
    );
    assert_eq!(m.get("A"), Some("1"));
    assert_eq!(m.get_all("a"), vec!["1", "2"]);
    m.replace("a", "3");
    assert_eq!(m.get_all("a"), vec!["3"]);
    m.add(":method", "GET");
    assert_eq!(m.keys(), vec![":path", ":method", "a"]);
    m.remove("A");
    assert!(!m.contains("a"));
}

#[test]
fn chunking_splits() {
    let b = b"abcdefg";
    assert_eq!(Chunking::Whole.split(b).0, vec![&b[..]]);
    assert_eq!(
        Chunking::Bytes(3).split(b).0,
        vec![&b"abc"[..], b"def", b"g"]
    );
    assert_eq!(Chunking::Count(2).split(b).0, vec![&b"abcd"[..], b"efg"]);
    assert_eq!(
        Chunking::Sizes(vec![1, 0, 2]).split(b).0,
        vec![&b"a"[..], b"", b"bc", b"defg"]
    );
    let (c, empty) = Chunking::Bytes(4).then_empty_eos().split(b);
    assert_eq!(c, vec![&b"abcd"[..], b"efg"]);
    assert!(empty);
}

#[test]
fn configuration_accepted_and_rejected() {
    let mut h = Host::new(WAT.as_bytes()).unwrap();
    assert_eq!(h.abi_version(), "proxy_abi_version_0_2_1");
    assert!(h.missing_exports().is_empty(), "{:?}", h.missing_exports());
    assert!(
        !h.start("reject").unwrap(),
        "config starting with r is rejected"
    );
    let mut h = Host::new(WAT.as_bytes()).unwrap();
    assert!(h.start("hello").unwrap());
}

#[test]
fn request_headers_are_changed_in_the_headers_callback() {
    let mut h = host("h");
    let mut s = h.http_stream();
    assert_eq!(s.request_headers(REQ, true).unwrap(), Action::Continue);
    let out = s.request_headers_out().expect("forwarded");
    assert_eq!(out.get(":path"), Some("/new"));
    assert!(!out.contains("x-remove"));
    assert_eq!(out.get("x-added"), Some("1"));
    assert_eq!(out.get("content-type"), Some("application/json"));
    assert!(s.request_complete());
    s.finish().unwrap();
    drop(s);
    assert!(h.violations().is_empty(), "{:?}", h.violations());
}

fn check_buffered(chunking: Chunking, len: usize) {
    let mut h = host("h");
    let b = body(len);
    let mut s = h.http_stream();
    let actions = s.request(REQ, &b, &chunking).unwrap();
    let (chunks, empty_eos) = chunking.split(&b);
    let n = chunks.len() + usize::from(empty_eos);
    assert_eq!(actions.len(), n + 1);
    assert_eq!(s.request_body_callbacks(), n);
    assert!(
        actions[1..n].iter().all(|a| *a == Action::Pause),
        "{actions:?}"
    );
    assert_eq!(actions[n], Action::Continue);
    let mut want = b"whole:".to_vec();
    want.extend(&b);
    assert_eq!(s.request_body_out(), &want[..], "{chunking:?}");
    assert!(s.request_complete());
    assert!(s.request_buffered().is_empty());
    drop(s);
    // The module saw the whole body in one buffer at end_of_stream.
    let logged = h.logs().iter().find(|l| l.level == LogLevel::Info).unwrap();
    assert_eq!(logged.message.as_bytes(), &b[..]);
    assert!(h.violations().is_empty(), "{:?}", h.violations());
}

#[test]
fn buffered_body_is_presented_whole_fifty_callbacks() {
    check_buffered(Chunking::Count(50), 1000);
}

#[test]
fn buffered_body_is_presented_whole_one_byte_per_callback() {
    check_buffered(Chunking::Bytes(1), 300);
}

#[test]
fn buffered_body_with_empty_final_chunk() {
    check_buffered(Chunking::Bytes(7).then_empty_eos(), 100);
    check_buffered(Chunking::Whole.then_empty_eos(), 10);
}

#[test]
fn held_body_is_not_forwarded_before_end_of_stream() {
    let mut h = host("h");
    let mut s = h.http_stream();
    s.request_headers(REQ, false).unwrap();
    assert_eq!(s.request_body(b"abc", false).unwrap(), Action::Pause);
    assert_eq!(s.request_body(b"def", false).unwrap(), Action::Pause);
    assert!(s.request_body_out().is_empty());
    assert_eq!(s.request_buffered(), b"abcdef");
    assert!(!s.request_complete());
    s.request_body(b"", true).unwrap();
    assert_eq!(s.request_body_out(), b"whole:abcdef");
}

#[test]
fn streaming_chunks_prepend_and_append() {
    let mut h = host("s");
    let mut s = h.http_stream();
    s.request_headers(REQ, false).unwrap();
    assert_eq!(s.request_body(b"ab", false).unwrap(), Action::Continue);
    assert_eq!(s.request_body_out(), b"<ab>");
    s.request_body(b"c", false).unwrap();
    s.request_body(b"", true).unwrap();
    assert_eq!(s.request_body_out(), b"<ab><c><>");
    assert!(s.request_complete());
    s.response(&[(":status", "200")], b"xyz", &Chunking::Bytes(1))
        .unwrap();
    assert_eq!(s.response_body_out(), b"<x><y><z>");
    assert_eq!(s.response_headers_out().unwrap().get("x-resp"), Some("1"));
    assert!(s.response_complete());
}

#[test]
fn response_buffered_until_end_of_stream() {
    let mut h = host("h");
    let mut s = h.http_stream();
    s.request(REQ, b"{}", &Chunking::Whole).unwrap();
    let resp = body(500);
    s.response(&[(":status", "200")], &resp, &Chunking::Bytes(1))
        .unwrap();
    let mut want = b"whole:".to_vec();
    want.extend(&resp);
    assert_eq!(s.response_body_out(), &want[..]);
    assert_eq!(s.response_status(), Some(200));
}

#[test]
fn buffered_body_is_reachable_from_the_trailers_callback() {
    let mut h = host("T");
    let mut s = h.http_stream();
    s.request(REQ, b"{}", &Chunking::Whole).unwrap();
    s.response_headers(&[(":status", "200")], false).unwrap();
    assert_eq!(s.response_body(b"abc", false).unwrap(), Action::Pause);
    assert_eq!(s.response_body(b"def", false).unwrap(), Action::Pause);
    assert!(s.response_body_out().is_empty());
    assert_eq!(
        s.response_trailers(&[("grpc-status", "0")]).unwrap(),
        Action::Continue
    );
    assert_eq!(s.response_body_out(), b"whole:abcdef");
    assert_eq!(
        s.response_trailers_out().unwrap().get("grpc-status"),
        Some("0")
    );
    assert!(s.response_complete());
    drop(s);
    assert!(h.violations().is_empty(), "{:?}", h.violations());
}

#[test]
fn a_stale_content_length_is_flagged() {
    let mut h = host("h");
    let mut s = h.http_stream();
    let mut headers = REQ.to_vec();
    headers.push(("content-length", "2"));
    s.request(&headers, b"ab", &Chunking::Whole).unwrap();
    assert_eq!(s.request_body_out(), b"whole:ab");
    drop(s);
    assert_eq!(
        h.violations(),
        ["request went out with content-length 2 but 8 body bytes"]
    );
}

#[test]
fn pause_from_request_headers_stalls_the_request() {
    let mut h = host("p");
    let mut s = h.http_stream();
    assert_eq!(s.request_headers(REQ, false).unwrap(), Action::Pause);
    assert_eq!(s.request_body(b"abc", true).unwrap(), Action::NotDelivered);
    assert!(s.request_stalled_at_headers());
    assert_eq!(
        s.request_body_callbacks(),
        0,
        "Envoy never calls the body callback"
    );
    assert!(s.request_headers_out().is_none());
    assert!(s.request_hung());
    assert_eq!(s.request_held(), b"abc");
}

#[test]
fn reading_request_headers_in_the_body_callback_is_flagged() {
    let mut h = host("g");
    let mut s = h.http_stream();
    s.request(REQ, b"abc", &Chunking::Whole).unwrap();
    drop(s);
    let v = h.violations();
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].contains("HttpRequestHeaders is not available"),
        "{v:?}"
    );
}

#[test]
fn writing_a_body_at_a_middle_offset_is_bad_argument() {
    let mut h = host("m");
    let mut s = h.http_stream();
    s.request(REQ, b"abcdef", &Chunking::Whole).unwrap();
    assert_eq!(s.request_body_out(), b"abcdef", "unchanged");
    drop(s);
    assert!(
        h.violations().iter().any(|v| v.contains("start 1 inside")),
        "{:?}",
        h.violations()
    );
}

#[test]
fn unimplemented_host_call_fails_loudly_and_fails_the_vm() {
    let mut h = host("u");
    assert!(h.imports().iter().any(|i| i == "env.proxy_http_call"));
    let mut s = h.http_stream();
    let err = s.request_headers(REQ, true).unwrap_err();
    let msg = err.to_string();
    assert!(err.is_trap(), "{msg}");
    assert!(
        msg.contains("unimplemented host call env.proxy_http_call"),
        "{msg}"
    );
    assert!(msg.contains("proxy_on_request_headers"), "{msg}");
    drop(s);
    let mut s = h.http_stream();
    match s.request_headers(REQ, true) {
        Err(HostError::VmFailed(m)) => assert!(m.contains("proxy_http_call"), "{m}"),
        other => panic!("expected VmFailed, got {other:?}"),
    }
}

#[test]
fn a_trap_carries_the_critical_log_line() {
    let mut h = host("t");
    let mut s = h.http_stream();
    s.request_headers(REQ, false).unwrap();
    let err = s.request_body(b"x", true).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("panicked at boom"), "{msg}");
    assert!(msg.contains("unreachable"), "{msg}");
    drop(s);
    assert!(h.failure().is_some());
}

#[test]
fn an_endless_loop_hits_the_time_limit() {
    let opts = HostOptions {
        call_timeout: Duration::from_millis(300),
        ..HostOptions::default()
    };
    let mut h = host_with("i", opts);
    let mut s = h.http_stream();
    s.request_headers(REQ, false).unwrap();
    let err = s.request_body(b"x", true).unwrap_err();
    assert!(err.to_string().contains("time limit"), "{err}");
}

#[test]
fn a_bad_guest_pointer_is_a_trap_naming_the_call() {
    let mut h = host("b");
    let mut s = h.http_stream();
    s.request_headers(REQ, false).unwrap();
    let err = s.request_body(b"x", true).unwrap_err().to_string();
    assert!(err.contains("proxy_log"), "{err}");
    assert!(err.contains("out of bounds"), "{err}");
}

#[test]
fn stdout_is_captured() {
    let mut h = host("w");
    let mut s = h.http_stream();
    s.request(REQ, b"x", &Chunking::Whole).unwrap();
    drop(s);
    assert_eq!(h.stdout(), b"whole:");
}

#[test]
fn local_reply_runs_through_the_module_response_callbacks() {
    let mut h = host("l");
    let mut s = h.http_stream();
    assert_eq!(s.request_headers(REQ, false).unwrap(), Action::Pause);
    let lr = s.local_response().expect("local reply").clone();
    assert_eq!(lr.status, 403);
    assert_eq!(lr.body, b"denied");
    assert_eq!(lr.header("content-type"), Some("application/json"));
    assert_eq!(lr.sent_from, "proxy_on_request_headers");
    assert_eq!(s.local_reply_path(), Some(LocalReplyPath::ViaFilterChain));
    // Envoy passes the local reply through the encoder filters, this one too.
    let out = s.response_headers_out().unwrap();
    assert_eq!(out.get(":status"), Some("403"));
    assert_eq!(out.get("x-resp"), Some("1"));
    assert_eq!(out.get("content-length"), Some("6"));
    assert_eq!(s.response_body_out(), b"whole:denied");
    assert!(s.response_complete());
    // Nothing went upstream, and later traffic is not delivered.
    assert!(s.request_headers_out().is_none());
    assert_eq!(s.request_body(b"late", true).unwrap(), Action::NotDelivered);
    assert_eq!(s.ignored_calls().len(), 1);
}

#[test]
fn buffer_limit_sends_413() {
    let opts = HostOptions {
        buffer_limit: Some(10),
        ..HostOptions::default()
    };
    let mut h = host_with("h", opts);
    let mut s = h.http_stream();
    s.request_headers(REQ, false).unwrap();
    assert_eq!(s.request_body(b"0123456", false).unwrap(), Action::Pause);
    s.request_body(b"789abc", true).unwrap();
    assert_eq!(s.local_response().unwrap().status, 413);
    assert_eq!(s.response_status(), Some(413));
    assert!(s.request_body_out().is_empty());
    assert!(s.buffer_limit_hit().is_some());
}

#[test]
fn one_vm_serves_many_streams() {
    let mut h = host("s");
    for i in 0..500 {
        let mut s = h.http_stream();
        let b = format!("req{i}");
        s.request(REQ, b.as_bytes(), &Chunking::Whole).unwrap();
        assert_eq!(s.request_body_out(), format!("<{b}>").as_bytes());
        s.finish().unwrap();
    }
    assert_eq!(h.live_streams(), 0);
}

#[test]
fn interleaved_streams_keep_separate_state() {
    let mut h = host("h");
    let a = h.open_stream();
    let b = h.open_stream();
    h.attach(a).unwrap().request_headers(REQ, false).unwrap();
    h.attach(b).unwrap().request_headers(REQ, false).unwrap();
    h.attach(a).unwrap().request_body(b"AA", false).unwrap();
    h.attach(b).unwrap().request_body(b"B", false).unwrap();
    h.attach(a).unwrap().request_body(b"A", true).unwrap();
    h.attach(b).unwrap().request_body(b"BB", true).unwrap();
    assert_eq!(h.attach(a).unwrap().request_body_out(), b"whole:AAA");
    assert_eq!(h.attach(b).unwrap().request_body_out(), b"whole:BBB");
    h.end_stream(a).unwrap();
    h.end_stream(b).unwrap();
    assert_eq!(h.live_streams(), 0);
    assert!(h.attach(a).is_err());
}

#[test]
fn misuse_is_reported() {
    let mut h = host("h");
    let mut s = h.http_stream();
    let e = s.response_headers(&[(":status", "200")], true).unwrap_err();
    assert!(matches!(e, HostError::Usage(_)), "{e}");
    s.request_headers(REQ, true).unwrap();
    let e = s.request_body(b"x", true).unwrap_err();
    assert!(matches!(e, HostError::Usage(_)), "{e}");
}

#[test]
fn module_without_abi_version_is_refused() {
    let wat = r#"(module (memory (export "memory") 1))"#;
    match Host::new(wat.as_bytes()) {
        Err(HostError::Load(m)) => assert!(m.contains("proxy_abi_version"), "{m}"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a module without an ABI version export must be refused"),
    }
}
