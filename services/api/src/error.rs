//! The API's one error shape, `{"error": {"code", "message"}}`, and how failures map to it.
//!
//! Database failures are mapped in one place ([`ApiError::from_postgres`]): an unreachable,
//! restarting or overloaded database and a statement timeout are 503 (the client may retry);
//! anything else is a 500 whose body says nothing about the cause (it is logged instead).

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query or path parameter is malformed or out of range.
    #[error("invalid parameter {name}: {message}")]
    BadParameter {
        /// The parameter.
        name: String,
        /// What is wrong with it.
        message: String,
    },
    /// Nothing has this identity.
    #[error("{0}")]
    NotFound(String),
    /// The request URI is longer than allowed.
    #[error("the request URI is longer than {0} bytes")]
    UriTooLong(usize),
    /// The API key is unknown or revoked.
    #[error("the API key is unknown or revoked")]
    InvalidApiKey,
    /// The client used its quota.
    #[error("rate limit exceeded: retry after {} ms", .retry_after.as_millis())]
    RateLimited {
        /// When the next request will be accepted.
        retry_after: Duration,
    },
    /// Postgres is unreachable, overloaded or timed out.
    #[error("the database is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// The request took longer than the configured timeout.
    #[error("the request took longer than {} ms", .0.as_millis())]
    Timeout(Duration),
    /// A projection has no live version yet (nothing has been folded).
    #[error("the {0} projection has no live version yet")]
    NotBuilt(&'static str),
    /// A bug: logged in full, answered without details.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// One error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `bad_parameter`, `not_found`, `uri_too_long`,
    /// `invalid_api_key`, `rate_limited`, `database_unavailable`, `timeout`, `not_built`,
    /// `internal`.
    pub code: &'static str,
    /// For people; for `bad_parameter` it names the parameter and what was wrong.
    pub message: String,
}

impl ApiError {
    /// A malformed parameter.
    pub fn bad(name: &str, message: impl Into<String>) -> Self {
        Self::BadParameter {
            name: name.to_owned(),
            message: message.into(),
        }
    }

    /// Maps a Postgres or pool failure: connection, resource and cancellation classes are
    /// 503, anything else (a bug in a query) is 500.
    pub fn from_postgres(error: anyhow::Error) -> Self {
        let unavailable = error.chain().any(|cause| {
            if let Some(pool) = cause.downcast_ref::<deadpool_postgres::PoolError>() {
                return !matches!(pool, deadpool_postgres::PoolError::PostCreateHook(_));
            }
            if let Some(postgres) = cause.downcast_ref::<tokio_postgres::Error>() {
                return match postgres.code() {
                    // 08 connection exception, 53 insufficient resources, 57 operator
                    // intervention (57014: statement timeout or cancel; 57P0x: shutting down)
                    Some(code) => ["08", "53", "57"]
                        .iter()
                        .any(|class| code.code().starts_with(class)),
                    // no SQLSTATE: the connection itself failed or closed
                    None => true,
                };
            }
            cause.downcast_ref::<std::io::Error>().is_some()
        });
        if unavailable {
            Self::Unavailable(error)
        } else {
            Self::Internal(error)
        }
    }

    /// The HTTP status.
    #[must_use]
    pub const fn status(&self) -> StatusCode {
        match self {
            Self::BadParameter { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            Self::InvalidApiKey => StatusCode::UNAUTHORIZED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) | Self::Timeout(_) | Self::NotBuilt(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code of the error shape.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::BadParameter { .. } => "bad_parameter",
            Self::NotFound(_) => "not_found",
            Self::UriTooLong(_) => "uri_too_long",
            Self::InvalidApiKey => "invalid_api_key",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable(_) => "database_unavailable",
            Self::Timeout(_) => "timeout",
            Self::NotBuilt(_) => "not_built",
            Self::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Unavailable(cause) => {
                tracing::warn!(error = format!("{cause:#}"), "database unavailable");
            }
            Self::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error")
            }
            _ => {}
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
            },
        };
        let mut response = (self.status(), Json(body)).into_response();
        let retry_after = match &self {
            Self::RateLimited { retry_after } => {
                Some((retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)).max(1))
            }
            Self::Unavailable(_) | Self::Timeout(_) | Self::NotBuilt(_) => Some(1),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// What a handler returns.
pub type ApiResult<T> = Result<T, ApiError>;
