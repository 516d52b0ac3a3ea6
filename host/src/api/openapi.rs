//! The OpenAPI document, generated from the handlers' annotations and the `finlake-api` types
//! (the same types the CLI and the dashboard read), served at `/api/openapi.json`.

use axum::Json;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "FinLake API",
        description = "Status, lake, queries and live changes of a running `finlake run`. Changes need `Authorization: Bearer <token>` when a token is set (or the API listens beyond loopback).",
        license(name = "Apache-2.0")
    ),
    paths(
        super::status::health,
        super::status::pipelines,
        super::status::graph,
        super::status::fraud_models,
        super::status::prometheus,
        super::control::plugins,
        super::control::upload_plugin,
        super::control::shadow_plugin,
        super::control::rollback_plugin,
        super::control::get_config,
        super::control::put_config,
        super::control::config_status,
        super::control::resume,
        super::control::dead_letters,
        super::control::replay_dead_letters,
        super::lake::tables,
        super::lake::table_history,
        super::lake::query,
        super::lake::optimize,
        super::lake::maintenance,
        super::events::feed,
    ),
    components(schemas(
        finlake_api::Snapshot,
        finlake_api::CommitEvent,
        finlake_api::RefusalEvent,
        finlake_api::AlertEvent
    ))
)]
pub struct ApiDoc;

/// The API described as OpenAPI 3.1.
#[utoipa::path(get, path = "/api/openapi.json", tag = "status", responses((status = 200, description = "this document")))]
pub(super) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
