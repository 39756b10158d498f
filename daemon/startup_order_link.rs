// Shared by daemon/build.rs, containerd-lite/build.rs and shim/build.rs (`include!`d, so
// no crate of its own): hands a binary's `startup-order.txt` to the linker, and packs its
// relocations.
//
// The list holds the functions start-up runs, then those an everyday workload runs
// (scripts/startup-order.sh makes it); lld's `--symbol-ordering-file` places them in that
// order, so start-up touches, and keeps resident, a few MB of the binary's code instead of
// most of it, and the workload's code comes packed behind it. Names the linker does not find
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

/// The glibc this build script runs on, as (major, minor): the one the binary links
/// against and runs on, in a native build.
fn host_glibc() -> Option<(u32, u32)> {
    extern "C" {
        fn gnu_get_libc_version() -> *const std::os::raw::c_char;
    }
    // SAFETY: glibc returns a static, NUL-terminated string such as "2.36".
    let version = unsafe { std::ffi::CStr::from_ptr(gnu_get_libc_version()) };
    let mut parts = version.to_str().ok()?.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Packs the binary's relative relocations (`-z pack-relative-relocs`, DT_RELR): berthd's
/// 790 KB of `.rela.dyn` become a few KB, which the dynamic loader reads at each start,
/// and which stayed resident after. Needs glibc 2.36's loader, so only for a native build
/// on such a glibc (the binary then asks for it: GLIBC_ABI_DT_RELR).
fn pack_relative_relocations(bin: &str) {
    let native = std::env::var("HOST").ok() == std::env::var("TARGET").ok();
    if native && linker_is_lld() && host_glibc().is_some_and(|v| v >= (2, 36)) {
        println!("cargo:rustc-link-arg-bin={bin}=-Wl,-z,pack-relative-relocs");
    }
}
