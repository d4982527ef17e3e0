//! `safehome-server`, built inside this package so that its tests can start and SIGKILL it
//! (`CARGO_BIN_EXE_e2e_server`): the same program, from the same library function.

fn main() -> std::process::ExitCode {
    safehome_server::cli::main()
}
