//! The catalog (`suites/`) and base manifests are compiled into gwl4; tell
//! cargo to rebuild when they change (include_dir cannot say so itself).
fn main() {
    println!("cargo:rerun-if-changed=../suites");
    println!("cargo:rerun-if-changed=../manifests");
}
