"""Raw HTTP/1.1 requests and SSE parsing, for checks the SDKs would hide."""

import http.client
import json

from mock_upstream import pieces


def send(base_url, method, path, body=None, headers=None, chunked=False):
    """One request; returns (status, lower-cased headers dict, body bytes)."""
    connection = http.client.HTTPConnection(base_url.removeprefix("http://"), timeout=30)
    if chunked:
        body = iter(pieces(body, 1000))
    connection.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
    response = connection.getresponse()
    result = response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    connection.close()
    return result


def post_json(base_url, path, payload, headers=None):
    """POST a JSON body (an object, or bytes sent as they are)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return send(base_url, "POST", path, body, {"content-type": "application/json", **(headers or {})})


def sse_events(stream):
    """Parse an SSE byte stream into (event name or None, data text) pairs.

    Comment lines are returned as ("comment", text) so tests can see them.
    """
    events = []
    name, data = None, []
    for line in stream.decode().split("\n"):
        line = line.removesuffix("\r")
        if line == "":
            if name is not None or data:
                events.append((name, "\n".join(data)))
            name, data = None, []
        elif line.startswith(":"):
            events.append(("comment", line[1:].strip()))
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if name is not None or data:
        events.append((name, "\n".join(data)))
    return events
