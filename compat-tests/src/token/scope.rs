//! Scopes (`repository:berth/busybox:pull,push`, `registry:catalog:*`) and what is granted.

use super::jwt::ResourceActions;

/// One requested scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// "repository", "registry", or with a class: "repository(plugin)".
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

/// Parses `TYPE:NAME:ACTIONS`. The name may itself hold colons (a registry host with a port),
/// so the type ends at the first colon and the actions start after the last.
pub fn parse(text: &str) -> Option<Scope> {
    let (kind, rest) = text.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    if kind.is_empty() || name.is_empty() {
        return None;
    }
    let actions = actions
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(String::from)
        .collect();
    Some(Scope {
        kind: kind.to_string(),
        name: name.to_string(),
        actions,
    })
}

/// Every scope in the given values (a `scope` parameter may repeat, and one value may hold
/// several scopes separated by spaces, as in the OAuth2 POST form). Unparsable ones are dropped.
pub fn parse_all<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Scope> {
    values
        .into_iter()
        .flat_map(|v| v.split(' '))
        .filter(|s| !s.is_empty())
        .filter_map(parse)
        .collect()
}

/// What a caller gets: nothing when anonymous; when authenticated, the repository actions it
/// asked for among pull, push, delete and `*`, and `registry:catalog:*`. Scopes naming the same
/// resource are merged.
pub fn grant(authenticated: bool, requested: &[Scope]) -> Vec<ResourceActions> {
    let mut out: Vec<ResourceActions> = Vec::new();
    if !authenticated {
        return out;
    }
    for s in requested {
        let base_kind = s.kind.split('(').next().unwrap_or_default();
        let allowed: &[&str] = match (base_kind, s.name.as_str()) {
            ("repository", _) => &["pull", "push", "delete", "*"],
            ("registry", "catalog") => &["*"],
            _ => &[],
        };
        let actions: Vec<String> = s
            .actions
            .iter()
            .filter(|a| allowed.contains(&a.as_str()))
            .cloned()
            .collect();
        if actions.is_empty() {
            continue;
        }
        match out
            .iter_mut()
            .find(|r| r.kind == s.kind && r.name == s.name)
        {
            Some(r) => {
                for a in actions {
                    if !r.actions.contains(&a) {
                        r.actions.push(a);
                    }
                }
            }
            None => out.push(ResourceActions {
                kind: s.kind.clone(),
                name: s.name.clone(),
                actions,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scopes() {
        assert_eq!(
            parse("repository:berth/busybox:pull,push"),
            Some(Scope {
                kind: "repository".into(),
                name: "berth/busybox".into(),
                actions: vec!["pull".into(), "push".into()]
            })
        );
        assert_eq!(
            parse("repository:host:5000/a/b:pull").map(|s| s.name),
            Some("host:5000/a/b".into())
        );
        assert_eq!(
            parse("registry:catalog:*").map(|s| s.actions),
            Some(vec!["*".to_string()])
        );
        assert_eq!(parse("nonsense"), None);
        let all = parse_all([
            "repository:a:pull repository:b:push",
            "",
            "registry:catalog:*",
        ]);
        assert_eq!(all.len(), 3);
    }

    #[test]
    fn grants_only_to_authenticated_callers() {
        let req = parse_all([
            "repository:a:pull,push",
            "repository:a:delete",
            "repository:b:pull,bogus",
            "other:x:y",
        ]);
        assert!(grant(false, &req).is_empty());
        let g = grant(true, &req);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].actions, vec!["pull", "push", "delete"]);
        assert_eq!(g[1].name, "b");
        assert_eq!(g[1].actions, vec!["pull"]);
    }
}
