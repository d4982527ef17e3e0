//! `POST /v1/enroll` and `GET /v1/config`: binding a device to a team with a one-time code, and
//! the signed team configuration.

use crate::params;
use crate::sql::{Conn, OptionalExtension};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use safehome_core::evidence::keys::{DevicePublicKey, RecipientKey};
use safehome_core::sync::protocol::{
    CONFIG_SCHEMA, ConfigDevice, ConfigRecipient, EnrollRequest, TeamConfig,
};
use serde_json::Value as Json_;

use crate::auth;
use crate::body::{MAX_JSON_BODY, read_all, require_content_type};
use crate::codes;
use crate::error::ApiError;
use crate::state::AppState;

/// A device id: 1 to 64 characters of letters, digits and `-` (a UUID).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

pub async fn enroll(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Json_>, ApiError> {
    require_content_type(&headers, "application/json")?;
    let bytes = read_all(body, &headers, MAX_JSON_BODY, state.body_timeout).await?;
    let signed = auth::read_headers(&headers)?;
    let request: EnrollRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("body", format!("not an enrollment request: {e}")))?;
    if !valid_id(&request.device_id) {
        return Err(ApiError::bad_request("device_id", "must be 1 to 64 letters, digits or '-'"));
    }
    if request.device_id != signed.device_id {
        return Err(ApiError::bad_request("device_id", "is not the SafeHome-Device header"));
    }
    let key: DevicePublicKey = request
        .device_public_key
        .parse()
        .map_err(|e| ApiError::bad_request("device_public_key", format!("{e}")))?;
    let recipient: Option<RecipientKey> = request
        .recipient_key
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request("recipient_key", format!("{e}")))?;
    // The device is not known yet: the request is signed with the key being enrolled.
    auth::check_body_hash(&signed, &bytes)?;
    auth::check_signature(&signed, &key, &method, &uri)?;
    auth::check_clock(&state, &signed).await?;
    auth::record_nonce(&state, &signed).await?;
    let Some(code) = codes::normalize(&request.code) else {
        return Err(code_unknown());
    };
    let code_sha256 = codes::digest(&code);
    let now = state.now_ms();
    let config = state
        .db
        .call(move |c| bind(c, &code_sha256, &request, &key, recipient.as_ref(), now))
        .await?;
    tracing::info!(device = %config.device_id, team = %config.team, role = %config.role, "enrolled");
    sign(&state, &config)
}

fn code_unknown() -> ApiError {
    ApiError::new(404, "enrollment_code_unknown", "no such enrollment code")
}

/// Bind the device to the code's team and role, under one transaction.
fn bind(
    c: &Conn,
    code_sha256: &str,
    request: &EnrollRequest,
    key: &DevicePublicKey,
    recipient: Option<&RecipientKey>,
    now: i64,
) -> Result<TeamConfig, ApiError> {
    let tx = c.savepoint()?;
    let code = tx
        .query_row(
            "SELECT team, role, expires_at_ms, used_by_device FROM enrollment_codes
             WHERE code_sha256 = ?1",
            [code_sha256],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            },
        )
        .optional()?;
    let Some((team, role, expires_at_ms, used_by)) = code else {
        return Err(code_unknown());
    };
    let device = tx
        .query_row(
            "SELECT public_key, revoked_at_ms FROM devices WHERE device_id = ?1",
            [&request.device_id],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?)),
        )
        .optional()?;
    if let Some((enrolled_key, revoked)) = &device {
        if *enrolled_key != key.to_string() {
            return Err(ApiError::new(
                409,
                "device_conflict",
                "this device id is enrolled with another key",
            ));
        }
        if revoked.is_some() {
            return Err(ApiError::new(403, "device_revoked", "this device was revoked"));
        }
    }
    if let Some(used_by) = used_by {
        // A retry by the device that used the code (its answer was lost) gets the configuration
        // again; the code is "used" only for another device.
        if used_by == request.device_id && device.is_some() {
            return team_config(&tx, &request.device_id, now);
        }
        return Err(ApiError::new(410, "enrollment_code_used", "this code was already used"));
    }
    if expires_at_ms <= now {
        return Err(ApiError::new(410, "enrollment_code_expired", "this code has expired"));
    }
    // Every device may bring an inbox key (decisions about its records are sealed to it); a
    // supervisor's must, as it also joins the team's recipients.
    let is_supervisor = role == "supervisor";
    if is_supervisor && recipient.is_none() {
        return Err(ApiError::bad_request(
            "recipient_key",
            "a supervisor's device must bring its recipient key",
        ));
    }
    let inbox = recipient.map(ToString::to_string);
    tx.execute(
        "INSERT INTO devices (device_id, public_key, team, role, enrolled_at_ms, app_version, inbox_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (device_id) DO UPDATE SET team = ?3, role = ?4, app_version = ?6, inbox_key = ?7",
        params![request.device_id, key.to_string(), team, role, now, request.app_version, inbox],
    )?;
    tx.execute(
        "UPDATE enrollment_codes SET used_by_device = ?2, used_at_ms = ?3 WHERE code_sha256 = ?1",
        params![code_sha256, request.device_id, now],
    )?;
    tx.execute("DELETE FROM recipients WHERE device_id = ?1", [&request.device_id])?;
    if let Some(recipient) = recipient.filter(|_| is_supervisor) {
        let short = request.device_id.get(..8).unwrap_or(&request.device_id);
        tx.execute(
            "INSERT INTO recipients (team, public_key, kind, label, device_id, added_at_ms)
             VALUES (?1, ?2, 'supervisor', ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            params![
                team,
                recipient.to_string(),
                format!("Supervisor {short}"),
                request.device_id,
                now
            ],
        )?;
    }
    let config = team_config(&tx, &request.device_id, now)?;
    tx.commit()?;
    Ok(config)
}

/// The current configuration of a device's team: the archive's key first, then each
/// supervisor's whose device is not revoked, in the order they enrolled.
pub fn team_config(c: &Conn, device_id: &str, now: i64) -> Result<TeamConfig, ApiError> {
    let (team, role, communes): (String, String, String) = c.query_row(
        "SELECT d.team, d.role, t.communes FROM devices d JOIN teams t ON t.team = d.team
         WHERE d.device_id = ?1",
        [device_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let communes: Vec<String> =
        serde_json::from_str(&communes).map_err(|_| ApiError::internal("team communes"))?;
    let mut stmt = c.prepare_cached(
        "SELECT r.public_key, r.kind, r.label FROM recipients r
         LEFT JOIN devices d ON d.device_id = r.device_id
         WHERE r.team = ?1 AND (r.device_id IS NULL OR d.revoked_at_ms IS NULL)
         ORDER BY r.kind <> 'archive', r.added_at_ms, r.public_key",
    )?;
    let recipients = stmt
        .query_map([&team], |r| {
            Ok(ConfigRecipient { public_key: r.get(0)?, kind: r.get(1)?, label: r.get(2)? })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut stmt = c.prepare_cached(
        "SELECT device_id, role, public_key, inbox_key, revoked_at_ms FROM devices
         WHERE team = ?1 ORDER BY enrolled_at_ms, device_id",
    )?;
    let devices = stmt
        .query_map([&team], |r| {
            Ok(ConfigDevice {
                device_id: r.get(0)?,
                role: r.get(1)?,
                public_key: r.get(2)?,
                inbox_key: r.get(3)?,
                revoked_at_ms: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TeamConfig {
        schema: CONFIG_SCHEMA.into(),
        team,
        communes,
        device_id: device_id.into(),
        role,
        recipients,
        devices,
        server_public_key: String::new(),
        issued_at_ms: now,
    })
}

/// Name the server's key in the configuration and sign it.
fn sign(state: &AppState, config: &TeamConfig) -> Result<Json<Json_>, ApiError> {
    let mut config = config.clone();
    config.server_public_key = state.public.to_string();
    let mut document =
        config.sign(&state.key).map_err(|_| ApiError::internal("signing a configuration"))?;
    // A phone pinned to an earlier key re-pins by these (signed by the key each replaces).
    if !state.rotations.is_empty() {
        document["key_rotations"] = Json_::Array(state.rotations.clone());
    }
    Ok(Json(document))
}

pub async fn config(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Json_>, ApiError> {
    let (device, _) =
        auth::read_signed(&state, &method, &uri, &headers, body, MAX_JSON_BODY).await?;
    let now = state.now_ms();
    let config = state.db.call(move |c| team_config(c, &device.device_id, now)).await?;
    sign(&state, &config)
}
