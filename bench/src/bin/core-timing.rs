//! The compute of one request's model work, natively: no instance, no HTTP. What a component
//! adds on top of this (wasm, instantiation, the request itself) is what `tandem-bench`
//! measures against `/v1/health`. Run from the repository root after `kb-loader build`:
//! `cargo run --release -p tandem-bench --bin core-timing`.
use std::time::Instant;
use tandem_core::faq::runner::{AskRequest, FaqRunner, Mode};
use tandem_core::foundation::vocab::Role;
use tandem_core::handoff::model::HandoffEngine;
use tandem_core::handoff::{Availability, Turn};
use tandem_core::intent::IntentRunner;
use tandem_core::model::tract::{load_plan, run_model};

/// Microseconds per call: the best of 10 rounds, as other processes on a small machine only
/// ever add time.
fn time<T>(name: &str, mut f: impl FnMut() -> T) {
    const PER_ROUND: u32 = 500;
    let best = (0..10)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..PER_ROUND {
                std::hint::black_box(f());
            }
            t.elapsed().as_secs_f64() * 1e6 / f64::from(PER_ROUND)
        })
        .fold(f64::INFINITY, f64::min);
    println!("{name:42} {best:8.1} µs");
}

fn main() -> anyhow::Result<()> {
    let read = |name: &str| {
        std::fs::read(format!("models/{name}"))
            .map_err(|e| anyhow::anyhow!("models/{name}: {e} (run from the repository root)"))
    };
    let intent = IntentRunner::from_bytes(&read("intent.onnx")?, &read("intent.json")?)?;
    let plan = load_plan(&read("intent.onnx")?)?;
    let handoff = HandoffEngine::from_bytes(
        &read("handoff.onnx")?,
        &read("handoff.json")?,
        &read("sentiment.onnx")?,
        &read("sentiment.json")?,
    )?;
    let faq = FaqRunner::from_bytes(&read("faq.onnx")?, &read("faq.json")?)?;
    let encoder =
        tandem_encoder::Encoder::load(tandem_encoder::Pack::from_vec(read("encoder.bin")?)?)?;
    for (lang, text) in [
        ("en", "it says delivered but I did not get it, just asking"),
        ("zh", "显示已签收但是我没有收到，不是很生气，只是问问"),
        (
            "mixed",
            "it says delivered but I did not get it, 不是很生气 just asking",
        ),
    ] {
        let x = intent.features().extract(text);
        let ids = encoder.token_ids(text);
        println!(
            "{lang}: {} intent features, {} encoder tokens",
            x.indices.len(),
            ids.len()
        );
        time("  encoder tokenize", || encoder.token_ids(text));
        time("  encoder network", || encoder.embed_ids(&ids));
        time("  intent features", || intent.features().extract(text));
        time("  intent model on tract", || run_model(&plan, &x).unwrap());
        // The models below are of the semantic tier: they take the text's embedding, computed
        // once here (the components get it from the encoder import; timed above).
        let embedding = encoder
            .embed(tandem_core::foundation::features::embedding_input(text))
            .to_vec();
        let e = Some(embedding.as_slice());
        time("  intent classify (both)", || {
            intent.classify_embedded(text, e, 3).unwrap()
        });
        time("  sentiment analyze", || {
            handoff.sentiment().analyze_embedded(text, e).unwrap()
        });
        time("  faq encode (features, model, terms)", || {
            faq.encode(text, e).unwrap()
        });
        time("  faq ask (customer mode)", || {
            let req = AskRequest {
                question: text,
                lang: None,
                top_k: 3,
                mode: Mode::Customer,
                sentence: e,
            };
            faq.ask(&req, Some("2026-11-26")).unwrap()
        });
    }
    // The conversation of bench/handoff.sh, intents given.
    let mut turns = vec![
        Turn::new(Role::Customer, "我的订单 TD2026112612345 到哪了"),
        Turn::new(Role::Bot, "已发货，预计明天送达。"),
        Turn::new(
            Role::Customer,
            "it says delivered but I did not get it, 不是很生气 just asking",
        ),
    ];
    for t in [0, 2] {
        turns[t].intent = Some("order_status".into());
        turns[t].confidence = Some(0.9);
    }
    // Sentiment embeds each scored customer turn, as the handoff component does through its
    // encoder import: these timings include the encoder.
    let mut embed = |t: &str| -> anyhow::Result<Vec<f32>> {
        Ok(encoder
            .embed(tandem_core::foundation::features::embedding_input(t))
            .to_vec())
    };
    println!("handoff, bench/handoff.sh's conversation (each customer turn embedded):");
    time("  signals (rules, phrases, 2× sentiment)", || {
        handoff.signals(Some("vip"), &turns, &mut embed).unwrap()
    });
    time("  decide (signals + score model + policy)", || {
        handoff
            .decide(Some("vip"), &turns, Availability::default(), &mut embed)
            .unwrap()
    });
    // The longest conversation a request may carry (assist keeps this many turns).
    let long: Vec<Turn> = (0..tandem_core::handoff::MAX_TURNS / 2)
        .flat_map(|i| {
            let mut c = Turn::new(
                Role::Customer,
                &format!("第{i}次问：my parcel {i} says delivered but 我没收到"),
            );
            c.intent = Some("order_status".into());
            c.confidence = Some(0.9);
            [c, Turn::new(Role::Bot, "我们正在查询，请稍候。")]
        })
        .collect();
    println!("handoff, {} turns:", long.len());
    time("  decide (the last 10 customer turns embedded)", || {
        handoff
            .decide(None, &long, Availability::default(), &mut embed)
            .unwrap()
    });
    Ok(())
}
