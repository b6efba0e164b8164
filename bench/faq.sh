#!/usr/bin/env bash
# Fresh-instance POST /v1/faq (customer mode) against GET /v1/health in the same run, on the
# app as spin.toml serves it (pre-initialised faq component). Run after `./dev test` or
# `./dev up` has built the components. Extra arguments go to tandem-bench (`--seconds 4`).
set -euo pipefail
cd "$(dirname "$0")/.."
export SPIN_VARIABLE_AGENT_TOKEN="${SPIN_VARIABLE_AGENT_TOKEN:-bench-token}"
for body in '{"question":"退款多久到账"}' '{"question":"my parcel says delivered but I never got it"}'; do
    echo "== POST /v1/faq $body =="
    cargo run --release -q -p tandem-bench --bin tandem-bench -- --manifest spin.toml --path /v1/faq --body "$body" "$@"
done
