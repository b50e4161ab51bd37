"""Recorded provider payloads (fixtures/) and what docs/ says they become.

Expected values in the tests are derived here from the fixtures, through the
mapping rules of docs/ (docs/README.md#protocol-pairs), rather than written out by hand.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

# docs/anthropic_client.md#response-mapping: OpenAI finish_reason -> Anthropic stop_reason.
STOP_REASON = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

# docs/protocols.md#anthropic-error-types: HTTP status -> Anthropic error type.
ANTHROPIC_ERROR_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}


def anthropic_error_type(status):
    return ANTHROPIC_ERROR_TYPE.get(status, "api_error")


def fixture_bytes(relative):
    return (FIXTURES / relative).read_bytes()


def fixture_json(relative):
    return json.loads(fixture_bytes(relative))


def sse_from_jsonl(relative):
    """Re-frame a `.chunks.jsonl` fixture (one SSE data payload per line) as SSE."""
    lines = fixture_bytes(relative).decode().splitlines()
    return "".join(f"data: {line}\n\n" for line in lines if line.strip()).encode() + b"data: [DONE]\n\n"


def sse_data(stream):
    """The JSON payloads of an OpenAI SSE stream, in order ([DONE] excluded)."""
    payloads = []
    for line in stream.decode().splitlines():
        if line.startswith("data:") and line[5:].strip() != "[DONE]":
            payloads.append(json.loads(line[5:]))
    return payloads


@dataclass
class Completion:
    """What an OpenAI answer carries, streamed or not, reduced to its content."""

    reasoning: str = ""
    text: str = ""
    tool_calls: list = field(default_factory=list)  # dicts: id, name, arguments (str)
    finish_reason: str = None
    usage: dict = None


def fold_stream(stream):
    """Accumulate an OpenAI chat.completion.chunk stream into a Completion."""
    result = Completion()
    calls = {}
    for chunk in sse_data(stream):
        if chunk.get("usage"):
            result.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            result.reasoning += delta.get("reasoning_content") or delta.get("reasoning") or ""
            result.text += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                slot = calls.setdefault(call["index"], {"id": None, "name": None, "arguments": ""})
                function = call.get("function") or {}
                slot["id"] = call.get("id") or slot["id"]
                slot["name"] = function.get("name") or slot["name"]
                slot["arguments"] += function.get("arguments") or ""
            if choice.get("finish_reason"):
                result.finish_reason = choice["finish_reason"]
    result.tool_calls = [calls[i] for i in sorted(calls)]
    return result


def completion_of(response):
    """A non-streaming chat.completion as a Completion."""
    choice = response["choices"][0]
    message = choice.get("message") or {}
    calls = [
        {"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
        for c in message.get("tool_calls") or []
    ]
    return Completion(
        reasoning=message.get("reasoning_content") or message.get("reasoning") or "",
        text=message.get("content") or "",
        tool_calls=calls,
        finish_reason=choice.get("finish_reason"),
        usage=response.get("usage"),
    )


def anthropic_usage(usage):
    """docs/anthropic_client.md#usage: OpenAI usage -> Anthropic usage."""
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return {
        "input_tokens": max(0, usage["prompt_tokens"] - cached),
        "cache_read_input_tokens": cached,
        "output_tokens": usage["completion_tokens"],
    }


def anthropic_content(completion):
    """docs/anthropic_client.md#response-mapping: the content blocks, in order, as comparable tuples."""
    blocks = []
    if completion.reasoning:
        blocks.append(("thinking", completion.reasoning))
    if completion.text:
        blocks.append(("text", completion.text))
    for call in completion.tool_calls:
        blocks.append(("tool_use", call["id"], call["name"], json.loads(call["arguments"] or "{}")))
    return blocks


# ------------------------------------------- OpenAI clients, Anthropic upstream

# docs/openai_client.md#response-mapping: Anthropic stop_reason -> OpenAI finish_reason.
FINISH_REASON = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# docs/openai_client.md#request-mapping: reasoning_effort -> thinking budget_tokens.
THINKING_BUDGET = {"minimal": 1024, "low": 1024, "medium": 8192, "high": 16384}


def openai_usage(usage):
    """docs/openai_client.md#usage: Anthropic usage -> OpenAI usage, flattened
    (`cached_tokens` is `prompt_tokens_details.cached_tokens`)."""
    cache_read = usage.get("cache_read_input_tokens") or 0
    prompt = (usage.get("input_tokens") or 0) + cache_read + (usage.get("cache_creation_input_tokens") or 0)
    completion = usage.get("output_tokens") or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion, "cached_tokens": cache_read}


@dataclass
class Answer:
    """What an Anthropic message says, in the terms an OpenAI client sees."""

    model: str = None
    text: str = ""
    reasoning: str = ""
    thinking_blocks: list = field(default_factory=list)  # as the upstream sent them, signatures included
    tool_calls: list = field(default_factory=list)  # dicts: id, name, input (parsed)
    finish_reason: str = None
    usage: dict = None  # openai_usage()


def answer_of_message(message):
    """A non-streaming Anthropic message (a msg-*.json fixture) as an Answer."""
    answer = Answer(model=message["model"], finish_reason=FINISH_REASON[message["stop_reason"]],
                    usage=openai_usage(message["usage"]))
    for block in message["content"]:
        if block["type"] == "text":
            answer.text += block["text"]
        elif block["type"] == "thinking":
            answer.reasoning += block["thinking"]
            answer.thinking_blocks.append(block)
        elif block["type"] == "redacted_thinking":
            answer.thinking_blocks.append(block)
        elif block["type"] == "tool_use":
            answer.tool_calls.append({"id": block["id"], "name": block["name"], "input": block["input"]})
    return answer


def anthropic_events(stream):
    """The JSON payloads of an Anthropic SSE stream, in order."""
    from rawhttp import sse_events  # rawhttp imports mock_upstream; keep payloads importable alone

    return [json.loads(data) for name, data in sse_events(stream) if name != "comment" and data.strip()]


def fold_anthropic_stream(stream):
    """Accumulate an Anthropic event stream (a *.sse fixture) into an Answer.

    Usage: message_delta's counts override message_start's, field by field
    (Anthropic's message_delta usage is cumulative)."""
    answer, usage, blocks, partial = Answer(), {}, {}, {}
    for event in anthropic_events(stream):
        kind = event["type"]
        if kind == "message_start":
            answer.model = event["message"]["model"]
            usage.update({k: v for k, v in event["message"]["usage"].items() if v is not None})
        elif kind == "content_block_start":
            blocks[event["index"]] = dict(event["content_block"])
            partial[event["index"]] = ""
        elif kind == "content_block_delta":
            block, delta = blocks[event["index"]], event["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] += delta["signature"]
            elif delta["type"] == "input_json_delta":
                partial[event["index"]] += delta["partial_json"]
        elif kind == "message_delta":
            answer.finish_reason = FINISH_REASON[event["delta"]["stop_reason"]]
            usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
    for index in sorted(blocks):
        block = blocks[index]
        if block["type"] == "tool_use":
            block["input"] = json.loads(partial[index] or "{}")
    content = [blocks[index] for index in sorted(blocks)]
    folded = answer_of_message({"model": answer.model, "content": content, "usage": usage, "stop_reason": "end_turn"})
    folded.finish_reason = answer.finish_reason
    return folded
