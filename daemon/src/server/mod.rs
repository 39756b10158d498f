//! Listeners: unix sockets, TCP, TLS.
