//! Platforms (`linux/arm64/v8`) with Go's architecture names, and the choice of a
//! manifest from an index, as containerd's `platforms` package does it.
use serde::{Deserialize, Serialize};

use super::manifest::Descriptor;
use super::{RegistryError, RegistryResult};

/// An OCI platform, serialised as in an index and in `/distribution` answers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// The platform this daemon runs on: linux and Go's name of the CPU architecture.
    pub fn host() -> Platform {
        let (architecture, variant) = normalise_arch(go_arch(std::env::consts::ARCH), None);
        Platform {
            architecture,
            os: "linux".to_string(),
            variant,
            ..Default::default()
        }
    }

    /// Parses "linux/arm64", "linux/arm/v7", "arm64" or "linux" (containerd's rules:
    /// a lone OS gets the host architecture, a lone architecture gets linux).
    pub fn parse(spec: &str) -> RegistryResult<Platform> {
        let invalid = || {
            RegistryError::InvalidParameter(format!(
                "\"{spec}\": unknown operating system or architecture: invalid argument"
            ))
        };
        let parts: Vec<&str> = spec.trim().split('/').collect();
        if parts.iter().any(|p| p.is_empty()) || parts.len() > 3 {
            return Err(invalid());
        }
        let lower: Vec<String> = parts.iter().map(|p| p.to_ascii_lowercase()).collect();
        let (os, arch, variant) = match lower.as_slice() {
            [one] if is_known_os(one) => {
                let host = Platform::host();
                (one.clone(), host.architecture, host.variant)
            }
            [one] => ("linux".to_string(), one.clone(), None),
            [os, arch] => (os.clone(), arch.clone(), None),
            [os, arch, variant] => (os.clone(), arch.clone(), Some(variant.clone())),
            _ => return Err(invalid()),
        };
        let (architecture, variant) = normalise_arch(&arch, variant.as_deref());
        Ok(Platform {
            architecture,
            os,
            variant,
            ..Default::default()
        })
    }

    /// "linux/arm64" or "linux/arm/v7", as dockerd prints platforms in messages.
    pub fn display(&self) -> String {
        match &self.variant {
            Some(v) if !v.is_empty() => format!("{}/{}/{}", self.os, self.architecture, v),
            _ => format!("{}/{}", self.os, self.architecture),
        }
    }

    /// Whether an entry of an index with platform `other` serves this platform.
    pub fn matches(&self, other: &Platform) -> bool {
        let (arch, variant) = normalise_arch(
            &other.architecture.to_ascii_lowercase(),
            other.variant.as_deref(),
        );
        if other.os.to_ascii_lowercase() != self.os || arch != self.architecture {
            return false;
        }
        match (&self.variant, &variant) {
            (Some(want), Some(have)) => want == have,
            // An entry without a variant serves any variant (arm64 = arm64/v8).
            (_, None) => true,
            (None, Some(have)) => default_variant(&self.architecture).is_none_or(|d| d == have),
        }
    }
}

/// Picks the manifest of `wanted` from an index: the first matching entry, preferring an
/// exact variant match. Docker's error when there is none.
pub fn select<'a>(
    manifests: &'a [Descriptor],
    wanted: &Platform,
) -> RegistryResult<&'a Descriptor> {
    let candidates: Vec<&Descriptor> = manifests
        .iter()
        .filter(|d| d.platform.as_ref().is_some_and(|p| wanted.matches(p)))
        .collect();
    let exact = candidates.iter().find(|d| {
        d.platform.as_ref().is_some_and(|p| {
            normalise_arch(&p.architecture, p.variant.as_deref()).1 == wanted.variant
        })
    });
    exact
        .or(candidates.first())
        .copied()
        .ok_or_else(|| RegistryError::NoMatchingPlatform(wanted.display()))
}

fn is_known_os(s: &str) -> bool {
    matches!(
        s,
        "linux"
            | "windows"
            | "darwin"
            | "freebsd"
            | "netbsd"
            | "openbsd"
            | "solaris"
            | "illumos"
            | "aix"
            | "android"
    )
}

/// Rust's `std::env::consts::ARCH` in Go's words.
fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "arm" => "arm",
        other => other,
    }
}

/// containerd's `normalizeArch`: aliases to Go names, and default variants.
fn normalise_arch(arch: &str, variant: Option<&str>) -> (String, Option<String>) {
    let variant = variant.map(str::to_string);
    match arch {
        "i386" => ("386".into(), None),
        "x86_64" | "x86-64" | "amd64" => ("amd64".into(), variant.filter(|v| v != "v1")),
        "aarch64" | "arm64" => ("arm64".into(), variant.filter(|v| v != "8" && v != "v8")),
        "armhf" => ("arm".into(), Some("v7".into())),
        "armel" => ("arm".into(), Some("v6".into())),
        "arm" => {
            let v = match variant.as_deref() {
                None | Some("7") | Some("v7") => "v7",
                Some("5") | Some("v5") => "v5",
                Some("6") | Some("v6") => "v6",
                Some("8") | Some("v8") => "v8",
                Some(other) => return ("arm".into(), Some(other.to_string())),
            };
            ("arm".into(), Some(v.into()))
        }
        other => (other.to_string(), variant),
    }
}

fn default_variant(arch: &str) -> Option<&'static str> {
    match arch {
        "arm" => Some("v7"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(arch: &str, variant: Option<&str>, digest: &str) -> Descriptor {
        Descriptor {
            media_type: String::new(),
            digest: digest.into(),
            size: 1,
            urls: None,
            platform: Some(Platform {
                architecture: arch.into(),
                os: "linux".into(),
                variant: variant.map(str::to_string),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn parses_platform_strings() {
        assert_eq!(
            Platform::parse("linux/arm64").expect("ok").display(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::parse("linux/arm64/v8").expect("ok").display(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::parse("linux/aarch64").expect("ok").display(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::parse("linux/arm").expect("ok").display(),
            "linux/arm/v7"
        );
        assert_eq!(
            Platform::parse("arm64").expect("ok").display(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::parse("linux/x86_64").expect("ok").display(),
            "linux/amd64"
        );
        assert!(Platform::parse("linux//x").is_err());
    }

    #[test]
    fn selects_from_an_index() {
        let index = vec![
            entry("amd64", None, "a"),
            entry("arm64", Some("v8"), "b"),
            entry("arm", Some("v6"), "c"),
        ];
        assert_eq!(
            select(&index, &Platform::parse("linux/amd64").expect("ok"))
                .expect("found")
                .digest,
            "a"
        );
        assert_eq!(
            select(&index, &Platform::parse("linux/arm64").expect("ok"))
                .expect("found")
                .digest,
            "b"
        );
        assert_eq!(
            select(&index, &Platform::parse("linux/arm/v6").expect("ok"))
                .expect("found")
                .digest,
            "c"
        );
        let err = select(&index, &Platform::parse("linux/s390x").expect("ok")).expect_err("none");
        assert_eq!(
            err.to_string(),
            "no matching manifest for linux/s390x in the manifest list entries"
        );
        let err = select(&index, &Platform::parse("linux/arm/v7").expect("ok")).expect_err("none");
        assert_eq!(
            err.to_string(),
            "no matching manifest for linux/arm/v7 in the manifest list entries"
        );
    }
}
