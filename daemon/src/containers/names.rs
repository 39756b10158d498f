//! Container names: dockerd's validation and generated "adjective_surname" names.
use super::ContainerError;

/// Checks a user-given name (with or without "/") as dockerd does
/// (`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`) and returns it with its leading "/".
pub fn validate(name: &str) -> Result<String, ContainerError> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let mut chars = bare.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest: Vec<char> = chars.collect();
    let rest_ok = !rest.is_empty()
        && rest
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c));
    if !(first_ok && rest_ok) {
        return Err(ContainerError::Invalid(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )));
    }
    Ok(format!("/{bare}"))
}

const ADJECTIVES: &[&str] = &[
    "agile", "amber", "ancient", "bold", "brave", "bright", "calm", "candid", "clever", "cosmic",
    "crisp", "curious", "daring", "eager", "earnest", "fervent", "fond", "gentle", "glad",
    "golden", "happy", "hardy", "humble", "jolly", "keen", "kind", "lively", "loyal", "lucid",
    "merry", "mellow", "modest", "nimble", "noble", "patient", "plucky", "polite", "proud",
    "quiet", "quick", "radiant", "rapid", "serene", "sharp", "shiny", "silent", "steady", "sturdy",
    "sunny", "swift", "tender", "tidy", "upbeat", "vivid", "warm", "wise", "witty", "zealous",
    "zesty",
];

const SURNAMES: &[&str] = &[
    "babbage",
    "bartik",
    "bell",
    "blackwell",
    "bohr",
    "boole",
    "cannon",
    "carson",
    "cerf",
    "curie",
    "darwin",
    "dijkstra",
    "einstein",
    "euler",
    "faraday",
    "fermat",
    "fermi",
    "feynman",
    "franklin",
    "galileo",
    "gauss",
    "goodall",
    "hamilton",
    "hawking",
    "hopper",
    "hypatia",
    "johnson",
    "kepler",
    "knuth",
    "lamarr",
    "leakey",
    "liskov",
    "lovelace",
    "maxwell",
    "meitner",
    "mendel",
    "newton",
    "nobel",
    "noether",
    "pascal",
    "pasteur",
    "payne",
    "planck",
    "ramanujan",
    "ritchie",
    "sammet",
    "shannon",
    "somerville",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "volta",
    "wilson",
    "wozniak",
    "wright",
    "yalow",
];

/// A random "adjective_surname"; from the 4th try on, a digit is appended, as dockerd does.
pub fn generate(attempt: usize) -> String {
    let a = ADJECTIVES[rand::random_range(0..ADJECTIVES.len())];
    let s = SURNAMES[rand::random_range(0..SURNAMES.len())];
    if attempt > 3 {
        format!("{a}_{s}{}", rand::random_range(0..10))
    } else {
        format!("{a}_{s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_get_a_slash() {
        assert_eq!(validate("web").unwrap(), "/web");
        assert_eq!(validate("/web-1.a_b").unwrap(), "/web-1.a_b");
    }

    #[test]
    fn invalid_names_are_refused_with_dockerds_message() {
        for bad in ["a", "-x", "x y", "", "/", "é1"] {
            let e = validate(bad).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("Invalid container name ({bad})")),
                "{e}"
            );
        }
    }

    #[test]
    fn generated_names_are_valid() {
        for i in 0..20 {
            let n = generate(i);
            assert!(validate(&n).is_ok(), "{n}");
            assert!(n.contains('_'));
        }
    }
}
