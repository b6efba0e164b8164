// The compiled graph is embedded; rebuild when `kb-loader build` writes a new one.
fn main() {
    println!("cargo:rerun-if-changed=../../models/graph.json");
}
