# Sourced by the scripts in scripts/check/: run named checks one after another, time each, and finish with one
# summary line and exit 1 when any failed, so a check script is a list of `step NAME FUNCTION` lines.
#   step NAME COMMAND...   run one check and remember its outcome (a failure does not stop the script)
#   finish_steps LABEL     print "LABEL: N passed, M failed" (and the failed names); exit 1 if any failed
passed=0
failed=()

step() {
  local name=$1 start ms outcome=ok
  shift
  printf '\n== %s\n' "$name"
  start=$(date +%s%3N)
  if "$@"; then
    passed=$((passed + 1))
  else
    failed+=("$name")
    outcome=FAILED
  fi
  ms=$(($(date +%s%3N) - start))
  printf -- '-- %s %s (%d.%01ds)\n' "$name" "$outcome" $((ms / 1000)) $((ms % 1000 / 100))
}

finish_steps() {
  printf '\n%s: %d passed, %d failed\n' "$1" "$passed" "${#failed[@]}"
  if ((${#failed[@]})); then
    printf 'failed: %s\n' "${failed[*]}"
    exit 1
  fi
}
