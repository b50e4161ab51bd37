#!/usr/bin/env python3
"""Package the bridge module as an OCI image, without Docker.

The image is the *compat* variant of the Wasm image specification that
Istio's WasmPlugin (and Envoy Gateway, Higress, ...) pulls: an ordinary OCI
image manifest with one `application/vnd.oci.image.layer.v1.tar+gzip` layer
whose tar holds the module as `plugin.wasm`, and a standard OCI image config
(`application/vnd.oci.image.config.v1+json`, platform wasm/wasip1). Istio tries
this variant first; unlike the artifact variant (custom config and layer media
types) every registry, skopeo, crane and containerd handle it as a normal image.

Output, under --out (default build/oci):

    anthropic-openai-bridge/            OCI image layout (oci-layout, index.json, blobs/sha256/...)
    anthropic-openai-bridge.tar         the same layout as one tar (skopeo's `oci-archive:`)

Every blob is stored under its sha256 digest. Output is byte-for-byte
reproducible: fixed mtimes (SOURCE_DATE_EPOCH, default 0), uid/gid 0, a gzip
header without name or time, sorted archive entries.

    python3 scripts/oci_image.py --wasm target/wasm32-wasip1/release/anthropic_openai_bridge.wasm
    skopeo inspect oci:build/oci/anthropic-openai-bridge:0.1.0
    skopeo copy oci:build/oci/anthropic-openai-bridge:0.1.0 docker://REGISTRY/anthropic-openai-bridge:0.1.0

Only the Python standard library is used.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import tomllib
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NAME = "anthropic-openai-bridge"
PLUGIN_FILE = "plugin.wasm"  # the file name Istio looks for in the layer

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"
# Optional marker from the Wasm image spec that tells the compat variant apart.
VARIANT_ANNOTATION = ("module.wasm.image/variant", "compat")


def package_metadata():
    """name, version, description, license of the root crate (Cargo.toml)."""
    package = tomllib.loads((REPO / "Cargo.toml").read_text())["package"]
    return package


def source_date_epoch():
    return int(os.environ.get("SOURCE_DATE_EPOCH", "0"))


def sha256_digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def tar_bytes(entries, mtime):
    """A deterministic ustar archive of `entries`: [(name, bytes or None for a dir)]."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                archive.addfile(info)
            else:
                info.mode = 0o644
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def gzip_bytes(data):
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as out:
        out.write(data)
    return buffer.getvalue()


def build_blobs(wasm, tag, metadata, mtime):
    """Return (blobs {digest: bytes}, manifest descriptor) for the compat image."""
    layer_tar = tar_bytes([(PLUGIN_FILE, wasm)], mtime)
    layer = gzip_bytes(layer_tar)
    created = datetime.fromtimestamp(mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    config = canonical_json({
        "created": created,
        "architecture": "wasm",
        "os": "wasip1",
        "config": {
            "Labels": {
                "org.opencontainers.image.title": metadata["name"],
                "org.opencontainers.image.version": metadata["version"],
            },
        },
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(layer_tar)]},
        "history": [{"created": created, "created_by": f"scripts/oci_image.py: {PLUGIN_FILE}"}],
    })
    manifest = canonical_json({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "digest": sha256_digest(config), "size": len(config)},
        "layers": [{
            "mediaType": LAYER_TYPE,
            "digest": sha256_digest(layer),
            "size": len(layer),
            "annotations": {"org.opencontainers.image.title": PLUGIN_FILE},
        }],
        "annotations": {
            VARIANT_ANNOTATION[0]: VARIANT_ANNOTATION[1],
            "org.opencontainers.image.title": metadata["name"],
            "org.opencontainers.image.version": metadata["version"],
            "org.opencontainers.image.description": metadata.get("description", ""),
            "org.opencontainers.image.licenses": metadata.get("license", ""),
            "org.opencontainers.image.created": created,
        },
    })
    blobs = {sha256_digest(b): b for b in (layer, config, manifest)}
    descriptor = {
        "mediaType": MANIFEST_TYPE,
        "digest": sha256_digest(manifest),
        "size": len(manifest),
        "annotations": {REF_NAME: tag},
    }
    return blobs, descriptor


def layout_files(blobs, descriptor):
    """The files of an OCI image layout, as [(relative path, bytes or None for a dir)]."""
    index = canonical_json({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": [descriptor]})
    files = [
        ("blobs", None),
        ("blobs/sha256", None),
        ("index.json", index),
        ("oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"})),
    ]
    for digest in sorted(blobs):
        files.append(("blobs/sha256/" + digest.split(":", 1)[1], blobs[digest]))
    return sorted(files)


def build(wasm_path, out_dir, tag=None, name=NAME):
    """Write the layout directory and its tarball; return a summary dict."""
    wasm = Path(wasm_path).read_bytes()
    if wasm[:4] != b"\0asm":
        raise ValueError(f"{wasm_path} is not a WebAssembly module")
    metadata = package_metadata()
    tag = tag or metadata["version"]
    mtime = source_date_epoch()
    blobs, descriptor = build_blobs(wasm, tag, metadata, mtime)
    files = layout_files(blobs, descriptor)

    out_dir = Path(out_dir)
    layout = out_dir / name
    if layout.exists():
        shutil.rmtree(layout)
    for path, data in files:
        target = layout / path
        if data is None:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.write_bytes(data)
    archive = out_dir / f"{name}.tar"
    archive.write_bytes(tar_bytes(files, mtime))
    return {
        "layout": str(layout),
        "archive": str(archive),
        "tag": tag,
        "manifest_digest": descriptor["digest"],
        "wasm_sha256": hashlib.sha256(wasm).hexdigest(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wasm", default=str(REPO / "target/wasm32-wasip1/release/anthropic_openai_bridge.wasm"),
                        help="the built module (default: the release build)")
    parser.add_argument("--out", default=str(REPO / "build/oci"), help="output directory (default: build/oci)")
    parser.add_argument("--tag", help="image tag (default: the crate version from Cargo.toml)")
    parser.add_argument("--name", default=NAME, help=f"layout directory and tarball name (default: {NAME})")
    args = parser.parse_args(argv)
    try:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        summary = build(args.wasm, args.out, args.tag, args.name)
    except (OSError, ValueError) as err:
        parser.error(str(err))
    print(f"OCI image layout  {summary['layout']}  (skopeo: oci:{summary['layout']}:{summary['tag']})")
    print(f"OCI archive       {summary['archive']}  (skopeo: oci-archive:{summary['archive']})")
    print(f"manifest digest   {summary['manifest_digest']}  (WasmPlugin sha256 for an oci:// url)")
    print(f"module sha256     {summary['wasm_sha256']}  (sha256 for a file:// or https:// url)")


if __name__ == "__main__":
    sys.exit(main())
