#!/usr/bin/env python3
"""Generates the benchmark inputs in fixtures/bench/ (deterministically).

Requests, in both protocols:
  small           a short chat request (~1 KB)
  claude-code     Claude Code-sized (~150 KB): long system prompt, 20 tools with
                  schemas, 40 turns with tool_use/tool_result and images
  claude-code-76k the same shape at 76 KB (20 turns), Anthropic only: the body
                  of the LiteLLM comparison at the size its reference was taken on
  large           ~5 MB: the same shape with many more turns and larger images
Streams (what an upstream sends) and upstream answers for the end-to-end runs:
  openai-stream.sse        a long OpenAI chunk stream (reasoning, text, tool calls)
  anthropic-stream.sse     a long Anthropic event stream (thinking, text, tool use)
  openai-completion.json   an OpenAI completion (the answer to a converted request)
  anthropic-message.json   an Anthropic message

The OpenAI requests are the Anthropic ones written in OpenAI's shape by this
script (not by the bridge), so the benchmark input does not depend on the code
it measures. Usage: python3 scripts/bench_fixtures.py [--out fixtures/bench]
"""

import argparse
import base64
import json
import random
from pathlib import Path

WORDS = ("the request converts each field by construction so nothing unknown reaches the upstream and "
         "streams are rewritten event by event without buffering while tool arguments arrive in pieces "
         "that must be held in order until their block opens").split()


def text(rng, words):
    return " ".join(rng.choice(WORDS) for _ in range(words))


def image(rng, size):
    return base64.b64encode(bytes(rng.getrandbits(8) for _ in range(size))).decode()


def tool_schema(rng, i):
    props = {f"param_{j}": {"type": rng.choice(["string", "integer", "boolean"]), "description": text(rng, 12)}
             for j in range(6)}
    props["mode"] = {"type": "string", "enum": ["fast", "careful", "dry_run"], "description": text(rng, 8)}
    return {"type": "object", "properties": props, "required": ["param_0", "mode"], "additionalProperties": False,
            "$schema": "http://json-schema.org/draft-07/schema#"}


def anthropic_request(rng, turns, system_words, image_bytes, result_words, stream=True):
    tools = [{"name": f"Tool{i}", "description": text(rng, 60), "input_schema": tool_schema(rng, i)} for i in range(20)]
    messages = [{"role": "user", "content": [{"type": "text", "text": "<system-reminder>" + text(rng, 200) + "</system-reminder>"},
                                             {"type": "text", "text": text(rng, 30)}]}]
    for t in range(turns):
        call_id = f"toolu_{t:04d}"
        messages.append({"role": "assistant", "content": [
            {"type": "text", "text": text(rng, 40)},
            {"type": "tool_use", "id": call_id, "name": f"Tool{t % 20}",
             "input": {"param_0": text(rng, 8), "mode": "careful", "param_1": t}}]})
        result = [{"type": "text", "text": text(rng, result_words)}]
        if image_bytes and t % 8 == 0:
            result.append({"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                       "data": image(rng, image_bytes)}})
        messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, "content": result}]})
    messages.append({"role": "user", "content": text(rng, 20)})
    return {
        "model": "claude-sonnet-4-5", "max_tokens": 32000, "stream": stream,
        "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197.1c0; cc_entrypoint=cli; cch=00000;"},
                   {"type": "text", "text": text(rng, system_words), "cache_control": {"type": "ephemeral"}}],
        "tools": tools, "tool_choice": {"type": "auto"},
        "thinking": {"type": "adaptive"}, "output_config": {"effort": "high"},
        "metadata": {"user_id": json.dumps({"device_id": "0" * 64, "session_id": "bench"})},
        "messages": messages,
    }


def openai_request(anthropic):
    """The same conversation in OpenAI's shape, written out directly."""
    messages = [{"role": "system", "content": "\n\n".join(b["text"] for b in anthropic["system"])}]
    for message in anthropic["messages"]:
        content = message["content"]
        if isinstance(content, str):
            messages.append({"role": message["role"], "content": content})
            continue
        if message["role"] == "assistant":
            texts = [b["text"] for b in content if b["type"] == "text"]
            calls = [{"id": b["id"], "type": "function",
                      "function": {"name": b["name"], "arguments": json.dumps(b["input"])}}
                     for b in content if b["type"] == "tool_use"]
            messages.append({"role": "assistant", "content": "\n\n".join(texts) or None, **({"tool_calls": calls} if calls else {})})
            continue
        parts = []
        for block in content:
            if block["type"] == "tool_result":
                result_text = "\n\n".join(b["text"] for b in block["content"] if b["type"] == "text")
                messages.append({"role": "tool", "tool_call_id": block["tool_use_id"], "content": result_text})
                parts += [{"type": "image_url", "image_url": {"url": f"data:{b['source']['media_type']};base64,{b['source']['data']}"}}
                          for b in block["content"] if b["type"] == "image"]
            elif block["type"] == "text":
                parts.append({"type": "text", "text": block["text"]})
        if parts:
            messages.append({"role": "user", "content": parts})
    return {
        "model": "gpt-4.1", "max_completion_tokens": anthropic["max_tokens"], "stream": anthropic["stream"],
        "stream_options": {"include_usage": True}, "reasoning_effort": "high",
        "tools": [{"type": "function", "function": {"name": t["name"], "description": t["description"],
                                                     "parameters": t["input_schema"]}} for t in anthropic["tools"]],
        "tool_choice": "auto", "user": "bench-user", "messages": messages,
    }


def small_anthropic():
    return {"model": "claude-haiku-4-5", "max_tokens": 1024, "stream": False,
            "system": "You are a concise assistant.",
            "messages": [{"role": "user", "content": "What is the capital of France? Answer in one word."},
                         {"role": "assistant", "content": "Paris."},
                         {"role": "user", "content": "And of Italy?"}]}


def openai_stream(rng, text_deltas, reasoning_deltas):
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1760000000, "model": "gpt-bench",
            "system_fingerprint": "fp_bench", "service_tier": "default"}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}], "usage": None}]
    for _ in range(reasoning_deltas):
        chunks.append({**base, "choices": [{"index": 0, "delta": {"reasoning_content": " " + rng.choice(WORDS)}, "logprobs": None, "finish_reason": None}], "usage": None})
    for _ in range(text_deltas):
        chunks.append({**base, "choices": [{"index": 0, "delta": {"content": " " + rng.choice(WORDS)}, "logprobs": None, "finish_reason": None}], "usage": None})
    for k in range(2):
        chunks.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": k, "id": f"call_{k}", "type": "function", "function": {"name": f"Tool{k}", "arguments": ""}}]}, "logprobs": None, "finish_reason": None}], "usage": None})
        args = json.dumps({"param_0": text(rng, 40), "mode": "fast"})
        for i in range(0, len(args), 6):
            chunks.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": k, "function": {"arguments": args[i:i + 6]}}]}, "logprobs": None, "finish_reason": None}], "usage": None})
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "tool_calls"}], "usage": None})
    chunks.append({**base, "choices": [], "usage": {"prompt_tokens": 41000, "completion_tokens": text_deltas + reasoning_deltas,
                                                     "total_tokens": 41000 + text_deltas + reasoning_deltas,
                                                     "prompt_tokens_details": {"cached_tokens": 40000}}})
    return "".join(f"data: {json.dumps(c, separators=(',', ':'))}\n\n" for c in chunks) + "data: [DONE]\n\n"


def anthropic_stream(rng, text_deltas, thinking_deltas):
    def event(payload):
        return f"event: {payload['type']}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n"
    out = [event({"type": "message_start", "message": {"id": "msg_bench", "type": "message", "role": "assistant", "model": "claude-bench",
                                                       "content": [], "stop_reason": None, "stop_sequence": None,
                                                       "usage": {"input_tokens": 1000, "cache_read_input_tokens": 40000, "cache_creation_input_tokens": 0, "output_tokens": 1}}}),
           event({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
           event({"type": "ping"})]
    out += [event({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": " " + rng.choice(WORDS)}}) for _ in range(thinking_deltas)]
    out += [event({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "Eq" + "A" * 300}}),
            event({"type": "content_block_stop", "index": 0}),
            event({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}})]
    out += [event({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": " " + rng.choice(WORDS)}}) for _ in range(text_deltas)]
    out += [event({"type": "content_block_stop", "index": 1}),
            event({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_bench", "name": "Tool1", "input": {}}})]
    args = json.dumps({"param_0": text(rng, 40), "mode": "fast"})
    out += [event({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": args[i:i + 6]}}) for i in range(0, len(args), 6)]
    out += [event({"type": "content_block_stop", "index": 2}),
            event({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": text_deltas + thinking_deltas}}),
            event({"type": "message_stop"})]
    return "".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "fixtures/bench"))
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20261121)
    requests = {
        "small": small_anthropic(),
        "claude-code": anthropic_request(rng, turns=40, system_words=4000, image_bytes=3000, result_words=220),
        "large": anthropic_request(rng, turns=400, system_words=4000, image_bytes=60000, result_words=400),
    }
    for name, request in requests.items():
        (out / f"anthropic-{name}.json").write_text(json.dumps(request, separators=(",", ":")))
        (out / f"openai-{name}.json").write_text(json.dumps(openai_request(request) if name != "small" else {
            "model": "gpt-4.1-mini", "max_completion_tokens": 1024,
            "messages": [{"role": "system", "content": "You are a concise assistant."}] + request["messages"]},
            separators=(",", ":")))
    (out / "openai-stream.sse").write_text(openai_stream(rng, text_deltas=6000, reasoning_deltas=2000))
    (out / "anthropic-stream.sse").write_text(anthropic_stream(rng, text_deltas=6000, thinking_deltas=2000))
    (out / "openai-completion.json").write_text(json.dumps({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 1760000000, "model": "gpt-bench",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text(rng, 300), "refusal": None},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 41000, "completion_tokens": 300, "total_tokens": 41300,
                  "prompt_tokens_details": {"cached_tokens": 40000}}}))
    (out / "anthropic-message.json").write_text(json.dumps({
        "id": "msg_bench", "type": "message", "role": "assistant", "model": "claude-bench",
        "content": [{"type": "text", "text": text(rng, 300)}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 1000, "cache_read_input_tokens": 40000, "cache_creation_input_tokens": 0, "output_tokens": 300}}))
    # The size the LiteLLM reference figure was taken on (about 76 KB);
    # its own seed, so the files above do not change.
    medium = anthropic_request(random.Random(76), turns=20, system_words=1000, image_bytes=3000, result_words=130)
    (out / "anthropic-claude-code-76k.json").write_text(json.dumps(medium, separators=(",", ":")))
    for path in sorted(out.iterdir()):
        print(f"{path.stat().st_size:>10}  {path.name}")


if __name__ == "__main__":
    main()
