//! Reading the user's files with a size limit: a file named on the command line may be
//! anything (`/dev/zero`, a device, a 4 GB log), and must not make the CLI read without bound.

use std::io::Read;
use std::path::Path;

/// Key files (a data key, an identity, a device key) are a few lines.
pub const KEY_FILE_LIMIT: u64 = 64 << 10;
/// A GPS fix (`visit fix @FILE`).
pub const FIX_FILE_LIMIT: u64 = 64 << 10;
/// An answers file (`visit fill`).
pub const ANSWERS_FILE_LIMIT: u64 = 4 << 20;
/// Assigned areas GeoJSON (a province's communes, simplified).
pub const AREAS_FILE_LIMIT: u64 = 64 << 20;

/// Why a small file could not be read: the message names the file, and whether retrying with
/// another file could help (`unusable`: it could not be read at all) or not (`too large`, not
/// text: refused).
pub enum ReadError {
    Unusable(String),
    Refused(String),
}

/// The UTF-8 text of `path`, read up to `limit` bytes: a longer file is refused without reading
/// past the limit. `what` names it in messages.
pub fn read_text(path: &Path, limit: u64, what: &str) -> Result<String, ReadError> {
    let f = std::fs::File::open(path)
        .map_err(|e| ReadError::Unusable(format!("cannot read {what} {}: {e}", path.display())))?;
    let mut bytes = Vec::new();
    f.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ReadError::Unusable(format!("cannot read {what} {}: {e}", path.display())))?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::Refused(format!(
            "{}: over {limit} bytes, not a {what}",
            path.display()
        )));
    }
    String::from_utf8(bytes).map_err(|_| {
        ReadError::Refused(format!("{}: not UTF-8 text, not a {what}", path.display()))
    })
}

impl ReadError {
    pub fn message(self) -> String {
        match self {
            ReadError::Unusable(m) | ReadError::Refused(m) => m,
        }
    }
}
