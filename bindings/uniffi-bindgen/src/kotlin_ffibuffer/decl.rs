//! The `external fun` declarations of uniffi's `UniffiLib` object, and what each becomes: a Kotlin
//! wrapper with the same signature (so the rest of the generated file calls it unchanged) and, when
//! it still calls native code, the JNA declaration it calls.

use super::RewriteError;

/// One parameter of a declaration, as uniffi spelled it (`` `ptr` `` or `uniffi_out_err`).
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub ty: String,
}

/// One `external fun NAME(PARAMS): RET` of `UniffiLib`.
#[derive(Debug, Clone, PartialEq)]
pub struct Decl {
    pub name: String,
    pub params: Vec<Param>,
    pub ret: String,
}

/// The Kotlin type uniffi gives the call-status out-parameter.
const STATUS_TYPE: &str = "UniffiRustCallStatus";
const RUST_BUFFER: &str = "RustBuffer.ByValue";

/// How a declaration reaches Rust after the rewrite.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// Arguments, return value and call status through two pointer buffers, calling the
    /// `uniffi_ffibuffer_*` symbol that the scaffolding (feature `scaffolding-ffi-buffer-fns`)
    /// or `safehome-ffi`'s shims export. No JNA `Structure` is made.
    FfiBuffer { symbol: String },
    /// Primitives only, plus the call status, passed as a pointer into the thread's frame.
    StatusPointer,
    /// No call status (callback registration, contract version): declared to JNA unchanged.
    PassThrough,
    /// Needs a `RustBuffer` by value and has no pointer form (uniffi's async futures,
    /// `rustbuffer_from_bytes`, `rustbuffer_reserve`). SafeHome exports no async function and the
    /// generated code never calls these; the rewrite checks that and leaves a wrapper that throws.
    Unsupported,
}

/// Parses the declarations in the body of `UniffiLib`. Every `external fun` must parse: an
/// unexpected shape is an error, not a skipped line.
pub fn parse_decls(body: &str) -> Result<Vec<Decl>, RewriteError> {
    let mut decls = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("external fun ") {
        let after = &rest[start + "external fun ".len()..];
        let open =
            after.find('(').ok_or_else(|| RewriteError::new("an `external fun` without `(`"))?;
        let name = after[..open].trim().to_string();
        let close = after[open..]
            .find("):")
            .ok_or_else(|| RewriteError::new(format!("`{name}`: no `):` after its parameters")))?
            + open;
        let params = parse_params(&name, &after[open + 1..close])?;
        let ret_line = &after[close + 2..];
        let ret_end = ret_line.find('\n').unwrap_or(ret_line.len());
        let ret = ret_line[..ret_end].trim().to_string();
        if ret.is_empty() {
            return Err(RewriteError::new(format!("`{name}`: no return type")));
        }
        decls.push(Decl { name, params, ret });
        rest = &ret_line[ret_end..];
    }
    Ok(decls)
}

fn parse_params(fn_name: &str, text: &str) -> Result<Vec<Param>, RewriteError> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (name, ty) = p.split_once(':').ok_or_else(|| {
                RewriteError::new(format!("`{fn_name}`: parameter `{p}` has no type"))
            })?;
            Ok(Param { name: name.trim().to_string(), ty: ty.trim().to_string() })
        })
        .collect()
}

/// The buffer symbol uniffi's scaffolding exports for `name` (uniffi_meta's
/// `ffi_buffer_symbol_name`, which `safehome-ffi`'s shims follow too).
pub fn ffi_buffer_symbol(name: &str) -> String {
    match name.strip_prefix("uniffi_") {
        Some(rest) => format!("uniffi_ffibuffer_{rest}"),
        None => format!("uniffi_ffibuffer_{name}"),
    }
}

/// Size in 8-byte buffer elements of a type in the buffer convention (`FfiSerialize::SIZE`).
/// Exported functions take and return only these (objects cross as `Long` handles); anything
/// else leaves the function without a route, which the rewrite reports if it is called.
fn elements(ty: &str) -> Option<usize> {
    match ty {
        "Long" | "Int" | "Short" | "Byte" | "Float" | "Double" => Some(1),
        RUST_BUFFER => Some(3),
        "Unit" => Some(0),
        _ => None,
    }
}

/// Elements of the call status (`code`, then a `RustBuffer`) in a return buffer.
pub const STATUS_ELEMENTS: usize = 4;

fn is_primitive(ty: &str) -> bool {
    matches!(ty, "Long" | "Int" | "Short" | "Byte" | "Float" | "Double")
}

impl Decl {
    fn has_status(&self) -> bool {
        self.status_param().is_some()
    }

    /// The parameters before the call status.
    fn args(&self) -> &[Param] {
        if self.has_status() { &self.params[..self.params.len() - 1] } else { &self.params }
    }

    fn status_param(&self) -> Option<&Param> {
        self.params.last().filter(|p| p.ty == STATUS_TYPE)
    }

    fn mentions_rust_buffer(&self) -> bool {
        self.ret.contains("RustBuffer") || self.params.iter().any(|p| p.ty.contains("RustBuffer"))
    }

    pub fn route(&self) -> Route {
        let exported =
            ["_fn_func_", "_fn_method_", "_fn_constructor_"].iter().any(|k| self.name.contains(k));
        // safehome-ffi exports buffer forms of these two (bindings/src/ffibuffer_shims.rs).
        let shimmed = self.name.starts_with("ffi_")
            && (self.name.ends_with("_rustbuffer_alloc")
                || self.name.ends_with("_rustbuffer_free"));
        let buffer_types =
            self.args().iter().all(|p| elements(&p.ty).is_some()) && elements(&self.ret).is_some();
        if self.name.contains("_rust_future_") {
            Route::Unsupported
        } else if self.has_status() && (exported || shimmed) && buffer_types {
            Route::FfiBuffer { symbol: ffi_buffer_symbol(&self.name) }
        } else if self.has_status()
            && self.args().iter().all(|p| is_primitive(&p.ty))
            && (is_primitive(&self.ret) || self.ret == "Unit")
        {
            Route::StatusPointer
        } else if !self.has_status() && !self.mentions_rust_buffer() {
            Route::PassThrough
        } else {
            Route::Unsupported
        }
    }

    /// (argument elements, return elements including the status) for a buffer call.
    pub fn buffer_elements(&self) -> (usize, usize) {
        let args = self.args().iter().filter_map(|p| elements(&p.ty)).sum();
        let ret = elements(&self.ret).unwrap_or(0) + STATUS_ELEMENTS;
        (args, ret)
    }

    fn signature(&self) -> String {
        let params: Vec<String> =
            self.params.iter().map(|p| format!("{}: {}", p.name, p.ty)).collect();
        format!("fun {}({}): {}", self.name, params.join(", "), self.ret)
    }

    /// The JNA declaration the wrapper calls, if any.
    pub fn native_decl(&self) -> Option<String> {
        match self.route() {
            Route::FfiBuffer { symbol } => {
                Some(format!("    external fun {symbol}(args: Pointer, ret: Pointer): Unit\n"))
            }
            Route::StatusPointer => {
                let mut params: Vec<String> =
                    self.args().iter().map(|p| format!("{}: {}", p.name, p.ty)).collect();
                params.push("uniffiStatus: Pointer".to_string());
                Some(format!(
                    "    external fun {}({}): {}\n",
                    self.name,
                    params.join(", "),
                    self.ret
                ))
            }
            Route::PassThrough => Some(format!("    external {}\n", self.signature())),
            Route::Unsupported => None,
        }
    }

    /// The Kotlin wrapper, with the signature of uniffi's declaration.
    pub fn wrapper(&self) -> String {
        let sig = self.signature();
        let status = self.status_param().map(|p| p.name.as_str()).unwrap_or("");
        match self.route() {
            Route::FfiBuffer { symbol } => {
                let mut body = String::new();
                let mut offset = 0;
                for p in self.args() {
                    body.push_str(&format!("            {}\n", put_arg(&p.ty, offset, &p.name)));
                    offset += 8 * elements(&p.ty).unwrap_or(0);
                }
                let ret_elements = elements(&self.ret).unwrap_or(0);
                body.push_str(&format!(
                    "            UniffiNativeLib.{symbol}(uniffiFrame.argsPtr, uniffiFrame.retPtr)\n"
                ));
                body.push_str(&format!(
                    "            uniffiFrame.takeStatus({}, {status})\n",
                    8 * ret_elements
                ));
                if self.ret != "Unit" {
                    body.push_str(&format!("            return {}\n", get_ret(&self.ret)));
                }
                framed(&sig, &body)
            }
            Route::StatusPointer => {
                let mut args: Vec<&str> = self.args().iter().map(|p| p.name.as_str()).collect();
                args.push("uniffiFrame.retPtr");
                let body = format!(
                    "            uniffiFrame.clearStatus()\n            \
                     val uniffiResult = UniffiNativeLib.{}({})\n            \
                     uniffiFrame.takeStatus(0, {status})\n            \
                     return uniffiResult\n",
                    self.name,
                    args.join(", ")
                );
                framed(&sig, &body)
            }
            Route::PassThrough => {
                let args: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
                format!("    {sig} = UniffiNativeLib.{}({})\n", self.name, args.join(", "))
            }
            Route::Unsupported => format!(
                "    @Suppress(\"UNUSED_PARAMETER\")\n    {sig} =\n        \
                 throw UnsupportedOperationException(\"{}: not exported through the SafeHome call layer\")\n",
                self.name
            ),
        }
    }
}

fn framed(sig: &str, body: &str) -> String {
    format!(
        "    {sig} {{\n        val uniffiFrame = UniffiFfiFrames.enter()\n        try {{\n{body}        }} finally {{\n            uniffiFrame.release()\n        }}\n    }}\n"
    )
}

fn put_arg(ty: &str, offset: usize, name: &str) -> String {
    match ty {
        "Long" => format!("uniffiFrame.args.putLong({offset}, {name})"),
        "Int" => format!("uniffiFrame.args.putInt({offset}, {name})"),
        "Short" => format!("uniffiFrame.args.putShort({offset}, {name})"),
        "Byte" => format!("uniffiFrame.args.put({offset}, {name})"),
        "Float" => format!("uniffiFrame.args.putFloat({offset}, {name})"),
        "Double" => format!("uniffiFrame.args.putDouble({offset}, {name})"),
        _ => format!("uniffiFrame.putArgRustBuffer({offset}, {name})"),
    }
}

fn get_ret(ty: &str) -> &'static str {
    match ty {
        "Long" => "uniffiFrame.ret.getLong(0)",
        "Int" => "uniffiFrame.ret.getInt(0)",
        "Short" => "uniffiFrame.ret.getShort(0)",
        "Byte" => "uniffiFrame.ret.get(0)",
        "Float" => "uniffiFrame.ret.getFloat(0)",
        "Double" => "uniffiFrame.ret.getDouble(0)",
        _ => "uniffiFrame.retRustBuffer(0)",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const BODY: &str = "
    internal fun ensureInitialized() = Unit
    external fun uniffi_x_fn_clone_thing(`handle`: Long,uniffi_out_err: UniffiRustCallStatus, 
    ): Long
    external fun uniffi_x_fn_method_thing_answer(`ptr`: Long,`path`: RustBuffer.ByValue,`flag`: Byte,uniffi_out_err: UniffiRustCallStatus, 
    ): RustBuffer.ByValue
    external fun uniffi_x_fn_init_callback_vtable_sink(`vtable`: UniffiVTableCallbackInterfaceSink,
    ): Unit
    external fun ffi_x_rustbuffer_alloc(`size`: Long,uniffi_out_err: UniffiRustCallStatus, 
    ): RustBuffer.ByValue
    external fun ffi_x_rustbuffer_reserve(`buf`: RustBuffer.ByValue,`additional`: Long,uniffi_out_err: UniffiRustCallStatus, 
    ): RustBuffer.ByValue
    external fun ffi_x_rust_future_poll_u8(`handle`: Long,`callback`: UniffiRustFutureContinuationCallback,`callbackData`: Long,
    ): Unit
";

    #[test]
    fn every_declaration_parses_with_its_parameters_and_return() {
        let decls = parse_decls(BODY).unwrap();
        assert_eq!(decls.len(), 6);
        assert_eq!(decls[1].name, "uniffi_x_fn_method_thing_answer");
        assert_eq!(
            decls[1].params.iter().map(|p| p.ty.as_str()).collect::<Vec<_>>(),
            ["Long", "RustBuffer.ByValue", "Byte", "UniffiRustCallStatus"]
        );
        assert_eq!(decls[1].params[1].name, "`path`");
        assert_eq!(decls[1].ret, "RustBuffer.ByValue");
        assert_eq!(decls[2].ret, "Unit");
    }

    #[test]
    fn each_shape_gets_the_route_that_avoids_structures() {
        let decls = parse_decls(BODY).unwrap();
        let routes: Vec<Route> = decls.iter().map(Decl::route).collect();
        assert_eq!(routes[0], Route::StatusPointer);
        assert_eq!(
            routes[1],
            Route::FfiBuffer { symbol: "uniffi_ffibuffer_x_fn_method_thing_answer".into() }
        );
        assert_eq!(routes[2], Route::PassThrough);
        assert_eq!(
            routes[3],
            Route::FfiBuffer { symbol: "uniffi_ffibuffer_ffi_x_rustbuffer_alloc".into() }
        );
        assert_eq!(routes[4], Route::Unsupported);
        assert_eq!(routes[5], Route::Unsupported);
    }

    #[test]
    fn buffer_layout_counts_a_rust_buffer_as_three_elements_and_the_status_as_four() {
        let decls = parse_decls(BODY).unwrap();
        assert_eq!(decls[1].buffer_elements(), (5, 7));
        let wrapper = decls[1].wrapper();
        assert!(wrapper.contains("uniffiFrame.args.putLong(0, `ptr`)"), "{wrapper}");
        assert!(wrapper.contains("uniffiFrame.putArgRustBuffer(8, `path`)"), "{wrapper}");
        assert!(wrapper.contains("uniffiFrame.args.put(32, `flag`)"), "{wrapper}");
        // The status follows the three elements of the returned RustBuffer.
        assert!(wrapper.contains("uniffiFrame.takeStatus(24, uniffi_out_err)"), "{wrapper}");
        assert!(wrapper.contains("return uniffiFrame.retRustBuffer(0)"), "{wrapper}");
    }

    #[test]
    fn a_parameter_without_a_type_is_an_error_naming_the_function() {
        let err = parse_decls("external fun f(`a`,uniffi_out_err: UniffiRustCallStatus\n): Unit")
            .unwrap_err();
        assert!(err.to_string().contains("`f`"), "{err}");
    }

    #[test]
    fn symbol_names_follow_uniffis_rule() {
        assert_eq!(ffi_buffer_symbol("uniffi_a_fn_func_b"), "uniffi_ffibuffer_a_fn_func_b");
        assert_eq!(
            ffi_buffer_symbol("ffi_a_rustbuffer_free"),
            "uniffi_ffibuffer_ffi_a_rustbuffer_free"
        );
    }
}
