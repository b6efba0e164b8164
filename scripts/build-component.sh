#!/usr/bin/env sh
# Builds a component that serves a model and pre-initialises it, so that a fresh instance starts
# with the model already parsed and optimised in its memory (see README, "Pre-initialisation").
# Usage: sh scripts/build-component.sh intent   → target/tandem/intent.wasm
set -eu
name="$1"
# The `wasm` profile (size-optimised, LTO) keeps the tract-carrying components under 15 MB.
cargo build --target wasm32-wasip2 --profile wasm -p "tandem-$name"
mkdir -p target/tandem
# The host's `preinit` does the snapshot; build it only when missing so that a build running
# under the host (`tandem build`) never replaces the binary that runs it.
[ -x target/release/tandem ] || cargo build --release -p tandem-host
target/release/tandem preinit \
    --input "target/wasm32-wasip2/wasm/tandem_$name.wasm" \
    --output "target/tandem/$name.wasm"
