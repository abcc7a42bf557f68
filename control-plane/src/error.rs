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
    /// 403: the request carries no signature.
    MissingAuthenticationToken,
    /// 403: the `Authorization` header lacks parts.
    IncompleteSignature,
    /// 403: the signature, its scope or its date does not check out.
    InvalidSignature,
    /// 403: the access key (or session token) is not known.
    UnrecognizedClient,
    /// 403: the session credentials have expired.
    ExpiredToken,
    /// 413: the request body is too large.
    RequestEntityTooLarge,
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
            ErrorKind::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            ErrorKind::IncompleteSignature => "IncompleteSignatureException",
            ErrorKind::InvalidSignature => "InvalidSignatureException",
            ErrorKind::UnrecognizedClient => "UnrecognizedClientException",
            ErrorKind::ExpiredToken => "ExpiredTokenException",
            ErrorKind::RequestEntityTooLarge => "RequestEntityTooLargeException",
        }
    }

    /// The HTTP status the API model gives the exception.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::BadRequest | ErrorKind::LimitExceeded | ErrorKind::TooManyTags => {
                StatusCode::BAD_REQUEST
            }
            ErrorKind::Conflict | ErrorKind::ResourceInUse => StatusCode::CONFLICT,
            ErrorKind::Forbidden
            | ErrorKind::MissingAuthenticationToken
            | ErrorKind::IncompleteSignature
            | ErrorKind::InvalidSignature
            | ErrorKind::UnrecognizedClient
            | ErrorKind::ExpiredToken => StatusCode::FORBIDDEN,
            ErrorKind::RequestEntityTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::InternalServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::NotFound | ErrorKind::UnknownOperation => StatusCode::NOT_FOUND,
            ErrorKind::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        }
    }
}

/// The most violations one BadRequestException message lists.
pub const LISTED_VIOLATIONS: usize = 100;

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

    /// A 400 BadRequestException listing the violations found: the first
    /// [`LISTED_VIOLATIONS`], then how many more (a 1 MiB body of wrong list items would
    /// otherwise be answered with some 30 MB).
    pub fn invalid(violations: &[Violation]) -> Self {
        let n = violations.len();
        let mut list: Vec<String> = violations
            .iter()
            .take(LISTED_VIOLATIONS)
            .map(ToString::to_string)
            .collect();
        if n > LISTED_VIOLATIONS {
            list.push(format!("and {} more", n - LISTED_VIOLATIONS));
        }
        let noun = if n == 1 { "error" } else { "errors" };
        Self::bad_request(format!("{n} validation {noun}: {}", list.join("; ")))
    }

    /// A 403 refusing a request's credentials, by the exception's name.
    pub fn refused(code: &str, message: impl Into<String>) -> Self {
        let kind = match code {
            "MissingAuthenticationTokenException" => ErrorKind::MissingAuthenticationToken,
            "IncompleteSignatureException" => ErrorKind::IncompleteSignature,
            "UnrecognizedClientException" => ErrorKind::UnrecognizedClient,
            "ExpiredTokenException" => ErrorKind::ExpiredToken,
            _ => ErrorKind::InvalidSignature,
        };
        Self::new(kind, message)
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

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        if e.is_closed() {
            tracing::error!(error = %e, "storage: the database connection is closed");
            return ApiError::new(
                ErrorKind::ServiceUnavailable,
                "The storage is not answering; try again.",
            );
        }
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

/// Gives an error response that did not come from an [`ApiError`] (an axum rejection: a body
/// that cannot be read, a method the router does not know) the API's error shape: the
/// `x-amzn-ErrorType` header and a `{"message": ...}` body, keeping its status. Installed as
/// `axum::middleware::map_response(shape_errors)` around every route, so every 4xx and 5xx
/// the router sends has the shape the AWS SDKs parse.
pub async fn shape_errors(response: Response) -> Response {
    let status = response.status();
    let shaped = response.headers().contains_key("x-amzn-errortype");
    if shaped || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let kind = match status.as_u16() {
        401 | 403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        405 => ErrorKind::UnknownOperation,
        409 => ErrorKind::Conflict,
        413 => ErrorKind::RequestEntityTooLarge,
        429 => ErrorKind::TooManyRequests,
        503 => ErrorKind::ServiceUnavailable,
        _ if status.is_server_error() => ErrorKind::InternalServerError,
        _ => ErrorKind::BadRequest,
    };
    let (parts, body) = response.into_parts();
    // A rejection's text says what was wrong with the request; a server error's is not sent.
    let text = match kind {
        ErrorKind::InternalServerError | ErrorKind::ServiceUnavailable => None,
        _ => axum::body::to_bytes(body, 16 * 1024)
            .await
            .ok()
            .and_then(|b| String::from_utf8(b.to_vec()).ok())
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty()),
    };
    let message = text.unwrap_or_else(|| match kind {
        ErrorKind::InternalServerError => "The server failed to process the request.".to_owned(),
        _ => status
            .canonical_reason()
            .unwrap_or("The request failed.")
            .to_owned(),
    });
    let mut out = ApiError::new(kind, message).into_response();
    *out.status_mut() = status;
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut()
                .entry(name)
                .or_insert_with(|| value.clone());
        }
    }
    out
}
