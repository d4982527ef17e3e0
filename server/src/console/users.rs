//! Console users: roles and the communes they oversee, argon2id password hashes, and the
//! operator's functions that add, list and unlock them (`safehome-server user ...`).

use std::str::FromStr;

use crate::params;
use crate::sql::{Conn, OptionalExtension};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use safehome_core::clock::{Entropy, SystemEntropy};
use serde::Serialize;

use crate::error::ServerError;

/// What a console user may see: an admin every commune, a district officer several, a commune
/// officer one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleRole {
    Admin,
    District,
    Commune,
}

impl ConsoleRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsoleRole::Admin => "admin",
            ConsoleRole::District => "district",
            ConsoleRole::Commune => "commune",
        }
    }
}

impl FromStr for ConsoleRole {
    type Err = ServerError;
    fn from_str(s: &str) -> Result<ConsoleRole, ServerError> {
        match s {
            "admin" => Ok(ConsoleRole::Admin),
            "district" => Ok(ConsoleRole::District),
            "commune" => Ok(ConsoleRole::Commune),
            _ => Err(ServerError::Invalid(format!(
                "unknown console role {s:?} (admin, district or commune)"
            ))),
        }
    }
}

/// The shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 12;

/// argon2id with OWASP's first recommended setting (19 MiB, 2 passes, 1 lane).
fn hasher() -> Result<Argon2<'static>, ServerError> {
    let params = Params::new(19 * 1024, 2, 1, None)
        .map_err(|e| ServerError::Invalid(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// A password's argon2id hash as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub fn hash_password(password: &str) -> Result<String, ServerError> {
    let mut salt = [0u8; 16];
    SystemEntropy::default().fill(&mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| ServerError::Invalid(format!("password salt: {e}")))?;
    Ok(hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| ServerError::Invalid(format!("hashing the password: {e}")))?
        .to_string())
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash).
pub fn verify_password(hash: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    hasher().is_ok_and(|h| h.verify_password(password.as_bytes(), &parsed).is_ok())
}

/// One console user, as `safehome-server user list` shows it (never the hash).
#[derive(Debug, Clone, Serialize)]
pub struct UserRow {
    pub username: String,
    pub role: ConsoleRole,
    pub communes: Vec<String>,
    pub created_at_ms: i64,
    pub locked_until_ms: Option<i64>,
    pub disabled: bool,
}

fn check_username(name: &str) -> Result<(), ServerError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ServerError::Invalid(
            "a user name is 1 to 64 characters of a-z, 0-9, '.', '_' or '-'".into(),
        ))
    }
}

/// The communes a role may be given: none for an admin, one for a commune officer, one or more
/// for a district officer.
pub fn check_communes(role: ConsoleRole, communes: &[String]) -> Result<(), ServerError> {
    let ok = match role {
        ConsoleRole::Admin => communes.is_empty(),
        ConsoleRole::District => !communes.is_empty(),
        ConsoleRole::Commune => communes.len() == 1,
    };
    if !ok {
        return Err(ServerError::Invalid(match role {
            ConsoleRole::Admin => "an admin oversees every commune: give no --communes".into(),
            ConsoleRole::District => "a district officer needs one or more --communes".into(),
            ConsoleRole::Commune => "a commune officer needs exactly one --communes".into(),
        }));
    }
    for c in communes {
        let valid = !c.is_empty() && c.len() <= 64 && c.chars().all(|c| c.is_ascii_alphanumeric());
        if !valid {
            return Err(ServerError::Invalid(format!("{c:?} is not a commune code")));
        }
    }
    Ok(())
}

/// Add a console user.
pub fn add_user(
    conn: &Conn,
    username: &str,
    role: ConsoleRole,
    communes: &[String],
    password: &str,
    now_ms: i64,
) -> Result<(), ServerError> {
    check_username(username)?;
    check_communes(role, communes)?;
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ServerError::Invalid(format!(
            "a password has at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    let exists: Option<i64> = conn
        .query_row("SELECT 1 FROM console_users WHERE username = ?1", [username], |r| r.get(0))
        .optional()?;
    if exists.is_some() {
        return Err(ServerError::Exists(format!("the user {username} already exists")));
    }
    let communes_json = serde_json::to_string(communes)
        .map_err(|e| ServerError::Invalid(format!("communes: {e}")))?;
    conn.execute(
        "INSERT INTO console_users (username, role, communes, password_hash, created_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![username, role.as_str(), communes_json, hash_password(password)?, now_ms],
    )?;
    Ok(())
}

/// Lift a lockout (and reset the failed-login count).
pub fn unlock_user(conn: &Conn, username: &str) -> Result<(), ServerError> {
    let n = conn.execute(
        "UPDATE console_users SET failed_logins = 0, locked_until_ms = NULL WHERE username = ?1",
        [username],
    )?;
    ServerError::found(n, || format!("no user {username}"))
}

/// Disable a user and end their sessions.
pub fn disable_user(conn: &Conn, username: &str, now_ms: i64) -> Result<(), ServerError> {
    let n = conn.execute(
        "UPDATE console_users SET disabled_at_ms = COALESCE(disabled_at_ms, ?2) WHERE username = ?1",
        params![username, now_ms],
    )?;
    ServerError::found(n, || format!("no user {username}"))?;
    conn.execute("DELETE FROM console_sessions WHERE username = ?1", [username])?;
    Ok(())
}

pub fn list_users(conn: &Conn) -> Result<Vec<UserRow>, ServerError> {
    let mut stmt = conn.prepare(
        "SELECT username, role, communes, created_at_ms, locked_until_ms, disabled_at_ms
         FROM console_users ORDER BY username",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<i64>>(5)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(username, role, communes, created_at_ms, locked_until_ms, disabled)| {
            Ok(UserRow {
                role: role.parse()?,
                communes: serde_json::from_str(&communes)
                    .map_err(|e| ServerError::Invalid(format!("user {username}: {e}")))?,
                username,
                created_at_ms,
                locked_until_ms,
                disabled: disabled.is_some(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn a_password_hash_is_argon2id_salted_and_verifies_only_its_password() {
        let a = hash_password("correct horse battery").unwrap();
        let b = hash_password("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "a salt per hash");
        assert!(verify_password(&a, "correct horse battery"));
        assert!(!verify_password(&a, "correct horse batterz"));
        assert!(!verify_password("not a hash", "correct horse battery"));
    }

    #[test]
    fn roles_take_the_communes_they_oversee() {
        let one = vec!["05569".to_string()];
        let two = vec!["05569".to_string(), "05662".to_string()];
        assert!(check_communes(ConsoleRole::Admin, &[]).is_ok());
        assert!(check_communes(ConsoleRole::Admin, &one).is_err());
        assert!(check_communes(ConsoleRole::Commune, &one).is_ok());
        assert!(check_communes(ConsoleRole::Commune, &two).is_err());
        assert!(check_communes(ConsoleRole::District, &two).is_ok());
        assert!(check_communes(ConsoleRole::District, &[]).is_err());
        assert!(check_communes(ConsoleRole::District, &["<b>".to_string()]).is_err());
    }
}
