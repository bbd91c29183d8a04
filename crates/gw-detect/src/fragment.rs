//! The one place where evidence text is cut out of a request value.
//!
//! Evidence must let an analyst check a verdict without carrying data that should not leave
//! the gateway: fragments are short, printable and have credential-shaped runs masked. When
//! the shared masking of `gw-classify` is available it replaces [`mask_credentials`] here, and
//! nowhere else.

use std::ops::Range;

/// Longest fragment kept in evidence, in characters (plus at most two `…` marks).
pub const MAX_FRAGMENT_CHARS: usize = 120;

/// Characters kept before the decisive span, for context.
const CONTEXT_CHARS: usize = 16;

/// A masked, truncated, printable excerpt of `text` around `span`.
pub fn evidence_fragment(text: &str, span: Range<usize>) -> String {
    let start = floor_char_boundary(text, span.start.min(text.len()));
    let ctx_start = text[..start]
        .char_indices()
        .rev()
        .nth(CONTEXT_CHARS.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    let mut out = String::with_capacity(MAX_FRAGMENT_CHARS + 8);
    if ctx_start > 0 {
        out.push('…');
    }
    let mut cut = false;
    let mut shown = 0;
    for c in text[ctx_start..].chars() {
        if shown >= MAX_FRAGMENT_CHARS {
            cut = true;
            break;
        }
        let before = out.len();
        push_printable(&mut out, c);
        shown += out[before..].chars().count();
    }
    if cut {
        out.push('…');
    }
    // Credentials first (this crate's rules for request syntax), then the one shared masking
    // function for personal data and secrets, as everywhere else a value is shown.
    cap_chars(gw_classify::mask_text(&mask_credentials(&out)))
}

/// The fragment shown instead of the value of a field named like a credential: the name,
/// printable and within the same bound as every other fragment.
pub fn credential_field_fragment(name: &str) -> String {
    let mut out = String::from("[MASKED: value of credential field `");
    for c in name.chars() {
        push_printable(&mut out, c);
    }
    out.push_str("`]");
    cap_chars(out)
}

/// Masking can lengthen a short secret to `[MASKED]`; the cap keeps the documented bound.
fn cap_chars(s: String) -> String {
    let limit = MAX_FRAGMENT_CHARS + 2;
    if s.chars().count() <= limit {
        return s;
    }
    let mut out: String = s.chars().take(limit - 1).collect();
    out.push('…');
    out
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn push_printable(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if c.is_control() => {
            out.push_str(&format!("\\x{:02x}", c as u32));
        }
        c => out.push(c),
    }
}

/// Masks runs that look like credentials: JWTs, `password=`/`token=` values, bearer tokens,
/// well-known key prefixes and long high-entropy runs.
pub fn mask_credentials(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut mask_next_value = false;
    while !rest.is_empty() {
        let run_len = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
        if run_len == 0 {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let run = &rest[..run_len];
        if mask_next_value || looks_like_secret(run) {
            out.push_str("[MASKED]");
        } else {
            out.push_str(run);
        }
        let lower = run.to_ascii_lowercase();
        let next = rest[run_len..].chars().next();
        mask_next_value = matches!(next, Some('=' | ':'))
            && [
                "password",
                "passwd",
                "pwd",
                "secret",
                "token",
                "apikey",
                "api_key",
                "access_token",
                "authorization",
                "session",
                "sessionid",
                "bearer",
            ]
            .iter()
            .any(|k| lower.ends_with(k));
        if lower == "bearer" || lower == "basic" {
            mask_next_value = true;
        }
        rest = &rest[run_len..];
        if mask_next_value {
            // Keep the separator, mask the following run.
            if let Some(c) = rest.chars().next().filter(|c| matches!(c, '=' | ':' | ' ')) {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | '/')
}

fn looks_like_secret(run: &str) -> bool {
    if run.starts_with("eyJ") && run.matches('.').count() >= 2 {
        return true;
    }
    const PREFIXES: &[&str] = &[
        "AKIA",
        "ASIA",
        "ghp_",
        "gho_",
        "github_pat_",
        "xoxb-",
        "xoxp-",
        "sk_live_",
        "sk-",
        "AIza",
        "glpat-",
    ];
    if PREFIXES.iter().any(|p| run.starts_with(p)) && run.len() >= 16 {
        return true;
    }
    // Long mixed-case + digit runs without path structure read as keys or tokens.
    run.len() >= 32
        && !run.contains('/')
        && run.bytes().any(|b| b.is_ascii_digit())
        && run.bytes().any(|b| b.is_ascii_uppercase())
        && run.bytes().any(|b| b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_field_fragments_keep_the_bound_and_are_printable() {
        assert_eq!(
            credential_field_fragment("password"),
            "[MASKED: value of credential field `password`]"
        );
        // A proptest found a 300-byte cookie name carried whole into the evidence.
        let long = format!("passwd{}\n", "%25".repeat(100));
        let f = credential_field_fragment(&long);
        assert!(f.chars().count() <= MAX_FRAGMENT_CHARS + 2, "{f}");
        assert!(f.ends_with('…') && !f.contains('\n'), "{f}");
    }

    #[test]
    fn long_values_are_cut_with_context() {
        let text = format!("{}' OR 1=1--{}", "a".repeat(50), "b".repeat(300));
        let f = evidence_fragment(&text, 50..60);
        assert!(f.starts_with('…') && f.ends_with('…'));
        assert!(f.contains("' OR 1=1--"));
        assert!(f.chars().count() <= MAX_FRAGMENT_CHARS + 2);
    }

    #[test]
    fn credentials_are_masked() {
        let f = evidence_fragment(
            "x' or 1=1 -- password=hunter2 eyJhbGciOi.eyJzdWIi.sig",
            0..10,
        );
        assert!(!f.contains("hunter2") && !f.contains("eyJhbGciOi"), "{f}");
        assert!(f.contains("password=[MASKED]"), "{f}");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(evidence_fragment("a\nb\u{0}", 0..3), "a\\nb\\x00");
    }

    #[test]
    fn personal_data_in_a_fragment_is_masked_by_the_shared_function() {
        let text = "1' OR email='jane.roe@example.org' AND card='4111 1111 1111 1111'--";
        let f = evidence_fragment(text, 0..text.len());
        assert!(!f.contains("jane.roe@example.org"), "{f}");
        assert!(!f.contains("4111 1111 1111 1111"), "{f}");
        assert!(
            f.contains("' OR email="),
            "the attack syntax stays readable: {f}"
        );
    }
}
