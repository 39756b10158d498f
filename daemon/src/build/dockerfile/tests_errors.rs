//! The errors dockerd 20.10 gives before the first step (the texts below are what it
//! printed for the same Dockerfiles).
use super::*;

const BUSYBOX: &str = "FROM 127.0.0.1:15000/berth/busybox:latest\n";

fn parse_err(text: &str) -> String {
    match parse(text) {
        Ok(df) => panic!("parsed: {df:?}"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn file_level_errors_as_dockerd() {
    assert_eq!(
        parse_err("# just a comment\n\n"),
        "failed to parse Dockerfile: file with no instructions"
    );
    assert_eq!(
        parse_named("", "sub/Dockerfile.dev")
            .unwrap_err()
            .to_string(),
        "failed to parse sub/Dockerfile.dev: file with no instructions"
    );
    assert_eq!(
        parse_err("ARG X=1\nRUN true\n"),
        "no build stage in current context"
    );
    assert_eq!(
        parse_err(&format!("{BUSYBOX}ENV A\n")),
        "failed to parse Dockerfile: ENV must have two arguments"
    );
    assert_eq!(
        parse_err(&format!("{BUSYBOX}ENV A=1 B\n")),
        "failed to parse Dockerfile: Syntax error - can't find = in \"B\". Must be of the form: name=value"
    );
    assert_eq!(
        parse_err(&format!("{BUSYBOX}CMD [\"a\", 1]\n")),
        "failed to parse Dockerfile: when using JSON array syntax, arrays must be comprised of strings only"
    );
    // Syntax errors anywhere come before instruction errors.
    assert_eq!(
        parse_err("FOO bar\nLABEL a\n"),
        "failed to parse Dockerfile: LABEL must have two arguments"
    );
}

#[test]
fn instruction_errors_as_dockerd() {
    let cases = [
        ("RUN true\nFOO bar\n", "line 3: unknown instruction: FOO"),
        ("RUN --network=none true\n", "line 2: Unknown flag: network"),
        ("COPY --link Dockerfile /x\n", "line 2: Unknown flag: link"),
        ("COPY --foo=1 a b\n", "line 2: Unknown flag: foo"),
        ("ADD --from=x a b\n", "line 2: Unknown flag: from"),
        (
            "COPY x\n",
            "line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined",
        ),
        ("HEALTHCHECK --interval=0s CMD true\n", "line 2: Interval \"interval\" cannot be less than 1ms"),
        ("HEALTHCHECK --retries=0 CMD true\n", "line 2: --retries must be at least 1 (not 0)"),
        ("HEALTHCHECK --timeout=abc CMD true\n", "line 2: time: invalid duration \"abc\""),
        ("ONBUILD ONBUILD RUN true\n", "line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("onbuild from x\n", "line 2: FROM isn't allowed as an ONBUILD trigger"),
        ("ONBUILD MAINTAINER me\n", "line 2: MAINTAINER isn't allowed as an ONBUILD trigger"),
        ("SHELL /bin/sh -c\n", "line 2: SHELL requires the arguments to be in JSON form"),
        ("STOPSIGNAL\n", "line 2: STOPSIGNAL requires exactly one argument"),
    ];
    for (body, want) in cases {
        assert_eq!(
            parse_err(&format!("{BUSYBOX}{body}")),
            format!("dockerfile parse error {want}"),
            "{body}"
        );
    }
    assert_eq!(
        parse_err("FROM a AS 1abc\n"),
        "dockerfile parse error line 1: invalid name for build stage: \"1abc\", name can't start with a number or contain symbols"
    );
    assert_eq!(
        parse_err("FROM a x\n"),
        "dockerfile parse error line 1: FROM requires either one or three arguments"
    );
    // The line is where the instruction starts.
    assert_eq!(
        parse_err("FROM a\nRUN a \\\n  b\nBOGUS \\\n x\n"),
        "dockerfile parse error line 4: unknown instruction: BOGUS"
    );
}

#[test]
fn more_argument_errors() {
    // Each as dockerd 20.10 printed it.
    let err = |body: &str| parse_err(&format!("FROM a\n{body}\n"));
    assert_eq!(
        err("ENV =x"),
        "dockerfile parse error line 2: ENV names can not be blank"
    );
    assert_eq!(
        err("LABEL"),
        "dockerfile parse error line 2: LABEL requires at least one argument"
    );
    assert_eq!(
        err("ARG"),
        "dockerfile parse error line 2: ARG requires at least one argument"
    );
    assert_eq!(
        err("ARG =x"),
        "dockerfile parse error line 2: ARG names can not be blank"
    );
    assert_eq!(
        err("EXPOSE"),
        "dockerfile parse error line 2: EXPOSE requires at least one argument"
    );
    assert_eq!(
        err("VOLUME"),
        "dockerfile parse error line 2: VOLUME requires at least one argument"
    );
    assert_eq!(
        err("VOLUME [\"\"]"),
        "dockerfile parse error line 2: VOLUME specified can not be an empty string"
    );
    assert_eq!(
        err("USER"),
        "dockerfile parse error line 2: USER requires exactly one argument"
    );
    assert_eq!(
        err("WORKDIR"),
        "dockerfile parse error line 2: WORKDIR requires exactly one argument"
    );
    assert_eq!(
        err("MAINTAINER"),
        "dockerfile parse error line 2: MAINTAINER requires exactly one argument"
    );
    assert_eq!(
        err("ONBUILD"),
        "dockerfile parse error line 2: ONBUILD requires at least one argument"
    );
    assert_eq!(
        err("SHELL []"),
        "dockerfile parse error line 2: SHELL requires at least one argument"
    );
    assert_eq!(
        err("HEALTHCHECK"),
        "dockerfile parse error line 2: HEALTHCHECK requires at least one argument"
    );
    assert_eq!(
        err("HEALTHCHECK NONE x"),
        "dockerfile parse error line 2: HEALTHCHECK NONE takes no arguments"
    );
    assert_eq!(
        err("HEALTHCHECK CMD"),
        "dockerfile parse error line 2: Missing command after HEALTHCHECK CMD"
    );
    assert_eq!(
        err("HEALTHCHECK FOO x"),
        "dockerfile parse error line 2: Unknown type \"FOO\" in HEALTHCHECK (try CMD)"
    );
    assert_eq!(
        err("HEALTHCHECK --retries=x CMD a"),
        "dockerfile parse error line 2: strconv.ParseInt: parsing \"x\": invalid syntax"
    );
    assert_eq!(err("HEALTHCHECK --retries=9999999999 CMD a"), "dockerfile parse error line 2: strconv.ParseInt: parsing \"9999999999\": value out of range");
    assert_eq!(
        err("HEALTHCHECK --interval CMD a"),
        "dockerfile parse error line 2: Missing a value on flag: interval"
    );
    assert_eq!(
        err("ENV --x=1 A=b"),
        "dockerfile parse error line 2: Unknown flag: x"
    );
    assert_eq!(
        err("HEALTHCHECK --interval=5 CMD a"),
        "dockerfile parse error line 2: time: missing unit in duration \"5\""
    );
    assert_eq!(
        err("HEALTHCHECK --interval=5x CMD a"),
        "dockerfile parse error line 2: time: unknown unit \"x\" in duration \"5x\""
    );
    assert_eq!(
        err("COPY --from=a --from=b x y"),
        "dockerfile parse error line 2: Duplicate flag specified: from"
    );
    // dockerd never looks at ARG's and STOPSIGNAL's flags.
    assert!(parse("FROM a\nARG --x=1 A\nSTOPSIGNAL --y 9\n").is_ok());
    // Nor at HEALTHCHECK NONE's.
    assert!(parse("FROM a\nHEALTHCHECK --bogus NONE\n").is_ok());
}

#[test]
fn run_mount_values_are_checked_when_parsing() {
    assert_eq!(
        parse_err("FROM a\nRUN --mount=type=foo true\n"),
        "dockerfile parse error line 2: unsupported mount type \"foo\""
    );
    // The flag's quotes are the parser's: dockerd 20.10 printed these.
    assert_eq!(
        parse_err("FROM a\nRUN --mount=a\"b true\n"),
        "dockerfile parse error line 2: invalid field 'ab true' must be a key=value pair"
    );
    assert_eq!(
        parse_err("FROM a\nRUN --mount=\"type=cache\"x true\n"),
        "dockerfile parse error line 2: unsupported mount type \"cachex\""
    );
    assert_eq!(
        parse_err("FROM a\nRUN --mount= true\n"),
        "dockerfile parse error line 2: failed to parse csv mounts: EOF"
    );
    // A good one parses; the step refuses it (see tests_command).
    assert!(parse("FROM a\nRUN --mount=type=secret,id=x --mount=type=ssh true\n").is_ok());
}
