import Catalogue
import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor
import Workflow

/// Ratings after a decision, rectification of bad reviews, and published statistics.
public struct RatingService: Sendable {
    let app: Application
    let db: any Database

    public init(app: Application, db: any Database) {
        self.app = app
        self.db = db
    }

    static let subjectType = "rating"
    static let rectificationDays = 5

    /// Rates a decided application once. 422 for a score outside 1–5; 409 when not decided or already rated.
    public func rate(applicationID: UUID, score: Int?, comment: String?, principal: Principal) async throws -> Rating {
        let record = try await ApplicationService(app: app, db: db).own(applicationID, principal)
        var errors = FieldErrors()
        errors.check((1...5).contains(score ?? 0), "score", "must be 1 (非常不满意) to 5 (非常满意)")
        errors.check((comment ?? "").count <= 1000, "comment", "must have at most 1000 characters")
        if let score, score <= 2, (comment ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            errors.add("comment", "is required for a bad review, so that the department can rectify it")
        }
        try errors.throwIfAny()
        guard [.approved, .rejected, .notAccepted, .completed].contains(record.status) else {
            throw Problem.conflict("Only a decided application can be rated.", type: "/problems/application-not-decided")
        }
        guard let service = try await ServiceItem.find(record.serviceID, on: db) else { throw ApplicationService.notFound }
        return try await db.writeTransaction { tx in
            if try await Rating.query(on: tx).filter(\.$applicationID == applicationID).first() != nil {
                throw Problem.conflict("This application has already been rated.", type: "/problems/already-rated")
            }
            let rating = Rating()
            rating.applicationID = applicationID
            rating.serviceID = record.serviceID
            rating.departmentID = service.departmentID
            rating.raterID = principal.userID
            rating.score = score ?? 0
            rating.comment = comment ?? ""
            rating.createdAt = app.clock.now()
            try await rating.create(on: tx)
            if rating.isBad {
                let key = try await rectificationProcess(departmentID: service.departmentID, tx: tx)
                let (instance, _) = try await app.workflowEngine(on: tx).start(
                    key: key, subjectType: Self.subjectType, subjectID: try rating.requireID(),
                    variables: ["score": .number(Double(rating.score)), "applicationNumber": .string(record.number)],
                    actor: principal.userID)
                rating.rectificationInstanceID = instance.id
                try await rating.save(on: tx)
            }
            return rating
        }
    }

    /// The department's rectification process: its administrator answers within 5 working days.
    func rectificationProcess(departmentID: UUID, tx: any Database) async throws -> String {
        guard let department = try await DirectoryService(db: tx).department(id: departmentID) else {
            throw Problem(.internalServerError, detail: "department missing")
        }
        let key = "rectify-" + department.code
        _ = try await WorkflowEngine(db: tx, clock: app.clock).deploy(
            ProcessDefinition(key: key, name: "差评整改", nodes: [
                .init(id: "start", type: .start, next: "rectify"),
                .init(id: "rectify", type: .task, name: "差评整改", next: "end",
                      assignees: [.init(department: department.code, role: .departmentAdmin)], mode: .any,
                      days: Self.rectificationDays),
                .init(id: "end", type: .end),
            ]))
        return key
    }

    /// Statistics per department (and optionally one service): counts per score, average, bad reviews,
    /// and how many of those were rectified. No personal data.
    public func statistics(serviceID: UUID?) async throws -> [DepartmentRatingStats] {
        var query = Rating.query(on: db)
        if let serviceID { query = query.filter(\.$serviceID == serviceID) }
        let ratings = try await query.all()
        let instanceIDs = ratings.compactMap(\.rectificationInstanceID)
        let finished = Set(
            try await instanceIDs.isEmpty ? [] : WorkflowInstance.query(on: db).filter(\.$id ~~ instanceIDs)
                .filter(\.$status == .completed).all().compactMap(\.id))
        let departments = try await DirectoryService(db: db).departments(ids: Set(ratings.map(\.departmentID)))
        return Dictionary(grouping: ratings, by: \.departmentID).map { departmentID, rows in
            var counts = [0, 0, 0, 0, 0]
            for row in rows { counts[row.score - 1] += 1 }
            let bad = rows.filter(\.isBad)
            return DepartmentRatingStats(
                departmentId: departmentID, departmentName: departments[departmentID]?.name ?? "",
                count: rows.count, average: Double(rows.map(\.score).reduce(0, +)) / Double(rows.count),
                scores: counts, badReviews: bad.count,
                rectified: bad.filter { $0.rectificationInstanceID.map(finished.contains) == true }.count,
                satisfaction: Double(rows.filter { $0.score >= 3 }.count) / Double(rows.count))
        }.sorted { $0.departmentName < $1.departmentName }
    }
}

/// Published rating statistics of one department.
public struct DepartmentRatingStats: Content {
    public var departmentId: UUID
    public var departmentName: String
    public var count: Int
    public var average: Double
    /// Counts for 1…5 stars.
    public var scores: [Int]
    public var badReviews: Int
    public var rectified: Int
    /// Share of ratings with 3 stars or more.
    public var satisfaction: Double
}
