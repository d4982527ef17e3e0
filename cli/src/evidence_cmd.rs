//! Photo evidence from the command line:
//!
//! - `safehome keys generate --out DIR`: a recipient identity and a device signing key;
//! - `safehome photo process IN -o OUT.jpg`: the photo pipeline alone;
//! - `safehome evidence seal | open | verify`: pipeline + sealed envelope, and back.
//!
//! Exit codes: 0 success; 1 refused input (a photo, envelope or key that is not acceptable),
//! with a one-line reason on stderr; 2 usage errors and unreadable or unwritable files.
//! Outputs are written to a temporary file and renamed into place, so a failed command never
//! leaves a partial output behind.

use std::fs;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use clap::Subcommand;
use safehome_core::clock::{Clock, Entropy, SystemClock, SystemEntropy};
use safehome_core::evidence::envelope::{self, FileSink, Randomness};
use safehome_core::evidence::photo::{self, PhotoOptions, ProcessedPhoto};
use safehome_core::evidence::{
    DevicePublicKey, DeviceSigningKey, EvidenceInfo, Identity, RecipientKey,
};
use safehome_core::hex;

use crate::Outcome;
use crate::outln;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Generate a recipient identity (identity.txt, recipient.txt) and a device signing key
    /// (device.key, device.pub) in DIR. Secret files are readable by their owner only.
    Generate {
        /// Directory to write the four key files into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Overwrite existing key files.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
pub enum PhotoCommand {
    /// Make a photo upright, downscale it and re-encode it as a JPEG without any metadata.
    Process {
        /// A JPEG, PNG or WebP photo.
        input: PathBuf,
        /// Where to write the processed JPEG.
        #[arg(short, long)]
        out: PathBuf,
        /// Long edge of the output, in pixels.
        #[arg(long, default_value_t = photo::DEFAULT_MAX_PIXELS)]
        max_pixels: u32,
        /// JPEG quality, 1-100.
        #[arg(long, default_value_t = photo::DEFAULT_QUALITY)]
        quality: u8,
        /// Also write a thumbnail (320 px long edge) here.
        #[arg(long)]
        thumbnail: Option<PathBuf>,
        /// Print a JSON report (sizes, hashes, EXIF facts) instead of a summary line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum EvidenceCommand {
    /// Process a photo and seal it to the recipients, signed by the device key.
    Seal {
        /// A JPEG, PNG or WebP photo.
        input: PathBuf,
        /// Where to write the envelope.
        #[arg(short, long)]
        out: PathBuf,
        /// A recipient (`shrecip1…`) or a file of them, one per line. Repeat for each.
        #[arg(long = "recipient", required = true, num_args = 1..)]
        recipients: Vec<String>,
        /// File holding the device signing key (`SH-DEVICE-KEY-1…`).
        #[arg(long)]
        device_key: PathBuf,
        /// Long edge of the sealed photo, in pixels.
        #[arg(long, default_value_t = photo::DEFAULT_MAX_PIXELS)]
        max_pixels: u32,
        /// JPEG quality, 1-100.
        #[arg(long, default_value_t = photo::DEFAULT_QUALITY)]
        quality: u8,
        /// Evidence id (a UUID); a new one by default.
        #[arg(long)]
        id: Option<String>,
        /// Print a JSON report instead of a summary line.
        #[arg(long)]
        json: bool,
    },
    /// Open an envelope with an identity; OUT appears only if everything verified.
    Open {
        input: PathBuf,
        /// File holding the identity (`SH-IDENTITY-1…`).
        #[arg(long)]
        identity: PathBuf,
        /// Where to write the payload.
        #[arg(short, long)]
        out: PathBuf,
        /// Refuse envelopes not sealed by this device (`shdevice1…` or a file holding it).
        #[arg(long)]
        expect_device: Option<String>,
        /// Write the sealed metadata here, as JSON.
        #[arg(long)]
        meta: Option<PathBuf>,
    },
    /// Check an envelope's device signature and length without any decryption key.
    Verify {
        input: PathBuf,
        /// Refuse envelopes not sealed by this device (`shdevice1…` or a file holding it).
        #[arg(long)]
        expect_device: Option<String>,
        /// Print a JSON report instead of a summary line.
        #[arg(long)]
        json: bool,
    },
}

/// A failed command: its outcome and one line saying why.
struct Failure(Outcome, String);

type Step<T> = Result<T, Failure>;

fn refused(msg: impl std::fmt::Display) -> Failure {
    Failure(Outcome::Refused, msg.to_string())
}

fn unusable(msg: impl std::fmt::Display) -> Failure {
    Failure(Outcome::Unusable, msg.to_string())
}

fn finish(r: Step<()>) -> Outcome {
    match r {
        Ok(()) => Outcome::Ok,
        Err(Failure(o, msg)) => {
            eprintln!("{msg}");
            o
        }
    }
}

pub fn run_keys(cmd: KeysCommand) -> Outcome {
    match cmd {
        KeysCommand::Generate { out, force } => finish(keys_generate(&out, force)),
    }
}

pub fn run_photo(cmd: PhotoCommand) -> Outcome {
    match cmd {
        PhotoCommand::Process { input, out, max_pixels, quality, thumbnail, json } => {
            finish(photo_process(&input, &out, max_pixels, quality, thumbnail.as_deref(), json))
        }
    }
}

pub fn run(cmd: EvidenceCommand) -> Outcome {
    finish(match cmd {
        EvidenceCommand::Seal {
            input,
            out,
            recipients,
            device_key,
            max_pixels,
            quality,
            id,
            json,
        } => seal(&input, &out, &recipients, &device_key, max_pixels, quality, id, json),
        EvidenceCommand::Open { input, identity, out, expect_device, meta } => {
            open(&input, &identity, &out, expect_device.as_deref(), meta.as_deref())
        }
        EvidenceCommand::Verify { input, expect_device, json } => {
            verify(&input, expect_device.as_deref(), json)
        }
    })
}

// ---------------------------------------------------------------------------------------------
// files

/// Write `bytes` to `path` through a temporary file beside it, renamed into place. The temporary
/// file is created exclusively (`O_EXCL`: a planted file or symlink of that name is never
/// followed or reused) with mode 0600, under a random name; a secret keeps 0600, other outputs
/// are opened up to 0644 just before the rename.
fn write_atomic(path: &Path, bytes: &[u8], secret: bool) -> Step<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let (mut f, temp) = create_exclusive(dir, &name)
        .map_err(|e| unusable(format!("cannot write {}: {e}", path.display())))?;
    let result = (|| -> std::io::Result<()> {
        f.write_all(bytes)?;
        #[cfg(unix)]
        if !secret {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(fs::Permissions::from_mode(0o644))?;
        }
        #[cfg(not(unix))]
        let _ = secret;
        f.sync_all()?;
        fs::rename(&temp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&temp);
        unusable(format!("cannot write {}: {e}", path.display()))
    })
}

/// A new file `.NAME.tmp-RANDOM` in `dir`, created exclusively with mode 0600.
fn create_exclusive(dir: &Path, name: &str) -> std::io::Result<(fs::File, PathBuf)> {
    let mut last = None;
    for _ in 0..16 {
        let mut r = [0u8; 8];
        SystemEntropy::default().fill(&mut r);
        let temp = dir.join(format!(".{name}.tmp-{}", hex::encode(&r)));
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        match opts.open(&temp) {
            Ok(f) => return Ok((f, temp)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary name")))
}

/// Refuse to write `out` over `input`: `-o` equal to the input would replace, say, a sealed
/// envelope with its plaintext. Compared by file identity, so another spelling of the same path
/// (or a hard link) is caught too.
fn refuse_same_file(input: &Path, out: &Path) -> Step<()> {
    let (Ok(a), Ok(b)) = (fs::metadata(input), fs::metadata(out)) else { return Ok(()) };
    #[cfg(unix)]
    let same = {
        use std::os::unix::fs::MetadataExt;
        a.dev() == b.dev() && a.ino() == b.ino()
    };
    #[cfg(not(unix))]
    let same = {
        let _ = (a, b);
        fs::canonicalize(input).ok() == fs::canonicalize(out).ok()
    };
    if same {
        return Err(unusable(format!(
            "{}: the output is the input file; write somewhere else",
            out.display()
        )));
    }
    Ok(())
}

/// Read a small text file, refusing one over `limit` bytes without reading past it.
fn read_small_text(path: &Path, limit: u64, what: &str) -> Step<String> {
    crate::files::read_text(path, limit, what).map_err(|e| match e {
        crate::files::ReadError::Unusable(m) => unusable(m),
        crate::files::ReadError::Refused(m) => refused(m),
    })
}

/// The key lines of a key file: blank lines and `#` comments removed.
fn key_lines(text: &str) -> Vec<&str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
}

fn read_key_file(path: &Path, what: &str) -> Step<String> {
    let text = read_small_text(path, crate::files::KEY_FILE_LIMIT, what)?;
    key_lines(&text)
        .first()
        .map(|s| s.to_string())
        .ok_or_else(|| refused(format!("{}: no {what} in the file", path.display())))
}

/// A public key given on the command line, or a file holding one or more.
fn public_keys(arg: &str) -> Step<Vec<String>> {
    if arg.starts_with("shrecip1") || arg.starts_with("shdevice1") {
        return Ok(vec![arg.to_string()]);
    }
    if fs::metadata(arg).is_err() {
        return Err(unusable(format!("`{arg}` is neither a key nor a readable file")));
    }
    let text = read_small_text(Path::new(arg), crate::files::KEY_FILE_LIMIT, "key file")?;
    let keys: Vec<String> = key_lines(&text).into_iter().map(str::to_string).collect();
    if keys.is_empty() {
        return Err(refused(format!("{arg}: no key in the file")));
    }
    Ok(keys)
}

fn expected_device(arg: Option<&str>) -> Step<Option<DevicePublicKey>> {
    let Some(arg) = arg else { return Ok(None) };
    let keys = public_keys(arg)?;
    let first = keys.first().map(String::as_str).unwrap_or_default();
    first.parse().map(Some).map_err(|e| refused(format!("--expect-device: {e}")))
}

fn read_input(path: &Path, limit: u64) -> Step<Vec<u8>> {
    let meta =
        fs::metadata(path).map_err(|e| unusable(format!("cannot read {}: {e}", path.display())))?;
    if meta.len() > limit {
        return Err(refused(format!(
            "{}: {} bytes, over the {limit}-byte limit",
            path.display(),
            meta.len()
        )));
    }
    fs::read(path).map_err(|e| unusable(format!("cannot read {}: {e}", path.display())))
}

// ---------------------------------------------------------------------------------------------
// commands

fn keys_generate(dir: &Path, force: bool) -> Step<()> {
    fs::create_dir_all(dir)
        .map_err(|e| unusable(format!("cannot create {}: {e}", dir.display())))?;
    let names = ["identity.txt", "recipient.txt", "device.key", "device.pub"];
    if !force {
        if let Some(existing) = names.iter().map(|n| dir.join(n)).find(|p| p.exists()) {
            return Err(refused(format!(
                "{} exists; keys are never overwritten without --force",
                existing.display()
            )));
        }
    }
    let entropy = SystemEntropy::default();
    let identity = Identity::generate(&entropy);
    let device =
        DeviceSigningKey::generate(&entropy).map_err(|e| unusable(format!("device key: {e}")))?;
    let recipient = identity.recipient();
    let public = device.public();
    let now = SystemClock::default().now_ms();
    let identity_text = format!(
        "# SafeHome recipient identity (secret: opens evidence sealed to it)\n# created: {now}\n# recipient: {recipient}\n{}\n",
        identity.to_text().as_str()
    );
    let device_text = format!(
        "# SafeHome device signing key (secret: signs evidence sealed on this device)\n# created: {now}\n# device: {public}\n{}\n",
        device.to_text().as_str()
    );
    write_atomic(&dir.join("identity.txt"), identity_text.as_bytes(), true)?;
    write_atomic(&dir.join("recipient.txt"), format!("{recipient}\n").as_bytes(), false)?;
    write_atomic(&dir.join("device.key"), device_text.as_bytes(), true)?;
    write_atomic(&dir.join("device.pub"), format!("{public}\n").as_bytes(), false)?;
    outln!("recipient {recipient}");
    outln!("device    {public}");
    outln!("wrote identity.txt, recipient.txt, device.key, device.pub in {}", dir.display());
    Ok(())
}

fn photo_options(max_pixels: u32, quality: u8) -> PhotoOptions {
    PhotoOptions { max_pixels, quality, ..PhotoOptions::default() }
}

fn process(input: &Path, opts: &PhotoOptions) -> Step<ProcessedPhoto> {
    let bytes = read_input(input, opts.max_input_bytes)?;
    photo::process(&bytes, opts).map_err(|e| refused(format!("{}: {e}", input.display())))
}

fn photo_json(p: &ProcessedPhoto) -> serde_json::Value {
    serde_json::json!({
        "width": p.width,
        "height": p.height,
        "bytes": p.jpeg.len(),
        "sha256": hex::encode(&p.sha256),
        "thumbnail": { "width": p.thumbnail_width, "height": p.thumbnail_height, "bytes": p.thumbnail.len() },
        "original": p.original,
        "exif": p.exif,
    })
}

fn photo_process(
    input: &Path,
    out: &Path,
    max_pixels: u32,
    quality: u8,
    thumbnail: Option<&Path>,
    json: bool,
) -> Step<()> {
    refuse_same_file(input, out)?;
    if let Some(t) = thumbnail {
        refuse_same_file(input, t)?;
    }
    let p = process(input, &photo_options(max_pixels, quality))?;
    write_atomic(out, &p.jpeg, false)?;
    if let Some(t) = thumbnail {
        write_atomic(t, &p.thumbnail, false)?;
    }
    if json {
        crate::out::json(&photo_json(&p));
    } else {
        outln!(
            "{}: {}x{} {} -> {}x{} JPEG, {} bytes, orientation {}, sha256 {}",
            input.display(),
            p.original.width,
            p.original.height,
            p.original.format,
            p.width,
            p.height,
            p.jpeg.len(),
            p.exif.orientation_or_default(),
            hex::encode(&p.sha256)
        );
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn seal(
    input: &Path,
    out: &Path,
    recipient_args: &[String],
    device_key: &Path,
    max_pixels: u32,
    quality: u8,
    id: Option<String>,
    json: bool,
) -> Step<()> {
    refuse_same_file(input, out)?;
    let mut recipients = Vec::new();
    for arg in recipient_args {
        for k in public_keys(arg)? {
            let r: RecipientKey = k.parse().map_err(|e| refused(format!("--recipient: {e}")))?;
            if !recipients.contains(&r) {
                recipients.push(r);
            }
        }
    }
    let device: DeviceSigningKey = read_key_file(device_key, "device key")?
        .parse()
        .map_err(|e| refused(format!("{}: {e}", device_key.display())))?;
    let p = process(input, &photo_options(max_pixels, quality))?;
    let id = id.unwrap_or_else(|| safehome_core::clock::new_uuid(&SystemEntropy::default()));
    let info = EvidenceInfo::for_photo(id, &p);
    let now = SystemClock::default().now_ms();
    let (env, summary) =
        envelope::seal_bytes(&p.jpeg, info, &recipients, &device, now, Randomness::System)
            .map_err(|e| refused(format!("cannot seal: {e}")))?;
    write_atomic(out, &env, false)?;
    let m = &summary.metadata;
    if json {
        let v = serde_json::json!({
            "envelope": out.display().to_string(),
            "envelope_bytes": env.len(),
            "recipients": recipients.len(),
            "device": device.public().to_string(),
            "photo": photo_json(&p),
            "metadata": m,
        });
        crate::out::json(&v);
    } else {
        outln!(
            "sealed {}: {}x{} JPEG ({} bytes) -> {} ({} bytes), {} recipient(s), device {}",
            m.evidence_id,
            p.width,
            p.height,
            p.jpeg.len(),
            out.display(),
            env.len(),
            recipients.len(),
            device.public()
        );
    }
    Ok(())
}

fn open_reader(input: &Path) -> Step<BufReader<fs::File>> {
    let f = fs::File::open(input)
        .map_err(|e| unusable(format!("cannot read {}: {e}", input.display())))?;
    Ok(BufReader::with_capacity(envelope::CHUNK_SIZE + envelope::TAG_LEN, f))
}

fn open(
    input: &Path,
    identity: &Path,
    out: &Path,
    expect_device: Option<&str>,
    meta: Option<&Path>,
) -> Step<()> {
    let id: Identity = read_key_file(identity, "identity")?
        .parse()
        .map_err(|e| refused(format!("{}: {e}", identity.display())))?;
    refuse_same_file(input, out)?;
    if let Some(m) = meta {
        refuse_same_file(input, m)?;
    }
    let expect = expected_device(expect_device)?;
    let reader = open_reader(input)?;
    let mut sink = FileSink::create(out)
        .map_err(|e| unusable(format!("cannot write {}: {e}", out.display())))?;
    let opened = envelope::open(reader, &id, expect.as_ref(), &mut sink).map_err(|e| match e {
        envelope::EnvelopeError::Io(io) => unusable(format!("{}: {io}", input.display())),
        other => refused(format!("{}: {other}", input.display())),
    })?;
    if let Some(m) = meta {
        write_atomic(m, format!("{}\n", opened.metadata.to_json_pretty()).as_bytes(), false)?;
    }
    let m = &opened.metadata;
    outln!(
        "opened {}: {} {} bytes, sealed at {} by {} -> {}",
        // Sealed metadata comes from whoever sealed the file: no control characters reach
        // the terminal.
        crate::out::printable(&m.evidence_id),
        crate::out::printable(&m.content_type),
        m.plaintext_len,
        m.sealed_at_ms,
        opened.device,
        out.display()
    );
    Ok(())
}

fn verify(input: &Path, expect_device: Option<&str>, json: bool) -> Step<()> {
    let expect = expected_device(expect_device)?;
    let reader = open_reader(input)?;
    let v = envelope::verify(reader, expect.as_ref()).map_err(|e| match e {
        envelope::EnvelopeError::Io(io) => unusable(format!("{}: {io}", input.display())),
        other => refused(format!("{}: {other}", input.display())),
    })?;
    if json {
        let j = serde_json::json!({
            "valid": true,
            "device": v.device.to_string(),
            "recipients": v.recipients,
            "payload_bytes": v.payload_len,
            "envelope_bytes": v.envelope_len,
            "header_sha256": hex::encode(&v.header_sha256),
        });
        crate::out::json(&j);
    } else {
        outln!(
            "valid: signed by {}, {} recipient(s), payload {} bytes, envelope {} bytes",
            v.device,
            v.recipients,
            v.payload_len,
            v.envelope_len
        );
    }
    Ok(())
}
