fn main() { eprintln!("berth-fixtures: TODO"); std::process::exit(1); }
