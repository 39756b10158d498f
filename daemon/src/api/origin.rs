//! Requests sent by web pages (DESIGN.md, Security: "the API obeys a web page").
//!
//! A browser marks what a page sends: `Origin` on every cross-site request, every POST and
//! every WebSocket handshake, and the Fetch Metadata headers (`Sec-Fetch-Site`,
//! `Sec-Fetch-Mode`) on every request of current browsers, a DNS-rebound "same-origin" one
//! included. The docker CLI, bollard, docker-py and docker-compose send none of them.
//! Such a request is refused with a 403 unless the daemon's CORS setting
//! (`--api-cors-header`, daemon.json `api-cors-header`: `*` or a list of origins) allows its
//! origin; an allowed one gets dockerd's `Access-Control-Allow-*` headers, and so does its
//! preflight (`OPTIONS`, which dockerd answers 200 on any path). A navigation the user typed
//! (`Sec-Fetch-Site: none`, no `Origin`) is the user's own and goes through.
//!
//! dockerd 20.10's CORS middleware only added `Access-Control-Allow-Origin: <setting>` and the
//! two lists below to every answer and checked nothing (a WebSocket attach or a `text/plain`
//! POST from any page went through); Docker 27 deprecated the option and 28 removed it.
//! Berth keeps the option, and makes it the only way in for a page.
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue};

use super::ApiError;

/// dockerd's `Access-Control-Allow-Headers` (its CORSMiddleware).
const ALLOW_HEADERS: &str = "Origin, X-Requested-With, Content-Type, Accept, X-Registry-Auth";
/// dockerd's `Access-Control-Allow-Methods`.
const ALLOW_METHODS: &str = "HEAD, GET, POST, DELETE, PUT, OPTIONS";

/// Which web origins may use the API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CorsPolicy {
    /// No setting: no page may.
    #[default]
    NoPage,
    /// `*`: any page may (the user asked for it).
    AnyPage,
    /// These origins (`scheme://host[:port]`, compared without case).
    Origins(Vec<String>),
}

/// What a request from a page was allowed as: the `Access-Control-Allow-Origin` to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedOrigin(HeaderValue);

impl CorsPolicy {
    /// From `--api-cors-header`: `*`, or origins separated by commas or spaces.
    pub fn from_setting(setting: Option<&str>) -> CorsPolicy {
        let Some(setting) = setting.map(str::trim).filter(|s| !s.is_empty()) else {
            return CorsPolicy::NoPage;
        };
        let origins: Vec<String> = setting
            .split(|c: char| c == ',' || c.is_whitespace())
            .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|o| !o.is_empty())
            .collect();
        if origins.iter().any(|o| o == "*") {
            CorsPolicy::AnyPage
        } else {
            CorsPolicy::Origins(origins)
        }
    }

    /// `Ok(None)`: not from a page. `Ok(Some(_))`: from a page this policy allows.
    /// `Err`: from a page it does not (dockerd's status for a refused access, 403).
    pub fn check(&self, headers: &HeaderMap) -> Result<Option<AllowedOrigin>, ApiError> {
        let origin = headers.get(ORIGIN);
        let fetch_site = headers.get("sec-fetch-site");
        if origin.is_none() && headers.get("sec-fetch-mode").is_none() {
            match fetch_site {
                None => return Ok(None),
                Some(site) if site.as_bytes().eq_ignore_ascii_case(b"none") => return Ok(None),
                Some(_) => {}
            }
        }
        let shown = origin
            .map(|o| String::from_utf8_lossy(o.as_bytes()).into_owned())
            .unwrap_or_default();
        let allowed = match (self, origin) {
            (CorsPolicy::AnyPage, _) => Some(HeaderValue::from_static("*")),
            (CorsPolicy::Origins(list), Some(o)) => {
                let asked = String::from_utf8_lossy(o.as_bytes())
                    .trim()
                    .trim_end_matches('/')
                    .to_ascii_lowercase();
                list.contains(&asked).then(|| o.clone())
            }
            _ => None,
        };
        match allowed {
            Some(v) => Ok(Some(AllowedOrigin(v))),
            None if shown.is_empty() => Err(ApiError::forbidden(
                "requests from web pages are refused: this one names no Origin; \
                 start the daemon with --api-cors-header to allow pages",
            )),
            None => Err(ApiError::forbidden(format!(
                "requests from web pages are refused: origin {shown:?} is not allowed by \
                 the daemon's --api-cors-header"
            ))),
        }
    }
}

impl AllowedOrigin {
    /// Adds dockerd's CORS answer headers.
    pub fn add_headers(&self, headers: &mut HeaderMap) {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, self.0.clone());
        headers.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        if self.0 != "*" {
            headers.append(VARY, HeaderValue::from_static("Origin"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::api::header_map as headers;

    #[test]
    fn clients_that_are_not_browsers_pass() {
        for policy in [
            CorsPolicy::NoPage,
            CorsPolicy::from_setting(Some("http://ui.example")),
        ] {
            assert_eq!(policy.check(&HeaderMap::new()).expect("no origin"), None);
            assert_eq!(
                policy
                    .check(&headers(&[("sec-fetch-site", "none")]))
                    .expect("typed by the user"),
                None
            );
        }
    }

    #[test]
    fn pages_are_refused_without_a_setting() {
        let p = CorsPolicy::from_setting(None);
        for h in [
            headers(&[("origin", "http://evil.example")]),
            headers(&[("origin", "null")]),
            // DNS rebinding: the page is "same-origin" and a GET sends no Origin.
            headers(&[
                ("sec-fetch-site", "same-origin"),
                ("sec-fetch-mode", "cors"),
            ]),
            headers(&[("sec-fetch-mode", "no-cors")]),
        ] {
            let e = p.check(&h).expect_err("refused");
            assert_eq!(e.status, 403, "{h:?}");
        }
        let e = p
            .check(&headers(&[("origin", "http://evil.example")]))
            .expect_err("refused");
        assert!(
            e.message.contains("\"http://evil.example\""),
            "{}",
            e.message
        );
    }

    #[test]
    fn listed_origins_only() {
        let p = CorsPolicy::from_setting(Some("http://ui.example:8080, https://other.example/"));
        let ok = p
            .check(&headers(&[("origin", "HTTPS://other.example")]))
            .expect("listed")
            .expect("from a page");
        let mut out = HeaderMap::new();
        ok.add_headers(&mut out);
        assert_eq!(out[ACCESS_CONTROL_ALLOW_ORIGIN], "HTTPS://other.example");
        assert_eq!(out[VARY], "Origin");
        assert_eq!(out[ACCESS_CONTROL_ALLOW_METHODS], ALLOW_METHODS);
        assert!(p
            .check(&headers(&[("origin", "http://ui.example")]))
            .is_err());
        assert!(p
            .check(&headers(&[
                ("sec-fetch-site", "cross-site"),
                ("sec-fetch-mode", "no-cors")
            ]))
            .is_err());
    }

    #[test]
    fn star_allows_every_page() {
        let p = CorsPolicy::from_setting(Some("*"));
        assert_eq!(p, CorsPolicy::AnyPage);
        let ok = p
            .check(&headers(&[("origin", "http://any.example")]))
            .expect("any")
            .expect("from a page");
        let mut out = HeaderMap::new();
        ok.add_headers(&mut out);
        assert_eq!(out[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(out.get(VARY).is_none());
    }
}
