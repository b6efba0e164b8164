#!/usr/bin/env sh
# Builds target/tandem/assist.wasm: the assist component with the five services plugged into
# its imports (docs/assist.md, "Composition"):
#
#   assist ─┬─ intent ◄─────────────┐   one intent instance serves all three
#           ├─ faq                  │
#           ├─ ticket   ── intent ──┤
#           ├─ handoff  ── intent ──┘
#           ├─ feedback
#           └─ embed ◄── intent, faq, handoff, feedback
#                                        one encoder instance: a message is encoded once
#
# The services are the pre-initialised builds their own spin.toml build commands leave in
# target/tandem/ (assist is the last component in spin.toml, and `tandem build`/`spin build`
# run build commands in manifest order); every service is plugged in *unplugged*, so one
# intent instance serves assist, ticket and handoff alike, and one encoder instance (whose
# memory image holds the 54 MB token table once) serves intent, faq, handoff and feedback. A
# service that was never built is built here first. Only the small assist crate is compiled by this script.
set -eu
cargo build --target wasm32-wasip2 --profile wasm -p tandem-assist
mkdir -p target/tandem
# Built only when missing, so that a build running under the host never replaces it.
[ -x target/release/tandem ] || cargo build --release -p tandem-host
[ -f target/tandem/embed.wasm ] || sh scripts/build-component.sh embed
[ -f target/tandem/intent.unplugged.wasm ] || sh scripts/build-component.sh intent
[ -f target/tandem/faq.unplugged.wasm ] || sh scripts/build-component.sh faq
[ -f target/tandem/feedback.unplugged.wasm ] || sh scripts/build-component.sh feedback
[ -f target/tandem/ticket.unplugged.wasm ] || sh scripts/build-component.sh ticket
[ -f target/tandem/handoff.unplugged.wasm ] || sh scripts/build-component.sh handoff
# Pre-initialise first (templates parsed, entity patterns compiled; the imports are stubs
# then), compose second: wizer does not snapshot nested components.
target/release/tandem preinit \
    --input target/wasm32-wasip2/wasm/tandem_assist.wasm \
    --output target/tandem/assist.unplugged.wasm
# Every plug is wired by name into the whole graph (`tandem compose`), and the command fails if
# any tandem:service import is left unsatisfied.
target/release/tandem compose \
    --input target/tandem/assist.unplugged.wasm \
    --plug target/tandem/intent.unplugged.wasm \
    --plug target/tandem/faq.unplugged.wasm \
    --plug target/tandem/ticket.unplugged.wasm \
    --plug target/tandem/handoff.unplugged.wasm \
    --plug target/tandem/feedback.unplugged.wasm \
    --plug target/tandem/embed.wasm \
    --output target/tandem/assist.wasm
