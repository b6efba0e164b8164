#!/usr/bin/env bash
# The knowledge routes side by side with /v1/health, one connection (p50) by default: a node
# with its neighbours, a path, a subgraph, and the gap clusters. The whole app (spin.toml) is
# served over a store seeded with N feedback events (default 20,000, through POST /v1/feedback:
# the live part of the graph is counted from them on every request) and Q unanswered questions
# sent through /v1/assist (default 300: each request clusters them all). The store is kept in
# target/graph-bench/ and reused on the next run with the same N and Q.
#   bench/graph.sh [--events N] [--questions Q] [tandem-bench args, e.g. --connections 16]
# Needs what `./dev test` builds (every component, tandem-host) and tandem-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
events=20000
questions=300
while [ $# -gt 0 ]; do
    case "$1" in
        --events) events=$2; shift 2 ;;
        --questions) questions=$2; shift 2 ;;
        *) break ;;
    esac
done
dir="$PWD/target/graph-bench/$events-$questions"
mkdir -p "$dir"
token=bench-token
cargo build --release -q -p tandem-bench
SPIN_VARIABLE_AGENT_TOKEN=$token target/release/tandem up --from spin.toml \
    --listen 127.0.0.1:0 --data-dir "$dir/data" > "$dir/host.out" 2> "$dir/host.err" &
host=$!
trap 'kill $host 2>/dev/null || true' EXIT
for _ in $(seq 300); do grep -q '^Serving' "$dir/host.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^Serving //p' "$dir/host.out" | head -1)
if [ ! -f "$dir/seeded" ]; then
    target/release/feedback-seed --url "$url" --events "$events"
    # Questions the sample KB does not answer, zh and en, in a few topics, numbered so each is
    # its own text (and its own embedding).
    topics=("你们卖宠物粮吗 %d" "do you sell dog food %d" "明天天气怎么样 %d" "what's the weather tomorrow %d"
            "你们招聘客服吗 第%d个问题" "can I pay in bitcoin, question %d" "二手拖拉机多少钱 %d" "how tall is the eiffel tower %d")
    for i in $(seq "$questions"); do
        # shellcheck disable=SC2059 # the topics are the format strings
        message=$(printf "${topics[$((i % ${#topics[@]}))]}" "$i")
        curl -sf "$url/v1/assist" -H 'content-type: application/json' \
            -d "{\"message\": \"$message\"}" > /dev/null
    done
    touch "$dir/seeded"
fi
auth="Authorization: Bearer $token"
for path in "/v1/graph/nodes/intent:refund_request" \
    "/v1/graph/path?from=faq:return_how_to&to=calendar:office" \
    "/v1/graph/subgraph?kinds=intent,faq,queue" \
    "/v1/knowledge/gaps"; do
    echo "== GET $path ($events feedback events, $questions questions sent) =="
    target/release/tandem-bench --url "$url" --method GET --path "$path" --header "$auth" \
        --connections 1 --seconds 4 "$@"
done
