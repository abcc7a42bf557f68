//! The API's error type: one variant per App Mesh exception, rendered the way the AWS SDKs
//! parse it (status code, `x-amzn-ErrorType` header, `{"message": ...}` body).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use appmesh_model::Violation;

/// An App Mesh exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: the request is invalid.
    BadRequest,
    /// 409: the name is taken, or a client token was reused for a different request.
    Conflict,
    /// 403: the caller may not do this.
    Forbidden,
    /// 500: the server failed.
    InternalServerError,
    /// 400: a service quota would be exceeded.
    LimitExceeded,
    /// 404: the resource (or its mesh or parent) does not exist.
    NotFound,
    /// 409: other resources depend on the one being deleted.
    ResourceInUse,
    /// 503: the server cannot answer now.
    ServiceUnavailable,
    /// 429: too many requests.
    TooManyRequests,
    /// 400: a resource would carry more tags than allowed.
    TooManyTags,
    /// 404: no operation answers this method and path.
    UnknownOperation,
}

impl ErrorKind {
    /// The exception's shape name, sent in `x-amzn-ErrorType`.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "BadRequestException",
            ErrorKind::Conflict => "ConflictException",
            ErrorKind::Forbidden => "ForbiddenException",
            ErrorKind::InternalServerError => "InternalServerErrorException",
            ErrorKind::LimitExceeded => "LimitExceededException",
            ErrorKind::NotFound => "NotFoundException",
            ErrorKind::ResourceInUse => "ResourceInUseException",
            ErrorKind::ServiceUnavailable => "ServiceUnavailableException",
            ErrorKind::TooManyRequests => "TooManyRequestsException",
            ErrorKind::TooManyTags => "TooManyTagsException",
            ErrorKind::UnknownOperation => "UnknownOperationException",
        }
    }

    /// The HTTP status the API model gives the exception.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::BadRequest | ErrorKind::LimitExceeded | ErrorKind::TooManyTags => {
                StatusCode::BAD_REQUEST
            }
            ErrorKind::Conflict | ErrorKind::ResourceInUse => StatusCode::CONFLICT,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::InternalServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::NotFound | ErrorKind::UnknownOperation => StatusCode::NOT_FOUND,
            ErrorKind::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        }
    }
}

/// An error answered to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.code())]
pub struct ApiError {
    /// Which exception.
    pub kind: ErrorKind,
    /// What went wrong, in words that name the field or resource involved.
    pub message: String,
}

impl ApiError {
    /// An error of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
        }
    }

    /// A 400 BadRequestException.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    /// A 404 NotFoundException.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// A 400 BadRequestException listing every violation found.
    pub fn invalid(violations: &[Violation]) -> Self {
        let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
        let n = list.len();
        let noun = if n == 1 { "error" } else { "errors" };
        Self::bad_request(format!("{n} validation {noun}: {}", list.join("; ")))
    }

    /// A 500 for a failure inside the server. The detail is logged, never sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(
            ErrorKind::InternalServerError,
            "The server failed to process the request.",
        )
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::internal(format_args!("storage: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "message": self.message }).to_string();
        let mut response = (self.kind.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            "x-amzn-errortype",
            HeaderValue::from_static(self.kind.code()),
        );
        response
    }
}
