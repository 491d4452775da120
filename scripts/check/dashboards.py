#!/usr/bin/env python3
"""Offline checks of the Grafana dashboards and the metric names of the Prometheus rules.

    python3 scripts/check/dashboards.py [REPO]      (scripts/check/observability.sh runs it; needs PyYAML
                                                     from the tools venv and promtool on PATH)

Asserts, for deploy/grafana/*.json:
  - the JSON parses; the set of dashboards and their uids is the fixed one below, uids unique;
  - generate.py --check: the committed JSON is exactly the generator's output;
  - schemaVersion 39, a `service` query variable on label_values(bss_oss_build_info, service), multi and
    includeAll, using the prometheus data source;
  - every datasource reference (dashboard, variable, panel, target) is {"type":"prometheus","uid":"prometheus"},
    and every panel and every target has one;
  - panel ids unique, every panel of type timeseries or stat with a complete gridPos inside the 24 columns and
    no two panels overlapping; every panel has targets and a title;
  - every PromQL expression filters on $service; amounts in minor units are divided by 100 and the panel
    says it assumes 2-decimal currencies;
  - every expression, with $service/${service} -> "catalog", $__rate_interval/$__interval -> 5m and
    $__range -> 1h, parses: they are written as recording rules to a temporary file for `promtool check rules`;
and for the dashboards and deploy/prometheus/rules/*.yml:
  - every metric name referenced appears in deploy/prometheus/metrics.txt (after stripping _bucket/_sum/
    _count), apart from `up` and the names recorded by the rules themselves.
Exits 1 listing every problem.
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

REPO = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
DASHBOARDS = {"bss-oss-overview.json": "bss-oss-overview", "bss-oss-business.json": "bss-oss-business"}
DS = {"type": "prometheus", "uid": "prometheus"}
PANEL_TYPES = {"timeseries", "stat"}

problems = []


def fail(where, msg):
    problems.append(f"{where}: {msg}")


def rel(path):
    return os.path.relpath(path, REPO)


# ------------------------------------------------------------------ PromQL helpers
KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool",
    "atan2", "inf", "nan", "start", "end",
}
STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def substitute(expr):
    """Replaces Grafana's variables by values promtool can parse."""
    expr = re.sub(r"\$\{service(?::[a-z]+)?\}|\$service\b", "catalog", expr)
    expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "5m").replace("$__range", "1h")
    return expr


def metric_names(expr):
    """Metric names an expression selects: bare identifiers that are not functions, keywords, label lists,
    label matchers or durations, plus the values of __name__ matchers."""
    names = set()
    for m in re.finditer(r'__name__\s*=~?\s*"([^"]*)"', expr):
        names.update(n for n in m.group(1).split("|") if n)
    text = STRING.sub('""', expr)
    text = re.sub(r"\{[^{}]*\}", " ", text)  # label matchers
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", r" ", text)  # label lists
    text = re.sub(r"\[[^\[\]]*\]", " ", text)  # range / subquery durations
    text = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", text)
    for m in IDENT.finditer(text):
        word = m.group(0)
        start, end = m.start(), m.end()
        if start > 0 and (text[start - 1].isdigit() or text[start - 1] == "."):
            continue  # part of a number such as 1e3 or 0.5
        if word.lower() in KEYWORDS:
            continue
        if re.match(r"\s*\(", text[end:]):
            continue  # a function or aggregation
        names.add(word)
    return names


def known_metric(name, listed, recorded):
    if name == "up" or name in listed or name in recorded:
        return True
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in listed:
            return True
    return False


# ------------------------------------------------------------------ dashboards
def check_datasource(where, node):
    ds = node.get("datasource")
    if ds != DS:
        fail(where, f"datasource must be {DS}, not {ds!r}")


def walk_datasources(where, node):
    """Every datasource anywhere in the model must be the provisioned Prometheus one."""
    if isinstance(node, dict):
        if "datasource" in node and node["datasource"] != DS:
            fail(where, f"datasource {node['datasource']!r} is not {DS}")
        for k, v in node.items():
            walk_datasources(where, v)
    elif isinstance(node, list):
        for v in node:
            walk_datasources(where, v)


def check_dashboard(path, expected_uid, exprs):
    where = rel(path)
    try:
        model = json.load(open(path, encoding="utf-8"))
    except (OSError, ValueError) as e:
        fail(where, f"does not parse as JSON: {e}")
        return None
    if model.get("uid") != expected_uid:
        fail(where, f"uid must be {expected_uid!r}, not {model.get('uid')!r}")
    if model.get("schemaVersion") != 39:
        fail(where, f"schemaVersion must be 39, not {model.get('schemaVersion')!r}")
    if not model.get("title"):
        fail(where, "no title")
    walk_datasources(where, model)

    variables = {v.get("name"): v for v in (model.get("templating") or {}).get("list") or []}
    svc = variables.get("service")
    if not svc:
        fail(where, "no `service` variable")
    else:
        query = svc.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        if svc.get("type") != "query" or re.sub(r"\s", "", str(query)) != "label_values(bss_oss_build_info,service)":
            fail(where, f"variable service must be a query on label_values(bss_oss_build_info, service), not {query!r}")
        if svc.get("multi") is not True or svc.get("includeAll") is not True:
            fail(where, "variable service must be multi and includeAll")
        check_datasource(f"{where} variable service", svc)

    panels = model.get("panels")
    if not isinstance(panels, list) or not panels:
        fail(where, "no panels")
        return model
    flat = []
    for p in panels:  # rows may nest panels
        flat.append(p)
        flat.extend(p.get("panels") or [])
    ids, boxes = {}, []
    for p in flat:
        pid = p.get("id")
        pw = f"{where} panel {pid} {p.get('title')!r}"
        if not isinstance(pid, int):
            fail(pw, "id missing or not an integer")
        elif pid in ids:
            fail(pw, f"id {pid} already used by {ids[pid]!r}")
        else:
            ids[pid] = p.get("title")
        if not p.get("title"):
            fail(pw, "no title")
        if p.get("type") not in PANEL_TYPES | {"row"}:
            fail(pw, f"type {p.get('type')!r} is not one of {sorted(PANEL_TYPES)}")
        pos = p.get("gridPos")
        if not isinstance(pos, dict) or not all(isinstance(pos.get(k), int) for k in ("h", "w", "x", "y")):
            fail(pw, f"gridPos missing or incomplete: {pos!r}")
        elif pos["x"] < 0 or pos["w"] < 1 or pos["h"] < 1 or pos["x"] + pos["w"] > 24:
            fail(pw, f"gridPos {pos} outside the 24 columns")
        else:
            for other, opos in boxes:
                if (pos["x"] < opos["x"] + opos["w"] and opos["x"] < pos["x"] + pos["w"]
                        and pos["y"] < opos["y"] + opos["h"] and opos["y"] < pos["y"] + pos["h"]):
                    fail(pw, f"gridPos {pos} overlaps panel {other}")
            boxes.append((pid, pos))
        if p.get("type") == "row":
            continue
        check_datasource(pw, p)
        targets = p.get("targets") or []
        if not targets:
            fail(pw, "no targets")
        refids = [t.get("refId") for t in targets]
        if len(set(refids)) != len(refids) or not all(refids):
            fail(pw, f"refIds missing or repeated: {refids}")
        for t in targets:
            tw = f"{pw} target {t.get('refId')}"
            check_datasource(tw, t)
            expr = t.get("expr")
            if not isinstance(expr, str) or not expr.strip():
                fail(tw, "no PromQL expression")
                continue
            if not re.search(r"service=~\"\$\{?service\}?\"", expr):
                fail(tw, f"does not filter on the service variable (service=~\"$service\"): {expr}")
            if "bss_oss_billed_amount_minor_total" in expr:
                if not re.search(r"/\s*100\b", expr):
                    fail(tw, "amounts in minor units must be divided by 100")
                if "2-decimal" not in (p.get("description") or ""):
                    fail(pw, "the description must say the amounts assume 2-decimal currencies")
            exprs.append((tw, expr))
    return model


# ------------------------------------------------------------------ main
def main():
    listed = set()
    metrics_txt = os.path.join(REPO, "deploy/prometheus/metrics.txt")
    for line in open(metrics_txt, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if line:
            if not IDENT.fullmatch(line):
                fail(rel(metrics_txt), f"not a metric name: {line!r}")
            listed.add(line)

    found = {os.path.basename(p) for p in glob.glob(os.path.join(REPO, "deploy/grafana/*.json"))}
    for name in sorted(found - set(DASHBOARDS)):
        fail(f"deploy/grafana/{name}", "unexpected dashboard (add it, with its fixed uid, to scripts/check/dashboards.py)")
    exprs, uids = [], {}
    for name, uid in DASHBOARDS.items():
        path = os.path.join(REPO, "deploy/grafana", name)
        if name not in found:
            fail(rel(path), "missing")
            continue
        model = check_dashboard(path, uid, exprs)
        if model is not None:
            if model.get("uid") in uids:
                fail(rel(path), f"uid {model.get('uid')!r} also used by {uids[model.get('uid')]}")
            uids[model.get("uid")] = name

    generator = os.path.join(REPO, "deploy/grafana/generate.py")
    if os.path.exists(generator):
        r = subprocess.run([sys.executable, generator, "--check"], capture_output=True, text=True)
        if r.returncode != 0:
            fail("deploy/grafana", f"the JSON is not generate.py's output: {r.stderr.strip() or r.stdout.strip()}")

    # Every dashboard expression through promtool, as recording rules.
    if exprs:
        rules = {"groups": [{"name": "dashboards", "rules": [
            {"record": f"dashboard:expr_{i}", "expr": substitute(e)} for i, (_, e) in enumerate(exprs)]}]}
        with tempfile.NamedTemporaryFile("w", suffix=".yml", prefix="dashboard-exprs-", delete=False) as f:
            yaml.safe_dump(rules, f, sort_keys=False, width=1000)
            tmp = f.name
        try:
            r = subprocess.run(["promtool", "check", "rules", tmp], capture_output=True, text=True)
            if r.returncode != 0:
                out = (r.stdout + r.stderr).strip()
                for i, (where, e) in enumerate(exprs):
                    for line in out.splitlines():
                        if f'"dashboard:expr_{i}":' in line:  # promtool names the rule it cannot parse
                            fail(where, f"promtool rejects {substitute(e)!r}: {line.split(': ', 2)[-1]}")
                fail("deploy/grafana", f"promtool check rules on the dashboard expressions failed:\n{out}")
        finally:
            os.unlink(tmp)

    # Metric names of the dashboards and the rules.
    recorded, rule_exprs = set(), []
    for path in sorted(glob.glob(os.path.join(REPO, "deploy/prometheus/rules/*.yml"))):
        try:
            doc = yaml.safe_load(open(path, encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            fail(rel(path), f"does not parse: {e}")
            continue
        for g in doc.get("groups") or []:
            for rule in g.get("rules") or []:
                if "record" in rule:
                    recorded.add(rule["record"])
                rule_exprs.append((f"{rel(path)} {rule.get('alert') or rule.get('record')}", str(rule.get("expr", ""))))
    for where, expr in exprs + rule_exprs:
        for name in sorted(metric_names(substitute(expr))):
            if not known_metric(name, listed, recorded):
                fail(where, f"metric {name!r} is not in deploy/prometheus/metrics.txt")

    for p in problems:
        print(f"FAIL {p}")
    print(f"dashboards: {len(uids)} dashboards, {len(exprs)} dashboard expressions, {len(rule_exprs)} rule expressions, "
          f"{len(listed)} listed metrics, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
