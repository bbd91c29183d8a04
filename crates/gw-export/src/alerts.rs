//! One entry point for `gatewatch alerts --format …`: every finding format as a byte stream.

use std::fmt;
use std::str::FromStr;

use gw_model::Finding;

use crate::splunk::{HecOptions, to_hec_event};
use crate::syslog::{SyslogOptions, SyslogPayload, finding_message};
use crate::{ExportError, Producer, Result, cef, ecs, ndjson, ocsf, sentinel};

/// Output formats of a finding listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlertFormat {
    /// `gatewatch.finding/1` NDJSON.
    Json,
    /// OCSF NDJSON.
    Ocsf,
    /// CEF lines.
    Cef,
    /// RFC 5424 lines carrying CEF (LF-terminated).
    SyslogCef,
    /// RFC 5424 lines carrying OCSF JSON (LF-terminated).
    SyslogJson,
    /// Splunk HEC events, concatenated (one per line for readability; HEC accepts whitespace
    /// between events).
    SplunkHec,
    /// Sentinel Logs Ingestion rows, as one JSON array.
    Sentinel,
    /// Elastic `_bulk` NDJSON into index `gatewatch-findings`.
    Ecs,
}

impl AlertFormat {
    pub const ALL: [AlertFormat; 8] = [
        AlertFormat::Json,
        AlertFormat::Ocsf,
        AlertFormat::Cef,
        AlertFormat::SyslogCef,
        AlertFormat::SyslogJson,
        AlertFormat::SplunkHec,
        AlertFormat::Sentinel,
        AlertFormat::Ecs,
    ];

    /// The CLI name (`--format`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertFormat::Json => "json",
            AlertFormat::Ocsf => "ocsf",
            AlertFormat::Cef => "cef",
            AlertFormat::SyslogCef => "syslog-cef",
            AlertFormat::SyslogJson => "syslog-json",
            AlertFormat::SplunkHec => "splunk-hec",
            AlertFormat::Sentinel => "sentinel",
            AlertFormat::Ecs => "ecs",
        }
    }
}

impl fmt::Display for AlertFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AlertFormat {
    type Err = ExportError;

    fn from_str(name: &str) -> Result<Self> {
        AlertFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == name)
            .ok_or_else(|| ExportError::UnknownFormat {
                what: "alert",
                name: name.to_string(),
                expected: "json, ocsf, cef, syslog-cef, syslog-json, splunk-hec, sentinel, ecs",
            })
    }
}

/// Index the `ecs` listing writes into.
pub const ECS_INDEX: &str = "gatewatch-findings";

/// Renders `findings` in `format` with default sink options; every format ends with `\n`
/// unless `findings` is empty (the Sentinel array is then `[]\n`).
pub fn render_alerts(
    findings: &[Finding],
    format: AlertFormat,
    producer: &Producer,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    match format {
        AlertFormat::Json => ndjson::write_ndjson(&mut out, findings)?,
        AlertFormat::Ocsf => ocsf::write_ocsf_ndjson(&mut out, findings, producer)?,
        AlertFormat::Cef => out = cef::to_cef_lines(findings, producer).into_bytes(),
        AlertFormat::SyslogCef | AlertFormat::SyslogJson => {
            let payload = if format == AlertFormat::SyslogCef {
                SyslogPayload::Cef
            } else {
                SyslogPayload::OcsfJson
            };
            for f in findings {
                out.extend(finding_message(
                    f,
                    producer,
                    &SyslogOptions::default(),
                    payload,
                )?);
                out.push(b'\n');
            }
        }
        AlertFormat::SplunkHec => {
            for f in findings {
                out.extend(to_hec_event(f, producer, &HecOptions::default())?.into_bytes());
                out.push(b'\n');
            }
        }
        AlertFormat::Sentinel => {
            let rows: Vec<_> = findings.iter().map(sentinel::to_row).collect();
            let first = findings.first().map_or("(none)", |f| f.id.as_str());
            out = serde_json::to_vec(&rows).map_err(|e| ExportError::json(first, "sentinel", e))?;
            out.push(b'\n');
        }
        AlertFormat::Ecs => {
            ecs::write_bulk(&mut out, findings, ECS_INDEX, ecs::BulkAction::Index)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::all;

    #[test]
    fn every_format_renders_and_names_round_trip() {
        let p = Producer::new("0.1.0").with_hostname("gw-01");
        for format in AlertFormat::ALL {
            assert_eq!(format.as_str().parse::<AlertFormat>().unwrap(), format);
            let bytes = render_alerts(&all(), format, &p).unwrap();
            assert!(bytes.ends_with(b"\n"), "{format}");
            let lines = bytes.iter().filter(|b| **b == b'\n').count();
            let expected = match format {
                AlertFormat::Sentinel => 1,
                AlertFormat::Ecs => 6,
                _ => 3,
            };
            assert_eq!(lines, expected, "{format}");
        }
        assert!("xml".parse::<AlertFormat>().is_err());
    }
}
