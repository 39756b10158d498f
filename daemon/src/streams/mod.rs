//! Container stdio for the API: reading json-file logs (tail, since/until,
//! follow), Docker's multiplexed stream framing, hijacked connections, and
//! attach/exec streams proxied to a shim's attach socket.
