//! Tracing setup. Authorization headers and cookies are never logged: no code path logs
//! request headers wholesale.

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

/// Installs the global subscriber; logs go to stderr. Safe to call more than once.
pub fn init(s: &LogSettings) {
    let filter = EnvFilter::try_new(&s.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match s.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Human => builder.try_init(),
    };
}
