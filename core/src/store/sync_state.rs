//! The device's link to its team server (docs/protocol.md): the base URL, the server key pinned
//! at enrollment, the signed team configuration as received, the clock offset learned from the
//! server, and the outcome of the last sync and checkin.
//!
//! The pinned key decides which receipts and configurations the phone believes, so the row is
//! integrity-protected: `row_mac` is an HMAC (the `row-mac` key, as for profiles) over every
//! field and the sequence number of the latest `sync` audit entry. An edit made without the data
//! key (another server key pasted in), the row deleted after an enrollment, or the row put back
//! to an earlier state together with that state's MAC reads as [`StoreError::Tampered`].

use std::str::FromStr;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;

use super::json;
use super::profiles::{Actor, Permission};
use super::team::RecipientKind;
use super::{Action, Store, StoreError};
use crate::crypto::KeyHierarchy;
use crate::evidence::envelope::MAX_RECIPIENTS;
use crate::evidence::keys::RecipientKey;

/// The audit entity of enrollment and sync entries (its id is the device id).
pub(crate) const SYNC_ENTITY: &str = "sync";
/// The most communes a team configuration may give a device.
const MAX_COMMUNES: usize = 1_000;
/// The longest team name or recipient label kept.
const MAX_LABEL: usize = 200;

/// What the device knows about its server. Times in ms since the epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncState {
    /// The server's base URL (`https://host`), set at enrollment.
    pub base_url: Option<String>,
    /// The server's key (`shserver1…`), pinned at enrollment; `None`: not enrolled.
    pub server_key: Option<String>,
    /// The signed team configuration (`{"config": …, "signature": …}`) as last applied.
    pub config: Option<String>,
    /// Server time minus device time, as last learned.
    pub clock_offset_ms: i64,
    /// When the last sync ended (device clock).
    pub last_sync_at_ms: Option<i64>,
    /// The last sync's summary (JSON: result and counts, see `sync::SyncSummary`).
    pub last_sync: Option<String>,
    /// The server's answer to the last checkin (JSON).
    pub last_checkin: Option<String>,
    /// Whether the last checkin answered that the audit chain went backwards (a database
    /// restored from an old copy).
    pub regression: bool,
}

impl SyncState {
    pub fn is_enrolled(&self) -> bool {
        self.server_key.is_some()
    }

    fn mac_fields(&self, audit_seq: i64) -> [Vec<u8>; 9] {
        fn text(v: &Option<String>) -> Vec<u8> {
            match v {
                None => vec![0],
                Some(s) => {
                    let mut out = vec![1];
                    out.extend_from_slice(s.as_bytes());
                    out
                }
            }
        }
        [
            audit_seq.to_be_bytes().to_vec(),
            text(&self.base_url),
            text(&self.server_key),
            text(&self.config),
            self.clock_offset_ms.to_be_bytes().to_vec(),
            match self.last_sync_at_ms {
                None => vec![0],
                Some(t) => [&[1u8][..], &t.to_be_bytes()].concat(),
            },
            text(&self.last_sync),
            text(&self.last_checkin),
            vec![u8::from(self.regression)],
        ]
    }

    fn mac(&self, keys: &KeyHierarchy, device_id: &str, audit_seq: i64) -> [u8; 32] {
        let f = self.mac_fields(audit_seq);
        keys.mac_row("sync_state", device_id, &f.each_ref().map(Vec::as_slice))
    }
}

/// The number of the latest `sync` audit entry of this device (0: none).
fn latest_sync_seq(conn: &Connection, device_id: &str) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT coalesce(max(seq), 0) FROM audit WHERE entity = ?1 AND entity_id = ?2",
        params![SYNC_ENTITY, device_id],
        |r| r.get(0),
    )?)
}

/// The row, its MAC checked. No row is the initial state, unless the audit chain says the
/// device enrolled or synced (then the row was deleted).
fn load(conn: &Connection, keys: &KeyHierarchy, device_id: &str) -> Result<SyncState, StoreError> {
    type Row = (
        Option<String>,
        Option<String>,
        Option<String>,
        i64,
        Option<i64>,
        Option<String>,
        Option<String>,
        bool,
        Vec<u8>,
    );
    let row: Option<Row> = conn
        .query_row(
            "SELECT base_url, server_key, config, clock_offset_ms, last_sync_at, last_sync,
                    last_checkin, regression, row_mac FROM sync_state WHERE device_id = ?1",
            params![device_id],
            |r| Row::try_from(r),
        )
        .optional()?;
    let seq = latest_sync_seq(conn, device_id)?;
    let tampered = || StoreError::Tampered { table: "sync_state", row: device_id.to_string() };
    let Some((base_url, server_key, config, offset, at, last, checkin, regression, mac)) = row
    else {
        return if seq == 0 { Ok(SyncState::default()) } else { Err(tampered()) };
    };
    let state = SyncState {
        base_url,
        server_key,
        config,
        clock_offset_ms: offset,
        last_sync_at_ms: at,
        last_sync: last,
        last_checkin: checkin,
        regression,
    };
    let f = state.mac_fields(seq);
    if keys.verify_row("sync_state", device_id, &f.each_ref().map(Vec::as_slice), &mac) {
        Ok(state)
    } else {
        Err(tampered())
    }
}

/// Write the row with its new MAC (after any audit entry of the change).
fn save(
    tx: &Transaction<'_>,
    keys: &KeyHierarchy,
    device_id: &str,
    s: &SyncState,
) -> Result<(), StoreError> {
    let mac = s.mac(keys, device_id, latest_sync_seq(tx, device_id)?);
    tx.execute(
        "INSERT INTO sync_state (device_id, base_url, server_key, config, clock_offset_ms,
            last_sync_at, last_sync, last_checkin, regression, row_mac)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(device_id) DO UPDATE SET base_url = excluded.base_url,
            server_key = excluded.server_key, config = excluded.config,
            clock_offset_ms = excluded.clock_offset_ms, last_sync_at = excluded.last_sync_at,
            last_sync = excluded.last_sync, last_checkin = excluded.last_checkin,
            regression = excluded.regression, row_mac = excluded.row_mac",
        params![
            device_id,
            s.base_url,
            s.server_key,
            s.config,
            s.clock_offset_ms,
            s.last_sync_at_ms,
            s.last_sync,
            s.last_checkin,
            s.regression,
            mac.to_vec()
        ],
    )?;
    Ok(())
}

/// A team configuration to apply: what a verified `TeamConfig` says, in the store's terms.
#[derive(Debug, Clone)]
pub(crate) struct TeamUpdate<'a> {
    /// Enrollment (pins `server_key`, sets `base_url`) rather than a sync's refresh.
    pub enrolling: bool,
    pub base_url: Option<&'a str>,
    /// `shserver1…`: must equal the pinned key, if one is pinned.
    pub server_key: &'a str,
    /// The signed document as received.
    pub config_json: &'a str,
    pub team: &'a str,
    pub communes: &'a [String],
    /// Public key text, kind text (`archive`, `supervisor`), label.
    pub recipients: &'a [(String, String, String)],
}

impl Store {
    /// The device's link to its server. `Tampered` if the row was changed without the data key.
    pub fn sync_state(&self) -> Result<SyncState, StoreError> {
        let conn = self.reader()?;
        load(&conn, self.keys(), self.device_id())
    }

    /// Change the sync state in one transaction: `audit` (if any) is appended first, then `f`
    /// changes the state read under the same lock and it is saved with its new MAC.
    pub(crate) fn update_sync_state<T>(
        &self,
        actor: Option<&str>,
        audit: Option<Action>,
        f: impl FnOnce(&mut SyncState) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write(|tx, s| {
            let mut state = load(tx, s.keys(), s.device_id())?;
            let out = f(&mut state)?;
            if let Some(action) = audit {
                s.audit(tx, actor, action, SYNC_ENTITY, s.device_id())?;
            }
            save(tx, s.keys(), s.device_id(), &state)?;
            Ok(out)
        })
    }

    /// Replace the pinned server key `from` by `to`: the sync layer has verified a rotation
    /// signed by `from` (`sync::protocol::KeyRotation::follow`). Audited (`repinned`).
    pub(crate) fn repin_server_key(&self, from: &str, to: &str) -> Result<(), StoreError> {
        self.update_sync_state(None, Some(Action::Repinned), |s| {
            if s.server_key.as_deref() != Some(from) {
                return Err(StoreError::Invalid {
                    field: "server_public_key",
                    message: "is not the key pinned here".into(),
                });
            }
            s.server_key = Some(to.to_string());
            Ok(())
        })
    }

    /// Apply a verified team configuration: the team, its communes and the recipients replace
    /// what was set (by hand with `enroll`/`add_recipient`, or by an earlier configuration);
    /// enrollment also pins the server key and keeps the base URL. A key other than the pinned
    /// one is refused (`Invalid`, field `server_public_key`), nothing written. Returns whether
    /// the team, communes or recipients changed (a refresh that changes nothing writes nothing).
    pub(crate) fn apply_team_config(
        &self,
        by: Option<&Actor>,
        update: &TeamUpdate<'_>,
    ) -> Result<bool, StoreError> {
        if let Some(a) = by {
            a.require(Permission::ConfigureTeam)?;
        }
        // What a server can make the phone keep: an envelope's worth of recipients, a bounded
        // list of communes and short labels.
        if update.recipients.len() > MAX_RECIPIENTS {
            return Err(StoreError::Invalid {
                field: "config.recipients",
                message: format!("at most {MAX_RECIPIENTS}"),
            });
        }
        if update.communes.len() > MAX_COMMUNES {
            return Err(StoreError::Invalid {
                field: "config.communes",
                message: format!("at most {MAX_COMMUNES}"),
            });
        }
        if update.recipients.iter().any(|(_, _, label)| label.chars().count() > MAX_LABEL) {
            return Err(StoreError::Invalid {
                field: "config.recipients.label",
                message: format!("at most {MAX_LABEL} characters"),
            });
        }
        if update.team.is_empty() || update.team.chars().count() > MAX_LABEL {
            return Err(StoreError::Invalid {
                field: "config.team",
                message: format!("1 to {MAX_LABEL} characters"),
            });
        }
        for c in update.communes {
            if !(c.len() == 5 && c.bytes().all(|b| b.is_ascii_digit())) {
                return Err(StoreError::Invalid {
                    field: "config.communes",
                    message: "each must be a 5-digit code".into(),
                });
            }
        }
        let mut recipients = Vec::with_capacity(update.recipients.len());
        for (key, kind, label) in update.recipients {
            let key = RecipientKey::from_str(key.trim()).map_err(|e| StoreError::Invalid {
                field: "config.recipients.public_key",
                message: e.to_string(),
            })?;
            let kind = RecipientKind::from_str(kind).map_err(|_| StoreError::Invalid {
                field: "config.recipients.kind",
                message: "must be archive or supervisor".into(),
            })?;
            recipients.push((key.to_string(), kind, label.clone()));
        }
        recipients.sort_by(|a, b| a.0.cmp(&b.0));
        recipients.dedup_by(|a, b| a.0 == b.0);
        let communes = json::to_string("communes", update.communes)?;
        let actor = by.map(Actor::profile_id);
        self.write(|tx, s| {
            let mut state = load(tx, s.keys(), s.device_id())?;
            match &state.server_key {
                Some(pinned) if pinned != update.server_key => {
                    return Err(StoreError::Invalid {
                        field: "server_public_key",
                        message: "is not the server key pinned at enrollment".into(),
                    });
                }
                None if !update.enrolling => {
                    return Err(StoreError::InvalidState {
                        entity: "device",
                        id: s.device_id().to_string(),
                        state: "not enrolled".into(),
                        action: "apply a team configuration",
                    });
                }
                _ => {}
            }
            let changed = s.team_differs(tx, update.team, &communes, &recipients)?;
            if changed {
                tx.execute(
                    "UPDATE device SET team = ?2, communes = ?3 WHERE id = ?1",
                    params![s.device_id(), update.team, communes],
                )?;
                tx.execute("DELETE FROM recipients", [])?;
                for (key, kind, label) in &recipients {
                    let label = s.keys().column.encrypt_str("recipients", "label", key, label)?;
                    tx.execute(
                        "INSERT INTO recipients (public_key, label_enc, kind, added_at)
                         VALUES (?1, ?2, ?3, ?4)",
                        params![key, label, kind, s.now_ms()],
                    )?;
                }
                s.audit(tx, actor, Action::Configured, "device", s.device_id())?;
            }
            if update.enrolling {
                state.server_key = Some(update.server_key.to_string());
                if let Some(url) = update.base_url {
                    state.base_url = Some(url.to_string());
                }
            }
            // The team's devices (whose signatures this device accepts, whose inboxes decisions
            // are sealed to) change as phones enroll and are revoked.
            let devices_changed =
                !changed && devices_differ(state.config.as_deref(), update.config_json);
            if devices_changed {
                s.audit(tx, actor, Action::Configured, SYNC_ENTITY, s.device_id())?;
            }
            if update.enrolling || changed || devices_changed {
                state.config = Some(update.config_json.to_string());
                if update.enrolling {
                    s.audit(tx, actor, Action::Enrolled, SYNC_ENTITY, s.device_id())?;
                }
                save(tx, s.keys(), s.device_id(), &state)?;
            }
            Ok(changed)
        })
    }

    /// Whether the device's team, communes (JSON) or recipients differ from these.
    fn team_differs(
        &self,
        tx: &Transaction<'_>,
        team: &str,
        communes: &str,
        recipients: &[(String, RecipientKind, String)],
    ) -> Result<bool, StoreError> {
        let (t, c): (Option<String>, String) = tx.query_row(
            "SELECT team, communes FROM device_v WHERE id = ?1",
            params![self.device_id()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if t.as_deref() != Some(team) || c != communes {
            return Ok(true);
        }
        let mut stmt = tx.prepare("SELECT public_key, kind, label_enc FROM recipients_v")?;
        let rows: Vec<(String, RecipientKind, Vec<u8>)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        if rows.len() != recipients.len() {
            return Ok(true);
        }
        for (key, kind, label) in rows {
            let label = self.keys().column.decrypt_str("recipients", "label", &key, &label)?;
            if !recipients.iter().any(|(k, kd, l)| *k == key && *kd == kind && *l == label) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Whether two signed configurations (as kept) list different team devices.
fn devices_differ(kept: Option<&str>, new: &str) -> bool {
    let devices = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .map(|doc| doc["config"]["devices"].clone())
    };
    kept.and_then(devices) != devices(new)
}
