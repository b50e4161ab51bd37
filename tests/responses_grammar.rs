//! The strict Responses stream checker (tests/common/responses.rs) itself:
//! it accepts the streams OpenAI recorded and rejects each broken variant,
//! naming the rule it breaks.

mod common;

use common::responses::*;
use common::*;
use serde_json::{json, Value};

fn recorded_events(name: &str) -> Vec<Value> {
    responses_events(&recorded_stream(name)).unwrap()
}

/// Events back to SSE, `sequence_number` renumbered 0, 1, 2….
fn to_sse(events: &[Value]) -> Vec<u8> {
    let mut out = String::new();
    for (n, event) in events.iter().enumerate() {
        let mut event = event.clone();
        event["sequence_number"] = json!(n);
        out.push_str(&format!(
            "event: {}\ndata: {event}\n\n",
            event["type"].as_str().unwrap()
        ));
    }
    out.into_bytes()
}

fn position(events: &[Value], kind: &str) -> usize {
    events
        .iter()
        .position(|e| e["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

/// `name`'s events changed by `edit` must be rejected with `reason`.
fn rejects(name: &str, reason: &str, edit: impl FnOnce(&mut Vec<Value>)) {
    let mut events = recorded_events(name);
    assert!(try_check_responses_stream(&to_sse(&events)).is_ok());
    edit(&mut events);
    let error = try_check_responses_stream(&to_sse(&events))
        .err()
        .unwrap_or_else(|| panic!("accepted a stream that {reason}"));
    assert!(
        error.contains(reason),
        "rejected for {error:?}, expected {reason:?}"
    );
}

#[test]
fn accepts_a_recorded_text_stream() {
    let stream = check_responses_stream(&recorded_stream("responses/stream-text.sse"));
    assert_eq!(
        stream.id,
        "resp_0b70e4946283a4df0068c9ef5ef4d88194adeeb6e2283d609a"
    );
    assert_eq!(stream.model, "gpt-4o-mini-2024-07-18");
    assert_eq!(stream.terminal, "response.completed");
    assert_eq!(stream.text(), "Hello! How can I assist you today?");
    assert_eq!(stream.items.len(), 1);
    assert_eq!(stream.response["usage"]["total_tokens"], 21);
    assert_eq!(stream.events, 17);
}

#[test]
fn accepts_a_recorded_function_call() {
    let stream = check_responses_stream(&recorded_stream("responses/stream-function-call.sse"));
    let calls = stream.items_of("function_call");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["name"], "get_weather_at_location");
    assert_eq!(calls[0]["call_id"], "call_0UFGPwrziw5rbinYp7rthrTb");
    assert_eq!(calls[0]["arguments"], r#"{"location":"San Francisco, CA"}"#);
    assert_eq!(stream.text(), "");
}

#[test]
fn accepts_recorded_reasoning_summaries_with_encrypted_content() {
    let stream = check_responses_stream(&recorded_stream(
        "responses/stream-reasoning-summary-encrypted.sse",
    ));
    let reasoning = stream.items_of("reasoning");
    assert_eq!(reasoning.len(), 1);
    assert_eq!(reasoning[0]["summary"].as_array().unwrap().len(), 4);
    assert!(reasoning[0]["encrypted_content"]
        .as_str()
        .unwrap()
        .starts_with("gAAAA"));
    assert!(stream
        .text()
        .starts_with("I'm not a road safety professional"));
    assert_eq!(stream.items[1]["type"], "message");
}

#[test]
fn accepts_a_recorded_custom_tool_call() {
    let stream = check_responses_stream(&recorded_stream(
        "responses/stream-custom-tool-call-reasoning.sse",
    ));
    let calls = stream.items_of("custom_tool_call");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["name"], "execute_sql");
    assert_eq!(calls[0]["input"], "SELECT * FROM users LIMIT 5;");
    assert!(calls[0]["id"].as_str().unwrap().starts_with("ctc_"));
}

#[test]
fn accepts_a_recorded_failure() {
    let stream = check_responses_stream(&recorded_stream(
        "responses/stream-error-insufficient-quota-failed.chunks.jsonl",
    ));
    assert_eq!(stream.terminal, "response.failed");
    assert_eq!(stream.response["error"]["code"], "insufficient_quota");
    assert_eq!(stream.errors.len(), 1);
    assert!(stream.items.is_empty());
}

#[test]
fn rejects_recorded_streams_the_bridge_must_not_write() {
    let old = try_check_responses_stream(&recorded_stream(
        "responses/stream-text-no-sequence-number.sse",
    ));
    assert!(old.unwrap_err().contains("sequence_number"));
    let queued =
        try_check_responses_stream(&recorded_stream("responses/stream-background-queued.sse"));
    assert!(queued.unwrap_err().contains("\"queued\""));
}

#[test]
fn rejects_broken_framing() {
    let sse = recorded_stream("responses/stream-text.sse");
    let text = String::from_utf8(sse.clone()).unwrap();
    let renamed = text.replacen("event: response.in_progress", "event: response.created", 1);
    assert!(try_check_responses_stream(renamed.as_bytes())
        .unwrap_err()
        .contains("event name"));
    let cut = &sse[..sse.len() - 1];
    assert!(try_check_responses_stream(cut)
        .unwrap_err()
        .contains("mid-event"));
    assert!(try_check_responses_stream(b"")
        .unwrap_err()
        .contains("empty"));
}

#[test]
fn rejects_sequence_numbers_that_skip_or_repeat() {
    let events = recorded_events("responses/stream-text.sse");
    let mut sse = String::from_utf8(to_sse(&events)).unwrap();
    sse = sse.replacen("\"sequence_number\":3", "\"sequence_number\":2", 1);
    assert!(try_check_responses_stream(sse.as_bytes())
        .unwrap_err()
        .contains("sequence_number 2, expected 3"));
}

#[test]
fn rejects_a_wrong_start() {
    rejects(
        "responses/stream-text.sse",
        "not response.in_progress",
        |e| {
            e.remove(1);
        },
    );
    rejects("responses/stream-text.sse", "not response.created", |e| {
        e.remove(0);
    });
    rejects("responses/stream-text.sse", "without resp_", |e| {
        e[0]["response"]["id"] = json!("chatcmpl-1");
    });
    rejects("responses/stream-text.sse", "differs from", |e| {
        e[1]["response"]["id"] = json!("resp_other");
    });
}

#[test]
fn rejects_text_that_does_not_add_up() {
    rejects("responses/stream-text.sse", "the deltas", |e| {
        let at = position(e, "response.output_text.delta");
        e[at]["delta"] = json!("Bye");
    });
    rejects(
        "responses/stream-text.sse",
        "differs from what streamed",
        |e| {
            let at = position(e, "response.output_item.done");
            e[at]["item"]["content"][0]["text"] = json!("something else");
        },
    );
    rejects(
        "responses/stream-text.sse",
        "text differs from the deltas",
        |e| {
            let at = position(e, "response.content_part.done");
            e[at]["part"]["text"] = json!("something else");
        },
    );
    rejects(
        "responses/stream-text.sse",
        "before its text's .done",
        |e| {
            let at = position(e, "response.output_text.done");
            e.remove(at);
        },
    );
    rejects("responses/stream-text.sse", "content differs", |e| {
        let at = position(e, "response.completed");
        e[at]["response"]["output"][0]["content"][0]["text"] = json!("x");
    });
}

#[test]
fn rejects_events_outside_their_item_or_part() {
    rejects("responses/stream-text.sse", "output_index", |e| {
        let at = position(e, "response.output_text.delta");
        e[at]["output_index"] = json!(1);
    });
    rejects("responses/stream-text.sse", "not the open part", |e| {
        let at = position(e, "response.output_text.delta");
        e[at]["content_index"] = json!(1);
    });
    rejects("responses/stream-text.sse", "inside item", |e| {
        let at = position(e, "response.output_text.delta");
        e[at]["item_id"] = json!("msg_other");
    });
    rejects("responses/stream-text.sse", "outside an item", |e| {
        let at = position(e, "response.output_item.added");
        e.remove(at);
    });
    rejects("responses/stream-text.sse", "part still open", |e| {
        let at = position(e, "response.content_part.done");
        e.remove(at);
    });
    rejects("responses/stream-text.sse", "while an item is open", |e| {
        let at = position(e, "response.output_item.done");
        let added = e[position(e, "response.output_item.added")].clone();
        e[at] = added;
    });
    rejects(
        "responses/stream-reasoning-summary-encrypted.sse",
        "summary_text.delta",
        |e| {
            let at = position(e, "response.reasoning_summary_part.done");
            let delta = e[position(e, "response.reasoning_summary_text.delta")].clone();
            e.insert(at + 1, delta);
        },
    );
}

#[test]
fn rejects_items_with_wrong_ids_or_indexes() {
    rejects("responses/stream-text.sse", "without msg_", |e| {
        for event in e.iter_mut() {
            if event["item"]["id"].is_string() {
                event["item"]["id"] = json!("item_1");
            }
            if event["item_id"].is_string() {
                event["item_id"] = json!("item_1");
            }
        }
    });
    rejects("responses/stream-text.sse", "expected 0", |e| {
        let at = position(e, "response.output_item.added");
        e[at]["output_index"] = json!(1);
    });
    rejects(
        "responses/stream-function-call.sse",
        "item type \"web_search_call\"",
        |e| {
            let at = position(e, "response.output_item.added");
            e[at]["item"]["type"] = json!("web_search_call");
        },
    );
}

#[test]
fn rejects_calls_that_change_or_do_not_add_up() {
    rejects("responses/stream-function-call.sse", "the deltas", |e| {
        let at = position(e, "response.function_call_arguments.done");
        e[at]["arguments"] = json!("{}");
    });
    rejects("responses/stream-function-call.sse", "name changed", |e| {
        let at = position(e, "response.output_item.done");
        e[at]["item"]["name"] = json!("other");
    });
    rejects(
        "responses/stream-function-call.sse",
        "without arguments.done",
        |e| {
            let at = position(e, "response.function_call_arguments.done");
            e.remove(at);
        },
    );
    rejects(
        "responses/stream-custom-tool-call-reasoning.sse",
        "inside a custom_tool_call item",
        |e| {
            let at = position(e, "response.custom_tool_call_input.delta");
            e[at]["type"] = json!("response.function_call_arguments.delta");
        },
    );
    rejects(
        "responses/stream-custom-tool-call-reasoning.sse",
        "custom_tool_call input",
        |e| {
            let at = position(e, "response.output_item.done") + 1;
            let at = at + position(&e[at..], "response.output_item.done");
            e[at]["item"]["input"] = json!("DROP TABLE users;");
        },
    );
}

#[test]
fn rejects_a_missing_doubled_or_incomplete_end() {
    rejects("responses/stream-text.sse", "ended without", |e| {
        e.pop();
    });
    rejects(
        "responses/stream-text.sse",
        "after response.completed",
        |e| {
            let last = e.last().unwrap().clone();
            e.push(last);
        },
    );
    rejects(
        "responses/stream-text.sse",
        "after response.completed",
        |e| {
            let delta = e[position(e, "response.output_text.delta")].clone();
            e.push(delta);
        },
    );
    rejects("responses/stream-text.sse", "with an item open", |e| {
        let at = position(e, "response.output_item.done");
        e.remove(at);
    });
    rejects("responses/stream-text.sse", "total_tokens", |e| {
        let at = position(e, "response.completed");
        e[at]["response"]["usage"]
            .as_object_mut()
            .unwrap()
            .remove("total_tokens");
    });
    rejects("responses/stream-text.sse", "cached_tokens", |e| {
        let at = position(e, "response.completed");
        e[at]["response"]["usage"]["input_tokens_details"] = json!({});
    });
    rejects(
        "responses/stream-text.sse",
        "has 0 items, 1 streamed",
        |e| {
            let at = position(e, "response.completed");
            e[at]["response"]["output"] = json!([]);
        },
    );
    rejects(
        "responses/stream-text.sse",
        "incomplete_details.reason",
        |e| {
            let at = position(e, "response.completed");
            e[at]["type"] = json!("response.incomplete");
            e[at]["response"]["status"] = json!("incomplete");
        },
    );
    rejects("responses/stream-text.sse", "without error code", |e| {
        let at = position(e, "response.completed");
        e[at]["type"] = json!("response.failed");
        e[at]["response"]["status"] = json!("failed");
    });
    rejects(
        "responses/stream-text.sse",
        "unexpected event response.queued",
        |e| {
            e.insert(2, json!({"type": "response.queued"}));
        },
    );
}

#[test]
fn accepts_a_stream_ending_incomplete_with_its_reason() {
    let mut events = recorded_events("responses/stream-text.sse");
    let at = position(&events, "response.completed");
    events[at]["type"] = json!("response.incomplete");
    events[at]["response"]["status"] = json!("incomplete");
    events[at]["response"]["incomplete_details"] = json!({"reason": "max_output_tokens"});
    let stream = check_responses_stream(&to_sse(&events));
    assert_eq!(stream.terminal, "response.incomplete");
    assert_eq!(
        stream.response["incomplete_details"]["reason"],
        "max_output_tokens"
    );
}
