import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// Demo halls (`Resources/Demo/halls.json`: three halls in Jinan and Shenzhen with their windows) and
/// slots on the next 10 working days. Idempotent: existing halls are kept, missing slots are opened.
struct AppointmentsDemo {
    let app: Application
    let options: DemoOptions

    static let workingDays = 10

    struct HallData: Decodable {
        struct WindowData: Decodable {
            var number: String
            var name: String
            var nameEn: String
            var departments: [String]
            var capacity: Int
        }

        var code: String
        var name: String
        var nameEn: String
        var region: String
        var department: String
        var address: String
        var addressEn: String
        var openingHours: [OpeningPeriod]
        var windows: [WindowData]
    }

    func load() async throws {
        let data: [HallData] = try DemoResources.load("halls.json")
        let directory = DirectoryService(db: app.db)
        let service = AppointmentService(app: app, db: app.db)
        let today = LocalDate(app.clock.now())
        var opened = 0
        for entry in data {
            guard let region = try await directory.region(code: entry.region),
                let department = try await directory.department(code: entry.department)
            else { continue }
            var hall = try await Hall.query(on: app.db).filter(\.$code == entry.code).first()
            if hall == nil {
                var departmentIDs: [String: UUID] = [:]
                for code in Set(entry.windows.flatMap(\.departments)) {
                    departmentIDs[code] = try await directory.department(code: code)?.id
                }
                let created = Hall()
                created.code = entry.code
                created.name = entry.name
                created.nameEn = entry.nameEn
                created.regionID = region.id
                created.departmentID = department.id
                created.address = entry.address
                created.addressEn = entry.addressEn
                created.openingHours = entry.openingHours
                created.slotMinutes = 30
                created.createdAt = app.clock.now()
                let windows = entry.windows
                let ids = departmentIDs
                try await app.db.writeTransaction { tx in
                    try await created.create(on: tx)
                    for item in windows {
                        let window = HallWindow()
                        window.hallID = try created.requireID()
                        window.number = item.number
                        window.name = item.name
                        window.nameEn = item.nameEn
                        window.departmentIDs = item.departments.compactMap { ids[$0] }
                        window.serviceIDs = []
                        window.capacity = item.capacity
                        try await window.create(on: tx)
                    }
                }
                hall = created
            }
            if let hall {
                opened += try await service.openSlots(hall: hall.requireID(), from: today, days: Self.workingDays)
            }
        }
        options.progress("applications: \(data.count) service halls, \(opened) appointment slots opened")
    }
}
