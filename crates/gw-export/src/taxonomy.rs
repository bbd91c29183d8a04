//! Mappings shared by several formats: severity scales, MITRE tactic names, the data-security
//! flag and timestamp renderings.

use gw_model::{Finding, Severity};
use jiff::Timestamp;

/// OCSF `severity_id`: info 1 (Informational), low 2, medium 3, high 4, critical 5.
pub fn ocsf_severity_id(severity: Severity) -> u8 {
    match severity {
        Severity::Info => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

/// OCSF caption of [`ocsf_severity_id`].
pub(crate) fn ocsf_severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "Informational",
        Severity::Low => "Low",
        Severity::Medium => "Medium",
        Severity::High => "High",
        Severity::Critical => "Critical",
    }
}

/// CEF header severity (0–10): info 2, low 4, medium 6, high 8, critical 10.
pub fn cef_severity(severity: Severity) -> u8 {
    match severity {
        Severity::Info => 2,
        Severity::Low => 4,
        Severity::Medium => 6,
        Severity::High => 8,
        Severity::Critical => 10,
    }
}

/// RFC 5424 severity (0 emergency … 7 debug): critical 2 (crit), high 3 (err), medium 4
/// (warning), low 5 (notice), info 6 (informational). Emergency and alert are left to the host.
pub fn syslog_severity(severity: Severity) -> u8 {
    match severity {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
        Severity::Info => 6,
    }
}

/// ASIM `EventSeverity` (Informational, Low, Medium, High); ASIM has no level above High, so
/// critical maps to High.
pub(crate) fn asim_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "Informational",
        Severity::Low => "Low",
        Severity::Medium => "Medium",
        Severity::High | Severity::Critical => "High",
    }
}

/// Name of a MITRE ATT&CK enterprise tactic id (`TA0001` → `Initial Access`).
pub fn mitre_tactic_name(tactic_id: &str) -> Option<&'static str> {
    Some(match tactic_id {
        "TA0043" => "Reconnaissance",
        "TA0042" => "Resource Development",
        "TA0001" => "Initial Access",
        "TA0002" => "Execution",
        "TA0003" => "Persistence",
        "TA0004" => "Privilege Escalation",
        "TA0005" => "Defense Evasion",
        "TA0006" => "Credential Access",
        "TA0007" => "Discovery",
        "TA0008" => "Lateral Movement",
        "TA0009" => "Collection",
        "TA0011" => "Command and Control",
        "TA0010" => "Exfiltration",
        "TA0040" => "Impact",
        _ => return None,
    })
}

/// Whether a finding is about sensitive data and so exports as an OCSF Data Security Finding.
///
/// The flag is carried by the rule id: any dash-separated segment equal to `SENSITIVE`
/// (`GW-P-EXTERNAL-SENSITIVE-DATA`, `GW-P-SENSITIVE-IN-URL`, `GW-T-SENSITIVE-EXFIL` …). Rule authors
/// opt in by naming, so no list here has to track new rules.
pub fn is_data_security(finding: &Finding) -> bool {
    finding
        .rule
        .id
        .split('-')
        .any(|segment| segment == "SENSITIVE")
}

/// Milliseconds since the Unix epoch.
pub(crate) fn epoch_ms(ts: Timestamp) -> i64 {
    ts.as_millisecond()
}

/// RFC 3339 UTC with exactly three fractional digits: `2024-06-10T09:30:00.000Z`.
pub(crate) fn rfc3339_ms(ts: Timestamp) -> String {
    format!("{ts:.3}")
}

/// Epoch seconds with exactly three decimals (`1718011400.123`), as Splunk HEC `time` wants.
pub(crate) fn epoch_seconds_ms(ts: Timestamp) -> String {
    let ms = ts.as_millisecond();
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    format!("{sign}{}.{:03}", abs / 1000, abs % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_scales_are_monotonic() {
        let mut last = (0, 0, 9);
        for s in Severity::ALL {
            let now = (ocsf_severity_id(s), cef_severity(s), syslog_severity(s));
            assert!(now.0 > last.0 && now.1 > last.1 && now.2 < last.2, "{s:?}");
            last = now;
        }
        assert_eq!(ocsf_severity_id(Severity::Info), 1);
        assert_eq!(ocsf_severity_id(Severity::Critical), 5);
        assert_eq!(cef_severity(Severity::Critical), 10);
    }

    #[test]
    fn timestamps_render_with_milliseconds() {
        let ts = Timestamp::from_millisecond(1_718_011_400_120).unwrap();
        assert_eq!(rfc3339_ms(ts), "2024-06-10T09:23:20.120Z");
        assert_eq!(epoch_seconds_ms(ts), "1718011400.120");
        let before = Timestamp::from_millisecond(-1).unwrap();
        assert_eq!(epoch_seconds_ms(before), "-0.001");
        assert_eq!(
            rfc3339_ms(Timestamp::from_second(0).unwrap()),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn data_security_flag_is_a_rule_id_segment() {
        let mut f = crate::test_support::sqli();
        assert!(!is_data_security(&f));
        f.rule.id = "GW-P-EXTERNAL-SENSITIVE".into();
        assert!(is_data_security(&f));
        f.rule.id = "GW-P-SENSITIVE-IN-URL".into();
        assert!(is_data_security(&f));
        f.rule.id = "GW-P-INSENSITIVE".into();
        assert!(!is_data_security(&f));
    }
}
