//! RFC 5424 syslog framing of a CEF or JSON finding, and RFC 6587 octet counting for TCP/TLS.
//!
//! `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`
//!
//! * PRI = facility × 8 + severity ([`crate::syslog_severity`]).
//! * TIMESTAMP is the finding's `last_seen` (event time, never the wall clock), UTC, in
//!   milliseconds.
//! * Absent or empty HOSTNAME / APP-NAME / PROCID / MSGID are the NILVALUE `-`; present ones must
//!   be printable US-ASCII (33–126) within 255 / 48 / 128 / 32 characters, else an error (we do
//!   not silently rewrite names a collector filters on).
//! * Structured data: `[gatewatch@32473 findingId=".." ruleId=".." severity=".." owasp=".."]`;
//!   param values escape `"`, `\` and `]`. 32473 is the documentation enterprise number of
//!   RFC 5612 until the project registers its own.
//! * MSG is written without a BOM by default: CEF collectors (ArcSight, QRadar, the Azure Monitor
//!   Agent) do not expect one, and RFC 5424 allows MSG-ANY. `utf8_bom` marks MSG as MSG-UTF8
//!   for collectors that honour it.

use gw_model::{Finding, Severity};

use crate::taxonomy::rfc3339_ms;
use crate::{ExportError, Producer, Result, cef, ocsf, syslog_severity};

/// Private SD-ID of the finding element.
pub const FINDING_SD_ID: &str = "gatewatch@32473";

/// The UTF-8 byte order mark that opens an RFC 5424 MSG-UTF8.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A syslog facility (0–23).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facility(u8);

impl Facility {
    /// 13, log audit.
    pub const LOG_AUDIT: Facility = Facility(13);
    /// 14, log alert.
    pub const LOG_ALERT: Facility = Facility(14);
    /// 16, local0.
    pub const LOCAL0: Facility = Facility(16);

    /// A facility code; `None` above 23.
    pub fn new(code: u8) -> Option<Facility> {
        (code <= 23).then_some(Facility(code))
    }

    pub fn code(self) -> u8 {
        self.0
    }
}

/// What the MSG part carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyslogPayload {
    /// A CEF line ([`cef::to_cef`]); MSGID `FINDING`.
    #[default]
    Cef,
    /// One line of OCSF JSON ([`ocsf::to_ocsf_json`]); MSGID `FINDING`.
    OcsfJson,
}

/// Header fields the sink is configured with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogOptions {
    pub facility: Facility,
    /// APP-NAME; default `gatewatch`.
    pub app_name: Option<String>,
    /// PROCID; default NILVALUE (the binary passes its pid when it wants one).
    pub proc_id: Option<String>,
    /// Prefix MSG with the UTF-8 BOM (RFC 5424 MSG-UTF8); default off.
    pub utf8_bom: bool,
}

impl Default for SyslogOptions {
    fn default() -> Self {
        SyslogOptions {
            facility: Facility::LOG_ALERT,
            app_name: Some("gatewatch".to_string()),
            proc_id: None,
            utf8_bom: false,
        }
    }
}

/// One SD-ELEMENT: `[id name="value" ...]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdElement {
    pub id: String,
    pub params: Vec<(String, String)>,
}

/// The RFC 5424 header of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogHeader<'a> {
    pub facility: Facility,
    /// 0 (emergency) to 7 (debug); higher values are clamped to 7.
    pub severity: u8,
    pub timestamp: jiff::Timestamp,
    pub hostname: Option<&'a str>,
    pub app_name: Option<&'a str>,
    pub proc_id: Option<&'a str>,
    pub msg_id: Option<&'a str>,
    pub structured_data: &'a [SdElement],
}

/// Builds one RFC 5424 message: header, structured data, then `SP MSG` when `msg` is non-empty.
pub fn rfc5424_message(header: &SyslogHeader<'_>, msg: &[u8]) -> Result<Vec<u8>> {
    let pri = u16::from(header.facility.code()) * 8 + u16::from(header.severity.min(7));
    let mut out = Vec::with_capacity(128 + msg.len());
    out.extend_from_slice(format!("<{pri}>1 {} ", rfc3339_ms(header.timestamp)).as_bytes());
    push_header_field(&mut out, "HOSTNAME", header.hostname, 255)?;
    push_header_field(&mut out, "APP-NAME", header.app_name, 48)?;
    push_header_field(&mut out, "PROCID", header.proc_id, 128)?;
    push_header_field(&mut out, "MSGID", header.msg_id, 32)?;
    if header.structured_data.is_empty() {
        out.push(b'-');
    }
    for element in header.structured_data {
        push_sd_element(&mut out, element)?;
    }
    if !msg.is_empty() {
        out.push(b' ');
        out.extend_from_slice(msg);
    }
    Ok(out)
}

/// RFC 6587 octet-counting frame: `LEN SP MSG`, LEN in decimal bytes.
pub fn octet_counted(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 8);
    out.extend_from_slice(message.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(message);
    out
}

/// One finding as an RFC 5424 message carrying CEF or OCSF JSON.
pub fn finding_message(
    finding: &Finding,
    producer: &Producer,
    options: &SyslogOptions,
    payload: SyslogPayload,
) -> Result<Vec<u8>> {
    let text = match payload {
        SyslogPayload::Cef => cef::to_cef(finding, producer),
        SyslogPayload::OcsfJson => ocsf::to_ocsf_json(finding, producer)?,
    };
    let mut msg = Vec::with_capacity(text.len() + 3);
    if options.utf8_bom {
        msg.extend_from_slice(UTF8_BOM);
    }
    msg.extend_from_slice(text.as_bytes());
    let sd = [finding_sd(finding)];
    let header = SyslogHeader {
        facility: options.facility,
        severity: syslog_severity(finding.severity),
        timestamp: finding.last_seen,
        hostname: producer.hostname.as_deref(),
        app_name: options.app_name.as_deref(),
        proc_id: options.proc_id.as_deref(),
        msg_id: Some("FINDING"),
        structured_data: &sd,
    };
    rfc5424_message(&header, &msg)
}

/// The `gatewatch@32473` element of a finding.
pub fn finding_sd(finding: &Finding) -> SdElement {
    let mut params = vec![
        ("findingId".to_string(), finding.id.clone()),
        ("ruleId".to_string(), finding.rule.id.clone()),
        (
            "severity".to_string(),
            Severity::as_str(finding.severity).to_string(),
        ),
    ];
    if !finding.owasp.is_empty() {
        let codes: Vec<&str> = finding.owasp.iter().map(|o| o.code()).collect();
        params.push(("owasp".to_string(), codes.join(",")));
    }
    SdElement {
        id: FINDING_SD_ID.to_string(),
        params,
    }
}

fn push_header_field(
    out: &mut Vec<u8>,
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<()> {
    match value.filter(|v| !v.is_empty()) {
        None => out.push(b'-'),
        Some(v) => {
            check_printable(field, v, max)?;
            out.extend_from_slice(v.as_bytes());
        }
    }
    out.push(b' ');
    Ok(())
}

fn check_printable(field: &'static str, value: &str, max: usize) -> Result<()> {
    let invalid = |reason: String| ExportError::InvalidSyslogField {
        field,
        value: value.to_string(),
        reason,
    };
    if value.len() > max {
        return Err(invalid(format!(
            "{} characters, at most {max} allowed",
            value.len()
        )));
    }
    if let Some(c) = value.chars().find(|c| !matches!(*c as u32, 33..=126)) {
        return Err(invalid(format!(
            "character {c:?} is not printable US-ASCII (33-126)"
        )));
    }
    Ok(())
}

/// SD-NAME: printable US-ASCII except `=`, SP, `]`, `"`; at most 32 characters.
fn check_sd_name(field: &'static str, name: &str) -> Result<()> {
    check_printable(field, name, 32)?;
    if let Some(c) = name.chars().find(|c| matches!(c, '=' | ']' | '"')) {
        return Err(ExportError::InvalidSyslogField {
            field,
            value: name.to_string(),
            reason: format!("character {c:?} is not allowed in an SD-NAME"),
        });
    }
    Ok(())
}

fn push_sd_element(out: &mut Vec<u8>, element: &SdElement) -> Result<()> {
    check_sd_name("SD-ID", &element.id)?;
    out.push(b'[');
    out.extend_from_slice(element.id.as_bytes());
    for (name, value) in &element.params {
        check_sd_name("PARAM-NAME", name)?;
        out.push(b' ');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"=\"");
        for c in value.chars() {
            if matches!(c, '"' | '\\' | ']') {
                out.push(b'\\');
            }
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        out.push(b'"');
    }
    out.push(b']');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sqli;
    use jiff::Timestamp;

    fn header<'a>(sd: &'a [SdElement]) -> SyslogHeader<'a> {
        SyslogHeader {
            facility: Facility::LOG_ALERT,
            severity: 4,
            timestamp: Timestamp::from_millisecond(1_718_011_800_000).unwrap(),
            hostname: Some("gw-01"),
            app_name: Some("gatewatch"),
            proc_id: None,
            msg_id: Some("FINDING"),
            structured_data: sd,
        }
    }

    #[test]
    fn nil_values_and_pri_are_exact() {
        let mut h = header(&[]);
        h.hostname = Some("");
        let bytes = rfc5424_message(&h, b"hello").unwrap();
        assert_eq!(
            bytes,
            b"<116>1 2024-06-10T09:30:00.000Z - gatewatch - FINDING - hello"
        );
        h.msg_id = None;
        h.facility = Facility::new(0).unwrap();
        h.severity = 0;
        assert_eq!(
            rfc5424_message(&h, b"").unwrap(),
            b"<0>1 2024-06-10T09:30:00.000Z - gatewatch - - -"
        );
        h.facility = Facility::new(23).unwrap();
        h.severity = 9;
        assert!(rfc5424_message(&h, b"").unwrap().starts_with(b"<191>1 "));
        assert_eq!(Facility::new(24), None);
    }

    #[test]
    fn sd_param_values_escape_quote_backslash_and_bracket() {
        let sd = [SdElement {
            id: "x@32473".into(),
            params: vec![("v".into(), r#"a"b\c]d=é"#.into())],
        }];
        let bytes = rfc5424_message(&header(&sd), b"m").unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.ends_with(r#" FINDING [x@32473 v="a\"b\\c\]d=é"] m"#),
            "{text}"
        );
    }

    #[test]
    fn bad_header_fields_are_errors_naming_the_field() {
        let mut h = header(&[]);
        h.hostname = Some("gw 01");
        let err = rfc5424_message(&h, b"").unwrap_err().to_string();
        assert!(err.contains("HOSTNAME") && err.contains("' '"), "{err}");
        let mut h = header(&[]);
        let long = "m".repeat(33);
        h.msg_id = Some(&long);
        assert!(
            rfc5424_message(&h, b"")
                .unwrap_err()
                .to_string()
                .contains("MSGID")
        );
        let sd = [SdElement {
            id: "bad=id".into(),
            params: vec![],
        }];
        assert!(rfc5424_message(&header(&sd), b"").is_err());
    }

    #[test]
    fn octet_counting_counts_bytes_not_chars() {
        assert_eq!(octet_counted("é1".as_bytes()), b"3 \xc3\xa91");
        assert_eq!(octet_counted(b""), b"0 ");
    }

    #[test]
    fn finding_message_uses_event_time_and_severity() {
        let p = Producer::new("0.1.0").with_hostname("gw-01");
        let bytes =
            finding_message(&sqli(), &p, &SyslogOptions::default(), SyslogPayload::Cef).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        // high → err (3); facility 14 → PRI 115.
        assert!(
            text.starts_with(
                "<115>1 2024-06-10T09:23:20.500Z gw-01 gatewatch - FINDING [gatewatch@32473 \
                 findingId=\"f-0192a3b4-sqli\" ruleId=\"GW-T-SQLI\" severity=\"high\" \
                 owasp=\"API8:2023\"] CEF:0|"
            ),
            "{text}"
        );
        let with_bom = SyslogOptions {
            utf8_bom: true,
            ..SyslogOptions::default()
        };
        let bytes = finding_message(&sqli(), &p, &with_bom, SyslogPayload::OcsfJson).unwrap();
        let at = bytes.windows(3).position(|w| w == UTF8_BOM).unwrap();
        assert_eq!(&bytes[at - 2..at], b"] ");
        assert_eq!(bytes[at + 3], b'{');
    }
}
