//! Rewrites the Kotlin that uniffi generates so that calls into Rust pass plain values through
//! native buffers instead of JNA `Structure`s (docs/bindings.md, "Call layer").
//!
//! uniffi 0.32's Kotlin makes a JNA `Structure` for every call status and every `RustBuffer`
//! argument or result. Each costs a native allocation plus reflective field copies, about 10 µs a
//! crossing on the JVM here, which put a trivial call at 20–30 µs. The scaffolding can also export
//! every function in a pointer-only form (`uniffi_ffibuffer_*`, feature
//! `scaffolding-ffi-buffer-fns`), and JNA's direct mapping calls a function of two pointers for
//! well under a microsecond. This rewrite points the generated `UniffiLib` at those forms and
//! leaves everything else that uniffi generated (converters, records, objects, errors) as it is.
//!
//! It edits the text of one pinned uniffi version. Every edit must find exactly what it expects,
//! or the rewrite fails naming it, so a uniffi upgrade cannot silently produce broken bindings.

mod decl;

use decl::{Decl, Route};
use std::fmt;

/// Why the generated Kotlin could not be rewritten.
#[derive(Debug, Clone, PartialEq)]
pub struct RewriteError(String);

impl RewriteError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for RewriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RewriteError {}

/// First line of a rewritten file, so a second run refuses instead of rewriting twice.
const MARKER: &str =
    "// Call layer: rewritten by SafeHome's `uniffi-bindgen kotlin` (bindings/uniffi-bindgen).";

const RUNTIME: &str = include_str!("runtime.kt");

const STATUS_CLASS_START: &str = "@Structure.FieldOrder(\"code\", \"error_buf\")\ninternal open class UniffiRustCallStatus : Structure() {";
const RUST_BUFFER_CLASS_START: &str =
    "@Structure.FieldOrder(\"capacity\", \"len\", \"data\")\nopen class RustBuffer : Structure() {";
const CALLBACK_TYPES_START: &str = "// Define FFI callback types";
const CHECKSUM_LIB_START: &str = "internal object IntegrityCheckingUniffiLib {";
const LIB_START: &str = "internal object UniffiLib {";

/// Rewrites one generated Kotlin file (the text of `<namespace>.kt`).
pub fn rewrite(source: &str) -> Result<String, RewriteError> {
    if source.contains(MARKER) {
        return Err(RewriteError::new("this file has already been rewritten"));
    }
    let mut text = source.to_string();

    // RustBuffer: the same class without Structure. Its companion (alloc, free) is kept.
    let rust_buffer = block(&text, RUST_BUFFER_CLASS_START)?;
    let mut class = text[rust_buffer.clone()].to_string();
    class = replace_once(&class, RUST_BUFFER_CLASS_START, "open class RustBuffer {")?;
    class = replace_once(
        &class,
        "class ByValue: RustBuffer(), Structure.ByValue",
        "class ByValue: RustBuffer()",
    )?;
    class = replace_once(
        &class,
        "class ByReference: RustBuffer(), Structure.ByReference",
        "class ByReference: RustBuffer()",
    )?;
    text.replace_range(rust_buffer, &class);
    text = replace_once(
        &text,
        "rbuf.writeField(\"len\", bbuf.position().toLong())",
        "rbuf.len = bbuf.position().toLong()",
    )?;

    // Callback types and foreign-future structs: the Structure forms, and the status by pointer.
    let region = between(&text, CALLBACK_TYPES_START, CHECKSUM_LIB_START)?;
    let callbacks = text[region.clone()]
        .replace("RustBuffer.ByValue", "RustBufferStruct.ByValue")
        .replace("UniffiRustCallStatus.ByValue", "UniffiRustCallStatusStruct.ByValue")
        .replace("uniffiCallStatus: UniffiRustCallStatus,", "uniffiCallStatus: Pointer,");
    for ident in ["RustBuffer", "UniffiRustCallStatus"] {
        if has_bare(&callbacks, ident) {
            return Err(RewriteError::new(format!(
                "a callback type still uses `{ident}` in a form this rewrite does not know"
            )));
        }
    }
    text.replace_range(region, &callbacks);
    text = rewrite_callback_impls(&text)?;

    // UniffiLib: wrappers with uniffi's signatures, calling UniffiNativeLib.
    let lib = block(&text, LIB_START)?;
    let (new_lib, decls) = rewrite_lib(&text[lib.clone()])?;
    text.replace_range(lib, &new_lib);
    check_unsupported_unused(&text, &decls)?;

    // The status class goes; the call layer's runtime takes its place.
    let (arg_bytes, ret_bytes) = frame_bytes(&decls);
    let runtime = RUNTIME
        .replace("@ARG_BYTES@", &arg_bytes.to_string())
        .replace("@RET_BYTES@", &ret_bytes.to_string());
    let status = block(&text, STATUS_CLASS_START)?;
    text.replace_range(status, runtime.trim_start());

    Ok(format!("{MARKER}\n{text}"))
}

/// The byte range of a top-level block: from `start` to its closing `}` at the start of a line.
fn block(text: &str, start: &str) -> Result<std::ops::Range<usize>, RewriteError> {
    let begin = find_once(text, start)?;
    let end = text[begin..].find("\n}\n").map(|i| begin + i + 2).ok_or_else(|| {
        RewriteError::new(format!("no closing brace after `{}`", first_line(start)))
    })?;
    Ok(begin..end)
}

/// The range from `start` up to (not including) `end`.
fn between(text: &str, start: &str, end: &str) -> Result<std::ops::Range<usize>, RewriteError> {
    let begin = find_once(text, start)?;
    let stop = find_once(text, end)?;
    if stop < begin {
        return Err(RewriteError::new(format!("`{end}` comes before `{start}`")));
    }
    Ok(begin..stop)
}

fn find_once(text: &str, needle: &str) -> Result<usize, RewriteError> {
    let mut found = text.match_indices(needle).map(|(i, _)| i);
    match (found.next(), found.next()) {
        (Some(i), None) => Ok(i),
        (None, _) => Err(RewriteError::new(format!(
            "uniffi's Kotlin no longer contains `{}`; update the rewrite for this uniffi version",
            first_line(needle)
        ))),
        (Some(_), Some(_)) => {
            Err(RewriteError::new(format!("`{}` occurs more than once", first_line(needle))))
        }
    }
}

fn replace_once(text: &str, from: &str, to: &str) -> Result<String, RewriteError> {
    let at = find_once(text, from)?;
    let mut out = String::with_capacity(text.len() + to.len());
    out.push_str(&text[..at]);
    out.push_str(to);
    out.push_str(&text[at + from.len()..]);
    Ok(out)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `ident` occurs as a whole identifier (not as part of `RustBufferStruct` or
/// `UniffiForeignFutureResultRustBuffer`).
fn has_bare(text: &str, ident: &str) -> bool {
    text.match_indices(ident).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + ident.len()..].chars().next();
        !before.is_some_and(is_ident_char) && !after.is_some_and(is_ident_char)
    })
}

/// Callback implementations (`override fun callback(…)` of callback interfaces) receive
/// RustBuffers as `RustBufferStruct.ByValue` and the status as a pointer; the first lines of the
/// body turn them into the plain values the rest of uniffi's code expects.
fn rewrite_callback_impls(text: &str) -> Result<String, RewriteError> {
    const STATUS_PARAM: &str = "uniffiCallStatus: UniffiRustCallStatus,";
    let mut out = String::with_capacity(text.len() + 1024);
    for line in text.split_inclusive('\n') {
        if !(line.contains("override fun callback(") && line.contains(STATUS_PARAM)) {
            out.push_str(line);
            continue;
        }
        if line.contains("RustBuffer.ByReference") {
            return Err(RewriteError::new(
                "a callback returns a RustBuffer through a reference; not supported by the rewrite",
            ));
        }
        let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
        let buffers: Vec<&str> = line
            .split(',')
            .filter_map(|p| p.trim().strip_suffix(": RustBuffer.ByValue"))
            .map(|p| p.rsplit('(').next().unwrap_or(p).trim())
            .collect();
        out.push_str(
            &line
                .replace("RustBuffer.ByValue", "RustBufferStruct.ByValue")
                .replace(STATUS_PARAM, "uniffiCallStatusPtr: Pointer,"),
        );
        for name in buffers {
            out.push_str(&format!("{indent}    val {name} = {name}.toRustBuffer()\n"));
        }
        out.push_str(&format!(
            "{indent}    val uniffiCallStatus = UniffiRustCallStatus(uniffiCallStatusPtr)\n"
        ));
    }
    Ok(out)
}

/// The new `UniffiLib` (uniffi's object, each `external fun` replaced by its wrapper) followed
/// by `UniffiNativeLib`, which holds the JNA declarations.
fn rewrite_lib(lib: &str) -> Result<(String, Vec<Decl>), RewriteError> {
    let first_external = find_first(lib, "    external fun ")?;
    let head = replace_once(
        &lib[..first_external],
        "Native.register(UniffiLib::class.java,",
        "Native.register(UniffiNativeLib::class.java,",
    )?;
    let decls = decl::parse_decls(&lib[first_external..])?;
    if decls.is_empty() {
        return Err(RewriteError::new("UniffiLib declares no function"));
    }
    let mut out = head;
    for d in &decls {
        out.push_str(&d.wrapper());
    }
    out.push_str("}\n\n// The native functions UniffiLib calls (JNA direct mapping, registered by UniffiLib).\n");
    out.push_str("internal object UniffiNativeLib {\n");
    for d in &decls {
        if let Some(native) = d.native_decl() {
            out.push_str(&native);
        }
    }
    out.push_str("}\n");
    Ok((out, decls))
}

fn find_first(text: &str, needle: &str) -> Result<usize, RewriteError> {
    text.find(needle).ok_or_else(|| RewriteError::new(format!("`{}` not found", needle.trim())))
}

/// The generated code must never call a function left without a native route.
fn check_unsupported_unused(text: &str, decls: &[Decl]) -> Result<(), RewriteError> {
    for d in decls.iter().filter(|d| d.route() == Route::Unsupported) {
        let call = format!(".{}(", d.name);
        if text.contains(&call) {
            return Err(RewriteError::new(format!(
                "`{}` is called by the generated code but has no pointer form (an async function?)",
                d.name
            )));
        }
    }
    Ok(())
}

/// Bytes of the argument and return buffers of a frame: the largest call, and at least the 4
/// elements of a status for the status-pointer route.
fn frame_bytes(decls: &[Decl]) -> (usize, usize) {
    let (mut args, mut ret) = (1, decl::STATUS_ELEMENTS);
    for d in decls {
        if let Route::FfiBuffer { .. } = d.route() {
            let (a, r) = d.buffer_elements();
            args = args.max(a);
            ret = ret.max(r);
        }
    }
    (8 * args, 8 * ret)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn bare_identifiers_are_told_apart_from_longer_names() {
        assert!(has_bare("x: RustBuffer.ByValue", "RustBuffer"));
        assert!(!has_bare("x: RustBufferStruct.ByValue", "RustBuffer"));
        assert!(!has_bare("UniffiForeignFutureResultRustBuffer(", "RustBuffer"));
    }

    #[test]
    fn a_callback_implementation_converts_its_buffers_and_status_first() {
        let src = "        override fun callback(`uniffiHandle`: Long,`record`: RustBuffer.ByValue,`uniffiOutReturn`: Pointer,uniffiCallStatus: UniffiRustCallStatus,) {\n            body()\n";
        let out = rewrite_callback_impls(src).unwrap();
        assert!(out.contains("`record`: RustBufferStruct.ByValue"), "{out}");
        assert!(out.contains("uniffiCallStatusPtr: Pointer,"), "{out}");
        assert!(out.contains("val `record` = `record`.toRustBuffer()"), "{out}");
        assert!(
            out.contains("val uniffiCallStatus = UniffiRustCallStatus(uniffiCallStatusPtr)"),
            "{out}"
        );
        assert!(out.ends_with("            body()\n"), "{out}");
    }

    #[test]
    fn a_missing_anchor_names_itself_and_a_second_run_is_refused() {
        let err = rewrite("package x\n").unwrap_err();
        assert!(err.to_string().contains("\"capacity\""), "{err}");
        let err = rewrite(&format!("{MARKER}\npackage x\n")).unwrap_err();
        assert!(err.to_string().contains("already"), "{err}");
    }
}
