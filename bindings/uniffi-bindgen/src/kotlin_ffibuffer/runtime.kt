
// ---- SafeHome call layer (bindings/uniffi-bindgen/src/kotlin_ffibuffer/runtime.kt) ----
// uniffi's Kotlin reaches Rust through JNA Structures: a call status per call and a RustBuffer per
// buffer argument or result, each with its own native allocation and reflective reads and writes
// (about 10 µs per crossing on the JVM). Here calls pass plain values through a per-thread frame
// of native memory instead: arguments in one buffer, the result and the status in another, read
// through ByteBuffer views. RustBuffer and UniffiRustCallStatus are plain Kotlin classes; the
// Structure forms below remain only where Rust calls Kotlin (callback interfaces). See
// docs/bindings.md, "Call layer".

private const val UNIFFI_FFI_ARG_BYTES = @ARG_BYTES@L
private const val UNIFFI_FFI_RET_BYTES = @RET_BYTES@L

/**
 * Status of one call. On the call path a plain value that the frame fills in after the call;
 * in a callback from Rust it writes through to the status Rust passed (`peer`).
 *
 * @suppress
 */
internal open class UniffiRustCallStatus(private val peer: Pointer? = null) {
    var code: Byte = 0
        set(value) {
            field = value
            peer?.setByte(0, value)
        }
    var error_buf: RustBuffer.ByValue = RustBuffer.ByValue()
        set(value) {
            field = value
            peer?.let { UniffiFfiFrame.writeRustBuffer(it, 8, value) }
        }

    fun isSuccess(): Boolean = code == UNIFFI_CALL_SUCCESS
    fun isError(): Boolean = code == UNIFFI_CALL_ERROR
    fun isPanic(): Boolean = code == UNIFFI_CALL_UNEXPECTED_ERROR
}

/**
 * A RustBuffer as JNA passes it by value to a callback. Converted to [RustBuffer] at once.
 *
 * @suppress
 */
@Structure.FieldOrder("capacity", "len", "data")
open class RustBufferStruct : Structure() {
    @JvmField var capacity: Long = 0
    @JvmField var len: Long = 0
    @JvmField var data: Pointer? = null

    class ByValue : RustBufferStruct(), Structure.ByValue

    internal fun toRustBuffer(): RustBuffer.ByValue = RustBuffer.create(capacity.toULong(), len.toULong(), data)
}

/**
 * The call status as a Structure, for the declarations of uniffi's async foreign-future types,
 * which SafeHome does not use.
 *
 * @suppress
 */
@Structure.FieldOrder("code", "error_buf")
internal open class UniffiRustCallStatusStruct : Structure() {
    @JvmField var code: Byte = 0
    @JvmField var error_buf: RustBufferStruct.ByValue = RustBufferStruct.ByValue()

    class ByValue : UniffiRustCallStatusStruct(), Structure.ByValue
}

/**
 * One call's native memory: the argument buffer, then the return buffer (the result, then the
 * status). Elements are 8 bytes, as uniffi's `FfiBufferElement` union; a pointer takes the
 * first 4 bytes of its element on 32-bit ABIs.
 *
 * @suppress
 */
internal class UniffiFfiFrame(private val stack: UniffiFfiFrameStack) {
    private val memory = com.sun.jna.Memory(UNIFFI_FFI_ARG_BYTES + UNIFFI_FFI_RET_BYTES)
    val argsPtr: Pointer = memory.share(0)
    val retPtr: Pointer = memory.share(UNIFFI_FFI_ARG_BYTES)
    val args: ByteBuffer = memory.getByteBuffer(0, UNIFFI_FFI_ARG_BYTES).order(ByteOrder.nativeOrder())
    val ret: ByteBuffer = memory.getByteBuffer(UNIFFI_FFI_ARG_BYTES, UNIFFI_FFI_RET_BYTES).order(ByteOrder.nativeOrder())

    fun release() {
        stack.depth--
    }

    fun putArgRustBuffer(offset: Int, value: RustBuffer) {
        args.putLong(offset, value.capacity)
        args.putLong(offset + 8, value.len)
        putAddress(args, offset + 16, value.data)
    }

    fun retRustBuffer(offset: Int): RustBuffer.ByValue =
        RustBuffer.create(ret.getLong(offset).toULong(), ret.getLong(offset + 8).toULong(), address(ret, offset + 16))

    /** Marks the status at the start of the return buffer as success before a status-pointer call. */
    fun clearStatus() {
        ret.put(0, UNIFFI_CALL_SUCCESS)
    }

    /** Copies the status at `offset` of the return buffer into `status`. */
    fun takeStatus(offset: Int, status: UniffiRustCallStatus) {
        val code = ret.get(offset)
        status.code = code
        if (code != UNIFFI_CALL_SUCCESS) {
            status.error_buf = retRustBuffer(offset + 8)
        }
    }

    companion object {
        private fun putAddress(buf: ByteBuffer, offset: Int, value: Pointer?) {
            val address = if (value == null) 0L else Pointer.nativeValue(value)
            if (Native.POINTER_SIZE == 8) buf.putLong(offset, address) else buf.putInt(offset, address.toInt())
        }

        private fun address(buf: ByteBuffer, offset: Int): Pointer? {
            val address = if (Native.POINTER_SIZE == 8) buf.getLong(offset) else buf.getInt(offset).toLong() and 0xffffffffL
            return if (address == 0L) null else Pointer(address)
        }

        /** Writes a RustBuffer (capacity, length, data) at `offset` of native memory. */
        fun writeRustBuffer(peer: Pointer, offset: Long, value: RustBuffer) {
            peer.setLong(offset, value.capacity)
            peer.setLong(offset + 8, value.len)
            peer.setPointer(offset + 16, value.data)
        }
    }
}

/**
 * A thread's frames. A call takes the next free one, so a call made from inside a callback
 * (Rust calling Kotlin calling Rust) never writes over the frame of the call still in progress.
 *
 * @suppress
 */
internal class UniffiFfiFrameStack {
    private val frames = ArrayList<UniffiFfiFrame>()
    var depth = 0

    fun enter(): UniffiFfiFrame {
        if (depth == frames.size) frames.add(UniffiFfiFrame(this))
        return frames[depth++]
    }
}

/** @suppress */
internal object UniffiFfiFrames {
    // Not ThreadLocal.withInitial: that needs Android API 26, and the library supports 24.
    private val perThread = object : ThreadLocal<UniffiFfiFrameStack>() {
        override fun initialValue() = UniffiFfiFrameStack()
    }

    fun enter(): UniffiFfiFrame = perThread.get()!!.enter()
}
// ---- end of the SafeHome call layer ----
