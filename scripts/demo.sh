#!/usr/bin/env bash
# The README's run command: resolves the demo outputs with the shipped configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
echo "== actorcore resolve config/demo/outputs.json"
"$BUILD/actorcore" resolve --combiner config/combiner.yaml --layers config/cap_layers.yaml \
  config/demo/outputs.json
