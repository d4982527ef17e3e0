//! PostgreSQL's half of backups and restores, by PostgreSQL's own tools: `pg_dump` (custom
//! format) of the very snapshot the manifest is read from, and `pg_restore` into an empty
//! database in one transaction.
//!
//! The snapshot: a `REPEATABLE READ` transaction exports its snapshot
//! (`pg_export_snapshot()`), `pg_dump --snapshot` dumps exactly that state, and the manifest is
//! read in the same transaction, so the digests listed are those of the rows dumped, however
//! many uploads commit meanwhile. The URL's password, if any, reaches the tools through
//! `PGPASSWORD`, never their command line.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::error::ServerError;
use crate::sql::{Conn, PgSettings};

/// Where the tools are: `SAFEHOME_PG_BIN` (a folder), else the `PATH`.
fn tool(name: &str, url: &str) -> Result<Command, ServerError> {
    let config: postgres::Config = url
        .parse()
        .map_err(|e| ServerError::Invalid(format!("the PostgreSQL URL is not valid: {e}")))?;
    let program = match std::env::var_os("SAFEHOME_PG_BIN") {
        Some(dir) => Path::new(&dir).join(name),
        None => name.into(),
    };
    let mut cmd = Command::new(program);
    if let Some(host) = config.get_hosts().first() {
        match host {
            postgres::config::Host::Tcp(h) => cmd.args(["--host", h]),
            postgres::config::Host::Unix(p) => cmd.arg("--host").arg(p),
        };
    }
    if let Some(port) = config.get_ports().first() {
        cmd.args(["--port", &port.to_string()]);
    }
    if let Some(user) = config.get_user() {
        cmd.args(["--username", user]);
    }
    if let Some(db) = config.get_dbname() {
        cmd.args(["--dbname", db]);
    }
    match config.get_password() {
        Some(pw) => cmd.env("PGPASSWORD", String::from_utf8_lossy(pw).as_ref()),
        None => cmd.env_remove("PGPASSWORD"),
    };
    cmd.arg("--no-password");
    Ok(cmd)
}

fn run(mut cmd: Command, what: &str) -> Result<(), ServerError> {
    let out = cmd.output().map_err(ServerError::io(format!(
        "running {what} (PostgreSQL's client tools; SAFEHOME_PG_BIN names their folder)"
    )))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(ServerError::Invalid(format!("{what} failed: {}", err.trim())));
    }
    Ok(())
}

/// A backup's connection: no statement timeout (the manifest streams every body) and no idle
/// limit (the transaction waits while `pg_dump` runs).
fn patient(settings: &PgSettings) -> PgSettings {
    PgSettings {
        statement_timeout: Duration::ZERO,
        idle_in_transaction: Duration::ZERO,
        ..settings.clone()
    }
}

/// Dump the database at `url` into `file`, and call `read` in the same snapshot.
pub fn dump<T>(
    url: &str,
    settings: &PgSettings,
    file: &Path,
    read: impl FnOnce(&Conn) -> Result<T, ServerError>,
) -> Result<T, ServerError> {
    let conn = Conn::postgres(url, &patient(settings))?;
    conn.execute_batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
    let snapshot: String = conn.query_row("SELECT pg_export_snapshot()", [], |r| r.get(0))?;
    let mut cmd = tool("pg_dump", url)?;
    cmd.args(["--format=custom", "--no-owner", "--no-privileges", "--snapshot", &snapshot]);
    cmd.arg("--file").arg(file);
    run(cmd, "pg_dump")?;
    let read = read(&conn)?;
    conn.execute_batch("COMMIT")?;
    // The dump holds every record: readable by the server's user only, and on disk.
    std::fs::set_permissions(file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(ServerError::io(format!("protecting {}", file.display())))?;
    std::fs::File::open(file)
        .and_then(|f| f.sync_all())
        .map_err(ServerError::io(format!("syncing {}", file.display())))?;
    Ok(read)
}

/// Load `file` into the empty database at `url` (`shown`: how to name it in messages), as one
/// transaction: a failure leaves it empty.
pub fn load(url: &str, settings: &PgSettings, file: &Path, shown: &str) -> Result<(), ServerError> {
    let conn = Conn::postgres(url, settings)?;
    let taken: bool =
        conn.query_row("SELECT to_regclass('safehome_schema') IS NOT NULL", [], |r| r.get(0))?;
    if taken {
        return Err(ServerError::Exists(format!(
            "{shown} already holds a SafeHome schema: restore into an empty database"
        )));
    }
    drop(conn);
    let mut cmd = tool("pg_restore", url)?;
    cmd.args(["--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges"]);
    cmd.arg(file);
    run(cmd, "pg_restore")
}
