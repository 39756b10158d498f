//! Lines, continuations, flags and words: the parser's first steps on their own.
use super::lines::split_lines;
use super::split::{parse_line, parse_words, RawNode};
use super::*;

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn odd_continuations_as_dockerd_reads_them() {
    // dockerd 20.10 ran this file as 7 steps with these texts.
    let text =
        "\\\nFROM busybox\nONBUILD FOO bar\nHEALTHCHECK --interval=5s NONE\nRUN echo a\\\\\n\
                RUN echo \"x \\\n  # not a comment? \\\n  y\"\nLABEL \"a b\"=c d=\"e f\"\nCMD\n";
    let df = parse(text).unwrap();
    let steps: Vec<&str> = std::iter::once(&df.stages[0].from)
        .chain(&df.stages[0].instructions)
        .map(|i| i.original.as_str())
        .collect();
    assert_eq!(
        steps,
        [
            "FROM busybox",
            "ONBUILD FOO bar",
            "HEALTHCHECK --interval=5s NONE",
            "RUN echo a\\\\",
            "RUN echo \"x   y\"",
            "LABEL \"a b\"=c d=\"e f\"",
            "CMD",
        ]
    );
    // The lone escape joins the next line: FROM counts from line 1.
    assert_eq!(df.stages[0].from.line, 1);
    let none = |_: &str| None;
    let cmds: Vec<Command> = df.stages[0]
        .instructions
        .iter()
        .map(|i| i.command(&none).unwrap())
        .collect();
    assert_eq!(cmds[0], Command::Onbuild("FOO bar".into()));
    assert_eq!(
        cmds[1],
        Command::Healthcheck(HealthcheckSpec {
            test: strings(&["NONE"]),
            ..Default::default()
        })
    );
    assert_eq!(
        cmds[4],
        Command::Label(vec![("a b".into(), "c".into()), ("d".into(), "e f".into())])
    );
}

#[test]
fn logical_lines_and_their_numbers() {
    let read = split_lines("FROM a\n\n# c\nRUN a \\\n\n  b \\\n  # c\n  c\nCMD x", '\\').unwrap();
    let got: Vec<(usize, usize, &str)> = read
        .lines
        .iter()
        .map(|l| (l.start, l.end, l.text.as_str()))
        .collect();
    assert_eq!(
        got,
        [(1, 1, "FROM a"), (4, 8, "RUN a   b   c"), (9, 9, "CMD x")]
    );
    assert_eq!(read.warnings.len(), 2);
    assert_eq!(
        split_lines("\n\n   \n# only\n", '\\').unwrap_err(),
        "file with no instructions"
    );
}

#[test]
fn flags_words_and_forms() {
    let node = |line: &str| parse_line(line, '\\').unwrap();
    assert_eq!(
        node("COPY --chown=\"a b\" --from='x' --x=a\\ b  src dst"),
        RawNode {
            cmd: "copy".into(),
            flags: strings(&["--chown=a b", "--from=x", "--x=a b"]),
            args: strings(&["src", "dst"]),
            json: false,
            original: "COPY --chown=\"a b\" --from='x' --x=a\\ b  src dst".into(),
        }
    );
    // `--` ends the flags; a word not starting with `--` too.
    assert_eq!(node("RUN -- --not-a-flag").args, strings(&["--not-a-flag"]));
    assert_eq!(node("RUN --mount=x -x").flags, strings(&["--mount=x"]));
    assert_eq!(node("RUN --mount=x -x").args, strings(&["-x"]));
    assert_eq!(node("COPY [\"a\", \"b c\"]").args, strings(&["a", "b c"]));
    assert!(node("COPY [\"a\", \"b c\"]").json);
    assert_eq!(node("COPY [a] b").args, strings(&["[a]", "b"]));
    assert_eq!(
        node("ONBUILD RUN --mount=a echo").args,
        strings(&["run", "echo"])
    );
    assert_eq!(node("HEALTHCHECK CMD [\"a\"]").args, strings(&["CMD", "a"]));
    assert!(node("HEALTHCHECK CMD [\"a\"]").json);
    assert_eq!(node("Env A B").cmd, "env");
    assert_eq!(node("ENV A  B C").args, strings(&["A", "B C"]));
}

#[test]
fn words_keep_quotes_for_the_lexer() {
    let w = |s: &str| parse_words(s, '\\');
    assert_eq!(w(r#"a="b c" d='e f'"#), strings(&[r#"a="b c""#, "d='e f'"]));
    assert_eq!(w(r#"a=b\ c d"#), strings(&[r#"a=b\ c"#, "d"]));
    assert_eq!(w(r#"a="x\"y" b"#), strings(&[r#"a="x\"y""#, "b"]));
    assert_eq!(w(r#"a='x\' b"#), strings(&[r#"a='x\'"#, "b"]));
    assert_eq!(w(r#""" x"#), strings(&[r#""""#, "x"]));
    assert_eq!(w("a\\"), strings(&["a"]));
    assert_eq!(w("  "), Vec::<String>::new());
    assert_eq!(parse_words("a=b` c", '`'), strings(&["a=b` c"]));
}

#[test]
fn lines_longer_than_dockerd_reads() {
    let long = format!("FROM a\nRUN echo {}\n", "x".repeat(65536));
    assert_eq!(
        parse(&long).unwrap_err().to_string(),
        "failed to parse Dockerfile: dockerfile line greater than max allowed size of 65535"
    );
    let fits = format!("FROM a\nRUN {}\n", "x".repeat(65535 - 4));
    assert!(parse(&fits).is_ok());
    let first = format!("{}\n", "x".repeat(70000));
    assert_eq!(
        parse(&first).unwrap_err().to_string(),
        "failed to parse Dockerfile: file with no instructions"
    );
}

#[test]
fn garbage_never_panics() {
    // A fixed pseudo-random walk over the characters the parser and lexer treat
    // specially, multibyte ones included.
    const PIECES: &[&str] = &[
        "FROM ",
        "RUN ",
        "ENV ",
        "LABEL ",
        "ARG ",
        "COPY ",
        "ADD ",
        "ONBUILD ",
        "HEALTHCHECK ",
        "EXPOSE ",
        "VOLUME ",
        "SHELL ",
        "CMD ",
        "--",
        "--mount=",
        "--chown=",
        "=",
        "\"",
        "'",
        "\\",
        "`",
        "$",
        "{",
        "}",
        ":",
        "-",
        "+",
        "?",
        "[",
        "]",
        ",",
        " ",
        "\t",
        "\n",
        "\r\n",
        "#",
        "# escape=`\n",
        "é",
        "\u{a0}",
        "µs",
        "1",
        "x",
        "CMD",
        "NONE",
        "AS",
        "a",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let none = |_: &str| None;
    let set = |_: &str| Some("v w".to_string());
    let mut parsed = 0;
    for _ in 0..3000 {
        let mut text = String::new();
        for _ in 0..(seed % 24) {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            text.push_str(PIECES[(seed >> 33) as usize % PIECES.len()]);
        }
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        if seed & (1 << 40) != 0 {
            text.insert_str(0, "FROM a\n");
        }
        if let Ok(df) = parse(&text) {
            parsed += 1;
            let all = df.meta_args.iter().chain(
                df.stages
                    .iter()
                    .flat_map(|s| std::iter::once(&s.from).chain(&s.instructions)),
            );
            for i in all {
                let _ = i.command(&none);
                let _ = i.command(&set);
            }
        }
        let _ = parse_instruction(&text, '`');
    }
    assert!(parsed > 100, "only {parsed} parsed");
}
