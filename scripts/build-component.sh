#!/usr/bin/env sh
# Builds a component that serves a model and pre-initialises it, so that a fresh instance starts
# with the model already parsed and optimised in its memory (see README, "Pre-initialisation").
# Usage: sh scripts/build-component.sh intent   → target/tandem/intent.wasm
set -eu
name="$1"
cargo build --target wasm32-wasip2 --release -p "tandem-$name"
mkdir -p target/tandem
cargo build --release -p tandem-host
target/release/tandem preinit \
    --input "target/wasm32-wasip2/release/tandem_$name.wasm" \
    --output "target/tandem/$name.wasm"
