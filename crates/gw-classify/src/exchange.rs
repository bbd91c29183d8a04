//! Classification of a whole traffic record: every place a value travels, with the response
//! status class that carried it.

use gw_model::{Body, Exchange, REDACTED, SensitiveLabel};

use crate::classifier::Classifier;
use crate::context::{FieldFinding, Location, StatusClass};

/// Every sensitive value in `x`: path segments, query, request headers (credentials are
/// already redacted by then), request and response bodies (text bodies only, up to the
/// configured cap). Never returns the values themselves.
pub fn classify_exchange(classifier: &Classifier, x: &Exchange) -> Vec<FieldFinding> {
    classify_exchange_parts(classifier, x, BodyParts::ALL)
}

/// Which bodies of a record [`classify_exchange_parts`] scans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyParts {
    pub request: bool,
    pub response: bool,
}

impl BodyParts {
    pub const ALL: BodyParts = BodyParts {
        request: true,
        response: true,
    };
}

/// [`classify_exchange`] with the bodies that `parts` leaves out skipped (path, query and
/// headers are always scanned).
pub fn classify_exchange_parts(
    classifier: &Classifier,
    x: &Exchange,
    parts: BodyParts,
) -> Vec<FieldFinding> {
    let status = x.response.status.and_then(StatusClass::from_status);
    let mut out = classifier.scan_path(&x.request.path, status);
    if let Some(q) = x.request.query.as_deref().filter(|q| !q.is_empty()) {
        out.extend(classifier.scan_query(q, Location::Query, status));
    }
    if let Some(headers) = &x.request.headers {
        let values = headers
            .iter()
            .filter(|h| h.value != REDACTED)
            .map(|h| (h.name.as_str(), h.value.as_str()));
        out.extend(classifier.scan_headers(values, Location::Header, status));
    }
    let request_type = x.request.header("content-type");
    if let Some(text) = x
        .request
        .body
        .as_ref()
        .filter(|_| parts.request)
        .and_then(Body::text)
    {
        out.extend(
            classifier
                .scan_body(text, request_type, Location::RequestBody, status)
                .findings,
        );
    }
    let response_type = x
        .response
        .content_type
        .as_deref()
        .or_else(|| x.response.header("content-type"));
    if let Some(text) = x
        .response
        .body
        .as_ref()
        .filter(|_| parts.response)
        .and_then(Body::text)
    {
        out.extend(
            classifier
                .scan_body(text, response_type, Location::ResponseBody, status)
                .findings,
        );
    }
    out
}

/// The record-level labels (`record.sensitive`): one per kind and place, e.g.
/// `{kind: "email", location: "response_body:$.customer.email"}`, sorted and deduplicated.
pub fn sensitive_labels(findings: &[FieldFinding]) -> Vec<SensitiveLabel> {
    let mut labels: Vec<SensitiveLabel> = findings
        .iter()
        .map(|f| SensitiveLabel {
            kind: f.label.clone(),
            location: format!("{}:{}", f.location.as_str(), f.field_path),
        })
        .collect();
    labels.sort_by(|a, b| (&a.kind, &a.location).cmp(&(&b.kind, &b.location)));
    labels.dedup();
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use gw_model::{Capture, Header, Source, SourceKind};
    use jiff::Timestamp;

    #[test]
    fn every_place_is_scanned_and_labels_name_kind_and_field() {
        let source = Source {
            kind: SourceKind::Native,
            capture: Capture::Frontend,
            gateway: None,
            raw_ref: None,
        };
        let mut x = Exchange::new(
            "r1",
            Timestamp::UNIX_EPOCH,
            source,
            "POST",
            "/users/jane.doe@example.com",
        );
        x.request.query = Some("card=4111111111111111&page=2".into());
        x.request.headers = Some(vec![
            Header::new("authorization", REDACTED),
            Header::new("content-type", "application/json"),
        ]);
        x.request.body = Some(Body::utf8(r#"{"iban":"DE89370400440532013000"}"#));
        x.response.status = Some(200);
        x.response.content_type = Some("application/json".into());
        x.response.body = Some(Body::utf8(
            r#"{"customer":{"email":"john@example.org","ssn":"078-05-1121"}}"#,
        ));
        let findings = classify_exchange(Classifier::builtin(), &x);
        let labels = sensitive_labels(&findings);
        let got: Vec<(String, String)> = labels.into_iter().map(|l| (l.kind, l.location)).collect();
        for (kind, location) in [
            ("email", "path:path[1]"),
            ("credit_card", "query:card"),
            ("iban", "request_body:$.iban"),
            ("email", "response_body:$.customer.email"),
        ] {
            assert!(
                got.contains(&(kind.to_string(), location.to_string())),
                "{kind} at {location} missing from {got:?}"
            );
        }
        assert!(
            findings
                .iter()
                .all(|f| f.status_class == Some(StatusClass::Success))
        );
    }
}
