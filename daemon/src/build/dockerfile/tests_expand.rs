//! The shell lexer: quoting, escapes and substitutions as buildkit's `ProcessWord` /
//! `ProcessWords` give them.
use super::expand::{go_quote, process_word, process_words};

fn env(name: &str) -> Option<String> {
    match name {
        "PWD" => Some("/home".into()),
        "EMPTY" => Some(String::new()),
        "WORDS" => Some("a b  c".into()),
        "SP" => Some(" x ".into()),
        _ => None,
    }
}

fn word(w: &str) -> String {
    process_word(w, '\\', &env).unwrap_or_else(|e| panic!("{w}: {e}"))
}

fn word_err(w: &str) -> String {
    process_word(w, '\\', &env).expect_err(w)
}

fn words(w: &str) -> Vec<String> {
    process_words(w, '\\', &env).unwrap_or_else(|e| panic!("{w}: {e}"))
}

#[test]
fn quotes_and_escapes() {
    let cases = [
        ("plain", "plain"),
        ("he'll'o", "hello"),
        ("he\\'llo", "he'llo"),
        ("abc\\\\def", "abc\\def"),
        ("\"abc\\\\def\"", "abc\\def"),
        ("\"abc\\def\"", "abc\\def"),
        ("'abc\\\\def'", "abc\\\\def"),
        ("trailing\\", "trailing"),
        ("trailing\\\\", "trailing\\"),
        ("\"hel'lo\"", "hel'lo"),
        ("'hello\\'", "hello\\"),
        ("\"''\"", "''"),
        ("\"a\\\"b\"", "a\"b"),
        ("'$PWD'", "$PWD"),
        ("a  b", "a  b"),
    ];
    for (input, want) in cases {
        assert_eq!(word(input), want, "{input}");
    }
}

#[test]
fn unterminated_quotes() {
    assert_eq!(
        word_err("he'llo"),
        "failed to process \"he'llo\": unexpected end of statement while looking for matching single-quote"
    );
    assert_eq!(
        word_err("\"hello"),
        "failed to process \"\\\"hello\": unexpected end of statement while looking for matching double-quote"
    );
    assert!(word_err("\"hello\\\"").contains("matching double-quote"));
    assert!(word_err("he\\\\'llo").contains("matching single-quote"));
}

#[test]
fn simple_variables() {
    let cases = [
        ("$.", "$."),
        ("he$1x", "hex"),
        ("he$.x", "he$.x"),
        ("he$pwd.", "he."),
        ("he$PWD", "he/home"),
        ("he\\$PWD", "he$PWD"),
        ("he\\\\$PWD", "he\\/home"),
        ("\"he\\$PWD\"", "he$PWD"),
        ("\"he\\\\$PWD\"", "he\\/home"),
        ("\\${}", "${}"),
        ("he\\${}xx", "he${}xx"),
        ("${PWD}", "/home"),
        ("he${PWD}xx", "he/homexx"),
        ("$PWD$PWD", "/home/home"),
        ("$", "$"),
        ("$$", ""),
        ("$_X", ""),
        ("${UNSET}x", "x"),
    ];
    for (input, want) in cases {
        assert_eq!(word(input), want, "{input}");
    }
}

#[test]
fn substitution_modifiers() {
    let cases = [
        ("he${PWD:+${PWD}}xx", "he/homexx"),
        ("he${XXX:+yes}xx", "hexx"),
        ("he${EMPTY:+yes}xx", "hexx"),
        ("he${XXX:-000}xx", "he000xx"),
        ("he${PWD:-000}xx", "he/homexx"),
        ("he${EMPTY:-000}xx", "he000xx"),
        ("he${XXX:-$PWD}xx", "he/homexx"),
        ("he${XXX:-${PWD:-yyy}}xx", "he/homexx"),
        ("he${XXX:-${YYY:-yyy}}xx", "heyyyxx"),
        ("${XXX:-a b}", "a b"),
        ("${XXX:-'q}'}", "q}"),
        ("${PWD:?}", "/home"),
        ("${EMPTY?}", ""),
        // Without the colon an empty value counts as set (newer dockerd; 20.10
        // answered "missing ':' in substitution").
        ("${EMPTY-def}", ""),
        ("${XXX-def}", "def"),
        ("${EMPTY+alt}", "alt"),
        ("${XXX+alt}", ""),
    ];
    for (input, want) in cases {
        assert_eq!(word(input), want, "{input}");
    }
}

#[test]
fn substitution_errors() {
    let cases = [
        ("${}", "syntax error: bad substitution"),
        ("${:}", "syntax error: bad substitution"),
        ("${{x}", "syntax error: bad substitution"),
        ("${", "syntax error: missing '}'"),
        ("${PWD", "missing ':' in substitution"),
        ("${PWD:-x", "syntax error: missing '}'"),
        ("${PWD:", "syntax error: missing '}'"),
        (
            "he${PWD:=000}xx",
            "unsupported modifier (=) in substitution",
        ),
        ("${PWD#x}", "missing ':' in substitution"),
        ("${XXX:?}", "XXX: is not allowed to be unset"),
        ("${XXX?}", "XXX: is not allowed to be unset"),
        ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
        ("${EMPTY:?need it}", "EMPTY: need it"),
    ];
    for (input, want) in cases {
        assert_eq!(
            word_err(input),
            format!("failed to process {}: {want}", go_quote(input)),
            "{input}"
        );
    }
    // As dockerd 20.10 printed it for `WORKDIR ${NOPE:?must be set}`.
    assert_eq!(
        word_err("${NOPE:?must be set}"),
        "failed to process \"${NOPE:?must be set}\": NOPE: must be set"
    );
}

#[test]
fn word_splitting() {
    let s = |list: &[&str]| list.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(words("hello world"), s(&["hello", "world"]));
    assert_eq!(words("  hello   world  "), s(&["hello", "world"]));
    assert_eq!(words("\"hello world\""), s(&["hello world"]));
    assert_eq!(words("'a b' c"), s(&["a b", "c"]));
    assert_eq!(words("$WORDS"), s(&["a", "b", "c"]));
    assert_eq!(words("\"$WORDS\""), s(&["a b  c"]));
    assert_eq!(words("$WORDS\"x y\""), s(&["a", "b", "cx y"]));
    assert_eq!(words("'$WORDS'"), s(&["$WORDS"]));
    assert_eq!(words("a\\ b"), s(&["a b"]));
    assert_eq!(words("\\ a"), s(&[" a"]));
    assert_eq!(words("x${SP}y"), s(&["x", "x", "y"]));
    assert!(words("\"\"").is_empty());
    assert!(words("$UNSET").is_empty());
}

#[test]
fn backtick_escape() {
    let w = |s: &str| process_word(s, '`', &env).unwrap();
    assert_eq!(w("c:\\windows\\$PWD"), "c:\\windows\\/home");
    assert_eq!(w("he`$PWD"), "he$PWD");
    assert_eq!(w("\"a`\"b\""), "a\"b");
    assert_eq!(w("\"a\\b\""), "a\\b");
}

#[test]
fn go_quoting() {
    assert_eq!(go_quote("a\"b\\c\n\t\u{1}é"), "\"a\\\"b\\\\c\\n\\t\\x01é\"");
}
