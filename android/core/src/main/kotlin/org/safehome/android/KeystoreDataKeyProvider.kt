package org.safehome.android

import android.content.Context
import android.os.Build
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyPermanentlyInvalidatedException
import android.security.keystore.KeyProperties
import android.security.keystore.StrongBoxUnavailableException
import java.io.File
import java.io.FileOutputStream
import java.security.KeyStore
import java.security.SecureRandom
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * The 32-byte data key that `SafeHomeStore.open` needs, kept as the core's design asks: a random
 * key, stored only wrapped (AES-256-GCM) by a non-exportable Android Keystore key, in the app's
 * no-backup files directory. The Keystore key never leaves the secure hardware (StrongBox where
 * the phone has it, else the TEE); the wrapped file is useless on another device or after the
 * app's data is cleared.
 *
 * The key is not bound to user authentication: the sync worker must open the store in the
 * background. PINs (in the core) protect each profile.
 *
 * Never replaces a key it cannot unwrap: that would orphan the database (`WrongKey` forever).
 * It throws [DataKeyLostException] instead and the app decides (support, then a reset).
 */
class KeystoreDataKeyProvider(
    context: Context,
    private val alias: String = "safehome.data-key-wrap.v1",
    fileName: String = "safehome-data-key.v1.bin",
) {
    private val file = File(context.noBackupFilesDir, fileName)

    /** The data key: unwrapped from the file, or created, wrapped and stored on first use. */
    @Synchronized
    fun dataKey(): ByteArray = if (file.exists()) unwrap() else create()

    /** Forget the key (after the database was deleted): the next [dataKey] makes a new one. */
    @Synchronized
    fun destroy() {
        file.delete()
        keyStore().deleteEntry(alias)
    }

    private fun create(): ByteArray {
        val key = ByteArray(KEY_BYTES).also { SecureRandom().nextBytes(it) }
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.ENCRYPT_MODE, wrappingKey(createIfMissing = true))
        cipher.updateAAD(AAD)
        val iv = cipher.iv // chosen by the Keystore (randomized encryption is required)
        val wrapped = cipher.doFinal(key)
        writeAtomically(byteArrayOf(FORMAT_VERSION, iv.size.toByte()) + iv + wrapped)
        return key
    }

    private fun unwrap(): ByteArray {
        val bytes = file.readBytes()
        if (bytes.size < 2 || bytes[0] != FORMAT_VERSION) throw DataKeyLostException("unknown key file format")
        val ivLen = bytes[1].toInt()
        if (ivLen !in 12..16 || bytes.size != 2 + ivLen + KEY_BYTES + TAG_BYTES) {
            throw DataKeyLostException("key file is damaged")
        }
        val iv = bytes.copyOfRange(2, 2 + ivLen)
        val wrapped = bytes.copyOfRange(2 + ivLen, bytes.size)
        val key = wrappingKey(createIfMissing = false)
            ?: throw DataKeyLostException("the Keystore key is gone (app data restored to another device?)")
        try {
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(TAG_BYTES * 8, iv))
            cipher.updateAAD(AAD)
            return cipher.doFinal(wrapped)
        } catch (e: KeyPermanentlyInvalidatedException) {
            throw DataKeyLostException("the Keystore key was invalidated", e)
        } catch (e: javax.crypto.AEADBadTagException) {
            throw DataKeyLostException("the key file does not match the Keystore key", e)
        }
    }

    private fun keyStore(): KeyStore = KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }

    private fun wrappingKey(createIfMissing: Boolean): SecretKey? {
        (keyStore().getKey(alias, null) as SecretKey?)?.let { return it }
        if (!createIfMissing) return null
        fun spec(strongBox: Boolean) = KeyGenParameterSpec.Builder(
            alias, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT,
        )
            .setKeySize(256)
            .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
            .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
            .setRandomizedEncryptionRequired(true)
            .apply { if (strongBox && Build.VERSION.SDK_INT >= 28) setIsStrongBoxBacked(true) }
            .build()
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, ANDROID_KEYSTORE)
        if (Build.VERSION.SDK_INT >= 28) {
            try {
                generator.init(spec(strongBox = true))
                return generator.generateKey()
            } catch (_: StrongBoxUnavailableException) {
                // No StrongBox on this phone: the TEE below.
            }
        }
        generator.init(spec(strongBox = false))
        return generator.generateKey()
    }

    /** Write to a temporary file, fsync, rename: a crash leaves the old file or the new one. */
    private fun writeAtomically(bytes: ByteArray) {
        val tmp = File(file.parentFile, file.name + ".tmp")
        FileOutputStream(tmp).use { out ->
            out.write(bytes)
            out.fd.sync()
        }
        if (!tmp.renameTo(file)) throw java.io.IOException("could not store the wrapped data key")
    }

    private companion object {
        const val ANDROID_KEYSTORE = "AndroidKeyStore"
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val KEY_BYTES = 32
        const val TAG_BYTES = 16
        const val FORMAT_VERSION: Byte = 1
        val AAD = "safehome data key v1".toByteArray()
    }
}

/** The data key cannot be recovered: the database it opens cannot be read any more. */
class DataKeyLostException(message: String, cause: Throwable? = null) : Exception(message, cause)
