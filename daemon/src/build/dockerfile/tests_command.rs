//! `Instruction::command`: each instruction's typed form, expanded where dockerd's
//! builder expands, and the classic builder's refusals at the step.
use super::*;

fn vars(name: &str) -> Option<String> {
    match name {
        "W" => Some("a b".into()),
        "E" => Some(String::new()),
        "P" => Some("80 443".into()),
        "U" => Some("app".into()),
        _ => None,
    }
}

/// The typed command of the one instruction after `FROM a`.
fn cmd(line: &str) -> Result<Command, DockerfileError> {
    let df = parse(&format!("FROM a\n{line}\n")).unwrap_or_else(|e| panic!("{line}: {e}"));
    df.stages[0].instructions[0].command(&vars)
}

fn ok(line: &str) -> Command {
    cmd(line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn env_and_label_forms() {
    // What dockerd 20.10 stored for the same lines (with W, E already set).
    assert_eq!(
        ok(r#"ENV W2="a b" Q='$W' R="${W}-\$W" S=${UNSET:-def} T=${W:+set} U=x\ y"#),
        Command::Env(pairs(&[
            ("W2", "a b"),
            ("Q", "$W"),
            ("R", "a b-$W"),
            ("S", "def"),
            ("T", "set"),
            ("U", "x y"),
        ]))
    );
    assert_eq!(
        ok("ENV FOO bar   baz $W"),
        Command::Env(pairs(&[("FOO", "bar   baz a b")]))
    );
    assert_eq!(ok("ENV E="), Command::Env(pairs(&[("E", "")])));
    assert_eq!(
        ok(r#"LABEL "my label"="v $W" other=${E:-empty}"#),
        Command::Label(pairs(&[("my label", "v a b"), ("other", "empty")]))
    );
    assert_eq!(
        ok("LABEL version 1.0"),
        Command::Label(pairs(&[("version", "1.0")]))
    );
}

#[test]
fn arg_with_and_without_defaults() {
    assert_eq!(
        ok(r#"ARG A B=1 C="x $W" D="#),
        Command::Arg(vec![
            ("A".into(), None),
            ("B".into(), Some("1".into())),
            ("C".into(), Some("x a b".into())),
            ("D".into(), Some(String::new())),
        ])
    );
}

#[test]
fn expanded_single_words() {
    assert_eq!(ok("WORKDIR /x/${W}"), Command::Workdir("/x/a b".into()));
    assert_eq!(
        ok("USER ${E:-nobody}:${W:+grp}"),
        Command::User("nobody:grp".into())
    );
    assert_eq!(
        ok("STOPSIGNAL ${SIG:-SIGINT}"),
        Command::StopSignal("SIGINT".into())
    );
    assert_eq!(
        ok("MAINTAINER  John Doe <j@x> $W"),
        Command::Maintainer("John Doe <j@x> $W".into())
    );
    assert_eq!(
        ok(r#"VOLUME ["/v/$W", "/w"]"#),
        Command::Volume(strings(&["/v/a b", "/w"]))
    );
    assert_eq!(
        ok("VOLUME /c   /d"),
        Command::Volume(strings(&["/c", "/d"]))
    );
    assert_eq!(
        cmd("VOLUME $E").unwrap_err().to_string(),
        "VOLUME specified can not be an empty string"
    );
}

#[test]
fn expose_splits_words_after_sorting() {
    assert_eq!(
        ok("EXPOSE $P 8080/tcp"),
        Command::Expose(strings(&["80", "443", "8080/tcp"]))
    );
    assert_eq!(ok("EXPOSE 9 10"), Command::Expose(strings(&["10", "9"])));
}

#[test]
fn commands_are_not_expanded() {
    assert_eq!(
        ok("RUN echo $W"),
        Command::Run(ShellOrExec::Shell("echo $W".into()))
    );
    assert_eq!(
        ok(r#"RUN ["echo", "$W"]"#),
        Command::Run(ShellOrExec::Exec(strings(&["echo", "$W"])))
    );
    // Only the first JSON value counts; invalid JSON is the shell form.
    assert_eq!(
        ok(r#"CMD ["a"] trailing"#),
        Command::Cmd(ShellOrExec::Exec(strings(&["a"])))
    );
    assert_eq!(
        ok(r#"ENTRYPOINT ["a", 'b']"#),
        Command::Entrypoint(ShellOrExec::Shell(r#"["a", 'b']"#.into()))
    );
    assert_eq!(
        ok("ENTRYPOINT []"),
        Command::Entrypoint(ShellOrExec::Exec(vec![]))
    );
    assert_eq!(ok("CMD"), Command::Cmd(ShellOrExec::Shell(String::new())));
    assert_eq!(
        ok(r#"SHELL ["/bin/bash", "-c"]"#),
        Command::Shell(strings(&["/bin/bash", "-c"]))
    );
    assert_eq!(
        ok("ONBUILD  RUN echo $W"),
        Command::Onbuild("RUN echo $W".into())
    );
    assert_eq!(
        ok("onbuild copy --from=x a b"),
        Command::Onbuild("copy --from=x a b".into())
    );
}

#[test]
fn healthcheck_forms() {
    assert_eq!(
        ok(r#"HEALTHCHECK --interval=1m30s --start-period=250ms CMD ["true", "$W"]"#),
        Command::Healthcheck(HealthcheckSpec {
            test: strings(&["CMD", "true", "$W"]),
            interval: Some(90_000_000_000),
            start_period: Some(250_000_000),
            ..Default::default()
        })
    );
    // `--start-interval` as newer dockerd (20.10: "Unknown flag: start-interval").
    assert_eq!(
        ok("HEALTHCHECK --start-interval=2s --retries=5 cmd  curl -f x || exit 1"),
        Command::Healthcheck(HealthcheckSpec {
            test: strings(&["CMD-SHELL", "curl -f x || exit 1"]),
            start_interval: Some(2_000_000_000),
            retries: Some(5),
            ..Default::default()
        })
    );
    assert_eq!(
        ok("HEALTHCHECK none"),
        Command::Healthcheck(HealthcheckSpec {
            test: strings(&["NONE"]),
            ..Default::default()
        })
    );
}

#[test]
fn copy_and_add() {
    assert_eq!(
        ok("COPY --chown=$U:$U src/$W *.txt /dst/"),
        Command::Copy(CopySpec {
            sources: strings(&["src/a b", "*.txt"]),
            dest: "/dst/".into(),
            chown: Some("app:app".into()),
            ..Default::default()
        })
    );
    // `--from` is not expanded by dockerd 20.10.
    assert_eq!(
        ok(r#"COPY --from=$W ["a b", "/c d/"]"#),
        Command::Copy(CopySpec {
            sources: strings(&["a b"]),
            dest: "/c d/".into(),
            from: Some("$W".into()),
            ..Default::default()
        })
    );
    assert_eq!(
        ok("ADD https://example.com/x.tgz /opt/"),
        Command::Add(CopySpec {
            sources: strings(&["https://example.com/x.tgz"]),
            dest: "/opt/".into(),
            ..Default::default()
        })
    );
    assert_eq!(
        ok("COPY --chown= a b"),
        Command::Copy(CopySpec {
            sources: strings(&["a"]),
            dest: "b".into(),
            ..Default::default()
        })
    );
}

#[test]
fn classic_builder_refusals_at_the_step() {
    // As dockerd 20.10 printed them.
    let unsupported = |line: &str| match cmd(line) {
        Err(DockerfileError::Unsupported(text)) => text,
        other => panic!("{line}: {other:?}"),
    };
    assert_eq!(
        unsupported("RUN --mount=type=cache,target=/x true"),
        "the --mount option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled"
    );
    assert_eq!(
        unsupported("COPY --chmod=755 Dockerfile /x"),
        "the --chmod option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled"
    );
    assert!(unsupported("ADD --chmod=644 a /b").starts_with("the --chmod option"));
}

#[test]
fn expansion_errors_at_the_step() {
    assert_eq!(
        cmd("WORKDIR ${NOPE:?must be set}").unwrap_err().to_string(),
        "failed to process \"${NOPE:?must be set}\": NOPE: must be set"
    );
    assert_eq!(
        cmd("ENV A=\"x").unwrap_err().to_string(),
        "failed to process \"\\\"x\": unexpected end of statement while looking for matching double-quote"
    );
    let df = parse("ARG IMG\nFROM ${IMG}\n").unwrap();
    assert_eq!(
        df.stages[0].from.command(&vars).unwrap_err().to_string(),
        "base name (${IMG}) should not be blank"
    );
    let df = parse("FROM --platform=${P:?} a\n").unwrap();
    let none = |_: &str| None;
    assert_eq!(
        df.stages[0].from.command(&none).unwrap_err().to_string(),
        "failed to process arguments for platform : failed to process \"${P:?}\": P: is not allowed to be unset"
    );
}

#[test]
fn default_node_is_an_error_not_a_panic() {
    let i = Instruction {
        line: 1,
        original: "FOO".into(),
        keyword: "foo".into(),
        node: Node::default(),
    };
    assert_eq!(
        i.command(&vars).unwrap_err().to_string(),
        "unknown instruction: FOO"
    );
}

#[test]
fn expand_word_for_the_builder() {
    assert_eq!(expand_word("${W}-x", '\\', &vars).unwrap(), "a b-x");
    assert!(expand_word("${W", '\\', &vars).is_err());
}
