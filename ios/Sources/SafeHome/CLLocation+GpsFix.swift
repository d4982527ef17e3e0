import CoreLocation
import Foundation
import SafeHomeCore

extension CLLocation {
    /// This fix as the core's `GpsFix`. Nothing is judged here: the core validates the fix
    /// (`validateFix`, `DraftSession.answerFix`) and flags a simulated one for the supervisor.
    /// A negative (invalid) horizontal accuracy is passed on and refused by the core by name.
    public func toGpsFix(now: Date = Date()) -> GpsFix {
        GpsFix(
            lat: coordinate.latitude,
            lon: coordinate.longitude,
            accuracyM: horizontalAccuracy,
            timeMs: Int64((timestamp.timeIntervalSince1970 * 1000).rounded()),
            provider: .unknown, // iOS does not name providers
            // The core wants height above the WGS84 ellipsoid, as Android reports it.
            altitudeM: verticalAccuracy > 0 ? ellipsoidalAltitude : nil,
            verticalAccuracyM: verticalAccuracy > 0 ? verticalAccuracy : nil,
            bearingDeg: course >= 0 ? course : nil,
            speedMps: speed >= 0 ? speed : nil,
            ageMs: max(0, Int64((now.timeIntervalSince(timestamp) * 1000).rounded())),
            mock: sourceInformation?.isSimulatedBySoftware ?? false
        )
    }
}
