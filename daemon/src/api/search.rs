//! API group: `GET /images/search` (`docker search`), as dockerd's `getImagesSearch`: the
//! query is checked, the index asked (see `registry::search`), and the filters
//! `is-official` and `stars` applied; `is-automated` is deprecated (an empty list when
//! asked for true, and `is_automated` always false), as in current dockerd.
use super::json_answer::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;

use super::containers::param;
use super::image_transfer::{transfer_error, REGISTRY_AUTH_HEADER};
use super::{ApiError, ApiResult};
use crate::images::filters::Filters;
use crate::registry::search::{search, SearchResult};
use crate::registry::AuthConfig;
use crate::state::SharedDaemon;

/// dockerd's `DefaultSearchLimit`.
const DEFAULT_LIMIT: u32 = 25;

pub fn routes() -> Router<SharedDaemon> {
    Router::new().route("/images/search", get(search_route))
}

/// What to keep of the index's answer.
#[derive(Debug, Default, PartialEq)]
struct SearchFilters {
    official: Option<bool>,
    automated: bool,
    min_stars: Option<i64>,
}

fn parse_filters(text: &str) -> ApiResult<SearchFilters> {
    let f = Filters::from_json(text)?;
    f.validate(&["is-automated", "is-official", "stars"])?;
    let automated = f.get_bool_or_default("is-automated", false)?;
    let official = if f.contains("is-official") {
        Some(f.get_bool_or_default("is-official", false)?)
    } else {
        None
    };
    let mut min_stars = None;
    for value in f.get("stars") {
        let stars: i64 = value
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid filter 'stars={value}'")))?;
        min_stars = Some(min_stars.map_or(stars, |m: i64| m.max(stars)));
    }
    Ok(SearchFilters {
        official,
        automated,
        min_stars,
    })
}

fn parse_limit(text: Option<&str>) -> ApiResult<u32> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(DEFAULT_LIMIT);
    };
    let limit: i64 = text.parse().map_err(|_| {
        ApiError::bad_request(format!("strconv.Atoi: parsing \"{text}\": invalid syntax"))
    })?;
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit {limit} is outside the range of [1, 100]"
        )));
    }
    Ok(limit as u32)
}

fn keep(results: Vec<SearchResult>, filters: &SearchFilters) -> Vec<SearchResult> {
    if filters.automated {
        return Vec::new();
    }
    results
        .into_iter()
        .filter(|r| filters.official.is_none_or(|o| r.is_official == o))
        .filter(|r| filters.min_stars.is_none_or(|s| r.star_count >= s))
        .map(|mut r| {
            r.is_automated = false;
            r
        })
        .collect()
}

async fn search_route(
    State(daemon): State<SharedDaemon>,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> ApiResult<Json<Vec<SearchResult>>> {
    let term = param(&pairs, "term").unwrap_or("");
    let limit = parse_limit(param(&pairs, "limit"))?;
    let filters = parse_filters(param(&pairs, "filters").unwrap_or(""))?;
    let credentials = AuthConfig::from_header_lenient(
        headers
            .get(REGISTRY_AUTH_HEADER)
            .and_then(|v| v.to_str().ok()),
    );
    let results = search(&daemon.config, term, limit, &credentials)
        .await
        .map_err(transfer_error)?;
    Ok(Json(keep(results, &filters)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, stars: i64, official: bool) -> SearchResult {
        SearchResult {
            name: name.into(),
            star_count: stars,
            is_official: official,
            is_automated: true,
            ..Default::default()
        }
    }

    #[test]
    fn limits_follow_dockerd() {
        assert_eq!(parse_limit(None).unwrap(), 25);
        assert_eq!(parse_limit(Some("100")).unwrap(), 100);
        let e = parse_limit(Some("101")).unwrap_err();
        assert_eq!(e.to_string(), "limit 101 is outside the range of [1, 100]");
        assert!(parse_limit(Some("0")).is_err());
        assert!(parse_limit(Some("x")).is_err());
    }

    #[test]
    fn filters_keep_what_dockerd_keeps() {
        let all = vec![result("a", 10, true), result("b", 2, false)];
        let f = parse_filters(r#"{"stars":{"3":true}}"#).unwrap();
        let kept = keep(all.clone(), &f);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].name, "a");
        assert!(!kept[0].is_automated);
        let f = parse_filters(r#"{"is-official":{"false":true}}"#).unwrap();
        assert_eq!(keep(all.clone(), &f)[0].name, "b");
        let f = parse_filters(r#"{"is-automated":{"true":true}}"#).unwrap();
        assert!(keep(all, &f).is_empty());
        assert!(parse_filters(r#"{"stars":{"x":true}}"#).is_err());
        assert!(parse_filters(r#"{"nope":{"x":true}}"#).is_err());
    }
}
