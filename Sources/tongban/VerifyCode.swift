import ArgumentParser
import Codes
import Foundation
import TongbanCore

/// `tongban verify-code --trust-list FILE PAYLOAD`: offline verification of a one-code payload.
struct VerifyCode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-code",
        abstract: "Verify a code payload offline against the codes trust list (exit 0 valid, 1 not).",
        discussion: """
            Download the trust list from GET /.well-known/tongban-codes-trust-list.json. Both platform-signed codes and
            codes signed by a certified holder device (certificate~code) are checked: signatures, expiry with the
            trust list's clock skew, and the revoked device certificates it lists. Replays can only be detected
            online (POST /api/v1/codes/verify) or when the gate uploads its batch.
            """)

    @Option(name: .long, help: "The trust list (JSON) downloaded from /.well-known/tongban-codes-trust-list.json.")
    var trustList: String

    @Option(name: .long, help: "Verify as of this time (RFC 3339) instead of now, e.g. for a gate's stored scans.")
    var at: String?

    @Argument(help: "The scanned payload, or - to read it from standard input.")
    var payload: String

    func run() throws {
        guard let data = FileManager.default.contents(atPath: trustList) else {
            throw CommandFailure(description: "cannot read the trust list \(trustList)")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let list = try? decoder.decode(CodeTrustList.self, from: data) else {
            throw CommandFailure(description: "\(trustList) is not a Tongban codes trust list")
        }
        var now = Date()
        if let at {
            guard let date = ISO8601DateFormatter().date(from: at) else { throw ValidationError("--at must be an RFC 3339 time") }
            now = date
        }
        var token = payload
        if token == "-" {
            token = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        do {
            let verified = try list.verify(token, now: now)
            let expires = ISO8601DateFormatter().string(from: verified.claims.expiresAt)
            let origin = verified.certificateID.map { "device certificate \($0)" } ?? "platform key \(verified.platformKid)"
            print("valid: \(verified.claims.typ.rawValue) code of holder \(verified.claims.sub), signed by \(origin), until \(expires)")
        } catch let failure as CodeFailure {
            throw CommandFailure(description: "not valid: \(failure.rawValue) (\(failure.message))")
        } catch {
            throw CommandFailure(description: "not valid: malformed")
        }
    }
}
