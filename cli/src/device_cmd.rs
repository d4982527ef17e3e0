//! The CLI acting as a device: `init`, `user`, `team`, `household`, `visit`, `incident`,
//! `outbox`, `audit`, `status`. Every command is one process that opens the store, does one
//! thing in one transaction, and exits: a kill -9 loses at most the command in flight.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};
use safehome_core::clock::{Entropy, SystemClock, SystemEntropy};
use safehome_core::crypto::DataKey;
use safehome_core::form::risk::Level;
use safehome_core::hex;
use safehome_core::location::Fix;
use safehome_core::store::households::{Location, NewHousehold};
use safehome_core::store::profiles::{Actor, Permission, Role};
use safehome_core::store::team::RecipientKind;
use safehome_core::store::{Store, StoreConfig, StoreError};

use crate::Outcome;
use crate::outln;
use crate::utc_offset::UtcOffset;

/// Where the device's database and data key are, and its local time.
#[derive(Args, Debug, Clone)]
pub struct DeviceArgs {
    /// The SQLite database file.
    #[arg(long, global = true, env = "SAFEHOME_DB")]
    pub db: Option<PathBuf>,
    /// A file holding the 32-byte data key as 64 hex characters (the phone's keystore).
    #[arg(long, global = true, env = "SAFEHOME_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// The device's offset from UTC, `+07:00` or minutes (`420`), from -12:00 to +14:00: what
    /// today() is, and how dates and times without an offset are read. The demo always runs in
    /// Vietnam.
    #[arg(
        long,
        global = true,
        env = "SAFEHOME_UTC_OFFSET",
        default_value = crate::utc_offset::DEFAULT,
        value_name = "OFFSET",
        allow_hyphen_values = true
    )]
    pub utc_offset: UtcOffset,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a profile; its PIN is read from SAFEHOME_PIN or the first line of stdin. The first
    /// supervisor needs no --user; later profiles are added by a supervisor (--user).
    Add {
        #[arg(long)]
        role: String,
        #[arg(long)]
        name: String,
        /// The supervisor adding the profile (their PIN: SAFEHOME_SUPERVISOR_PIN).
        #[arg(long)]
        user: Option<String>,
    },
    /// List profiles on this device.
    List,
    /// A supervisor (--user, PIN in SAFEHOME_SUPERVISOR_PIN) sets a new PIN for a profile and
    /// lifts its lockout; the new PIN is read from SAFEHOME_PIN or the first line of stdin.
    ResetPin {
        #[arg(long)]
        user: String,
        /// The profile's name.
        profile: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TeamCommand {
    /// Set the team and commune codes of this device.
    Enroll {
        #[arg(long)]
        user: String,
        #[arg(long)]
        team: String,
        #[arg(long, value_delimiter = ',')]
        communes: Vec<String>,
    },
    /// Add a recipient public key (`archive` or `supervisor`).
    AddRecipient {
        #[arg(long)]
        user: String,
        #[arg(long)]
        kind: String,
        #[arg(long)]
        key: String,
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Set the areas this device's volunteers are assigned to, kept with the enrollment: a
    /// GeoJSON FeatureCollection of Polygon/MultiPolygon features with `code` and `name`
    /// properties. Every later finalize flags a visit outside its household's commune.
    SetAreas {
        #[arg(long)]
        user: String,
        /// The GeoJSON file (refused, with every bad feature named, if invalid).
        #[arg(required_unless_present = "clear", conflicts_with = "clear")]
        file: Option<PathBuf>,
        /// Remove the areas: visits are then not checked against any (and say so).
        #[arg(long)]
        clear: bool,
    },
    /// Show the enrollment, the assigned areas and the recipients.
    Show,
}

#[derive(Subcommand, Debug)]
pub enum HouseholdCommand {
    /// Register a household; prints its id and code.
    Add {
        #[arg(long)]
        user: String,
        #[arg(long)]
        commune: String,
        #[arg(long)]
        village: String,
        #[arg(long)]
        head: String,
        #[arg(long)]
        address: Option<String>,
        #[arg(long)]
        lat: Option<f64>,
        #[arg(long)]
        lon: Option<f64>,
        #[arg(long, default_value_t = 10.0)]
        accuracy: f64,
        /// Register it even though households on this phone look like it (the volunteer has
        /// checked: another family). Without it, likely duplicates are listed and nothing is
        /// added.
        #[arg(long)]
        not_duplicate: bool,
    },
    /// The households this profile may see.
    List {
        #[arg(long)]
        user: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum VisitCommand {
    /// Start a visit of a household on a form; prints the visit id.
    Start {
        #[arg(long)]
        user: String,
        #[arg(long)]
        household: String,
        #[arg(long, default_value = "builtin:household_screening")]
        form: String,
    },
    /// Answer one question of a draft (visit or incident). VALUE is JSON when it parses as
    /// JSON (`3`, `["a","l"]`, `{"lat":..}`), otherwise text.
    Answer {
        #[arg(long)]
        user: String,
        record: String,
        field: String,
        value: String,
    },
    /// Answer a geopoint question with a platform fix, given as JSON (`{"lat":..,"lon":..,
    /// "accuracy_m":..,"time_ms":..,"provider":"gps","mock":false}`) or `@FILE`. The whole fix
    /// is kept for the location quality flags computed at finalize.
    Fix {
        #[arg(long)]
        user: String,
        record: String,
        field: String,
        fix: String,
        /// The volunteer confirms a fix worse than the question's warning accuracy.
        #[arg(long)]
        confirm: bool,
    },
    /// Process, seal and attach a photo to an image question of a draft.
    Photo {
        #[arg(long)]
        user: String,
        record: String,
        field: String,
        path: PathBuf,
    },
    /// Answer several questions at once from a JSON answers file.
    Fill {
        #[arg(long)]
        user: String,
        record: String,
        answers: PathBuf,
    },
    /// Validate, assess, sign and queue a draft.
    Finalize {
        #[arg(long)]
        user: String,
        record: String,
    },
    /// Show a record.
    Show {
        #[arg(long)]
        user: String,
        record: String,
        #[arg(long)]
        json: bool,
    },
    /// A supervisor returns a submission with a comment; prints the new draft revision's id.
    Return {
        #[arg(long)]
        user: String,
        record: String,
        #[arg(long)]
        note: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum IncidentCommand {
    /// Start an injury incident (health workers); prints its id.
    Start {
        #[arg(long)]
        user: String,
        #[arg(long, default_value = "builtin:injury_incident")]
        form: String,
        /// Household code to link the incident to.
        #[arg(long)]
        household_code: Option<String>,
        #[arg(long)]
        child: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum OutboxCommand {
    List {
        #[arg(long)]
        json: bool,
    },
    /// Record the server's acknowledgment of an item by its SHA-256 (offline setups; `sync`
    /// acknowledges from the server's signed receipts). A supervisor's act: an acknowledged
    /// item is never uploaded again and starts its retention clock.
    Ack {
        #[arg(long)]
        user: String,
        sha256: String,
    },
    /// Put a parked item (and its record's parked evidence) back in the queue, once what the
    /// server refused is resolved.
    Unpark {
        #[arg(long)]
        user: String,
        outbox_id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Recompute the audit chain: exit 0 intact, 1 broken.
    Verify,
}

pub(crate) fn fail(e: impl std::fmt::Display, outcome: Outcome) -> Outcome {
    eprintln!("{e}");
    outcome
}

/// Refused input (1) versus a store that cannot be used at all (2).
pub(crate) fn store_fail(e: StoreError) -> Outcome {
    let unusable = matches!(
        e,
        StoreError::WrongKey
            | StoreError::Corrupt
            | StoreError::NewerSchema { .. }
            | StoreError::ReadOnly
            | StoreError::DiskFull
            | StoreError::Tampered { .. }
    );
    fail(e, if unusable { Outcome::Unusable } else { Outcome::Refused })
}

fn read_key(path: &Path) -> Result<DataKey, String> {
    let text = crate::files::read_text(path, crate::files::KEY_FILE_LIMIT, "data key file")
        .map_err(crate::files::ReadError::message)?;
    // The file may end with a newline (an editor, `echo`); the digits themselves are strict.
    hex::decode_array::<32>(text.trim())
        .map(DataKey::from_bytes)
        .map_err(|e| format!("{}: the data key: {e}", path.display()))
}

fn write_new_key(path: &Path) -> Result<(), String> {
    let mut k = [0u8; 32];
    SystemEntropy::default().fill(&mut k);
    let text = hex::encode(&k);
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        f.write_all(text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
    }
    #[cfg(not(unix))]
    {
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Open the device's existing database. A path that does not exist is an error (a misspelled
/// `--db` must not create a new, empty device and report success); only `init` creates one.
pub fn open(args: &DeviceArgs) -> Result<Store, Outcome> {
    open_store(args, false)
}

fn open_store(args: &DeviceArgs, create: bool) -> Result<Store, Outcome> {
    let (Some(db), Some(key_file)) = (&args.db, &args.key_file) else {
        return Err(fail("this command needs --db PATH and --key-file FILE", Outcome::Unusable));
    };
    if db.is_dir() {
        return Err(fail(
            format!("--db {}: is a directory, not a database file", db.display()),
            Outcome::Unusable,
        ));
    }
    if !create && !db.exists() {
        return Err(fail(
            format!("--db {}: no database there (create one with `safehome init`)", db.display()),
            Outcome::Unusable,
        ));
    }
    let key = read_key(key_file).map_err(|e| fail(e, Outcome::Unusable))?;
    Store::open(
        db,
        &key,
        Arc::new(SystemClock { offset_minutes: args.utc_offset.minutes() }),
        Arc::new(SystemEntropy::default()),
        StoreConfig::default(),
    )
    .map_err(store_fail)
}

/// The PIN: `var` if set, else the first line of stdin.
fn read_pin(var: &str) -> Result<String, Outcome> {
    if let Ok(p) = std::env::var(var) {
        return Ok(p.trim().to_string());
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| fail(format!("reading the PIN: {e}"), Outcome::Unusable))?;
    Ok(line.trim().to_string())
}

/// The supervisor `name`, unlocked with SAFEHOME_SUPERVISOR_PIN (the command's own PIN, in
/// SAFEHOME_PIN, is the other profile's).
fn supervisor(store: &Store, name: &str) -> Result<Actor, Outcome> {
    let profile = store.profile_by_name(name).map_err(store_fail)?;
    let Ok(pin) = std::env::var("SAFEHOME_SUPERVISOR_PIN") else {
        return Err(fail("SAFEHOME_SUPERVISOR_PIN is needed with --user", Outcome::Unusable));
    };
    store.unlock(&profile.id, pin.trim()).map_err(store_fail)
}

pub(crate) fn actor(store: &Store, name: &str) -> Result<Actor, Outcome> {
    let profile = store.profile_by_name(name).map_err(store_fail)?;
    let pin = read_pin("SAFEHOME_PIN")?;
    store.unlock(&profile.id, &pin).map_err(store_fail)
}

fn form_id(spec: &str) -> &str {
    spec.strip_prefix("builtin:").unwrap_or(spec)
}

pub(crate) fn json_out<T: serde::Serialize>(v: &T) {
    crate::out::json(v);
}

pub fn init(args: &DeviceArgs) -> Outcome {
    if let Some(k) = &args.key_file {
        if !k.exists() {
            if let Err(e) = write_new_key(k) {
                return fail(e, Outcome::Unusable);
            }
            outln!("new data key written to {}", k.display());
        }
    }
    match open_store(args, true) {
        Ok(s) => {
            outln!("device {} (public key {})", s.device_id(), hex::encode(&s.device_public_key()));
            Outcome::Ok
        }
        Err(o) => o,
    }
}

pub fn user(args: &DeviceArgs, cmd: UserCommand) -> Outcome {
    let store = match open(args) {
        Ok(s) => s,
        Err(o) => return o,
    };
    match cmd {
        UserCommand::Add { role, name, user } => {
            let Ok(role) = role.parse::<Role>() else {
                return fail(
                    "role must be volunteer, supervisor or health_worker",
                    Outcome::Unusable,
                );
            };
            let by = match &user {
                Some(u) => match supervisor(&store, u) {
                    Ok(a) => Some(a),
                    Err(o) => return o,
                },
                None => None,
            };
            let pin = match read_pin("SAFEHOME_PIN") {
                Ok(p) => p,
                Err(o) => return o,
            };
            match store.create_profile(by.as_ref(), &name, role, &pin) {
                Ok(p) => {
                    outln!("{}", p.id);
                    Outcome::Ok
                }
                Err(e) => store_fail(e),
            }
        }
        UserCommand::ResetPin { user, profile } => {
            let by = match supervisor(&store, &user) {
                Ok(a) => a,
                Err(o) => return o,
            };
            let target = match store.profile_by_name(&profile) {
                Ok(p) => p,
                Err(e) => return store_fail(e),
            };
            let pin = match read_pin("SAFEHOME_PIN") {
                Ok(p) => p,
                Err(o) => return o,
            };
            match store.reset_pin(&by, &target.id, &pin) {
                Ok(()) => {
                    outln!("new PIN set for {}; its lockout is lifted", target.id);
                    Outcome::Ok
                }
                Err(e) => store_fail(e),
            }
        }
        UserCommand::List => match store.profiles() {
            Ok(ps) => {
                for p in ps {
                    let lock = if p.locked { " (locked)" } else { "" };
                    outln!("{} {:<14} {}{lock}", p.id, p.role.as_str(), p.name);
                }
                Outcome::Ok
            }
            Err(e) => store_fail(e),
        },
    }
}

pub fn team(args: &DeviceArgs, cmd: TeamCommand) -> Outcome {
    let store = match open(args) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let result = match cmd {
        TeamCommand::Enroll { user, team, communes } => {
            let a = match actor(&store, &user) {
                Ok(a) => a,
                Err(o) => return o,
            };
            store.enroll(&a, &team, &communes).map(|e| json_out(&e))
        }
        TeamCommand::AddRecipient { user, kind, key, label } => {
            let Ok(kind) = kind.parse::<RecipientKind>() else {
                return fail("kind must be archive or supervisor", Outcome::Unusable);
            };
            let a = match actor(&store, &user) {
                Ok(a) => a,
                Err(o) => return o,
            };
            store.add_recipient(&a, &key, kind, &label)
        }
        TeamCommand::SetAreas { user, file, clear: _ } => {
            // clap makes FILE and --clear exclusive and one of them required.
            let read =
                |p: &Path| crate::files::read_text(p, crate::files::AREAS_FILE_LIMIT, "areas file");
            let text = match file.as_deref().map(read).transpose() {
                Ok(t) => t,
                Err(e) => return fail(e.message(), Outcome::Unusable),
            };
            let a = match actor(&store, &user) {
                Ok(a) => a,
                Err(o) => return o,
            };
            store.set_assigned_areas(&a, text.as_deref()).and_then(|()| {
                match store.assigned_areas()? {
                    Some(set) => {
                        let codes: Vec<&str> =
                            set.areas().iter().map(|a| a.code.as_str()).collect();
                        outln!("assigned areas: {} ({})", set.len(), codes.join(", "));
                    }
                    None => outln!("assigned areas cleared"),
                }
                Ok(())
            })
        }
        TeamCommand::Show => store.enrollment().and_then(|e| {
            let areas = store.assigned_areas()?.map(|set| {
                set.areas()
                    .iter()
                    .map(|a| serde_json::json!({"code": a.code, "name": a.name}))
                    .collect::<Vec<_>>()
            });
            json_out(&serde_json::json!({
                "enrollment": e, "assigned_areas": areas, "recipients": store.recipients()?,
            }));
            Ok(())
        }),
    };
    result.map_or_else(store_fail, |()| Outcome::Ok)
}

pub fn household(args: &DeviceArgs, cmd: HouseholdCommand) -> Outcome {
    let store = match open(args) {
        Ok(s) => s,
        Err(o) => return o,
    };
    match cmd {
        HouseholdCommand::Add {
            user,
            commune,
            village,
            head,
            address,
            lat,
            lon,
            accuracy,
            not_duplicate,
        } => {
            let a = match actor(&store, &user) {
                Ok(a) => a,
                Err(o) => return o,
            };
            let location = match (lat, lon) {
                (Some(lat), Some(lon)) => Some(Location { lat, lon, accuracy_m: accuracy }),
                (None, None) => None,
                _ => return fail("--lat and --lon go together", Outcome::Unusable),
            };
            let h = NewHousehold {
                commune_code: commune,
                village,
                address,
                head_name: head,
                members: Vec::new(),
                location,
                volunteer_id: None,
            };
            if !not_duplicate {
                match store.likely_duplicates(&a, &h) {
                    Ok(dups) if dups.is_empty() => {}
                    Ok(dups) => return refuse_duplicates(&dups),
                    Err(e) => return store_fail(e),
                }
            }
            match store.add_household(&a, &h) {
                Ok(h) => {
                    outln!("{} {}", h.id, h.code);
                    Outcome::Ok
                }
                Err(e) => store_fail(e),
            }
        }
        HouseholdCommand::List { user, json } => {
            let a = match actor(&store, &user) {
                Ok(a) => a,
                Err(o) => return o,
            };
            match store.households(&a) {
                Ok(hs) if json => {
                    json_out(&hs);
                    Outcome::Ok
                }
                Ok(hs) => {
                    for h in hs {
                        let merged = h.merged_into.as_deref().map_or(String::new(), |k| {
                            format!(" (đã gộp vào {k} / merged into {k})")
                        });
                        outln!("{} {} {} — {}{merged}", h.id, h.code, h.village, h.head_name);
                    }
                    Outcome::Ok
                }
                Err(e) => store_fail(e),
            }
        }
    }
}

/// Refuse a registration that likely repeats households on the phone: each on stdout (its id
/// and code first, so a visit can be started on it), and what to do on stderr.
fn refuse_duplicates(dups: &[safehome_core::store::duplicates::LikelyDuplicate]) -> Outcome {
    for d in dups {
        outln!(
            "{} {} {} — {}: {}",
            d.household_id,
            d.code,
            d.head_name,
            d.village,
            d.reasons.describe().join("; ")
        );
    }
    eprintln!(
        "Có thể hộ này đã được đăng ký ({n} hộ giống ở trên). Nếu đúng là hộ đó, hãy thăm hộ có sẵn: \
         safehome visit start --household <id>. Nếu là hộ khác, thêm --not-duplicate.\n\
         This household may already be registered ({n} likely duplicate(s) above). If it is, \
         visit the existing one: safehome visit start --household <id>. If it is another \
         family, add --not-duplicate.",
        n = dups.len()
    );
    Outcome::Refused
}

/// Parse a VALUE argument: JSON when it is JSON, otherwise the text itself.
fn value_arg(v: &str) -> serde_json::Value {
    serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_string()))
}

pub fn visit(args: &DeviceArgs, cmd: VisitCommand) -> Outcome {
    let store = match open(args) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let user = match &cmd {
        VisitCommand::Start { user, .. }
        | VisitCommand::Answer { user, .. }
        | VisitCommand::Fill { user, .. }
        | VisitCommand::Photo { user, .. }
        | VisitCommand::Fix { user, .. }
        | VisitCommand::Finalize { user, .. }
        | VisitCommand::Show { user, .. }
        | VisitCommand::Return { user, .. } => user.clone(),
    };
    let a = match actor(&store, &user) {
        Ok(a) => a,
        Err(o) => return o,
    };
    let result: Result<(), StoreError> = (|| match cmd {
        VisitCommand::Start { household, form, .. } => {
            let d = store.start_visit(&a, &household, form_id(&form))?;
            outln!("{}", d.record_id);
            Ok(())
        }
        VisitCommand::Answer { record, field, value, .. } => {
            let mut d = store.open_draft(&a, &record)?;
            let ok = store.answer(&mut d, &field, &value_arg(&value))?;
            if !ok {
                outln!("{field}: saved, but the answer does not meet the question's constraint");
            }
            Ok(())
        }
        VisitCommand::Fix { record, field, fix, confirm, .. } => {
            let text = match fix.strip_prefix('@') {
                Some(path) => {
                    crate::files::read_text(Path::new(path), crate::files::FIX_FILE_LIMIT, "fix")
                        .map_err(|e| StoreError::Invalid { field: "fix", message: e.message() })?
                }
                None => fix,
            };
            let fix: Fix = serde_json::from_str(&text)
                .map_err(|e| StoreError::Invalid { field: "fix", message: e.to_string() })?;
            let mut d = store.open_draft(&a, &record)?;
            let accepted = store.answer_fix(&a, &mut d, &field, &fix, confirm)?;
            outln!(
                "{field}: fix accepted, accuracy {} m{}",
                accepted.fix.fix.accuracy_m,
                if accepted.over_warning { " (confirmed over the warning)" } else { "" }
            );
            Ok(())
        }
        VisitCommand::Photo { record, field, path, .. } => {
            let mut d = store.open_draft(&a, &record)?;
            let att = store.attach_photo(&a, &mut d, &field, &path)?;
            outln!(
                "{} {}x{} {} bytes sealed (sha256 {})",
                att.id,
                att.width,
                att.height,
                att.envelope_len,
                att.plain_sha256
            );
            Ok(())
        }
        VisitCommand::Fill { record, answers, .. } => {
            let text =
                crate::files::read_text(&answers, crate::files::ANSWERS_FILE_LIMIT, "answers file")
                    .map_err(|e| StoreError::Invalid { field: "answers", message: e.message() })?;
            // The user's file, not stored data: a syntax error is bad input.
            let json: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| StoreError::Invalid { field: "answers", message: e.to_string() })?;
            let mut d = store.open_draft(&a, &record)?;
            store.edit(&mut d, |s| s.load_answers(&json).map_err(|mut e| e.remove(0)))?;
            Ok(())
        }
        VisitCommand::Finalize { record, .. } => {
            let d = store.open_draft(&a, &record)?;
            match store.finalize(&a, &d) {
                Ok(f) => {
                    let level = f.assessment.as_ref().map_or("none", |x| x.level.as_str());
                    outln!("finalized {} risk={level} sha256={}", f.record_id, f.submission_sha256);
                    Ok(())
                }
                Err(StoreError::NotValid(v)) => {
                    for x in &v {
                        outln!("{}: {}", x.path, x.message);
                    }
                    Err(StoreError::NotValid(v))
                }
                Err(e) => Err(e),
            }
        }
        VisitCommand::Show { record, json, .. } => {
            let r = store.record(&a, &record)?;
            if json {
                json_out(&r);
            } else {
                outln!(
                    "{} {} {} rev {} risk {}",
                    r.id,
                    r.kind.as_str(),
                    r.state.as_str(),
                    r.revision,
                    r.risk_level.map_or("-", Level::as_str)
                );
                for f in &r.quality_flags {
                    let about = f.subject.as_deref().map(|s| format!(" [{s}]")).unwrap_or_default();
                    outln!("  flag {}{about}: {}", f.code.as_str(), f.reason_en);
                }
            }
            Ok(())
        }
        VisitCommand::Return { record, note, .. } => {
            let id = store.return_record(&a, &record, &note)?;
            outln!("{id}");
            Ok(())
        }
    })();
    result.map_or_else(store_fail, |()| Outcome::Ok)
}

pub fn incident(args: &DeviceArgs, cmd: IncidentCommand) -> Outcome {
    let store = match open(args) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let IncidentCommand::Start { user, form, household_code, child } = cmd;
    let a = match actor(&store, &user) {
        Ok(a) => a,
        Err(o) => return o,
    };
    let result = (|| {
        let household = household_code.map(|c| store.household_by_code(&a, &c)).transpose()?;
        let d = store.start_incident(
            &a,
            form_id(&form),
            household.as_ref().map(|h| h.id.as_str()),
            child.as_deref(),
        )?;
        outln!("{}", d.record_id);
        Ok(())
    })();
    result.map_or_else(store_fail, |()| Outcome::Ok)
}

pub fn outbox(args: &DeviceArgs, cmd: OutboxCommand) -> Outcome {
    let store = match open(args) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let result = match cmd {
        OutboxCommand::List { json } => store.outbox().map(|entries| {
            if json {
                json_out(&entries);
            } else {
                for e in entries {
                    let park =
                        e.park_code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default();
                    outln!(
                        "{} {} {} {}{park} {} bytes",
                        e.id,
                        e.item_kind.as_str(),
                        e.item_id,
                        e.state.as_str(),
                        e.size_bytes
                    );
                }
            }
        }),
        OutboxCommand::Ack { user, sha256 } => {
            let a = match actor(&store, &user) {
                Ok(a) => a,
                Err(o) => return o,
            };
            a.require(Permission::ConfigureTeam)
                .and_then(|()| store.acknowledge(&sha256))
                .map(|id| outln!("acknowledged {id}"))
        }
        OutboxCommand::Unpark { user, outbox_id } => {
            let a = match actor(&store, &user) {
                Ok(a) => a,
                Err(o) => return o,
            };
            store.unpark(&a, &outbox_id).map(|()| outln!("unparked {outbox_id}"))
        }
    };
    result.map_or_else(store_fail, |()| Outcome::Ok)
}

pub fn audit(args: &DeviceArgs, _cmd: AuditCommand) -> Outcome {
    let store = match open(args) {
        Ok(s) => s,
        Err(o) => return o,
    };
    match store.verify_audit() {
        Ok(r) if r.is_intact() => {
            outln!("audit chain intact: {} entries", r.entries);
            Outcome::Ok
        }
        Ok(r) => {
            outln!("audit chain BROKEN at {}", r.problem.unwrap_or_default());
            Outcome::Refused
        }
        Err(e) => store_fail(e),
    }
}

pub fn status(args: &DeviceArgs, json: bool) -> Outcome {
    let store = match open(args) {
        Ok(s) => s,
        Err(o) => return o,
    };
    match store.storage_status() {
        Ok(st) if json => {
            let sync = match crate::sync_cmd::status(&store, false) {
                Ok(s) => s,
                Err(e) => return store_fail(e),
            };
            let mut v = serde_json::to_value(&st).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("sync".into(), sync);
            }
            json_out(&v);
            Outcome::Ok
        }
        Ok(st) => {
            outln!(
                "database {} bytes (+{} WAL), {} households, {} bytes waiting to upload",
                st.database_bytes,
                st.wal_bytes,
                st.households,
                st.pending_upload_bytes
            );
            for c in st.records_by_state {
                outln!("  records {:<13} {}", c.state.as_str(), c.count);
            }
            for c in st.outbox_by_state {
                outln!("  outbox  {:<13} {}", c.state.as_str(), c.count);
            }
            match crate::sync_cmd::status(&store, true) {
                Ok(_) => Outcome::Ok,
                Err(e) => store_fail(e),
            }
        }
        Err(e) => store_fail(e),
    }
}
