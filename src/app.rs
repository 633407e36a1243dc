//! Wiring: builds the shared state, starts the listeners, reloads certificates on request and
//! drains on shutdown.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admin::Admin;
use crate::config::{tls, Config};
use crate::forward::Pool;
use crate::listener::Server;
use crate::pipeline::{Pipeline, PipelineSettings};

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
    let pipeline = Pipeline::new(
        pool.clone(),
        PipelineSettings {
            max_header_size: config.listen.max_header_size,
            max_body_size: config.listen.max_body_size,
            inspect: config.inspect.clone(),
        },
        control.clock.clone(),
    );
    let proxy = Server { listener: listeners.proxy, settings: config.listen.clone(), tls: server_tls.clone(), handler: pipeline };
    let admin_settings = crate::listener::ListenSettings { tls: None, ..config.listen.clone() };
    let admin = Server { listener: listeners.admin, settings: admin_settings, tls: None, handler: Admin::new(pool.clone()) };
    let (proxy_addr, admin_addr) = (proxy.listener.local_addr().ok(), admin.listener.local_addr().ok());
    tracing::info!(proxy = ?proxy_addr, admin = ?admin_addr, "sluice serving");

    let reloader = tokio::spawn(reload_on_signal(config.clone(), control.reload, server_tls, pool));
    let admin_task = tokio::spawn(admin.run(control.shutdown.clone()));
    // The accept loop runs as a task, not on the caller's future: on a single-threaded
    // runtime, waking the `block_on` future costs a write to the driver's eventfd.
    let _ = tokio::spawn(proxy.run(control.shutdown)).await;
    reloader.abort();
    let _ = admin_task.await;
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
