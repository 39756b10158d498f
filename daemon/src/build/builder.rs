//! A whole build, as dockerd's `Builder.build` and `dispatchDockerfileWithCancellation`:
//! the Dockerfile's stages up to the target, `Step N/M : …` for each instruction,
//! ` ---> <id>` after each, the stage's image as `aux`, the unused-argument warning;
//! then (`finish`) "Successfully built" and the tags.
use std::collections::HashMap;
use std::path::PathBuf;

use super::build_args::BuildArgs;
use super::dispatch::dispatch;
use super::dockerfile::{self, Command, Instruction};
use super::from::{BaseImage, Lookup, Stages};
use super::options::BuildOptions;
use super::output::Output;
use super::run_config::RunConfig;
use super::{short, BuildError};
use crate::registry::AuthConfig;
use crate::state::SharedDaemon;

/// A build in progress.
pub struct Build<'a> {
    pub daemon: SharedDaemon,
    pub options: BuildOptions,
    pub auth: HashMap<String, AuthConfig>,
    pub out: &'a Output,
    pub context_root: PathBuf,
    pub escape: char,
    pub stages: Stages,
    /// Intermediate containers not removed yet.
    pub containers: Vec<String>,
    /// A step missed the cache: the rest of the stage does not look.
    pub cache_busted: bool,
    /// The `cachefrom` images (IDs), reset for each stage.
    pub cache_sources: Vec<String>,
}

/// What a stage's steps change.
#[derive(Debug, Clone, Default)]
pub struct StageState {
    pub run_config: RunConfig,
    pub maintainer: String,
    pub cmd_set: bool,
    /// The image so far; empty on `FROM scratch` before any step.
    pub image_id: String,
    pub name: Option<String>,
    pub args: BuildArgs,
}

/// A step of the last stage: an instruction, or a `labels` option (`LABEL k=v`).
enum Step<'i> {
    Instruction(&'i Instruction),
    Label(String, String),
}

impl<'a> Build<'a> {
    pub fn lookup(&self) -> Lookup<'_> {
        let platform = crate::registry::platform::Platform::parse(&self.options.platform).ok();
        Lookup {
            daemon: &self.daemon,
            out: self.out,
            force_pull: self.options.pull,
            auth: &self.auth,
            platform: (!self.options.platform.is_empty())
                .then_some(platform)
                .flatten(),
        }
    }

    /// Runs the Dockerfile; returns the last stage's image ID.
    pub async fn run(&mut self, text: &str) -> Result<String, BuildError> {
        let file = dockerfile::parse(text)?;
        self.escape = file.escape;
        let mut stages = file.stages;
        if !self.options.target.is_empty() {
            let target = self.options.target.to_ascii_lowercase();
            let index = stages
                .iter()
                .position(|s| stage_name(&s.from).as_deref() == Some(target.as_str()))
                .ok_or_else(|| {
                    BuildError::Invalid(format!(
                        "failed to reach build target {} in Dockerfile",
                        self.options.target
                    ))
                })?;
            stages.truncate(index + 1);
        }
        let labels: Vec<(String, String)> = self.options.labels.clone().into_iter().collect();
        let total = file.meta_args.len()
            + stages.len()
            + stages.iter().map(|s| s.instructions.len()).sum::<usize>()
            + if stages.is_empty() { 0 } else { labels.len() };
        let mut n = 0;
        let mut args = BuildArgs::new(self.options.build_args.clone());
        for meta in &file.meta_args {
            n += 1;
            self.print_step(n, total, &meta.original).await;
            let allowed = args.all_allowed();
            let vars = move |name: &str| allowed.get(name).cloned();
            if let Command::Arg(list) = meta.command(&vars)? {
                for (k, v) in list {
                    args.add_arg(&k, v.clone());
                    args.add_meta_arg(&k, v);
                }
            }
        }
        let mut last = StageState::default();
        let count = stages.len();
        for (index, stage) in stages.iter().enumerate() {
            let mut st = StageState {
                args: args.for_stage(),
                ..Default::default()
            };
            n += 1;
            self.print_step(n, total, &stage.from.original).await;
            self.begin_stage(&mut st, &stage.from).await?;
            st.run_config.image = st.image_id.clone();
            self.print_image(&st).await;
            let mut steps: Vec<Step> = stage.instructions.iter().map(Step::Instruction).collect();
            if index + 1 == count {
                steps.extend(
                    labels
                        .iter()
                        .map(|(k, v)| Step::Label(k.clone(), v.clone())),
                );
            }
            for step in steps {
                if self.out.is_client_gone() {
                    self.out.stream("Build cancelled\n").await;
                    return Err(BuildError::Internal("Build cancelled".into()));
                }
                n += 1;
                match step {
                    Step::Instruction(inst) => {
                        self.print_step(n, total, &inst.original).await;
                        dispatch(self, &mut st, inst).await?;
                    }
                    Step::Label(k, v) => {
                        self.print_step(n, total, &format!("LABEL {k}={v}")).await;
                        st.run_config
                            .labels
                            .get_or_insert_with(Default::default)
                            .insert(k.clone(), v.clone());
                        let result =
                            super::dispatch::commit_nop(self, &mut st, &format!("LABEL {k}={v}"))
                                .await;
                        self.after_step(result.is_ok()).await;
                        result?;
                    }
                }
                st.run_config.image = st.image_id.clone();
                self.print_image(&st).await;
            }
            if !st.image_id.is_empty() {
                self.out.aux_id(&st.image_id).await;
            }
            args.merge_referenced(&st.args);
            self.stages.commit(st.name.as_deref(), &st.image_id);
            last = st;
        }
        if let Some(warning) = args.unused_warning() {
            self.out.stream(warning).await;
        }
        if last.image_id.is_empty() {
            return Err(BuildError::Internal(
                "No image was generated. Is your Dockerfile empty?".into(),
            ));
        }
        Ok(last.image_id)
    }

    async fn after_step(&mut self, ok: bool) {
        if self.options.force_remove || (self.options.remove && ok) {
            super::steps::remove_all(&self.daemon, self.out, &mut self.containers).await;
        }
    }

    async fn print_step(&self, n: usize, total: usize, text: &str) {
        self.out.stream(format!("Step {n}/{total} : {text}")).await;
        self.out.stream("\n").await;
    }

    async fn print_image(&self, st: &StageState) {
        self.out
            .stream(format!(" ---> {}\n", short(&st.image_id)))
            .await;
    }

    /// FROM: the base image (a stage, local, pulled or scratch), its config, its
    /// ONBUILD triggers run first.
    async fn begin_stage(
        &mut self,
        st: &mut StageState,
        from: &Instruction,
    ) -> Result<(), BuildError> {
        self.cache_busted = false;
        self.cache_sources = super::cache_from::sources(&self.daemon, &self.options.cache_from);
        let meta = st.args.all_meta();
        let vars = move |name: &str| meta.get(name).cloned();
        let Command::From { image, name, .. } = from.command(&vars)? else {
            return Err(BuildError::Internal("a stage must start with FROM".into()));
        };
        if image.is_empty() {
            return Err(BuildError::Internal(format!(
                "base name ({}) should not be blank",
                from.original
            )));
        }
        self.stages.check_name(name.as_deref())?;
        st.name = name;
        let base: BaseImage = match self.stages.by_name(&image).cloned() {
            Some(id) => self.lookup().image(&id, true).await?,
            None => self.lookup().image(&image, false).await?,
        };
        st.image_id = base.id.clone();
        st.run_config = RunConfig::from_image(base.config.get("config"));
        st.run_config.set_default_path();
        st.run_config.open_stdin = false;
        st.run_config.stdin_once = false;
        let triggers = st.run_config.on_build.take().unwrap_or_default();
        if triggers.is_empty() {
            return Ok(());
        }
        // Three writes, as dockerd's Fprintf, Fprint, Fprintln.
        self.out
            .stream(format!("# Executing {} build trigger", triggers.len()))
            .await;
        if triggers.len() > 1 {
            self.out.stream("s").await;
        }
        self.out.stream("\n").await;
        for trigger in triggers {
            st.run_config.image = st.image_id.clone();
            let inst = dockerfile::parse_instruction(&trigger, self.escape)?;
            dispatch(self, st, &inst).await?;
        }
        Ok(())
    }

    /// dockerd's image cache: a child of the current image made by the same step
    /// (same config, see `RunConfig::same_for_cache`) is reused, the newest first.
    pub async fn probe_cache(
        &mut self,
        st: &mut StageState,
        step: &RunConfig,
    ) -> Result<bool, BuildError> {
        if self.options.no_cache || self.cache_busted {
            return Ok(false);
        }
        let hit = if self.options.cache_from.is_empty() {
            super::cache::find(&self.daemon, &st.image_id, step)
        } else {
            super::cache_from::get(&self.daemon, &mut self.cache_sources, &st.image_id, step)?
        };
        match hit {
            Some(id) => {
                self.out.stream(" ---> Using cache\n").await;
                st.image_id = id;
                Ok(true)
            }
            None => {
                self.cache_busted = true;
                Ok(false)
            }
        }
    }

    /// After a successful build: "Successfully built", the tags (`tag` events).
    pub async fn finish(&self, id: &str) -> Result<(), BuildError> {
        self.out
            .stream(format!("Successfully built {}\n", short(id)))
            .await;
        for reference in &self.options.tags {
            self.daemon.images.set_ref(&reference.to_string(), id)?;
            self.daemon.images.touch_tag_time(id)?;
            crate::events::image::publish(&self.daemon, "tag", id, &reference.familiar());
            self.out
                .stream(format!("Successfully tagged {}\n", reference.familiar()))
                .await;
        }
        self.out.quiet_result(id).await;
        Ok(())
    }
}

/// A stage's name (`AS name`, lowercased) without expanding anything.
fn stage_name(from: &Instruction) -> Option<String> {
    match from.command(&|_| None) {
        Ok(Command::From { name, .. }) => name.map(|n| n.to_ascii_lowercase()),
        _ => None,
    }
}
