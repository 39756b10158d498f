//! Shared helpers for the compat tests live in tests/common.
