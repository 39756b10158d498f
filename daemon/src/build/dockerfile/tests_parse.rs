//! Parsing whole Dockerfiles: lines, directives, stages, and the errors dockerd 20.10
//! gives before the first step (the texts below are what it printed for the same files).
use super::*;

const BUSYBOX: &str = "FROM 127.0.0.1:15000/berth/busybox:latest\n";

fn parse_err(text: &str) -> String {
    match parse(text) {
        Ok(df) => panic!("parsed: {df:?}"),
        Err(err) => err.to_string(),
    }
}

/// The "Step N/M : …" texts dockerd prints, in order.
fn steps(df: &Dockerfile) -> Vec<String> {
    let mut out: Vec<String> = df.meta_args.iter().map(|i| i.original.clone()).collect();
    for stage in &df.stages {
        out.push(stage.from.original.clone());
        out.extend(stage.instructions.iter().map(|i| i.original.clone()));
    }
    out
}

#[test]
fn continuations_comments_and_steps_as_dockerd_prints_them() {
    let text = format!(
        "{BUSYBOX}RUN echo a \\\n    b \\\n# comment inside\n\n    c\nENV A=1 \\\n    B=\"two words\" C=3\n\
         LABEL x y z\nENV FOO bar baz\nARG N\nARG M=5 O=6\nEXPOSE 80 443/udp\nWORKDIR /tmp/$FOO\n\
         USER ${{A:-nobody}}\nCMD [\"echo\", \"hi\"]\nENTRYPOINT echo  x\n"
    );
    let df = parse(&text).unwrap();
    assert_eq!(
        steps(&df),
        [
            "FROM 127.0.0.1:15000/berth/busybox:latest",
            "RUN echo a     b     c",
            "ENV A=1     B=\"two words\" C=3",
            "LABEL x y z",
            "ENV FOO bar baz",
            "ARG N",
            "ARG M=5 O=6",
            "EXPOSE 80 443/udp",
            "WORKDIR /tmp/$FOO",
            "USER ${A:-nobody}",
            "CMD [\"echo\", \"hi\"]",
            "ENTRYPOINT echo  x",
        ]
    );
    assert_eq!(df.total_steps(), 12);
    assert_eq!(
        df.warnings,
        [
            "[WARNING]: Empty continuation line found in:\n    RUN echo a     b     c",
            "[WARNING]: Empty continuation lines will become errors in a future release.",
        ]
    );
    let lines: Vec<usize> = df.stages[0].instructions.iter().map(|i| i.line).collect();
    assert_eq!(lines, [2, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
    assert_eq!(df.stages[0].instructions[0].keyword, "run");
}

#[test]
fn escape_directive_changes_the_continuation_character() {
    let df = parse("# escape=`\nFROM busybox\nRUN echo a `\n  b\nWORKDIR c:\\windows\n").unwrap();
    assert_eq!(df.escape, '`');
    assert_eq!(
        steps(&df),
        ["FROM busybox", "RUN echo a   b", "WORKDIR c:\\windows"]
    );
    let none = |_: &str| None;
    assert_eq!(
        df.stages[0].instructions[1].command(&none).unwrap(),
        Command::Workdir("c:\\windows".into())
    );
}

#[test]
fn directives_only_at_the_top() {
    // `# syntax=` is accepted and ignored; after an instruction or another comment a
    // directive is a comment.
    let df = parse("# syntax=docker/dockerfile:1\n#escape = `\nFROM a\n").unwrap();
    assert_eq!(df.escape, '`');
    let df = parse("# hello\n# escape=`\nFROM a\n").unwrap();
    assert_eq!(df.escape, '\\');
    let df = parse("\n# escape=`\nFROM a\n").unwrap();
    assert_eq!(df.escape, '\\');
    assert_eq!(
        parse_err("# escape=`\n# escape=\\\nFROM a\n"),
        "failed to parse Dockerfile: only one escape parser directive can be used"
    );
    assert_eq!(
        parse_err("# escape=x\nFROM a\n"),
        "failed to parse Dockerfile: invalid escape token 'x' does not match ` or \\"
    );
}

#[test]
fn line_endings_bom_keywords_and_blank_lines() {
    let df =
        parse("\u{feff}from a AS Build\r\n\r\n  run   echo hi\r\n\t# indented comment\ncopy . /\n")
            .unwrap();
    assert_eq!(steps(&df), ["from a AS Build", "run   echo hi", "copy . /"]);
    let none = |_: &str| None;
    assert_eq!(
        df.stages[0].from.command(&none).unwrap(),
        Command::From {
            image: "a".into(),
            name: Some("build".into()),
            platform: None
        }
    );
    assert_eq!(df.stages[0].instructions[0].line, 3);
    assert_eq!(
        df.stages[0].instructions[0].command(&none).unwrap(),
        Command::Run(ShellOrExec::Shell("echo hi".into()))
    );
}

#[test]
fn continuation_at_end_of_file_and_escaped_escape() {
    let df = parse("FROM a\nRUN echo \\\\\nRUN b \\").unwrap();
    assert_eq!(steps(&df), ["FROM a", "RUN echo \\\\", "RUN b"]);
}

#[test]
fn stages_and_meta_args() {
    let text = "ARG BASE=busybox\nARG TAG\nFROM ${BASE}:${TAG:-latest} AS build\nRUN make\n\
                FROM --platform=linux/amd64 scratch\nCOPY --from=build /out /\n";
    let df = parse(text).unwrap();
    assert_eq!(df.meta_args.len(), 2);
    assert_eq!(df.stages.len(), 2);
    assert_eq!(df.stages[1].instructions.len(), 1);
    assert_eq!(df.total_steps(), 6);
    let meta = |name: &str| (name == "BASE").then(|| "alpine".to_string());
    assert_eq!(
        df.stages[0].from.command(&meta).unwrap(),
        Command::From {
            image: "alpine:latest".into(),
            name: Some("build".into()),
            platform: None
        }
    );
    assert_eq!(
        df.stages[1].from.command(&meta).unwrap(),
        Command::From {
            image: "scratch".into(),
            name: None,
            platform: Some("linux/amd64".into())
        }
    );
}

#[test]
fn real_world_dockerfile() {
    let text = r#"# syntax=docker/dockerfile:1
FROM golang:1.21 AS builder
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app && \
    strip /out/app

FROM alpine:3.18
LABEL org.opencontainers.image.title="app" \
      org.opencontainers.image.description="An \"app\""
RUN apk add --no-cache ca-certificates \
 && adduser -D app
COPY --from=builder --chown=app:app /out/app /usr/local/bin/app
USER app
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --retries=3 \
  CMD wget -qO- http://localhost:8080/health || exit 1
VOLUME ["/data"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["app"]
CMD ["--listen", ":8080"]
"#;
    let df = parse(text).unwrap();
    assert_eq!(df.stages.len(), 2);
    assert_eq!(df.stages[0].instructions.len(), 5);
    assert_eq!(df.stages[1].instructions.len(), 10);
    assert!(df.warnings.is_empty());
    let run = &df.stages[0].instructions[4];
    assert_eq!(
        run.original,
        "RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app &&     strip /out/app"
    );
    let none = |_: &str| None;
    let cmds: Vec<Command> = df.stages[1]
        .instructions
        .iter()
        .map(|i| i.command(&none).unwrap())
        .collect();
    assert_eq!(
        cmds[0],
        Command::Label(vec![
            ("org.opencontainers.image.title".into(), "app".into()),
            (
                "org.opencontainers.image.description".into(),
                "An \"app\"".into()
            ),
        ])
    );
    assert_eq!(
        cmds[2],
        Command::Copy(CopySpec {
            sources: vec!["/out/app".into()],
            dest: "/usr/local/bin/app".into(),
            from: Some("builder".into()),
            chown: Some("app:app".into()),
            chmod: None,
        })
    );
    assert_eq!(
        cmds[5],
        Command::Healthcheck(HealthcheckSpec {
            test: vec![
                "CMD-SHELL".into(),
                "wget -qO- http://localhost:8080/health || exit 1".into()
            ],
            interval: Some(30_000_000_000),
            timeout: Some(3_000_000_000),
            retries: Some(3),
            ..Default::default()
        })
    );
    assert_eq!(cmds[6], Command::Volume(vec!["/data".into()]));
    assert_eq!(cmds[7], Command::StopSignal("SIGTERM".into()));
    assert_eq!(
        cmds[8],
        Command::Entrypoint(ShellOrExec::Exec(vec!["app".into()]))
    );
}

#[test]
fn parse_instruction_for_onbuild_triggers() {
    let none = |_: &str| None;
    let i = parse_instruction("RUN echo $HOME", '\\').unwrap();
    assert_eq!(i.keyword, "run");
    assert_eq!(i.original, "RUN echo $HOME");
    assert_eq!(
        i.command(&none).unwrap(),
        Command::Run(ShellOrExec::Shell("echo $HOME".into()))
    );
    // dockerd 20.10 printed the first and the COPY one when running such triggers.
    let err = |t: &str| parse_instruction(t, '\\').unwrap_err().to_string();
    assert_eq!(err("FOO bar"), "unknown instruction: FOO");
    assert_eq!(
        err("RUN a\nRUN b"),
        "onbuild trigger should be a single expression"
    );
    assert_eq!(err(""), "file with no instructions");
    assert_eq!(err("COPY a"), "COPY requires at least two arguments, but only one was provided. Destination could not be determined");
    assert_eq!(err("FROM a"), "*instructions.Stage is not a command type");
}
