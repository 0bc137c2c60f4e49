import ArgumentParser
import Foundation
import Licences
import NIOConcurrencyHelpers
import TongbanCore

/// `tongban verify --trust-list FILE [--status-list FILE] PAYLOAD`: offline licence verification.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify a licence payload offline against a downloaded trust list (exit 0 valid, 1 not).",
        discussion: """
            Download the trust list from GET /.well-known/tongban-trust-list.json. With --status-list, the
            licence's status comes from the issuer's signed Bitstring Status Lists (GET
            /api/v1/licences/status/{department}/revocation and .../suspension, checked against the trust list and
            their validity), or from a JSON object {"revoked": [numbers], "suspended": [numbers]}; without it only
            the signature and the validity dates are checked.
            """)

    @Option(name: .long, help: "The trust list (JSON) downloaded from /.well-known/tongban-trust-list.json.")
    var trustList: String

    @Option(name: .long, help: ArgumentHelp(
        "A status list: the issuer's signed Bitstring Status List downloaded from /api/v1/licences/status/{department}/{revocation|suspension} (repeat the option for both purposes), or a JSON file {\"revoked\": [numbers], \"suspended\": [numbers]}."))
    var statusList: [String] = []

    @Argument(help: "The scanned payload (the signed token), or - to read it from standard input.")
    var payload: String

    struct StatusFile: Decodable {
        var revoked: [String]?
        var suspended: [String]?
    }

    func run() throws {
        guard let data = FileManager.default.contents(atPath: trustList) else {
            throw CommandFailure(description: "cannot read the trust list \(trustList)")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let list = try? decoder.decode(TrustList.self, from: data) else {
            throw CommandFailure(description: "\(trustList) is not a Tongban trust list")
        }
        let keys = list.keys()
        var status = StatusFile(revoked: [], suspended: [])
        // Signed status lists by issuer and purpose, each checked against the trust list before use.
        var bitstrings: [String: [String: [UInt8]]] = [:]
        for path in statusList {
            guard let raw = FileManager.default.contents(atPath: path) else { throw CommandFailure(description: "cannot read the status list \(path)") }
            let text = String(decoding: raw, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if text.hasPrefix("ey") {
                guard let kid = CompactJWS.keyID(of: text), let issuer = kid.split(separator: "#").first.map(String.init) else {
                    throw CommandFailure(description: "\(path) is not a signed status list")
                }
                do {
                    let credential = try StatusListCredential.verify(text, keys: keys, issuer: issuer, now: Date())
                    bitstrings[issuer, default: [:]][credential.credentialSubject.statusPurpose] = try credential.bitstring()
                } catch {
                    throw CommandFailure(description: "\(path): \(error)")
                }
            } else if let decoded = try? JSONDecoder().decode(StatusFile.self, from: raw) {
                status.revoked = (status.revoked ?? []) + (decoded.revoked ?? [])
                status.suspended = (status.suspended ?? []) + (decoded.suspended ?? [])
            } else {
                throw CommandFailure(description: "\(path) is not a status list")
            }
        }
        let uncovered = NIOLockedValueBox<String?>(nil)
        var token = payload
        if token == "-" {
            token = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let result = LicenceVerifier.verify(
            token, now: Date(), lookup: { keys[$0] },
            status: { claims in
                if status.revoked?.contains(claims.num) == true { return (.revoked, nil) }
                if status.suspended?.contains(claims.num) == true { return (.suspended, nil) }
                if !bitstrings.isEmpty {
                    guard let lists = bitstrings[claims.iss], let index = claims.si else {
                        uncovered.withLockedValue {
                            $0 = claims.si == nil
                                ? "the licence has no status list index (issued before status lists); check it online"
                                : "no status list of \(claims.iss) was given"
                        }
                        return (.valid, nil)
                    }
                    if let bits = lists["revocation"], StatusListCredential.bit(bits, index) == true { return (.revoked, nil) }
                    if let bits = lists["suspension"], StatusListCredential.bit(bits, index) == true { return (.suspended, nil) }
                    if lists["revocation"].flatMap({ StatusListCredential.bit($0, index) }) == nil {
                        uncovered.withLockedValue { $0 = "index \(index) is outside the status list of \(claims.iss)" }
                    }
                }
                return (.valid, nil)
            },
            issuerName: { code in list.issuers.first { $0.code == code }?.name })
        if result.valid, let reason = uncovered.withLockedValue({ $0 }) {
            throw CommandFailure(description: "status unknown: \(reason)")
        }
        if result.valid {
            let until = result.validUntil.map { ISO8601DateFormatter().string(from: $0) } ?? "long-term"
            print("valid: \(result.type ?? "") \(result.number ?? "") issued by \(result.issuer ?? "") to \(result.holderMasked ?? ""), until \(until)")
        } else {
            throw CommandFailure(description: "not valid: \(result.reason) (\(result.messageEn))")
        }
    }
}
