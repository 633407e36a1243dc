//! Wiring: builds the shared state, starts the listeners, reloads certificates on request and
//! drains on shutdown.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admin::{Admin, AdminState};
use crate::authn::api_key::ApiKeyStore;
use crate::authn::Authenticator;
use crate::authz::Authorizer;
use crate::store::Store;
use crate::config::{tls, Config};
use crate::forward::Pool;
use crate::listener::Server;
use crate::pipeline::{Pipeline, PipelineSettings, Security};

/// Sockets bound before `run`, so tests can bind port 0 and learn the address first.
pub struct Listeners {
    pub proxy: TcpListener,
    pub admin: TcpListener,
}

/// How the process (or a test) steers a running Sluice.
pub struct Control {
    /// Turns true to stop accepting and drain.
    pub shutdown: watch::Receiver<bool>,
    /// Changes whenever certificate files should be read again (SIGHUP).
    pub reload: watch::Receiver<u64>,
    /// The time every decision reads (tests inject a manual clock).
    pub clock: crate::clock::SharedClock,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    State(String),
    #[error("upstream credentials: {0}")]
    Credentials(String),
}

pub async fn bind(config: &Config) -> Result<Listeners, StartError> {
    let proxy = TcpListener::bind(config.listen.address)
        .await
        .map_err(|source| StartError::Bind { addr: config.listen.address, source })?;
    let admin = TcpListener::bind(config.admin.address)
        .await
        .map_err(|source| StartError::Bind { addr: config.admin.address, source })?;
    Ok(Listeners { proxy, admin })
}

pub async fn run(config: Config, listeners: Listeners, control: Control) -> Result<(), StartError> {
    let client_tls = tls::client_config(&config.upstream).map_err(StartError::Tls)?;
    let pool = Arc::new(Pool::new(config.upstream.clone(), client_tls));
    let server_tls = match &config.listen.tls {
        Some(files) => Some(Arc::new(ArcSwap::new(tls::server_config(files).map_err(StartError::Tls)?))),
        None => None,
    };
    let store = Arc::new(Store::new(config.state_file.clone()));
    let state = store.load().map_err(StartError::State)?;
    let api_keys = Arc::new(ApiKeyStore::from_keys(state.api_keys));
    let authz = Arc::new(Authorizer::new(config.authz.mode, config.authz.decision_cache_size).sealing(config.authz.continuation_secret.as_deref()));
    if let Some(table) = &state.grants {
        let (doc, grants) = crate::authz::table::parse_table(table).map_err(|e| StartError::State(format!("the grant table in the state file is invalid: {}", e.join("; "))))?;
        authz.install(doc.version, &grants).map_err(StartError::State)?;
    }
    let authn = Arc::new(Authenticator::new(config.authn.clone(), api_keys.clone()));
    let service = match &config.service.authorization {
        Some(a) => {
            let mut v = http::HeaderValue::from_str(a).map_err(|_| StartError::Credentials("not a valid header value".into()))?;
            v.set_sensitive(true);
            Some(v)
        }
        None => None,
    };
    let audit = Arc::new(match &config.audit {
        Some(s) => crate::audit::Audit { sink: Some(crate::audit::Sink::start(s).map_err(|e| StartError::State(format!("cannot open the audit trail: {e}")))?), body_hash: config.audit_body_hash },
        None => crate::audit::Audit::off(),
    });
    let node_names: Vec<String> = pool.health().into_iter().map(|(n, _)| n).collect();
    let metrics = Arc::new(crate::telemetry::metrics::Metrics::new(&node_names));
    let observe = crate::pipeline::Observe { audit: audit.clone(), metrics: metrics.clone() };
    let security = Security { authn: authn.clone(), anonymous: config.anonymous.clone().map(Arc::new), service, run_as: config.service.run_as, authz: authz.clone(), store: store.clone() };
    let pipeline = Pipeline::new(
        pool.clone(),
        PipelineSettings {
            max_header_size: config.listen.max_header_size,
            max_body_size: config.listen.max_body_size,
            inspect: config.inspect.clone(),
            per_item: config.authz.per_item,
        },
        control.clock.clone(),
        security,
        observe,
    );
    let proxy = Server {
        listener: listeners.proxy,
        settings: config.listen.clone(),
        tls: server_tls.clone(),
        handler: pipeline,
        open: metrics.open_connections.clone(),
    };
    let admin_tls = match &config.admin.tls {
        Some(files) => Some(Arc::new(ArcSwap::new(tls::server_config(files).map_err(StartError::Tls)?))),
        None => None,
    };
    let admin_settings = crate::listener::ListenSettings { tls: config.admin.tls.clone(), ..config.listen.clone() };
    let authz_for_lifecycle = authz.clone();
    let admin_state = AdminState {
        pool: pool.clone(),
        api_keys,
        store,
        authz,
        clock: control.clock.clone(),
        token: config.admin.token.clone(),
        audit: audit.clone(),
        metrics,
        authn: authn.clone(),
    };
    let admin = Server { listener: listeners.admin, settings: admin_settings, tls: admin_tls, handler: Admin::new(admin_state), open: Default::default() };
    spawn_authn_tasks(&config, &authn, control.shutdown.clone(), control.reload.clone())?;
    let (proxy_addr, admin_addr) = (proxy.listener.local_addr().ok(), admin.listener.local_addr().ok());
    tracing::info!(proxy = ?proxy_addr, admin = ?admin_addr, "sluice serving");

    let lifecycle = audit.sink.is_some().then(|| {
        let since = control.clock.now_ms();
        tokio::spawn(crate::authz::lifecycle::watch(authz_for_lifecycle.clone(), audit.clone(), control.clock.clone(), since, control.shutdown.clone()))
    });
    let reloader = tokio::spawn(reload_on_signal(config.clone(), control.reload, server_tls, pool));
    let admin_task = tokio::spawn(admin.run(control.shutdown.clone()));
    // The accept loop runs as a task, not on the caller's future: on a single-threaded
    // runtime, waking the `block_on` future costs a write to the driver's eventfd.
    let _ = tokio::spawn(proxy.run(control.shutdown)).await;
    reloader.abort();
    let _ = admin_task.await;
    // Its last look records the grants that started or ended before the end.
    if let Some(task) = lifecycle {
        let _ = task.await;
    }
    // Every event queued before the listeners stopped is written and synced.
    let flushing = audit.clone();
    let _ = tokio::task::spawn_blocking(move || flushing.flush()).await;
    tracing::info!("sluice stopped");
    Ok(())
}

/// Reads certificate files again each time `reload` changes; a bad file keeps the old one.
async fn reload_on_signal(
    config: Config,
    mut reload: watch::Receiver<u64>,
    server: Option<Arc<ArcSwap<rustls::ServerConfig>>>,
    pool: Arc<Pool>,
) {
    while reload.changed().await.is_ok() {
        if let (Some(swap), Some(files)) = (&server, &config.listen.tls) {
            match tls::server_config(files) {
                Ok(c) => {
                    swap.store(c);
                    tracing::info!("front TLS certificates reloaded");
                }
                Err(e) => tracing::error!(error = %e, "front TLS reload failed; keeping the old certificates"),
            }
        }
        match tls::client_config(&config.upstream) {
            Ok(c) => pool.set_tls(c),
            Err(e) => tracing::error!(error = %e, "node TLS reload failed; keeping the old configuration"),
        }
    }
}

/// Keeps JWKS keys and the users file current.
fn spawn_authn_tasks(
    config: &Config,
    authn: &Arc<Authenticator>,
    shutdown: watch::Receiver<bool>,
    reload: watch::Receiver<u64>,
) -> Result<(), StartError> {
    if let (Some(v), Some(j)) = (&authn.jwt, &config.authn.jwt) {
        if let Some(source) = &j.jwks {
            let ca = match source {
                crate::authn::jwt::JwksSource::Url { ca, .. } => ca.as_deref(),
                crate::authn::jwt::JwksSource::File(_) => None,
            };
            let tls = tls::fetch_client_config(ca).map_err(StartError::Tls)?;
            tokio::spawn(crate::fetch::keep_jwks(v.clone(), tls, shutdown.clone()));
        }
    }
    if let Some(path) = config.authn.basic.as_ref().and_then(|b| b.users_file.clone()) {
        let authn = authn.clone();
        tokio::spawn(watch_users(path, authn, shutdown, reload));
    }
    Ok(())
}

/// Reloads the users file when it changes (checked every two seconds) or on SIGHUP; a bad file
/// keeps the old users.
async fn watch_users(path: std::path::PathBuf, authn: Arc<Authenticator>, mut shutdown: watch::Receiver<bool>, mut reload: watch::Receiver<u64>) {
    let stamp = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut seen = stamp(&path);
    loop {
        let forced = tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => false,
            _ = reload.changed() => true,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        if forced {
            seen = None;
        }
        let now = stamp(&path);
        if now == seen {
            continue;
        }
        seen = now;
        match crate::config::authn::load_users(&path) {
            Ok(users) => {
                if let Some(b) = &authn.basic {
                    b.replace_users(users);
                    tracing::info!("users file reloaded");
                }
            }
            Err(e) => tracing::error!(error = %e, "users file reload failed; keeping the old users"),
        }
    }
}
