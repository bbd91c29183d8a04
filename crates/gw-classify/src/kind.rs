//! The kinds of sensitive data the classifier names, with their sensitivity ranks.

use serde::{Deserialize, Serialize};

/// A kind of sensitive data. Names are snake_case on the wire (`credit_card`, `ip_address`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SensitiveKind {
    Email,
    Phone,
    CreditCard,
    Iban,
    Ssn,
    /// A national identifier other than the US SSN (UK NINO, ES DNI/NIE, IT codice fiscale,
    /// FR NIR, DE Steuer-ID, IN Aadhaar/PAN, BR CPF); the rule id says which.
    NationalId,
    IpAddress,
    Jwt,
    /// Credentials: passwords, API keys, tokens, private keys, connection strings.
    Secret,
    DateOfBirth,
    Person,
    Address,
    /// A user-defined classifier; its name is given by the classifier that produced it.
    Custom,
}

/// How much harm the exposure of a kind does; inventory keeps the highest seen per field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    Low,
    Medium,
    High,
    Critical,
}

impl Sensitivity {
    pub fn as_str(self) -> &'static str {
        match self {
            Sensitivity::Low => "low",
            Sensitivity::Medium => "medium",
            Sensitivity::High => "high",
            Sensitivity::Critical => "critical",
        }
    }
}

impl SensitiveKind {
    /// Every built-in kind (all but `Custom`).
    pub const BUILT_IN: [SensitiveKind; 12] = [
        SensitiveKind::Email,
        SensitiveKind::Phone,
        SensitiveKind::CreditCard,
        SensitiveKind::Iban,
        SensitiveKind::Ssn,
        SensitiveKind::NationalId,
        SensitiveKind::IpAddress,
        SensitiveKind::Jwt,
        SensitiveKind::Secret,
        SensitiveKind::DateOfBirth,
        SensitiveKind::Person,
        SensitiveKind::Address,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SensitiveKind::Email => "email",
            SensitiveKind::Phone => "phone",
            SensitiveKind::CreditCard => "credit_card",
            SensitiveKind::Iban => "iban",
            SensitiveKind::Ssn => "ssn",
            SensitiveKind::NationalId => "national_id",
            SensitiveKind::IpAddress => "ip_address",
            SensitiveKind::Jwt => "jwt",
            SensitiveKind::Secret => "secret",
            SensitiveKind::DateOfBirth => "date_of_birth",
            SensitiveKind::Person => "person",
            SensitiveKind::Address => "address",
            SensitiveKind::Custom => "custom",
        }
    }

    /// The kind with this snake_case name, if it is a built-in one.
    pub fn from_name(name: &str) -> Option<SensitiveKind> {
        SensitiveKind::BUILT_IN
            .into_iter()
            .find(|k| k.as_str() == name)
    }

    /// Default sensitivity of the kind (custom classifiers carry their own).
    pub fn sensitivity(self) -> Sensitivity {
        match self {
            SensitiveKind::Secret | SensitiveKind::Jwt => Sensitivity::Critical,
            SensitiveKind::CreditCard
            | SensitiveKind::Iban
            | SensitiveKind::Ssn
            | SensitiveKind::NationalId => Sensitivity::High,
            SensitiveKind::Email
            | SensitiveKind::Phone
            | SensitiveKind::DateOfBirth
            | SensitiveKind::Person
            | SensitiveKind::Address => Sensitivity::Medium,
            SensitiveKind::IpAddress | SensitiveKind::Custom => Sensitivity::Low,
        }
    }
}

impl std::fmt::Display for SensitiveKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for k in SensitiveKind::BUILT_IN {
            assert_eq!(SensitiveKind::from_name(k.as_str()), Some(k));
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
        assert_eq!(SensitiveKind::from_name("custom"), None);
    }

    #[test]
    fn secrets_rank_above_contact_data() {
        assert!(SensitiveKind::Secret.sensitivity() > SensitiveKind::Email.sensitivity());
        assert!(SensitiveKind::CreditCard.sensitivity() > SensitiveKind::IpAddress.sensitivity());
    }
}
