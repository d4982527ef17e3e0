//! Evidence benchmarks, each beside its anchor measured in the same run:
//! - `pipeline/*`: the photo pipeline on `camera/jolla.jpg` (an 8 MP phone photo, in
//!   testdata/photos) to 2000 px, vs `vipsthumbnail IN --size 2000
//!   -o OUT[Q=80,strip]` (wall time of the process, and the same minus `vips --version`, i.e.
//!   without libvips' start-up); peak memory of one pipeline run (VmHWM of a child process) vs
//!   vipsthumbnail's maximum RSS. Targets (issue 3): <= 1.0x vipsthumbnail, <= 64 MiB.
//! - `seal/*`, `open/*`: envelope throughput on 16 MiB in memory (criterion), and on a 256 MiB
//!   file end to end vs `rage` with an X25519 recipient, and vs `openssl speed -evp
//!   aes-256-gcm` (16 KiB blocks): sealing file to file in one pass (`seal_seekable`: hash on
//!   a second thread, header written last), the same into a `FileSink` (fsync, rename), and
//!   the two-pass way (hash pass, then the streaming `seal`); opening to a `FileSink`
//!   (temporary file, fsync, rename) and to a plain file without fsync (as rage); in memory
//!   `seal_bytes`, the streaming `seal` with the hash known, and opening to a null sink. Every
//!   timed run writes new files (see `remove_outputs`). The ceilings beside them: one core's
//!   SHA-256 and AES-256-GCM through ring, and `openssl speed -evp sha256`. Peak memory of
//!   sealing and opening 256 MiB. Targets: >= 2x rage, >= 50% of OpenSSL AES-GCM, < 16 MiB.
//! - `seal_photo_300k`, `seal_empty`: per-photo sealing cost, and its fixed part (two
//!   recipients: two X25519 agreements, HKDFs, one Ed25519 signature).
//!
//! `cargo bench -p safehome-core --bench evidence` runs everything and prints `EVIDENCE-BENCH`
//! lines (JSON) with the side-by-side figures. Under `cargo test` (no `--bench` argument) each
//! criterion benchmark runs once on small inputs and the anchors are skipped. Anchors that are
//! not installed (`apt-get install libvips-tools`, `cargo install rage`, openssl) are skipped
//! with a note.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::Criterion;
use safehome_core::clock::SeededEntropy;
use safehome_core::evidence::envelope::{
    self, FileSink, Randomness, SealRequest, SeekableSealRequest, Sink,
};
use safehome_core::evidence::photo::{self, PhotoOptions};
use safehome_core::evidence::{DeviceSigningKey, EvidenceInfo, Identity, RecipientKey};

/// The phone photos the pipeline is timed on (testdata/photos/camera).
const PIPELINE_PHOTOS: &[&str] = &["jolla.jpg"];

const PEAK_ENV: &str = "SAFEHOME_EVIDENCE_BENCH_CHILD";

fn photos_dir() -> PathBuf {
    safehome_testdata::photo("camera/jolla.jpg");
    safehome_testdata::photos_dir().join("camera")
}

struct Keys {
    ids: Vec<Identity>,
    recipients: Vec<RecipientKey>,
    device: DeviceSigningKey,
}

fn keys() -> Keys {
    let e = SeededEntropy::new(2024);
    let ids: Vec<Identity> = (0..2).map(|_| Identity::generate(&e)).collect();
    let recipients = ids.iter().map(Identity::recipient).collect();
    Keys { ids, recipients, device: DeviceSigningKey::generate(&e).unwrap() }
}

fn info() -> EvidenceInfo {
    EvidenceInfo {
        evidence_id: "00000000-0000-4000-8000-00000000be0c".into(),
        content_type: "application/octet-stream".into(),
        ..EvidenceInfo::default()
    }
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

fn report(name: &str, fields: serde_json::Value) {
    let mut v = serde_json::json!({ "bench": name });
    if let (Some(o), Some(f)) = (v.as_object_mut(), fields.as_object()) {
        for (k, x) in f {
            o.insert(k.clone(), x.clone());
        }
    }
    println!("EVIDENCE-BENCH {v}");
}

fn have(cmd: &str) -> bool {
    Command::new(cmd).arg("--version").output().is_ok()
}

/// Remove the files a timed run writes, so that every run writes new files (untimed). On this
/// machine's ext4 (mounted with `discard`), truncating a 256 MiB file in place costs 35-100 ms
/// and makes ext4 flush the new data at close (`auto_da_alloc`): rewriting in place would
/// measure the file system, for SafeHome and rage alike.
fn remove_outputs(outputs: &[&Path]) {
    for o in outputs {
        let _ = std::fs::remove_file(o);
    }
}

/// Median wall time (ms) of `runs` runs of a command, each writing new `outputs`; `None` if it
/// cannot run or fails.
fn time_command(cmd: &str, args: &[&str], runs: usize, outputs: &[&Path]) -> Option<f64> {
    let mut t = Vec::new();
    for _ in 0..runs {
        remove_outputs(outputs);
        let start = Instant::now();
        let out = Command::new(cmd).args(args).output().ok()?;
        if !out.status.success() {
            eprintln!("{cmd} failed: {}", String::from_utf8_lossy(&out.stderr));
            return None;
        }
        t.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    Some(median(t))
}

/// Maximum resident set (KiB) of a command, through `/usr/bin/time -f %M`.
fn command_max_rss_kb(cmd: &str, args: &[&str]) -> Option<u64> {
    let out =
        Command::new("/usr/bin/time").arg("-f").arg("%M").arg(cmd).args(args).output().ok()?;
    String::from_utf8_lossy(&out.stderr).lines().last()?.trim().parse().ok()
}

fn status_kb(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
}

/// Median wall time (ms) of `f` over `runs` runs after one warm-up.
fn time_fn(runs: usize, f: impl FnMut()) -> f64 {
    time_fn_writing(runs, &[], f)
}

/// Median wall time (ms) of `f` over `runs` runs after one warm-up, each writing new `outputs`.
fn time_fn_writing(runs: usize, outputs: &[&Path], mut f: impl FnMut()) -> f64 {
    remove_outputs(outputs);
    f();
    let mut t = Vec::with_capacity(runs);
    for _ in 0..runs {
        remove_outputs(outputs);
        let start = Instant::now();
        f();
        t.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    median(t)
}

// ---------------------------------------------------------------------------------------------
// child processes for peak memory

fn sha256_file(path: &Path) -> [u8; 32] {
    let mut f = std::fs::File::open(path).unwrap();
    let mut h = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finish().as_ref().try_into().unwrap()
}

/// Seal a file to a file in one pass: `seal_seekable` encrypts the payload at its place after
/// the header while a second thread hashes it, then writes the header. No fsync (as rage).
fn seal_file(k: &Keys, input: &Path, output: &Path) -> u64 {
    let len = std::fs::metadata(input).unwrap().len();
    let req = SeekableSealRequest {
        recipients: &k.recipients,
        device: &k.device,
        info: info(),
        sealed_at_ms: 0,
        plaintext_len: len,
        expect_sha256: None,
    };
    let r = std::fs::File::open(input).unwrap();
    let w = std::fs::File::create(output).unwrap();
    let s = envelope::seal_seekable(req, Randomness::System, r, w).unwrap();
    s.envelope_len
}

/// The same into a `FileSink`, as a careful caller would: a temporary file, fsync, rename on
/// success, nothing left behind on failure.
fn seal_file_atomic(k: &Keys, input: &Path, output: &Path) -> u64 {
    let len = std::fs::metadata(input).unwrap().len();
    let req = SeekableSealRequest {
        recipients: &k.recipients,
        device: &k.device,
        info: info(),
        sealed_at_ms: 0,
        plaintext_len: len,
        expect_sha256: None,
    };
    let r = std::fs::File::open(input).unwrap();
    let mut sink = FileSink::create(output).unwrap();
    let s = envelope::seal_seekable(req, Randomness::System, r, &mut sink).unwrap();
    sink.commit().unwrap();
    s.envelope_len
}

/// The two-pass way, for any (non-seekable) output: a SHA-256 pass for the header, then the
/// streaming `seal`, which checks the payload against it (on its second thread).
fn seal_file_two_pass(k: &Keys, input: &Path, output: &Path) -> u64 {
    let len = std::fs::metadata(input).unwrap().len();
    let sha = sha256_file(input);
    let req = SealRequest {
        recipients: &k.recipients,
        device: &k.device,
        info: info(),
        sealed_at_ms: 0,
        plaintext_len: len,
        plaintext_sha256: sha,
    };
    let r = std::fs::File::open(input).unwrap();
    let w = std::fs::File::create(output).unwrap();
    envelope::seal(req, Randomness::System, r, w).unwrap().envelope_len
}

/// Open file to file as the CLI does: a `FileSink` (temporary file, fsync, rename).
fn open_file(k: &Keys, input: &Path, output: &Path) {
    let r = std::fs::File::open(input).unwrap();
    let mut sink = FileSink::create(output).unwrap();
    envelope::open(r, &k.ids[1], Some(&k.device.public()), &mut sink).unwrap();
}

/// A sink that writes straight to a file and commits without fsync (as rage writes its output).
struct PlainFileSink(std::fs::File);

impl Write for PlainFileSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.write(b)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl Sink for PlainFileSink {
    fn commit(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn discard(&mut self) {}
}

fn open_file_no_fsync(k: &Keys, input: &Path, output: &Path) {
    let r = std::fs::File::open(input).unwrap();
    let mut sink = PlainFileSink(std::fs::File::create(output).unwrap());
    envelope::open(r, &k.ids[1], Some(&k.device.public()), &mut sink).unwrap();
}

/// In a child process: run one job and print its peak RSS.
fn child(job: &str) {
    let before = status_kb("VmHWM:").unwrap_or(0);
    let parts: Vec<&str> = job.split('|').collect();
    match parts.as_slice() {
        ["pipeline", path] => {
            let p = photo::process_file(Path::new(path), &PhotoOptions::default()).unwrap();
            black_box(p);
        }
        ["seal", i, o] => {
            seal_file(&keys(), Path::new(i), Path::new(o));
        }
        ["open", i, o] => open_file(&keys(), Path::new(i), Path::new(o)),
        _ => panic!("unknown child job {job}"),
    }
    let after = status_kb("VmHWM:").unwrap_or(0);
    println!("PEAK {before} {after}");
}

/// Peak RSS (KiB) of a job run in a fresh child process of this benchmark binary.
fn child_peak_kb(job: &str) -> Option<(u64, u64)> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new(exe).env(PEAK_ENV, job).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("PEAK "))?;
    let mut it = line.split_whitespace().skip(1).map(|x| x.parse::<u64>().ok());
    Some((it.next()??, it.next()??))
}

// ---------------------------------------------------------------------------------------------
// side by side

fn pipeline_vs_vips(full: bool) {
    if !full {
        // Under `cargo test` the criterion group above already ran the pipeline once.
        return;
    }
    let dir = photos_dir();
    let tmp = std::env::temp_dir().join(format!("safehome-evidence-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let vips = full && have("vipsthumbnail");
    if full && !vips {
        println!("note: vipsthumbnail not found (apt-get install libvips-tools): anchor skipped");
    }
    let vips_startup = if vips { time_command("vips", &["--version"], 9, &[]) } else { None };
    for &name in PIPELINE_PHOTOS {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).unwrap();
        let runs = if full { 15 } else { 1 };
        let mut out_len = 0;
        let ours = time_fn(runs, || {
            let p = photo::process(&bytes, &PhotoOptions::default()).unwrap();
            out_len = p.jpeg.len();
            black_box(p);
        });
        let mut fields = serde_json::json!({
            "photo": name, "median_ms": ours, "output_bytes": out_len,
        });
        if full {
            if let Some((before, after)) = child_peak_kb(&format!("pipeline|{}", path.display())) {
                fields["peak_rss_kib"] = after.into();
                fields["process_baseline_kib"] = before.into();
            }
        }
        if vips {
            let out = tmp.join(format!("vips-{name}"));
            let target = format!("{}[Q=80,strip]", out.display());
            let p = path.to_string_lossy().into_owned();
            let args = ["--size", "2000", "-o", target.as_str()];
            let full_args: Vec<&str> = std::iter::once(p.as_str()).chain(args).collect();
            if let Some(v) = time_command("vipsthumbnail", &full_args, 9, &[]) {
                fields["vipsthumbnail_median_ms"] = v.into();
                fields["ratio_vs_vipsthumbnail"] = (ours / v).into();
                if let Some(s) = vips_startup {
                    fields["vips_startup_median_ms"] = s.into();
                    fields["ratio_vs_vipsthumbnail_minus_startup"] =
                        (ours / (v - s).max(0.001)).into();
                }
                fields["vipsthumbnail_output_bytes"] =
                    std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0).into();
                if let Some(rss) = command_max_rss_kb("vipsthumbnail", &full_args) {
                    fields["vipsthumbnail_max_rss_kib"] = rss.into();
                }
            }
        }
        report("pipeline", fields);
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

/// `openssl speed -evp ALG` on 16 KiB blocks, in bytes per second.
fn openssl_speed_bytes_per_s(alg: &str) -> Option<f64> {
    let out = Command::new("openssl")
        .args(["speed", "-evp", alg, "-seconds", "2", "-bytes", "16384"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.to_ascii_lowercase().starts_with(alg))?;
    let last = line.split_whitespace().last()?;
    let kb: f64 = last.trim_end_matches('k').parse().ok()?;
    Some(kb * 1000.0)
}

/// One core's SHA-256 and AES-256-GCM through ring on `data` (64 KiB chunks, as the envelope
/// uses them), in MiB/s: the ceilings. Median of `runs`.
fn ring_ceilings(data: &[u8], runs: usize) -> (f64, f64) {
    let mib = data.len() as f64 / (1 << 20) as f64;
    let sha_ms = time_fn(runs, || {
        black_box(ring::digest::digest(&ring::digest::SHA256, data));
    });
    let key = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &[7u8; 32]).unwrap(),
    );
    let mut buf = data.to_vec();
    let aes_ms = time_fn(runs, || {
        for (i, c) in buf.chunks_mut(64 << 10).enumerate() {
            let mut n = [0u8; 12];
            n[3..11].copy_from_slice(&(i as u64).to_be_bytes());
            let nonce = ring::aead::Nonce::assume_unique_for_key(n);
            let tag = key.seal_in_place_separate_tag(nonce, ring::aead::Aad::empty(), c);
            let _ = black_box(tag.unwrap());
        }
    });
    (mib / (sha_ms / 1000.0), mib / (aes_ms / 1000.0))
}

fn throughput_vs_rage_and_openssl(full: bool) {
    if !full {
        return;
    }
    const LEN: usize = 256 << 20;
    let mib = LEN as f64 / (1 << 20) as f64;
    let tmp = std::env::temp_dir().join(format!("safehome-evidence-tp-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let input = tmp.join("input.bin");
    {
        let mut w = BufWriter::new(std::fs::File::create(&input).unwrap());
        let block = data(1 << 20);
        for i in 0..LEN >> 20 {
            let mut b = block.clone();
            b[..8].copy_from_slice(&(i as u64).to_le_bytes());
            w.write_all(&b).unwrap();
        }
        w.flush().unwrap();
    }
    let k = keys();
    let sealed = tmp.join("input.shev");
    let sealed2 = tmp.join("input-two-pass.shev");
    let opened = tmp.join("opened.bin");
    let runs = 7;
    let seal_ms = time_fn_writing(runs, &[&sealed], || {
        seal_file(&k, &input, &sealed);
    });
    let seal_atomic_ms = time_fn_writing(runs, &[&sealed2], || {
        seal_file_atomic(&k, &input, &sealed2);
    });
    assert_eq!(
        std::fs::metadata(&sealed).unwrap().len(),
        std::fs::metadata(&sealed2).unwrap().len()
    );
    let seal2_ms = time_fn_writing(runs, &[&sealed2], || {
        seal_file_two_pass(&k, &input, &sealed2);
    });
    assert_eq!(
        std::fs::metadata(&sealed).unwrap().len(),
        std::fs::metadata(&sealed2).unwrap().len()
    );
    let _ = std::fs::remove_file(&sealed2);
    let open_ms = time_fn_writing(runs, &[&opened], || open_file(&k, &sealed, &opened));
    assert_eq!(sha256_file(&opened), sha256_file(&input));
    let open_nf_ms = time_fn_writing(runs, &[&opened], || open_file_no_fsync(&k, &sealed, &opened));
    assert_eq!(sha256_file(&opened), sha256_file(&input));
    let _ = std::fs::remove_file(&opened);

    // In memory: `seal_bytes` (hashes once, on a second thread); the streaming `seal` with the
    // hash already known (it checks the payload against it, on a second thread); opening to a
    // null sink. The crypto and the hash alone, no file system.
    let payload = data(LEN);
    let sha = photo::sha256(&payload);
    let mut bytes_len = 0;
    let mem_bytes_ms = time_fn(runs, || {
        let (env, _) =
            envelope::seal_bytes(&payload, info(), &k.recipients, &k.device, 0, Randomness::System)
                .unwrap();
        bytes_len = env.len();
        black_box(env);
    });
    let mut env_mem = Vec::with_capacity(LEN + (1 << 20));
    let mem_seal_ms = time_fn(runs, || {
        env_mem.clear();
        let req = SealRequest {
            recipients: &k.recipients,
            device: &k.device,
            info: info(),
            sealed_at_ms: 0,
            plaintext_len: LEN as u64,
            plaintext_sha256: sha,
        };
        envelope::seal(req, Randomness::System, &payload[..], &mut env_mem).unwrap();
    });
    assert_eq!(bytes_len, env_mem.len());
    struct Null;
    impl Write for Null {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Sink for Null {
        fn commit(&mut self) -> std::io::Result<()> {
            Ok(())
        }
        fn discard(&mut self) {}
    }
    let mem_open_ms = time_fn(runs, || {
        envelope::open(&env_mem[..], &k.ids[0], None, &mut Null).unwrap();
    });
    let (ring_sha, ring_aes) = ring_ceilings(&payload, runs);
    drop(payload);
    drop(env_mem);

    let mbps = |ms: f64| mib / (ms / 1000.0);
    let mut fields = serde_json::json!({
        "payload_mib": mib,
        "runs": runs,
        "seal_file_median_ms": seal_ms, "seal_file_mib_s": mbps(seal_ms),
        "seal_file_fsync_median_ms": seal_atomic_ms, "seal_file_fsync_mib_s": mbps(seal_atomic_ms),
        "seal_file_two_pass_median_ms": seal2_ms, "seal_file_two_pass_mib_s": mbps(seal2_ms),
        "open_file_median_ms": open_ms, "open_file_mib_s": mbps(open_ms),
        "open_file_no_fsync_median_ms": open_nf_ms, "open_file_no_fsync_mib_s": mbps(open_nf_ms),
        "seal_bytes_memory_mib_s": mbps(mem_bytes_ms),
        "seal_memory_mib_s": mbps(mem_seal_ms), "open_memory_mib_s": mbps(mem_open_ms),
        "ring_sha256_1core_mib_s": ring_sha, "ring_aes_256_gcm_1core_mib_s": ring_aes,
    });
    if let Some((_, peak)) =
        child_peak_kb(&format!("seal|{}|{}", input.display(), tmp.join("peak.shev").display()))
    {
        fields["seal_peak_rss_kib"] = peak.into();
    }
    if let Some((_, peak)) =
        child_peak_kb(&format!("open|{}|{}", sealed.display(), tmp.join("peak.bin").display()))
    {
        fields["open_peak_rss_kib"] = peak.into();
    }
    if have("rage") && have("rage-keygen") {
        let key = tmp.join("age-key.txt");
        let out = Command::new("rage-keygen").arg("-o").arg(&key).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let age_pub =
            text.split_whitespace().find(|w| w.starts_with("age1")).map(str::to_string).or_else(
                || {
                    std::fs::read_to_string(&key)
                        .ok()?
                        .split_whitespace()
                        .find(|w| w.starts_with("age1"))
                        .map(str::to_string)
                },
            );
        if let Some(age_pub) = age_pub {
            let age_file = tmp.join("input.age");
            let rage_out = tmp.join("rage-out.bin");
            let (i, a, o, kf) = (
                input.to_string_lossy().into_owned(),
                age_file.to_string_lossy().into_owned(),
                rage_out.to_string_lossy().into_owned(),
                key.to_string_lossy().into_owned(),
            );
            let enc = time_command("rage", &["-r", &age_pub, "-o", &a, &i], runs, &[&age_file]);
            if let Some(enc) = enc {
                fields["rage_seal_median_ms"] = enc.into();
                fields["rage_seal_mib_s"] = mbps(enc).into();
                fields["seal_ratio_vs_rage"] = (enc / seal_ms).into();
                fields["seal_two_pass_ratio_vs_rage"] = (enc / seal2_ms).into();
                let dec =
                    time_command("rage", &["-d", "-i", &kf, "-o", &o, &a], runs, &[&rage_out]);
                if let Some(dec) = dec {
                    fields["rage_open_median_ms"] = dec.into();
                    fields["rage_open_mib_s"] = mbps(dec).into();
                    fields["open_ratio_vs_rage"] = (dec / open_ms).into();
                    fields["open_no_fsync_ratio_vs_rage"] = (dec / open_nf_ms).into();
                }
                if let Some(rss) = command_max_rss_kb("rage", &["-r", &age_pub, "-o", &a, &i]) {
                    fields["rage_seal_max_rss_kib"] = rss.into();
                }
            }
        }
    } else {
        println!("note: rage not found (cargo install rage): anchor skipped");
    }
    match openssl_speed_bytes_per_s("aes-256-gcm") {
        Some(bps) => {
            let o = bps / (1 << 20) as f64;
            fields["openssl_aes_256_gcm_16k_mib_s"] = o.into();
            for (name, ms) in [
                ("seal_file", seal_ms),
                ("seal_file_fsync", seal_atomic_ms),
                ("open_file", open_ms),
                ("open_file_no_fsync", open_nf_ms),
                ("seal_bytes_memory", mem_bytes_ms),
                ("seal_memory", mem_seal_ms),
                ("open_memory", mem_open_ms),
            ] {
                fields[format!("{name}_fraction_of_openssl")] = (mbps(ms) / o).into();
            }
            fields["ring_sha256_fraction_of_openssl_aes_gcm"] = (ring_sha / o).into();
        }
        None => println!("note: openssl not found: AES-GCM anchor skipped"),
    }
    if let Some(bps) = openssl_speed_bytes_per_s("sha256") {
        fields["openssl_sha256_16k_mib_s"] = (bps / (1 << 20) as f64).into();
    }
    report("throughput_256mib", fields);
    let _ = std::fs::remove_dir_all(&tmp);
}

fn per_photo_overhead(full: bool) {
    let k = keys();
    let photo = data(300 * 1024);
    let runs = if full { 200 } else { 1 };
    let seal_300k = time_fn(runs, || {
        black_box(
            envelope::seal_bytes(&photo, info(), &k.recipients, &k.device, 0, Randomness::System)
                .unwrap(),
        );
    });
    let seal_empty = time_fn(runs, || {
        black_box(
            envelope::seal_bytes(&[], info(), &k.recipients, &k.device, 0, Randomness::System)
                .unwrap(),
        );
    });
    let (env, _) =
        envelope::seal_bytes(&photo, info(), &k.recipients, &k.device, 0, Randomness::System)
            .unwrap();
    let open_300k = time_fn(runs, || {
        black_box(envelope::open_bytes(&env, &k.ids[1], None).unwrap());
    });
    let verify_300k = time_fn(runs, || {
        black_box(envelope::verify(&env[..], None).unwrap());
    });
    report(
        "per_photo_300kib",
        serde_json::json!({
            "recipients": 2,
            "seal_median_ms": seal_300k,
            "fixed_cost_median_ms": seal_empty,
            "open_median_ms": open_300k,
            "verify_median_ms": verify_300k,
            "envelope_overhead_bytes": env.len() - photo.len(),
        }),
    );
}

// ---------------------------------------------------------------------------------------------
// criterion

fn criterion_benches(c: &mut Criterion, full: bool) {
    let dir = photos_dir();
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10).measurement_time(Duration::from_secs(if full { 8 } else { 1 }));
    for &name in PIPELINE_PHOTOS {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| photo::process(black_box(&bytes), &PhotoOptions::default()).unwrap())
        });
    }
    g.finish();

    let k = keys();
    let len = if full { 16 << 20 } else { 1 << 20 };
    let payload = data(len);
    let mut g = c.benchmark_group("envelope");
    g.sample_size(10).throughput(criterion::Throughput::Bytes(len as u64));
    g.bench_function("seal", |b| {
        b.iter(|| {
            envelope::seal_bytes(&payload, info(), &k.recipients, &k.device, 0, Randomness::System)
                .unwrap()
        })
    });
    let (env, _) =
        envelope::seal_bytes(&payload, info(), &k.recipients, &k.device, 0, Randomness::System)
            .unwrap();
    g.bench_function("open", |b| b.iter(|| envelope::open_bytes(&env, &k.ids[0], None).unwrap()));
    g.finish();

    let photo = data(300 * 1024);
    c.bench_function("seal_photo_300k", |b| {
        b.iter(|| {
            envelope::seal_bytes(&photo, info(), &k.recipients, &k.device, 0, Randomness::System)
                .unwrap()
        })
    });
    c.bench_function("seal_empty", |b| {
        b.iter(|| {
            envelope::seal_bytes(&[], info(), &k.recipients, &k.device, 0, Randomness::System)
                .unwrap()
        })
    });
}

fn main() {
    if let Ok(job) = std::env::var(PEAK_ENV) {
        child(&job);
        return;
    }
    let full = std::env::args().any(|a| a == "--bench");
    let mut c = Criterion::default().configure_from_args();
    if !full {
        c = c.warm_up_time(Duration::from_millis(1)).measurement_time(Duration::from_millis(1));
    }
    criterion_benches(&mut c, full);
    pipeline_vs_vips(full);
    per_photo_overhead(full);
    throughput_vs_rage_and_openssl(full);
    c.final_summary();
}
