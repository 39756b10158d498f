//! berth-runc: not implemented yet (see docs/compat.md and the open issues).
fn main() {
    eprintln!("berth-runc: not implemented yet");
    std::process::exit(1);
}
