#!/usr/bin/env bash
# GET /v1/feedback/stats over a store of N feedback events (default 100,000), side by side with
# /v1/health, fresh instance per request. Seeds the store through POST /v1/feedback first (the
# real component writes every row; ~5 minutes for 100,000 on a 2-core machine), keeps it in
# target/feedback-bench/ and reuses it on the next run with the same N.
#   bench/feedback-stats.sh [--events N] [tandem-bench args, e.g. --seconds 4]
# Needs `cargo build --release -p tandem-host -p tandem-bench` and the feedback + health
# components (`./dev test` or `cargo build --release --target wasm32-wasip2 -p tandem-feedback -p tandem-health`).
set -euo pipefail
cd "$(dirname "$0")/.."
events=100000
if [ "${1:-}" = "--events" ]; then events=$2; shift 2; fi
dir="$PWD/target/feedback-bench/$events"
mkdir -p "$dir"
token=bench-token
cat > "$dir/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "feedback-bench"
[variables]
agent_token = { required = true, secret = true }
[[trigger.http]]
route = "/v1/health"
component = "health"
[[trigger.http]]
route = "/v1/feedback/..."
component = "feedback"
[component.health]
source = "$PWD/target/wasm32-wasip2/release/tandem_health.wasm"
[component.feedback]
source = "$PWD/target/wasm32-wasip2/release/tandem_feedback.wasm"
sqlite_databases = ["default"]
[component.feedback.variables]
agent_token = "{{ agent_token }}"
TOML
cargo build --release -q -p tandem-bench
SPIN_VARIABLE_AGENT_TOKEN=$token target/release/tandem up --from "$dir/spin.toml" \
    --listen 127.0.0.1:0 --data-dir "$dir/data" > "$dir/host.out" 2> "$dir/host.err" &
host=$!
trap 'kill $host 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '^Serving' "$dir/host.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^Serving //p' "$dir/host.out" | head -1)
if [ ! -f "$dir/seeded" ]; then
    target/release/feedback-seed --url "$url" --events "$events"
    touch "$dir/seeded"
fi
echo "== stats over $events events (ungrouped, then grouped by day and by agent) =="
for q in "" "?group_by=day" "?group_by=agent"; do
    target/release/tandem-bench --url "$url" --method GET --path "/v1/feedback/stats$q" \
        --header "Authorization: Bearer $token" "$@"
done
