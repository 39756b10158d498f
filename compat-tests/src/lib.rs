//! Berth's compat tests. The shared test harness lives in tests/common; this library holds
//! the fixture builder behind the `berth-fixtures` binary and a tiny HTTP client for tests.

pub mod fixtures;
pub mod http;
