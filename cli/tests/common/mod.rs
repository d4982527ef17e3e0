//! Helpers shared by the CLI tests: run `safehome`, read its output, find test data, write
//! temporary inputs.
// Each test crate uses a different subset.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// Run `safehome` with the default time zone (Vietnam) whatever the caller's environment says.
pub fn safehome(args: &[&str]) -> Output {
    safehome_env(args, &[])
}

/// Run `safehome` with these environment variables (and no other SAFEHOME_UTC_OFFSET).
pub fn safehome_env(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_safehome"));
    c.args(args).env_remove("SAFEHOME_UTC_OFFSET");
    c.envs(vars.iter().copied());
    c.output().expect("runs")
}

pub fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A file under `core/tests/data/<dir>`.
pub fn data_in(dir: &str, name: &str) -> String {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../core/tests/data").join(dir).join(name);
    p.to_string_lossy().into_owned()
}

/// Write `contents` to a file in this test process's temporary directory for `tag`.
pub fn temp(tag: &str, name: &str, contents: &str) -> String {
    let dir = std::env::temp_dir().join(format!("safehome-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p.to_string_lossy().into_owned()
}
