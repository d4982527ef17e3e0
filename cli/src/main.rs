//! `safehome`: the SafeHome command line. `demo` runs the main job; `form` and `expr` let form
//! authors and supervisors check forms, fill them from answer files and try expressions.
//!
//! Exit codes: 0 success, 1 refused input (with a reason on stderr or in the report),
//! 2 unusable input or usage error.

mod demo;
mod expr_cmd;
mod form_cmd;
mod geo_cmd;
mod out;
mod report;
mod source;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "safehome", version, about = "SafeHome field-survey core: forms, risk screening")]
struct Cli {
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
    },
    /// Forms: list the built-ins, show, validate or fill one.
    #[command(subcommand)]
    Form(form_cmd::FormCommand),
    /// GPS: locate points in assigned areas, check a fix and its quality flags, validate areas.
    #[command(subcommand)]
    Geo(geo_cmd::GeoCommand),
    /// Evaluate an XLSForm expression and print its value as JSON.
    Expr {
        /// The expression, e.g. `if(${age} < 6, 'young', 'older')`.
        expression: String,
        /// JSON object of variables: `{"age": 4}`; lists become repeated values.
        #[arg(long)]
        vars: Option<std::path::PathBuf>,
    },
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
        Command::Demo { lang } => demo::run(&lang),
        Command::Form(cmd) => form_cmd::run(cmd),
        Command::Geo(cmd) => geo_cmd::run(cmd),
        Command::Expr { expression, vars } => expr_cmd::run(&expression, vars.as_deref()),
    };
    match outcome {
        Outcome::Ok => ExitCode::SUCCESS,
        Outcome::Refused => ExitCode::from(1),
        Outcome::Unusable => ExitCode::from(2),
    }
}
