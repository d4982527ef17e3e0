//! Rotating the server's key (docs/operations.md, "Key rotation"; docs/protocol.md). Phones
//! pinned the server's public key at enrollment; a rotation is a statement signed by the key it
//! replaces, kept in `key_rotations.json` and served with every configuration, so that a phone
//! re-pins on the strength of its pinned key's signature and nothing else.
//!
//! Crash safety: the new key is written to `server.key.next` first, then the statement is
//! appended, then `server.key.next` is renamed over `server.key`; the old key is kept as
//! `server.key.<ms>`. A server that starts between the last two steps finishes the rename itself
//! (`load`), so a statement is never served for a key the server does not hold.

use std::fs;
use std::path::{Path, PathBuf};

use safehome_core::clock::SystemEntropy;
use safehome_core::evidence::keys::{DeviceSigningKey, ServerPublicKey};
use safehome_core::sync::protocol::{KeyRotation, MAX_ROTATIONS, ROTATION_SCHEMA, server_public};
use serde_json::Value as Json;

use crate::datadir::{DataDir, sync_dir, write_private};
use crate::error::ServerError;

fn rotations_path(data: &DataDir) -> PathBuf {
    data.root().join("key_rotations.json")
}

fn next_key_path(data: &DataDir) -> PathBuf {
    data.root().join("server.key.next")
}

fn read_rotations(data: &DataDir) -> Result<Vec<Json>, ServerError> {
    let path = rotations_path(data);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = fs::read(&path).map_err(ServerError::io(format!("reading {}", path.display())))?;
    serde_json::from_slice(&text)
        .map_err(|e| ServerError::Invalid(format!("{}: {e}", path.display())))
}

fn named_new_key(statement: &Json) -> Option<&str> {
    statement.get("rotation")?.get("new_key")?.as_str()
}

/// Replace the server's key with a new one, signed over by the old: phones re-pin at their next
/// sync. Takes effect when the server (re)starts. Returns the new public key.
pub fn rotate(root: &Path, now_ms: i64) -> Result<ServerPublicKey, ServerError> {
    let data = DataDir::new(root);
    let old = data.load_key()?;
    let mut rotations = read_rotations(&data)?;
    if rotations.len() >= MAX_ROTATIONS {
        return Err(ServerError::Invalid(format!(
            "{MAX_ROTATIONS} rotations already: phones read at most that many"
        )));
    }
    let next_path = next_key_path(&data);
    if next_path.exists() {
        return Err(ServerError::Invalid(format!(
            "{} exists: an earlier rotation did not finish; start the server once to finish it",
            next_path.display()
        )));
    }
    let new = DeviceSigningKey::generate(&SystemEntropy::default())
        .map_err(|e| ServerError::Invalid(format!("generating a key: {e}")))?;
    let statement = KeyRotation {
        schema: ROTATION_SCHEMA.into(),
        previous_key: server_public(&old).to_string(),
        new_key: server_public(&new).to_string(),
        rotated_at_ms: now_ms,
    }
    .sign(&old)
    .map_err(|e| ServerError::Invalid(format!("signing the rotation: {e}")))?;
    // 1. The old key, kept; 2. the new key, not in use yet.
    write_private(
        &root.join(format!("server.key.{now_ms}")),
        format!("{}\n", &*old.to_text()).as_bytes(),
    )?;
    write_private(&next_path, format!("{}\n", &*new.to_text()).as_bytes())?;
    sync_dir(root).map_err(ServerError::io("syncing the data directory"))?;
    // 3. The statement.
    rotations.push(statement);
    let text = serde_json::to_vec_pretty(&rotations)
        .map_err(|e| ServerError::Invalid(format!("rotations: {e}")))?;
    let tmp = root.join("key_rotations.json.tmp");
    let _ = fs::remove_file(&tmp);
    write_private(&tmp, &text)?;
    fs::rename(&tmp, rotations_path(&data))
        .map_err(ServerError::io("putting key_rotations.json in place"))?;
    sync_dir(root).map_err(ServerError::io("syncing the data directory"))?;
    // 4. The new key in use.
    finish(&data)?;
    Ok(server_public(&new))
}

/// Put `server.key.next` in place of `server.key`.
fn finish(data: &DataDir) -> Result<(), ServerError> {
    fs::rename(next_key_path(data), data.key_path())
        .map_err(ServerError::io("putting the new server key in place"))?;
    sync_dir(data.root()).map_err(ServerError::io("syncing the data directory"))
}

/// The server's key and the rotation statements to serve, checked to end at that key (finishing
/// a rotation a crash interrupted after its statement was written).
pub fn load(data: &DataDir) -> Result<(DeviceSigningKey, Vec<Json>), ServerError> {
    let rotations = read_rotations(data)?;
    let mut key = data.load_key()?;
    if let Some(last) = rotations.last() {
        let current = server_public(&key).to_string();
        if named_new_key(last) != Some(current.as_str()) {
            let next = next_key_path(data);
            if next.exists() {
                finish(data)?;
                key = data.load_key()?;
            }
            if named_new_key(last) != Some(server_public(&key).to_string().as_str()) {
                return Err(ServerError::Invalid(
                    "key_rotations.json names another key than server.key: restore them together"
                        .into(),
                ));
            }
        }
    } else if next_key_path(data).exists() {
        // Interrupted before the statement: the rotation never happened.
        fs::remove_file(next_key_path(data))
            .map_err(ServerError::io("removing an unfinished rotation's key"))?;
    }
    Ok((key, rotations))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn setup() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        crate::init(&root).unwrap();
        (dir, root)
    }

    #[test]
    fn a_rotation_is_signed_by_the_key_it_replaces_and_chains_to_the_current_key() {
        let (_d, root) = setup();
        let data = DataDir::new(&root);
        let k0 = server_public(&data.load_key().unwrap());
        let k1 = rotate(&root, 1).unwrap();
        let k2 = rotate(&root, 2).unwrap();
        let (key, rotations) = load(&data).unwrap();
        assert_eq!(server_public(&key), k2);
        assert_eq!(rotations.len(), 2);
        let doc = serde_json::json!({ "key_rotations": rotations });
        assert_eq!(KeyRotation::follow(&doc, &k0).unwrap(), Some(k2));
        assert_eq!(KeyRotation::follow(&doc, &k1).unwrap(), Some(k2));
        assert_eq!(KeyRotation::follow(&doc, &k2).unwrap(), None);
        // The old keys are kept.
        assert!(root.join("server.key.1").exists() && root.join("server.key.2").exists());
    }

    #[test]
    fn a_rotation_interrupted_after_its_statement_is_finished_at_start_and_before_it_undone() {
        let (_d, root) = setup();
        let data = DataDir::new(&root);
        let k1 = rotate(&root, 1).unwrap();
        // Interrupted after the statement: `server.key.next` not yet in place.
        let next = DeviceSigningKey::generate(&SystemEntropy::default()).unwrap();
        let statement = KeyRotation {
            schema: ROTATION_SCHEMA.into(),
            previous_key: k1.to_string(),
            new_key: server_public(&next).to_string(),
            rotated_at_ms: 2,
        }
        .sign(&data.load_key().unwrap())
        .unwrap();
        let mut rotations = read_rotations(&data).unwrap();
        rotations.push(statement);
        fs::write(rotations_path(&data), serde_json::to_vec(&rotations).unwrap()).unwrap();
        write_private(&next_key_path(&data), next.to_text().as_bytes()).unwrap();
        let (key, _) = load(&data).unwrap();
        assert_eq!(server_public(&key), server_public(&next), "finished");
        assert!(!next_key_path(&data).exists());
        // Interrupted before the statement: the unused key is dropped, the current one stays.
        let stray = DeviceSigningKey::generate(&SystemEntropy::default()).unwrap();
        write_private(&next_key_path(&data), stray.to_text().as_bytes()).unwrap();
        let (key, _) = load(&data).unwrap();
        assert_eq!(server_public(&key), server_public(&next));
        // A statement naming a key the server does not hold: refused, never served.
        fs::write(data.key_path(), stray.to_text().as_bytes()).unwrap();
        assert!(load(&data).is_err());
    }
}
