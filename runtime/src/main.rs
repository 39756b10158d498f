//! berth-runc: the command line (`berth_runc::entry`).
fn main() {
    std::process::exit(berth_runc::entry::main_with_args(std::env::args_os()));
}
