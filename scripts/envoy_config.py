#!/usr/bin/env python3
"""Render a runnable Envoy config from a shipped envoy/*.yaml.

The template is envoy/envoy.yaml (Anthropic clients -> OpenAI upstream) unless
`--template` names another, e.g. envoy/envoy-openai-clients.yaml (OpenAI clients
-> Anthropic upstream); both have the same shape. The shipped files target
docker-compose (upstream service `upstream:8000`, module at
/etc/envoy/anthropic_openai_bridge.wasm). This script edits the parsed YAML
structurally to point it somewhere else: listener and admin ports, the wasm path,
the plugin configuration, and the upstream given as a URL. For an https upstream
it adds a TLS transport socket (SNI and certificate check against the host name).

    python scripts/envoy_config.py --upstream https://api.openai.com \\
        --wasm target/wasm32-wasip1/release/anthropic_openai_bridge.wasm -o out.yaml
    python scripts/envoy_config.py --template envoy/envoy-openai-clients.yaml \\
        --upstream https://api.anthropic.com --wasm ... -o out.yaml

`--route-timeout SECONDS` replaces the template's 600 s route timeout (the
tests use a short one to see Envoy's own 504 go through the filter).

`--no-filter` removes the wasm filter: plain Envoy passthrough, the baseline the
tests and benchmarks compare against.
"""

import argparse
import json
import sys
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ENVOY_DIR = Path(__file__).resolve().parent.parent / "envoy"
TEMPLATE = ENVOY_DIR / "envoy.yaml"
OPENAI_CLIENTS_TEMPLATE = ENVOY_DIR / "envoy-openai-clients.yaml"
HCM = "envoy.filters.network.http_connection_manager"
WASM_FILTER = "envoy.filters.http.wasm"
UPSTREAM_CLUSTER = "upstream"
CA_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
)


def parse_upstream(url):
    """Split an `http(s)://host[:port]` URL into (scheme, host, port)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"upstream must be an http:// or https:// URL, got {url!r}")
    if parts.path not in ("", "/") or parts.query:
        raise ValueError(
            f"upstream URL {url!r} has a path; give only scheme://host[:port] and set "
            'the path with the plugin configuration\'s "upstream_path"'
        )
    default_port = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname, parts.port or default_port


def find_named(items, name):
    """The element of a list of `{name: ...}` mappings with that name."""
    for item in items:
        if item.get("name") == name:
            return item
    raise KeyError(f"{name!r} not found in the Envoy config")


def http_connection_manager(config):
    listener = config["static_resources"]["listeners"][0]
    return find_named(listener["filter_chains"][0]["filters"], HCM)["typed_config"]


def upstream_cluster(config):
    return find_named(config["static_resources"]["clusters"], UPSTREAM_CLUSTER)


def default_ca_file():
    for candidate in CA_BUNDLES:
        if Path(candidate).is_file():
            return candidate
    raise FileNotFoundError("no system CA bundle found; pass ca_file / --ca-file")


def tls_transport_socket(host, ca_file):
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "sni": host,
            "common_tls_context": {
                "validation_context": {
                    "trusted_ca": {"filename": ca_file},
                    "match_typed_subject_alt_names": [
                        {"san_type": "DNS", "matcher": {"exact": host}}
                    ],
                }
            },
        },
    }


def set_upstream(config, url, ca_file=None):
    scheme, host, port = parse_upstream(url)
    cluster = upstream_cluster(config)
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    endpoint["address"]["socket_address"] = {"address": host, "port_value": port}
    if scheme == "https":
        cluster["transport_socket"] = tls_transport_socket(host, ca_file or default_ca_file())
    else:
        cluster.pop("transport_socket", None)


def set_wasm(config, wasm_path=None, plugin_config=None):
    """Point the wasm filter at `wasm_path` and/or replace its configuration JSON.

    `plugin_config` is a JSON string or a dict; it must be valid JSON, but the
    filter itself decides whether its keys make sense.
    """
    plugin = find_named(http_connection_manager(config)["http_filters"], WASM_FILTER)
    plugin = plugin["typed_config"]["config"]
    if wasm_path is not None:
        plugin["vm_config"]["code"]["local"] = {"filename": str(Path(wasm_path).resolve())}
    if plugin_config is not None:
        if isinstance(plugin_config, str):
            try:
                json.loads(plugin_config)
            except ValueError as err:
                raise ValueError(f"plugin configuration is not JSON: {err}") from None
        else:
            plugin_config = json.dumps(plugin_config)
        plugin["configuration"]["value"] = plugin_config


def remove_filter(config):
    hcm = http_connection_manager(config)
    hcm["http_filters"] = [f for f in hcm["http_filters"] if f["name"] != WASM_FILTER]


def set_ports(config, port, admin_port, listen_address):
    listener = config["static_resources"]["listeners"][0]
    listener["address"]["socket_address"] = {"address": listen_address, "port_value": port}
    config["admin"]["address"]["socket_address"]["port_value"] = admin_port


def set_route_timeout(config, seconds):
    """Set every route's timeout (the template's is 600 s; 0 disables it)."""
    if seconds < 0:
        raise ValueError(f"route timeout must be >= 0 seconds, got {seconds}")
    value = f"{seconds:g}s"
    for host in http_connection_manager(config)["route_config"]["virtual_hosts"]:
        for route in host["routes"]:
            route["route"]["timeout"] = value


def render(
    upstream,
    wasm_path=None,
    port=10000,
    admin_port=9901,
    listen_address="0.0.0.0",
    plugin_config=None,
    with_filter=True,
    ca_file=None,
    template=TEMPLATE,
    route_timeout=None,
):
    """Return the rendered config as a dict (port 0 lets the OS pick a port)."""
    config = yaml.safe_load(Path(template).read_text())
    set_ports(config, port, admin_port, listen_address)
    set_upstream(config, upstream, ca_file)
    if route_timeout is not None:
        set_route_timeout(config, route_timeout)
    if with_filter:
        set_wasm(config, wasm_path, plugin_config)
    else:
        remove_filter(config)
    return config


def render_yaml(upstream, **options):
    """`render()` as YAML text."""
    return yaml.safe_dump(render(upstream, **options), sort_keys=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="http(s)://host[:port] of the model server")
    parser.add_argument("--wasm", help="path of the built anthropic_openai_bridge.wasm")
    parser.add_argument("--port", type=int, default=10000, help="listener port")
    parser.add_argument("--listen-address", default="0.0.0.0")
    parser.add_argument("--admin-port", type=int, default=9901)
    parser.add_argument("--plugin-config", help="filter configuration JSON (default: the template's)")
    parser.add_argument("--ca-file", help="CA bundle for an https upstream (default: the system's)")
    parser.add_argument("--no-filter", action="store_true", help="plain Envoy, no wasm filter")
    parser.add_argument("--template", default=str(TEMPLATE),
                        help="shipped config to start from (default: envoy/envoy.yaml; "
                             "envoy/envoy-openai-clients.yaml for OpenAI clients)")
    parser.add_argument("--route-timeout", type=float, metavar="SECONDS",
                        help="route timeout (default: the template's, 600 s; 0 disables it)")
    parser.add_argument("-o", "--output", help="output file (default: stdout)")
    args = parser.parse_args(argv)
    if not args.no_filter and not args.wasm:
        parser.error("--wasm is required unless --no-filter is given")
    try:
        text = render_yaml(
            args.upstream,
            wasm_path=args.wasm,
            port=args.port,
            admin_port=args.admin_port,
            listen_address=args.listen_address,
            plugin_config=args.plugin_config,
            with_filter=not args.no_filter,
            ca_file=args.ca_file,
            template=args.template,
            route_timeout=args.route_timeout,
        )
    except (ValueError, OSError) as err:
        parser.error(str(err))
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
