//! The `safehome-server` command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use safehome_core::clock::{Clock, SystemClock};
use safehome_core::evidence::keys::RecipientKey;

use crate::admin::{Admin, Role};
use crate::config::{ServerConfig, TlsFiles};
use crate::console::alerts::AlertConfig;
use crate::console::users::ConsoleRole;
use crate::error::ServerError;
use crate::objects::ObjectsConfig;
use safehome_core::location::areas::ImportOptions;

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
    /// The database: a PostgreSQL URL (`postgres://user@host:port/db`) or a SQLite file. At
    /// `init`, PostgreSQL's URL is recorded in the data directory (`database.url`), so later
    /// commands need not repeat it; given later, it overrides the directory's.
    #[arg(long, env = "SAFEHOME_DATABASE", hide_env_values = true)]
    pub database: Option<String>,
}

impl Data {
    pub fn dir(&self) -> crate::datadir::DataDir {
        crate::datadir::DataDir::with_database(&self.data, self.database.clone())
    }
}

/// Where the evidence files are (docs/operations.md, "Evidence in object storage").
#[derive(Debug, clap::Args)]
pub struct Objects {
    /// The evidence store: file:///path, or s3://bucket?endpoint=https://host:port&region=r
    /// (credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY). Default: the data
    /// directory.
    #[arg(long, env = "SAFEHOME_OBJECTS", value_parser = parse_objects)]
    pub objects: Option<ObjectsConfig>,
}

fn parse_objects(s: &str) -> Result<ObjectsConfig, String> {
    s.parse::<ObjectsConfig>().map_err(|e| e.to_string())
}

impl Objects {
    fn config(&self) -> ObjectsConfig {
        self.objects.clone().unwrap_or_default()
    }
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
    /// Manage the oversight console's users.
    #[command(subcommand)]
    User(UserCommand),
    /// Load the communes' boundaries and names from an assigned-areas GeoJSON (the console's
    /// map).
    #[command(subcommand)]
    Areas(AreasCommand),
    /// Set a commune's name or registered households (the console's coverage).
    #[command(subcommand)]
    Commune(CommuneCommand),
    /// Back up a data directory while it is served: a consistent snapshot of the database, the
    /// key, the evidence files (each checked) and a manifest of every record's digest.
    Backup {
        #[command(flatten)]
        data: Data,
        /// A new folder for the backup.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        objects: Objects,
    },
    /// Restore a backup into a new data directory, checking every record and evidence file
    /// against the backup's manifest before putting it in place.
    Restore {
        /// The backup folder.
        #[arg(long)]
        backup: PathBuf,
        /// The new data directory (must not exist).
        #[command(flatten)]
        data: Data,
        /// Put the evidence into this store instead of the new data directory.
        #[command(flatten)]
        objects: Objects,
    },
    /// Move a stopped server from its SQLite file to an empty PostgreSQL database: every row
    /// copied in one transaction and compared, then the data directory switched to it (the
    /// SQLite file is kept, renamed).
    MoveDatabase {
        #[command(flatten)]
        data: Data,
        /// The empty PostgreSQL database (`postgres://user@host:port/db`).
        #[arg(long)]
        to: String,
    },
    /// Replace the server's key with a new one signed over by the old: enrolled phones re-pin
    /// at their next sync. Takes effect when the server (re)starts.
    RotateKey(Data),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Serve the upload protocol and the oversight console (/console).
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
        /// The console is reached over HTTPS through a proxy: its cookies are `Secure`.
        #[arg(long)]
        behind_tls_proxy: bool,
        /// Post urgent cases without a recorded action to this URL (docs/console.md).
        #[arg(long)]
        alert_webhook: Option<String>,
        /// Hours before an urgent case's deadline its alert goes out.
        #[arg(long, default_value_t = 4)]
        alert_hours_before: u32,
        /// PostgreSQL: the most connections this process opens for reads (its writer has one
        /// more). Size it so that every process's pool fits PostgreSQL's `max_connections`.
        #[arg(long, default_value_t = crate::sql::DEFAULT_POOL)]
        db_pool: usize,
        /// PostgreSQL: seconds a statement may run before it is cancelled (the request then
        /// gets `503`), unless the URL's own `options` set `statement_timeout`.
        #[arg(long, default_value_t = 30)]
        db_statement_timeout_secs: u64,
        #[command(flatten)]
        objects: Objects,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a console user. The password is read from --password-file, else from the
    /// SAFEHOME_CONSOLE_PASSWORD variable, else from the first line of standard input.
    Add {
        #[command(flatten)]
        data: Data,
        #[arg(long)]
        username: String,
        #[arg(long, value_enum)]
        role: ConsoleRoleArg,
        /// Comma-separated commune codes: one for a commune officer, one or more for a
        /// district officer, none for an admin.
        #[arg(long, value_delimiter = ',')]
        communes: Vec<String>,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// List the console users.
    List {
        #[command(flatten)]
        data: Data,
        #[arg(long)]
        json: bool,
    },
    /// Lift a user's lockout after too many wrong passwords.
    Unlock {
        #[command(flatten)]
        data: Data,
        username: String,
    },
    /// Disable a user and end their sessions.
    Disable {
        #[command(flatten)]
        data: Data,
        username: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AreasCommand {
    /// Import a GeoJSON FeatureCollection of communes (Polygon/MultiPolygon features).
    Import {
        #[command(flatten)]
        data: Data,
        file: PathBuf,
        #[arg(long, default_value = "code")]
        code_property: String,
        #[arg(long, default_value = "name")]
        name_property: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CommuneCommand {
    /// Set a commune's name and/or its registered households.
    Set {
        #[command(flatten)]
        data: Data,
        #[arg(long)]
        commune: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        registered: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Server time to render the console's overview and urgent list over many submissions
    /// (in a temporary data directory); prints JSON figures.
    Console {
        #[arg(long, default_value_t = 100_000)]
        submissions: usize,
        #[arg(long, default_value_t = 200)]
        iterations: usize,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ConsoleRoleArg {
    Admin,
    District,
    Commune,
}

impl From<ConsoleRoleArg> for ConsoleRole {
    fn from(r: ConsoleRoleArg) -> ConsoleRole {
        match r {
            ConsoleRoleArg::Admin => ConsoleRole::Admin,
            ConsoleRoleArg::District => ConsoleRole::District,
            ConsoleRoleArg::Commune => ConsoleRole::Commune,
        }
    }
}

/// The largest file read from the command line (a province's areas with detailed boundaries).
const MAX_FILE: u64 = 256 << 20;

fn read_text(path: &std::path::Path) -> Result<String, ServerError> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(ServerError::io(format!("opening {}", path.display())))?;
    let mut text = String::new();
    file.take(MAX_FILE + 1)
        .read_to_string(&mut text)
        .map_err(ServerError::io(format!("reading {}", path.display())))?;
    if text.len() as u64 > MAX_FILE {
        return Err(ServerError::Invalid(format!(
            "{} is larger than {MAX_FILE} bytes",
            path.display()
        )));
    }
    Ok(text)
}

/// A new user's password: the file's first line, the environment, or standard input's.
fn read_password(file: Option<&std::path::Path>) -> Result<String, ServerError> {
    let text = match file {
        Some(path) => read_text(path)?,
        None => match std::env::var("SAFEHOME_CONSOLE_PASSWORD") {
            Ok(p) => p,
            Err(_) => {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .map_err(ServerError::io("reading the password"))?;
                line
            }
        },
    };
    Ok(text.lines().next().unwrap_or("").to_string())
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
            let key = crate::init_with(&data.data, data.database.as_deref())?;
            println!("initialised {}", data.data.display());
            println!("server public key (pin it on the devices): {key}");
        }
        Command::Team(TeamCommand::Add { data, team, communes, archive_key, label }) => {
            let key: RecipientKey = archive_key
                .parse()
                .map_err(|e| ServerError::Invalid(format!("--archive-key: {e}")))?;
            let communes: Vec<String> = communes.iter().map(|c| c.trim().to_string()).collect();
            Admin::open(data.dir())?.add_team(&team, &communes, &key, &label, now_ms())?;
            println!("team {team} added ({} communes)", communes.len());
        }
        Command::Enroll { data, team, role, expires_hours, json } => {
            let ttl_ms = i64::from(expires_hours) * 3_600_000;
            let code = Admin::open(data.dir())?.create_enrollment_code(
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
            Admin::open(data.dir())?.revoke(&device_id, now_ms())?;
            println!("device {device_id} revoked");
        }
        Command::Devices { data, json } => {
            let devices = Admin::open(data.dir())?.devices()?;
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
        Command::Backup { data, out, objects } => {
            let store = objects.config().open(&data.dir())?;
            let m = crate::backup::backup_from(data.dir(), &*store, &out, now_ms())?;
            println!(
                "backed up {} submissions, {} evidence files, {} decisions, {} devices to {}",
                m.submissions.len(),
                m.evidence.len(),
                m.decisions,
                m.devices,
                out.display()
            );
            println!("the backup holds the server's key: keep it as safe as the server");
        }
        Command::Restore { backup, data, objects } => {
            let database = data.database.as_deref();
            let m = match objects.config() {
                ObjectsConfig::DataDir => crate::backup::restore(&backup, &data.data, database)?,
                other => {
                    let store = other.open(&crate::datadir::DataDir::new(&data.data))?;
                    crate::backup::restore_into(&backup, &data.data, database, Some(&*store))?
                }
            };
            println!(
                "restored {} submissions and {} evidence files into {}, each checked against the manifest",
                m.submissions.len(),
                m.evidence.len(),
                data.data.display()
            );
        }
        Command::MoveDatabase { data, to } => {
            let moved = crate::move_db::move_to_postgres(&data.dir(), &to, now_ms())?;
            for (table, rows) in &moved.rows {
                println!("{table:>22}  {rows} rows");
            }
            println!(
                "moved: {} submissions and {} evidence files, each checked; the SQLite file is kept as {}",
                moved.manifest.submissions.len(),
                moved.manifest.evidence.len(),
                moved.kept_as.display()
            );
        }
        Command::RotateKey(data) => {
            let key = crate::rotation::rotate(&data.data, now_ms())?;
            println!("new server key {key}");
            println!("restart the server; phones re-pin at their next sync (the old key is kept)");
        }
        Command::Records { data, json } => {
            let records = Admin::open(data.dir())?.records()?;
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
        Command::User(UserCommand::Add { data, username, role, communes, password_file }) => {
            let password = read_password(password_file.as_deref())?;
            let communes: Vec<String> =
                communes.iter().map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect();
            Admin::open(data.dir())?.add_console_user(
                &username,
                role.into(),
                &communes,
                &password,
                now_ms(),
            )?;
            println!("console user {username} added ({})", ConsoleRole::from(role).as_str());
        }
        Command::User(UserCommand::List { data, json }) => {
            let users = Admin::open(data.dir())?.console_users()?;
            if json {
                return json_out(&users);
            }
            println!(
                "{:<24} {:<9} {:<8} {:<14} communes",
                "user", "role", "disabled", "locked_until"
            );
            for u in users {
                println!(
                    "{:<24} {:<9} {:<8} {:<14} {}",
                    u.username,
                    u.role.as_str(),
                    if u.disabled { "yes" } else { "no" },
                    opt(u.locked_until_ms),
                    u.communes.join(",")
                );
            }
        }
        Command::User(UserCommand::Unlock { data, username }) => {
            Admin::open(data.dir())?.unlock_console_user(&username)?;
            println!("console user {username} unlocked");
        }
        Command::User(UserCommand::Disable { data, username }) => {
            Admin::open(data.dir())?.disable_console_user(&username, now_ms())?;
            println!("console user {username} disabled");
        }
        Command::Areas(AreasCommand::Import { data, file, code_property, name_property }) => {
            let text = read_text(&file)?;
            let opts = ImportOptions { code_property, name_property, ..ImportOptions::default() };
            let n = Admin::open(data.dir())?.import_areas(&text, &opts)?;
            println!("{n} communes imported");
        }
        Command::Commune(CommuneCommand::Set { data, commune, name, registered }) => {
            Admin::open(data.dir())?.set_commune(&commune, name.as_deref(), registered)?;
            println!("commune {commune} updated");
        }
        Command::Bench(BenchCommand::Console { submissions, iterations }) => {
            let figures = crate::console::bench::run(submissions, iterations)?;
            json_out(&figures)?;
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
        behind_tls_proxy,
        alert_webhook,
        alert_hours_before,
        db_pool,
        db_statement_timeout_secs,
        objects,
    } = command
    else {
        return None;
    };
    let mut config = ServerConfig::new(&data.data);
    config.database.clone_from(&data.database);
    if let (Some(cert), Some(key)) = (tls_cert, tls_key) {
        config.tls = Some(TlsFiles { cert: cert.clone(), key: key.clone() });
    }
    config.header_timeout = Duration::from_secs(*header_timeout_secs);
    config.body_timeout = Duration::from_secs(*body_timeout_secs);
    config.shutdown_grace = Duration::from_secs(*shutdown_grace_secs);
    config.behind_tls_proxy = *behind_tls_proxy;
    config.alerts = alert_webhook.as_ref().map(|url| AlertConfig::new(url, *alert_hours_before));
    config.db_pool = *db_pool;
    config.db_statement_timeout = Duration::from_secs(*db_statement_timeout_secs);
    config.objects = objects.config();
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
