//! Docker image references: parsing, `docker.io/library/` normalisation and familiar
//! names, following the grammar of distribution's `reference` package.
//!
//! `busybox` → domain `docker.io`, path `library/busybox`; `localhost:5000/a/b:t`
//! → domain `localhost:5000`, path `a/b`, tag `t`. Stored references are always
//! normalised (`Reference::to_string`); the familiar form is for display.

pub const DEFAULT_DOMAIN: &str = "docker.io";
pub const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
pub const OFFICIAL_REPO_PREFIX: &str = "library/";
pub const DEFAULT_TAG: &str = "latest";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid reference format")]
    InvalidFormat,
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    #[error("repository name must have at least one component")]
    Empty,
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
    #[error("invalid digest format")]
    InvalidDigest,
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
}

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Registry host (with port), e.g. "docker.io", "127.0.0.1:5000".
    pub domain: String,
    /// Repository path inside the registry, e.g. "library/busybox".
    pub path: String,
    pub tag: Option<String>,
    /// "sha256:<hex>".
    pub digest: Option<String>,
}

impl Reference {
    /// Parses and normalises `input`. No default tag is added.
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        if input.is_empty() {
            return Err(ReferenceError::InvalidFormat);
        }
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => {
                validate_digest(d)?;
                (r, Some(d.to_string()))
            }
            None => (input, None),
        };
        // A tag is after the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&rest[..at], Some(rest[at + 1..].to_string()))
            }
            None => (rest, None),
        };
        if let Some(t) = &tag {
            validate_tag(t)?;
        }
        if name.is_empty() {
            return Err(ReferenceError::InvalidFormat);
        }
        let (domain, path) = split_domain(name);
        if path.is_empty() {
            return Err(ReferenceError::InvalidFormat);
        }
        validate_domain(&domain)?;
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase(path));
        }
        for component in path.split('/') {
            validate_path_component(component)?;
        }
        if domain.len() + 1 + path.len() > 255 {
            return Err(ReferenceError::NameTooLong);
        }
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// Parses `input` and adds the `latest` tag when it has neither tag nor digest.
    pub fn parse_with_default_tag(input: &str) -> Result<Reference, ReferenceError> {
        let mut r = Self::parse(input)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_string());
        }
        Ok(r)
    }

    /// Like `parse`, but refuses a bare 64-hex name (dockerd reserves those for IDs).
    pub fn parse_for_tagging(input: &str) -> Result<Reference, ReferenceError> {
        let r = Self::parse_with_default_tag(input)?;
        let last = r.path.rsplit('/').next().unwrap_or("");
        if r.domain == DEFAULT_DOMAIN
            && r.path == format!("{OFFICIAL_REPO_PREFIX}{last}")
            && is_full_hex_id(last)
        {
            return Err(ReferenceError::HexName(last.to_string()));
        }
        Ok(r)
    }

    /// "docker.io/library/busybox".
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// "busybox", "127.0.0.1:5000/a/b", "user/repo".
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(rest) if !rest.contains('/') => rest.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// The familiar form with tag and/or digest: "busybox:latest".
    pub fn familiar(&self) -> String {
        self.format_with(&self.familiar_name())
    }

    /// Copy with only the name and the given tag.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: Some(tag.to_string()),
            digest: None,
        }
    }

    /// Copy with only the name and the given digest.
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: Some(digest.to_string()),
        }
    }

    /// Copy without tag or digest.
    pub fn name_only(&self) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: None,
        }
    }

    /// Whether this names the Docker Hub.
    pub fn is_docker_hub(&self) -> bool {
        self.domain == DEFAULT_DOMAIN
    }

    fn format_with(&self, name: &str) -> String {
        let mut s = name.to_string();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

impl std::fmt::Display for Reference {
    /// The normalised form: "docker.io/library/busybox:latest".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.format_with(&self.name()))
    }
}

/// Familiar form of a normalised reference string; the input unchanged if it does not parse.
pub fn familiar_string(normalised: &str) -> String {
    Reference::parse(normalised)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| normalised.to_string())
}

/// Whether `s` is a 64-character lowercase hex string (a full image or layer ID).
pub fn is_full_hex_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Splits a name into domain and path, normalising Docker Hub names.
fn split_domain(name: &str) -> (String, String) {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    let domain = if domain == LEGACY_DEFAULT_DOMAIN {
        DEFAULT_DOMAIN.to_string()
    } else {
        domain
    };
    let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
        format!("{OFFICIAL_REPO_PREFIX}{path}")
    } else {
        path
    };
    (domain, path)
}

fn validate_domain(domain: &str) -> Result<(), ReferenceError> {
    let (host, port) = match domain.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || domain.starts_with('[') => (h, Some(p)),
        _ => (domain, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ReferenceError::InvalidFormat);
        }
    }
    if host.starts_with('[') && host.ends_with(']') {
        let inner = &host[1..host.len() - 1];
        return inner
            .parse::<std::net::Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| ReferenceError::InvalidFormat);
    }
    for label in host.split('.') {
        let ok = !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(ReferenceError::InvalidFormat);
        }
    }
    Ok(())
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn validate_path_component(c: &str) -> Result<(), ReferenceError> {
    let bytes = c.as_bytes();
    if bytes.is_empty() {
        return Err(ReferenceError::InvalidFormat);
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    let run = |i: &mut usize| {
        let start = *i;
        while *i < bytes.len() && alnum(bytes[*i]) {
            *i += 1;
        }
        *i > start
    };
    if !run(&mut i) {
        return Err(ReferenceError::InvalidFormat);
    }
    while i < bytes.len() {
        // separator
        let sep_start = i;
        match bytes[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < bytes.len() && bytes[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < bytes.len() && bytes[i] == b'-' {
                    i += 1;
                }
            }
            _ => return Err(ReferenceError::InvalidFormat),
        }
        if i == sep_start || !run(&mut i) {
            return Err(ReferenceError::InvalidFormat);
        }
    }
    Ok(())
}

/// `[\w][\w.-]{0,127}`
fn validate_tag(t: &str) -> Result<(), ReferenceError> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = t.as_bytes();
    if b.is_empty()
        || b.len() > 128
        || !word(b[0])
        || !b.iter().all(|&c| word(c) || c == b'.' || c == b'-')
    {
        return Err(ReferenceError::InvalidFormat);
    }
    Ok(())
}

/// "algorithm:encoded"; sha256 must be 64 lowercase hex.
pub fn validate_digest(d: &str) -> Result<(), ReferenceError> {
    let (alg, hex) = d.split_once(':').ok_or(ReferenceError::InvalidDigest)?;
    let alg_ok = !alg.is_empty()
        && alg
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
    if !alg_ok {
        return Err(ReferenceError::InvalidFormat);
    }
    match alg {
        "sha256" if is_full_hex_id(hex) => Ok(()),
        "sha512"
            if hex.len() == 128
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) =>
        {
            Ok(())
        }
        "sha256" | "sha512" => Err(ReferenceError::InvalidDigest),
        _ if hex.len() >= 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b)) =>
        {
            Ok(())
        }
        _ => Err(ReferenceError::InvalidFormat),
    }
}

#[cfg(test)]
#[path = "reference_tests.rs"]
mod tests;
