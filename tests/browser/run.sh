#!/usr/bin/env bash
# Browser tests of the web pages (chat widget, agent console, dashboard), run by `./dev test`
# after `cargo test`. Installs what it needs itself:
#   - Debian's chromium (apt-get) when /usr/bin/chromium is missing, and a CJK font when
#     fontconfig knows none (the pages are bilingual; screenshots must be legible);
#   - node (apt-get nodejs npm) when missing, then playwright-core from package-lock.json
#     into tests/browser/node_modules (git-ignored) with `npm ci`.
# Then starts the app exactly as built (target/release/tandem up --from spin.toml) on a free
# loopback port with a fresh data dir and its own agent token, and runs e2e.mjs against it.
# Screenshots and the host's log: target/browser-artifacts/. With TANDEM_UPDATE_SCREENSHOTS=1
# the page screenshots are also copied to docs/screenshots/ (shown in the README).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
artifacts="${CARGO_TARGET_DIR:-$root/target}/browser-artifacts"
tandem="${CARGO_TARGET_DIR:-$root/target}/release/tandem"
start=$(date +%s)

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}
apt_install() {
    echo "browser tests: installing $* (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    # Stale package lists on a fresh machine: update once and retry.
    as_root apt-get install -y -q --no-install-recommends "$@" >/dev/null \
        || { as_root apt-get update -q >/dev/null && as_root apt-get install -y -q --no-install-recommends "$@" >/dev/null; }
}

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
{ command -v fc-list >/dev/null && fc-list :lang=zh | grep -q .; } || need+=(fonts-wqy-microhei)
command -v node >/dev/null || need+=(nodejs npm)
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"

cd "$here"
# `npm ci` only when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi

if [ ! -x "$tandem" ]; then
    echo "browser tests: $tandem is missing; run ./dev test (it builds the host and the components first)" >&2
    exit 1
fi

mkdir -p "$artifacts"
rm -f "$artifacts"/*.png "$artifacts"/failure.txt
data="$(mktemp -d)"
port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
token="browser-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
SPIN_VARIABLE_AGENT_TOKEN="$token" "$tandem" up --from "$root/spin.toml" --listen "127.0.0.1:$port" \
    --data-dir "$data" >"$artifacts/host.log" 2>&1 &
host_pid=$!
cleanup() {
    kill "$host_pid" 2>/dev/null || true
    wait "$host_pid" 2>/dev/null || true
    rm -rf "$data"
}
trap cleanup EXIT

status=0
TANDEM_URL="http://127.0.0.1:$port" TANDEM_AGENT_TOKEN="$token" TANDEM_ARTIFACTS="$artifacts" \
    node e2e.mjs || status=$?
if [ "$status" -ne 0 ]; then
    echo "browser tests failed; host log, failure.txt and failure screenshots in $artifacts" >&2
    tail -n 20 "$artifacts/host.log" >&2 || true
    exit "$status"
fi
if [ "${TANDEM_UPDATE_SCREENSHOTS:-}" = 1 ]; then
    mkdir -p "$root/docs/screenshots"
    cp "$artifacts"/{chat,agent,drafts,dashboard,dashboard-zh}.png "$root/docs/screenshots/"
    echo "browser tests: screenshots copied to docs/screenshots/"
fi
echo "browser tests: passed in $(( $(date +%s) - start )) s (screenshots in $artifacts)"
