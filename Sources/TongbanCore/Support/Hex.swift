import Crypto
import Foundation

/// Lower-case hexadecimal, as the database stores key hashes and digests. (`String(format: "%02x")` per byte
/// builds 32 formatted strings for one SHA-256; on the verification path of a scanner that showed.)
public enum Hex {
    static let digits = Array("0123456789abcdef".utf8)

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Hex SHA-256 of `data`.
    public static func sha256(_ data: some DataProtocol) -> String { encode(SHA256.hash(data: data)) }

    /// Hex SHA-256 of the UTF-8 bytes of `text`.
    public static func sha256(_ text: String) -> String { sha256(Data(text.utf8)) }
}
