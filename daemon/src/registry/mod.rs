//! Pulling and pushing images with oci-client; registry authentication.
