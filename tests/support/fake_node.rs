//! A fake Elasticsearch node on 127.0.0.1:0. It answers like Elasticsearch 8 (root info
//! document, `X-Elastic-Product: Elasticsearch`, search, bulk with one item per action, mget,
//! msearch, count) and records exactly what it received so tests can assert byte-exact
//! forwarding. Test-only behaviour hangs off real API paths by index name, so Sluice classifies
//! them like any request: `/fake-echo/…` echoes the body, `/fake-sized/…?size=N` and
//! `/fake-chunked/…?size=N` answer N bytes, `/fake-headers/…` sets test headers,
//! `/fake-status/…?code=N` answers N; `?fake_delay_ms=N` delays any answer.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// One request as the node saw it.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: Method,
    /// Path and query exactly as sent on the wire.
    pub target: String,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Keep at most this many body bytes per request (the rest is counted, not kept).
    pub keep_body_bytes: Option<usize>,
    /// Answer _bulk with a short fixed document instead of one item per action.
    pub short_bulk: bool,
    /// Accept connections but never answer.
    pub silent: bool,
    /// Gzip every response, whatever the request's Accept-Encoding (a misbehaving node or
    /// something compressing in between).
    pub gzip_responses: bool,
}

pub struct FakeNode {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    /// Every connection accepted so far, as a handle that can close it.
    connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    /// How many of them have ended.
    closed: tokio::sync::watch::Receiver<usize>,
    task: tokio::task::JoinHandle<()>,
}

/// Counts a connection as closed when its task ends, however it ends.
struct Closing(Arc<tokio::sync::watch::Sender<usize>>);

impl Drop for Closing {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n += 1);
    }
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type TlsConfig = Option<Arc<rustls::ServerConfig>>;

impl FakeNode {
    pub async fn start() -> Self {
        Self::start_with(Options::default(), None).await
    }

    pub async fn start_with(opts: Options, tls: TlsConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let rec = received.clone();
        let connections = Arc::new(Mutex::new(Vec::new()));
        let conns = connections.clone();
        let (closed_tx, closed) = tokio::sync::watch::channel(0);
        let closed_tx = Arc::new(closed_tx);
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let rec = rec.clone();
                let tls = tls.clone();
                let closing = Closing(closed_tx.clone());
                let conn = tokio::spawn(async move {
                    let _closing = closing;
                    if opts.silent {
                        let _hold = tcp;
                        return std::future::pending::<()>().await;
                    }
                    let svc = service_fn(move |req| handle(req, rec.clone(), opts));
                    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match tls {
                        None => {
                            let _ = builder.serve_connection(TokioIo::new(tcp), svc).await;
                        }
                        Some(cfg) => {
                            let Ok(stream) = tokio_rustls::TlsAcceptor::from(cfg).accept(tcp).await else { return };
                            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                        }
                    }
                });
                conns.lock().unwrap().push(conn.abort_handle());
            }
        });
        Self { addr, received, connections, closed, task }
    }

    /// A URL for this node.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn last(&self) -> Received {
        self.received().pop().expect("the node received nothing")
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// How many connections the node has accepted.
    pub fn connections(&self) -> usize {
        self.connections.lock().unwrap().len()
    }

    /// Waits until at least `n` connections have ended (false if that takes over 10 s).
    pub async fn closed_at_least(&self, n: usize) -> bool {
        let mut closed = self.closed.clone();
        let done = tokio::time::timeout(Duration::from_secs(10), closed.wait_for(|c| *c >= n)).await;
        matches!(done, Ok(Ok(_)))
    }

    /// Closes every open connection without a word, as a node's idle timeout does.
    pub fn close_connections(&self) {
        for c in self.connections.lock().unwrap().iter() {
            c.abort();
        }
    }
}

/// An address on which nothing listens: connections are refused.
pub async fn refusing_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    drop(l);
    a
}

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed()
}

async fn handle(req: Request<Incoming>, rec: Arc<Mutex<Vec<Received>>>, opts: Options) -> Result<Response<Body>, Infallible> {
    let (parts, mut body) = req.into_parts();
    let keep = opts.keep_body_bytes.unwrap_or(usize::MAX);
    let mut kept = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Some(d) = frame.data_ref() {
            if kept.len() < keep {
                let room = keep - kept.len();
                kept.extend_from_slice(&d[..d.len().min(room)]);
            }
        }
    }
    let target = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    rec.lock().unwrap().push(Received {
        method: parts.method.clone(),
        target: target.clone(),
        version: parts.version,
        headers: parts.headers.clone(),
        body: kept.clone(),
    });
    let res = answer(&parts.method, &parts.uri, &parts.headers, &kept, opts).await;
    if !opts.gzip_responses {
        return Ok(res);
    }
    let (mut parts, body) = res.into_parts();
    let plain = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut e, &plain).unwrap();
    parts.headers.insert("content-encoding", "gzip".parse().unwrap());
    parts.headers.remove("content-length");
    Ok(Response::from_parts(parts, full(e.finish().unwrap())))
}

fn es(status: StatusCode, body: Body) -> Response<Body> {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    res.headers_mut().insert("content-type", "application/json".parse().unwrap());
    res.headers_mut().insert("x-elastic-product", "Elasticsearch".parse().unwrap());
    res
}

fn query_param(uri: &http::Uri, name: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| v.to_string())
    })
}

async fn answer(method: &Method, uri: &http::Uri, headers: &HeaderMap, body: &[u8], opts: Options) -> Response<Body> {
    let path = uri.path();
    if let Some(ms) = query_param(uri, "fake_delay_ms") {
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
    }
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match (method, path, first) {
        (&Method::GET, "/", _) => es(StatusCode::OK, full(INFO)),
        (&Method::HEAD, "/", _) => es(StatusCode::OK, full("")),
        (_, _, "fake-echo") => {
            let mut res = es(StatusCode::OK, full(body.to_vec()));
            if let Some(ct) = headers.get("content-type") {
                res.headers_mut().insert("content-type", ct.clone());
            }
            res
        }
        (_, _, "fake-sized") => {
            let n: usize = query_param(uri, "size").and_then(|s| s.parse().ok()).unwrap_or(0);
            es(StatusCode::OK, full(pattern(n)))
        }
        (_, _, "fake-chunked") => {
            let n: usize = query_param(uri, "size").and_then(|s| s.parse().ok()).unwrap_or(0);
            let data = pattern(n);
            let chunks: Vec<Result<Frame<Bytes>, Infallible>> =
                data.chunks(7919).map(|c| Ok(Frame::data(Bytes::copy_from_slice(c)))).collect();
            es(StatusCode::OK, StreamBody::new(futures_util::stream::iter(chunks)).boxed())
        }
        (_, _, "fake-headers") => {
            let mut res = es(StatusCode::OK, full("{}"));
            let h = res.headers_mut();
            h.insert("x-opaque-id", headers.get("x-opaque-id").cloned().unwrap_or_else(|| "none".parse().unwrap()));
            h.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
            h.insert("x-end-to-end", "kept".parse().unwrap());
            h.insert("connection", "x-hop-header".parse().unwrap());
            h.insert("x-hop-header", "dropped".parse().unwrap());
            h.insert("keep-alive", "timeout=5".parse().unwrap());
            res
        }
        (_, _, "fake-status") => {
            let code: u16 = query_param(uri, "code").and_then(|s| s.parse().ok()).unwrap_or(200);
            es(StatusCode::from_u16(code).unwrap_or(StatusCode::OK), full("{}"))
        }
        _ if path.ends_with("/_bulk") => {
            if opts.short_bulk || opts.keep_body_bytes.is_some() {
                return es(StatusCode::OK, full(r#"{"took":1,"errors":false,"items":[]}"#));
            }
            es(StatusCode::OK, full(bulk_response(path, body)))
        }
        _ if path.ends_with("/_pit") && method == Method::POST => {
            es(StatusCode::OK, full(format!(r#"{{"id":"pit-{}","_shards":{{"total":1,"successful":1,"skipped":0,"failed":0}}}}"#, next_id())))
        }
        _ if path.starts_with("/_search/scroll") => {
            es(StatusCode::OK, full(SEARCH.replacen('{', &format!(r#"{{"_scroll_id":"scroll-{}","#, next_id()), 1)))
        }
        _ if path.ends_with("/_search") && query_param(uri, "scroll").is_some() => {
            // `fake_lookalikes`: a document holding fields named like continuation ids.
            let page = if query_param(uri, "fake_lookalikes").is_some() { SEARCH_LOOKALIKES } else { SEARCH };
            es(StatusCode::OK, full(page.replacen('{', &format!(r#"{{"_scroll_id":"scroll-{}","#, next_id()), 1)))
        }
        (&Method::POST | &Method::GET, "/_sql" | "/_plugins/_sql", _) => sql_page(uri, body),
        _ if path.ends_with("/_search") => es(StatusCode::OK, full(SEARCH)),
        _ if path.ends_with("/_count") => es(StatusCode::OK, full(r#"{"count":3,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0}}"#)),
        _ if path.ends_with("/_mget") => es(StatusCode::OK, full(mget_response(path, body))),
        _ if path.ends_with("/_msearch") => es(StatusCode::OK, full(msearch_response(body))),
        _ => es(StatusCode::OK, full(r#"{"acknowledged":true}"#)),
    }
}

/// A page of SQL rows (`fetch_size` of them, 1,000 by default) and the cursor of the next,
/// after the rows in JSON as Elasticsearch puts it, or in a `Cursor` header with `format=txt`.
fn sql_page(uri: &http::Uri, body: &[u8]) -> Response<Body> {
    let req: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let rows = req["fetch_size"].as_u64().unwrap_or(1000);
    let cursor = format!("sql-{}", next_id());
    if query_param(uri, "format").as_deref() == Some("txt") {
        let text: String = (0..rows).map(|i| format!("row {i:06}|cursor\n")).collect();
        let mut res = es(StatusCode::OK, full(text));
        res.headers_mut().insert("content-type", "text/plain; charset=UTF-8".parse().unwrap());
        res.headers_mut().insert("cursor", cursor.parse().unwrap());
        return res;
    }
    let rows: Vec<String> = (0..rows).map(|i| format!(r#"["row {i:06} {}","cursor"]"#, "x".repeat(60))).collect();
    let page = format!(r#"{{"columns":[{{"name":"cursor","type":"keyword"}}],"rows":[{}],"cursor":"{cursor}"}}"#, rows.join(","));
    es(StatusCode::OK, full(page))
}

/// Distinct ids for scrolls and points in time.
fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Deterministic bytes for size tests.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36]).collect()
}

const INFO: &str = r#"{"name":"fake-node","cluster_name":"fake","cluster_uuid":"fAkEcLuStErUuId0000000","version":{"number":"8.15.0","build_flavor":"default","build_type":"tar","build_hash":"0","build_date":"2024-08-05T10:05:34.233336849Z","build_snapshot":false,"lucene_version":"9.11.1","minimum_wire_compatibility_version":"7.17.0","minimum_index_compatibility_version":"7.0.0"},"tagline":"You Know, for Search"}"#;

const SEARCH: &str = r#"{"took":1,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},"hits":{"total":{"value":1,"relation":"eq"},"max_score":1.0,"hits":[{"_index":"logs-app-1","_id":"1","_score":1.0,"_source":{"message":"hello"}}]}}"#;

const SEARCH_LOOKALIKES: &str = r#"{"took":1,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},"hits":{"total":{"value":1,"relation":"eq"},"max_score":1.0,"hits":[{"_index":"logs-app-1","_id":"1","_score":1.0,"_source":{"_scroll_id":"doc-scroll","pit_id":"doc-pit","cursor":"doc-cursor","id":"doc-id"}}]}}"#;

fn path_index(path: &str) -> Option<String> {
    let first = path.trim_start_matches('/').split('/').next()?;
    (!first.is_empty() && !first.starts_with('_')).then(|| first.to_string())
}

/// One item per action line, in order, as Elasticsearch answers a bulk.
pub fn bulk_response(path: &str, body: &[u8]) -> String {
    let default = path_index(path);
    let mut items = Vec::new();
    let mut lines = body.split(|b| *b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace));
    let mut n = 0;
    while let Some(line) = lines.next() {
        let Ok(serde_json::Value::Object(action)) = serde_json::from_slice::<serde_json::Value>(line) else { continue };
        let Some((op, meta)) = action.into_iter().next() else { continue };
        if op != "delete" {
            lines.next();
        }
        n += 1;
        let index = meta.get("_index").and_then(|v| v.as_str()).map(str::to_string).or_else(|| default.clone()).unwrap_or_default();
        let id = meta.get("_id").and_then(|v| v.as_str()).map(str::to_string).unwrap_or_else(|| format!("auto-{n}"));
        let (result, status) = match op.as_str() {
            "delete" => ("deleted", 200),
            "update" => ("updated", 200),
            _ => ("created", 201),
        };
        items.push(serde_json::json!({ op: { "_index": index, "_id": id, "_version": 1, "result": result, "status": status } }));
    }
    serde_json::json!({ "took": 1, "errors": false, "items": items }).to_string()
}

fn mget_response(path: &str, body: &[u8]) -> String {
    let default = path_index(path);
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let mut docs = Vec::new();
    if let Some(list) = v.get("docs").and_then(|d| d.as_array()) {
        for d in list {
            let index = d.get("_index").and_then(|x| x.as_str()).map(str::to_string).or_else(|| default.clone());
            docs.push(serde_json::json!({ "_index": index, "_id": d.get("_id"), "_version": 1, "found": true, "_source": {} }));
        }
    } else if let Some(ids) = v.get("ids").and_then(|d| d.as_array()) {
        for id in ids {
            docs.push(serde_json::json!({ "_index": default, "_id": id, "_version": 1, "found": true, "_source": {} }));
        }
    }
    serde_json::json!({ "docs": docs }).to_string()
}

/// One answer per search; a search over a point in time gets a new `pit_id` (`<id>+1`), as
/// Elasticsearch may hand out.
fn msearch_response(body: &[u8]) -> String {
    let lines: Vec<&[u8]> = body.split(|b| *b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)).collect();
    let one: serde_json::Value = serde_json::from_str(SEARCH).unwrap();
    let responses: Vec<_> = lines.chunks(2).filter(|p| p.len() == 2).map(|pair| {
        let search: serde_json::Value = serde_json::from_slice(pair[1]).unwrap_or_default();
        let mut r = serde_json::Map::new();
        if let Some(pit) = search["pit"]["id"].as_str() {
            r.insert("pit_id".into(), format!("{pit}+1").into());
        }
        r.extend(one.as_object().cloned().unwrap_or_default());
        r.insert("status".into(), 200.into());
        serde_json::Value::Object(r)
    }).collect();
    serde_json::json!({ "took": 1, "responses": responses }).to_string()
}
