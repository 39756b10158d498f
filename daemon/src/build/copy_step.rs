//! COPY and ADD as dockerd's `performCopy`: the sources (the context, or another stage's
//! or image's root with `--from`) copied into a writable layer over the stage's image,
//! which becomes the step's image; no container is made. The history names the
//! sources' checksum: `COPY file:<sha256> in /dest `; the cache is probed with it
//! before anything is copied.
use super::builder::{Build, StageState};
use super::copy::{prepare, CopyOptions};
use super::dockerfile::CopySpec;
use super::steps::{self, ScratchLayer};
use super::BuildError;
use crate::containers::commit::ChildImage;

const CHMOD_NEEDS_BUILDKIT: &str = "the --chmod option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled";

pub async fn copy(
    b: &mut Build<'_>,
    st: &mut StageState,
    spec: CopySpec,
    add: bool,
) -> Result<(), BuildError> {
    if spec.chmod.is_some() {
        return Err(BuildError::Internal(CHMOD_NEEDS_BUILDKIT.into()));
    }
    let name = if add { "ADD" } else { "COPY" };
    // The source: the context, or the root of a stage's or an image's files.
    let mut source_layer = None;
    if let Some(from) = spec.from.as_deref().filter(|f| !f.is_empty()) {
        let wrap =
            |e: BuildError| BuildError::Internal(format!("invalid from flag value {from}: {e}"));
        let image_id = match b.stages.get(from).map_err(wrap)? {
            Some(id) => id,
            None => b.lookup().image(from, false).await.map_err(wrap)?.id,
        };
        source_layer = Some(ScratchLayer::new(&b.daemon, &image_id)?);
    }
    let source_root = match &source_layer {
        Some(layer) => layer.root(),
        None => b.context_root.clone(),
    };
    let options = CopyOptions {
        chown: spec.chown.clone(),
        chmod: None,
        unpack_archives: add,
        allow_urls: add,
        from_stage: source_layer.is_some(),
    };
    // The sources and their checksum first: all the cache probe needs.
    let (sources, dest) = (spec.sources.clone(), spec.dest.clone());
    let prepared =
        tokio::task::spawn_blocking(move || prepare(&source_root, &sources, &dest, &options))
            .await??;
    let chown = spec
        .chown
        .as_deref()
        .map(|c| format!("--chown={c}"))
        .unwrap_or_default();
    let comment = format!("{name} {chown}{} in {} ", prepared.checksum(), spec.dest);
    let step = st.run_config.with_nop_string(&comment);
    if b.probe_cache(st, &step).await? {
        return Ok(());
    }
    let mut layer = ScratchLayer::new(&b.daemon, &st.image_id)?;
    let (dest_root, workdir) = (layer.root(), st.run_config.working_dir.clone());
    tokio::task::spawn_blocking(move || prepared.copy_into(&dest_root, &workdir)).await??;
    drop(source_layer);
    layer.unmount();
    let child = ChildImage {
        parent: (!st.image_id.is_empty()).then(|| st.image_id.clone()),
        config: st.run_config.to_value(),
        container_config: step.to_value(),
        container: None,
        author: st.maintainer.clone(),
        comment: String::new(),
        created_by: step.cmd.clone().unwrap_or_default().join(" "),
    };
    st.image_id = steps::store(&b.daemon, layer.upper(), child).await?;
    Ok(())
}
