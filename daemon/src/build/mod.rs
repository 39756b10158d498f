//! The classic builder behind `POST /build` (`docker build` when `/_ping` says
//! `Builder-Version: 1`), as dockerd's `builder/dockerfile`:
//! - `dockerfile` — the Dockerfile language: parsing, instructions, variable expansion.
//! - `context`    — the uploaded build context: unpacked into a scratch folder, `.dockerignore`.
//! - `copy`       — `COPY`/`ADD`: sources from the context or another stage into a root.
//! - `options`    — the query of `POST /build`.
//! - `body`       — the uploaded context stream (the CLI's unterminated tars completed).
//! - `output`     — the JSON stream the client reads (steps, RUN output, the result).
//! - `run_config` — the config each step starts from and commits (Go `container.Config`).
//! - `build_args` — `--build-arg` values, `ARG`s in scope, the unused-argument warning.
//! - `builder`    — a whole build: stages, steps, the result's tags.
//! - `dispatch`   — one instruction: what it changes and how it is committed.
//! - `steps`      — the daemon work of a step: containers, RUN, commits, COPY layers.
//! - `from`       — `FROM` and `COPY --from`: local images, pulls, stages, scratch.
//! - `copy_step`  — COPY and ADD steps: a layer made without a container.
//! - `scratch_layer` — that layer: an overlay of an image's layers in `<data-root>/build`.
//! - `cache`      — the local image cache (`Using cache`).
//! - `cache_from` — `--cache-from`: other images' history as the cache.
//! - `go_text`    — history texts as Go's `fmt` writes them; EXPOSE's port specs.
pub mod body;
pub mod build_args;
pub mod builder;
pub mod cache;
pub mod cache_from;
pub mod context;
pub mod copy;
pub mod copy_step;
pub mod dispatch;
pub mod dockerfile;
pub mod from;
pub mod go_text;
pub mod options;
pub mod output;
pub mod run_config;
pub mod scratch_layer;
pub mod steps;

use thiserror::Error;

/// A build that failed; mapped to dockerd's statuses when nothing was streamed yet,
/// else written as the stream's last line.
#[derive(Debug, Error)]
pub enum BuildError {
    /// 400.
    #[error("{0}")]
    Invalid(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 500.
    #[error("{0}")]
    Internal(String),
    /// A RUN that exited non-zero: `errorDetail.code` is its exit code.
    #[error("{message}")]
    Step { message: String, code: i64 },
}

impl From<crate::containers::ContainerError> for BuildError {
    fn from(e: crate::containers::ContainerError) -> Self {
        use crate::containers::ContainerError as C;
        match e {
            C::Invalid(m) => BuildError::Invalid(m),
            C::NotFound(_) | C::Missing(_) => BuildError::NotFound(e.to_string()),
            C::Image(crate::images::ImageError::NotFound(_)) => BuildError::NotFound(e.to_string()),
            other => BuildError::Internal(other.to_string()),
        }
    }
}

impl From<context::ContextError> for BuildError {
    fn from(e: context::ContextError) -> Self {
        match e {
            // dockerd answers a missing Dockerfile with a 500.
            context::ContextError::Invalid(m) if m.starts_with("Cannot locate") => {
                BuildError::Internal(m)
            }
            context::ContextError::Invalid(m) => BuildError::Invalid(m),
            other => BuildError::Internal(other.to_string()),
        }
    }
}

impl From<copy::CopyError> for BuildError {
    fn from(e: copy::CopyError) -> Self {
        match e {
            copy::CopyError::Invalid(m) => BuildError::Invalid(m),
            other => BuildError::Internal(other.to_string()),
        }
    }
}

impl From<dockerfile::DockerfileError> for BuildError {
    fn from(e: dockerfile::DockerfileError) -> Self {
        BuildError::Invalid(e.to_string())
    }
}

impl From<crate::registry::RegistryError> for BuildError {
    fn from(e: crate::registry::RegistryError) -> Self {
        let api: crate::api::ApiError = e.into();
        match api.status.as_u16() {
            400 => BuildError::Invalid(api.message),
            404 => BuildError::NotFound(api.message),
            _ => BuildError::Internal(api.message),
        }
    }
}

impl From<crate::images::ImageError> for BuildError {
    fn from(e: crate::images::ImageError) -> Self {
        let api: crate::api::ApiError = e.into();
        match api.status.as_u16() {
            400 => BuildError::Invalid(api.message),
            404 => BuildError::NotFound(api.message),
            _ => BuildError::Internal(api.message),
        }
    }
}

impl From<crate::store::StoreError> for BuildError {
    fn from(e: crate::store::StoreError) -> Self {
        BuildError::Internal(e.to_string())
    }
}

impl From<tokio::task::JoinError> for BuildError {
    fn from(e: tokio::task::JoinError) -> Self {
        BuildError::Internal(format!("build task: {e}"))
    }
}

/// The first 12 hex digits of an ID, as dockerd's `stringid.TruncateID`.
pub fn short(id: &str) -> String {
    crate::images::short_id(id)
}

/// Runs a whole build from the uploaded context (`body`), writing the stream to `out`.
/// The error is returned only when nothing was written yet (the HTTP answer is then a
/// plain error); after that it is the stream's last line.
pub async fn run(
    daemon: crate::state::SharedDaemon,
    options: options::BuildOptions,
    auth: std::collections::HashMap<String, crate::registry::AuthConfig>,
    body: tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>,
    out: tokio::sync::mpsc::Sender<bytes::Bytes>,
) -> Result<(), BuildError> {
    let out = output::Output::new(out, options.quiet);
    let scratch = daemon.config.data_root.join("build");
    let name = options.dockerfile.clone();
    let unpacked = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&scratch)
            .map_err(|e| BuildError::Internal(format!("creating {}: {e}", scratch.display())))?;
        let reader = body::PaddedTar::new(crate::containers::archive_put::BodyReader::new(body));
        let context = context::BuildContext::unpack(reader, &scratch)?;
        let text = context.dockerfile(&name)?;
        Ok::<_, BuildError>((context, text))
    })
    .await
    .map_err(BuildError::from)
    .and_then(|r| r);
    let result = match unpacked {
        Ok((context, text)) => {
            let mut build = builder::Build {
                daemon: daemon.clone(),
                options,
                auth,
                out: &out,
                context_root: context.root().to_path_buf(),
                escape: '\\',
                stages: Default::default(),
                containers: Vec::new(),
                cache_busted: false,
                cache_sources: Vec::new(),
            };
            let result = match build.run(&text).await {
                Ok(id) => build.finish(&id).await,
                Err(e) => Err(e),
            };
            drop(context);
            result
        }
        Err(e) => Err(e),
    };
    match result {
        Err(e) if out.started() => {
            tracing::info!(error = %e, "build failed");
            out.fail(&e).await;
            Ok(())
        }
        other => other,
    }
}
