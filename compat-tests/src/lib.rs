//! Berth's compat tests. The shared test harness lives in tests/common; this library holds
//! the fixture builder behind the `berth-fixtures` binary, the token server behind
//! `berth-token-server`, and a tiny HTTP client for tests.

pub mod fixtures;
pub mod http;
pub mod token;
