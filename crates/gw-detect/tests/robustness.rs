//! No input may panic the scanner: arbitrary text, broken encodings and hostile JSON go through
//! every input location and every rule.

use gw_detect::decode::canonicalize;
use gw_detect::json_walk::walk_json;
use gw_detect::{Scanner, classify_user_agent, scan_exchange, scan_query_value};
use gw_model::{Body, Capture, Exchange, Header, Source, SourceKind};
use proptest::prelude::*;

/// Characters that exercise decoders and tokenizers: encodings, quotes, brackets, separators,
/// overlong lead bytes' escapes, multi-byte and look-alike characters.
fn nasty() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "%",
        "%2",
        "%25",
        "%c0",
        "%af",
        "%u",
        "%uff0e",
        "\\",
        "\\u",
        "\\x4",
        "&#",
        "&#x",
        "&lt",
        ";",
        "'",
        "\"",
        "`",
        "(",
        ")",
        "{",
        "}",
        "[",
        "]",
        "<",
        ">",
        "/",
        "..",
        "$",
        "${",
        "jndi:",
        "*",
        "|",
        "&",
        "=",
        "#",
        "--",
        "/*",
        "é",
        "¼",
        "．",
        "∕",
        "\u{fffd}",
        "\u{0}",
        "\n",
        " ",
        "+",
        "a",
        "1",
        "or",
        "select",
        "script",
        "etc",
        "passwd",
        "http://",
        "127.0.0.1",
        "@",
        ":",
        "?",
        "~",
    ]);
    prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
}

fn record(query: &str, body: &str, header: &str) -> Exchange {
    let src = Source {
        kind: SourceKind::Native,
        capture: Capture::Frontend,
        gateway: None,
        raw_ref: None,
    };
    let mut x = Exchange::new(
        "r",
        jiff::Timestamp::UNIX_EPOCH,
        src,
        "POST",
        format!("/a/{query}"),
    );
    x.request.query = Some(query.to_string());
    x.request.headers = Some(vec![
        Header::new("user-agent", header),
        Header::new("referer", header),
        Header::new("cookie", format!("{query}={header}")),
        Header::new("x-custom", header),
    ]);
    x.request.body = Some(Body::utf8(body));
    x
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn nasty_values_never_panic(v in nasty(), w in "\\PC{0,60}") {
        let _ = canonicalize(&v, true);
        let _ = canonicalize(&w, false);
        let mut hits = Vec::new();
        scan_query_value("q", &v, &mut hits);
        scan_query_value(&w, &w, &mut hits);
        let _ = classify_user_agent(Some(&v));
        for body in [format!("{{\"a\":\"{v}\",\"b\":[\"{w}\"]}}"), format!("<x a=\"{v}\">{w}</x>"), format!("a={v}&b={w}"), v.clone()] {
            let x = record(&v, &body, &w);
            scan_exchange(&x, &mut hits);
            Scanner::new().scan_exchange(&x, &mut hits);
        }
        for h in &hits {
            prop_assert!(h.fragment.chars().count() <= gw_detect::fragment::MAX_FRAGMENT_CHARS + 2);
        }
    }

    #[test]
    fn truncated_json_never_panics(v in nasty(), cut in 0usize..200) {
        let body = format!("{{\"k\":[\"{v}\",{{\"$ne\":\"{v}\"}}],\"z\":\"{v}\"}}");
        let mut end = cut.min(body.len());
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        walk_json(&body[..end], |_| {});
        let mut hits = Vec::new();
        scan_exchange(&record("q=1", &body[..end], "curl/8"), &mut hits);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, failure_persistence: None, ..ProptestConfig::default() })]

    /// libinjectionrs is a young port: feed it arbitrary bytes (not only UTF-8) directly.
    #[test]
    fn libinjection_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..120), v in nasty()) {
        let _ = libinjectionrs::detect_sqli(&bytes);
        let _ = libinjectionrs::detect_xss(&bytes);
        let _ = libinjectionrs::detect_sqli(v.as_bytes());
        let _ = libinjectionrs::detect_xss(v.as_bytes());
    }
}
