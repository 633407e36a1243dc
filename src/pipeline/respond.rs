//! The only place a failure becomes an HTTP status and an Elasticsearch-shaped error body:
//! `{"error":{"root_cause":[{"type":T,"reason":R}],"type":T,"reason":R},"status":S}`.
//! Reasons never carry secrets or internal causes; the audit record keeps the detail.

use http::{header, HeaderValue, Response, StatusCode};

use crate::body::ResBody;

/// Everything Sluice itself can answer with instead of a node's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    BodyTooLarge { limit: u64 },
    HeadersTooLarge { limit: usize },
    NoNode,
    ConnectTimeout,
    ResponseTimeout,
    NodeFailed,
    TooManyConnections,
    BadRequest { kind: &'static str, reason: String },
    /// Classification refused the request (unknown endpoint, undeterminable targets, …).
    Refused(crate::classify::Refusal),
    /// A body that must be inspected is larger than Sluice buffers for inspection.
    InspectTooLarge { limit: u64 },
    /// A compressed body decompresses past the limit.
    DecompressedTooLarge { limit: u64 },
    /// An NDJSON line is longer than the limit.
    LineTooLong { limit: usize },
    /// The client's body stream broke off.
    ClientBody,
    /// The client stopped sending an unfinished body for the idle timeout (HTTP/2).
    BodyStalled { idle: std::time::Duration },
    /// No or bad credentials: 401 with a challenge for every enabled scheme.
    Unauthenticated { reason: String, challenges: Vec<&'static str> },
    /// No live grant covers the request: 403 naming the action, the user and the targets.
    Forbidden { reason: String },
    /// Sluice could not do what it answers itself (persist a key): 500.
    Internal { reason: String },
}

impl Failure {
    /// What a request body's failure tells the client.
    pub fn of_body(e: &crate::body::BodyError) -> Self {
        match e {
            crate::body::BodyError::TooLarge(limit) => Failure::BodyTooLarge { limit: *limit },
            crate::body::BodyError::Stalled(idle) => Failure::BodyStalled { idle: *idle },
            _ => Failure::ClientBody,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Failure::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Failure::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Failure::NoNode | Failure::NodeFailed => StatusCode::BAD_GATEWAY,
            Failure::ConnectTimeout | Failure::ResponseTimeout => StatusCode::GATEWAY_TIMEOUT,
            Failure::BodyStalled { .. } => StatusCode::REQUEST_TIMEOUT,
            Failure::TooManyConnections => StatusCode::SERVICE_UNAVAILABLE,
            Failure::BadRequest { .. } | Failure::LineTooLong { .. } | Failure::ClientBody => StatusCode::BAD_REQUEST,
            Failure::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            Failure::Forbidden { .. } => StatusCode::FORBIDDEN,
            Failure::Refused(r) => StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST),
            Failure::InspectTooLarge { .. } | Failure::DecompressedTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Failure::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Elasticsearch's exception type name and a reason fit for the client.
    pub fn describe(&self) -> (&'static str, String) {
        match self {
            Failure::BodyTooLarge { limit } => (
                "content_too_long_exception",
                format!("request body is larger than the limit of [{limit}] bytes"),
            ),
            Failure::HeadersTooLarge { limit } => (
                "too_long_http_header_exception",
                format!("request headers are larger than the limit of [{limit}] bytes"),
            ),
            Failure::NoNode => ("no_node_available_exception", "no Elasticsearch node accepted a connection".into()),
            Failure::ConnectTimeout => ("timeout_exception", "timed out connecting to the Elasticsearch nodes".into()),
            Failure::ResponseTimeout => ("timeout_exception", "the Elasticsearch node did not answer in time".into()),
            Failure::NodeFailed => ("node_disconnected_exception", "the Elasticsearch node closed the connection".into()),
            Failure::TooManyConnections => ("rejected_execution_exception", "too many open connections to the proxy".into()),
            Failure::BadRequest { kind, reason } => (kind, reason.clone()),
            Failure::Refused(r) => (r.kind, r.reason.clone()),
            Failure::InspectTooLarge { limit } => (
                "content_too_long_exception",
                format!("this request's body is inspected for index names and is larger than the inspection limit of [{limit}] bytes"),
            ),
            Failure::DecompressedTooLarge { limit } => (
                "content_too_long_exception",
                format!("the decompressed request body is larger than the limit of [{limit}] bytes"),
            ),
            Failure::LineTooLong { limit } => (
                "illegal_argument_exception",
                format!("an NDJSON line is longer than the limit of [{limit}] bytes"),
            ),
            Failure::ClientBody => ("parse_exception", "the request body ended unexpectedly".into()),
            Failure::BodyStalled { idle } => (
                "timeout_exception",
                format!("the client sent none of the request body for [{}ms], the idle timeout", idle.as_millis()),
            ),
            Failure::Unauthenticated { reason, .. } | Failure::Forbidden { reason } => ("security_exception", reason.clone()),
            Failure::Internal { reason } => ("exception", reason.clone()),
        }
    }
}

/// Serialises Elasticsearch's error document.
pub fn error_body(kind: &str, reason: &str, status: u16) -> String {
    let cause = serde_json::json!({ "type": kind, "reason": reason });
    serde_json::json!({
        "error": { "root_cause": [cause], "type": kind, "reason": reason },
        "status": status,
    })
    .to_string()
}

pub fn error(f: Failure) -> Response<ResBody> {
    let status = f.status();
    let (kind, reason) = f.describe();
    let mut res = json(status, error_body(kind, &reason, status.as_u16()));
    if let Failure::Unauthenticated { challenges, .. } = &f {
        for c in challenges {
            res.headers_mut().append(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
    }
    res
}

/// A JSON response shaped like one from Elasticsearch (official clients check the product header).
pub fn json(status: StatusCode, body: String) -> Response<ResBody> {
    let mut res = Response::new(ResBody::full(body));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(http::header::HeaderName::from_static("x-elastic-product"), HeaderValue::from_static("Elasticsearch"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_shape() {
        let body = error_body("t", "r \"quoted\"", 502);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(v["error"]["root_cause"][0]["type"], "t");
        assert_eq!(v["error"]["reason"], "r \"quoted\"");
        assert_eq!(v["status"], 502);
    }

    #[test]
    fn statuses() {
        let table = [
            (Failure::BodyTooLarge { limit: 1 }, 413),
            (Failure::HeadersTooLarge { limit: 1 }, 431),
            (Failure::NoNode, 502),
            (Failure::NodeFailed, 502),
            (Failure::ConnectTimeout, 504),
            (Failure::ResponseTimeout, 504),
            (Failure::TooManyConnections, 503),
            (Failure::BadRequest { kind: "parse_exception", reason: "x".into() }, 400),
        ];
        for (f, s) in table {
            assert_eq!(f.status().as_u16(), s, "{f:?}");
        }
    }
}
