//! One instruction, as dockerd's dispatchers: what it changes in the stage's config,
//! and the image it commits (a `#(nop)` container for metadata, the RUN's container,
//! or COPY's layer — see `copy_step`).
use super::builder::{Build, StageState};
use super::dockerfile::{Command, Instruction, ShellOrExec};
use super::go_text::{go_quote_list, healthcheck_text, healthcheck_value, port_specs};
use super::run_config::RunConfig;
use super::{steps, BuildError};

/// Runs one instruction; intermediate containers are removed after it as dockerd does
/// (`rm` after a success, `forcerm` always).
pub async fn dispatch(
    b: &mut Build<'_>,
    st: &mut StageState,
    inst: &Instruction,
) -> Result<(), BuildError> {
    let command = {
        let env = st.run_config.clone();
        let allowed = st.args.all_allowed();
        let vars = move |name: &str| env.env_value(name).or_else(|| allowed.get(name).cloned());
        inst.command(&vars)?
    };
    let result = run_command(b, st, command).await;
    if b.options.force_remove || (b.options.remove && result.is_ok()) {
        steps::remove_all(&b.daemon, b.out, &mut b.containers).await;
    }
    result
}

async fn run_command(
    b: &mut Build<'_>,
    st: &mut StageState,
    command: Command,
) -> Result<(), BuildError> {
    match command {
        Command::Env(pairs) => {
            let mut message = String::from("ENV");
            for (k, v) in &pairs {
                st.run_config.set_env(k, v);
                message.push_str(&format!(" {k}={v}"));
            }
            commit_nop(b, st, &message).await
        }
        Command::Maintainer(m) => {
            st.maintainer = m.clone();
            commit_nop(b, st, &format!("MAINTAINER {m}")).await
        }
        Command::Label(pairs) => {
            let mut message = String::from("LABEL");
            let labels = st.run_config.labels.get_or_insert_with(Default::default);
            for (k, v) in &pairs {
                labels.insert(k.clone(), v.clone());
                message.push_str(&format!(" {k}={v}"));
            }
            commit_nop(b, st, &message).await
        }
        Command::Copy(spec) => super::copy_step::copy(b, st, spec, false).await,
        Command::Add(spec) => super::copy_step::copy(b, st, spec, true).await,
        Command::Onbuild(expr) => {
            st.run_config
                .on_build
                .get_or_insert_with(Vec::new)
                .push(expr.clone());
            commit_nop(b, st, &format!("ONBUILD {expr}")).await
        }
        Command::Workdir(path) => workdir(b, st, &path).await,
        Command::Run(line) => run(b, st, line).await,
        Command::Cmd(line) => {
            let given = !matches!(&line, ShellOrExec::Exec(v) if v.is_empty());
            let cmd = resolve(&st.run_config, line);
            let message = format!("CMD {}", go_quote_list(&cmd));
            st.run_config.cmd = Some(cmd);
            st.run_config.args_escaped = false;
            commit_nop(b, st, &message).await?;
            if given {
                st.cmd_set = true;
            }
            Ok(())
        }
        Command::Entrypoint(line) => {
            let cmd = resolve(&st.run_config, line);
            let message = format!("ENTRYPOINT {}", go_quote_list(&cmd));
            st.run_config.entrypoint = Some(cmd);
            st.run_config.args_escaped = false;
            if !st.cmd_set {
                st.run_config.cmd = None;
            }
            commit_nop(b, st, &message).await
        }
        Command::Healthcheck(spec) => {
            if let Some(old) = st.run_config.healthcheck.as_ref() {
                let test: Vec<String> =
                    serde_json::from_value(old["Test"].clone()).unwrap_or_default();
                if test.first().is_some_and(|t| t != "NONE") {
                    b.out
                        .stream(format!(
                            "Note: overriding previous HEALTHCHECK: [{}]\n",
                            test.join(" ")
                        ))
                        .await;
                }
            }
            let message = format!("HEALTHCHECK {}", healthcheck_text(&spec));
            st.run_config.healthcheck = Some(healthcheck_value(&spec));
            commit_nop(b, st, &message).await
        }
        Command::Expose(ports) => {
            let exposed = st
                .run_config
                .exposed_ports
                .get_or_insert_with(Default::default);
            for p in &ports {
                for spec in port_specs(p)? {
                    exposed.insert(spec, serde_json::json!({}));
                }
            }
            commit_nop(b, st, &format!("EXPOSE {}", ports.join(" "))).await
        }
        Command::User(u) => {
            st.run_config.user = u.clone();
            commit_nop(b, st, &format!("USER {u}")).await
        }
        Command::Volume(list) => {
            let volumes = st.run_config.volumes.get_or_insert_with(Default::default);
            for v in &list {
                if v.is_empty() {
                    return Err(BuildError::Internal(
                        "VOLUME specified can not be an empty string".into(),
                    ));
                }
                volumes.insert(v.clone(), serde_json::json!({}));
            }
            commit_nop(b, st, &format!("VOLUME [{}]", list.join(" "))).await
        }
        Command::StopSignal(s) => {
            crate::containers::signals::parse(&s)?;
            st.run_config.stop_signal = s.clone();
            commit_nop(b, st, &format!("STOPSIGNAL {s}")).await
        }
        Command::Arg(args) => {
            let mut message = String::from("ARG ");
            for (i, (k, v)) in args.iter().enumerate() {
                if i > 0 {
                    message.push(' ');
                }
                message.push_str(k);
                if let Some(v) = v {
                    message.push_str(&format!("={v}"));
                }
                st.args.add_arg(k, v.clone());
            }
            commit_nop(b, st, &message).await
        }
        Command::Shell(shell) => {
            let message = format!("SHELL [{}]", shell.join(" "));
            st.run_config.shell = Some(shell);
            commit_nop(b, st, &message).await
        }
        Command::From { .. } => Err(BuildError::Internal(
            "FROM is only valid at the start of a stage".into(),
        )),
    }
}

/// A command line in the image's terms: shell form through the stage's shell.
pub fn resolve(config: &RunConfig, line: ShellOrExec) -> Vec<String> {
    match line {
        ShellOrExec::Exec(v) => v,
        ShellOrExec::Shell(s) => {
            let mut cmd = config.shell_or_default();
            cmd.push(s);
            cmd
        }
    }
}

/// dockerd's `commit`: a container with the `#(nop)` command, committed.
pub async fn commit_nop(
    b: &mut Build<'_>,
    st: &mut StageState,
    comment: &str,
) -> Result<(), BuildError> {
    let step = st.run_config.with_nop_comment(comment);
    commit_config(b, st, step, None).await
}

/// Probes the cache, else commits a container made from `step` (after `prepare` on its
/// mounted root, if any). On `FROM scratch` there is no container: the commit is direct.
async fn commit_config(
    b: &mut Build<'_>,
    st: &mut StageState,
    step: RunConfig,
    make_dir: Option<&str>,
) -> Result<(), BuildError> {
    if b.probe_cache(st, &step).await? {
        return Ok(());
    }
    if st.image_id.is_empty() {
        let scratch = steps::ScratchLayer::new(&b.daemon, "")?;
        if let Some(dir) = make_dir {
            steps::make_dir_in(&scratch.root(), dir)?;
        }
        let child = crate::containers::commit::ChildImage {
            parent: None,
            config: st.run_config.to_value(),
            container_config: step.to_value(),
            author: st.maintainer.clone(),
            created_by: step.cmd.clone().unwrap_or_default().join(" "),
            ..Default::default()
        };
        st.image_id = steps::store(&b.daemon, scratch.upper(), child).await?;
        return Ok(());
    }
    let c = steps::create(&b.daemon, b.out, &b.options, &step).await?;
    b.containers.push(c.id.clone());
    if let Some(dir) = make_dir {
        let layers = b.daemon.config.data_root.join("layers");
        let root = crate::containers::rootfs::mount_rootfs(&c, &layers)?;
        let made = steps::make_dir_in(&root, dir);
        crate::containers::rootfs::unmount_rootfs(&c);
        made?;
    }
    st.image_id = steps::commit(
        &b.daemon,
        &c,
        &st.image_id,
        &st.run_config,
        &step,
        &st.maintainer,
        true,
    )
    .await?;
    Ok(())
}

async fn workdir(b: &mut Build<'_>, st: &mut StageState, path: &str) -> Result<(), BuildError> {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{}/{path}", st.run_config.working_dir)
    };
    let dir = crate::containers::mounts::parse::clean_path(&format!("/{joined}"));
    st.run_config.working_dir = dir.clone();
    let step = st.run_config.with_nop_string(&format!("WORKDIR {dir}"));
    commit_config(b, st, step, Some(&dir)).await
}

/// RUN: the command in a container with the build args in its environment; the history
/// records the args (`|N A=1 …` before the command) as dockerd's `prependEnvOnCmd`.
async fn run(b: &mut Build<'_>, st: &mut StageState, line: ShellOrExec) -> Result<(), BuildError> {
    let cmd = resolve(&st.run_config, line);
    let env = st.run_config.env.clone().unwrap_or_default();
    let build_args = st.args.filter_allowed(&env);
    let mut save_cmd = cmd.clone();
    if !build_args.is_empty() {
        let mut kept: Vec<String> = build_args
            .iter()
            .filter(|e| {
                let key = e.split('=').next().unwrap_or("");
                st.args.is_referenced_or_not_builtin(key)
            })
            .cloned()
            .collect();
        kept.sort();
        let mut prefixed = vec![format!("|{}", kept.len())];
        prefixed.extend(kept);
        prefixed.extend(cmd.iter().cloned());
        save_cmd = prefixed;
    }
    let mut probe = st.run_config.clone();
    probe.cmd = Some(save_cmd.clone());
    probe.args_escaped = false;
    if !save_cmd.is_empty() {
        probe.entrypoint = None;
    }
    if b.probe_cache(st, &probe).await? {
        return Ok(());
    }
    let mut run_config = st.run_config.clone();
    run_config.cmd = Some(cmd.clone());
    run_config.args_escaped = false;
    let mut full_env = env;
    full_env.extend(build_args);
    run_config.env = Some(full_env);
    if !save_cmd.is_empty() {
        // dockerd's `[""]`: no entrypoint at all.
        run_config.entrypoint = Some(Vec::new());
    }
    run_config.healthcheck = Some(serde_json::json!({"Test": ["NONE"]}));
    let c = steps::create(&b.daemon, b.out, &b.options, &run_config).await?;
    b.containers.push(c.id.clone());
    steps::run(&b.daemon, b.out, &c).await?;
    st.image_id = steps::commit(
        &b.daemon,
        &c,
        &st.image_id,
        &st.run_config,
        &probe,
        &st.maintainer,
        false,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_form_uses_the_stage_shell() {
        let mut c = RunConfig::default();
        assert_eq!(
            resolve(&c, ShellOrExec::Shell("echo hi".into())),
            ["/bin/sh", "-c", "echo hi"]
        );
        c.shell = Some(vec!["/bin/bash".into(), "-xc".into()]);
        assert_eq!(
            resolve(&c, ShellOrExec::Shell("x".into())),
            ["/bin/bash", "-xc", "x"]
        );
        assert_eq!(resolve(&c, ShellOrExec::Exec(vec!["a".into()])), ["a"]);
    }
}
