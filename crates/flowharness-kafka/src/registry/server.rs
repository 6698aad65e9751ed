//! The embedded schema registry: an in-process HTTP server speaking the
//! Confluent REST API subset producers and consumers use. It runs on its
//! own thread and runtime, bound to 127.0.0.1 unless told otherwise, and
//! stops when dropped.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::store::{ApiError, Store};
use crate::error::{Error, Result};
use crate::schema::compat::Mode;

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";
/// Request bodies above this are refused (413).
pub const MAX_BODY: usize = 4 * 1024 * 1024;

type Shared = Arc<Mutex<Store>>;

fn reply(status: StatusCode, body: Value) -> Response {
    (status, [(header::CONTENT_TYPE, CONTENT_TYPE)], body.to_string()).into_response()
}

fn ok(body: Value) -> Response {
    reply(StatusCode::OK, body)
}

fn fail(e: ApiError) -> Response {
    reply(
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        e.body(),
    )
}

fn lock(store: &Shared) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The schema, its type and references from a request body.
fn schema_of(body: &Bytes) -> std::result::Result<(String, String, Value), ApiError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::invalid_schema(format!("request body is not JSON: {e}")))?;
    let text = v
        .get("schema")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid_schema("request body has no \"schema\" string"))?;
    let kind = v
        .get("schemaType")
        .and_then(Value::as_str)
        .unwrap_or("AVRO")
        .to_ascii_uppercase();
    let references = v.get("references").cloned().unwrap_or(json!([]));
    Ok((text.to_string(), kind, references))
}

async fn subjects(State(s): State<Shared>) -> Response {
    ok(json!(lock(&s).subjects()))
}

async fn versions(State(s): State<Shared>, Path(subject): Path<String>) -> Response {
    lock(&s).versions(&subject).map_or_else(fail, |v| ok(json!(v)))
}

async fn register(State(s): State<Shared>, Path(subject): Path<String>, body: Bytes) -> Response {
    let result = schema_of(&body).and_then(|(text, kind, refs)| lock(&s).register(&subject, &text, &kind, refs));
    result.map_or_else(fail, |id| ok(json!({"id": id})))
}

async fn version(State(s): State<Shared>, Path((subject, v)): Path<(String, String)>) -> Response {
    lock(&s).version(&subject, &v).map_or_else(fail, |v| ok(v.body()))
}

async fn version_schema(State(s): State<Shared>, Path((subject, v)): Path<(String, String)>) -> Response {
    lock(&s)
        .version(&subject, &v)
        .map_or_else(fail, |v| raw(&v.schema.text))
}

/// A schema's own text: JSON as JSON, a `.proto` as text.
fn raw(text: &str) -> Response {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => ok(v),
        Err(_) => (StatusCode::OK, text.to_string()).into_response(),
    }
}

async fn lookup(State(s): State<Shared>, Path(subject): Path<String>, body: Bytes) -> Response {
    let result = schema_of(&body).and_then(|(text, kind, _)| lock(&s).lookup(&subject, &text, &kind));
    result.map_or_else(fail, |v| ok(v.body()))
}

async fn by_id(State(s): State<Shared>, Path(id): Path<u32>) -> Response {
    let store = lock(&s);
    match store.schema(id) {
        Ok(stored) => {
            let mut body = json!({"schema": stored.text});
            if stored.kind != "AVRO" {
                body["schemaType"] = json!(stored.kind);
            }
            if stored.references.as_array().is_some_and(|r| !r.is_empty()) {
                body["references"] = stored.references.clone();
            }
            ok(body)
        }
        Err(e) => fail(e),
    }
}

async fn by_id_schema(State(s): State<Shared>, Path(id): Path<u32>) -> Response {
    lock(&s).schema(id).map_or_else(fail, |stored| raw(&stored.text))
}

async fn compatibility(
    State(s): State<Shared>,
    Path((subject, v)): Path<(String, String)>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let store = lock(&s);
    let against = match v.as_str() {
        "latest" | "-1" => match store.version(&subject, "latest") {
            Ok(v) => Some(v.version),
            Err(e) => return fail(e),
        },
        n => match store.version(&subject, n) {
            Ok(v) => Some(v.version),
            Err(e) => return fail(e),
        },
    };
    let result = schema_of(&body).and_then(|(text, kind, refs)| {
        let referenced = store.referenced(&refs)?;
        store.incompatibilities(&subject, &text, &kind, against, &referenced)
    });
    match result {
        Ok(problems) => {
            let mut body = json!({"is_compatible": problems.is_empty()});
            if q.get("verbose").is_some_and(|v| v == "true") {
                body["messages"] = json!(problems);
            }
            ok(body)
        }
        Err(e) => fail(e),
    }
}

fn level(mode: Mode) -> Value {
    json!({"compatibilityLevel": mode.as_str()})
}

fn mode_of(body: &Bytes) -> std::result::Result<Mode, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|_| ApiError::invalid_compatibility("(not JSON)"))?;
    let text = v.get("compatibility").and_then(Value::as_str).unwrap_or_default();
    text.parse().map_err(|_| ApiError::invalid_compatibility(text))
}

async fn get_global(State(s): State<Shared>) -> Response {
    ok(level(lock(&s).global_level()))
}

async fn put_global(State(s): State<Shared>, body: Bytes) -> Response {
    match mode_of(&body) {
        Ok(m) => {
            lock(&s).set_global(m);
            ok(json!({"compatibility": m.as_str()}))
        }
        Err(e) => fail(e),
    }
}

async fn get_subject_config(
    State(s): State<Shared>,
    Path(subject): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let store = lock(&s);
    match store.subject_level(&subject) {
        Some(m) => ok(level(m)),
        None if q.get("defaultToGlobal").is_some_and(|v| v == "true") => ok(level(store.global_level())),
        None => fail(ApiError::no_subject_config(&subject)),
    }
}

async fn put_subject_config(State(s): State<Shared>, Path(subject): Path<String>, body: Bytes) -> Response {
    match mode_of(&body) {
        Ok(m) => {
            lock(&s).set_subject_level(&subject, m);
            ok(json!({"compatibility": m.as_str()}))
        }
        Err(e) => fail(e),
    }
}

/// The registry's routes over a store.
pub fn router(store: Shared) -> Router {
    Router::new()
        .route("/", get(|| async { ok(json!({})) }))
        .route("/subjects", get(subjects))
        .route("/subjects/{subject}", post(lookup))
        .route("/subjects/{subject}/versions", get(versions).post(register))
        .route("/subjects/{subject}/versions/{version}", get(version))
        .route("/subjects/{subject}/versions/{version}/schema", get(version_schema))
        .route("/schemas/ids/{id}", get(by_id))
        .route("/schemas/ids/{id}/schema", get(by_id_schema))
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(compatibility),
        )
        .route("/config", get(get_global).put(put_global))
        .route("/config/{subject}", get(get_subject_config).put(put_subject_config))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(store)
}

/// A running embedded registry; dropping it stops it.
#[derive(Debug)]
pub struct EmbeddedRegistry {
    url: String,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EmbeddedRegistry {
    /// Starts on `listen` (port 0: any free port).
    pub fn start(listen: SocketAddr) -> Result<EmbeddedRegistry> {
        let listener = TcpListener::bind(listen)
            .map_err(|e| Error::system(format!("schema registry: cannot listen on {listen}"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::system("schema registry: its socket", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::system("schema registry: its socket", e))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let store: Shared = Arc::new(Mutex::new(Store::default()));
        let thread = std::thread::Builder::new()
            .name("schema-registry".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
                let Ok(runtime) = runtime else { return };
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let server = axum::serve(listener, router(store)).with_graceful_shutdown(async {
                        let _ = stopped.await;
                    });
                    if let Err(e) = server.await {
                        tracing::error!("schema registry stopped: {e}");
                    }
                });
            })
            .map_err(|e| Error::system("schema registry: cannot start a thread", e))?;
        let host = if addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            addr.ip().to_string()
        };
        Ok(EmbeddedRegistry {
            url: format!("http://{host}:{}", addr.port()),
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for EmbeddedRegistry {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
