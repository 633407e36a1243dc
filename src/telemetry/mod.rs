//! Tracing setup. Authorization headers and cookies are never logged: no code path logs
//! request headers wholesale.

pub mod metrics;

use tracing_subscriber::EnvFilter;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Clone, Debug)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

type Reload = tracing_subscriber::reload::Handle<EnvFilter, tracing_subscriber::Registry>;

/// The filter of the installed subscriber, changeable at runtime (`PUT /_sluice/log_level`).
static RELOAD: std::sync::OnceLock<Reload> = std::sync::OnceLock::new();

/// Installs the global subscriber; logs go to stderr. Safe to call more than once.
pub fn init(s: &LogSettings) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = EnvFilter::try_new(&s.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match s.format {
        LogFormat::Json => registry.with(tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr)).try_init(),
        LogFormat::Human => registry.with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr)).try_init(),
    };
    if installed.is_ok() {
        let _ = RELOAD.set(handle);
    }
}

/// Changes the log level (or filter directive) of the running process.
pub fn set_level(level: &str) -> Result<(), String> {
    let filter = EnvFilter::try_new(level).map_err(|e| format!("invalid log level [{level}]: {e}"))?;
    let handle = RELOAD.get().ok_or("logging is not initialised by Sluice in this process")?;
    handle.reload(filter).map_err(|e| e.to_string())
}
