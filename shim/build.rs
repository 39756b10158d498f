//! Links berth-shim, which starts once per container, with its relative relocations
//! packed (see ../daemon/startup_order_link.rs).
#[allow(dead_code)] // its start-up order is not listed: it starts small
mod link {
    include!("../daemon/startup_order_link.rs");
    pub fn main() {
        pack_relative_relocations("berth-shim");
    }
}

fn main() {
    link::main();
    println!("cargo:rerun-if-changed=../daemon/startup_order_link.rs");
    println!("cargo:rerun-if-changed=build.rs");
}
