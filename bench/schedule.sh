#!/usr/bin/env bash
# Integration and time (docs/webhooks.md, docs/tickets.md), each route beside /v1/health in the
# same run, one connection (p50) by default, on the whole app (spin.toml) with its own schedule
# off:
#   1. POST /v1/tickets (category given) with no webhook subscription, then with 3 subscriptions
#      to every event type: what writing and fanning out the outbox events costs a create;
#   2. GET /v1/tickets/sla over the tickets those runs created;
#   3. POST /v1/tickets/sweep and POST /v1/webhooks/deliver with nothing due: what each
#      scheduled tick costs when there is no work (the receivers are unreachable by design:
#      no host is allowed, so the deliveries wait).
#   bench/schedule.sh [tandem-bench args, e.g. --connections 16]
# Needs what `./dev test` builds (every component, tandem-host) and tandem-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
host=
cleanup() {
    if [ -n "$host" ]; then kill "$host" 2>/dev/null || true; wait "$host" 2>/dev/null || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT
token=bench-token
cargo build --release -q -p tandem-bench --bin tandem-bench
SPIN_VARIABLE_AGENT_TOKEN=$token SPIN_VARIABLE_SCHEDULE_INTERVAL_SECONDS=0 \
    target/release/tandem up --from spin.toml --listen 127.0.0.1:0 --data-dir "$dir/data" \
    > "$dir/host.out" 2> "$dir/host.err" &
host=$!
for _ in $(seq 3000); do
    grep -q '^Serving' "$dir/host.out" 2>/dev/null && break
    kill -0 "$host" 2>/dev/null || { cat "$dir/host.err" >&2; exit 1; }
    sleep 0.1
done
url=$(sed -n 's/^Serving //p' "$dir/host.out" | head -1)
auth="Authorization: Bearer $token"
ticket='{"customer":{"id":"bench"},"category":"order_status","transcript":[{"role":"customer","text":"我的订单 TD2026120100001 还没到 where is it"}]}'
bench() { target/release/tandem-bench --url "$url" --connections 1 --seconds 4 "$@" "${extra[@]}"; }
extra=("$@")
echo "== POST /v1/tickets, no subscription =="
bench --method POST --path /v1/tickets --body "$ticket"
ids=()
for i in 1 2 3; do
    ids+=("$(curl -sf "$url/v1/webhooks" -H "$auth" -H 'content-type: application/json' \
        -d "{\"url\": \"https://hooks$i.example.com/tandem\", \"events\": [\"*\"]}" |
        sed -n 's/.*"id":"\(wh_[0-9a-f]*\)".*/\1/p')")
done
echo "== POST /v1/tickets, 3 subscriptions to every event =="
bench --method POST --path /v1/tickets --body "$ticket"
tickets=$(curl -sf "$url/v1/tickets/sla" -H "$auth" | sed -n 's/.*"overall":{[^}]*"tickets":\([0-9]*\).*/\1/p')
echo "== GET /v1/tickets/sla (${tickets:-?} tickets) =="
bench --method GET --path /v1/tickets/sla --header "$auth" --body ''
echo "== POST /v1/tickets/sweep, nothing due =="
bench --method POST --path /v1/tickets/sweep --header "$auth" --body ''
# Paused subscriptions: their pending deliveries wait, so the measured runs find nothing due.
for id in "${ids[@]}"; do
    curl -sf -X PATCH "$url/v1/webhooks/$id" -H "$auth" -d '{"active": false}' > /dev/null
done
pending=$(curl -sf "$url/v1/webhooks" -H "$auth" | sed -n 's/.*"pending":\([0-9]*\).*/\1/p')
echo "== POST /v1/webhooks/deliver, nothing due (${pending:-?} deliveries of paused subscriptions) =="
bench --method POST --path /v1/webhooks/deliver --header "$auth" --body ''
