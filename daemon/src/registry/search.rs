//! `docker search`: a registry's v1 search API, as dockerd's `registry.Service.Search`.
//! The term names its index ("127.0.0.1:5000/busy" searches that registry for "busy";
//! a term without a registry part searches Docker Hub's index.docker.io), and the index
//! answers `GET /v1/search?q=TERM&n=LIMIT` with `{"results": [...]}`. Registries that
//! speak only the v2 API (distribution, Debian's docker-registry) have no search: they
//! answer 404, which dockerd reports as "Unexpected status code 404".
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::client::scheme_for;
use super::{AuthConfig, RegistryError, RegistryResult};
use crate::config::Config;
use crate::gotext::query_escape;

/// Docker Hub's v1 index, where terms without a registry are searched.
const DOCKER_HUB_INDEX: &str = "https://index.docker.io/v1/";

/// One repository found, in the API's shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResult {
    #[serde(default)]
    pub star_count: i64,
    #[serde(default)]
    pub is_official: bool,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub is_automated: bool,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize)]
struct SearchAnswer {
    #[serde(default)]
    results: Vec<SearchResult>,
}

/// The index to ask and the term to ask it, as dockerd's `splitReposSearchTerm`: the first
/// path part names a registry when it has a dot or a colon or is "localhost".
pub fn split_term(term: &str) -> (Option<&str>, &str) {
    match term.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            if first == "docker.io" || first == "index.docker.io" {
                (None, rest.strip_prefix("library/").unwrap_or(rest))
            } else {
                (Some(first), rest)
            }
        }
        _ => (None, term.strip_prefix("library/").unwrap_or(term)),
    }
}

/// The search URL for `term` (already checked) and `limit`.
pub fn search_url(config: &Config, term: &str, limit: u32) -> String {
    let (index, remote) = split_term(term);
    let base = match index {
        None => DOCKER_HUB_INDEX.to_string(),
        Some(host) => format!("{}://{host}/v1/", scheme_for(config, host)),
    };
    let mut url = format!("{base}search?q=");
    url.push_str(&query_escape(remote));
    url.push_str(&format!("&n={limit}"));
    url
}

/// Asks the index. Credentials go along as basic auth when the client gave them.
pub async fn search(
    config: &Config,
    term: &str,
    limit: u32,
    credentials: &AuthConfig,
) -> RegistryResult<Vec<SearchResult>> {
    if term.contains("://") {
        return Err(RegistryError::InvalidParameter(format!(
            "invalid repository name: repository name ({term}) should not have a scheme"
        )));
    }
    let url = search_url(config, term, limit);
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| RegistryError::Internal(format!("search client: {e}")))?;
    let mut request = client.get(&url);
    if let Some((user, password)) = credentials.username_password() {
        request = request.basic_auth(user, Some(password));
    }
    let answer = request
        .send()
        .await
        .map_err(|e| RegistryError::Network(format!("Get \"{url}\": {e}")))?;
    let status = answer.status();
    if !status.is_success() {
        return Err(RegistryError::Registry(format!(
            "Unexpected status code {}",
            status.as_u16()
        )));
    }
    let body: SearchAnswer = answer
        .json()
        .await
        .map_err(|e| RegistryError::Registry(format!("error decoding the search answer: {e}")))?;
    Ok(body.results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_name_their_index_as_dockerd_splits_them() {
        assert_eq!(split_term("busybox"), (None, "busybox"));
        assert_eq!(split_term("library/busybox"), (None, "busybox"));
        assert_eq!(split_term("samalba/hipache"), (None, "samalba/hipache"));
        assert_eq!(
            split_term("127.0.0.1:5000/berth/busy"),
            (Some("127.0.0.1:5000"), "berth/busy")
        );
        assert_eq!(split_term("localhost/x"), (Some("localhost"), "x"));
        assert_eq!(split_term("docker.io/library/ubuntu"), (None, "ubuntu"));
    }

    #[test]
    fn urls_escape_the_term_and_carry_the_limit() {
        let config = Config::default();
        assert_eq!(
            search_url(&config, "hello world", 25),
            "https://index.docker.io/v1/search?q=hello+world&n=25"
        );
        assert_eq!(
            search_url(&config, "127.0.0.1:5000/a/b", 3),
            "http://127.0.0.1:5000/v1/search?q=a%2Fb&n=3"
        );
    }
}
