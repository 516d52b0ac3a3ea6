//! One error type for every handler, and the one place where a domain error becomes an HTTP
//! status: whose fault it is (the request: 4xx; FinLake or the lake: 5xx) is decided here, not
//! per handler.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use finlake_api::ErrorBody;

use crate::control::{CommandError, DeployError, ReloadError};
use crate::query::QueryError;

/// A status and a message a person can act on (and, for config edits, located problems).
#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl AppError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        AppError { status, body: ErrorBody { error: message.into(), problems: vec![] } }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    pub fn message(&self) -> &str {
        &self.body.error
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, error = %self.body.error, "API request failed");
        }
        (self.status, Json(self.body)).into_response()
    }
}

impl From<DeployError> for AppError {
    fn from(e: DeployError) -> Self {
        let status = match e {
            DeployError::Unknown(_) | DeployError::NoSuchVersion { .. } => StatusCode::NOT_FOUND,
            DeployError::Refused(_) | DeployError::NothingToRollBack(_) => StatusCode::BAD_REQUEST,
            DeployError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        AppError::new(status, e.to_string())
    }
}

impl From<crate::shadow::ShadowError> for AppError {
    fn from(e: crate::shadow::ShadowError) -> Self {
        use crate::shadow::ShadowError as E;
        let status = match e {
            E::Unknown(_) => StatusCode::NOT_FOUND,
            E::Candidate(_) | E::Range(_) => StatusCode::BAD_REQUEST,
            E::NoSource(_) | E::NoInput(_) => StatusCode::CONFLICT,
            E::Live(_) | E::Lake(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        AppError::new(status, e.to_string())
    }
}

impl From<ReloadError> for AppError {
    fn from(e: ReloadError) -> Self {
        match e {
            ReloadError::Invalid(e) => AppError {
                status: StatusCode::BAD_REQUEST,
                body: ErrorBody {
                    error: "the config is invalid; nothing changed".into(),
                    problems: e.problems().iter().map(ToString::to_string).collect(),
                },
            },
            e @ ReloadError::Write { .. } => AppError::internal(e.to_string()),
        }
    }
}

impl From<CommandError> for AppError {
    fn from(e: CommandError) -> Self {
        let status = match e {
            CommandError::UnknownPipeline { .. } => StatusCode::NOT_FOUND,
            CommandError::Refused(_) => StatusCode::CONFLICT,
        };
        AppError::new(status, e.to_string())
    }
}

impl From<QueryError> for AppError {
    fn from(e: QueryError) -> Self {
        let status = match e {
            QueryError::Invalid(_) => StatusCode::BAD_REQUEST,
            // The query ran too long: the request should be narrower.
            QueryError::Timeout(_) => StatusCode::UNPROCESSABLE_ENTITY,
            // Over its memory budget: the request should be narrower too.
            QueryError::TooBig { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            QueryError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            QueryError::Lake(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        AppError::new(status, e.to_string())
    }
}

impl From<crate::lake::LakeError> for AppError {
    fn from(e: crate::lake::LakeError) -> Self {
        AppError::internal(e.to_string())
    }
}

impl From<crate::dlq::DlqError> for AppError {
    fn from(e: crate::dlq::DlqError) -> Self {
        AppError::internal(e.to_string())
    }
}

impl From<crate::maintenance::MaintenanceError> for AppError {
    fn from(e: crate::maintenance::MaintenanceError) -> Self {
        use crate::maintenance::MaintenanceError as M;
        let status = match &e {
            M::UnknownTable { .. } => StatusCode::NOT_FOUND,
            M::Empty(_) => StatusCode::CONFLICT,
            M::Lake(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        AppError::new(status, e.to_string())
    }
}
