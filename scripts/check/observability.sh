#!/usr/bin/env bash
# Offline checks of the observability artefacts (deploy/prometheus, deploy/grafana):
#   rules           promtool check rules on deploy/prometheus/rules/*.yml
#   rule-tests      promtool test rules on deploy/prometheus/tests/*.test.yml (every alert fires and stays silent)
#   alerts          structure of the alerts: the expected set of names, severity warning|critical, summary,
#                   description and the runbook_url docs/operations.md#alert-<lowercased name> (the heading
#                   exists there), and for each alert a unit test where it fires and one where it does not
#   compose-config  promtool check config on prometheus.compose.yml, from a temporary copy whose rule_files
#                   point at the repository's rules (the file names /etc/prometheus/rules, the mount in
#                   compose.yaml), plus its targets catalog|customer|order|billing:8080 at /metrics every 15s
#   k8s-config      prometheus.kubernetes.yml: Debian's promtool is built without kubernetes_sd, so
#                   `promtool check config` cannot load it (that one error is tolerated; a promtool with
#                   kubernetes_sd validates the file); yamllint plus a structural check (pod role in namespace
#                   bss-oss, keep part-of=bss-oss-rust and the container port named http, namespace and pod
#                   relabelled, honor_labels, the same rule_files)
#   yamllint        every YAML file under deploy/prometheus with deploy/prometheus/.yamllint.yaml
#   dashboards      scripts/check/dashboards.py: JSON, fixed unique uids, data sources, panel ids and gridPos,
#                   the generator's output, every PromQL expression through promtool, and every metric name of
#                   the dashboards and rules listed in deploy/prometheus/metrics.txt
#   helm-copies     helm/bss-oss-rust/files/ (when present) holds identical copies of the rules and dashboards
# Runs every check, then exits 1 if any failed. Usage: scripts/check/observability.sh (from any directory).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
eval "$(bash scripts/deploy-tools.sh)"
export REPO

# shellcheck source=steps.sh
source scripts/check/steps.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check_rules() {
  promtool check rules deploy/prometheus/rules/*.yml
}

check_rule_tests() {
  promtool test rules deploy/prometheus/tests/*.test.yml
}

check_alerts() {
  python - <<'PY'
import glob, os, re, sys
import yaml

repo = os.environ["REPO"]
problems = []
def fail(msg):
    problems.append(msg)

expected = {
    "BssHighErrorRate", "BssHighLatency", "BssTargetDown", "BssDependencyDown", "BssOutboxBacklog",
    "BssConsumerLag", "BssEventsDeadLettered", "BssDbPoolSaturated", "BssBillRunFailed", "BssHandlerPanics",
    "BssListenerDeliveriesFailing",
}
runbook_base = "https://github.com/bss-oss-rust/bss-oss-rust/blob/main/docs/operations.md#"
docs = open(os.path.join(repo, "docs/operations.md"), encoding="utf-8").read()
headings = {re.sub(r"[^a-z0-9 _-]", "", h.strip().lower()).replace(" ", "-") for h in re.findall(r"^#+\s+(.+)$", docs, re.M)}

alerts = {}
for path in sorted(glob.glob(os.path.join(repo, "deploy/prometheus/rules/*.yml"))):
    for group in (yaml.safe_load(open(path)) or {}).get("groups") or []:
        for rule in group.get("rules") or []:
            if "alert" not in rule:
                continue
            name = rule["alert"]
            if name in alerts:
                fail(f"{name}: defined twice")
            alerts[name] = rule
            labels, ann = rule.get("labels") or {}, rule.get("annotations") or {}
            if labels.get("severity") not in ("warning", "critical"):
                fail(f"{name}: severity must be warning or critical, not {labels.get('severity')!r}")
            for key in ("summary", "description"):
                if not str(ann.get(key, "")).strip():
                    fail(f"{name}: annotation {key} missing")
            anchor = f"alert-{name.lower()}"
            if ann.get("runbook_url") != runbook_base + anchor:
                fail(f"{name}: runbook_url must be {runbook_base + anchor}, not {ann.get('runbook_url')!r}")
            if anchor not in headings:
                fail(f"{name}: docs/operations.md has no heading {anchor}")
for name in sorted(expected - set(alerts)):
    fail(f"{name}: alert missing")
for name in sorted(set(alerts) - expected):
    fail(f"{name}: unexpected alert (add it to the expected set, with tests and a runbook)")

firing, silent = {}, {}
for path in sorted(glob.glob(os.path.join(repo, "deploy/prometheus/tests/*.test.yml"))):
    for test in (yaml.safe_load(open(path)) or {}).get("tests") or []:
        for case in test.get("alert_rule_test") or []:
            name = case.get("alertname")
            if name not in alerts:
                fail(f"{test.get('name')}: tests alert {name!r}, which no rule defines (promtool would pass it)")
            bucket = firing if case.get("exp_alerts") else silent
            bucket[name] = bucket.get(name, 0) + 1
            for exp in case.get("exp_alerts") or []:
                ann = exp.get("exp_annotations") or {}
                if not {"summary", "description", "runbook_url"} <= set(ann):
                    fail(f"{name}: a firing test case does not assert summary, description and runbook_url")
                if "severity" not in (exp.get("exp_labels") or {}):
                    fail(f"{name}: a firing test case does not assert the severity label")
for name in sorted(alerts):
    if not firing.get(name):
        fail(f"{name}: no unit test where it fires")
    if not silent.get(name):
        fail(f"{name}: no unit test where it stays silent")

for p in problems:
    print(f"FAIL {p}")
print(f"{len(alerts)} alerts, {sum(firing.values())} firing and {sum(silent.values())} silent test cases, {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
PY
}

check_compose_config() {
  local copy=$tmp/prometheus.compose.yml
  python - "$copy" <<'PY' || return 1
import os, sys
import yaml

repo, out = os.environ["REPO"], sys.argv[1]
cfg = yaml.safe_load(open(os.path.join(repo, "deploy/prometheus/prometheus.compose.yml")))
problems = []
if cfg.get("rule_files") != ["/etc/prometheus/rules/*.yml"]:
    problems.append(f"rule_files must be ['/etc/prometheus/rules/*.yml'] (the mount of deploy/prometheus/rules), not {cfg.get('rule_files')!r}")
jobs = {j.get("job_name"): j for j in cfg.get("scrape_configs") or []}
job = jobs.get("bss-oss-rust") or {}
targets = sorted(t for sc in job.get("static_configs") or [] for t in sc.get("targets") or [])
if targets != ["billing:8080", "catalog:8080", "customer:8080", "order:8080"]:
    problems.append(f"job bss-oss-rust must scrape catalog, customer, order and billing on 8080, not {targets}")
if job.get("metrics_path", "/metrics") != "/metrics":
    problems.append("job bss-oss-rust must scrape /metrics")
interval = job.get("scrape_interval") or (cfg.get("global") or {}).get("scrape_interval")
if interval != "15s":
    problems.append(f"scrape interval must be 15s, not {interval!r}")
if job.get("honor_labels") is not True:
    problems.append("job bss-oss-rust must keep the in-metric labels (honor_labels: true)")
# The copy promtool checks: the rules at their repository path instead of the container mount.
cfg["rule_files"] = [os.path.join(repo, "deploy/prometheus/rules/*.yml")]
yaml.safe_dump(cfg, open(out, "w"), sort_keys=False)
for p in problems:
    print(f"FAIL prometheus.compose.yml: {p}")
sys.exit(1 if problems else 0)
PY
  promtool check config "$copy"
}

check_k8s_config() {
  # errexit is off inside `if` (step), so every command but the last returns explicitly.
  yamllint --strict -c deploy/prometheus/.yamllint.yaml deploy/prometheus/prometheus.kubernetes.yml || return 1
  # Debian's promtool (2.42.0+ds) is built without kubernetes_sd: `promtool check config` stops at
  # "field kubernetes_sd_configs not found in type config.ScrapeConfig". A promtool that can parse it checks
  # the file (rule_files pointed at the repository); that one error is tolerated, any other fails the step.
  # The structure is asserted below either way.
  local copy=$tmp/prometheus.kubernetes.yml out
  sed "s#/etc/prometheus/rules/#$REPO/deploy/prometheus/rules/#" deploy/prometheus/prometheus.kubernetes.yml >"$copy"
  if out=$(promtool check config "$copy" 2>&1); then
    echo "promtool check config: valid"
  elif grep -q "field kubernetes_sd_configs not found in type config.ScrapeConfig" <<<"$out" \
    && ! grep -q "field .* not found" <<<"$(grep -v kubernetes_sd_configs <<<"$out")"; then
    echo "promtool check config: this promtool has no kubernetes_sd (expected of Debian's build); structural check only"
  else
    printf '%s\n' "$out"
    return 1
  fi
  python - <<'PY'
import os, sys
import yaml

repo = os.environ["REPO"]
cfg = yaml.safe_load(open(os.path.join(repo, "deploy/prometheus/prometheus.kubernetes.yml")))
problems = []
def fail(msg):
    problems.append(msg)

if cfg.get("rule_files") != ["/etc/prometheus/rules/*.yml"]:
    fail(f"rule_files must be ['/etc/prometheus/rules/*.yml'], not {cfg.get('rule_files')!r}")
jobs = {j.get("job_name"): j for j in cfg.get("scrape_configs") or []}
job = jobs.get("bss-oss-rust")
if not job:
    fail("no job bss-oss-rust (the alerts select up{job=\"bss-oss-rust\"})")
    job = {}
if job.get("metrics_path", "/metrics") != "/metrics":
    fail("metrics_path must be /metrics")
if (job.get("scrape_interval") or (cfg.get("global") or {}).get("scrape_interval")) != "15s":
    fail("scrape interval must be 15s")
if job.get("honor_labels") is not True:
    fail("honor_labels must be true: the in-metric `service` label wins")
sds = job.get("kubernetes_sd_configs") or []
if len(sds) != 1 or sds[0].get("role") != "pod":
    fail(f"exactly one kubernetes_sd_config with role pod expected, not {sds!r}")
elif (sds[0].get("namespaces") or {}).get("names") != ["bss-oss"]:
    fail(f"discovery must be limited to namespace bss-oss, not {sds[0].get('namespaces')!r}")
if job.get("static_configs"):
    fail("no static targets expected next to the discovery")
relabels = job.get("relabel_configs") or []
def has(pred):
    return any(pred(r) for r in relabels)
keep = lambda src, regex: has(lambda r: r.get("action") == "keep" and r.get("source_labels") == [src] and r.get("regex") == regex)
if not keep("__meta_kubernetes_pod_label_app_kubernetes_io_part_of", "bss-oss-rust"):
    fail("no keep of pods labelled app.kubernetes.io/part-of=bss-oss-rust")
if not keep("__meta_kubernetes_pod_container_port_name", "http"):
    fail("no keep of the container port named http")
for src, target in (("__meta_kubernetes_namespace", "namespace"), ("__meta_kubernetes_pod_name", "pod")):
    if not has(lambda r: r.get("source_labels") == [src] and r.get("target_label") == target and r.get("action", "replace") == "replace"):
        fail(f"no relabelling of {src} to {target}")
if has(lambda r: r.get("target_label") == "service" or r.get("action") in ("labeldrop", "labelkeep") and "service" in str(r.get("regex"))):
    fail("the in-metric `service` label must not be overwritten or dropped")
for r in relabels:
    if r.get("action", "replace") not in ("replace", "keep", "drop", "labelmap", "labeldrop", "labelkeep", "hashmod", "keepequal", "dropequal", "lowercase", "uppercase"):
        fail(f"unknown relabel action {r.get('action')!r}")
for p in problems:
    print(f"FAIL prometheus.kubernetes.yml: {p}")
print(f"prometheus.kubernetes.yml: {len(relabels)} relabel rules, {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
PY
}

check_yamllint() {
  yamllint --strict -c deploy/prometheus/.yamllint.yaml deploy/prometheus
}

check_dashboards() {
  python scripts/check/dashboards.py "$REPO"
}

check_helm_copies() {
  # The Helm chart ships copies (PrometheusRule, dashboard ConfigMaps) that scripts/helm/gen-k8s.py refreshes.
  local files=helm/bss-oss-rust/files rc=0 f
  [[ -d $files ]] || { echo "no $files: nothing to compare"; return 0; }
  for f in deploy/prometheus/rules/*.yml; do
    cmp -s "$f" "$files/$(basename "$f")" || { echo "FAIL $files/$(basename "$f") differs from $f (run scripts/helm/gen-k8s.py)"; rc=1; }
  done
  for f in deploy/grafana/*.json; do
    cmp -s "$f" "$files/dashboards/$(basename "$f")" || { echo "FAIL $files/dashboards/$(basename "$f") differs from $f (run scripts/helm/gen-k8s.py)"; rc=1; }
  done
  ((rc == 0)) && echo "helm copies of the rules and dashboards are identical"
  return "$rc"
}

step rules check_rules
step rule-tests check_rule_tests
step alerts check_alerts
step compose-config check_compose_config
step k8s-config check_k8s_config
step yamllint check_yamllint
step dashboards check_dashboards
step helm-copies check_helm_copies

finish_steps observability
