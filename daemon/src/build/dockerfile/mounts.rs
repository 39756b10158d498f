//! `RUN --mount=…` values, checked as buildkit's `parseMount` does when dockerd reads
//! the Dockerfile: a bad one is a parse error (the classic builder refuses good ones
//! at the step).

const TYPES: &[&str] = &["bind", "cache", "tmpfs", "secret", "ssh"];
const SHARING: &[&str] = &["shared", "private", "locked"];

/// Checks one `--mount` value; the error is dockerd's text.
pub(crate) fn check_mount(value: &str) -> Result<(), String> {
    let fields = csv_fields(value).map_err(|err| format!("failed to parse csv mounts: {err}"))?;
    let mut typ = "bind".to_string();
    let (mut from, mut source, mut target, mut id, mut sharing) =
        (false, false, false, false, false);
    let (mut mode, mut uid, mut gid) = (false, false, false);
    for field in &fields {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.to_lowercase(), Some(v)),
            None => (field.to_lowercase(), None),
        };
        let secret_or_ssh = typ == "secret" || typ == "ssh";
        let Some(value) = value else {
            match key.as_str() {
                "readonly" | "ro" | "readwrite" | "rw" => continue,
                "required" if secret_or_ssh => continue,
                "required" => {
                    return Err(format!("unexpected key '{key}' for mount type '{typ}'"));
                }
                _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
            }
        };
        let bad_value = || format!("invalid value for {key}: {value}");
        match key.as_str() {
            "type" => {
                let lower = value.to_lowercase();
                if !TYPES.contains(&lower.as_str()) {
                    return Err(format!(
                        "unsupported mount type {}",
                        super::expand::go_quote(value)
                    ));
                }
                typ = lower;
            }
            "from" => from = !value.is_empty(),
            "source" | "src" => source = !value.is_empty(),
            "target" | "dst" | "destination" => target = !value.is_empty(),
            "readonly" | "ro" | "readwrite" | "rw" => {
                parse_bool(value).ok_or_else(bad_value)?;
            }
            "required" if secret_or_ssh => {
                parse_bool(value).ok_or_else(bad_value)?;
            }
            "required" => {
                return Err(format!("unexpected key '{key}' for mount type '{typ}'"));
            }
            "id" => id = !value.is_empty(),
            "sharing" => {
                if !SHARING.contains(&value.to_lowercase().as_str()) {
                    return Err(format!(
                        "unsupported sharing value {}",
                        super::expand::go_quote(value)
                    ));
                }
                sharing = true;
            }
            "mode" => {
                u32::from_str_radix(value, 8)
                    .ok()
                    .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| format!("invalid value {value} for mode"))?;
                mode = true;
            }
            "uid" | "gid" => {
                value
                    .parse::<u32>()
                    .ok()
                    .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| format!("invalid value {value} for {key}"))?;
                if key == "uid" {
                    uid = true;
                } else {
                    gid = true;
                }
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    let file_info_allowed = matches!(typ.as_str(), "secret" | "ssh" | "cache");
    for (given, name) in [(mode, "mode"), (uid, "uid"), (gid, "gid")] {
        if given && !file_info_allowed {
            return Err(format!("{name} not allowed for \"{typ}\" type mounts"));
        }
    }
    if sharing && typ != "cache" {
        return Err(format!("invalid cache sharing set for {typ} mount"));
    }
    if typ == "secret" {
        if from {
            return Err("secret mount should not have a from".into());
        }
        if sharing {
            return Err("secret mount should not define sharing".into());
        }
        if !source && !target && !id {
            return Err("invalid secret mount. one of source, target required".into());
        }
        if source && id {
            return Err("both source and id can't be set".into());
        }
    }
    Ok(())
}

/// Go's `strconv.ParseBool`.
fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// One record of Go's `encoding/csv` (comma separated, `"` quoted with `""` inside).
fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    if line.is_empty() {
        return Err("EOF".into());
    }
    let mut fields = Vec::new();
    let mut rest = line;
    let mut column = 1;
    loop {
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut field = String::new();
            let mut inner = quoted;
            let mut offset = column + 1;
            loop {
                let Some(i) = inner.find('"') else {
                    return Err(format!(
                        "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                        column + rest.len()
                    ));
                };
                field.push_str(&inner[..i]);
                let after = &inner[i + 1..];
                offset += i + 1;
                if let Some(more) = after.strip_prefix('"') {
                    field.push('"');
                    inner = more;
                    offset += 1;
                    continue;
                }
                fields.push(field);
                if after.is_empty() {
                    return Ok(fields);
                }
                let Some(next) = after.strip_prefix(',') else {
                    return Err(format!(
                        "parse error on line 1, column {offset}: extraneous or missing \" in quoted-field"
                    ));
                };
                rest = next;
                column = offset + 1;
                break;
            }
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            let field = &rest[..end];
            if let Some(q) = field.find('"') {
                return Err(format!(
                    "parse error on line 1, column {}: bare \" in non-quoted-field",
                    column + q
                ));
            }
            fields.push(field.to_string());
            if end == rest.len() {
                return Ok(fields);
            }
            rest = &rest[end + 1..];
            column += end + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_mounts() {
        for value in [
            "type=cache,target=/root/.cache",
            "type=cache,target=/x,sharing=locked,id=go,mode=0755,uid=1000",
            "type=bind,source=.,target=/src,rw",
            "target=/src,ro=true",
            "type=secret,id=token,required",
            "type=ssh",
            "type=tmpfs,target=/tmp",
            "\"type=bind\",target=/a",
        ] {
            assert_eq!(check_mount(value), Ok(()), "{value}");
        }
    }

    #[test]
    fn bad_mounts_as_dockerd() {
        let cases = [
            ("type=foo", "unsupported mount type \"foo\""),
            ("target", "invalid field 'target' must be a key=value pair"),
            ("required", "unexpected key 'required' for mount type 'bind'"),
            ("ro=yes", "invalid value for ro: yes"),
            ("type=cache,sharing=all", "unsupported sharing value \"all\""),
            ("type=cache,mode=999", "invalid value 999 for mode"),
            ("type=cache,uid=-1", "invalid value -1 for uid"),
            ("type=bind,mode=0755", "mode not allowed for \"bind\" type mounts"),
            ("type=tmpfs,sharing=shared", "invalid cache sharing set for tmpfs mount"),
            ("type=secret,from=x,id=a", "secret mount should not have a from"),
            ("type=secret", "invalid secret mount. one of source, target required"),
            ("type=secret,src=a,id=b", "both source and id can't be set"),
            ("size=1", "unexpected key 'size' in 'size=1'"),
            ("", "failed to parse csv mounts: EOF"),
            (
                "a\"b",
                "failed to parse csv mounts: parse error on line 1, column 2: bare \" in non-quoted-field",
            ),
        ];
        for (value, want) in cases {
            assert_eq!(check_mount(value).unwrap_err(), want, "{value}");
        }
    }
}
