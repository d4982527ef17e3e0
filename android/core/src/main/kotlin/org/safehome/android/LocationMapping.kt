package org.safehome.android

import android.location.Location
import android.location.LocationManager
import android.os.Build
import android.os.SystemClock
import org.safehome.core.FixProvider
import org.safehome.core.GpsFix

/**
 * An Android fix as the core's [GpsFix]. The core validates it (`validateFix`,
 * `DraftSession.answerFix`) and flags a mock provider for the supervisor, so nothing is dropped
 * or judged here. A fix without accuracy keeps accuracy 0, which the core refuses by name.
 *
 * @param nowElapsedRealtimeNanos the monotonic clock now; the fix's age comes from it, not from
 *   the wall clock, which the user can change.
 */
fun Location.toGpsFix(nowElapsedRealtimeNanos: Long = SystemClock.elapsedRealtimeNanos()): GpsFix =
    GpsFix(
        lat = latitude,
        lon = longitude,
        accuracyM = if (hasAccuracy()) accuracy.toDouble() else 0.0,
        timeMs = time,
        altitudeM = if (hasAltitude()) altitude else null,
        verticalAccuracyM =
            if (Build.VERSION.SDK_INT >= 26 && hasVerticalAccuracy()) verticalAccuracyMeters.toDouble() else null,
        bearingDeg = if (hasBearing()) bearing.toDouble() else null,
        speedMps = if (hasSpeed()) speed.toDouble() else null,
        provider = providerOf(provider),
        ageMs = ((nowElapsedRealtimeNanos - elapsedRealtimeNanos) / 1_000_000).coerceAtLeast(0),
        mock = isMockFix(),
    )

/** The platform's mock-location flag (`isMock` on API 31+, `isFromMockProvider` before). */
@Suppress("DEPRECATION")
fun Location.isMockFix(): Boolean =
    if (Build.VERSION.SDK_INT >= 31) isMock else isFromMockProvider

internal fun providerOf(name: String?): FixProvider = when (name) {
    LocationManager.GPS_PROVIDER -> FixProvider.GPS
    LocationManager.NETWORK_PROVIDER -> FixProvider.NETWORK
    LocationManager.PASSIVE_PROVIDER -> FixProvider.PASSIVE
    "fused" -> FixProvider.FUSED // LocationManager.FUSED_PROVIDER (API 31) and Play services
    else -> FixProvider.UNKNOWN
}
