package org.safehome.android

import android.util.Log
import org.safehome.core.LogLevel
import org.safehome.core.LogRecord
import org.safehome.core.LogSink
import org.safehome.core.setLogSink

/**
 * Sends the core's log events to logcat under one tag. Events carry codes and ids, never
 * personal data, so they are safe in a bug report.
 */
class LogcatSink(private val tag: String = "SafeHome") : LogSink {
    override fun log(record: LogRecord) {
        val text = "${record.target}: ${record.message}"
        when (record.level) {
            LogLevel.ERROR -> Log.e(tag, text)
            LogLevel.WARN -> Log.w(tag, text)
            LogLevel.INFO -> Log.i(tag, text)
            LogLevel.DEBUG -> Log.d(tag, text)
        }
    }

    companion object {
        /** Install once, in `Application.onCreate`. */
        fun install(minLevel: LogLevel = LogLevel.INFO, tag: String = "SafeHome") {
            setLogSink(LogcatSink(tag), minLevel)
        }
    }
}
