//! Pointer-only forms of the two RustBuffer functions of uniffi's scaffolding that the Kotlin call
//! layer needs (docs/bindings.md, "Call layer").
//!
//! With feature `scaffolding-ffi-buffer-fns`, uniffi exports every `#[uniffi::export]` function a
//! second time as `uniffi_ffibuffer_<name>(args, ret)`: arguments read from one buffer of 8-byte
//! elements, the result and the call status written to another. It does not do so for
//! `rustbuffer_alloc` and `rustbuffer_free`, which take or return a RustBuffer by value, so the
//! Kotlin side would need a JNA Structure (several microseconds) for every string it sends and
//! every buffer it frees. These two functions follow uniffi's naming and layout and call uniffi's
//! own implementations; the rewritten Kotlin (uniffi-bindgen `kotlin-ffibuffer`) links them by name.
//!
//! The buffers are references: the Kotlin caller passes two disjoint, 8-byte-aligned regions of
//! one frame of native memory, sized for the largest call.

use uniffi::{FfiBufferElement, FfiSerialize, RustBuffer, RustCallStatus};

/// `ffi_safehome_ffi_rustbuffer_alloc(size) -> RustBuffer` in buffer form.
/// args: `[size]`; ret: `[capacity, len, data, status code, status buffer ×3]`.
#[allow(unsafe_code)] // `no_mangle`: the generated Kotlin finds this symbol by name.
#[unsafe(no_mangle)]
pub extern "C" fn uniffi_ffibuffer_ffi_safehome_ffi_rustbuffer_alloc(
    args: &[FfiBufferElement; 1],
    ret: &mut [FfiBufferElement; 7],
) {
    let mut status = RustCallStatus::default();
    let size = <u64 as FfiSerialize>::get(args);
    let buffer = uniffi::uniffi_rustbuffer_alloc(size, &mut status);
    let (value, status_out) = ret.split_at_mut(<RustBuffer as FfiSerialize>::SIZE);
    <RustBuffer as FfiSerialize>::put(value, buffer);
    <RustCallStatus as FfiSerialize>::put(status_out, status);
}

/// `ffi_safehome_ffi_rustbuffer_free(RustBuffer)` in buffer form.
/// args: `[capacity, len, data]`; ret: `[status code, status buffer ×3]`.
#[allow(unsafe_code)] // `no_mangle`: the generated Kotlin finds this symbol by name.
#[unsafe(no_mangle)]
pub extern "C" fn uniffi_ffibuffer_ffi_safehome_ffi_rustbuffer_free(
    args: &[FfiBufferElement; 3],
    ret: &mut [FfiBufferElement; 4],
) {
    let mut status = RustCallStatus::default();
    uniffi::uniffi_rustbuffer_free(<RustBuffer as FfiSerialize>::get(args), &mut status);
    <RustCallStatus as FfiSerialize>::put(ret, status);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn a_buffer_allocated_through_the_shim_has_the_size_asked_for_and_frees_cleanly() {
        let mut args = [FfiBufferElement::default(); 3];
        <u64 as FfiSerialize>::put(&mut args[..1], 100);
        let mut ret = [FfiBufferElement::default(); 7];
        uniffi_ffibuffer_ffi_safehome_ffi_rustbuffer_alloc(
            (&args[..1]).try_into().unwrap(),
            &mut ret,
        );
        let status = <RustCallStatus as FfiSerialize>::get(&ret[3..]);
        assert_eq!(status.code, uniffi::RustCallStatusCode::Success);
        let buffer = <RustBuffer as FfiSerialize>::get(&ret[..3]);
        assert_eq!(buffer.len(), 100);
        assert!(buffer.capacity() >= 100);

        <RustBuffer as FfiSerialize>::put(&mut args, buffer);
        let mut ret = [FfiBufferElement::default(); 4];
        uniffi_ffibuffer_ffi_safehome_ffi_rustbuffer_free(&args, &mut ret);
        let status = <RustCallStatus as FfiSerialize>::get(&ret);
        assert_eq!(status.code, uniffi::RustCallStatusCode::Success);
    }

    #[test]
    fn the_shim_names_follow_uniffis_rule_for_the_scaffolding_names() {
        // uniffi_meta::ffi_buffer_symbol_name: `uniffi_ffibuffer_` + the name without `uniffi_`.
        let scaffolding = "ffi_safehome_ffi_rustbuffer_alloc";
        assert_eq!(
            format!("uniffi_ffibuffer_{scaffolding}"),
            stringify!(uniffi_ffibuffer_ffi_safehome_ffi_rustbuffer_alloc)
        );
    }
}
