// Shared by daemon/build.rs and containerd-lite/build.rs (`include!`d, so no crate of its
// own): hands a binary's `startup-order.txt` to the linker.
//
// The list holds the functions start-up runs (scripts/startup-order.sh makes it); lld's
// `--symbol-ordering-file` places them together, so start-up touches, and keeps resident,
// a few MB of the binary's code instead of most of it. Names the linker does not find
// (another toolchain, changed code or features) only lose their place: no warnings.

/// Whether rustc links with its lld (its default for x86_64 Linux since 1.90), which knows
/// `--symbol-ordering-file`; GNU ld does not. A linker chosen in Cargo's configuration
/// (`RUSTC_LINKER`) might not.
fn linker_is_lld() -> bool {
    std::env::var("TARGET").is_ok_and(|t| t == "x86_64-unknown-linux-gnu")
        && std::env::var_os("RUSTC_LINKER").is_none()
}

fn order_startup_functions(bin: &str) {
    let list = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("startup-order.txt");
    println!("cargo:rerun-if-changed=startup-order.txt");
    if list.exists() && linker_is_lld() {
        println!(
            "cargo:rustc-link-arg-bin={bin}=-Wl,--symbol-ordering-file={}",
            list.display()
        );
        println!("cargo:rustc-link-arg-bin={bin}=-Wl,--no-warn-symbol-ordering");
    }
}
