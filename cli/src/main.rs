//! `safehome`: the SafeHome command line. `demo` runs the main job; `form` and `expr` let form
//! authors and supervisors check forms, fill them from answer files and try expressions;
//! `enroll` and `sync` talk to the team's server.
//!
//! Exit codes: 0 success, 1 refused input (with a reason on stderr or in the report),
//! 2 unusable input or usage error.

mod bench_cmd;
mod bench_review;
mod demo;
mod device_cmd;
mod evidence_cmd;
mod export_cmd;
mod expr_cmd;
mod files;
mod form_cmd;
mod geo_cmd;
mod out;
mod report;
mod review_cmd;
mod source;
mod sync_cmd;
mod utc_offset;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use safehome_cli::transport;

#[derive(Parser)]
#[command(name = "safehome", version, about = "SafeHome field-survey core: forms, risk screening")]
struct Cli {
    #[command(flatten)]
    device: device_cmd::DeviceArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fill the household screening for a few realistic households and print their assessments.
    Demo {
        /// Label language (vi or en).
        #[arg(long, default_value = "vi")]
        lang: String,
        /// Keep the demo's database in this directory instead of a temporary one.
        #[arg(long)]
        keep: Option<std::path::PathBuf>,
    },
    /// Benchmarks: `bench upload` loads a real safehome-server with simulated phones.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Forms: list the built-ins, show, validate or fill one.
    #[command(subcommand)]
    Form(form_cmd::FormCommand),
    /// GPS: locate points in assigned areas, check a fix and its quality flags, validate areas.
    #[command(subcommand)]
    Geo(geo_cmd::GeoCommand),
    /// Create the device's database (and a data key file if it does not exist yet).
    Init,
    /// Profiles on this device.
    #[command(subcommand)]
    User(device_cmd::UserCommand),
    /// The device's team and the keys it seals to.
    #[command(subcommand)]
    Team(device_cmd::TeamCommand),
    /// Households.
    #[command(subcommand)]
    Household(device_cmd::HouseholdCommand),
    /// Household visits (and answering, finalizing or showing any record).
    #[command(subcommand)]
    Visit(device_cmd::VisitCommand),
    /// Injury incidents (health workers).
    #[command(subcommand)]
    Incident(device_cmd::IncidentCommand),
    /// What waits to be uploaded.
    #[command(subcommand)]
    Outbox(device_cmd::OutboxCommand),
    /// The audit chain.
    #[command(subcommand)]
    Audit(device_cmd::AuditCommand),
    /// Enroll this device with the team's server using a one-time code (a supervisor):
    /// pins the server's key and takes the team, communes and recipients from it.
    Enroll {
        #[arg(long)]
        user: String,
        /// The server's base URL, e.g. https://safehome.example.org
        #[arg(long)]
        server: String,
        /// The one-time enrollment code, e.g. 7KQ4-M9TX-2HPA.
        #[arg(long)]
        code: String,
        /// The server key `safehome-server init` printed (shserver1…), checked if given.
        #[arg(long)]
        server_key: Option<String>,
        /// Another recipient key (shrecip1…) than the device's own inbox (the default): the
        /// archive holder's, say. A supervisor's device that gives one cannot open the
        /// submissions it pulls.
        #[arg(long)]
        recipient_key: Option<String>,
    },
    /// Every received record decrypted into xlsx or CSV for analysts (one table per form and per
    /// repeat), and optionally a GeoJSON of households: from a supervisor's device (--user) or
    /// the archive holder's machine (--identity with --server-data).
    Export(export_cmd::ExportArgs),
    /// The supervisor's review of records pulled from the team's server, and decisions.
    #[command(subcommand)]
    Review(review_cmd::ReviewCommand),
    /// Upload what waits in the outbox, urgent first; then decisions up, and the team's
    /// submissions (a supervisor) and decisions down. Exit 0: nothing failed and nothing is
    /// parked; 1: records failed (retried later) or are parked, or the server refused or
    /// could not be reached; 2: cannot start (not enrolled, unusable store).
    Sync {
        #[arg(long)]
        user: String,
        /// Another base URL for this sync (default: the one enrolled with).
        #[arg(long)]
        server: Option<String>,
        /// Bytes of the team's photos a supervisor's device fetches ahead of being asked
        /// (0 on a metered network: only the photos asked for with `review fetch`).
        #[arg(long, default_value_t = safehome_core::sync::review::DEFAULT_EVIDENCE_BUDGET)]
        evidence_budget: i64,
        #[arg(long)]
        json: bool,
    },
    /// Database size, pending uploads, counts per state and the last sync.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Evidence keys: a recipient identity and a device signing key.
    #[command(subcommand)]
    Keys(evidence_cmd::KeysCommand),
    /// The photo pipeline: upright, downscaled, metadata-free JPEGs.
    #[command(subcommand)]
    Photo(evidence_cmd::PhotoCommand),
    /// Sealed evidence: seal a photo to the team, open or verify an envelope.
    #[command(subcommand)]
    Evidence(evidence_cmd::EvidenceCommand),
    /// Evaluate an XLSForm expression and print its value as JSON.
    Expr {
        /// The expression, e.g. `if(${age} < 6, 'young', 'older')`. One that starts with `-`
        /// (`-7 mod 3`) is taken as the expression, not as an option.
        #[arg(allow_hyphen_values = true)]
        expression: String,
        /// JSON object of variables: `{"age": 4}`; lists become repeated values.
        #[arg(long)]
        vars: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Load a real safehome-server (started here on a loopback port, durable) with simulated
    /// phones, and compare with ODK Central's ingest measured on the same kind of machine.
    Upload(bench_cmd::UploadBenchArgs),
    /// The supervisor's pull: N visits with a photo each uploaded by a volunteer's phone, then
    /// pulled, verified and opened by the supervisor's phone in its own process (time, peak
    /// memory), and each record and photo opened.
    Review(bench_review::ReviewBenchArgs),
}

/// How a command ended, mapped to the exit code in one place.
pub enum Outcome {
    Ok,
    Refused,
    Unusable,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Demo { lang, keep } => demo::run(&lang, keep.as_deref()),
        Command::Bench(BenchCommand::Upload(args)) => match bench_cmd::run(&args) {
            Ok(()) => Outcome::Ok,
            Err(e) => {
                eprintln!("bench upload: {e}");
                Outcome::Refused
            }
        },
        Command::Bench(BenchCommand::Review(args)) => match bench_review::run(&args) {
            Ok(()) => Outcome::Ok,
            Err(e) => {
                eprintln!("bench review: {e}");
                Outcome::Refused
            }
        },
        Command::Form(cmd) => form_cmd::run(cmd, cli.device.utc_offset),
        Command::Geo(cmd) => geo_cmd::run(cmd, cli.device.utc_offset),
        Command::Expr { expression, vars } => {
            expr_cmd::run(&expression, vars.as_deref(), cli.device.utc_offset)
        }
        Command::Init => device_cmd::init(&cli.device),
        Command::User(cmd) => device_cmd::user(&cli.device, cmd),
        Command::Team(cmd) => device_cmd::team(&cli.device, cmd),
        Command::Household(cmd) => device_cmd::household(&cli.device, cmd),
        Command::Visit(cmd) => device_cmd::visit(&cli.device, cmd),
        Command::Incident(cmd) => device_cmd::incident(&cli.device, cmd),
        Command::Outbox(cmd) => device_cmd::outbox(&cli.device, cmd),
        Command::Audit(cmd) => device_cmd::audit(&cli.device, cmd),
        Command::Status { json } => device_cmd::status(&cli.device, json),
        Command::Enroll { user, server, code, server_key, recipient_key } => sync_cmd::enroll(
            &cli.device,
            &user,
            &server,
            &code,
            server_key.as_deref(),
            recipient_key.as_deref(),
        ),
        Command::Sync { user, server, evidence_budget, json } => {
            sync_cmd::run(&cli.device, &user, server.as_deref(), evidence_budget, json)
        }
        Command::Review(cmd) => review_cmd::run(&cli.device, cmd),
        Command::Export(args) => export_cmd::run(&cli.device, &args),
        Command::Keys(cmd) => evidence_cmd::run_keys(cmd),
        Command::Photo(cmd) => evidence_cmd::run_photo(cmd),
        Command::Evidence(cmd) => evidence_cmd::run(cmd),
    };
    match outcome {
        Outcome::Ok => ExitCode::SUCCESS,
        Outcome::Refused => ExitCode::from(1),
        Outcome::Unusable => ExitCode::from(2),
    }
}
