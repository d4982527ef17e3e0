//! `safehome-server`: see `safehome-server --help` and server/README.md.

use std::process::ExitCode;

use clap::Parser;
use safehome_server::cli::{Cli, run_admin, serve_config};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match serve_config(&cli.command) {
        Some((config, listen)) => serve(config, &listen),
        None => run_admin(cli.command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("safehome-server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(
    config: safehome_server::ServerConfig,
    listen: &str,
) -> Result<(), safehome_server::ServerError> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(safehome_server::ServerError::io("starting the runtime"))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(safehome_server::ServerError::io(format!("binding {listen}")))?;
        safehome_server::serve(config, listener, safehome_server::shutdown_signal()).await
    })
}
