import Foundation

/// An attribute a verifier may read about a holder.
public enum CodeAttribute: String, Codable, Sendable, CaseIterable {
    /// The holder's full name.
    case name
    /// The resident ID number, masked (`370102********1234`).
    case idNumberMasked
    /// The medical-insurance number (医保编号).
    case insuranceNumber
}

/// Where codes are scanned. Each scenario declares which code types it accepts and which attributes it may
/// read (selective disclosure): nothing else is released to the verifier.
public enum Scenario: String, Codable, Sendable, CaseIterable {
    /// Venue entry: name and masked ID number.
    case venue
    /// Hotel check-in: name and masked ID number.
    case hotel
    /// Hospital registration and payment: name and insurance number; opens an encounter record.
    case medicalInsurance = "medical_insurance"
    /// Metro gates and buses: validity only.
    case transit

    /// Code types a verifier in this scenario accepts.
    public var acceptedTypes: Set<CodeType> {
        switch self {
        case .venue, .hotel: [.identity]
        case .medicalInsurance: [.medicalInsurance]
        case .transit: [.transit]
        }
    }

    /// Attributes released to a verifier in this scenario, in this order.
    public var attributes: [CodeAttribute] {
        switch self {
        case .venue, .hotel: [.name, .idNumberMasked]
        case .medicalInsurance: [.name, .insuranceNumber]
        case .transit: []
        }
    }
}
