//! API group: networks — create, list, inspect, remove, prune, connect, disconnect.
//! Thin handlers over `crate::networks`.
use std::collections::BTreeMap;

use super::json_answer::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bollard_stubs::models::EndpointSettings;
use serde_json::{json, Value};

use super::containers::param;
use super::{ApiError, ApiResult};
use crate::containers::to_the_end::to_the_end;
use crate::networks::{connect, create, view, NetworkError, NetworkRecord};
use crate::state::{Daemon, SharedDaemon};

pub fn routes() -> Router<SharedDaemon> {
    Router::new()
        .route("/networks", get(list_route))
        .route("/networks/", get(list_route))
        .route("/networks/create", post(create_route))
        .route("/networks/prune", post(prune_route))
        .route("/networks/{id}", get(inspect_route).delete(delete_route))
        .route("/networks/{id}/connect", post(connect_route))
        .route("/networks/{id}/disconnect", post(disconnect_route))
}

impl From<NetworkError> for ApiError {
    fn from(e: NetworkError) -> Self {
        use NetworkError as E;
        match e {
            E::NotFound(_) | E::Missing(_) => ApiError::not_found(e.to_string()),
            E::Invalid(m) => ApiError::bad_request(m),
            E::Forbidden(m) => ApiError::forbidden(m),
            E::Conflict(m) => ApiError::conflict(m),
            E::Unavailable(m) => ApiError::unavailable(m),
            E::Netd(n) => from_netd(n),
            E::Io(..) | E::Internal(_) => ApiError::internal(e.to_string()),
        }
    }
}

/// netd's errors with dockerd's statuses.
pub(crate) fn from_netd(e: netd::Error) -> ApiError {
    use netd::Error as N;
    match e {
        N::InvalidSubnet(_)
        | N::InvalidPool(_)
        | N::AddressOutOfRange(_)
        | N::InvalidMac(_)
        | N::InvalidPortSpec(_)
        | N::NoAddressInPool(_)
        | N::NotABridge(_) => ApiError::bad_request(e.to_string()),
        N::PoolOverlap(_)
        | N::PoolOverlap6(_)
        | N::EndpointExists { .. }
        | N::ActiveEndpoints { .. }
        | N::AuxOutOfPool { .. } => ApiError::forbidden(e.to_string()),
        N::AddressInUse(_) => ApiError::forbidden(e.to_string()),
        N::NoPoolAvailable | N::NoPoolAvailable6 | N::NoSuchNetwork(_) => {
            ApiError::not_found(e.to_string())
        }
        _ => ApiError::internal(e.to_string()),
    }
}

type Pairs = Query<Vec<(String, String)>>;

fn publish_event(daemon: &Daemon, action: &str, record: &NetworkRecord) {
    let attributes = BTreeMap::from([
        ("name".to_string(), record.name.clone()),
        ("type".to_string(), record.driver.clone()),
    ]);
    daemon
        .events
        .publish("network", action, &record.id, attributes);
}

async fn create_route(State(daemon): State<SharedDaemon>, body: Bytes) -> ApiResult<Response> {
    let req: create::CreateRequest = super::body::json(&body)?;
    let record = create::create(&daemon.networks, req).await?;
    publish_event(&daemon, "create", &record);
    Ok((
        StatusCode::CREATED,
        Json(json!({ "Id": record.id, "Warning": "" })),
    )
        .into_response())
}

async fn list_route(
    State(daemon): State<SharedDaemon>,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    let filters = param(&pairs, "filters").unwrap_or("");
    let shown: Vec<Value> = view::list(&daemon.networks, filters)?
        .iter()
        .map(view::inspect_json)
        .collect();
    Ok(Json(shown).into_response())
}

async fn inspect_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let record = daemon.networks.find(&id)?;
    Ok(Json(view::inspect_json(&record)).into_response())
}

async fn delete_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let record = daemon.networks.remove(&id).await?;
    publish_event(&daemon, "destroy", &record);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn prune_route(
    State(daemon): State<SharedDaemon>,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    let before = daemon.networks.list();
    let removed = view::prune(&daemon.networks, param(&pairs, "filters").unwrap_or("")).await?;
    for r in before.iter().filter(|r| removed.contains(&r.name)) {
        publish_event(&daemon, "destroy", r);
    }
    let deleted = if removed.is_empty() {
        Value::Null
    } else {
        json!(removed)
    };
    Ok(Json(json!({ "NetworksDeleted": deleted })).into_response())
}

/// The body of connect and disconnect.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectBody {
    #[serde(default)]
    pub container: String,
    #[serde(default)]
    pub force: bool,
    pub endpoint_config: Option<EndpointSettings>,
}

fn connect_body(body: &Bytes) -> ApiResult<ConnectBody> {
    super::body::json_or_default(body)
}

async fn connect_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let body = connect_body(&body)?;
    let container = daemon.containers.lookup(&body.container)?;
    let network = daemon.networks.find(&id)?;
    let endpoint_config = body
        .endpoint_config
        .as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| ApiError::internal(format!("endpoint settings: {e}")))?;
    // To its end, whatever happens to the client (containers::to_the_end), under the
    // container's lock as dockerd's: a start or an exit does not interleave with it.
    to_the_end(async move {
        let _guard = daemon.container_locks.lock(&container.id).await;
        // Its current state (a start may have finished meanwhile).
        let container = daemon.containers.get(&container.id).unwrap_or(container);
        connect::connect(&daemon, &container, &network.id, endpoint_config.as_ref()).await
    })
    .await?;
    Ok(StatusCode::OK.into_response())
}

async fn disconnect_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let body = connect_body(&body)?;
    let container = daemon.containers.lookup(&body.container)?;
    let network = daemon.networks.find(&id)?;
    to_the_end(async move {
        let _guard = daemon.container_locks.lock(&container.id).await;
        let container = daemon.containers.get(&container.id).unwrap_or(container);
        connect::disconnect(&daemon, &container, &network.id).await
    })
    .await?;
    Ok(StatusCode::OK.into_response())
}
