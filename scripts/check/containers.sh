#!/usr/bin/env bash
# Offline checks of the container artefacts (issue 7; no Docker engine here, DESIGN.md §7):
#   hadolint      every services/*/Dockerfile against .hadolint.yaml (warnings fail)
#   dockerfiles   assertions on each Dockerfile: pinned bases (builder on the workspace's rust-version,
#                 distroless glibc runtime of the same Debian release), cargo-chef pinned, recipe → cook →
#                 build with --locked, SQLX_OFFLINE, migrations in the context, OCI labels matching
#                 Cargo.toml, non-root numeric USER, ENV PORT=8080, EXPOSE 8080, exec-form HEALTHCHECK and
#                 ENTRYPOINT on the service's binary, and the four files identical apart from the service
#   dockerignore  .dockerignore keeps what the images build from and nothing else (target/, .dev/, .git,
#                 .env files out)
#   compose-schema  compose.yaml against the Compose specification schema (check-jsonschema)
#   yamllint      compose.yaml, docker/ and .hadolint.yaml with docker/.yamllint.yaml
#   compose       structure: per service healthcheck on its own binary, hardening (read_only, tmpfs /tmp,
#                 cap_drop ALL, no-new-privileges), depends_on healthy postgres and redis, ports, the variables
#                 the code reads (peer URLs the service asks for), no literal secrets, every ${VAR} documented
#                 in docker/.env.example, pinned images, every bind-mounted host path present, and the seams
#                 with the other files: Prometheus scrape targets, Grafana data source uids and dashboards,
#                 the collector's receivers and exporter
# Runs every check, then exits 1 if any failed. Usage: scripts/check/containers.sh (from any directory).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
eval "$(bash scripts/deploy-tools.sh)"
export REPO

# shellcheck source=steps.sh
source scripts/check/steps.sh

dockerfiles=(services/*/Dockerfile)

check_hadolint() {
  hadolint --config .hadolint.yaml "${dockerfiles[@]}"
}

check_dockerfiles() {
  python3 - "${dockerfiles[@]}" <<'PY'
import json, os, re, sys, tomllib

repo = os.environ["REPO"]
problems = []
def fail(path, msg):
    problems.append(f"{path}: {msg}")

workspace = tomllib.load(open(os.path.join(repo, "Cargo.toml"), "rb"))
wpkg = workspace["workspace"]["package"]
members = workspace["workspace"]["members"]
member_roots = sorted({m.split("/")[0] for m in members})

def parse(path):
    """Instructions as (KEYWORD, arguments, line number); continuation lines joined, comments dropped."""
    out, buf, start = [], "", None
    for n, raw in enumerate(open(path), 1):
        line = raw.rstrip("\n")
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if start is None:
            start = n
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.strip().partition(" ")
        out.append((word.upper(), rest.strip(), start))
        buf, start = "", None
    return out

def stages(instrs):
    """Global instructions (before the first FROM) and a list of stages {image, name, instrs}."""
    glob, result = [], []
    for ins in instrs:
        if ins[0] == "FROM":
            parts = ins[1].split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            result.append({"image": parts[0], "name": name, "instrs": [], "line": ins[2]})
        elif result:
            result[-1]["instrs"].append(ins)
        else:
            glob.append(ins)
    return glob, result

def arg_default(instrs, name):
    for word, rest, _ in instrs:
        if word == "ARG":
            key, eq, value = rest.partition("=")
            if key == name and eq:
                return value.strip().strip('"')
    return None

def exec_form(rest):
    try:
        value = json.loads(rest)
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None
    except json.JSONDecodeError:
        return None

def labels(instrs):
    found = {}
    for word, rest, _ in instrs:
        if word == "LABEL":
            for key, value in re.findall(r'([\w.\-]+)=("(?:[^"\\]|\\.)*"|\S+)', rest):
                found[key] = value.strip('"')
    return found

normalised = {}
for path in sys.argv[1:]:
    svc = os.path.basename(os.path.dirname(path))
    manifest = tomllib.load(open(os.path.join(repo, "services", svc, "Cargo.toml"), "rb"))["package"]
    text = open(path).read()
    instrs = parse(path)
    glob, st = stages(instrs)
    if len(st) < 3:
        fail(path, f"expected a multi-stage build (planner, builder, runtime), found {len(st)} stage(s)")
        continue
    names = {s["name"] for s in st if s["name"]}

    # Base images: pinned, never latest; builder on the workspace's toolchain; runtime glibc of the same release.
    for s in st:
        image = s["image"]
        if image in names:
            continue
        ref = image.split("@")[0]
        tag = ref.rsplit(":", 1)[1] if ":" in ref.rsplit("/", 1)[-1] else None
        if tag is None or tag == "latest" or "$" in image:
            fail(path, f"line {s['line']}: base image {image} is not pinned to a tag (and not latest)")
    builder_base = st[0]["image"]
    want_builder = f"rust:{wpkg['rust-version']}-slim-bookworm"
    if builder_base != want_builder:
        fail(path, f"first stage is {builder_base}, expected {want_builder} (workspace rust-version)")
    runtime = st[-1]
    if not runtime["image"].startswith("gcr.io/distroless/cc-debian12:"):
        fail(path, f"runtime base is {runtime['image']}, expected gcr.io/distroless/cc-debian12 (glibc of bookworm)")

    # cargo-chef pinned and used: recipe, cook, build, all locked.
    runs = [(rest, line) for s in st for (word, rest, line) in s["instrs"] if word == "RUN"]
    run_text = "\n".join(r for r, _ in runs)
    if not re.search(r"cargo install cargo-chef --version \d+\.\d+\.\d+ --locked", run_text):
        fail(path, "cargo-chef is not installed with a pinned --version and --locked")
    if "cargo chef prepare --recipe-path recipe.json" not in run_text:
        fail(path, "no `cargo chef prepare` (planner stage)")
    cook = [r for r, _ in runs if "cargo chef cook" in r]
    if not cook or not all("--release" in r and "--locked" in r and '-p "${SERVICE}"' in r for r in cook):
        fail(path, 'no `cargo chef cook --release --locked -p "${SERVICE}"`')
    build = [r for r, _ in runs if re.search(r"\bcargo build\b", r)]
    if not build or not all("--release" in r and "--locked" in r and '-p "${SERVICE}"' in r for r in build):
        fail(path, 'no `cargo build --release --locked -p "${SERVICE}"`')
    cook_line = min((l for r, l in runs if "cargo chef cook" in r), default=None)
    build_line = min((l for r, l in runs if re.search(r"\bcargo build\b", r)), default=None)
    if cook_line and build_line and cook_line > build_line:
        fail(path, "cargo chef cook must come before cargo build (dependency layer first)")
    if not re.search(r"^ENV\s+SQLX_OFFLINE=true\b", text, re.M):
        fail(path, "ENV SQLX_OFFLINE=true is missing")
    copies = [rest for s in st for (word, rest, _) in s["instrs"] if word == "COPY" and "--from" not in rest]
    sources = {c.split()[0] for c in copies}
    for root in member_roots:
        if root not in sources:
            fail(path, f"workspace member folder {root}/ is never copied (cargo chef prepare needs every member)")
    if "migrations" not in sources:
        fail(path, "migrations/ is not copied: sqlx::migrate! embeds it at compile time")

    # Build arguments agree with Cargo.toml.
    if arg_default(glob, "SERVICE") != svc:
        fail(path, f"ARG SERVICE default is {arg_default(glob, 'SERVICE')!r}, expected {svc!r}")
    if arg_default(glob, "DESCRIPTION") != manifest.get("description"):
        fail(path, f"ARG DESCRIPTION must equal services/{svc}/Cargo.toml description {manifest.get('description')!r}")
    if arg_default(runtime["instrs"], "VERSION") != wpkg["version"]:
        fail(path, f"ARG VERSION default must be the workspace version {wpkg['version']}")

    # Runtime stage.
    rt = runtime["instrs"]
    got = labels(rt)
    want = {
        "org.opencontainers.image.title": "${SERVICE}",
        "org.opencontainers.image.description": "${DESCRIPTION}",
        "org.opencontainers.image.source": wpkg["repository"],
        "org.opencontainers.image.licenses": wpkg["license"],
        "org.opencontainers.image.version": "${VERSION}",
        "org.opencontainers.image.revision": "${REVISION}",
    }
    for key, value in want.items():
        if got.get(key) != value:
            fail(path, f"runtime LABEL {key}={got.get(key)!r}, expected {value!r}")
    if not got.get("org.opencontainers.image.vendor"):
        fail(path, "runtime LABEL org.opencontainers.image.vendor is missing")
    users = [rest for word, rest, _ in rt if word == "USER"]
    if users:
        uid = users[-1].split(":")[0]
        if not uid.isdigit() or uid == "0":
            fail(path, f"USER {users[-1]} is not a numeric non-root uid (Kubernetes runAsNonRoot needs a number)")
    elif not runtime["image"].endswith(":nonroot"):
        fail(path, "runtime stage runs as root: no USER and not a nonroot base")
    binary = f"/usr/local/bin/{svc}"
    if not any(w == "COPY" and "--from=builder" in r and r.endswith("/usr/local/bin/${SERVICE}") for w, r, _ in rt):
        fail(path, "the binary is not copied from the builder to /usr/local/bin/${SERVICE}")
    if not any(w == "ENV" and re.search(r"\bPORT=8080\b", r) for w, r, _ in rt):
        fail(path, "runtime ENV PORT=8080 is missing")
    if not any(w == "EXPOSE" and r.split() == ["8080"] for w, r, _ in rt):
        fail(path, "EXPOSE 8080 is missing")
    checks = [r for w, r, _ in rt if w == "HEALTHCHECK"]
    if len(checks) != 1:
        fail(path, "exactly one HEALTHCHECK expected in the runtime stage")
    else:
        cmd = checks[0].split(" CMD ", 1)[1] if " CMD " in f" {checks[0]}" else ""
        if exec_form(cmd.strip()) != [binary, "healthcheck"]:
            fail(path, f'HEALTHCHECK must be exec form CMD ["{binary}", "healthcheck"] (no shell in the image)')
    entry = [r for w, r, _ in rt if w == "ENTRYPOINT"]
    if not entry or exec_form(entry[-1]) != [binary]:
        fail(path, f'ENTRYPOINT must be ["{binary}"]')

    # The same file for every service: only the name and the description may differ.
    norm = re.sub(rf"\b{re.escape(svc)}\b", "@SERVICE@", text)
    norm = re.sub(r"^ARG DESCRIPTION=.*$", "ARG DESCRIPTION=@DESCRIPTION@", norm, flags=re.M)
    normalised[path] = norm

if normalised:
    first, reference = next(iter(normalised.items()))
    for path, norm in normalised.items():
        if norm != reference:
            import difflib
            diff = "".join(difflib.unified_diff(reference.splitlines(True), norm.splitlines(True), first, path, n=0))
            fail(path, f"differs from {first} beyond the service name and description:\n{diff}")

for p in problems:
    print(f"FAIL {p}")
print(f"{len(sys.argv) - 1} Dockerfiles, {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
PY
}

check_dockerignore() {
  python3 - <<'PY'
import os, re, subprocess, sys

repo = os.environ["REPO"]
def rx(pattern):
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + "$")

rules = []
for line in open(os.path.join(repo, ".dockerignore")):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    negate = line.startswith("!")
    pattern = os.path.normpath(line.lstrip("!").lstrip("/"))
    rules.append((negate, rx(pattern)))

def sent(path):
    """Docker's rule: the last pattern that matches the path or one of its parent folders decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    keep = True
    for negate, pattern in rules:
        if any(pattern.match(p) for p in prefixes):
            keep = negate
    return keep

files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=repo,
                       capture_output=True, text=True, check=True).stdout.split()
needed = lambda f: (f in ("Cargo.toml", "Cargo.lock") or f.split("/")[0] in ("crates", "services", "migrations")) \
    and not re.fullmatch(r"services/[^/]+/Dockerfile", f)
problems = [f"needed by the build but excluded: {f}" for f in files if needed(f) and not sent(f)]
problems += [f"sent to the build but not needed: {f}" for f in files if not needed(f) and sent(f)
             and not re.fullmatch(r"services/[^/]+/Dockerfile", f)]
never = ["target/release/order", ".dev/jwt-secret", ".dev/pg/data/PG_VERSION", ".git/config", ".env",
         ".env.local", "docker/.env", "crates/common/target/debug/x", "services/order/.env", "node_modules/x/y.js",
         "sdk/typescript/package.json", "deploy/k8s/x.yaml", "helm/bss-oss-rust/values.yaml", "docs/adr/README.md"]
problems += [f"must never be in the build context: {f}" for f in never if sent(f)]
for p in problems:
    print(f"FAIL .dockerignore: {p}")
print(f"{len(files)} repository files classified, {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
PY
}

check_compose_schema() {
  check-jsonschema --builtin-schema vendor.compose-spec compose.yaml
}

check_yamllint() {
  yamllint --strict -c docker/.yamllint.yaml compose.yaml docker/ .hadolint.yaml
}

check_compose() {
  python3 - <<'PY'
import glob, json, os, re, sys
import yaml

repo = os.environ["REPO"]
problems = []
def fail(msg):
    problems.append(msg)

raw = open(os.path.join(repo, "compose.yaml")).read()
compose = yaml.safe_load(raw)  # resolves anchors and << merge keys as docker compose does
services = compose.get("services", {})
apps = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(repo, "services/*/Dockerfile")))
host_ports = {"catalog": 8620, "customer": 8629, "order": 8622, "billing": 8678}  # DESIGN.md §1
secret_vars = ("POSTGRES_PASSWORD", "JWT_SECRET", "GRAFANA_ADMIN_PASSWORD")

# Every variable name the code reads, to catch a misspelt setting that would silently be ignored.
code = ""
for path in glob.glob(os.path.join(repo, "crates/common/src/**/*.rs"), recursive=True):
    code += open(path).read()
def read_by(svc):
    text = code
    for path in glob.glob(os.path.join(repo, f"services/{svc}/src/**/*.rs"), recursive=True):
        text += open(path).read()
    return text

def env_of(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {k: (None if v is None else str(v)) for k, v in env.items()}

def healthy(service, dep):
    deps = service.get("depends_on") or {}
    return isinstance(deps, dict) and (deps.get(dep) or {}).get("condition") == "service_healthy"

def container_port(mapping):
    return str(mapping).rsplit(":", 1)[-1].split("/")[0]

for svc in apps:
    s = services.get(svc)
    if s is None:
        fail(f"{svc}: no compose service for services/{svc}/Dockerfile")
        continue
    build = s.get("build") or {}
    if build.get("context") != "." or build.get("dockerfile") != f"services/{svc}/Dockerfile":
        fail(f"{svc}: build must be context . with dockerfile services/{svc}/Dockerfile")
    if s.get("image") != f"ghcr.io/bss-oss-rust/{svc}:local":
        fail(f"{svc}: image must be ghcr.io/bss-oss-rust/{svc}:local, got {s.get('image')}")
    test = (s.get("healthcheck") or {}).get("test")
    if test != ["CMD", f"/usr/local/bin/{svc}", "healthcheck"]:
        fail(f"{svc}: healthcheck test must be [CMD, /usr/local/bin/{svc}, healthcheck], got {test}")
    if s.get("read_only") is not True:
        fail(f"{svc}: read_only: true is missing")
    if "/tmp" not in [str(t).split(":")[0] for t in (s.get("tmpfs") or [])]:
        fail(f"{svc}: tmpfs /tmp is missing (the root file system is read-only)")
    if "ALL" not in (s.get("cap_drop") or []):
        fail(f"{svc}: cap_drop: [ALL] is missing")
    if not any(str(o).replace("=", ":") in ("no-new-privileges:true", "no-new-privileges")
               for o in s.get("security_opt") or []):
        fail(f"{svc}: security_opt no-new-privileges:true is missing")
    for dep in ("postgres", "redis"):
        if not healthy(s, dep):
            fail(f"{svc}: depends_on {dep} with condition service_healthy is missing")
    ports = [str(p) for p in s.get("ports") or []]
    if not any(re.search(rf"(^|:){host_ports.get(svc)}:8080$", p) for p in ports):
        fail(f"{svc}: host port {host_ports.get(svc)} must map to container port 8080, got {ports}")
    env = env_of(s)
    expect = {"PORT": "8080", "OTEL_SERVICE_NAME": svc, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector:4318",
              "REDIS_URL": "redis://redis:6379"}
    for key, value in expect.items():
        if env.get(key) != value:
            fail(f"{svc}: environment {key}={env.get(key)!r}, expected {value!r}")
    if "JWT_SECRET" not in env:
        fail(f"{svc}: JWT_SECRET is not passed")
    if "DATABASE_URL" not in env and not {"DATABASE_HOST", "DATABASE_NAME", "DATABASE_USER", "DATABASE_PASSWORD"} <= env.keys():
        fail(f"{svc}: neither DATABASE_URL nor the split DATABASE_* variables are set")
    source = read_by(svc)
    for key in env:
        if not (key.startswith("OTEL_") or key == "RUST_LOG" or f'"{key}"' in source):
            fail(f"{svc}: environment {key} is read by no code of bss-common or services/{svc} (misspelt?)")
    for peer in sorted(set(re.findall(r'peer\("([A-Z_]+_URL)"\)', source))):
        target = peer[: -len("_URL")].lower()
        if env.get(peer) != f"http://{target}:8080":
            fail(f"{svc}: the code asks for {peer}; expected http://{target}:8080, got {env.get(peer)!r}")
        if target not in services:
            fail(f"{svc}: {peer} points at {target}, which is no compose service")

for name in ("postgres", "redis"):
    if not (services.get(name) or {}).get("healthcheck", {}).get("test"):
        fail(f"{name}: healthcheck is missing")
if services.get("postgres") and "pg_isready" not in json.dumps(services["postgres"].get("healthcheck")):
    fail("postgres: the healthcheck must use pg_isready")
pg_env = env_of(services.get("postgres") or {})
if pg_env.get("POSTGRES_DB") != "bss" or pg_env.get("POSTGRES_USER") != "bss":
    fail("postgres: POSTGRES_DB and POSTGRES_USER must be bss")

# Images pinned: a tag that is not latest (the locally built ones are :local).
for name, s in services.items():
    image = s.get("image")
    if not image:
        fail(f"{name}: no image")
        continue
    last = image.split("@")[0].rsplit("/", 1)[-1]
    if ":" not in last or last.endswith(":latest") or "$" in image:
        fail(f"{name}: image {image} is not pinned to a tag")

# Secrets: only ever ${VAR:?message}, never a literal or a default.
for match in re.finditer(r"\$\{(\w+)(:?[-?+])?([^}]*)\}", raw):
    var, op = match.group(1), match.group(2)
    if var in secret_vars and op != ":?":
        fail(f"compose.yaml: {match.group(0)} — a secret must be required with ${{{var}:?message}}")
for var in ("POSTGRES_PASSWORD", "JWT_SECRET"):
    if not re.search(rf"\$\{{{var}:\?[^}}]+\}}", raw):
        fail(f"compose.yaml: {var} must be required with ${{{var}:?message}} so compose refuses to start without it")
for name, s in services.items():
    for key, value in env_of(s).items():
        if re.search(r"PASSWORD|SECRET|TOKEN|PRIVATE_KEY", key) and value is not None \
                and not re.fullmatch(r"\$\{\w+:\?[^}]+\}", value):
            fail(f"{name}: {key} has a literal or defaulted value; use ${{VAR:?message}}")
        if value and re.search(r"://[^:/@\s]+:(?!\$\{)[^@\s]+@", value):
            fail(f"{name}: {key} embeds a literal password in a URL")

# Every variable compose interpolates is documented in docker/.env.example.
example = open(os.path.join(repo, "docker/.env.example")).read()
documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, re.M))
for var in sorted(set(re.findall(r"\$\{(\w+)", raw))):
    if var not in documented:
        fail(f"docker/.env.example: {var} (used in compose.yaml) is not documented")
for var in secret_vars:
    if not re.search(rf"^{var}=\s*$", example, re.M):
        fail(f"docker/.env.example: {var}= must be present and empty (no sample secret to copy by accident)")

# The filled-in .env never reaches git; the example does.
import subprocess
git = lambda *a: subprocess.run(["git", "check-ignore", "-q", *a], cwd=repo).returncode
if git(".env") != 0 or git("docker/.env") != 0:
    fail(".gitignore: .env must be ignored (it holds the stack's secrets)")
if git("docker/.env.example") == 0:
    fail(".gitignore: docker/.env.example must not be ignored")

# Bind mounts: every host path exists in the repository.
mounts = {}
for name, s in services.items():
    for volume in s.get("volumes") or []:
        if isinstance(volume, dict):
            source, target = volume.get("source"), volume.get("target")
            bind = volume.get("type") == "bind"
        else:
            source, target = str(volume).split(":")[:2]
            bind = source.startswith((".", "/"))
        if bind:
            mounts[(name, target)] = source
            if not os.path.exists(os.path.join(repo, source)):
                fail(f"{name}: bind-mounted host path {source} does not exist")

def load(rel):
    path = os.path.join(repo, rel)
    return yaml.safe_load(open(path)) if os.path.isfile(path) else None

# Prometheus: the compose scrape config reaches every service by its compose name on 8080, at /metrics.
prom = load(mounts.get(("prometheus", "/etc/prometheus/prometheus.yml"), "")) or {}
targets = {}
for job in prom.get("scrape_configs") or []:
    for static in job.get("static_configs") or []:
        for target in static.get("targets") or []:
            targets[target] = job.get("metrics_path", "/metrics")
for svc in apps:
    if targets.get(f"{svc}:8080") != "/metrics":
        fail(f"prometheus: the compose scrape config does not scrape {svc}:8080 at /metrics")
for pattern in prom.get("rule_files") or []:
    if not str(pattern).startswith("/etc/prometheus/rules/"):
        fail(f"prometheus: rule_files entry {pattern} is outside /etc/prometheus/rules/ (the mounted rules)")

# Grafana: fixed data source uids, a provider on the mounted dashboards, dashboards using those uids.
datasources = load("docker/grafana/provisioning/datasources/datasources.yaml") or {}
uids = {d.get("uid"): d for d in datasources.get("datasources") or []}
for uid, kind, url in (("prometheus", "prometheus", "http://prometheus:9090"), ("jaeger", "jaeger", "http://jaeger:16686")):
    d = uids.get(uid)
    if not d or d.get("type") != kind or d.get("url") != url:
        fail(f"grafana: data source uid {uid!r} of type {kind} at {url} is missing")
providers = (load("docker/grafana/provisioning/dashboards/dashboards.yaml") or {}).get("providers") or []
dash_mount = next((t for (n, t), src in mounts.items() if n == "grafana" and src.rstrip("/") == "./deploy/grafana"), None)
if not any((p.get("options") or {}).get("path") == dash_mount for p in providers):
    fail(f"grafana: no dashboard provider loads {dash_mount} (where deploy/grafana is mounted)")
builtin = {"grafana", "-- Grafana --", "-- Mixed --", "-- Dashboard --"}
dashboards = glob.glob(os.path.join(repo, "deploy/grafana/**/*.json"), recursive=True)
for path in dashboards:
    def walk(node, where):
        if isinstance(node, dict):
            ds = node.get("datasource")
            uid = ds.get("uid") if isinstance(ds, dict) else ds if isinstance(ds, str) else None
            if uid and uid not in uids and uid not in builtin and not uid.startswith("$"):
                fail(f"{os.path.relpath(path, repo)}: datasource uid {uid!r} is not provisioned ({sorted(uids)})")
            for v in node.values():
                walk(v, where)
        elif isinstance(node, list):
            for v in node:
                walk(v, where)
    walk(json.load(open(path)), path)
if not dashboards:
    fail("deploy/grafana: no dashboard JSON to provision")

# OpenTelemetry collector: OTLP in on 4317/4318 on every interface, traces out to the jaeger service.
collector = load("docker/otel-collector.yaml") or {}
protocols = ((collector.get("receivers") or {}).get("otlp") or {}).get("protocols") or {}
for proto, port in (("grpc", 4317), ("http", 4318)):
    if (protocols.get(proto) or {}).get("endpoint") != f"0.0.0.0:{port}":
        fail(f"otel-collector: OTLP {proto} receiver must listen on 0.0.0.0:{port}")
pipeline = (((collector.get("service") or {}).get("pipelines") or {}).get("traces")) or {}
for section in ("receivers", "processors", "exporters"):
    for component in pipeline.get(section) or []:
        if component not in (collector.get(section) or {}):
            fail(f"otel-collector: traces pipeline uses undefined {section[:-1]} {component}")
if "batch" not in (pipeline.get("processors") or []):
    fail("otel-collector: the traces pipeline has no batch processor")
exporters = [collector.get("exporters", {}).get(e) or {} for e in pipeline.get("exporters") or []]
if not any(str(e.get("endpoint", "")).split(":")[0] == "jaeger" for e in exporters):
    fail("otel-collector: no traces exporter sends to the jaeger service")
if env_of(services.get("jaeger") or {}).get("COLLECTOR_OTLP_ENABLED") != "true":
    fail("jaeger: COLLECTOR_OTLP_ENABLED must be \"true\"")
if not mounts.get(("otel-collector", "/etc/otelcol-contrib/config.yaml")) == "./docker/otel-collector.yaml":
    fail("otel-collector: docker/otel-collector.yaml must be mounted at /etc/otelcol-contrib/config.yaml")

for p in problems:
    print(f"FAIL {p}")
print(f"{len(services)} compose services, {len(apps)} built here, {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
PY
}

step hadolint check_hadolint
step dockerfiles check_dockerfiles
step dockerignore check_dockerignore
step compose-schema check_compose_schema
step yamllint check_yamllint
step compose check_compose

finish_steps containers
