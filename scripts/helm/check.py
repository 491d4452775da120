#!/usr/bin/env python3
"""Offline checks of the Helm charts (scripts/check/helm.sh runs this):

1. strict lint of every chart (errors and messages of severity warning or worse fail; "icon is recommended"
   is ignored);
2. renders of the umbrella and of each service chart alone under the scenarios below, each validated with
   `kubernetes-validate --strict -k 1.31.0` (ServiceMonitor and PrometheusRule, CRD kinds it does not know,
   are checked structurally here) and asserted on (probes, resources, security context, PDB, HPA,
   NetworkPolicy, termination grace period, ...);
3. renders that must fail (no secrets; job-mode migrations with the bundled PostgreSQL; ...) fail with their
   message;
4. golden renders helm/tests/golden/<scenario>.yaml (--update rewrites them);
5. deploy/k8s drift (gen-k8s.py --check) and kubernetes-validate of deploy/k8s;
6. yamllint (helm/.yamllint.yaml) of the values files and deploy/k8s.

    python scripts/helm/check.py [--update]
"""
from __future__ import annotations

import copy
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render import REPO, SERVICES, dump, lint, objects, render  # noqa: E402

K8S_VERSION = "1.31.0"
GOLDEN = REPO / "helm" / "tests" / "golden"
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
JWT = "test-secret-of-at-least-32-characters!"
SECRETS = {"secrets": {"JWT_SECRET": JWT, "DATABASE_PASSWORD": "test-password"}}
PEERS = {
    "order": {"catalogUrl": "http://catalog:8080", "customerUrl": "http://customer:8080",
              "billingUrl": "http://billing:8080"},
    "billing": {"customerUrl": "http://customer:8080"},
}
CALLS = {"order": ["catalog", "customer", "billing"], "billing": ["customer"]}

failures: list[str] = []


def fail(msg: str) -> None:
    failures.append(msg)
    print(f"  FAIL {msg}")


def merge(*dicts: dict) -> dict:
    out: dict = {}
    for d in dicts:
        for k, v in d.items():
            if isinstance(v, dict) and isinstance(out.get(k), dict):
                out[k] = merge(out[k], v)
            else:
                out[k] = copy.deepcopy(v)
    return out


EXTERNAL_UMBRELLA = {"postgresql": {"enabled": False}, "redis": {"enabled": False},
                     "global": {"database": {"host": "pg.example.internal"},
                                "redis": {"url": "redis://redis.example.internal:6379"}}}


def each_service(values: dict) -> dict:
    return {s: values for s in SERVICES}


# name -> (values, expectations)
UMBRELLA_SCENARIOS: dict[str, tuple[dict, dict]] = {
    "umbrella-defaults": (SECRETS, {}),
    "umbrella-external-db-redis": (merge(SECRETS, EXTERNAL_UMBRELLA), {"no_kinds": ["StatefulSet"]}),
    "umbrella-autoscaling-off": (merge(SECRETS, each_service({"autoscaling": {"enabled": False}, "replicaCount": 3})),
                                 {"hpa": False, "replicas": 3}),
    "umbrella-networkpolicy-off": (merge(SECRETS, {"global": {"networkPolicy": {"enabled": False}}}), {"netpol": False}),
    "umbrella-ingress-tls": (merge(SECRETS, {"ingress": {"enabled": True, "host": "bss.example.com",
                                                         "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
                                                         "tls": [{"secretName": "bss-tls", "hosts": ["bss.example.com"]}]}}),
                             {"kinds": ["Ingress"]}),
    "umbrella-monitoring": (merge(SECRETS, {"global": {"serviceMonitor": {"enabled": True, "labels": {"release": "kps"}}},
                                            "prometheusRule": {"enabled": True}, "grafanaDashboards": {"enabled": True}}),
                            {"kinds": ["ServiceMonitor", "PrometheusRule"], "servicemonitor": True}),
    "umbrella-migrations-job": (merge(EXTERNAL_UMBRELLA, {"global": {"existingSecret": "bss-secrets",
                                                                      "migrations": {"mode": "job"}}}),
                                {"jobs": 4, "no_kinds": ["Secret"]}),
    "umbrella-existing-secret": ({"global": {"existingSecret": "bss-secrets"}}, {"no_kinds": ["Secret"]}),
}


def standalone(svc: str) -> dict[str, tuple[dict, dict]]:
    base = merge(SECRETS, {"database": {"host": "pg.example.internal"}, "redis": {"url": "redis://redis:6379"}},
                 {"peers": PEERS[svc]} if svc in PEERS else {})
    ext = merge({k: v for k, v in base.items() if k != "secrets"}, {"existingSecret": "bss-secrets"})
    return {
        f"{svc}-defaults": (base, {}),
        f"{svc}-external-redis-secret": (merge({k: v for k, v in base.items() if k != "redis"},
                                               {"redis": {"existingSecret": "redis-url"}}), {"redis_secret": True}),
        f"{svc}-redis-host": (merge({k: v for k, v in base.items() if k != "redis"},
                                    {"redis": {"host": "redis.example.internal"}}), {"redis_url": "redis://redis.example.internal:6379"}),
        f"{svc}-autoscaling-off": (merge(base, {"autoscaling": {"enabled": False}}), {"hpa": False, "replicas": 2}),
        f"{svc}-networkpolicy-off": (merge(base, {"networkPolicy": {"enabled": False}}), {"netpol": False}),
        f"{svc}-servicemonitor": (merge(base, {"serviceMonitor": {"enabled": True}}),
                                  {"kinds": ["ServiceMonitor"], "servicemonitor": True}),
        f"{svc}-migrations-job": (merge(ext, {"migrations": {"mode": "job"}}), {"jobs": 1, "no_kinds": ["Secret"]}),
        f"{svc}-existing-secret": (ext, {"no_kinds": ["Secret"]}),
    }


# (name, chart, values, text the error must contain)
MUST_FAIL = [
    ("umbrella without secrets", "bss-oss-rust", {}, "no default secrets"),
    ("umbrella without JWT_SECRET", "bss-oss-rust", {"secrets": {"DATABASE_PASSWORD": "x"}}, "no token secret"),
    ("umbrella with a short JWT_SECRET", "bss-oss-rust", {"secrets": {"DATABASE_PASSWORD": "x", "JWT_SECRET": "short"}},
     "at least 32"),
    ("umbrella job migrations with bundled PostgreSQL", "bss-oss-rust",
     merge(SECRETS, {"global": {"migrations": {"mode": "job"}}}), "bundled PostgreSQL"),
    ("umbrella job migrations without existingSecret", "bss-oss-rust",
     merge(SECRETS, EXTERNAL_UMBRELLA, {"global": {"migrations": {"mode": "job"}}}), "needs existingSecret"),
    ("umbrella external database without host", "bss-oss-rust", merge(SECRETS, {"postgresql": {"enabled": False}}),
     "global.database.host"),
    ("umbrella externalDatabase.* (not read)", "bss-oss-rust", merge(SECRETS, {"externalDatabase": {"host": "pg"}}),
     "global.database.host"),
    ("umbrella unknown value (schema)", "bss-oss-rust", merge(SECRETS, {"nonsense": 1}), "additional properties"),
] + [
    (f"{svc} alone without secrets", svc, {"database": {"host": "db"}, "redis": {"url": "redis://r:6379"},
                                            "peers": PEERS.get(svc, {})}, "no default secret")
    for svc in SERVICES
] + [
    (f"{svc} alone without database.host", svc, merge(SECRETS, {"redis": {"url": "redis://r:6379"},
                                                                  "peers": PEERS.get(svc, {})}), "database.host")
    for svc in SERVICES
] + [
    ("order alone without peer URLs", "order", merge(SECRETS, {"database": {"host": "db"},
                                                               "redis": {"url": "redis://r:6379"}}), "peers.catalogUrl"),
    ("billing alone without customer URL", "billing", merge(SECRETS, {"database": {"host": "db"},
                                                                      "redis": {"url": "redis://r:6379"}}),
     "peers.customerUrl"),
]


def lint_all() -> None:
    print("lint")
    charts = {"bss-oss-rust": SECRETS, "bss-lib": {}, "postgresql": {}, "redis": {}}
    for svc in SERVICES:
        charts[svc] = standalone(svc)[f"{svc}-defaults"][0]
    for name, values in charts.items():
        result = lint(name, values)
        for m in result.get("messages", []):
            if m["severity"] >= 2 and "icon is recommended" not in m["error"]:
                fail(f"lint {name}: {m['path']}: {m['error'].strip()}")
        for e in result.get("errors", []):
            if "icon is recommended" not in e:
                fail(f"lint {name}: {e}")


def containers(obj: dict) -> list[dict]:
    return obj["spec"]["template"]["spec"]["containers"]


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def check_crd(name: str, obj: dict) -> None:
    kind, meta, spec = obj.get("kind"), obj.get("metadata", {}), obj.get("spec")
    if obj.get("apiVersion") != "monitoring.coreos.com/v1" or not meta.get("name") or not isinstance(spec, dict):
        fail(f"{name}: {kind} lacks apiVersion monitoring.coreos.com/v1, metadata.name or spec")
        return
    if kind == "ServiceMonitor":
        eps = spec.get("endpoints") or []
        if not spec.get("selector", {}).get("matchLabels") or not eps:
            fail(f"{name}: ServiceMonitor {meta['name']} lacks selector.matchLabels or endpoints")
        for ep in eps:
            if ep.get("port") != "http" or ep.get("path") != "/metrics":
                fail(f"{name}: ServiceMonitor {meta['name']} endpoint is not port http, path /metrics")
            if ep.get("honorLabels") is not True:
                fail(f"{name}: ServiceMonitor {meta['name']} endpoint lacks honorLabels: true (the metrics' own service label)")
        if spec.get("jobLabel") != "app.kubernetes.io/part-of":
            fail(f"{name}: ServiceMonitor {meta['name']} lacks jobLabel app.kubernetes.io/part-of (job=bss-oss-rust, as the alerts expect)")
    else:
        groups = spec.get("groups")
        if not isinstance(groups, list) or not groups:
            fail(f"{name}: PrometheusRule {meta['name']} has no groups")
        for g in groups or []:
            if not isinstance(g, dict) or not g.get("name") or not isinstance(g.get("rules"), list):
                fail(f"{name}: PrometheusRule group without name or rules list: {g!r}")
            for r in g.get("rules") or []:
                if not (("alert" in r) ^ ("record" in r)) or "expr" not in r:
                    fail(f"{name}: PrometheusRule rule needs expr and exactly one of alert/record: {r!r}")
    unknown = set(obj) - {"apiVersion", "kind", "metadata", "spec"}
    if unknown:
        fail(f"{name}: {kind} has unexpected top-level fields {sorted(unknown)}")


def assert_render(name: str, objs: list[dict], expect: dict, standalone_svc: str | None) -> None:
    by_kind: dict[str, list[dict]] = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    deployments = by_kind.get("Deployment", [])
    want_services = [standalone_svc] if standalone_svc else SERVICES
    names = sorted(d["metadata"]["labels"]["app.kubernetes.io/name"] for d in deployments)
    if names != sorted(want_services):
        fail(f"{name}: Deployments {names}, want {sorted(want_services)}")
    for k in expect.get("kinds", []):
        if k not in by_kind:
            fail(f"{name}: no {k}")
    for k in expect.get("no_kinds", []):
        if k in by_kind:
            fail(f"{name}: unexpected {k}")
    jobs = [j for j in by_kind.get("Job", [])]
    if len(jobs) != expect.get("jobs", 0):
        fail(f"{name}: {len(jobs)} migration Jobs, want {expect.get('jobs', 0)}")
    for j in jobs:
        ann = j["metadata"].get("annotations", {})
        c = containers(j)[0]
        if ann.get("helm.sh/hook") != "pre-install,pre-upgrade" or \
                ann.get("helm.sh/hook-delete-policy") != "before-hook-creation,hook-succeeded":
            fail(f"{name}: Job {j['metadata']['name']} hook annotations {ann}")
        if c.get("args") != ["migrate"]:
            fail(f"{name}: Job {j['metadata']['name']} args {c.get('args')}")
        env = {e["name"] for e in c.get("env", [])}
        if not {"DATABASE_HOST", "DATABASE_PORT", "DATABASE_NAME", "DATABASE_USER", "DATABASE_PASSWORD"} <= env:
            fail(f"{name}: Job {j['metadata']['name']} lacks DATABASE_* env")
        check_security(name, j, c)
    configmaps = {c["metadata"]["name"]: c for c in by_kind.get("ConfigMap", [])}
    for d in deployments:
        dname = d["metadata"]["name"]
        svc = d["metadata"]["labels"]["app.kubernetes.io/name"]
        pod = d["spec"]["template"]
        labels = pod["metadata"]["labels"]
        spec = pod["spec"]
        c = containers(d)[0]
        port = [p for p in c.get("ports", []) if p.get("name") == "http" and p.get("containerPort") == 8080]
        if not port:
            fail(f"{name}: {dname} has no port 8080 named http")
        for probe, path in (("livenessProbe", "/live"), ("readinessProbe", "/ready"), ("startupProbe", "/live")):
            got = c.get(probe, {}).get("httpGet", {})
            if got.get("path") != path or got.get("port") not in ("http", 8080):
                fail(f"{name}: {dname} {probe} is not GET {path} on http")
        sp = c.get("startupProbe", {})
        if sp.get("failureThreshold") != 60 or sp.get("periodSeconds") != 5:
            fail(f"{name}: {dname} startupProbe is not failureThreshold 60, periodSeconds 5 (five minutes)")
        res = c.get("resources", {})
        for part in ("requests", "limits"):
            if not {"cpu", "memory"} <= set(res.get(part, {})):
                fail(f"{name}: {dname} lacks resources.{part}.cpu/memory")
        check_security(name, d, c)
        if spec.get("automountServiceAccountToken") is not False:
            fail(f"{name}: {dname} mounts the service account token")
        if not any(v.get("emptyDir") is not None and m["mountPath"] == "/tmp"
                   for v in spec.get("volumes", []) for m in c.get("volumeMounts", []) if m["name"] == v["name"]):
            fail(f"{name}: {dname} has no emptyDir on /tmp")
        aff = spec.get("affinity", {}).get("podAntiAffinity", {}).get("preferredDuringSchedulingIgnoredDuringExecution", [])
        keys = {t["podAffinityTerm"]["topologyKey"] for t in aff}
        if keys != {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}:
            fail(f"{name}: {dname} anti-affinity topology keys {sorted(keys)}")
        cm = configmaps.get(next((e["configMapRef"]["name"] for e in c.get("envFrom", []) if "configMapRef" in e), ""), {})
        env = dict(cm.get("data", {}))
        env_names = {e["name"] for e in c.get("env", [])}
        for e in c.get("env", []):
            if "value" in e:
                env[e["name"]] = e["value"]
        drain, timeout = int(env.get("SHUTDOWN_DRAIN_SECS", -1)), int(env.get("SHUTDOWN_TIMEOUT_SECS", -1))
        if drain < 0 or timeout < 0:
            fail(f"{name}: {dname} lacks SHUTDOWN_DRAIN_SECS/SHUTDOWN_TIMEOUT_SECS")
        if spec.get("terminationGracePeriodSeconds", 0) <= drain + timeout:
            fail(f"{name}: {dname} terminationGracePeriodSeconds {spec.get('terminationGracePeriodSeconds')} "
                 f"is not above drain {drain} + timeout {timeout}")
        for key in ("PORT", "DATABASE_HOST", "DATABASE_PORT", "DATABASE_NAME", "DATABASE_USER", "REDIS_KEY_PREFIX",
                    "JWT_ISSUER", "JWT_AUDIENCE", "OTEL_SERVICE_NAME", "HUB_ALLOW_PRIVATE_CALLBACKS", "RUN_MIGRATIONS"):
            if key not in env:
                fail(f"{name}: {dname} lacks env {key}")
        if env.get("PORT") != "8080" or env.get("REDIS_KEY_PREFIX") != "bss":
            fail(f"{name}: {dname} PORT/REDIS_KEY_PREFIX are {env.get('PORT')}/{env.get('REDIS_KEY_PREFIX')}")
        if "REDIS_URL" not in env and "REDIS_URL" not in env_names:
            fail(f"{name}: {dname} lacks REDIS_URL")
        if expect.get("redis_url") and env.get("REDIS_URL") != expect["redis_url"]:
            fail(f"{name}: {dname} REDIS_URL {env.get('REDIS_URL')}, want {expect['redis_url']}")
        if expect.get("redis_secret") and "REDIS_URL" not in env_names:
            fail(f"{name}: {dname} REDIS_URL is not taken from the Redis secret")
        if not {"DATABASE_PASSWORD", "JWT_SECRET"} <= env_names:
            fail(f"{name}: {dname} lacks DATABASE_PASSWORD/JWT_SECRET from the Secret")
        want_migrate = "false" if expect.get("jobs") else "true"
        if env.get("RUN_MIGRATIONS") != want_migrate:
            fail(f"{name}: {dname} RUN_MIGRATIONS={env.get('RUN_MIGRATIONS')}, want {want_migrate}")
        for peer in CALLS.get(svc, []):
            if not str(env.get(f"{peer.upper()}_URL", "")).startswith("http"):
                fail(f"{name}: {dname} lacks {peer.upper()}_URL")
        if svc == "order" and env.get("FULFILMENT_MODE") != "external":
            fail(f"{name}: {dname} FULFILMENT_MODE={env.get('FULFILMENT_MODE')}, want external")
        if svc == "billing":
            ref = [e for e in c.get("env", []) if e["name"] == "BILLING_CONSUMER_NAME"]
            if not ref or ref[0].get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "metadata.name":
                fail(f"{name}: {dname} BILLING_CONSUMER_NAME is not the pod name")
        pdbs = [p for p in by_kind.get("PodDisruptionBudget", [])
                if selects(p["spec"]["selector"].get("matchLabels"), labels)]
        if len(pdbs) != 1 or pdbs[0]["spec"].get("maxUnavailable") != 1:
            fail(f"{name}: {dname} has {len(pdbs)} PDBs (want one with maxUnavailable 1)")
        hpas = [h for h in by_kind.get("HorizontalPodAutoscaler", [])
                if h["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": dname}]
        if expect.get("hpa", True):
            if len(hpas) != 1:
                fail(f"{name}: {dname} has {len(hpas)} HPAs, want 1")
            elif "replicas" in d["spec"]:
                fail(f"{name}: {dname} sets replicas although an HPA scales it")
            else:
                h = hpas[0]["spec"]
                metrics = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in h["metrics"]}
                if (h["minReplicas"], h["maxReplicas"], metrics) != (2, 10, {"cpu": 70, "memory": 80}):
                    fail(f"{name}: {dname} HPA is not 2..10, cpu 70 %, memory 80 %")
        else:
            if hpas:
                fail(f"{name}: {dname} has an HPA although autoscaling is off")
            if d["spec"].get("replicas") != expect.get("replicas"):
                fail(f"{name}: {dname} replicas {d['spec'].get('replicas')}, want {expect.get('replicas')}")
        nps = [n for n in by_kind.get("NetworkPolicy", [])
               if selects(n["spec"]["podSelector"].get("matchLabels"), labels)]
        if expect.get("netpol", True):
            deny = [n for n in nps if set(n["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
                    and not n["spec"].get("ingress") and not n["spec"].get("egress")]
            allow = [n for n in nps if n["spec"].get("egress")]
            if not deny or not allow:
                fail(f"{name}: {dname} lacks a default-deny and an allow NetworkPolicy")
            else:
                egress_ports = {p["port"] for r in allow[0]["spec"]["egress"] for p in r.get("ports", [])}
                if not {53, 5432, 6379, 4318} <= egress_ports:
                    fail(f"{name}: {dname} NetworkPolicy egress ports {sorted(egress_ports)}")
                peers = {r["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                         for r in allow[0]["spec"]["egress"] if r.get("to") and "podSelector" in r["to"][0]}
                if peers != set(CALLS.get(svc, [])):
                    fail(f"{name}: {dname} NetworkPolicy peer egress {sorted(peers)}, want {CALLS.get(svc, [])}")
        elif nps:
            fail(f"{name}: {dname} has NetworkPolicies although they are off")
        sms = [s for s in by_kind.get("ServiceMonitor", []) if selects(s["spec"]["selector"]["matchLabels"], labels)]
        if expect.get("servicemonitor") and len(sms) != 1:
            fail(f"{name}: {dname} has {len(sms)} ServiceMonitors, want 1")
        services = [s for s in by_kind.get("Service", []) if selects(s["spec"].get("selector"), labels)]
        if not any(s["spec"].get("type", "ClusterIP") == "ClusterIP" and
                   any(p["port"] == 8080 and p.get("name") == "http" for p in s["spec"]["ports"]) for s in services):
            fail(f"{name}: {dname} has no ClusterIP Service on 8080")
    for sts in by_kind.get("StatefulSet", []):
        c = containers(sts)[0]
        ps = sts["spec"]["template"]["spec"].get("securityContext", {})
        cs = c.get("securityContext", {})
        if ps.get("runAsUser") != 999 or ps.get("fsGroup") != 999 or cs.get("allowPrivilegeEscalation") is not False \
                or cs.get("capabilities", {}).get("drop") != ["ALL"] or \
                ps.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            fail(f"{name}: StatefulSet {sts['metadata']['name']} security context")
        if not all(c.get(p) for p in ("livenessProbe", "readinessProbe", "startupProbe")):
            fail(f"{name}: StatefulSet {sts['metadata']['name']} lacks a probe")
        if not sts["spec"].get("volumeClaimTemplates"):
            fail(f"{name}: StatefulSet {sts['metadata']['name']} has no volumeClaimTemplates")
    ingresses = by_kind.get("Ingress", [])
    for ing in ingresses:
        paths = {p["path"]: p["backend"]["service"]["name"] for r in ing["spec"]["rules"] for p in r["http"]["paths"]}
        want = {"/tmf-api/productCatalogManagement/v4", "/tmf-api/customerManagement/v4",
                "/tmf-api/productOrderingManagement/v4", "/tmf-api/customerBillManagement/v4",
                "/tmf-api/accountManagement/v4"}
        if set(paths) != want or not ing["spec"].get("tls"):
            fail(f"{name}: Ingress paths {sorted(paths)} / tls {ing['spec'].get('tls')}")


def check_security(name: str, obj: dict, c: dict) -> None:
    ps = obj["spec"]["template"]["spec"].get("securityContext", {})
    cs = c.get("securityContext", {})
    ok = (ps.get("runAsNonRoot") is True and ps.get("runAsUser") == 65532 and ps.get("runAsGroup") == 65532
          and ps.get("seccompProfile", {}).get("type") == "RuntimeDefault"
          and cs.get("runAsNonRoot") is True and cs.get("runAsUser") == 65532
          and cs.get("readOnlyRootFilesystem") is True and cs.get("allowPrivilegeEscalation") is False
          and cs.get("capabilities", {}).get("drop") == ["ALL"]
          and cs.get("seccompProfile", {}).get("type") == "RuntimeDefault")
    if not ok:
        fail(f"{name}: {obj['kind']} {obj['metadata']['name']} lacks the restricted security context")


def main() -> int:
    update = "--update" in sys.argv[1:]
    start = time.monotonic()
    lint_all()
    scenarios: list[tuple[str, str, dict, dict, str]] = [
        (n, "bss-oss-rust", v, e, "bss-oss-rust") for n, (v, e) in UMBRELLA_SCENARIOS.items()]
    for svc in SERVICES:
        scenarios += [(n, svc, v, e, svc) for n, (v, e) in standalone(svc).items()]
    tmp = Path(tempfile.mkdtemp(prefix="bss-helm-check."))
    to_validate: list[Path] = []
    print(f"render {len(scenarios)} scenarios")
    GOLDEN.mkdir(parents=True, exist_ok=True)
    seen_golden = set()
    for name, chart, values, expect, release in scenarios:
        try:
            rendered = render(chart, values, release, "bss-oss")
        except Exception as e:  # helm_python.HelmError
            fail(f"{name}: render failed: {e}")
            continue
        objs = [o for _, o in objects(rendered)]
        for o in objs:
            if o.get("kind") in CRD_KINDS:
                check_crd(name, o)
        assert_render(name, objs, expect, None if chart == "bss-oss-rust" else chart)
        native = [o for o in objs if o.get("kind") not in CRD_KINDS]
        f = tmp / f"{name}.yaml"
        f.write_text(dump(native))
        to_validate.append(f)
        text = "# golden render of scenario " + name + " (python scripts/helm/check.py --update rewrites it)\n" + dump(objs)
        g = GOLDEN / f"{name}.yaml"
        seen_golden.add(g)
        if update:
            if not g.exists() or g.read_text() != text:
                g.write_text(text)
                print(f"  updated {g.relative_to(REPO)}")
        elif not g.exists() or g.read_text() != text:
            fail(f"{name}: render differs from {g.relative_to(REPO)} (review, then --update)")
            if g.exists():
                import difflib
                diff = difflib.unified_diff(g.read_text().splitlines(), text.splitlines(), "golden", "render", lineterm="", n=1)
                print("\n".join(list(diff)[:40]))
    for g in GOLDEN.glob("*.yaml"):
        if g not in seen_golden:
            if update:
                g.unlink()
            else:
                fail(f"stale golden file {g.relative_to(REPO)}")
    print("renders that must fail")
    for name, chart, values, needle in MUST_FAIL:
        try:
            render(chart, values, "bss-oss-rust" if chart == "bss-oss-rust" else chart, "bss-oss")
        except Exception as e:
            if needle not in str(e):
                fail(f"{name}: failed, but without {needle!r}: {e}")
            continue
        fail(f"{name}: rendered although it must fail")
    print("deploy/k8s")
    gen = subprocess.run([sys.executable, str(REPO / "scripts/helm/gen-k8s.py"), "--check"], capture_output=True, text=True)
    if gen.returncode != 0:
        fail("deploy/k8s drift: " + gen.stderr.strip())
    k8s_files = [p for p in sorted((REPO / "deploy/k8s").rglob("*.yaml")) if p.name not in ("values.yaml", "kustomization.yaml")]
    print(f"kubernetes-validate --strict -k {K8S_VERSION} ({len(to_validate)} renders, {len(k8s_files)} deploy/k8s files)")
    kv = subprocess.run(["kubernetes-validate", "--strict", "--quiet", "-k", K8S_VERSION,
                         *map(str, to_validate), *map(str, k8s_files)], capture_output=True, text=True)
    if kv.returncode != 0:
        fail("kubernetes-validate:\n" + (kv.stdout + kv.stderr).strip())
    print("yamllint")
    values_files = [str(p) for p in sorted((REPO / "helm").rglob("values.yaml"))
                    if "charts/bss-lib" not in str(p) or p.parent.name == "bss-lib"]
    values_files = sorted({str(Path(v).resolve()) for v in values_files})
    yl = subprocess.run(["yamllint", "--strict", "-c", str(REPO / "helm/.yamllint.yaml"), *values_files,
                         str(REPO / "deploy/k8s")], capture_output=True, text=True)
    if yl.returncode != 0:
        fail("yamllint:\n" + (yl.stdout + yl.stderr).strip())
    took = time.monotonic() - start
    if failures:
        print(f"helm check: {len(failures)} failure(s) in {took:.1f}s", file=sys.stderr)
        return 1
    print(f"helm check: OK ({len(scenarios)} scenarios, {len(MUST_FAIL)} must-fail renders) in {took:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
