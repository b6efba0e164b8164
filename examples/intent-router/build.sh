#!/usr/bin/env sh
# Builds the example and plugs Tandem's intent component into its `tandem:service/intent` import
# (the same as `wac plug --plug intent.wasm router.wasm`). Run from this directory (`tandem
# build --from examples/intent-router/spin.toml` or `spin build` do).
set -eu
root=../..
cargo build --target wasm32-wasip2 --release -p tandem-example-intent-router
# Tandem's intent component, pre-initialised; built by the main app's build when missing.
[ -f "$root/target/tandem/intent.wasm" ] || (cd "$root" && sh scripts/build-component.sh intent)
[ -x "$root/target/release/tandem" ] || (cd "$root" && cargo build --release -p tandem-host)
"$root/target/release/tandem" compose \
    --input "$root/target/wasm32-wasip2/release/tandem_example_intent_router.wasm" \
    --plug "$root/target/tandem/intent.wasm" \
    --output "$root/target/tandem/intent-router.wasm"
