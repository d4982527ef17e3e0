import os
import SafeHomeCore

/// Sends the core's log events to the unified log (Console.app, `log stream`). The core's
/// messages carry codes and ids, never personal data, so they are logged as public.
public final class OSLogSink: LogSink, Sendable {
    private let logger: Logger

    public init(subsystem: String = "org.safehome", category: String = "core") {
        logger = Logger(subsystem: subsystem, category: category)
    }

    public func log(record: LogRecord) throws {
        let target = record.target
        let message = record.message
        switch record.level {
        case .error: logger.error("\(target, privacy: .public): \(message, privacy: .public)")
        case .warn: logger.warning("\(target, privacy: .public): \(message, privacy: .public)")
        case .info: logger.info("\(target, privacy: .public): \(message, privacy: .public)")
        case .debug: logger.debug("\(target, privacy: .public): \(message, privacy: .public)")
        }
    }

    /// Install once at launch.
    public static func install(minLevel: LogLevel = .info) throws {
        try setLogSink(sink: OSLogSink(), minLevel: minLevel)
    }
}
