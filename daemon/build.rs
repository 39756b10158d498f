//! Records the git commit and the Rust toolchain version for `/version`, and links
//! berthd with its start-up functions together (startup_order_link.rs).
use std::process::Command;

fn output_of(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

include!("startup_order_link.rs");

fn main() {
    if let Some(commit) = output_of("git", &["rev-parse", "--short=7", "HEAD"]) {
        println!("cargo:rustc-env=BERTH_GIT_COMMIT={commit}");
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    if let Some(version) = output_of(&rustc, &["--version"]) {
        // "rustc 1.95.0 (59807616e 2026-04-14)" → "rustc1.95.0", shaped like Go's "go1.22.5".
        let short = version
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join("");
        println!("cargo:rustc-env=BERTH_RUSTC_VERSION={short}");
    }
    order_startup_functions("berthd");
    pack_relative_relocations("berthd");
    println!("cargo:rerun-if-changed=startup_order_link.rs");
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=build.rs");
}
