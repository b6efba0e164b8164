#!/usr/bin/env bash
# Fresh-instance POST /v1/intent against GET /v1/health, with and without pre-initialisation.
# Run after `./dev test` or `./dev up` has built the components. Prints two tandem-bench tables.
set -euo pipefail
cd "$(dirname "$0")/.."
body='{"text":"我的订单 TD2026112612345 到哪了 where is my order"}'
echo "== pre-initialised (what spin.toml serves) =="
cargo run --release -q -p tandem-bench --bin tandem-bench -- --manifest spin.toml --path /v1/intent --body "$body" "$@"

# The same component as compiled, before `tandem preinit`: each fresh instance parses the model.
# Its encoder import gets the (pre-initialised) embed component, as in the build.
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
target/release/tandem compose --input target/wasm32-wasip2/wasm/tandem_intent.wasm \
    --plug target/tandem/embed.wasm --output "$dir/intent.wasm"
cat > "$dir/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "intent-without-preinit"
version = "0.1.0"
[[trigger.http]]
route = "/v1/health"
component = "health"
[[trigger.http]]
route = "/v1/intent/..."
component = "intent"
[component.health]
source = "$PWD/target/wasm32-wasip2/release/tandem_health.wasm"
[component.intent]
source = "$dir/intent.wasm"
TOML
echo "== without pre-initialisation (contrast) =="
cargo run --release -q -p tandem-bench --bin tandem-bench -- --manifest "$dir/spin.toml" --path /v1/intent --body "$body" "$@"
