//! Links berth-containerd with its start-up functions together (see
//! ../daemon/startup_order_link.rs).
include!("../daemon/startup_order_link.rs");

fn main() {
    order_startup_functions("berth-containerd");
    pack_relative_relocations("berth-containerd");
    println!("cargo:rerun-if-changed=../daemon/startup_order_link.rs");
    println!("cargo:rerun-if-changed=build.rs");
}
