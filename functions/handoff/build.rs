// The models are compiled into the component; rebuild when kb-loader writes new ones.
fn main() {
    for f in [
        "handoff.onnx",
        "handoff.json",
        "sentiment.onnx",
        "sentiment.json",
    ] {
        println!("cargo:rerun-if-changed=../../models/{f}");
    }
    println!("cargo:rerun-if-changed=../../wit");
}
