//! What a case measures besides time: the server processes' CPU and peak memory (Linux
//! `/proc`), the data folder's size, and the database's size, SQLite's by its files and
//! PostgreSQL's by asking it.

use std::path::Path;

pub fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// User + system CPU time of a process, ms (Linux: /proc, 100 ticks per second).
pub fn process_cpu_ms(pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
    Ok((ticks(11) + ticks(12)) * 10.0)
}

/// CPU of every PostgreSQL process on this machine (the postmaster, its backends and helpers),
/// ms: what the database costs, on the bench's own loopback cluster. A backend that exits
/// during the run takes its time with it; the servers' pooled connections live throughout.
pub fn postgres_cpu_ms() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0.0 };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .filter_map(|pid| process_cpu_ms(pid).ok())
        .sum()
}

/// Peak resident memory of a process (VmHWM), MiB.
pub fn peak_rss_mib(pid: u32) -> Result<f64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .ok_or_else(|| "no VmHWM".into())
}

/// A PostgreSQL URL (rather than another kind of `--database`).
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The database's size in bytes, or `None` where it cannot be known here (no `psql`, or a
/// kind of database this bench does not know how to size): the caller reports "n/a".
///
/// SQLite: `server.db` and its WAL (measured with the servers stopped, the WAL is then
/// checkpointed into the file). PostgreSQL: `pg_database_size` of the URL's database.
pub fn database_bytes(data: &Path, database: Option<&str>) -> Result<Option<u64>, String> {
    match database {
        None => {
            let size = |name: &str| std::fs::metadata(data.join(name)).map_or(0, |m| m.len());
            Ok(Some(size("server.db") + size("server.db-wal")))
        }
        Some(url) if is_postgres(url) => postgres_bytes(url),
        Some(_) => Ok(None),
    }
}

/// `pg_database_size(current_database())`, through the server's own database layer.
pub fn postgres_bytes(url: &str) -> Result<Option<u64>, String> {
    let conn =
        safehome_server::sql::Conn::postgres(url, &safehome_server::sql::PgSettings::default())
            .map_err(|e| e.to_string())?;
    let size: i64 = conn
        .query_row("SELECT pg_database_size(current_database())", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    Ok(u64::try_from(size).ok())
}

/// A database URL as it may be printed: without its password.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split_once(':').map_or(user_info, |(user, _)| user);
            let hidden = if user_info.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_not_printed() {
        assert_eq!(
            redact("postgres://bench:s3cret@127.0.0.1:5432/safehome"),
            "postgres://bench:***@127.0.0.1:5432/safehome"
        );
        assert_eq!(redact("postgres://bench@127.0.0.1/db"), "postgres://bench@127.0.0.1/db");
        assert_eq!(redact("postgres://127.0.0.1/db"), "postgres://127.0.0.1/db");
    }

    #[test]
    fn sqlite_is_sized_by_its_files() {
        let dir = std::env::temp_dir().join(format!("safehome-measure-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string()).ok();
        std::fs::write(dir.join("server.db"), [0u8; 100]).ok();
        std::fs::write(dir.join("server.db-wal"), [0u8; 20]).ok();
        assert_eq!(database_bytes(&dir, None), Ok(Some(120)));
        assert_eq!(database_bytes(&dir, Some("mysql://x")), Ok(None));
        std::fs::remove_dir_all(&dir).ok();
    }
}
