//! Containers: records on disk, names, create (Docker config → OCI bundle),
//! lifecycle through berth-containerd, restart policies, inspect and list.
