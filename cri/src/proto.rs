//! The CRI `runtime.v1` protocol (k8s.io/cri-api, vendored as proto/api.proto), compiled at
//! build time by protox and tonic-prost-build: no `protoc` binary is needed.
#![allow(clippy::all, missing_docs)]
tonic::include_proto!("runtime.v1");
