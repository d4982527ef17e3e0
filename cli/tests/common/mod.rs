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

/// A device: its own database and data key in a temporary folder (removed on drop), and
/// `safehome` run on it as the profile whose PIN is given.
pub struct Device {
    pub dir: PathBuf,
}

impl Device {
    pub fn new(tag: &str) -> Device {
        let dir =
            std::env::temp_dir().join(format!("safehome-cli-dev-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Device { dir }
    }

    /// Run `safehome` on this device's database as the profile whose PIN is `pin` (a
    /// supervisor adding profiles uses 1111).
    pub fn run(&self, pin: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_safehome"))
            .args(args)
            .env("SAFEHOME_DB", self.dir.join("safehome.db"))
            .env("SAFEHOME_KEY_FILE", self.dir.join("data.key"))
            .env("SAFEHOME_PIN", pin)
            .env("SAFEHOME_SUPERVISOR_PIN", "1111")
            .env_remove("SAFEHOME_UTC_OFFSET")
            .output()
            .expect("runs")
    }

    /// `run`, which must succeed; its stdout.
    pub fn ok(&self, pin: &str, args: &[&str]) -> String {
        let o = self.run(pin, args);
        assert_eq!(code(&o), 0, "{args:?}: {}{}", stdout(&o), stderr(&o));
        stdout(&o)
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
