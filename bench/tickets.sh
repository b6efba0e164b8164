#!/usr/bin/env bash
# Fresh-instance POST /v1/tickets against GET /v1/health on the same host (alternating phases),
# twice: with the category given, and without it (classified through the composed intent
# component). Every request creates a ticket (no Idempotency-Key), so each is a real
# `BEGIN IMMEDIATE … COMMIT` with synchronous = FULL on a store that grows during the run; the
# store starts empty in a temporary data dir, with four online agents in the `orders` queue so
# that assignment runs (capacity 100 each: later tickets stay unassigned, after the same query).
# Needs `cargo build --release -p tandem-host`, the health component
# (`cargo build --release --target wasm32-wasip2 -p tandem-health`) and target/tandem/ticket.wasm
# (`sh scripts/build-component.sh ticket intent`). Extra arguments go to tandem-bench
# (`--seconds 4`, `--connections 8`, `--json`).
set -euo pipefail
cd "$(dirname "$0")/.."
for f in target/release/tandem target/wasm32-wasip2/release/tandem_health.wasm target/tandem/ticket.wasm; do
    [ -f "$f" ] || { echo "missing $f (see the header of $0)" >&2; exit 1; }
done
dir=$(mktemp -d)
host=
cleanup() {
    if [ -n "$host" ]; then kill "$host" 2>/dev/null || true; wait "$host" 2>/dev/null || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT
token=bench-token
cat > "$dir/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "ticket-bench"
[variables]
agent_token = { required = true, secret = true }
auto_assign = { default = "true" }
[[trigger.http]]
route = "/v1/health"
component = "health"
[[trigger.http]]
route = "/v1/tickets/..."
component = "ticket"
[[trigger.http]]
route = "/v1/agents/..."
component = "ticket"
[component.health]
source = "$PWD/target/wasm32-wasip2/release/tandem_health.wasm"
[component.ticket]
source = "$PWD/target/tandem/ticket.wasm"
sqlite_databases = ["default"]
[component.ticket.variables]
agent_token = "{{ agent_token }}"
auto_assign = "{{ auto_assign }}"
TOML
cargo build --release -q -p tandem-bench --bin tandem-bench
SPIN_VARIABLE_AGENT_TOKEN=$token target/release/tandem up --from "$dir/spin.toml" \
    --listen 127.0.0.1:0 --data-dir "$dir/data" > "$dir/host.out" 2> "$dir/host.err" &
host=$!
# A cold compilation cache compiles the component first (tens of seconds on 2 cores).
for _ in $(seq 3000); do
    grep -q '^Serving' "$dir/host.out" 2>/dev/null && break
    kill -0 "$host" 2>/dev/null || { cat "$dir/host.err" >&2; exit 1; }
    sleep 0.1
done
url=$(sed -n 's/^Serving //p' "$dir/host.out" | head -1)
[ -n "$url" ] || { echo "the host did not start:" >&2; cat "$dir/host.err" >&2; exit 1; }
for a in 1 2 3 4; do
    curl -fsS -o /dev/null -X PUT "$url/v1/agents/bench-$a" \
        -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        -d "{\"name\":\"Bench $a\",\"queues\":[\"orders\"],\"capacity\":100,\"status\":\"online\"}"
done
# A typical ticket: three turns, an order number, a phone number to mask.
turns='[{"role":"customer","text":"我的订单 TD2026112612345 还没到，已经等了两周"},
 {"role":"bot","text":"抱歉，我来帮您查询。","answered":false},
 {"role":"customer","text":"where is my order? call me 13812345678"}]'
given="{\"customer\":{\"id\":\"bench-c1\",\"tier\":\"standard\"},\"category\":\"order_status\",\"transcript\":$turns}"
classified="{\"customer\":{\"id\":\"bench-c2\",\"tier\":\"standard\"},\"transcript\":$turns}"
echo "== POST /v1/tickets, category given =="
target/release/tandem-bench --url "$url" --path /v1/tickets --body "$given" "$@"
echo "== POST /v1/tickets, category classified (intent composed in) =="
target/release/tandem-bench --url "$url" --path /v1/tickets --body "$classified" "$@"
if command -v sqlite3 > /dev/null; then
    echo "tickets stored: $(sqlite3 "$dir/data/sqlite_db.db" 'SELECT COUNT(*) FROM ticket_tickets')"
fi
