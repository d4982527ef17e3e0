import Foundation
import Security

/// Why the data key could not be read or created.
public enum DataKeyError: Error, Equatable {
    /// A Keychain call failed with this status (`SecCopyErrorMessageString` explains it).
    case keychain(OSStatus)
    /// The system random source failed.
    case random(OSStatus)
    /// The Keychain holds something that is not a 32-byte key: never replaced silently, since
    /// a new key would make the database unreadable (`ApiError.WrongKey`).
    case malformed(Int)
}

/// The 32-byte data key that `SafeHomeStore.open` needs, kept in the Keychain as a generic
/// password with `kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly`: readable by the background
/// sync after the first unlock since boot, never in backups, never migrated to another device.
/// Created once from `SecRandomCopyBytes`; never overwritten.
public final class KeychainDataKeyProvider: Sendable {
    private let service: String
    private let account: String

    public init(service: String = "org.safehome.data-key", account: String = "v1") {
        self.service = service
        self.account = account
    }

    /// The data key: read from the Keychain, or created and stored on first use.
    public func dataKey() throws -> Data {
        if let existing = try read() { return existing }
        var key = Data(count: 32)
        let status = key.withUnsafeMutableBytes { buf in
            SecRandomCopyBytes(kSecRandomDefault, 32, buf.baseAddress!)
        }
        guard status == errSecSuccess else { throw DataKeyError.random(status) }
        var add = baseQuery()
        add[kSecValueData as String] = key
        add[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        let added = SecItemAdd(add as CFDictionary, nil)
        switch added {
        case errSecSuccess:
            return key
        case errSecDuplicateItem:
            // Another thread or process created it first: use that one.
            if let existing = try read() { return existing }
            throw DataKeyError.keychain(added)
        default:
            throw DataKeyError.keychain(added)
        }
    }

    /// Delete the key (after the database was deleted): the next `dataKey()` makes a new one.
    public func destroy() throws {
        let status = SecItemDelete(baseQuery() as CFDictionary)
        guard status == errSecSuccess || status == errSecItemNotFound else {
            throw DataKeyError.keychain(status)
        }
    }

    private func baseQuery() -> [String: Any] {
        [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
            kSecUseDataProtectionKeychain as String: true,
        ]
    }

    private func read() throws -> Data? {
        var query = baseQuery()
        query[kSecReturnData as String] = true
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        var item: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &item)
        switch status {
        case errSecSuccess:
            guard let data = item as? Data else { throw DataKeyError.malformed(0) }
            guard data.count == 32 else { throw DataKeyError.malformed(data.count) }
            return data
        case errSecItemNotFound:
            return nil
        default:
            throw DataKeyError.keychain(status)
        }
    }
}
