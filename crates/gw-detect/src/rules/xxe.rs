//! GW-T-XXE: XML external entity and DTD injection.
//!
//! Request XML should never carry its own document type definition: a `<!ENTITY` declaration
//! (external with SYSTEM/PUBLIC, parameter entities `%`, or the recursive "billion laughs")
//! and an internal DTD subset (`<!DOCTYPE x [`) are the attack. XInclude (`xi:include`) is the
//! same idea without a DTD.

use gw_model::{Confidence, Severity};

use super::{INJECTION_OWASP, Place, RuleMeta, ScanValue, T1190, ValueRule, Verdict};

pub struct XmlExternalEntity;

static META: RuleMeta = RuleMeta {
    id: "GW-T-XXE",
    name: "XML external entity",
    version: 1,
    severity: Severity::High,
    owasp: INJECTION_OWASP,
    mitre: &[T1190],
    description: "XML in the request declares a DTD or entities (external entity / entity expansion).",
    remediation: "Disable DTD processing and external entity resolution in every XML parser (or reject documents with a DOCTYPE); prefer JSON for APIs.",
};

impl ValueRule for XmlExternalEntity {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn applies_to(&self, place: Place) -> bool {
        place != Place::Path
    }

    fn check(&self, v: &ScanValue<'_>) -> Option<Verdict> {
        let b = v.lower.as_bytes();
        let lt = memchr::memchr(b'<', b)?;
        let rest = &v.lower[lt..];
        if let Some(at) = rest.find("<!entity") {
            let tail = &rest[at..];
            let external = tail.contains("system") || tail.contains("public") || tail.contains('%');
            let confidence = if external {
                Confidence::High
            } else {
                Confidence::Medium
            };
            let what = if external {
                "external or parameter entity declaration"
            } else {
                "entity declaration"
            };
            return Some(Verdict::new(
                confidence,
                format!("{what} `<!ENTITY`"),
                lt + at..v.text.len(),
            ));
        }
        if let Some(at) = rest.find("<!doctype") {
            let decl = &rest[at..];
            let decl = &decl[..decl.find('>').unwrap_or(decl.len())];
            if decl.contains('[') || decl.contains(" system ") || decl.contains(" system\"") {
                return Some(Verdict::new(
                    Confidence::High,
                    "DOCTYPE with an internal subset or SYSTEM identifier",
                    lt + at..v.text.len(),
                ));
            }
        }
        if let Some(at) = rest.find("xi:include").or_else(|| rest.find("xmlns:xi=")) {
            return Some(Verdict::new(
                Confidence::Medium,
                "XInclude element",
                lt + at..v.text.len(),
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::check;

    #[test]
    fn entities_and_dtds() {
        for p in [
            "<?xml version=\"1.0\"?><!DOCTYPE foo [<!ELEMENT foo ANY><!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><foo>&xxe;</foo>",
            "<!DOCTYPE xxe [<!ENTITY foo \"aaaaaa\">]>",
            "<!DOCTYPE foo SYSTEM \"http://evil/x.dtd\">",
            "<foo xmlns:xi=\"http://www.w3.org/2001/XInclude\"><xi:include parse=\"text\" href=\"file:///etc/passwd\"/></foo>",
        ] {
            assert!(check(&XmlExternalEntity, p).is_some(), "{p}");
        }
    }

    #[test]
    fn plain_xml_and_html_pass() {
        for p in [
            "<?xml version=\"1.0\"?><order><id>1</id></order>",
            "<!DOCTYPE html><p>hi</p>",
        ] {
            assert!(check(&XmlExternalEntity, p).is_none(), "{p}");
        }
    }
}
