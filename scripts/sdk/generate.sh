#!/usr/bin/env bash
# `make sdk`: client SDKs for the four services, generated from the OpenAPI 3.0.3 document each service serves
# (GET /openapi.json, also printed by `<binary> openapi` without a database): Python, TypeScript (fetch) and
# Go, one package per service and language under sdk/<language>/<service>/. The code is generated, never
# edited and never committed (.gitignore); the documents used are kept beside it in sdk/openapi/.
#
# Why generated and not hand-written: the documents are the contract; a client generated from them cannot
# drift from what the services serve, and a document the generator refuses (openapi-generator validates it:
# validation stays ON) fails this script, so a broken document is found here and not by a user.
#
# Tools, installed on first use and pinned (reinstalled when the pin changes):
#   - openapi-generator-cli $OPENAPI_GENERATOR_VERSION from PyPI (the wheel carries the generator's jar; needs
#     Java 11+, installed from Debian when missing) in the venv .dev/tools/openapi-generator;
#   - TypeScript $TYPESCRIPT_VERSION from npm in .dev/tools/typescript: every TypeScript client is compiled
#     with `tsc --noEmit` (strict, ES2020, DOM), so `make sdk` proves the TypeScript compiles.
#
# Settings (environment):
#   SDK_DOCS=<dir>     use <dir>/{catalog,customer,order,billing}.json instead of asking the binaries
#   BSS_SKIP_BUILD=1   do not run `cargo build --bins` first (use the binaries as they are)
#   BSS_BIN_DIR        where the binaries are (default ${CARGO_TARGET_DIR:-target}/debug)
#   SDK_OUT            where to generate (default <repo>/sdk)
#
#   make sdk
#   SDK_DOCS=/tmp/docs bash scripts/sdk/generate.sh
#
# The twelve clients come from one `openapi-generator-cli batch` run (one JVM); the generator settings are
# written to sdk/logs/config/, its output to sdk/logs/. When Go is installed, the Go clients must build too.
#
# Output: progress on stderr ("sdk: …"), then where everything went. Exit status: 0 when every document was
# accepted, every client generated, every TypeScript client compiled (and, with Go, every Go client built).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"

OPENAPI_GENERATOR_VERSION=7.26.0
# TypeScript 5.x: 6.0 deprecates and 7.0 removes `moduleResolution: node`, which the check below uses so the
# clients are compiled the way most of their users' (bundler or Node) projects still resolve them.
TYPESCRIPT_VERSION=5.9.3
SERVICES=(catalog customer order billing)
TOOLS=$REPO/.dev/tools
OUT=${SDK_OUT:-$REPO/sdk}
BIN_DIR=${BSS_BIN_DIR:-${CARGO_TARGET_DIR:-$REPO/target}/debug}
# The Go module path of a client: $GO_HOST/$GO_USER/$GO_REPO/<service> (each client is a module of its own).
GO_HOST=github.com GO_USER=bss-oss-rust GO_REPO=sdk/go

say() { echo "sdk: $*" >&2; }
die() {
  echo "sdk: error: $*" >&2
  exit 1
}

# ---------------------------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------------------------

if ! command -v java >/dev/null 2>&1; then
  say "java missing; installing openjdk-17-jre-headless (Debian)"
  bash scripts/devstack.sh apt-install openjdk-17-jre-headless >&2 ||
    die "could not install Java (openapi-generator needs 11+)"
fi
venv=$TOOLS/openapi-generator
generator=$venv/bin/openapi-generator-cli
if [[ ! -x $generator ]] || [[ $("$generator" version 2>/dev/null) != "$OPENAPI_GENERATOR_VERSION" ]]; then
  say "installing openapi-generator-cli $OPENAPI_GENERATOR_VERSION into .dev/tools/openapi-generator"
  rm -rf "$venv"
  python3 -m venv "$venv" 2>/dev/null ||
    { bash scripts/devstack.sh apt-install python3-venv >&2 && python3 -m venv "$venv"; }
  "$venv/bin/pip" install -q --disable-pip-version-check "openapi-generator-cli==$OPENAPI_GENERATOR_VERSION" >&2
fi
tsc=$TOOLS/typescript/node_modules/.bin/tsc
if [[ ! -x $tsc ]] || [[ $("$tsc" --version 2>/dev/null) != "Version $TYPESCRIPT_VERSION" ]]; then
  command -v npm >/dev/null 2>&1 || bash scripts/devstack.sh apt-install npm >&2 || die "could not install npm"
  say "installing typescript $TYPESCRIPT_VERSION into .dev/tools/typescript"
  rm -rf "$TOOLS/typescript"
  mkdir -p "$TOOLS/typescript"
  npm install --silent --no-audit --no-fund --no-package-lock --prefix "$TOOLS/typescript" \
    "typescript@$TYPESCRIPT_VERSION" >&2
fi

# ---------------------------------------------------------------------------------------------------------------
# The documents
# ---------------------------------------------------------------------------------------------------------------

docs=$OUT/openapi
rm -rf "$docs"
mkdir -p "$docs"
if [[ -n ${SDK_DOCS:-} ]]; then
  say "documents from $SDK_DOCS"
  for svc in "${SERVICES[@]}"; do
    [[ -s $SDK_DOCS/$svc.json ]] || die "$SDK_DOCS/$svc.json is missing"
    cp "$SDK_DOCS/$svc.json" "$docs/$svc.json"
  done
else
  if [[ ${BSS_SKIP_BUILD:-0} != 1 ]]; then
    say "cargo build --bins"
    cargo build -q --bins
  fi
  for svc in "${SERVICES[@]}"; do
    [[ -x $BIN_DIR/$svc ]] || die "$BIN_DIR/$svc not found (build it, or set BSS_BIN_DIR)"
    # A binary without the subcommand would start the service instead (or fail on its settings): time-boxed.
    timeout 60 "$BIN_DIR/$svc" openapi >"$docs/$svc.json" </dev/null ||
      die "$BIN_DIR/$svc openapi failed (a binary from before the services served their documents?)"
  done
  say "documents from \`<binary> openapi\` in $BIN_DIR"
fi
# Each document must at least be a JSON OpenAPI (or Swagger) document; what the generator then says about it
# is the real check.
for svc in "${SERVICES[@]}"; do
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(not ("openapi" in d or "swagger" in d))' \
    "$docs/$svc.json" 2>/dev/null || die "${docs#"$REPO"/}/$svc.json is not an OpenAPI document in JSON"
done

# ---------------------------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------------------------

# What the generators would add besides the client: CI files, a git helper, stub tests. Written into each
# output directory before generating, where openapi-generator reads it.
IGNORE='# Written by scripts/sdk/generate.sh: files the generator must not write.
git_push.sh
.travis.yml
.gitlab-ci.yml
.github/**
.gitignore
.npmignore
test/**
tox.ini
test-requirements.txt
'

# The clients (4 services × 3 languages) in one `openapi-generator-cli batch` (one JVM, two threads: a fifth
# of the time of twelve `generate` runs), each from a config file written here, kept in sdk/logs/config/ to be
# replayed by hand:
#   .dev/tools/openapi-generator/bin/openapi-generator-cli batch sdk/logs/config/*.json
# Every option that shapes the code is pinned here; the rest are the generator's defaults of its pinned version.
# globalProperties: no generated unit tests. Validation of the documents is ON (no skipValidateSpec).
started=$SECONDS
logs=$OUT/logs
rm -rf "$logs"
mkdir -p "$logs/config"
for language in python typescript go; do
  for svc in "${SERVICES[@]}"; do
    rm -rf "${OUT:?}/$language/$svc"
    mkdir -p "$OUT/$language/$svc"
    printf '%s' "$IGNORE" >"$OUT/$language/$svc/.openapi-generator-ignore"
  done
done
python3 - "$docs" "$OUT" "$logs/config" "$GO_HOST" "$GO_USER" "$GO_REPO" "${SERVICES[@]}" <<'PY'
import json, sys
docs, out, config_dir, go_host, go_user, go_repo, *services = sys.argv[1:]
# TMF's @-attributes (@type, @baseType, @schemaLocation, @referredType, @valueSchemaLocation) get an "at" prefix in
# every language. Without it the Python and Go generators drop the "@", and a schema with both "type" and "@type"
# (AppliedCustomerBillingRate) gets two fields of one name: a Go client that does not compile, a Python model
# that silently loses "type". TypeScript's camelCase already makes them atType, atBaseType….
AT_NAMES = ["type", "baseType", "schemaLocation", "referredType", "valueSchemaLocation"]
def snake(name):
    return "".join("_" + c.lower() if c.isupper() else c for c in name)
python_names = {f"@{n}": f"at_{snake(n)}" for n in AT_NAMES}
go_names = {f"@{n}": f"At{n[0].upper()}{n[1:]}" for n in AT_NAMES}
for svc in services:
    version = json.load(open(f"{docs}/{svc}.json")).get("info", {}).get("version") or "0.0.0"
    common = {"inputSpec": f"{docs}/{svc}.json", "globalProperties": {"apiTests": "false", "modelTests": "false"}}
    configs = {
        "python": {"generatorName": "python", "additionalProperties": {
            "packageName": f"bss_{svc}", "projectName": f"bss-{svc}-client", "packageVersion": version,
            "library": "urllib3", "hideGenerationTimestamp": True}, "nameMappings": python_names},
        "typescript": {"generatorName": "typescript-fetch", "additionalProperties": {
            "npmName": f"@bss/{svc}-client", "npmVersion": version, "supportsES6": True,
            "modelPropertyNaming": "camelCase", "hideGenerationTimestamp": True}},
        "go": {"generatorName": "go", "gitHost": go_host, "gitUserId": go_user, "gitRepoId": go_repo,
               "additionalProperties": {
            "packageName": svc, "packageVersion": version, "isGoSubmodule": True, "enumClassPrefix": True,
            "hideGenerationTimestamp": True}, "nameMappings": go_names,
            # An amount as a float32 (the go generator's default for number and format float) is off by cents:
            # every number is a float64, which prints back the decimal the service sent.
            "typeMappings": {"number": "float64", "float": "float64"}},
    }
    for language, config in configs.items():
        config = {**common, **config, "outputDir": f"{out}/{language}/{svc}"}
        with open(f"{config_dir}/{language}-{svc}.json", "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
            f.write("\n")
PY
say "generating ${#SERVICES[*]} services × python, typescript, go (openapi-generator $OPENAPI_GENERATOR_VERSION)"
if ! "$generator" batch --threads 2 --fail-fast "$logs"/config/*.json >"$logs/openapi-generator.log" 2>&1; then
  # The batch does not say which document it refused: validate each one to name it.
  refused=()
  for svc in "${SERVICES[@]}"; do
    if ! "$generator" validate -i "$docs/$svc.json" >"$logs/validate-$svc.log" 2>&1; then
      refused+=("$svc")
      say "${docs#"$REPO"/}/$svc.json is invalid:"
      grep -vE '^\[main\] (INFO|WARN)|^\s*$' "$logs/validate-$svc.log" | head -n 30 >&2
    fi
  done
  if ((${#refused[@]} == 0)); then
    grep -E 'Generation failed|Exception' "$logs/openapi-generator.log" | grep -v '^\s*at ' | awk '!seen[$0]++' |
      head -n 30 >&2
  fi
  die "openapi-generator refused ${refused[*]:-a document} (full output: ${logs#"$REPO"/}/openapi-generator.log)"
fi
grep -q "Batch generation finished $((${#SERVICES[@]} * 3)) generators successfully" "$logs/openapi-generator.log" ||
  die "openapi-generator did not generate all $((${#SERVICES[@]} * 3)) clients" \
    "(see ${logs#"$REPO"/}/openapi-generator.log)"
say "openapi-generator: $((${#SERVICES[@]} * 3)) clients generated, every document valid"

# A tsconfig of our own for the compile check (the generated tsconfig.json builds the package).
TSCONFIG='{
  "//": "Written by scripts/sdk/generate.sh: the compile check of the generated client (tsc --noEmit).",
  "compilerOptions": {
    "strict": true,
    "target": "ES2020",
    "lib": ["ES2020", "DOM"],
    "module": "commonjs",
    "moduleResolution": "node",
    "noEmit": true,
    "forceConsistentCasingInFileNames": true
  },
  "include": ["src/**/*.ts"]
}
'
ts_failed=()
for svc in "${SERVICES[@]}"; do
  printf '%s' "$TSCONFIG" >"$OUT/typescript/$svc/tsconfig.check.json"
  if ! "$tsc" -p "$OUT/typescript/$svc/tsconfig.check.json" >"$logs/tsc-$svc.log" 2>&1; then
    head -n 40 "$logs/tsc-$svc.log" >&2
    ts_failed+=("$svc")
  fi
done
((${#ts_failed[@]} == 0)) || die "tsc --noEmit failed for the TypeScript client(s) of: ${ts_failed[*]}"
say "tsc $TYPESCRIPT_VERSION --noEmit: the ${#SERVICES[*]} TypeScript clients compile"
# Go is not needed to generate; when it is installed (on PATH, or Debian's golang-1.NN-go), the clients must
# also build.
go=$(command -v go 2>/dev/null || printf '%s\n' /usr/lib/go-*/bin/go | sort -V | tail -n 1)
if [[ -x $go ]]; then
  for svc in "${SERVICES[@]}"; do
    (cd "$OUT/go/$svc" && "$go" build ./... >"$logs/go-build-$svc.log" 2>&1) ||
      { head -n 40 "$logs/go-build-$svc.log" >&2; die "go build failed for the Go client of $svc"; }
  done
  say "$("$go" version | cut -d' ' -f3) build: the ${#SERVICES[*]} Go clients build"
fi

rel=${OUT#"$REPO"/}
cat <<EOF
sdk: generated in $((SECONDS - started)) s with openapi-generator $OPENAPI_GENERATOR_VERSION
  documents   $rel/openapi/{$(IFS=,; echo "${SERVICES[*]}")}.json
  python      $rel/python/<service>       packages bss_<service> (pip install $rel/python/<service>)
  typescript  $rel/typescript/<service>   packages @bss/<service>-client (compiled with tsc $TYPESCRIPT_VERSION)
  go          $rel/go/<service>           modules $GO_HOST/$GO_USER/$GO_REPO/<service>
  logs        $rel/logs/ (generator and compiler output)
EOF
