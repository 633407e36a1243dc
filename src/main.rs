//! The `sluice` command: parses the command line and calls the library.
//!
//! Exit codes: 0 success; 1 runtime failure; 2 usage error; 3 invalid configuration;
//! 4 start-up failure (a port cannot be bound, a certificate cannot be loaded).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sluice::config::{self, Overrides};

#[derive(Parser)]
#[command(name = "sluice", version, about = "Authorizing, streaming reverse proxy for Elasticsearch and OpenSearch")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct ConfigArgs {
    /// Configuration file (TOML).
    #[arg(long, short = 'c', default_value = "config/sluice.toml")]
    config: PathBuf,
    /// Address for client traffic (overrides listen.address).
    #[arg(long)]
    listen: Option<String>,
    /// A node URL; repeat for several (overrides upstream.nodes).
    #[arg(long = "upstream")]
    upstream: Vec<String>,
    /// Address of the admin listener (overrides admin.address).
    #[arg(long)]
    admin: Option<String>,
    /// Log level or filter (overrides log.level).
    #[arg(long)]
    log_level: Option<String>,
}

impl ConfigArgs {
    fn overrides(&self) -> Overrides {
        Overrides {
            listen_address: self.listen.clone(),
            upstream_nodes: self.upstream.clone(),
            admin_address: self.admin.clone(),
            log_level: self.log_level.clone(),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve: proxy on listen.address, admin API on admin.address.
    Run(ConfigArgs),
    /// Validate the configuration and print every error found.
    CheckConfig(ConfigArgs),
    /// Read JSON lines {"method","path","headers","body"} on stdin; write one classification per line.
    Classify,
    /// Read a password on stdin; print an argon2id hash for a users file.
    HashPassword,
    /// Explain offline, against a grants file, how Sluice decides one request for one principal.
    Explain(ExplainArgs),
}

#[derive(clap::Args)]
struct ExplainArgs {
    /// A grant table (the `PUT /_sluice/grants` body) or a Sluice state file.
    #[arg(long)]
    grants: PathBuf,
    #[arg(long)]
    user: String,
    /// A group of the principal; repeat for several.
    #[arg(long = "group")]
    groups: Vec<String>,
    /// The API key id the principal authenticated with.
    #[arg(long)]
    api_key: Option<String>,
    /// The time to decide at (RFC 3339); now by default.
    #[arg(long)]
    at: Option<String>,
    /// A file holding the request body.
    #[arg(long)]
    body: Option<PathBuf>,
    /// HTTP method, e.g. GET.
    method: String,
    /// Path and query, e.g. /logs-*/_search.
    path: String,
}

const EXIT_RUNTIME: u8 = 1;
const EXIT_CONFIG: u8 = 3;
const EXIT_START: u8 = 4;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig(args) => check_config(&args),
        Command::Run(args) => run(&args),
        Command::Classify => classify(),
        Command::HashPassword => hash_password(),
        Command::Explain(args) => explain(&args),
    }
}

fn check_config(args: &ConfigArgs) -> ExitCode {
    match config::load(&args.config, &args.overrides()) {
        Ok(_) => {
            let _ = writeln!(std::io::stdout(), "{}: configuration is valid", args.config.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            report_config_errors(&args.config, &e);
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn classify() -> ExitCode {
    use std::io::BufRead;
    let now = sluice::clock::system();
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { return ExitCode::from(EXIT_RUNTIME) };
        if line.trim().is_empty() {
            continue;
        }
        if writeln!(out, "{}", sluice::classify::classify_line(&line, now.now_ms())).is_err() {
            return ExitCode::from(EXIT_RUNTIME);
        }
    }
    ExitCode::SUCCESS
}

fn explain(a: &ExplainArgs) -> ExitCode {
    let fail = |msg: String| {
        let _ = writeln!(std::io::stderr(), "explain: {msg}");
        ExitCode::from(2)
    };
    let text = match std::fs::read(&a.grants) {
        Ok(t) => t,
        Err(e) => return fail(format!("cannot read {}: {e}", a.grants.display())),
    };
    let json: serde_json::Value = match serde_json::from_slice(&text) {
        Ok(v) => v,
        Err(e) => return fail(format!("{} is not JSON: {e}", a.grants.display())),
    };
    let table = if json.get("version").is_some() { json } else { json.get("grants").cloned().unwrap_or_default() };
    let (doc, grants) = match sluice::authz::table::parse_table(&table) {
        Ok(v) => v,
        Err(e) => return fail(e.join("\n")),
    };
    let authz = sluice::authz::Authorizer::new(sluice::authz::Mode::Enforce, 0);
    if let Err(e) = authz.install(doc.version, &grants) {
        return fail(e);
    }
    let now = match &a.at {
        Some(t) => match sluice::clock::parse_rfc3339(t) {
            Some(ms) => ms,
            None => return fail(format!("--at {t} is not an RFC 3339 time")),
        },
        None => sluice::clock::system().now_ms(),
    };
    let body = match &a.body {
        Some(p) => match std::fs::read(p) {
            Ok(b) => Some(b),
            Err(e) => return fail(format!("cannot read {}: {e}", p.display())),
        },
        None => None,
    };
    let who = serde_json::json!({"user": a.user, "groups": a.groups, "api_key": a.api_key});
    let p = match sluice::authz::explain::principal(&who) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let out = sluice::authz::explain::explain(&authz.snapshot(), &p, &a.method.to_ascii_uppercase(), &a.path, body.as_deref(), now);
    let allowed = out["decision"]["allowed"].as_bool() == Some(true);
    let _ = writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    if allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_RUNTIME)
    }
}

fn hash_password() -> ExitCode {
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() {
        return ExitCode::from(EXIT_RUNTIME);
    }
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        let _ = writeln!(std::io::stderr(), "hash-password: give the password on standard input");
        return ExitCode::from(2);
    }
    match sluice::authn::basic::hash_password(password) {
        Ok(h) => {
            let _ = writeln!(std::io::stdout(), "{h}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "hash-password: {e}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

fn report_config_errors(path: &std::path::Path, e: &config::ConfigError) {
    let mut err = std::io::stderr();
    let _ = writeln!(err, "{}: {} error(s):", path.display(), e.errors.len());
    for line in &e.errors {
        let _ = writeln!(err, "  - {line}");
    }
}

fn run(args: &ConfigArgs) -> ExitCode {
    let config = match config::load(&args.config, &args.overrides()) {
        Ok(c) => c,
        Err(e) => {
            report_config_errors(&args.config, &e);
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    sluice::telemetry::init(&config.log);
    let runtime = match runtime_builder().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    runtime.block_on(async move {
        let listeners = match sluice::bind(&config).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "cannot start");
                return ExitCode::from(EXIT_START);
            }
        };
        let control = signals();
        match sluice::run(config, listeners, control).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "cannot start");
                ExitCode::from(EXIT_START)
            }
        }
    })
}

/// One CPU (a container limit, or the process pinned with taskset): a single-threaded
/// scheduler avoids the work-stealing machinery; otherwise one worker per CPU.
fn runtime_builder() -> tokio::runtime::Builder {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if cpus == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
}

/// SIGTERM/SIGINT -> drain and stop; SIGHUP -> reload certificates.
fn signals() -> sluice::Control {
    use tokio::signal::unix::{signal, SignalKind};
    let (stop_tx, shutdown) = tokio::sync::watch::channel(false);
    let (reload_tx, reload) = tokio::sync::watch::channel(0u64);
    tokio::spawn(async move {
        let (Ok(mut term), Ok(mut int), Ok(mut hup)) =
            (signal(SignalKind::terminate()), signal(SignalKind::interrupt()), signal(SignalKind::hangup()))
        else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => { reload_tx.send_modify(|n| *n += 1); }
            }
        }
        tracing::info!("shutdown requested: draining");
        let _ = stop_tx.send(true);
    });
    sluice::Control { shutdown, reload, clock: sluice::clock::system() }
}

// A faster allocator for the proxy's many short-lived buffers (measured in benches/README):
// mimalloc, linked in place of the C library's malloc (the crate's `override` feature; the
// binary exports `malloc` and `free`, `nm -D`), so Rust's default allocator reaches
// mimalloc's plain `malloc` path. (Its `GlobalAlloc` takes the aligned path for every
// allocation, which is slower for blocks over 1 KiB.)
use mimalloc as _;
