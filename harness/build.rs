//! The catalog (`suites/`), the requirements registry (`spec/`) and base manifests are compiled into gwl4; tell
//! cargo to rebuild when they change (include_dir cannot say so itself).
fn main() {
    println!("cargo:rerun-if-changed=../suites");
    println!("cargo:rerun-if-changed=../manifests");
    println!("cargo:rerun-if-changed=../spec");
}
