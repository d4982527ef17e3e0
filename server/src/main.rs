//! `safehome-server`: see `safehome-server --help` and server/README.md.

fn main() -> std::process::ExitCode {
    safehome_server::cli::main()
}
