//! OWASP API Security Top 10 (2023) and MITRE ATT&CK references used by rules.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// OWASP API Security Top 10, 2023 edition. Serialized as `API1:2023`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum OwaspApi2023 {
    /// Broken Object Level Authorization.
    #[serde(rename = "API1:2023")]
    Api1,
    /// Broken Authentication.
    #[serde(rename = "API2:2023")]
    Api2,
    /// Broken Object Property Level Authorization.
    #[serde(rename = "API3:2023")]
    Api3,
    /// Unrestricted Resource Consumption.
    #[serde(rename = "API4:2023")]
    Api4,
    /// Broken Function Level Authorization.
    #[serde(rename = "API5:2023")]
    Api5,
    /// Unrestricted Access to Sensitive Business Flows.
    #[serde(rename = "API6:2023")]
    Api6,
    /// Server Side Request Forgery.
    #[serde(rename = "API7:2023")]
    Api7,
    /// Security Misconfiguration.
    #[serde(rename = "API8:2023")]
    Api8,
    /// Improper Inventory Management.
    #[serde(rename = "API9:2023")]
    Api9,
    /// Unsafe Consumption of APIs.
    #[serde(rename = "API10:2023")]
    Api10,
}

impl OwaspApi2023 {
    pub fn code(self) -> &'static str {
        match self {
            OwaspApi2023::Api1 => "API1:2023",
            OwaspApi2023::Api2 => "API2:2023",
            OwaspApi2023::Api3 => "API3:2023",
            OwaspApi2023::Api4 => "API4:2023",
            OwaspApi2023::Api5 => "API5:2023",
            OwaspApi2023::Api6 => "API6:2023",
            OwaspApi2023::Api7 => "API7:2023",
            OwaspApi2023::Api8 => "API8:2023",
            OwaspApi2023::Api9 => "API9:2023",
            OwaspApi2023::Api10 => "API10:2023",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            OwaspApi2023::Api1 => "Broken Object Level Authorization",
            OwaspApi2023::Api2 => "Broken Authentication",
            OwaspApi2023::Api3 => "Broken Object Property Level Authorization",
            OwaspApi2023::Api4 => "Unrestricted Resource Consumption",
            OwaspApi2023::Api5 => "Broken Function Level Authorization",
            OwaspApi2023::Api6 => "Unrestricted Access to Sensitive Business Flows",
            OwaspApi2023::Api7 => "Server Side Request Forgery",
            OwaspApi2023::Api8 => "Security Misconfiguration",
            OwaspApi2023::Api9 => "Improper Inventory Management",
            OwaspApi2023::Api10 => "Unsafe Consumption of APIs",
        }
    }
}

impl fmt::Display for OwaspApi2023 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A MITRE ATT&CK tactic and technique, e.g. `TA0001` / `T1190`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct MitreRef {
    pub tactic: String,
    pub technique: String,
}

impl MitreRef {
    pub fn new(tactic: &str, technique: &str) -> Self {
        MitreRef {
            tactic: tactic.to_string(),
            technique: technique.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owasp_serializes_as_its_code() {
        assert_eq!(
            serde_json::to_string(&OwaspApi2023::Api10).unwrap(),
            "\"API10:2023\""
        );
        let back: OwaspApi2023 = serde_json::from_str("\"API1:2023\"").unwrap();
        assert_eq!(back, OwaspApi2023::Api1);
        assert_eq!(back.to_string(), back.code());
    }
}
