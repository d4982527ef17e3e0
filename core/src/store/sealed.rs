//! Row seals: the security-relevant columns of `records`, `outbox`, `recipients` and `device`
//! carry a MAC (`row_mac`, the `row-mac` key) that is checked on every read and renewed on
//! every write, in one place, so that no reader or writer can forget it.
//!
//! How (docs/storage.md, "Row seals"):
//! - SQL functions registered on each connection compute and check the MAC over a row's sealed
//!   columns (`SEALED`), its id, and the sequence number of its latest audit entry (so a row put
//!   back to an earlier state with that state's MAC no longer matches). They live only in this
//!   process, with the key; `trusted_schema = OFF` keeps triggers or views planted in the
//!   database file from calling them.
//! - Readers select from TEMP views `records_v`, `outbox_v`, `recipients_v`, `device_v`, which
//!   raise `Tampered` (table and row) for a row whose MAC does not match.
//! - TEMP triggers (per connection, never in the file) check a row before it is updated or
//!   deleted, and before a change elsewhere alters what its MAC covers (its outbox rows, the
//!   recipient set, a new audit entry about it); they list it in `temp.touched`, and
//!   [`reseal`] renews the MAC of every listed row just before the transaction commits. A
//!   writer therefore cannot launder an edit made without the key by touching the row.
//! - Within a write transaction the audit entries appended by that transaction do not count
//!   until the reseal (`temp.tx_state.audit_start`), so a row is checked as it was sealed.

use ring::digest;
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, Transaction};

use super::StoreError;
use crate::crypto::KeyHierarchy;

/// One sealed table: its key column and the SQL expressions the MAC covers, written over the
/// row alias `{r}` (each expression's value is encoded with its type, so NULL, '' and 0
/// differ).
struct Sealed {
    table: &'static str,
    key: &'static str,
    columns: &'static str,
}

/// A record's state, owner, kind, links, risk, deadline and times; its ciphertext columns by
/// digest (so emptying one is detected; the AEAD binding to the row already stops a swap); and
/// the number of its outbox rows (so deleting one, to keep a visit from being uploaded, is
/// detected). `draft_enc` is not covered: it changes on every keystroke of a draft and is
/// bound to its row by the AEAD.
const RECORDS: Sealed = Sealed {
    table: "records",
    key: "id",
    columns: "{r}.kind, {r}.household_id, {r}.form_id, {r}.form_version, {r}.owner_id, \
        {r}.state, {r}.revision, {r}.revision_of, {r}.submission_hash, {r}.signature, \
        {r}.risk_level, {r}.due_at, {r}.created_at, {r}.finalized_at, {r}.acknowledged_at, \
        {r}.purged_at, sh_digest({r}.quality_flags_enc), sh_digest({r}.fixes_enc), \
        sh_digest({r}.submission_enc), sh_digest({r}.return_note_enc), \
        sh_digest({r}.child_ref_enc), \
        (SELECT count(*) FROM main.outbox o WHERE o.item_id = {r}.id) \
        + (SELECT count(*) FROM main.attachments a JOIN main.outbox o ON o.item_id = a.id \
           WHERE a.record_id = {r}.id)",
};

/// Everything but the last error text: the state, what is sent and its hash, the schedule
/// (pushing `next_attempt_at` into the far future would hold an item back for ever), the
/// sealed body and the receipt.
const OUTBOX: Sealed = Sealed {
    table: "outbox",
    key: "id",
    columns: "{r}.item_kind, {r}.item_id, {r}.state, {r}.payload_sha256, {r}.size_bytes, \
        {r}.attempts, {r}.next_attempt_at, {r}.created_at, {r}.acknowledged_at, {r}.park_code, \
        sh_digest({r}.sealed_body), {r}.upload_url, sh_digest({r}.receipt)",
};

const RECIPIENTS: Sealed = Sealed {
    table: "recipients",
    key: "public_key",
    columns: "{r}.kind, {r}.added_at, sh_digest({r}.label_enc)",
};

/// The device's identity, team, communes and assigned areas; the set of recipients it seals to
/// (so deleting the archive's key, or adding a stranger's, is detected even though those rows
/// have seals of their own); and how many records and outbox rows are in each live state (all
/// but acknowledged). The counts let a list check one row instead of the whole table: a queued
/// visit edited to read "acknowledged" or "returned", or its outbox row "parked" (to keep it
/// from being uploaded or reviewed), drops out of a list's filter but changes the counts. They are read through the state indexes, so
/// they cost what the live rows cost, not the history.
const DEVICE: Sealed = Sealed {
    table: "device",
    key: "id",
    columns: "{r}.public_key, sh_digest({r}.signing_key_enc), {r}.team, {r}.communes, \
        {r}.created_at, sh_digest({r}.areas_enc), {r}.areas_rev, \
        (SELECT group_concat(k, ',') FROM (SELECT public_key || ':' || kind AS k \
           FROM main.recipients ORDER BY public_key)), \
        (SELECT group_concat(state || '=' || n, ',') FROM (SELECT state, count(*) AS n \
           FROM main.records WHERE state IN ('draft', 'finalized', 'queued', 'uploaded', 'returned') \
           GROUP BY state ORDER BY state)), \
        (SELECT group_concat(state || '=' || n, ',') FROM (SELECT state, count(*) AS n \
           FROM main.outbox WHERE state IN ('pending', 'uploaded', 'parked') \
           GROUP BY state ORDER BY state))",
};

/// A pulled record: everything but the evidence list's order of arrival; its state decides
/// whether a supervisor sees it as valid, so flipping `quarantined` to `valid` must fail.
const RECEIVED: Sealed = Sealed {
    table: "received",
    key: "record_id",
    columns: "{r}.seq, {r}.device_id, {r}.kind, {r}.form_id, {r}.form_version, \
        {r}.household_code, {r}.commune, {r}.risk_level, {r}.due_at, {r}.finalized_at, \
        {r}.received_at, {r}.revision, {r}.revision_of, {r}.envelope_sha256, {r}.body_len, \
        {r}.evidence_len, {r}.state, {r}.quarantine_reason, sh_digest({r}.submission_enc), \
        {r}.evidence, {r}.pulled_at",
};

/// A decision: what was decided, by whom, on what, and where it stands (a pending decision
/// edited to "sent" would never be uploaded; a received one edited would change a verdict).
const DECISIONS: Sealed = Sealed {
    table: "decisions",
    key: "id",
    columns: "{r}.record_id, {r}.kind, {r}.device_id, {r}.base, {r}.decided_at, {r}.action_at, \
        sh_digest({r}.content_enc), sh_digest({r}.body), {r}.state, {r}.server_seq, {r}.detail, \
        {r}.created_at, {r}.merge_household, {r}.merge_into",
};

/// Where each download left off: moved forward without the key, records or decisions would be
/// skipped.
const CURSORS: Sealed = Sealed { table: "sync_cursors", key: "name", columns: "{r}.after" };

const SEALED: [&Sealed; 7] =
    [&RECORDS, &OUTBOX, &RECIPIENTS, &DEVICE, &RECEIVED, &DECISIONS, &CURSORS];

/// The sealed table named `table`, as a `'static` name for [`StoreError::Tampered`].
fn table_name(table: &str) -> &'static str {
    SEALED.iter().find(|s| s.table == table).map_or("unknown", |s| s.table)
}

/// The prefix of the error an SQL check raises for a row that fails it; [`tampered_in`] turns
/// it back into `StoreError::Tampered`.
const TAMPERED: &str = "safehome: tampered row ";

impl Sealed {
    fn columns_of(&self, alias: &str) -> String {
        self.columns.replace("{r}", alias)
    }

    /// The number of the row's latest audit entry, ignoring entries this transaction added.
    fn audit_seq(&self, alias: &str) -> String {
        format!(
            "(SELECT coalesce(max(a.seq), 0) FROM main.audit a WHERE a.entity_id = {alias}.{key} \
             AND a.seq <= (SELECT audit_start FROM temp.tx_state))",
            key = self.key
        )
    }

    /// The MAC of the row called `alias`, as an SQL expression.
    fn mac_sql(&self, alias: &str) -> String {
        format!(
            "sh_row_mac('{t}', {alias}.{k}, {seq}, {cols})",
            t = self.table,
            k = self.key,
            seq = self.audit_seq(alias),
            cols = self.columns_of(alias)
        )
    }

    /// True when the row called `alias` is listed as touched by this transaction.
    fn touched_sql(&self, alias: &str) -> String {
        format!(
            "EXISTS (SELECT 1 FROM temp.touched x WHERE x.tbl = '{t}' AND x.id = {alias}.{k})",
            t = self.table,
            k = self.key
        )
    }

    /// SQL that raises `Tampered` unless the row called `alias` is touched or its MAC holds.
    fn check_sql(&self, alias: &str) -> String {
        format!(
            "(CASE WHEN {touched} THEN 1 WHEN {alias}.row_mac IS {mac} THEN 1 \
             ELSE sh_tampered('{t}', {alias}.{k}) END)",
            touched = self.touched_sql(alias),
            mac = self.mac_sql(alias),
            t = self.table,
            k = self.key
        )
    }

    /// Trigger statements that check row `{key} = id_sql` of this table (if it exists) and list
    /// it as touched.
    fn check_and_touch(&self, id_sql: &str) -> String {
        format!(
            "SELECT 1 FROM temp.{t}_v WHERE {k} = {id_sql};
             INSERT OR IGNORE INTO temp.touched (tbl, id) SELECT '{t}', {k} FROM main.{t} WHERE {k} = {id_sql};",
            t = self.table,
            k = self.key
        )
    }
}

/// Register the seal functions on a connection (before migrations, which seal existing rows),
/// and refuse SQL functions in the file's own triggers and views.
pub(crate) fn register(conn: &Connection, keys: &KeyHierarchy) -> Result<(), StoreError> {
    conn.pragma_update(None, "trusted_schema", "OFF")?;
    let flags = FunctionFlags::SQLITE_UTF8;
    let key = keys.row_mac.clone();
    conn.create_scalar_function("sh_row_mac", -1, flags, move |ctx| {
        Ok(row_mac(&key, ctx)?.to_vec())
    })?;
    conn.create_scalar_function("sh_tampered", 2, flags, |ctx| {
        let table: String = ctx.get(0)?;
        let id: String = ctx.get::<Option<String>>(1)?.unwrap_or_default();
        Err::<i64, _>(rusqlite::Error::UserFunctionError(format!("{TAMPERED}{table} {id}").into()))
    })?;
    // The transaction state the checks read; the views and triggers come after the migrations
    // ([`install`]), which seal with these functions.
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS touched (tbl TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (tbl, id));
         CREATE TEMP TABLE IF NOT EXISTS tx_state (audit_start INTEGER NOT NULL);
         DELETE FROM temp.tx_state;
         INSERT INTO temp.tx_state VALUES (9223372036854775807);",
    )?;
    conn.create_scalar_function(
        "sh_digest",
        1,
        flags | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            Ok(match ctx.get_raw(0) {
                ValueRef::Null => None,
                v => Some(digest::digest(&digest::SHA256, &encode(v)).as_ref().to_vec()),
            })
        },
    )?;
    Ok(())
}

/// One value, tagged with its type so that no two values of different types encode alike.
fn encode(v: ValueRef<'_>) -> Vec<u8> {
    match v {
        ValueRef::Null => vec![0],
        ValueRef::Integer(i) => [&[1u8][..], &i.to_be_bytes()].concat(),
        ValueRef::Real(f) => [&[2u8][..], &f.to_bits().to_be_bytes()].concat(),
        ValueRef::Text(t) => [&[3u8][..], t].concat(),
        ValueRef::Blob(b) => [&[4u8][..], b].concat(),
    }
}

/// `sh_row_mac(table, id, audit_seq, values...)`.
fn row_mac(key: &ring::hmac::Key, ctx: &Context<'_>) -> rusqlite::Result<[u8; 32]> {
    if ctx.len() < 3 {
        return Err(rusqlite::Error::UserFunctionError("sh_row_mac: too few arguments".into()));
    }
    let mut msg = Vec::with_capacity(256);
    for i in 0..ctx.len() {
        let part = encode(ctx.get_raw(i));
        msg.extend(u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        msg.extend_from_slice(&part);
    }
    let tag = ring::hmac::sign(key, &msg);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    Ok(out)
}

/// The TEMP tables, views and triggers of the seals on this connection. Temp objects are per
/// connection and never written to the database file.
pub(crate) fn install(conn: &Connection) -> Result<(), StoreError> {
    let mut sql = String::new();
    for s in SEALED {
        let t = s.table;
        let k = s.key;
        sql += &format!(
            "CREATE TEMP VIEW IF NOT EXISTS {t}_v AS SELECT * FROM main.{t} r WHERE {check};\n",
            check = s.check_sql("r")
        );
        // Checked before its first change; a new row (or an id changed in place) is listed
        // after it is written.
        for when in ["UPDATE", "DELETE"] {
            sql += &format!(
                "CREATE TEMP TRIGGER IF NOT EXISTS {t}_before_{w} BEFORE {when} ON main.{t} BEGIN
                   {check}
                 END;\n",
                w = when.to_lowercase(),
                check = s.check_and_touch(&format!("old.{k}")),
            );
        }
        for when in ["UPDATE", "INSERT"] {
            sql += &format!(
                "CREATE TEMP TRIGGER IF NOT EXISTS {t}_after_{w} AFTER {when} ON main.{t} BEGIN
                   INSERT OR IGNORE INTO temp.touched (tbl, id) VALUES ('{t}', new.{k});
                 END;\n",
                w = when.to_lowercase(),
            );
        }
    }
    // What a row's MAC covers beyond its own columns: its outbox rows (records), the set of
    // recipients (device), its latest audit entry (every sealed table).
    let owner_of_outbox = |row: &str| {
        format!(
            "coalesce((SELECT a.record_id FROM main.attachments a WHERE a.id = {row}.item_id), {row}.item_id)"
        )
    };
    for (when, row) in [("INSERT", "new"), ("DELETE", "old")] {
        sql += &format!(
            "CREATE TEMP TRIGGER IF NOT EXISTS outbox_owner_{w} BEFORE {when} ON main.outbox BEGIN
               {check}
             END;\n",
            w = when.to_lowercase(),
            check = RECORDS.check_and_touch(&owner_of_outbox(row)),
        );
    }
    for when in ["INSERT", "UPDATE", "DELETE"] {
        sql += &format!(
            "CREATE TEMP TRIGGER IF NOT EXISTS recipients_device_{w} BEFORE {when} ON main.recipients BEGIN
               {check}
             END;\n",
            w = when.to_lowercase(),
            check = DEVICE.check_and_touch("(SELECT id FROM main.device)"),
        );
    }
    // What the device row counts: rows added, removed or changing state.
    for t in ["records", "outbox"] {
        for (w, when) in [("insert", "INSERT"), ("delete", "DELETE"), ("state", "UPDATE OF state")]
        {
            sql += &format!(
                "CREATE TEMP TRIGGER IF NOT EXISTS {t}_live_{w} BEFORE {when} ON main.{t} BEGIN
                   {check}
                 END;\n",
                check = DEVICE.check_and_touch("(SELECT id FROM main.device)"),
            );
        }
    }
    let mut on_audit = String::new();
    for s in SEALED {
        on_audit += &s.check_and_touch("new.entity_id");
    }
    sql += &format!(
        "CREATE TEMP TRIGGER IF NOT EXISTS audit_touches BEFORE INSERT ON main.audit BEGIN
           {on_audit}
         END;\n"
    );
    conn.execute_batch(&sql)?;
    Ok(())
}

/// At the start of a write transaction: audit entries from here on do not count for checks
/// until [`reseal`].
pub(crate) fn begin(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE temp.tx_state SET audit_start = (SELECT coalesce(max(seq), 0) FROM main.audit)",
    )?
    .execute([])?;
    Ok(())
}

/// The statements of [`reseal`], built once: prepared from the statement cache, each write
/// pays neither their formatting nor their planning.
fn reseal_sql() -> &'static [String] {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let mut v = vec!["UPDATE temp.tx_state SET audit_start = 9223372036854775807".to_string()];
        for s in SEALED {
            v.push(format!(
                "UPDATE main.{t} AS r SET row_mac = {mac}
                 WHERE {k} IN (SELECT id FROM temp.touched WHERE tbl = '{t}')",
                t = s.table,
                k = s.key,
                mac = s.mac_sql("r"),
            ));
        }
        v.push("DELETE FROM temp.touched".to_string());
        v
    })
}

/// Just before a write transaction commits: renew the MAC of every row it touched (each was
/// checked before its first change), then forget them.
pub(crate) fn reseal(tx: &Transaction<'_>) -> Result<(), StoreError> {
    for sql in reseal_sql() {
        tx.prepare_cached(sql)?.execute([])?;
    }
    Ok(())
}

/// List every row as touched, so that the re-seal at commit seals it as it is (for tests and
/// benchmarks that build databases with plain SQL; the triggers would otherwise refuse the
/// unsealed rows).
#[cfg(feature = "test-hooks")]
pub(crate) fn trust_all(tx: &Transaction<'_>) -> Result<(), StoreError> {
    for s in SEALED {
        tx.execute(
            &format!(
                "INSERT OR IGNORE INTO temp.touched (tbl, id) SELECT '{t}', {k} FROM main.{t}",
                t = s.table,
                k = s.key
            ),
            [],
        )?;
    }
    Ok(())
}

/// Seal every row as it is (the migration that introduces seals trusts the rows it finds, as
/// the profile seals did).
pub(crate) fn seal_all(tx: &Transaction<'_>) -> Result<(), StoreError> {
    for s in SEALED {
        // The migration that introduced seals runs before later tables exist.
        let exists: bool = tx.query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [s.table],
            |r| r.get(0),
        )?;
        if !exists {
            continue;
        }
        tx.execute(
            &format!("UPDATE main.{t} AS r SET row_mac = {mac}", t = s.table, mac = s.mac_sql("r")),
            [],
        )?;
    }
    Ok(())
}

/// Check the device row, whose seal counts the live records and outbox rows: a list (the
/// review queue, the outbox, what to upload) reads its own rows through the views and then
/// this, so that a row edited to fall outside the list's filter fails the list instead of
/// vanishing from it.
pub(crate) fn check_live_counts(conn: &Connection) -> Result<(), StoreError> {
    conn.prepare_cached("SELECT count(*) FROM temp.device_v")?
        .query_row([], |r| r.get::<_, i64>(0))?;
    Ok(())
}

/// Every sealed row whose MAC does not hold, as (table, row id), for the audit verification.
pub(crate) fn broken_rows(conn: &Connection) -> Result<Vec<(&'static str, String)>, StoreError> {
    let mut out = Vec::new();
    for s in SEALED {
        let sql = format!(
            "SELECT r.{k} FROM main.{t} r WHERE r.row_mac IS NOT {mac} AND NOT {touched}",
            t = s.table,
            k = s.key,
            mac = s.mac_sql("r"),
            touched = s.touched_sql("r"),
        );
        let mut stmt = conn.prepare(&sql)?;
        let ids = stmt.query_map([], |r| r.get::<_, String>(0))?;
        for id in ids {
            out.push((s.table, id?));
        }
    }
    Ok(out)
}

/// The `Tampered` error an SQL check raised, if `e` is one.
pub(crate) fn tampered_in(e: &rusqlite::Error) -> Option<StoreError> {
    let text = e.to_string();
    let rest = &text[text.find(TAMPERED)? + TAMPERED.len()..];
    let (table, row) = rest.split_once(' ').unwrap_or((rest, ""));
    Some(StoreError::Tampered { table: table_name(table), row: row.to_string() })
}
