//! What `gatewatch inventory` prints: one row per endpoint, as JSON, a table or CSV.

use gw_model::EndpointMatch;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::inventory::{EndpointState, SpecStatus, StatusClasses};

/// One endpoint as shown to users (`--format json` prints an array of these).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InventoryRow {
    pub id: String,
    pub host: String,
    pub method: String,
    pub template: String,
    pub api: String,
    #[serde(rename = "match")]
    pub matched_by: EndpointMatch,
    pub spec_operation_id: Option<String>,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    pub calls: u64,
    pub status_classes: StatusClasses,
    /// Authentication seen (`api_key`, `basic`, `bearer_jwt`, `bearer_opaque`, `mtls`,
    /// `none`), plus `unauthenticated` when successful calls arrived without credentials.
    pub auth: Vec<String>,
    /// Calls from public IP addresses were seen.
    pub external: bool,
    /// Event time of the first call from a public address.
    pub external_since: Option<Timestamp>,
    /// Sensitive data kinds seen (`email`, `credit_card` ...).
    pub sensitive: Vec<String>,
    pub spec_status: SpecStatus,
    /// Parameters as `in:name:type` (`path:userId:integer`, `query:page:integer`).
    pub params: Vec<String>,
    pub gateway_api_ids: Vec<String>,
    pub gateway_routes: Vec<String>,
}

impl InventoryRow {
    /// The row of `e` with statuses evaluated at event time `now`.
    pub fn new(e: &EndpointState, now: Timestamp, dormant_after_days: u32) -> InventoryRow {
        InventoryRow {
            id: e.id.clone(),
            host: e.host.clone(),
            method: e.method.as_str().to_string(),
            template: e.template.clone(),
            api: e.api.clone(),
            matched_by: e.matched_by,
            spec_operation_id: e.spec.as_ref().and_then(|s| s.operation_id.clone()),
            first_seen: e.first_seen,
            last_seen: e.last_seen,
            calls: e.calls,
            status_classes: e.status_classes,
            auth: e.auth_labels(),
            external: e.is_external(),
            external_since: e.exposure.first_public_seen,
            sensitive: e.sensitive.keys().cloned().collect(),
            spec_status: e.spec_status(now, dormant_after_days),
            params: e
                .params
                .iter()
                .map(|p| {
                    format!(
                        "{}:{}:{}",
                        location_name(p.location),
                        p.name,
                        p.value_type().as_str()
                    )
                })
                .collect(),
            gateway_api_ids: e.gateway_api_ids.iter().cloned().collect(),
            gateway_routes: e.gateway_routes.iter().cloned().collect(),
        }
    }
}

fn location_name(l: gw_model::ParamLocation) -> &'static str {
    match l {
        gw_model::ParamLocation::Path => "path",
        gw_model::ParamLocation::Query => "query",
        gw_model::ParamLocation::Header => "header",
        gw_model::ParamLocation::Cookie => "cookie",
        gw_model::ParamLocation::Body => "body",
    }
}

/// Users' order: API, host, template, method.
pub fn sort_rows(rows: &mut [InventoryRow]) {
    rows.sort_by(|a, b| {
        (&a.api, &a.host, &a.template, &a.method).cmp(&(&b.api, &b.host, &b.template, &b.method))
    });
}

/// Rows whose API is `api` (all rows for `None`).
pub fn filter_api(rows: Vec<InventoryRow>, api: Option<&str>) -> Vec<InventoryRow> {
    match api {
        None => rows,
        Some(api) => rows.into_iter().filter(|r| r.api == api).collect(),
    }
}

const COLUMNS: [&str; 11] = [
    "METHOD",
    "HOST",
    "TEMPLATE",
    "API",
    "CALLS",
    "FIRST_SEEN",
    "LAST_SEEN",
    "AUTH",
    "EXTERNAL",
    "SENSITIVE",
    "STATUS",
];

fn cells(r: &InventoryRow) -> [String; 11] {
    let time = |t: Option<Timestamp>| {
        t.map_or_else(
            || "-".to_string(),
            |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
    };
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join("+")
        }
    };
    [
        r.method.clone(),
        r.host.clone(),
        r.template.clone(),
        r.api.clone(),
        r.calls.to_string(),
        time(r.first_seen),
        time(r.last_seen),
        list(&r.auth),
        if r.external { "yes" } else { "no" }.to_string(),
        list(&r.sensitive),
        r.spec_status.as_str().to_string(),
    ]
}

/// An aligned plain-text table with a header line, one line per row.
pub fn render_table(rows: &[InventoryRow]) -> String {
    let body: Vec<[String; 11]> = rows.iter().map(cells).collect();
    let mut widths = COLUMNS.map(str::len);
    for r in &body {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut text = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(c);
            } else {
                text.push_str(c);
                text.extend(std::iter::repeat_n(' ', w - c.chars().count() + 2));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&COLUMNS);
    for r in &body {
        let refs: Vec<&str> = r.iter().map(String::as_str).collect();
        line(&refs);
    }
    out
}

/// RFC 4180 CSV with a header line; lists are joined with `+`.
pub fn render_csv(rows: &[InventoryRow]) -> String {
    let header = [
        "id",
        "method",
        "host",
        "template",
        "api",
        "match",
        "spec_operation_id",
        "calls",
        "first_seen",
        "last_seen",
        "auth",
        "external",
        "external_since",
        "sensitive",
        "spec_status",
        "params",
    ];
    let mut out = header.join(",");
    out.push_str("\r\n");
    for r in rows {
        let time = |t: Option<Timestamp>| t.map_or_else(String::new, |t| t.to_string());
        let fields = [
            r.id.clone(),
            r.method.clone(),
            r.host.clone(),
            r.template.clone(),
            r.api.clone(),
            match r.matched_by {
                EndpointMatch::Spec => "spec",
                EndpointMatch::Learned => "learned",
            }
            .to_string(),
            r.spec_operation_id.clone().unwrap_or_default(),
            r.calls.to_string(),
            time(r.first_seen),
            time(r.last_seen),
            r.auth.join("+"),
            r.external.to_string(),
            time(r.external_since),
            r.sensitive.join("+"),
            r.spec_status.as_str().to_string(),
            r.params.join(" "),
        ];
        let escaped: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&escaped.join(","));
        out.push_str("\r\n");
    }
    out
}

fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::method::Method;

    fn row() -> InventoryRow {
        let mut e = EndpointState::new(
            "api.example.com",
            Method::Get,
            "/users/{userId}",
            EndpointMatch::Learned,
        );
        e.calls = 3;
        e.first_seen = Some("2024-06-10T09:13:20Z".parse().unwrap());
        e.last_seen = e.first_seen;
        e.auth.insert("bearer_jwt".into(), 3);
        e.sensitive
            .insert("email".into(), ["response.body".to_string()].into());
        InventoryRow::new(&e, "2024-06-11T00:00:00Z".parse().unwrap(), 30)
    }

    #[test]
    fn json_rows_carry_the_promised_fields() {
        let v = serde_json::to_value(vec![row()]).unwrap();
        for field in [
            "host",
            "method",
            "template",
            "api",
            "first_seen",
            "last_seen",
            "calls",
            "auth",
            "external",
            "sensitive",
            "spec_status",
        ] {
            assert!(v[0].get(field).is_some(), "{field}");
        }
        assert_eq!(v[0]["spec_status"], "shadow");
        assert_eq!(v[0]["match"], "learned");
        assert_eq!(v[0]["api"], "api.example.com/users");
    }

    #[test]
    fn table_aligns_and_csv_escapes() {
        let table = render_table(&[row()]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("METHOD  HOST"), "{table}");
        assert_eq!(lines[0].find("TEMPLATE"), lines[1].find("/users/{userId}"));
        assert!(lines[1].contains("bearer_jwt"));
        let mut r = row();
        r.template = "/a,\"b\"".into();
        let csv = render_csv(&[r]);
        assert!(csv.contains(",\"/a,\"\"b\"\"\","), "{csv}");
        assert_eq!(csv.lines().count(), 2);
    }
}
