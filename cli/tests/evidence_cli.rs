//! `safehome keys | photo | evidence` as a user runs them: outputs, files and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn safehome(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_safehome")).args(args).output().expect("runs")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn photo(rel: &str) -> String {
    s(&safehome_testdata::photo(rel))
}

fn workdir(name: &str) -> PathBuf {
    let d =
        std::env::temp_dir().join(format!("safehome-evidence-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn keys_seal_verify_open_round_trip() {
    let d = workdir("round-trip");
    let keys = d.join("keys");
    let o = safehome(&["keys", "generate", "--out", &s(&keys)]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    for f in ["identity.txt", "recipient.txt", "device.key", "device.pub"] {
        assert!(keys.join(f).is_file(), "{f}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(keys.join("identity.txt")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "identity readable by others");
    }
    // Keys are never overwritten silently.
    let again = safehome(&["keys", "generate", "--out", &s(&keys)]);
    assert_eq!(code(&again), 1);

    let env = d.join("photo.shev");
    let o = safehome(&[
        "evidence",
        "seal",
        &photo("camera/DSCN0010.jpg"),
        "-o",
        &s(&env),
        "--recipient",
        &s(&keys.join("recipient.txt")),
        "--device-key",
        &s(&keys.join("device.key")),
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["recipients"], 1);
    assert!(report["metadata"]["gps"]["latitude"].as_f64().unwrap() > 43.0);

    let device_pub = std::fs::read_to_string(keys.join("device.pub")).unwrap();
    let o = safehome(&["evidence", "verify", &s(&env), "--expect-device", device_pub.trim()]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(text(&o.stdout).starts_with("valid: signed by shdevice1"));

    let out = d.join("opened.jpg");
    let meta = d.join("meta.json");
    let o = safehome(&[
        "evidence",
        "open",
        &s(&env),
        "--identity",
        &s(&keys.join("identity.txt")),
        "-o",
        &s(&out),
        "--expect-device",
        &s(&keys.join("device.pub")),
        "--meta",
        &s(&meta),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let jpeg = std::fs::read(&out).unwrap();
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta).unwrap()).unwrap();
    let sha = safehome_core::evidence::photo::sha256(&jpeg);
    assert_eq!(m["plaintext_sha256"], safehome_core::hex::encode(&sha));
    assert_eq!(m["width"], 640);
    // The opened photo carries no EXIF: the GPS position lives only in the sealed metadata.
    assert!(!jpeg.windows(4).any(|w| w == b"Exif"));

    // A damaged envelope is refused with one line, and no output file appears.
    let bytes = std::fs::read(&env).unwrap();
    let cut = d.join("cut.shev");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let out2 = d.join("never.jpg");
    let o = safehome(&[
        "evidence",
        "open",
        &s(&cut),
        "--identity",
        &s(&keys.join("identity.txt")),
        "-o",
        &s(&out2),
    ]);
    assert_eq!(code(&o), 1);
    assert_eq!(text(&o.stderr).lines().count(), 1, "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("truncated"));
    assert!(!out2.exists());
    let leftovers: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial") || n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let o = safehome(&["evidence", "verify", &s(&cut)]);
    assert_eq!(code(&o), 1);

    // A stranger's identity is refused.
    let other = d.join("other");
    assert_eq!(code(&safehome(&["keys", "generate", "--out", &s(&other)])), 0);
    let o = safehome(&[
        "evidence",
        "open",
        &s(&env),
        "--identity",
        &s(&other.join("identity.txt")),
        "-o",
        &s(&out2),
    ]);
    assert_eq!(code(&o), 1);
    assert!(text(&o.stderr).contains("not a recipient"), "{}", text(&o.stderr));
    // ... and so is another device where this one is expected.
    let o = safehome(&[
        "evidence",
        "verify",
        &s(&env),
        "--expect-device",
        &s(&other.join("device.pub")),
    ]);
    assert_eq!(code(&o), 1);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn photo_process_writes_a_clean_jpeg_and_a_thumbnail() {
    let d = workdir("photo");
    let out = d.join("p.jpg");
    let thumb = d.join("t.jpg");
    let o = safehome(&[
        "photo",
        "process",
        &photo("orientation/Portrait_6.jpg"),
        "-o",
        &s(&out),
        "--max-pixels",
        "300",
        "--quality",
        "70",
        "--thumbnail",
        &s(&thumb),
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((r["width"].as_u64(), r["height"].as_u64()), (Some(200), Some(300)));
    assert_eq!(r["exif"]["orientation"], 6);
    let dims = |p: &Path| {
        let l = safehome_core::evidence::jpeg::parse(&std::fs::read(p).unwrap()).unwrap();
        assert_eq!(l.metadata_segments().count(), 0);
        (l.width, l.height)
    };
    assert_eq!(dims(&out), (200, 300));
    // The thumbnail's long edge is 320 px or the photo's, whichever is smaller.
    let (tw, th) = dims(&thumb);
    assert_eq!(tw.max(th), 300);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn refusals_and_usage_errors_have_their_exit_codes() {
    let d = workdir("codes");
    let out = s(&d.join("x.jpg"));
    // Refused input: exit 1, one line naming the reason.
    let synthetic = safehome_testdata::write_synthetic(&d.join("synthetic"));
    for (path, needle) in [
        (photo("odd/iphone_13_pro_max.head.HEIC"), "HEIC"),
        (s(&synthetic.join("truncated-half.jpg")), "truncated"),
        (s(&synthetic.join("bomb-20000x20000.png")), "20000x20000"),
        (photo("odd/empty.jpg"), "empty"),
    ] {
        let rel = &path;
        let o = safehome(&["photo", "process", &path, "-o", &out]);
        assert_eq!(code(&o), 1, "{rel}");
        let err = text(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{rel}: {err}");
        assert!(err.contains(needle), "{rel}: {err}");
    }
    assert!(!d.join("x.jpg").exists());
    // A malformed key is refused input.
    let bad = d.join("bad.txt");
    std::fs::write(&bad, "shrecip1qqqqqqqqqqqqqq\n").unwrap();
    let dk = d.join("dk");
    assert_eq!(code(&safehome(&["keys", "generate", "--out", &s(&dk)])), 0);
    let o = safehome(&[
        "evidence",
        "seal",
        &photo("camera/DSCN0012.jpg"),
        "-o",
        &s(&d.join("e.shev")),
        "--recipient",
        &s(&bad),
        "--device-key",
        &s(&dk.join("device.key")),
    ]);
    assert_eq!(code(&o), 1, "{}", text(&o.stderr));
    // A public key where the secret belongs.
    let o = safehome(&[
        "evidence",
        "seal",
        &photo("camera/DSCN0012.jpg"),
        "-o",
        &s(&d.join("e.shev")),
        "--recipient",
        &s(&dk.join("recipient.txt")),
        "--device-key",
        &s(&dk.join("device.pub")),
    ]);
    assert_eq!(code(&o), 1);
    assert!(text(&o.stderr).contains("expected a device signing key"), "{}", text(&o.stderr));
    // Usage errors: exit 2.
    assert_eq!(code(&safehome(&["evidence", "seal"])), 2);
    assert_eq!(code(&safehome(&["photo", "process", &photo("camera/jolla.jpg")])), 2);
    assert_eq!(code(&safehome(&["photo", "process", "/no/such/file.jpg", "-o", &out])), 2);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn files_are_written_safely_and_hostile_inputs_are_bounded() {
    let d = workdir("file-safety");
    let keys = d.join("keys");
    assert_eq!(code(&safehome(&["keys", "generate", "--out", &s(&keys)])), 0);
    let recipient = s(&keys.join("recipient.txt"));
    let device_key = s(&keys.join("device.key"));

    // A sealed envelope, with an evidence id holding a terminal escape sequence.
    let env = d.join("photo.shev");
    let hostile_id = "\u{1b}[2J\u{1b}]0;pwned\u{7}";
    let o = safehome(&[
        "evidence",
        "seal",
        &photo("camera/DSCN0010.jpg"),
        "-o",
        &s(&env),
        "--recipient",
        &recipient,
        "--device-key",
        &device_key,
        "--id",
        hostile_id,
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&env).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "a non-secret output is opened up after writing");
    }
    let sealed = std::fs::read(&env).unwrap();

    // `-o` naming the input (here through another spelling) is refused; the input is intact.
    let same = format!("{}/./photo.shev", s(&d));
    let o = safehome(&[
        "evidence",
        "open",
        &s(&env),
        "--identity",
        &s(&keys.join("identity.txt")),
        "-o",
        &same,
    ]);
    assert_eq!(code(&o), 2, "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("the output is the input"), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&env).unwrap(), sealed);

    // The opened plaintext is the owner's only, and the hostile id reaches the terminal escaped.
    let out = d.join("opened.jpg");
    let o = safehome(&[
        "evidence",
        "open",
        &s(&env),
        "--identity",
        &s(&keys.join("identity.txt")),
        "-o",
        &s(&out),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(!o.stdout.contains(&0x1b), "an escape byte reached the terminal");
    assert!(text(&o.stdout).contains("\\u{1b}[2J"), "{}", text(&o.stdout));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "opened evidence readable by others");
    }

    // A key file that never ends is refused after its limit, not read forever.
    #[cfg(unix)]
    {
        let o = safehome(&[
            "evidence",
            "open",
            &s(&env),
            "--identity",
            "/dev/zero",
            "-o",
            &s(&d.join("z.jpg")),
        ]);
        assert_eq!(code(&o), 1, "{}", text(&o.stderr));
        assert!(text(&o.stderr).contains("over 65536 bytes"), "{}", text(&o.stderr));
    }
}
