//! `uniffi-bindgen`, built from the same uniffi as `safehome-ffi`, so generated bindings always
//! match the scaffolding. Library mode, e.g. for Swift:
//! `cargo run -p safehome-uniffi-bindgen -- generate target/debug/libsafehome_ffi.so
//! --language swift --out-dir build/swift`
//!
//! Kotlin has a command of its own, which every build uses:
//! `uniffi-bindgen kotlin LIBRARY OUT_DIR` runs `generate --language kotlin` and then rewrites
//! the generated file so that calls pass through native buffers rather than JNA Structures
//! (`kotlin_ffibuffer`; docs/bindings.md, "Call layer"). Plain `generate --language kotlin`
//! still gives uniffi's own Kotlin, which the benchmarks compare against.

mod kotlin_ffibuffer;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("kotlin") {
        return match (args.get(2), args.get(3), args.len()) {
            (Some(library), Some(out_dir), 4) => match generate_kotlin(library, Path::new(out_dir))
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("uniffi-bindgen kotlin: {e}");
                    ExitCode::FAILURE
                }
            },
            _ => {
                eprintln!("usage: uniffi-bindgen kotlin LIBRARY OUT_DIR");
                ExitCode::from(2)
            }
        };
    }
    uniffi::uniffi_bindgen_main();
    ExitCode::SUCCESS
}

/// uniffi's generation (this same binary, `generate`), then the rewrite of each `.kt` it wrote.
fn generate_kotlin(library: &str, out_dir: &Path) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let status = Command::new(exe)
        .args(["generate", library, "--language", "kotlin", "--no-format", "--out-dir"])
        .arg(out_dir)
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run generate: {e}"))?;
    if !status.success() {
        return Err(format!("generate failed ({status})"));
    }
    let files = kotlin_files(out_dir)?;
    if files.is_empty() {
        return Err(format!("generate wrote no .kt file under {}", out_dir.display()));
    }
    for file in files {
        let source =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let rewritten =
            kotlin_ffibuffer::rewrite(&source).map_err(|e| format!("{}: {e}", file.display()))?;
        std::fs::write(&file, rewritten).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    Ok(())
}

fn kotlin_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.is_dir() {
            found.extend(kotlin_files(&path)?);
        } else if path.extension().is_some_and(|x| x == "kt") {
            found.push(path);
        }
    }
    Ok(found)
}
