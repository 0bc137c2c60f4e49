import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// Electronic licences (电子证照): types, department signing keys, issuance, verification, revocation,
/// the wallet and the public trust list.
public struct LicencesModule: TongbanModule {
    public let name = "licences"

    public init() {}

    public var migrations: [any Migration] { [CreateLicences(), AddStatusIndex(), CreateLicenceBindings(), CreateMaterialLinks()] }

    public func boot(_ app: Application) throws {
        app.licenceCache = LicenceCache()
        let clock = app.clock
        // 办结即发证: an approved application of a bound service yields its licence (Applications' subject type).
        app.workflowObservers.addListener("application") { change, tx in
            try await ApplicationIssuance.listen(change, tx: tx, clock: clock)
        }
        app.jobs.register(ApplicationIssuance.job) { job, app in try await ApplicationIssuance.run(job, app: app) }
        try app.register(collection: LicencesController())
        try app.register(collection: LicencePages())
        let docs = app.apiDocumentation
        let qr = Schema.object(["payload": Schema.string, "svgUrl": Schema.string, "pngUrl": Schema.string])
        let licence = Schema.object([
            "id": Schema.uuid, "number": Schema.string, "typeCode": Schema.string, "holderKind": Schema.string,
            "holderMasked": Schema.string, "fields": Schema.object([:]), "validFrom": Schema.dateTime,
            "validUntil": Schema.dateTime, "status": Schema.string, "kid": Schema.string, "qr": qr,
        ])
        docs.addSchema("Licence", licence)
        let verification = Schema.object([
            "valid": Schema.boolean, "reason": Schema.string, "status": Schema.string, "type": Schema.string,
            "issuer": Schema.string, "holderMasked": Schema.string, "fields": Schema.object([:]),
        ])
        docs.add(APIOperation(
            .POST, "/api/v1/licences", summary: "Issue and sign a licence (staff of the issuing department)", tag: "licences",
            requiresAuth: true,
            request: Schema.object([
                "typeCode": Schema.string, "holder": Schema.object(["idNumber": Schema.string, "uscc": Schema.string]),
                "fields": Schema.object([:]), "validFrom": Schema.dateTime, "validUntil": Schema.dateTime,
            ]),
            response: Schema.ref("Licence"), success: 201, problems: [401, 403, 422]))
        var bulk = APIOperation(
            .POST, "/api/v1/licences/bulk", summary: "Issue licences from CSV (columns idNumber or uscc, validFrom, validUntil, fields)",
            tag: "licences", requiresAuth: true, request: Schema.string,
            response: Schema.object(["issued": Schema.integer, "licences": Schema.array(Schema.object(["id": Schema.uuid, "number": Schema.string]))]),
            success: 201, problems: [401, 403, 413, 422], query: ["typeCode"])
        bulk.requestContentType = "text/csv"
        docs.add(bulk)
        docs.add(APIOperation(
            .GET, "/api/v1/licences", summary: "The caller's licence wallet", tag: "licences", requiresAuth: true,
            response: Schema.array(Schema.ref("Licence")), problems: [401]))
        docs.add(APIOperation(
            .GET, "/api/v1/licences/{id}", summary: "One licence (holder, issuing staff)", tag: "licences", requiresAuth: true,
            response: Schema.ref("Licence"), problems: [401, 404]))
        for (format, media) in [("svg", "image/svg+xml"), ("png", "image/png")] {
            var op = APIOperation(
                .GET, "/api/v1/licences/{id}/qr.\(format)", summary: "The licence's QR code (\(format.uppercased()))",
                tag: "licences", requiresAuth: true, response: Schema.string, problems: [401, 404])
            op.responseContentType = media
            docs.add(op)
        }
        docs.add(APIOperation(
            .POST, "/api/v1/licences/{id}/presentation", summary: "A 60-second presentation code (亮证) for the holder",
            tag: "licences", requiresAuth: true,
            response: Schema.object(["payload": Schema.string, "expiresAt": Schema.dateTime, "svg": Schema.string]),
            success: 201, problems: [401, 404, 409]))
        var credential = APIOperation(
            .GET, "/api/v1/licences/{id}/credential", summary: "The licence as a W3C VC 2.0 VC-JWT (holder)", tag: "licences",
            requiresAuth: true, response: Schema.string, problems: [401, 404, 409])
        credential.responseContentType = LicenceCredential.mediaType
        docs.add(credential)
        docs.add(APIOperation(
            .POST, "/api/v1/licences/verify", summary: "Verify a scanned licence payload (public)", tag: "licences",
            request: Schema.object(["payload": Schema.string]), response: verification, problems: [422]))
        for (action, summary) in [("revoke", "Revoke a licence"), ("suspend", "Suspend a licence"), ("reinstate", "Reinstate a suspended licence")] {
            docs.add(APIOperation(
                .POST, "/api/v1/licences/{id}/\(action)", summary: summary + " (issuing staff)", tag: "licences",
                requiresAuth: true, request: Schema.object(["reason": Schema.string]), response: Schema.ref("Licence"),
                problems: [401, 404, 409, 422]))
        }
        docs.add(APIOperation(
            .GET, "/api/v1/licences/types", summary: "Licence types", tag: "licences",
            response: Schema.array(Schema.object(["code": Schema.string, "nameZh": Schema.string])), problems: []))
        docs.add(APIOperation(
            .GET, "/api/v1/licences/bindings", summary: "Services whose approved applications yield a licence", tag: "licences",
            requiresAuth: true, response: Schema.array(Schema.object(["serviceCode": Schema.string, "typeCode": Schema.string, "fields": Schema.object([:])])),
            problems: [401, 403]))
        docs.add(APIOperation(
            .PUT, "/api/v1/licences/bindings/{serviceCode}", summary: "Bind a service to a licence type (fields: licence field → $formField or text)",
            tag: "licences", requiresAuth: true, request: Schema.object(["typeCode": Schema.string, "fields": Schema.object([:])]),
            response: Schema.object([:]), problems: [401, 403, 422]))
        docs.add(APIOperation(
            .GET, "/api/v1/applications/{id}/materials",
            summary: "Each material of the application's service: uploaded, replaced by an e-licence in force (免提交), or missing",
            tag: "licences", requiresAuth: true,
            response: Schema.object(["applicationId": Schema.uuid, "materials": Schema.array(Schema.object([:])), "missing": Schema.array(Schema.string)]),
            problems: [401, 404]))
        docs.add(APIOperation(
            .POST, "/api/v1/applications/{id}/materials",
            summary: "Attach a licence from the wallet in place of a material it may replace (applicant, while editable)",
            tag: "licences", requiresAuth: true, request: Schema.object(["material": Schema.string, "licenceId": Schema.uuid]),
            response: Schema.object(["applicationId": Schema.uuid, "materials": Schema.array(Schema.object([:])), "missing": Schema.array(Schema.string)]),
            problems: [401, 404, 409, 422]))
        var statusList = APIOperation(
            .GET, "/api/v1/licences/status/{department}/{purpose}",
            summary: "The department's signed Bitstring Status List (purpose revocation or suspension), GZIP-compressed, as a compact JWS",
            tag: "licences", response: Schema.string, problems: [404])
        statusList.responseContentType = "application/statuslist+jwt"
        docs.add(statusList)
        docs.add(APIOperation(
            .GET, "/.well-known/tongban-trust-list.json", summary: "Issuers and their public keys (JWK)", tag: "licences",
            response: Schema.object(["version": Schema.integer, "issuers": Schema.array(Schema.object([:]))]), problems: []))
    }

    public func seedDemo(on app: Application, options: DemoOptions) async throws {
        try await LicencesDemo(app: app).load(progress: options.progress)
    }
}

/// Demo licence types (`Resources/Demo/licence-types.json`), `demo-permit` among them.
struct LicencesDemo {
    let app: Application

    struct TypeSeed: Decodable {
        var code: String
        var nameZh: String
        var nameEn: String
        var department: String
        var validityYears: Int
        var holderKinds: [HolderKind]?
        var composite: Bool?
        var fields: [LicenceField]
    }

    func load(progress: @Sendable (String) -> Void) async throws {
        let seeds: [TypeSeed] = try DemoResources.load("licence-types.json")
        let directory = DirectoryService(db: app.db)
        var added = 0
        for seed in seeds where try await LicenceType.query(on: app.db).filter(\.$code == seed.code).first() == nil {
            guard let department = try await directory.department(code: seed.department) else { continue }
            let type = LicenceType()
            type.code = seed.code
            type.nameZh = seed.nameZh
            type.nameEn = seed.nameEn
            type.departmentID = department.id
            type.fieldsJSON = try JSONText.encode(seed.fields)
            type.holderKindsJSON = try JSONText.encode(seed.holderKinds ?? HolderKind.allCases)
            type.validityYears = seed.validityYears
            type.composite = seed.composite ?? false
            type.createdAt = app.clock.now()
            try await type.create(on: app.db)
            added += 1
        }
        progress("licence types: \(seeds.count) (\(added) new)")
        // The joint-approval demo service yields a demo permit when all three approvals are in.
        if try await LicenceBinding.query(on: app.db).filter(\.$serviceCode == "joint-approval-demo").count() == 0 {
            let binding = LicenceBinding()
            binding.serviceCode = "joint-approval-demo"
            binding.typeCode = "demo-permit"
            binding.fieldsJSON = try JSONText.encode(["name": "$projectName", "scope": "联合审批（演示）"])
            binding.updatedAt = app.clock.now()
            try await binding.create(on: app.db)
        }
    }
}
