#!/usr/bin/env sh
# Builds a component that serves a model and pre-initialises it, so that a fresh instance starts
# with the model already parsed and optimised in its memory (see README, "Pre-initialisation"),
# then plugs in the Tandem components it imports (`tandem compose`: in-process calls, one
# component). Usage: sh scripts/build-component.sh NAME → target/tandem/NAME.wasm
#
#   intent, faq, feedback  ── embed    (their semantic tier takes the sentence embedding)
#   ticket                 ── intent   (it classifies tickets through intent, which brings
#                                       its own embed)
#   handoff                ── intent (unplugged) + embed: it classifies turns through intent
#                             and embeds them for sentiment, so both share one encoder
#
# A component with plugs also leaves target/tandem/NAME.unplugged.wasm, which
# scripts/build-assist.sh plugs into assist so that one intent and one encoder instance serve
# the whole turn.
set -eu
name="$1"
if [ $# -gt 1 ]; then
    echo "usage: sh scripts/build-component.sh NAME (its plugs are listed in this script)" >&2
    exit 2
fi
case "$name" in
    intent | faq | feedback) plugs=embed ;;
    ticket) plugs=intent ;;
    handoff) plugs="intent.unplugged embed" ;;
    *) plugs= ;;
esac
# The `wasm` profile (size-optimised, LTO) keeps the tract-carrying components under 15 MB.
cargo build --target wasm32-wasip2 --profile wasm -p "tandem-$name"
mkdir -p target/tandem
# The host's `preinit` does the snapshot; build it only when missing so that a build running
# under the host (`tandem build`) never replaces the binary that runs it.
[ -x target/release/tandem ] || cargo build --release -p tandem-host
if [ -z "$plugs" ]; then
    target/release/tandem preinit \
        --input "target/wasm32-wasip2/wasm/tandem_$name.wasm" \
        --output "target/tandem/$name.wasm"
    exit 0
fi
# Pre-initialise first (the plug's imports are stubbed then), then plug the already
# pre-initialised component in: wizer does not snapshot nested components.
plug_args=
for plug in $plugs; do
    [ -f "target/tandem/$plug.wasm" ] || sh scripts/build-component.sh "${plug%.unplugged}"
    plug_args="$plug_args --plug target/tandem/$plug.wasm"
done
target/release/tandem preinit \
    --input "target/wasm32-wasip2/wasm/tandem_$name.wasm" \
    --output "target/tandem/$name.unplugged.wasm"
# shellcheck disable=SC2086 # one word per plug argument
target/release/tandem compose \
    --input "target/tandem/$name.unplugged.wasm" \
    $plug_args \
    --output "target/tandem/$name.wasm"
