#!/usr/bin/env bash
# cargo deny on the resolved dependency graph, against deny.toml: licences we can ship under Apache-2.0, the
# crates we refuse (ring, openssl-sys, tonic), and crates only from crates.io. Installs a pinned cargo-deny
# under $BSS_TOOLS_DIR/cargo (default .dev/tools/cargo) on first use (a ~3 minute build on 2 cores).
#   scripts/check-deny.sh                      # licenses bans sources (what .ci/run runs)
#   scripts/check-deny.sh advisories           # also RustSec advisories: needs github.com for the advisory
#                                              # database, which our CI machines cannot reach, so it runs
#                                              # in the GitHub workflow only
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
VERSION=0.20.2
ROOT=${BSS_TOOLS_DIR:-$REPO/.dev/tools}/cargo
deny=$ROOT/bin/cargo-deny
if ! [[ -x $deny && $("$deny" --version 2>/dev/null) == "cargo-deny $VERSION" ]]; then
  echo "check-deny: installing cargo-deny $VERSION into $ROOT" >&2
  cargo install cargo-deny --version "$VERSION" --locked --root "$ROOT" -q
fi
checks=(licenses bans sources "$@")
"$deny" --color never check "${checks[@]}"
