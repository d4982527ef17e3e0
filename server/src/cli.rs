//! The `safehome-server` command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use safehome_core::clock::{Clock, SystemClock};
use safehome_core::evidence::keys::RecipientKey;

use crate::admin::{Admin, Role};
use crate::config::{ServerConfig, TlsFiles};
use crate::error::ServerError;

#[derive(Debug, Parser)]
#[command(name = "safehome-server", version, about = "SafeHome reference upload server")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct Data {
    /// The server's data directory.
    #[arg(long, env = "SAFEHOME_SERVER_DATA")]
    pub data: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a data directory: key, database, folders. Prints the key to pin.
    Init(Data),
    /// Manage teams.
    #[command(subcommand)]
    Team(TeamCommand),
    /// Make a one-time enrollment code for a team and role.
    Enroll {
        #[command(flatten)]
        data: Data,
        #[arg(long)]
        team: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// How long the code is valid.
        #[arg(long, default_value_t = 24)]
        expires_hours: u32,
        /// Print {"code", "expires_at_ms"} as JSON (no QR code).
        #[arg(long)]
        json: bool,
    },
    /// Revoke a device: its requests are refused from now on.
    Revoke {
        #[command(flatten)]
        data: Data,
        device_id: String,
    },
    /// List the enrolled devices.
    Devices {
        #[command(flatten)]
        data: Data,
        #[arg(long)]
        json: bool,
    },
    /// List the stored submissions (routing headers and receipts).
    Records {
        #[command(flatten)]
        data: Data,
        #[arg(long)]
        json: bool,
    },
    /// Serve the upload protocol.
    Serve {
        #[command(flatten)]
        data: Data,
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: String,
        /// PEM certificate chain (with --tls-key): serve HTTPS.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key (with --tls-cert).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Seconds a client has to send a request's headers.
        #[arg(long, default_value_t = 30)]
        header_timeout_secs: u64,
        /// Seconds a client has to send a request's body.
        #[arg(long, default_value_t = 60)]
        body_timeout_secs: u64,
        /// Seconds requests in flight may take to finish on shutdown.
        #[arg(long, default_value_t = 30)]
        shutdown_grace_secs: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Add a team with its communes and the archive's recipient key.
    Add {
        #[command(flatten)]
        data: Data,
        #[arg(long)]
        team: String,
        /// Comma-separated commune codes.
        #[arg(long, value_delimiter = ',', required = true)]
        communes: Vec<String>,
        /// The archive's recipient key (shrecip1…).
        #[arg(long)]
        archive_key: String,
        #[arg(long, default_value = "Archive")]
        label: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Volunteer,
    Supervisor,
    #[value(name = "health_worker")]
    HealthWorker,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Volunteer => Role::Volunteer,
            RoleArg::Supervisor => Role::Supervisor,
            RoleArg::HealthWorker => Role::HealthWorker,
        }
    }
}

fn now_ms() -> i64 {
    SystemClock::default().now_ms()
}

fn json_out<T: serde::Serialize>(value: &T) -> Result<(), ServerError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| ServerError::Invalid(format!("JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// Run a command other than `serve` (which needs a runtime: see `main`).
pub fn run_admin(command: Command) -> Result<(), ServerError> {
    match command {
        Command::Init(data) => {
            let key = crate::init(&data.data)?;
            println!("initialised {}", data.data.display());
            println!("server public key (pin it on the devices): {key}");
        }
        Command::Team(TeamCommand::Add { data, team, communes, archive_key, label }) => {
            let key: RecipientKey = archive_key
                .parse()
                .map_err(|e| ServerError::Invalid(format!("--archive-key: {e}")))?;
            let communes: Vec<String> = communes.iter().map(|c| c.trim().to_string()).collect();
            Admin::open(&data.data)?.add_team(&team, &communes, &key, &label, now_ms())?;
            println!("team {team} added ({} communes)", communes.len());
        }
        Command::Enroll { data, team, role, expires_hours, json } => {
            let ttl_ms = i64::from(expires_hours) * 3_600_000;
            let code = Admin::open(&data.data)?.create_enrollment_code(
                &team,
                role.into(),
                ttl_ms,
                now_ms(),
            )?;
            if json {
                json_out(&code)?;
            } else {
                println!("{}", qr(&code.code));
                println!("enrollment code: {}", code.code);
                println!(
                    "team {team}, role {}, valid for {expires_hours} h (until {} ms)",
                    Role::from(role).as_str(),
                    code.expires_at_ms
                );
            }
        }
        Command::Revoke { data, device_id } => {
            Admin::open(&data.data)?.revoke(&device_id, now_ms())?;
            println!("device {device_id} revoked");
        }
        Command::Devices { data, json } => {
            let devices = Admin::open(&data.data)?.devices()?;
            if json {
                return json_out(&devices);
            }
            println!(
                "{:<36}  {:<12} {:<13} {:>14} {:>14} {:>14} {:>6} {:<4} {:>12} {:<8}",
                "device",
                "team",
                "role",
                "enrolled",
                "revoked",
                "checkin",
                "audit",
                "regr",
                "skew_ms",
                "app"
            );
            for d in devices {
                println!(
                    "{:<36}  {:<12} {:<13} {:>14} {:>14} {:>14} {:>6} {:<4} {:>12} {:<8}",
                    d.device_id,
                    d.team,
                    d.role,
                    d.enrolled_at_ms,
                    opt(d.revoked_at_ms),
                    opt(d.last_checkin_ms),
                    opt(d.audit_length),
                    if d.regression { "YES" } else { "no" },
                    opt(d.last_clock_skew_ms),
                    opt(d.app_version),
                );
            }
        }
        Command::Records { data, json } => {
            let records = Admin::open(&data.data)?.records()?;
            if json {
                return json_out(&records);
            }
            println!(
                "{:>5} {:<36}  {:<8} {:<12} {:<8} {:<14} {:<7} {:>14} {:<12} evidence",
                "seq",
                "record",
                "kind",
                "team",
                "commune",
                "household",
                "risk",
                "received",
                "envelope"
            );
            for r in records {
                let h = &r.routing;
                println!(
                    "{:>5} {:<36}  {:<8} {:<12} {:<8} {:<14} {:<7} {:>14} {:<12} {}",
                    r.seq,
                    h.record_id,
                    h.kind,
                    h.team,
                    opt(h.commune.as_deref()),
                    opt(h.household_code.as_deref()),
                    opt(h.risk_level.as_deref()),
                    r.received_at_ms,
                    r.envelope_sha256.get(..12).unwrap_or(""),
                    if r.evidence_complete {
                        format!("complete ({})", h.evidence.len())
                    } else {
                        format!("missing {} of {}", r.missing_evidence.len(), h.evidence.len())
                    }
                );
            }
        }
        Command::Serve { .. } => {
            return Err(ServerError::Invalid("serve needs the async runtime".into()));
        }
    }
    Ok(())
}

/// The serve command's configuration.
pub fn serve_config(command: &Command) -> Option<(ServerConfig, String)> {
    let Command::Serve {
        data,
        listen,
        tls_cert,
        tls_key,
        header_timeout_secs,
        body_timeout_secs,
        shutdown_grace_secs,
    } = command
    else {
        return None;
    };
    let mut config = ServerConfig::new(&data.data);
    if let (Some(cert), Some(key)) = (tls_cert, tls_key) {
        config.tls = Some(TlsFiles { cert: cert.clone(), key: key.clone() });
    }
    config.header_timeout = Duration::from_secs(*header_timeout_secs);
    config.body_timeout = Duration::from_secs(*body_timeout_secs);
    config.shutdown_grace = Duration::from_secs(*shutdown_grace_secs);
    Some((config, listen.clone()))
}

/// The code as a QR code for a terminal (two rows of modules per line).
fn qr(code: &str) -> String {
    use qrcode::render::unicode::Dense1x2;
    match qrcode::QrCode::new(code.as_bytes()) {
        Ok(qr) => qr
            .render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

/// The `safehome-server` program: parse the command line, serve or run an operator command.
/// (A function of the library so that test harnesses can build the same program.)
pub fn main() -> std::process::ExitCode {
    use clap::Parser;
    let cli = Cli::parse();
    let result = match serve_config(&cli.command) {
        Some((config, listen)) => serve_blocking(config, &listen),
        None => run_admin(cli.command),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("safehome-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Serve on `listen` until SIGTERM or Ctrl-C, logging to stderr (`RUST_LOG`, default `info`).
fn serve_blocking(config: ServerConfig, listen: &str) -> Result<(), ServerError> {
    use tracing_subscriber::EnvFilter;
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServerError::io("starting the runtime"))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(ServerError::io(format!("binding {listen}")))?;
        crate::serve(config, listener, crate::shutdown_signal()).await
    })
}
