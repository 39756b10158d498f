//! Compiles the vendored CRI `runtime.v1` protocol (proto/api.proto, from k8s.io/cri-api) with
//! protox, a protobuf compiler written in Rust, so the build needs no `protoc` binary.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/api.proto");
    let descriptors = protox::compile(["proto/api.proto"], ["proto"])?;
    tonic_prost_build::configure()
        // Configs are kept in the CRI's records as JSON.
        .type_attribute(".", "#[derive(serde::Serialize, serde::Deserialize)]")
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
