//! Enrollment (docs/protocol.md, `POST /v1/enroll`): the device presents a one-time code and its
//! public key, signed with that key; the server answers the signed team configuration, whose
//! key the device pins. The team, communes and recipients then come from the server.

use super::engine::{apply_config, json_headers, parse_json, sign_request, to_json};
use super::protocol::{EnrollRequest, ErrorBody, ErrorClass, H_SERVER_TIME, TeamConfig, classify};
use super::report::SyncError;
use super::transport::Transport;
use crate::evidence::keys::ServerPublicKey;
use crate::store::Store;
use crate::store::profiles::{Actor, Permission};

/// The longest base URL kept.
const MAX_URL: usize = 512;

/// A server base URL as kept: `http(s)://…`, no trailing slash, no spaces.
pub fn normalize_base_url(url: &str) -> Result<String, SyncError> {
    let url = url.trim().trim_end_matches('/');
    let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
    let host = url.split_once("://").map_or("", |(_, rest)| rest);
    if !scheme_ok || host.is_empty() || url.len() > MAX_URL || url.chars().any(char::is_whitespace)
    {
        return Err(SyncError::Invalid {
            field: "server",
            message: "must be an http:// or https:// URL".into(),
        });
    }
    Ok(url.to_string())
}

/// Enroll this device with the server `transport` talks to (whose base URL is `base_url`, kept
/// for later syncs) using a one-time `code`. `expect_server_key` (`shserver1…`, as
/// `safehome-server init` printed it) is checked against the key the configuration names, if
/// given. A device already enrolled accepts only a configuration signed by the key it pinned.
/// The device sends its recipient key (`shrecip1…`): `recipient_key` if given, else its own
/// inbox key. Decisions about its records are sealed to it, and on a supervisor's device the
/// team's submissions too (the server adds it to the team's recipients for a supervisor code). Needs a profile that may configure the team. Returns the verified
/// configuration.
pub fn enroll(
    store: &Store,
    actor: &Actor,
    transport: &dyn Transport,
    base_url: &str,
    code: &str,
    expect_server_key: Option<&str>,
    recipient_key: Option<&str>,
) -> Result<TeamConfig, SyncError> {
    actor.require(Permission::ConfigureTeam)?;
    let base_url = normalize_base_url(base_url)?;
    let expect: Option<ServerPublicKey> =
        expect_server_key
            .map(|k| k.trim().parse())
            .transpose()
            .map_err(|e| SyncError::Invalid { field: "server_key", message: format!("{e}") })?;
    let recipient_key = recipient_key
        .map(|k| k.trim().parse::<crate::evidence::keys::RecipientKey>())
        .transpose()
        .map_err(|e| SyncError::Invalid { field: "recipient_key", message: format!("{e}") })?
        .map(|k| k.to_string());
    // Without a key given, the device's own inbox: decisions about its records are sealed to
    // it, and a supervisor's device opens the team's submissions with it.
    let recipient_key = match recipient_key {
        Some(k) => k,
        None => store.inbox_key()?.to_string(),
    };
    let code = code.trim();
    if code.is_empty() || code.len() > 64 {
        return Err(SyncError::Invalid {
            field: "code",
            message: "must be 1 to 64 characters".into(),
        });
    }
    let state = store.sync_state()?;
    let body = to_json(&EnrollRequest {
        code: code.to_string(),
        device_id: store.device_id().to_string(),
        device_public_key: store.device_key().public().to_string(),
        recipient_key: Some(recipient_key),
        app_version: crate::VERSION.to_string(),
    })?;
    let mut offset = state.clock_offset_ms;
    let mut skew_retried = false;
    loop {
        let request =
            sign_request(store, offset, "POST", "/v1/enroll".into(), json_headers(), body.clone());
        let response = transport.send(&request).map_err(SyncError::Unreachable)?;
        let server_time = response.header(H_SERVER_TIME).and_then(|v| v.trim().parse::<i64>().ok());
        if (200..300).contains(&response.status) {
            let document = parse_json(&response.body)
                .map_err(|detail| SyncError::BadResponse { what: "enroll", detail })?;
            let (config, key) =
                TeamConfig::verify_first(&document, expect.as_ref()).map_err(|e| match expect {
                    Some(x) => SyncError::ServerKeyMismatch {
                        expected: x.to_string(),
                        found: document
                            .get("config")
                            .and_then(|c| c.get("server_public_key"))
                            .and_then(|k| k.as_str())
                            .unwrap_or("")
                            .chars()
                            .take(100)
                            .collect(),
                    },
                    None => SyncError::BadResponse { what: "enroll", detail: e.to_string() },
                })?;
            if let Some(pinned) = &state.server_key {
                if *pinned != key.to_string() {
                    return Err(SyncError::ServerKeyMismatch {
                        expected: pinned.clone(),
                        found: key.to_string(),
                    });
                }
            }
            apply_config(store, Some(actor), &config, &response.body, Some(&base_url), true)?;
            if let Some(t) = server_time {
                let offset = t.saturating_sub(store.now_ms());
                store.update_sync_state(None, None, |s| {
                    s.clock_offset_ms = offset;
                    Ok(())
                })?;
            }
            tracing::info!(
                "enrolled with team {} ({} recipient(s))",
                config.team,
                config.recipients.len()
            );
            return Ok(config);
        }
        let error: ErrorBody = parse_json(&response.body)
            .ok()
            .and_then(|j| serde_json::from_value(j).ok())
            .unwrap_or_else(|| ErrorBody::new("", ""));
        let code: String = error.code.chars().take(64).collect();
        let class = classify(response.status, &code);
        if class == ErrorClass::ClockSkew && !skew_retried {
            skew_retried = true;
            let t = error.extra.get("server_time_ms").and_then(|v| v.as_i64()).or(server_time);
            if let Some(t) = t {
                offset = t.saturating_sub(store.now_ms());
                continue;
            }
        }
        let message: String = error.message.chars().filter(|c| !c.is_control()).take(200).collect();
        return Err(match class {
            ErrorClass::Retry | ErrorClass::ClockSkew => {
                SyncError::Unavailable { what: "the enrollment", status: response.status, code }
            }
            ErrorClass::Park | ErrorClass::Stop => SyncError::Refused {
                what: "the enrollment",
                status: response.status,
                code,
                message,
            },
        });
    }
}
