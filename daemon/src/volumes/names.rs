//! Volume names: dockerd's rule for the local driver (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`, so no
//! slashes and no `..` traversal) and the 64-hex names of anonymous volumes.
use super::go_quote;

/// The characters dockerd allows, as its error message shows them.
pub const RESTRICTED_NAME_CHARS: &str = "[a-zA-Z0-9][a-zA-Z0-9_.-]";

/// Checks a volume name; the error is dockerd's message (without the "create NAME: " prefix).
pub fn validate(name: &str) -> Result<(), String> {
    if name.chars().count() == 1 {
        return Err(
            "volume name is too short, names should be at least two alphanumeric characters".into(),
        );
    }
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !first_ok || !rest_ok {
        return Err(format!(
            "{} includes invalid characters for a local volume name, only {} are allowed. If you intended to pass a host directory, use absolute path",
            go_quote(name),
            go_quote(RESTRICTED_NAME_CHARS)
        ));
    }
    Ok(())
}

/// A new anonymous volume's name: 64 random hex digits (dockerd's `stringid.GenerateRandomID`).
pub fn generate() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_rule() {
        assert!(validate("data").is_ok());
        assert!(validate("my_vol.1-x").is_ok());
        assert!(validate("0a").is_ok());
        assert_eq!(
            validate("a").unwrap_err(),
            "volume name is too short, names should be at least two alphanumeric characters"
        );
        assert_eq!(
            validate("a/b").unwrap_err(),
            "\"a/b\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        );
        for bad in [
            "../x", "..", ".hidden", "-x", "_x", "a b", "x/../y", "vol:1", "é1",
        ] {
            assert!(validate(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn generated_names_are_valid_and_distinct() {
        let a = generate();
        assert_eq!(a.len(), 64);
        assert!(validate(&a).is_ok());
        assert_ne!(a, generate());
    }
}
