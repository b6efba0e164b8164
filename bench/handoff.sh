#!/usr/bin/env bash
# Fresh-instance POST /v1/handoff against GET /v1/health in one run (alternating phases).
# Run after `./dev test` or `./dev up` has built the components (target/tandem/handoff.wasm is
# the pre-initialised handoff component with intent composed in). Extra args go to tandem-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
# A typical request: three turns, the last customer turn without an intent, so the composed
# intent component classifies it (the full path: intent + sentiment + rules + score model).
body='{"conversation_id":"bench","customer":{"tier":"vip"},"turns":[
 {"role":"customer","text":"我的订单 TD2026112612345 到哪了","intent":"order_status","confidence":0.93},
 {"role":"bot","text":"已发货，预计明天送达。","answered":true},
 {"role":"customer","text":"it says delivered but I did not get it, 不是很生气 just asking"}]}'
# `--long`: the longest conversation a request may carry instead (200 turns: 100 customer turns
# with intents, each answered by the bot), to see what the decision costs as a conversation grows.
if [ "${1:-}" = "--long" ]; then
    shift
    turns=""
    for i in $(seq 0 99); do
        turns+="${turns:+,}{\"role\":\"customer\",\"text\":\"第${i}次问：my parcel ${i} says delivered but 我没收到\",\"intent\":\"order_status\",\"confidence\":0.9}"
        turns+=",{\"role\":\"bot\",\"text\":\"我们正在查询，请稍候。\",\"answered\":true}"
    done
    body="{\"conversation_id\":\"long\",\"customer\":{\"tier\":\"standard\"},\"turns\":[$turns]}"
fi
# Only health and handoff, so the figure does not depend on the other components being built.
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "handoff-bench"
version = "0.1.0"
[[trigger.http]]
route = "/v1/health"
component = "health"
[[trigger.http]]
route = "/v1/handoff/..."
component = "handoff"
[component.health]
source = "$PWD/target/wasm32-wasip2/release/tandem_health.wasm"
[component.handoff]
source = "$PWD/target/tandem/handoff.wasm"
TOML
cargo run --release -q -p tandem-bench --bin tandem-bench -- --manifest "$dir/spin.toml" --path /v1/handoff --body "$body" "$@"
