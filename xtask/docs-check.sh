#!/usr/bin/env bash
# Runs the shell walkthroughs of the docs exactly as written: every ```sh block of
# docs/plugins.md, in order, in an empty folder outside the checkout, with only the `finlake`
# binary on PATH (and the language toolchains it finds on its own). A block that fails fails CI,
# so the docs cannot drift from what the binary does.
set -euo pipefail
source "$(dirname "$0")/env.sh"
doc="$ROOT/docs/plugins.md"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/scratch"
ln -s "$FINLAKE_BIN" "$work/bin/finlake"
python3 - "$doc" "$work/walkthrough.sh" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
blocks = re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M)
if not blocks:
    sys.exit(f"{sys.argv[1]}: no ```sh block to run")
with open(sys.argv[2], "w") as out:
    out.write("set -euxo pipefail\n")
    for b in blocks:
        out.write(b)
print(f"{len(blocks)} shell block(s), {sum(b.count(chr(10)) for b in blocks)} lines from {sys.argv[1]}")
PY
step "docs: docs/plugins.md walkthrough, as written, in an empty folder"
# No FINLAKE_* variable points into the checkout: the binary must bring what it needs.
(cd "$work/scratch" && env -u ROOT PATH="$work/bin:$PATH" bash "$work/walkthrough.sh")
echo "docs walkthrough passed"
