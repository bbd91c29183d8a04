//! No input makes the classifier, the masking function or the stream protocol panic, and
//! every reported span lies on character boundaries inside the text.

use gw_classify::{Classifier, Location, SensitiveKind, mask, mask_text, run_classify_stream};
use proptest::prelude::*;

/// Text mixing sensitive-looking fragments with arbitrary characters, so that candidates are
/// found and validators run on odd neighbours.
fn texty() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        any::<String>(),
        Just("4111 1111 1111 1111".to_string()),
        Just("j.doe@example.com".to_string()),
        Just("DE89 3704 0044 0532 0130 00".to_string()),
        Just("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig".to_string()),
        Just("+44 20 7946 0958".to_string()),
        Just("2001:db8::1/64".to_string()),
        Just("password=\"Xk29!pQz7&mWv\"".to_string()),
        Just("-----BEGIN RSA PRIVATE KEY-----".to_string()),
        Just("curl -u user:".to_string()),
        Just("{\"a\":[1,{\"b\":\"".to_string()),
        "[0-9 .:/()+-]{0,24}",
        "[A-Za-z0-9_=:\"' -]{0,40}",
    ];
    proptest::collection::vec(fragment, 0..8).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn scan_text_spans_are_valid(text in texty()) {
        let c = Classifier::builtin();
        for m in c.scan_text(&text) {
            prop_assert!(m.start < m.end && m.end <= text.len());
            prop_assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end));
            prop_assert!((0.0..=1.0).contains(&m.confidence));
        }
        let _ = mask_text(&text);
    }

    #[test]
    fn structured_scans_do_not_panic(text in texty()) {
        let c = Classifier::builtin();
        let _ = c.scan_json(&text, Location::RequestBody, None);
        let _ = c.scan_query(&text, Location::Query, None);
        let _ = c.scan_path(&text, None);
        let _ = c.scan_headers([("authorization", text.as_str()), ("cookie", text.as_str())], Location::Header, None);
    }

    #[test]
    fn mask_never_panics_and_never_grows_unboundedly(text in any::<String>()) {
        for kind in SensitiveKind::BUILT_IN.into_iter().chain([SensitiveKind::Custom]) {
            let masked = mask(kind, &text);
            prop_assert!(masked.chars().count() <= text.chars().count() + 12);
        }
    }

    #[test]
    fn stream_answers_every_line(lines in proptest::collection::vec(texty(), 0..6)) {
        let input = lines.iter().map(|l| l.replace(['\n', '\r'], " ")).collect::<Vec<_>>().join("\n");
        let mut out = Vec::new();
        let stats = run_classify_stream(input.as_bytes(), &mut out, Classifier::builtin()).unwrap();
        let written = String::from_utf8(out).unwrap().lines().count() as u64;
        prop_assert_eq!(written, stats.lines);
        prop_assert_eq!(stats.records + stats.errors, stats.lines);
    }
}
