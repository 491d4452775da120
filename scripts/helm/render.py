"""Shared helpers of scripts/helm/*.py: render a chart with helm_python into a list of Kubernetes objects."""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
UMBRELLA = REPO / "helm" / "bss-oss-rust"
SERVICES = ["catalog", "customer", "order", "billing"]

import helm_python as helm  # noqa: E402

try:  # the SDK logs symlink notices to stderr; they are expected (charts/<svc>/charts/bss-lib)
    helm.disable_logging()
except Exception:  # pragma: no cover
    pass
logging.getLogger("helm_python").setLevel(logging.ERROR)


def chart_path(name: str) -> Path:
    return UMBRELLA if name == "bss-oss-rust" else UMBRELLA / "charts" / name


@contextlib.contextmanager
def quiet_stderr():
    """Silence the Go SDK's own stderr lines ("found symbolic link in path": charts/<svc>/charts/bss-lib is a
    symlink on purpose); failures still arrive as exceptions."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def render(chart: str, values: dict, release: str, namespace: str) -> dict[str, str]:
    """{template path: text} as Helm renders it (raises helm_python.HelmError on a failed render)."""
    with quiet_stderr():
        return helm.Chart.load(str(chart_path(chart))).render(values=values, name=release, namespace=namespace)


def lint(chart: str, values: dict) -> dict:
    with quiet_stderr():
        return helm.lint(str(chart_path(chart)), values=values, strict=True)


def objects(rendered: dict[str, str]) -> list[tuple[str, dict]]:
    """(template path, object) for every non-empty YAML document, in template path order; NOTES.txt skipped."""
    out = []
    for path in sorted(rendered):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(rendered[path]):
            if doc:
                out.append((path, doc))
    return out


def dump(objs: list[dict]) -> str:
    return "".join("---\n" + yaml.safe_dump(o, sort_keys=False, width=120) for o in objs)
