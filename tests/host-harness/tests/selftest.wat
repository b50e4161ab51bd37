;; A tiny hand-written proxy-wasm HTTP filter for the harness self-tests.
;; Its behaviour is picked by the first byte of the plugin configuration:
;;   h (default) headers: :path := /new, remove x-remove, add x-added: 1;
;;               bodies: Pause until end_of_stream, then log the whole body and
;;               replace it with "whole:" + body (replace at 0, append at len)
;;   r  reject the configuration
;;   p  Pause from the request headers
;;   u  call proxy_http_call, which the harness does not implement
;;   l  answer the request locally (403 "denied", application/json)
;;   s  streaming bodies: prepend "<" and append ">" to every chunk
;;   g  read a request header in the body callback (Envoy: BadArgument)
;;   m  set_buffer_bytes at a middle offset (Envoy: BadArgument)
;;   t  log a critical line and trap
;;   i  loop forever in the body callback
;;   w  write "whole:" to stdout through WASI fd_write
;;   b  pass a pointer outside memory to proxy_log
;;   T  responses: Pause every body callback; in the trailers callback read
;;      the buffered body and replace it with "whole:" + body
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $get_buf (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_buffer_bytes" (func $set_buf (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get_hdr (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_replace_header_map_value" (func $rep_hdr (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add_hdr (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_remove_header_map_value" (func $rem_hdr (param i32 i32 i32) (result i32)))
  (import "env" "proxy_send_local_response" (func $local (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_http_call" (func $http_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 65536))
  (global $mode (mut i32) (i32.const 104))
  (data (i32.const 16) ":path")
  (data (i32.const 32) "/new")
  (data (i32.const 48) "x-remove")
  (data (i32.const 64) "x-added")
  (data (i32.const 80) "1")
  (data (i32.const 96) "whole:")
  (data (i32.const 112) "<")
  (data (i32.const 116) ">")
  (data (i32.const 128) "x-resp")
  (data (i32.const 144) "denied")
  ;; serialized [("content-type", "application/json")]
  (data (i32.const 160) "\01\00\00\00\0c\00\00\00\10\00\00\00content-type\00application/json\00")
  (data (i32.const 224) "upstream")
  (data (i32.const 240) "panicked at boom")

  (func (export "proxy_abi_version_0_2_1"))
  (func (export "_initialize"))

  (func $alloc (export "proxy_on_memory_allocate") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (block $ok
      (loop $grow
        (br_if $ok (i32.le_u (i32.add (local.get $p) (local.get $n))
                             (i32.mul (memory.size) (i32.const 65536))))
        (drop (memory.grow (i32.const 1)))
        (br $grow)))
    (global.set $heap (i32.and (i32.add (i32.add (local.get $p) (local.get $n)) (i32.const 7))
                               (i32.const -8)))
    (local.get $p))

  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param $ctx i32) (param $size i32) (result i32)
    (if (i32.eqz (local.get $size)) (then (return (i32.const 1))))
    (drop (call $get_buf (i32.const 7) (i32.const 0) (i32.const 1) (i32.const 400) (i32.const 404)))
    (global.set $mode (i32.load8_u (i32.load (i32.const 400))))
    (i32.ne (global.get $mode) (i32.const 114)))

  (func (export "proxy_on_request_headers") (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (if (i32.eq (global.get $mode) (i32.const 112)) (then (return (i32.const 1))))
    (if (i32.eq (global.get $mode) (i32.const 117)) (then
      (drop (call $http_call (i32.const 224) (i32.const 8) (i32.const 0) (i32.const 0) (i32.const 0)
                             (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1000) (i32.const 400)))
      (return (i32.const 0))))
    (if (i32.eq (global.get $mode) (i32.const 108)) (then
      (drop (call $local (i32.const 403) (i32.const 0) (i32.const 0) (i32.const 144) (i32.const 6)
                         (i32.const 160) (i32.const 42) (i32.const -1)))
      (return (i32.const 1))))
    (drop (call $rep_hdr (i32.const 0) (i32.const 16) (i32.const 5) (i32.const 32) (i32.const 4)))
    (drop (call $rem_hdr (i32.const 0) (i32.const 48) (i32.const 8)))
    (drop (call $add_hdr (i32.const 0) (i32.const 64) (i32.const 7) (i32.const 80) (i32.const 1)))
    (i32.const 0))

  ;; Pause until end_of_stream; then body := "whole:" + body.
  (func $whole (param $type i32) (param $size i32) (param $eos i32) (result i32)
    (local $p i32) (local $l i32)
    (if (i32.eqz (local.get $eos)) (then (return (i32.const 1))))
    (i32.store (i32.const 400) (i32.const 0))
    (i32.store (i32.const 404) (i32.const 0))
    (drop (call $get_buf (local.get $type) (i32.const 0) (local.get $size) (i32.const 400) (i32.const 404)))
    (local.set $p (i32.load (i32.const 400)))
    (local.set $l (i32.load (i32.const 404)))
    (drop (call $log (i32.const 2) (local.get $p) (local.get $l)))
    (drop (call $set_buf (local.get $type) (i32.const 0) (local.get $size) (i32.const 96) (i32.const 6)))
    (drop (call $set_buf (local.get $type) (i32.const 6) (i32.const 0) (local.get $p) (local.get $l)))
    (i32.const 0))

  ;; Every chunk := "<" + chunk + ">".
  (func $stream (param $type i32) (param $size i32) (result i32)
    (drop (call $set_buf (local.get $type) (i32.const 0) (i32.const 0) (i32.const 112) (i32.const 1)))
    (drop (call $set_buf (local.get $type) (i32.add (local.get $size) (i32.const 1)) (i32.const 0)
                         (i32.const 116) (i32.const 1)))
    (i32.const 0))

  (func (export "proxy_on_request_body") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (if (i32.eq (global.get $mode) (i32.const 115)) (then
      (return (call $stream (i32.const 0) (local.get $size)))))
    (if (i32.eq (global.get $mode) (i32.const 103)) (then
      (drop (call $get_hdr (i32.const 0) (i32.const 16) (i32.const 5) (i32.const 400) (i32.const 404)))
      (return (i32.const 0))))
    (if (i32.eq (global.get $mode) (i32.const 109)) (then
      (drop (call $set_buf (i32.const 0) (i32.const 1) (i32.const 1) (i32.const 112) (i32.const 1)))
      (return (i32.const 0))))
    (if (i32.eq (global.get $mode) (i32.const 116)) (then
      (drop (call $log (i32.const 5) (i32.const 240) (i32.const 16)))
      (unreachable)))
    (if (i32.eq (global.get $mode) (i32.const 105)) (then
      (loop $forever (br $forever))))
    (if (i32.eq (global.get $mode) (i32.const 119)) (then
      (i32.store (i32.const 408) (i32.const 96))
      (i32.store (i32.const 412) (i32.const 6))
      (drop (call $fd_write (i32.const 1) (i32.const 408) (i32.const 1) (i32.const 420)))
      (return (i32.const 0))))
    (if (i32.eq (global.get $mode) (i32.const 98)) (then
      (drop (call $log (i32.const 2) (i32.const -16) (i32.const 100)))
      (return (i32.const 0))))
    (call $whole (i32.const 0) (local.get $size) (local.get $eos)))

  (func (export "proxy_on_request_trailers") (param i32 i32) (result i32) (i32.const 0))

  (func (export "proxy_on_response_headers") (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (drop (call $rep_hdr (i32.const 2) (i32.const 128) (i32.const 6) (i32.const 80) (i32.const 1)))
    (i32.const 0))

  (func (export "proxy_on_response_body") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (if (i32.eq (global.get $mode) (i32.const 84)) (then (return (i32.const 1))))
    (if (i32.eq (global.get $mode) (i32.const 115)) (then
      (return (call $stream (i32.const 1) (local.get $size)))))
    (call $whole (i32.const 1) (local.get $size) (local.get $eos)))

  (func (export "proxy_on_response_trailers") (param $ctx i32) (param $n i32) (result i32)
    (if (i32.eq (global.get $mode) (i32.const 84)) (then
      (return (call $whole (i32.const 1) (i32.const 0x7fffffff) (i32.const 1)))))
    (i32.const 0))
  (func (export "proxy_on_log") (param i32))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_delete") (param i32))
)
