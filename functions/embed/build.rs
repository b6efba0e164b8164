// The encoder's weights are compiled into the component; rebuild when
// `kb-loader import-encoder` writes a new pack.
fn main() {
    println!("cargo:rerun-if-changed=../../models/encoder.bin");
    println!("cargo:rerun-if-changed=../../wit");
}
