// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "tongban",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tongban", targets: ["tongban"]),
    ],
    dependencies: [
        .package(url: "https://github.com/vapor/vapor.git", from: "4.122.3"),
        .package(url: "https://github.com/vapor/fluent.git", from: "4.13.0"),
        .package(url: "https://github.com/vapor/fluent-sqlite-driver.git", from: "4.9.0"),
        .package(url: "https://github.com/vapor/fluent-postgres-driver.git", from: "2.14.0"),
        .package(url: "https://github.com/vapor/leaf.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.21.0"),
    ],
    targets: [
        .target(
            name: "TongbanCore",
            dependencies: [
                .product(name: "Vapor", package: "vapor"),
                .product(name: "Fluent", package: "fluent"),
                .product(name: "FluentSQLiteDriver", package: "fluent-sqlite-driver"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Web",
            dependencies: [
                "TongbanCore",
                .product(name: "Leaf", package: "leaf"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Identity",
            dependencies: ["TongbanCore", "Web"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Catalogue",
            dependencies: ["TongbanCore", "Identity", "Web"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Workflow",
            dependencies: ["TongbanCore", "Identity"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Applications",
            dependencies: ["TongbanCore", "Identity", "Catalogue", "Workflow", "Web"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AuditLog",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Audit",
            dependencies: ["TongbanCore", "AuditLog"],
            swiftSettings: swiftSettings
        ),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(
            name: "DataSharing",
            dependencies: [
                "TongbanCore", "Identity", "Web",
                .product(name: "FluentSQLiteDriver", package: "fluent-sqlite-driver"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Licences",
            dependencies: ["TongbanCore", "Identity", "Web", "Catalogue", "Workflow", "Applications", "CZlib", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CEL",
            exclude: ["README.md"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Policy",
            dependencies: ["TongbanCore", "Identity", "Web", "CEL", "DataSharing"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Codes",
            dependencies: ["TongbanCore", "Identity", "Web", "Applications", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Cases",
            dependencies: [
                "TongbanCore", "Identity", "Web", "Applications", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TongbanApp",
            dependencies: [
                "TongbanCore", "Web", "Identity", "Catalogue", "Workflow", "Applications", "Audit", "DataSharing", "Licences", "Policy", "Codes", "Cases",
                .product(name: "FluentSQLiteDriver", package: "fluent-sqlite-driver"),
                .product(name: "FluentPostgresDriver", package: "fluent-postgres-driver"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tongban",
            dependencies: [
                "TongbanApp", "TongbanCore", "Identity", "Audit", "AuditLog", "DataSharing", "Licences", "CEL", "Policy", "Codes", "Cases",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TestSupport",
            dependencies: [
                "TongbanApp",
                .product(name: "VaporTesting", package: "vapor"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TongbanCoreTests", dependencies: ["TongbanCore", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "IdentityTests", dependencies: ["Identity", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "CatalogueTests", dependencies: ["Catalogue", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "ApplicationsTests", dependencies: ["Applications", "Workflow", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "WorkflowTests", dependencies: ["Workflow", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "WebTests", dependencies: ["Web", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "LicencesTests", dependencies: ["Licences", "Identity", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "AuditLogTests",
            dependencies: ["AuditLog", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "AuditTests", dependencies: ["Audit", "AuditLog", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "DataSharingTests", dependencies: ["DataSharing", "Identity", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "CELTests", dependencies: ["CEL"], swiftSettings: swiftSettings),
        .testTarget(name: "PolicyTests", dependencies: ["Policy", "CEL", "Identity", "DataSharing", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "CodesTests", dependencies: ["Codes", "Identity", "Applications", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "CasesTests", dependencies: ["Cases", "Identity", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "AppTests", dependencies: ["TongbanApp", "TestSupport"], swiftSettings: swiftSettings),
    ],
    swiftLanguageModes: [.v6]
)
