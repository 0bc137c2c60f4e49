import ArgumentParser
import Foundation
import Licences
import TongbanCore

/// `tongban verify --trust-list FILE [--status-list FILE] PAYLOAD`: offline licence verification.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify a licence payload offline against a downloaded trust list (exit 0 valid, 1 not).",
        discussion: """
            Download the trust list from GET /.well-known/tongban-trust-list.json. With --status-list, the
            licence's status comes from that file (a JSON object {"revoked": [numbers], "suspended": [numbers]},
            or GET /api/v1/licences/status-list when available); without it only the signature and the validity
            dates are checked.
            """)

    @Option(name: .long, help: "The trust list (JSON) downloaded from /.well-known/tongban-trust-list.json.")
    var trustList: String

    @Option(name: .long, help: "Optional status file: {\"revoked\": [licence numbers], \"suspended\": [...]}.")
    var statusList: String?

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
        var status: StatusFile?
        if let statusList {
            guard let raw = FileManager.default.contents(atPath: statusList),
                let decoded = try? JSONDecoder().decode(StatusFile.self, from: raw)
            else { throw CommandFailure(description: "\(statusList) is not a status list") }
            status = decoded
        }
        var token = payload
        if token == "-" {
            token = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let keys = list.keys()
        let result = LicenceVerifier.verify(
            token, now: Date(), lookup: { keys[$0] },
            status: { claims in
                if status?.revoked?.contains(claims.num) == true { return (.revoked, nil) }
                if status?.suspended?.contains(claims.num) == true { return (.suspended, nil) }
                return (.valid, nil)
            },
            issuerName: { code in list.issuers.first { $0.code == code }?.name })
        if result.valid {
            let until = result.validUntil.map { ISO8601DateFormatter().string(from: $0) } ?? "long-term"
            print("valid: \(result.type ?? "") \(result.number ?? "") issued by \(result.issuer ?? "") to \(result.holderMasked ?? ""), until \(until)")
        } else {
            throw CommandFailure(description: "not valid: \(result.reason) (\(result.messageEn))")
        }
    }
}
