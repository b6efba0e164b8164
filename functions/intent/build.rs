// The model is compiled into the component; rebuild when kb-loader writes a new one.
fn main() {
    println!("cargo:rerun-if-changed=../../models/intent.onnx");
    println!("cargo:rerun-if-changed=../../models/intent.json");
    println!("cargo:rerun-if-changed=../../wit");
}
