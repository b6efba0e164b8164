#!/usr/bin/env bash
# Assist turns/s with one and with two replicas of the app on this machine, and the key-value
# store's cost per turn (file vs Redis), in one run:
#   1. one host, file stores (`tandem up` defaults)                 16 connections, then 1
#   2. one host, conversations in Redis, SQLite in a shared file    16 connections, then 1
#   3. two hosts with that same runtime config, connections spread over both (16)
# Every request is the first turn of a new conversation (intent, FAQ, handoff, a key-value write),
# measured against GET /v1/health in alternating phases by tandem-bench (`--url` repeated for
# the replicas). Needs the app built (`./dev test` or `./dev up`) and `redis-server` (which
# `./dev test` installs). Extra arguments go to tandem-bench (default `--seconds 4`).
set -euo pipefail
cd "$(dirname "$0")/.."
for f in target/release/tandem target/tandem/assist.wasm; do
    [ -f "$f" ] || { echo "missing $f: build the app first (./dev test or ./dev up)" >&2; exit 1; }
done
command -v redis-server > /dev/null || { echo "redis-server is missing (./dev test installs it)" >&2; exit 1; }
cargo build --release -q -p tandem-bench
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--seconds 4)

dir=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
    wait 2> /dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$dir/redis"
redis-server --port "$port" --bind 127.0.0.1 --dir "$dir/redis" --save '' --appendonly yes \
    --appendfsync always > "$dir/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$port" ping > /dev/null 2>&1 && break; sleep 0.1; done
cat > "$dir/runtime-config.toml" <<TOML
[key_value_store.default]
type = "redis"
url = "redis://127.0.0.1:$port"

[sqlite_database.default]
type = "spin"
path = "$dir/shared/app.db"
TOML

# Starts a host (extra `tandem up` arguments after the name); sets `url` to its base URL.
start() {
    local name=$1
    shift
    SPIN_VARIABLE_AGENT_TOKEN=bench target/release/tandem up --from spin.toml \
        --listen 127.0.0.1:0 --data-dir "$dir/$name" "$@" > "$dir/$name.out" 2> "$dir/$name.err" &
    pids+=($!)
    for _ in $(seq 600); do grep -q '^Serving' "$dir/$name.out" 2> /dev/null && break; sleep 0.1; done
    grep -q '^Serving' "$dir/$name.out" || { cat "$dir/$name.err" >&2; exit 1; }
    url=$(sed -n 's/^Serving //p' "$dir/$name.out" | head -1)
}
stop_hosts() {
    for p in "${pids[@]:1}"; do kill "$p" 2> /dev/null || true; done
    pids=("${pids[0]}")
    sleep 1
}

body='{"customer":{"id":"bench-c1","channel":"web"},"message":"退款多久到账 how long does a refund take"}'
bench() {
    target/release/tandem-bench --path /v1/assist --body "$body" "$@"
}

echo "== 1. one host, file stores"
start file
bench --url "$url" "${args[@]}"
bench --url "$url" --connections 1 "${args[@]}"
stop_hosts

echo "== 2. one host, Redis key-value + shared SQLite file"
start one --runtime-config-file "$dir/runtime-config.toml"
bench --url "$url" "${args[@]}"
bench --url "$url" --connections 1 "${args[@]}"
stop_hosts

echo "== 3. two hosts, the same runtime config, connections alternating between them"
start a --runtime-config-file "$dir/runtime-config.toml"
a=$url
start b --runtime-config-file "$dir/runtime-config.toml"
bench --url "$a" --url "$url" "${args[@]}"
