//! The embedded DNS server at 127.0.0.11 inside containers on user-defined networks.

pub mod forward;
pub mod resolvconf;
pub mod server;
pub mod table;

pub use resolvconf::DnsSettings;
pub use server::{DnsServer, DnsServerConfig};
pub use table::{DnsEntry, DnsTable};
