//! The encoder's time per message, the same code natively and in wasm (`bench/encoder.sh` runs
//! both side by side). From the repository root:
//!
//! ```sh
//! cargo run --release -p tandem-encoder --example timing
//! cargo build --release -p tandem-encoder --example timing --target wasm32-wasip2
//! wasmtime run --dir models target/wasm32-wasip2/release/examples/timing.wasm
//! ```

use std::time::Instant;
use tandem_encoder::{Encoder, Pack};

/// Messages of about 12, 24 and 48 tokens (`<s>` and `</s>` included), zh, en and mixed.
const MESSAGES: [&str; 4] = [
    "我的快递显示已签收但是我没有收到",
    "my parcel says it was delivered yesterday but I never got it, can you check please",
    "it says delivered but I did not get it, 不是很生气 just asking 订单号多少",
    "I ordered a phone last week and the screen arrived cracked, the box was already damaged \
     when the courier handed it over, 我想退货或者换一个新的 what should I do now",
];

fn main() {
    let bytes = std::fs::read("models/encoder.bin")
        .expect("models/encoder.bin (run from the repository root, after ./dev builds it)");
    let started = Instant::now();
    let encoder = Encoder::load(Pack::from_vec(bytes).expect("a pack")).expect("loads");
    println!("load {:.0} ms", started.elapsed().as_secs_f64() * 1e3);
    for text in MESSAGES {
        let ids = encoder.token_ids(text);
        let mut samples: Vec<f64> = (0..60)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(encoder.embed(std::hint::black_box(text)));
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        samples.sort_by(f64::total_cmp);
        println!(
            "{:>3} tokens: p50 {:.2} ms, p90 {:.2} ms",
            ids.len(),
            samples[samples.len() / 2],
            samples[samples.len() * 9 / 10]
        );
    }
}
