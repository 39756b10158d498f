//! berth-shim: not implemented yet (see docs/compat.md and the open issues).
fn main() {
    eprintln!("berth-shim: not implemented yet");
    std::process::exit(1);
}
