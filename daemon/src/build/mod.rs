//! The classic builder behind `POST /build` (`docker build` when `/_ping` says
//! `Builder-Version: 1`), as dockerd's `builder/dockerfile`:
//! - `dockerfile` — the Dockerfile language: parsing, instructions, variable expansion.
//! - `context`    — the uploaded build context: unpacked into a scratch folder, `.dockerignore`.
//! - `copy`       — `COPY`/`ADD`: sources from the context or another stage into a root.
//!   The steps themselves (containers, commits, the progress stream) are in the other modules.
pub mod context;
pub mod copy;
pub mod dockerfile;
