"""Deployment paths as users take them: the OCI image, Istio, docker-compose.

- The OCI image (`scripts/oci_image.py`, `make image`): every blob under its
  sha256, `skopeo inspect` of the `oci:` layout and the `oci-archive:`
  tarball, `oci-image-tool validate`, the layer gives back the module byte for
  byte, reproducible output, and a push to a real registry (`docker-registry`
  on 127.0.0.1) pulled back with skopeo and fetched the way Istio's image
  fetcher does.
- Istio (`istio/*.yaml`): every manifest parses, uses only fields and values
  the CRDs define, and agrees with the others (ports, configurations, image
  tag). Each WasmPlugin runs in a real Envoy the way Istio would deliver it
  (the module pulled out of the OCI image, `pluginConfig` as a JSON string);
  the EnvoyFilter variants are applied to a gateway-like Envoy config and pass
  `envoy --mode validate`, then run and convert requests on both ports.
- docker-compose (`envoy/docker-compose.yaml`): `docker-compose config`
  accepts it, its mounts and addresses match the Envoy configs it mounts, its
  upstream command runs on a bare Python.

The Debian tools (skopeo, docker-registry, oci-image-tool, docker-compose) are
installed by `make test` (the `deploy-tools` target). Run directly without
them, the tests that need them are skipped saying so, unless
REQUIRE_DEPLOY_TOOLS=1 (set by make), which makes a missing tool a failure.
"""

import copy
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
import tomllib
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

import envoy_config
import oci_image
from conftest import ENVOY_BIN, REPO, WASM, Envoy
from rawhttp import post_json

ISTIO = REPO / "istio"
COMPOSE_FILE = REPO / "envoy" / "docker-compose.yaml"
WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
STRING_VALUE_TYPE = "type.googleapis.com/google.protobuf.StringValue"
HCM = envoy_config.HCM
ROUTER = "envoy.filters.http.router"
BUFFER_LIMIT = 67108864
CRATE_VERSION = tomllib.loads((REPO / "Cargo.toml").read_text())["package"]["version"]
REQUIRE_TOOLS = os.environ.get("REQUIRE_DEPLOY_TOOLS") == "1"

ANTHROPIC_REQUEST = {"model": "claude-sonnet-4-5", "max_tokens": 64,
                     "messages": [{"role": "user", "content": "hello"}]}
OPENAI_REQUEST = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]}


# Where `make deploy-tools` extracts docker-registry (not installed: its package
# enables and starts a system service).
EXTRACTED_TOOLS = REPO / "build" / "deploy-tools" / "usr" / "bin"


def tool(name):
    """Path of a Debian tool, or skip (fail under REQUIRE_DEPLOY_TOOLS=1)."""
    path = shutil.which(name) or shutil.which(name, path=str(EXTRACTED_TOOLS))
    if path is None:
        message = (f"{name} is not installed: `make deploy-tools` (part of `make test`) installs "
                   f"skopeo, oci-image-tool and docker-compose and extracts docker-registry")
        if REQUIRE_TOOLS:
            pytest.fail(message)
        pytest.skip(message)
    return path


def run(command, **options):
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, **options)
    assert result.returncode == 0, f"{' '.join(map(str, command))}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def module_bytes():
    if not WASM.is_file():
        pytest.skip(f"bridge module not built: {WASM} (cargo build --release --target wasm32-wasip1)")
    return WASM.read_bytes()


# ------------------------------------------------------------------ OCI image

@pytest.fixture(scope="session")
def image(tmp_path_factory):
    """The image of the module under test, built by scripts/oci_image.py."""
    module_bytes()
    out = tmp_path_factory.mktemp("oci")
    summary = oci_image.build(WASM, out)
    summary["layout"] = Path(summary["layout"])
    summary["archive"] = Path(summary["archive"])
    return summary


def read_layout(layout):
    """(index, manifest, config, blobs) of an OCI layout with one manifest."""
    blobs = {}
    for path in (layout / "blobs" / "sha256").iterdir():
        blobs["sha256:" + path.name] = path.read_bytes()
    index = json.loads((layout / "index.json").read_text())
    (descriptor,) = index["manifests"]
    manifest = json.loads(blobs[descriptor["digest"]])
    config = json.loads(blobs[manifest["config"]["digest"]])
    return index, manifest, config, blobs


def istio_extract(manifest, fetch_blob):
    """The module as Istio's image fetcher takes it out of a compat image: the
    last layer, which must be application/vnd.oci.image.layer.v1.tar+gzip, and
    in it the first file whose base name is plugin.wasm."""
    layer = manifest["layers"][-1]
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(fetch_blob(layer["digest"])))) as archive:
        for member in archive:
            if Path(member.name).name == "plugin.wasm":
                return archive.extractfile(member).read()
    raise AssertionError("no plugin.wasm in the layer")


def test_image_layout_blobs_are_content_addressed_and_hold_the_module(image):
    index, manifest, config, blobs = read_layout(image["layout"])
    assert json.loads((image["layout"] / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    for digest, data in blobs.items():
        assert "sha256:" + sha256_hex(data) == digest
    (descriptor,) = index["manifests"]
    assert descriptor["annotations"]["org.opencontainers.image.ref.name"] == CRATE_VERSION
    assert descriptor["size"] == len(blobs[descriptor["digest"]])
    for referenced in [manifest["config"], *manifest["layers"]]:
        assert referenced["size"] == len(blobs[referenced["digest"]]), referenced
    assert set(blobs) == {descriptor["digest"], manifest["config"]["digest"], manifest["layers"][0]["digest"]}
    # The compat variant: one tar+gzip layer with plugin.wasm, a standard config.
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    assert manifest["annotations"]["module.wasm.image/variant"] == "compat"
    (layer,) = manifest["layers"]
    layer_tar = gzip.decompress(blobs[layer["digest"]])
    assert config["rootfs"] == {"type": "layers", "diff_ids": ["sha256:" + sha256_hex(layer_tar)]}
    assert (config["architecture"], config["os"]) == ("wasm", "wasip1")
    with tarfile.open(fileobj=io.BytesIO(layer_tar)) as archive:
        (member,) = archive.getmembers()
        assert (member.name, member.isfile(), member.mode, member.uid, member.mtime) == (
            "plugin.wasm", True, 0o644, 0, 0)
        assert archive.extractfile(member).read() == WASM.read_bytes()
    assert istio_extract(manifest, blobs.__getitem__) == WASM.read_bytes()
    assert image["manifest_digest"] == descriptor["digest"]
    assert image["wasm_sha256"] == sha256_hex(WASM.read_bytes())


def test_image_archive_is_the_layout_and_output_is_reproducible(image, tmp_path):
    with tarfile.open(image["archive"]) as archive:
        files = {m.name: archive.extractfile(m).read() for m in archive if m.isfile()}
        assert {m.mtime for m in archive} == {0}
    layout = image["layout"]
    assert files == {str(p.relative_to(layout)): p.read_bytes() for p in layout.rglob("*") if p.is_file()}
    again = oci_image.build(WASM, tmp_path)
    assert Path(again["archive"]).read_bytes() == image["archive"].read_bytes()
    assert again["manifest_digest"] == image["manifest_digest"]


def test_skopeo_inspects_layout_and_archive(image):
    skopeo = tool("skopeo")
    _, manifest, _, blobs = read_layout(image["layout"])
    for reference in (f"oci:{image['layout']}:{CRATE_VERSION}", f"oci-archive:{image['archive']}"):
        info = json.loads(run([skopeo, "inspect", reference]))
        assert info["Digest"] == image["manifest_digest"], reference
        assert (info["Architecture"], info["Os"]) == ("wasm", "wasip1")
        assert info["Layers"] == [manifest["layers"][0]["digest"]]
        raw = run([skopeo, "inspect", "--raw", reference]).encode()
        assert "sha256:" + sha256_hex(raw) == image["manifest_digest"]
        assert [layer["mediaType"] for layer in json.loads(raw)["layers"]] == [
            "application/vnd.oci.image.layer.v1.tar+gzip"]
        config = json.loads(run([skopeo, "inspect", "--config", "--raw", reference]))
        assert config["rootfs"]["diff_ids"] == [
            "sha256:" + sha256_hex(gzip.decompress(blobs[manifest["layers"][0]["digest"]]))]


def test_oci_image_tool_validates_the_layout(image):
    oci_image_tool = tool("oci-image-tool")
    out = run([oci_image_tool, "validate", "--type", "image", "--ref", f"name={CRATE_VERSION}",
               str(image["layout"])])
    assert "Validation succeeded" in out


@pytest.fixture
def registry(tmp_path):
    """A real OCI registry (Debian's docker-registry) on 127.0.0.1."""
    binary = tool("docker-registry")
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(yaml.safe_dump({
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(tmp_path / "storage")}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "test-only"},
    }))
    log = open(tmp_path / "registry.log", "wb")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            assert process.poll() is None, (tmp_path / "registry.log").read_text()
            try:
                with urllib.request.urlopen(url + "/v2/", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "registry did not start"
            time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def registry_get(registry, path, accept=None):
    request = urllib.request.Request(f"http://{registry}/v2/{path}", headers={"Accept": accept or "*/*"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers, response.read()


def test_push_to_registry_and_pull_back(image, registry, tmp_path):
    skopeo = tool("skopeo")
    repository = f"{registry}/llm/{oci_image.NAME}"
    run([skopeo, "--insecure-policy", "copy", "--dest-tls-verify=false",
         f"oci:{image['layout']}:{CRATE_VERSION}", f"docker://{repository}:{CRATE_VERSION}"])
    # What Istio's fetcher does over the wire: the manifest by tag, then blobs.
    headers, raw = registry_get(registry, f"llm/{oci_image.NAME}/manifests/{CRATE_VERSION}",
                                "application/vnd.oci.image.manifest.v1+json")
    assert headers["Content-Type"] == "application/vnd.oci.image.manifest.v1+json"
    assert headers["Docker-Content-Digest"] == image["manifest_digest"] == "sha256:" + sha256_hex(raw)
    fetched = istio_extract(json.loads(raw), lambda d: registry_get(registry, f"llm/{oci_image.NAME}/blobs/{d}")[1])
    assert fetched == WASM.read_bytes()
    # And back into a layout with skopeo: the same image, byte for byte.
    pulled = tmp_path / "pulled"
    run([skopeo, "--insecure-policy", "copy", "--src-tls-verify=false",
         f"docker://{repository}:{CRATE_VERSION}", f"oci:{pulled}:{CRATE_VERSION}"])
    index, manifest, _, blobs = read_layout(pulled)
    assert index["manifests"][0]["digest"] == image["manifest_digest"]
    assert istio_extract(manifest, blobs.__getitem__) == WASM.read_bytes()
    info = json.loads(run([skopeo, "inspect", "--tls-verify=false", f"docker://{repository}:{CRATE_VERSION}"]))
    assert info["Digest"] == image["manifest_digest"]


# ---------------------------------------------------------------- Istio manifests

def istio_documents():
    documents = []
    for path in sorted(ISTIO.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                documents.append((path.name, document))
    return documents


def of_kind(kind, file=None):
    return [(name, d) for name, d in istio_documents() if d["kind"] == kind and file in (None, name)]


# The fields and enum values of the Istio CRDs the manifests use (istio/api,
# extensions/v1alpha1/wasm.proto and networking/v1alpha3/envoy_filter.proto).
WASMPLUGIN_FIELDS = {"selector", "targetRef", "targetRefs", "url", "sha256", "imagePullPolicy",
                     "imagePullSecret", "pluginConfig", "pluginName", "phase", "priority",
                     "failStrategy", "vmConfig", "match", "type"}
WASMPLUGIN_ENUMS = {
    "imagePullPolicy": {"UNSPECIFIED_POLICY", "IfNotPresent", "Always"},
    "phase": {"UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"},
    "failStrategy": {"FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"},
    "type": {"UNSPECIFIED_PLUGIN_TYPE", "HTTP", "NETWORK"},
}
MATCH_MODES = {"UNDEFINED", "CLIENT", "SERVER", "CLIENT_AND_SERVER"}
ENVOYFILTER_FIELDS = {"workloadSelector", "targetRefs", "configPatches", "priority"}
APPLY_TO = {"LISTENER", "FILTER_CHAIN", "NETWORK_FILTER", "HTTP_FILTER", "ROUTE_CONFIGURATION",
            "VIRTUAL_HOST", "HTTP_ROUTE", "CLUSTER", "EXTENSION_CONFIG", "BOOTSTRAP", "LISTENER_FILTER"}
CONTEXTS = {"ANY", "SIDECAR_INBOUND", "SIDECAR_OUTBOUND", "GATEWAY"}
OPERATIONS = {"MERGE", "ADD", "REMOVE", "INSERT_BEFORE", "INSERT_AFTER", "INSERT_FIRST", "REPLACE"}


def test_istio_manifests_use_only_crd_fields():
    documents = istio_documents()
    kinds = sorted(d["kind"] for _, d in documents)
    assert kinds == ["EnvoyFilter"] * 3 + ["WasmPlugin"] * 2, kinds
    for file, document in documents:
        assert set(document) == {"apiVersion", "kind", "metadata", "spec"}, file
        assert document["metadata"]["name"] and document["metadata"]["namespace"], file
        spec = document["spec"]
        if document["kind"] == "WasmPlugin":
            assert document["apiVersion"] == "extensions.istio.io/v1alpha1"
            assert set(spec) <= WASMPLUGIN_FIELDS, set(spec) - WASMPLUGIN_FIELDS
            for field, allowed in WASMPLUGIN_ENUMS.items():
                assert spec.get(field, next(iter(allowed))) in allowed, (file, field)
            for match in spec["match"]:
                assert set(match) <= {"mode", "ports"} and match["mode"] in MATCH_MODES
                assert all(set(p) == {"number"} and isinstance(p["number"], int) for p in match["ports"])
            assert set(spec["selector"]) == {"matchLabels"}
            assert isinstance(spec["pluginConfig"], dict)
        else:
            assert document["apiVersion"] == "networking.istio.io/v1alpha3"
            assert set(spec) <= ENVOYFILTER_FIELDS
            assert set(spec["workloadSelector"]) == {"labels"}
            for patch in spec["configPatches"]:
                assert set(patch) == {"applyTo", "match", "patch"}
                assert patch["applyTo"] in APPLY_TO and patch["match"]["context"] in CONTEXTS
                assert set(patch["patch"]) == {"operation", "value"}
                assert patch["patch"]["operation"] in OPERATIONS


def test_wasmplugins_pull_this_image():
    for file, plugin in of_kind("WasmPlugin"):
        url = plugin["spec"]["url"]
        assert re.fullmatch(rf"oci://[^/]+(/[^/]+)*/{oci_image.NAME}:{re.escape(CRATE_VERSION)}", url), url
        assert plugin["spec"]["failStrategy"] == "FAIL_RELOAD"
        assert plugin["spec"]["type"] == "HTTP"


def wasm_filter_config(value):
    assert value["typed_config"]["@type"] == WASM_TYPE
    return value["typed_config"]["config"]


def plugin_configs_by_port():
    """{port: plugin configuration} of every WasmPlugin and EnvoyFilter manifest."""
    by_file = {}
    for file, plugin in of_kind("WasmPlugin"):
        (match,) = plugin["spec"]["match"]
        for port in match["ports"]:
            by_file.setdefault(file, {})[port["number"]] = plugin["spec"]["pluginConfig"]
    for file, envoy_filter in of_kind("EnvoyFilter"):
        for patch in envoy_filter["spec"]["configPatches"]:
            if patch["applyTo"] == "HTTP_FILTER":
                config = wasm_filter_config(patch["patch"]["value"])
                port = patch["match"]["listener"]["portNumber"]
                by_file.setdefault(file, {})[port] = json.loads(config["configuration"]["value"])
    return by_file


def test_every_deployment_variant_has_the_same_ports_and_configurations():
    """wasmplugin.yaml, envoyfilter-file.yaml and envoyfilter-url.yaml are one
    deployment three ways; buffer-limits.yaml covers their ports."""
    by_file = plugin_configs_by_port()
    assert set(by_file) == {"wasmplugin.yaml", "envoyfilter-file.yaml", "envoyfilter-url.yaml"}
    reference = by_file["wasmplugin.yaml"]
    for file, configs in by_file.items():
        assert configs == reference, file
    directions = {port: config["upstream_protocol"] for port, config in reference.items()}
    assert sorted(directions.values()) == ["anthropic", "openai"], "one port per direction"
    (buffer_limits,) = [d for _, d in of_kind("EnvoyFilter", "buffer-limits.yaml")]
    limited = set()
    for patch in buffer_limits["spec"]["configPatches"]:
        assert patch["patch"]["value"] == {"per_connection_buffer_limit_bytes": BUFFER_LIMIT}
        if patch["applyTo"] == "LISTENER":
            limited.add(patch["match"]["listener"]["portNumber"])
    assert limited == set(reference)
    assert "CLUSTER" in {p["applyTo"] for p in buffer_limits["spec"]["configPatches"]}
    selectors = [d["spec"].get("selector", {}).get("matchLabels") or d["spec"]["workloadSelector"]["labels"]
                 for _, d in istio_documents()]
    assert all(s == selectors[0] for s in selectors), "every manifest selects the same workload"


def struct_json(value):
    """What Istio hands the filter: pluginConfig is a protobuf Struct (every
    number a double) serialized to JSON, integral values without a fraction."""
    if isinstance(value, dict):
        return {k: struct_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [struct_json(v) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        return int(number) if number.is_integer() and abs(number) < 1e21 else number
    return value


def istio_filter(plugin, module_path):
    """The HTTP filter istiod generates for a WasmPlugin (delivered by ECDS;
    istio-agent pulls the image and rewrites the code to a local file)."""
    metadata, spec = plugin["metadata"], plugin["spec"]
    name = f"{metadata['namespace']}.{metadata['name']}"
    return {
        "name": name,
        "typed_config": {
            "@type": WASM_TYPE,
            "config": {
                "name": name,
                "root_id": spec.get("pluginName", ""),
                "configuration": {"@type": STRING_VALUE_TYPE, "value": json.dumps(struct_json(spec["pluginConfig"]))},
                "failure_policy": {"FAIL_CLOSE": "FAIL_CLOSED", "FAIL_OPEN": "FAIL_OPEN",
                                   "FAIL_RELOAD": "FAIL_RELOAD"}[spec["failStrategy"]],
                "vm_config": {"runtime": "envoy.wasm.runtime.v8", "code": {"local": {"filename": str(module_path)}}},
            },
        },
    }


def gateway_config(upstream_url, ports, bind_ports):
    """A gateway-like Envoy: one listener per port (`gateway_<port>`, an HCM
    whose only filter is the router) and the `upstream` cluster, without the
    buffer limits the shipped standalone configs set (Istio's own listeners
    do not have them: buffer-limits.yaml must add them)."""
    config = envoy_config.render(upstream_url, port=0, admin_port=0, listen_address="127.0.0.1",
                                 with_filter=False)
    (template,) = config["static_resources"]["listeners"]
    template.pop("per_connection_buffer_limit_bytes")
    envoy_config.upstream_cluster(config).pop("per_connection_buffer_limit_bytes")
    listeners = []
    for port in sorted(ports):
        listener = copy.deepcopy(template)
        listener["name"] = f"gateway_{port}"
        listener["address"]["socket_address"]["port_value"] = port if bind_ports else 0
        listener["_istio_port"] = port
        listeners.append(listener)
    config["static_resources"]["listeners"] = listeners
    return config


def deep_merge(target, value):
    for key, item in value.items():
        if isinstance(item, dict) and isinstance(target.get(key), dict):
            deep_merge(target[key], item)
        else:
            target[key] = copy.deepcopy(item)


def apply_envoy_filter(config, envoy_filter):
    """Apply an EnvoyFilter's patches as istiod does on a gateway; a patch that
    matches nothing is an error here (Istio would silently skip it)."""
    for patch in envoy_filter["spec"]["configPatches"]:
        match, operation, value = patch["match"], patch["patch"]["operation"], patch["patch"]["value"]
        assert match["context"] in ("GATEWAY", "ANY")
        applied = 0
        if patch["applyTo"] in ("LISTENER", "HTTP_FILTER"):
            for listener in config["static_resources"]["listeners"]:
                port = match.get("listener", {}).get("portNumber")
                if port not in (None, listener["_istio_port"]):
                    continue
                if patch["applyTo"] == "LISTENER":
                    assert operation == "MERGE"
                    deep_merge(listener, value)
                    applied += 1
                    continue
                chain_match = match["listener"]["filterChain"]["filter"]
                for chain in listener["filter_chains"]:
                    for network_filter in chain["filters"]:
                        if network_filter["name"] != chain_match["name"]:
                            continue
                        http_filters = network_filter["typed_config"]["http_filters"]
                        names = [f["name"] for f in http_filters]
                        anchor = names.index(chain_match["subFilter"]["name"])
                        assert operation == "INSERT_BEFORE"
                        http_filters.insert(anchor, copy.deepcopy(value))
                        applied += 1
        elif patch["applyTo"] == "CLUSTER":
            clusters = config["static_resources"]["clusters"]
            if operation == "ADD":
                clusters.append(copy.deepcopy(value))
                applied += 1
            else:
                assert operation == "MERGE" and "cluster" not in match
                for cluster in clusters:
                    deep_merge(cluster, value)
                    applied += 1
        else:
            raise AssertionError(f"unexpected applyTo {patch['applyTo']}")
        assert applied, f"patch matched nothing: {patch}"
    return config


def finish(config):
    config = copy.deepcopy(config)
    for listener in config["static_resources"]["listeners"]:
        listener.pop("_istio_port")
    return config


def envoy_validate(config, tmp_path, name="validate.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(finish(config), sort_keys=False))
    command = [str(ENVOY_BIN), "--mode", "validate", "-c", str(path), "--use-dynamic-base-id"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def with_buffer_limits(config):
    (buffer_limits,) = [d for _, d in of_kind("EnvoyFilter", "buffer-limits.yaml")]
    apply_envoy_filter(config, buffer_limits)
    for listener in config["static_resources"]["listeners"]:
        assert listener["per_connection_buffer_limit_bytes"] == BUFFER_LIMIT
    for cluster in config["static_resources"]["clusters"]:
        assert cluster["per_connection_buffer_limit_bytes"] == BUFFER_LIMIT
    return config


def start_gateway(config, tmp_path, name):
    envoy = Envoy(finish(config), tmp_path / name, name)
    envoy.start()
    statuses = json.loads(envoy.admin_get("/listeners?format=json"))["listener_statuses"]
    ports = {int(s["name"].removeprefix("gateway_")): s["local_address"]["socket_address"]["port_value"]
             for s in statuses}
    return envoy, ports


def assert_both_directions_convert(envoy, ports, upstream, configs):
    """A request on each port reaches the upstream converted by that port's plugin."""
    for port, config in configs.items():
        upstream.reset()
        if config["upstream_protocol"] == "openai":
            post_json(f"http://127.0.0.1:{ports[port]}", "/v1/messages", ANTHROPIC_REQUEST,
                      {"x-api-key": "sk-test"})
            (received,) = upstream.requests
            assert received.path == "/v1/chat/completions", envoy.log()
            assert received.json["model"] == "gpt-4.1"  # model_map: claude-sonnet-*
            assert received.json["max_completion_tokens"] == 64
            assert received.header("authorization") == "Bearer sk-test"
        else:
            post_json(f"http://127.0.0.1:{ports[port]}", "/v1/chat/completions", OPENAI_REQUEST,
                      {"authorization": "Bearer sk-test"})
            (received,) = upstream.requests
            assert received.path == "/v1/messages", envoy.log()
            assert received.json["model"] == "claude-sonnet-4-5"  # model_map: gpt-4o
            assert received.json["max_tokens"] == config["default_max_tokens"]
            assert received.header("x-api-key") == "sk-test"
            assert received.header("anthropic-version") == config["anthropic_version"]


@pytest.fixture(scope="session")
def module_from_image(image, tmp_path_factory):
    """plugin.wasm taken out of the OCI image the way istio-agent does."""
    _, manifest, _, blobs = read_layout(image["layout"])
    path = tmp_path_factory.mktemp("istio-agent") / "plugin.wasm"
    path.write_bytes(istio_extract(manifest, blobs.__getitem__))
    return path


def test_wasmplugins_run_in_envoy_as_istio_delivers_them(module_from_image, upstream, tmp_path):
    plugins = [plugin for _, plugin in of_kind("WasmPlugin")]
    ports = {p["spec"]["match"][0]["ports"][0]["number"]: p for p in plugins}
    config = with_buffer_limits(gateway_config(upstream.url, ports, bind_ports=False))
    for listener in config["static_resources"]["listeners"]:
        # Phase unset: the plugin goes last, just before the router.
        hcm = envoy_config.find_named(listener["filter_chains"][0]["filters"], HCM)["typed_config"]
        hcm["http_filters"].insert(-1, istio_filter(ports[listener["_istio_port"]], module_from_image))
    envoy, bound = start_gateway(config, tmp_path, "wasmplugin")
    try:
        assert_both_directions_convert(envoy, bound, upstream,
                                       {port: p["spec"]["pluginConfig"] for port, p in ports.items()})
    finally:
        envoy.stop()


def test_a_broken_plugin_config_is_rejected_by_envoy(module_from_image, upstream, tmp_path):
    """The negative control for the test above: a pluginConfig with a typo."""
    _, plugin = of_kind("WasmPlugin")[0]
    plugin = copy.deepcopy(plugin)
    plugin["spec"]["pluginConfig"]["max_token_limit"] = plugin["spec"]["pluginConfig"].pop("max_tokens_limit")
    config = gateway_config(upstream.url, [8080], bind_ports=True)
    hcm = envoy_config.http_connection_manager(config)
    hcm["http_filters"].insert(-1, istio_filter(plugin, module_from_image))
    result = envoy_validate(config, tmp_path)
    assert result.returncode != 0
    assert "`max_token_limit`: unknown key" in result.stdout + result.stderr


def envoy_filter_config(file, upstream_url, module_path, bind_ports):
    """A gateway config with buffer-limits.yaml and `file` applied; only the
    module's path in the pod becomes the module under test."""
    (envoy_filter,) = [d for _, d in of_kind("EnvoyFilter", file)]
    ports = plugin_configs_by_port()[file]
    config = apply_envoy_filter(with_buffer_limits(gateway_config(upstream_url, ports, bind_ports)),
                                envoy_filter)
    for listener in config["static_resources"]["listeners"]:
        http_filters = envoy_config.find_named(listener["filter_chains"][0]["filters"], HCM)["typed_config"]["http_filters"]
        assert [f["typed_config"]["@type"] for f in http_filters][-2:] == [
            WASM_TYPE, "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"]
        code = wasm_filter_config(http_filters[-2])["vm_config"]["code"]
        if "local" in code and module_path is not None:
            assert code["local"]["filename"] == "/var/local/lib/wasm/anthropic_openai_bridge.wasm"
            code["local"]["filename"] = str(module_path)
    return config, ports


@pytest.mark.parametrize("file", ["envoyfilter-file.yaml", "envoyfilter-url.yaml"])
def test_envoyfilter_patches_validate_in_envoy(file, upstream, tmp_path):
    module_bytes()
    config, _ = envoy_filter_config(file, upstream.url, WASM, bind_ports=True)
    result = envoy_validate(config, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_envoyfilter_file_variant_converts_on_both_ports(upstream, tmp_path):
    module_bytes()
    config, ports = envoy_filter_config("envoyfilter-file.yaml", upstream.url, WASM, bind_ports=False)
    envoy, bound = start_gateway(config, tmp_path, "envoyfilter-file")
    try:
        assert_both_directions_convert(envoy, bound, upstream, ports)
    finally:
        envoy.stop()


@pytest.fixture
def module_server(tmp_path):
    """The module on a plain HTTP server on 127.0.0.1 (`/<name>`)."""
    root = tmp_path / "www"
    root.mkdir()
    shutil.copy(WASM, root / "anthropic_openai_bridge.wasm")
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_envoyfilter_url_variant_downloads_the_module(module_server, upstream, tmp_path):
    """Envoy fetches the module through the added cluster and checks its sha256.
    The server is local plain HTTP here, so the cluster's address and TLS and the
    uri's scheme and host change; the cluster, path, retry and filters do not."""
    module = module_bytes()
    config, ports = envoy_filter_config("envoyfilter-url.yaml", upstream.url, None, bind_ports=False)
    download = envoy_config.find_named(config["static_resources"]["clusters"], "anthropic-openai-bridge-wasm-download")
    download.pop("transport_socket")
    endpoint = download["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    endpoint["address"]["socket_address"] = {"address": "127.0.0.1", "port_value": module_server}
    for listener in config["static_resources"]["listeners"]:
        http_filters = envoy_config.http_connection_manager({"static_resources": {"listeners": [listener]}})["http_filters"]
        remote = wasm_filter_config(http_filters[-2])["vm_config"]["code"]["remote"]
        assert remote["http_uri"]["cluster"] == download["name"]
        assert re.fullmatch(r"[0-9a-f]{64}", remote["sha256"])
        remote["sha256"] = sha256_hex(module)
        remote["http_uri"]["uri"] = f"http://127.0.0.1:{module_server}/anthropic_openai_bridge.wasm"
    envoy, bound = start_gateway(config, tmp_path, "envoyfilter-url")
    try:
        assert_both_directions_convert(envoy, bound, upstream, ports)
    finally:
        envoy.stop()


# ---------------------------------------------------------------- standalone Envoy configs

def test_every_standalone_envoy_config_validates_as_shipped(tmp_path):
    """Each Envoy config under envoy/, unrendered: only the module path (where
    docker-compose mounts it) points at the module under test."""
    module_bytes()
    configs = [p for p in sorted((REPO / "envoy").glob("*.yaml"))
               if "static_resources" in (yaml.safe_load(p.read_text()) or {})]
    assert {p.name for p in configs} >= {"envoy.yaml", "envoy-openai-clients.yaml"}
    for path in configs:
        config = yaml.safe_load(path.read_text())
        envoy_config.set_wasm(config, WASM)
        out = tmp_path / path.name
        out.write_text(yaml.safe_dump(config, sort_keys=False))
        result = subprocess.run([str(ENVOY_BIN), "--mode", "validate", "-c", str(out), "--use-dynamic-base-id"],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, path.name + "\n" + result.stdout + result.stderr


# ---------------------------------------------------------------- docker-compose

def compose_config(environment=None):
    compose = tool("docker-compose")
    env = {k: v for k, v in os.environ.items() if k not in ("ENVOY_CONFIG", "OPENAI_CLIENTS_ENVOY_CONFIG",
                                                             "BRIDGE_WASM")}
    env.update(environment or {})
    out = run([compose, "-f", str(COMPOSE_FILE), "--profile", "openai-clients", "config"], env=env)
    return yaml.safe_load(out)["services"]


def mounts(service):
    """{container path: host path} of a resolved service."""
    result = {}
    for volume in service["volumes"]:
        source, target, *mode = volume.split(":")
        assert mode == ["ro"], volume
        result[target] = Path(source)
    return result


def envoy_version():
    out = run([str(ENVOY_BIN), "--version"])
    return re.search(r"/(\d+\.\d+)\.\d+/", out).group(1)


def test_compose_file_is_valid_and_wired_to_the_shipped_configs():
    services = compose_config()
    assert set(services) == {"envoy", "envoy-openai-clients", "upstream"}
    upstream = services["upstream"]
    upstream_port = int(upstream["command"][upstream["command"].index("--port") + 1])
    expected = {"envoy": ("envoy.yaml", 10000), "envoy-openai-clients": ("envoy-openai-clients.yaml", 10001)}
    for name, (config_file, published) in expected.items():
        service = services[name]
        # The official image, at the Envoy version the tests run.
        assert service["image"] == f"envoyproxy/envoy:v{envoy_version()}-latest"
        command = service["command"]
        container_config = command[command.index("-c") + 1]
        volume = mounts(service)
        assert volume[container_config] == REPO / "envoy" / config_file
        config = yaml.safe_load(volume[container_config].read_text())
        plugin = envoy_config.find_named(envoy_config.http_connection_manager(config)["http_filters"],
                                         envoy_config.WASM_FILTER)["typed_config"]["config"]
        module_target = plugin["vm_config"]["code"]["local"]["filename"]
        assert volume[module_target] == WASM.resolve()
        listener_port = config["static_resources"]["listeners"][0]["address"]["socket_address"]["port_value"]
        assert [(p["published"], p["target"]) for p in service["ports"]] == [(published, listener_port)]
        address = envoy_config.upstream_cluster(config)["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
        assert address["endpoint"]["address"]["socket_address"] == {"address": "upstream", "port_value": upstream_port}
        assert "upstream" in service["depends_on"]


def test_compose_mounts_a_rendered_config_and_another_module(tmp_path):
    """The README's real-upstream path: render for the container, mount it."""
    rendered = tmp_path / "envoy-upstream.yaml"
    envoy_config.main(["--upstream", "https://api.openai.com", "--wasm", "/etc/envoy/anthropic_openai_bridge.wasm",
                       "-o", str(rendered)])
    module = tmp_path / "plugin.wasm"
    services = compose_config({"ENVOY_CONFIG": str(rendered), "BRIDGE_WASM": str(module)})
    volume = mounts(services["envoy"])
    assert volume["/etc/envoy/envoy.yaml"] == rendered
    assert volume["/etc/envoy/anthropic_openai_bridge.wasm"] == module
    assert mounts(services["envoy-openai-clients"])["/etc/envoy/anthropic_openai_bridge.wasm"] == module
    config = yaml.safe_load(rendered.read_text())
    plugin = envoy_config.find_named(envoy_config.http_connection_manager(config)["http_filters"],
                                     envoy_config.WASM_FILTER)["typed_config"]["config"]
    assert plugin["vm_config"]["code"]["local"]["filename"] == "/etc/envoy/anthropic_openai_bridge.wasm"


def test_compose_upstream_command_runs_on_a_bare_python():
    """The upstream service runs mock_upstream.py on python:3.12-alpine: only
    the standard library. Run its command with site-packages disabled."""
    services = compose_config()
    command = services["upstream"]["command"]
    script = mounts(services["upstream"])[command[1]]
    port = free_port()
    args = command[2:]
    args[args.index("--port") + 1] = str(port)
    args[args.index("--host") + 1] = "127.0.0.1"
    process = subprocess.Popen([sys.executable, "-I", "-S", str(script), *args],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert process.poll() is None, process.stderr.read().decode()
            try:
                status, _, body = post_json(f"http://127.0.0.1:{port}", "/v1/messages", ANTHROPIC_REQUEST)
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert status == 200 and json.loads(body)["type"] == "message"
    finally:
        process.terminate()
        process.wait(10)


# ---------------------------------------------------------------- README paths

DEPLOY_SECTIONS = ("## Run with Envoy", "## Run with docker-compose", "## Build the OCI image", "## Run on Istio")


def readme_commands():
    """{section: [command]} of the README's deployment sections' sh blocks,
    continuation lines joined and trailing comments dropped."""
    readme = (REPO / "README.md").read_text()
    sections = {}
    for heading in DEPLOY_SECTIONS:
        start = readme.index(heading + "\n")
        end = readme.find("\n## ", start + len(heading))
        body = readme[start:end if end != -1 else None]
        commands = []
        for block in re.findall(r"```sh\n(.*?)```", body, re.S):
            for command in block.replace("\\\n", " ").splitlines():
                command = re.sub(r"\s+#.*$", "", command).strip()
                if command:
                    commands.append(command)
        sections[heading] = commands
    return sections


def test_readme_deployment_commands_name_real_targets_files_and_images(tmp_path):
    """The copy-paste paths stay true: make targets exist, named files exist,
    skopeo references name what `make image` writes, envoy_config.py command
    lines run (and their output validates where it names the built module)."""
    sections = readme_commands()
    assert all(sections.values()), sections
    layout = f"build/oci/{oci_image.NAME}"
    rendered = 0
    for heading, commands in sections.items():
        made_dirs = set()
        for command in commands:
            for part in command.split("&&"):
                if part.split()[:2] == ["mkdir", "-p"]:
                    made_dirs.update(part.split()[2:])
            for path in re.findall(r"(?<![\w/.$])((?:envoy|istio|scripts)/[\w.-]+(?:/[\w.-]+)*)", command):
                assert (REPO / path).exists(), f"{heading}: {path} in {command!r}"
            for part in command.split("&&"):
                if part.split()[0] == "make":
                    result = subprocess.run(["make", "-n", *part.split()[1:]], cwd=REPO,
                                            capture_output=True, text=True)
                    assert result.returncode == 0, f"{heading}: {command}\n{result.stderr}"
            for reference in re.findall(r"\boci:(\S+)", command):
                assert reference == f"{layout}:{CRATE_VERSION}", f"{heading}: {command}"
            if "scripts/envoy_config.py" in command:
                args = [w.strip("'") for w in re.findall(r"'[^']*'|\S+", command)]
                args = args[args.index("scripts/envoy_config.py") + 1:]
                out = tmp_path / f"rendered-{rendered}.yaml"
                target = Path(args[args.index("-o") + 1])
                assert (REPO / target.parent).is_dir() and target.parent != Path("build") or \
                    str(target.parent) in made_dirs, f"{heading}: nothing creates {target.parent}/"
                args[args.index("-o") + 1] = str(out)
                envoy_config.main(args)
                rendered += 1
                config = yaml.safe_load(out.read_text())
                if "target/wasm32-wasip1/release/anthropic_openai_bridge.wasm" in args:
                    module_bytes()
                    envoy_config.set_wasm(config, WASM)
                    assert envoy_validate_plain(config, tmp_path).returncode == 0, command
    assert rendered >= 2


def envoy_validate_plain(config, tmp_path):
    path = tmp_path / "readme.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return subprocess.run([str(ENVOY_BIN), "--mode", "validate", "-c", str(path), "--use-dynamic-base-id"],
                          capture_output=True, text=True, timeout=60)


# ---------------------------------------------------------------- recovery and buffer limits (issue 12)

def shipped_wasm_filter_configs():
    """(where, wasm filter `config`) of every Envoy config the repository ships
    or renders: envoy/*.yaml, scripts/envoy_config.py's output for both
    templates, and the istio EnvoyFilters."""
    found = []
    for path in sorted((REPO / "envoy").glob("*.yaml")):
        config = yaml.safe_load(path.read_text()) or {}
        if "static_resources" in config:
            plugin = envoy_config.find_named(envoy_config.http_connection_manager(config)["http_filters"],
                                             envoy_config.WASM_FILTER)
            found.append((path.name, plugin["typed_config"]["config"]))
    for template in (envoy_config.TEMPLATE, envoy_config.OPENAI_CLIENTS_TEMPLATE):
        config = envoy_config.render("http://127.0.0.1:8000", template=template)
        plugin = envoy_config.find_named(envoy_config.http_connection_manager(config)["http_filters"],
                                         envoy_config.WASM_FILTER)
        found.append((f"rendered {template.name}", plugin["typed_config"]["config"]))
    for file, envoy_filter in of_kind("EnvoyFilter"):
        for patch in envoy_filter["spec"]["configPatches"]:
            if patch["applyTo"] == "HTTP_FILTER":
                found.append((file, wasm_filter_config(patch["patch"]["value"])))
    return found


def test_every_shipped_config_reloads_a_module_that_traps():
    configs = shipped_wasm_filter_configs()
    assert len(configs) == 8, [where for where, _ in configs]
    for where, config in configs:
        assert config.get("failure_policy") == "FAIL_RELOAD", where
        assert "fail_open" not in config, where
    for file, plugin in of_kind("WasmPlugin"):
        assert plugin["spec"]["failStrategy"] == "FAIL_RELOAD", file


def test_every_shipped_buffer_limit_is_above_what_the_bridge_buffers():
    """Envoy checks its buffer limit before the filter sees the bytes that
    cross it: the limit must exceed max_request_bytes and max_response_bytes
    by the largest single read a busy worker may hand the filter (up to the
    kernel's TCP receive buffer, net.ipv4.tcp_rmem max, often 6 MiB, 32 MiB
    on this machine), so the client gets the filter's answer in its format."""
    margin = 32 * 1024 * 1024
    bridge_limit = 32 * 1024 * 1024  # default max_request_bytes (max_response_bytes is 16 MiB)
    limits = []
    for path in sorted((REPO / "envoy").glob("*.yaml")):
        config = yaml.safe_load(path.read_text()) or {}
        for item in config.get("static_resources", {}).get("listeners", []) + \
                config.get("static_resources", {}).get("clusters", []):
            limits.append((path.name, item["name"], item.get("per_connection_buffer_limit_bytes")))
    for config in (envoy_config.render("http://127.0.0.1:8000", template=t)
                   for t in (envoy_config.TEMPLATE, envoy_config.OPENAI_CLIENTS_TEMPLATE)):
        for item in config["static_resources"]["listeners"] + config["static_resources"]["clusters"]:
            limits.append(("rendered", item["name"], item.get("per_connection_buffer_limit_bytes")))
    (buffer_limits,) = [d for _, d in of_kind("EnvoyFilter", "buffer-limits.yaml")]
    for patch in buffer_limits["spec"]["configPatches"]:
        limits.append(("buffer-limits.yaml", patch["applyTo"], patch["patch"]["value"]["per_connection_buffer_limit_bytes"]))
    assert len(limits) >= 7
    for where, name, limit in limits:
        assert limit is not None and limit >= bridge_limit + margin, (where, name, limit)
    for configs in plugin_configs_by_port().values():
        for config in configs.values():
            assert config.get("max_request_bytes", bridge_limit) <= bridge_limit
            assert config.get("max_response_bytes", bridge_limit // 2) <= bridge_limit
