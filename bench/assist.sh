#!/usr/bin/env bash
# Fresh-instance POST /v1/assist against GET /v1/health on the same host (alternating phases).
# Every request is the first turn of a new conversation: intent, FAQ and handoff run in the
# composed component (one in-process call each), the FAQ answers, and the conversation state is
# written to the key-value store (a store that grows during the run, in a temporary data dir).
# Needs `cargo build --release -p tandem-host`, the health component
# (`cargo build --release --target wasm32-wasip2 -p tandem-health`) and target/tandem/assist.wasm
# (`sh scripts/build-assist.sh`). Extra arguments go to tandem-bench (`--seconds 4`,
# `--connections 8`, `--json`).
set -euo pipefail
cd "$(dirname "$0")/.."
for f in target/release/tandem target/wasm32-wasip2/release/tandem_health.wasm target/tandem/assist.wasm; do
    [ -f "$f" ] || { echo "missing $f (see the header of $0)" >&2; exit 1; }
done
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "assist-bench"
[variables]
agent_token = { default = "bench-token", secret = true }
auto_assign = { default = "true" }
[[trigger.http]]
route = "/v1/health"
component = "health"
[[trigger.http]]
route = "/v1/assist/..."
component = "assist"
[component.health]
source = "$PWD/target/wasm32-wasip2/release/tandem_health.wasm"
[component.assist]
source = "$PWD/target/tandem/assist.wasm"
key_value_stores = ["default"]
sqlite_databases = ["default"]
[component.assist.variables]
agent_token = "{{ agent_token }}"
auto_assign = "{{ auto_assign }}"
TOML
# A typical first message: mixed zh/en, answered by the FAQ.
body='{"customer":{"id":"bench-c1","channel":"web"},"message":"退款多久到账 how long does a refund take"}'
cargo run --release -q -p tandem-bench --bin tandem-bench -- --manifest "$dir/spin.toml" \
    --path /v1/assist --body "$body" "$@"
