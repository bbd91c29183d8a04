//! The one masking function. Everything that prints or stores a value that may be sensitive
//! (evidence samples, reject files, logs, the dashboard) goes through `mask` or `mask_text`,
//! so what is revealed is decided here once: enough to recognise a value (the last digits of a
//! card, the domain of an email), never enough to use it.

use crate::classifier::Classifier;
use crate::kind::SensitiveKind;

/// Mask `value` as a `kind`: `4111 **** **** 1111`, `j***@example.com`, `***-**-6789`.
pub fn mask(kind: SensitiveKind, value: &str) -> String {
    match kind {
        SensitiveKind::CreditCard => keep_digits(value, 4, 4),
        SensitiveKind::Ssn | SensitiveKind::Phone => keep_digits(value, 0, 2),
        SensitiveKind::Iban => keep_alnum(value, 4, 2),
        SensitiveKind::NationalId | SensitiveKind::Custom => keep_alnum(value, 0, 2),
        SensitiveKind::Email => mask_email(value),
        SensitiveKind::IpAddress => mask_ip(value),
        SensitiveKind::Jwt | SensitiveKind::Secret => mask_secret(value),
        SensitiveKind::DateOfBirth => keep_alnum(value, 0, 0),
        SensitiveKind::Person | SensitiveKind::Address => initials(value),
    }
}

/// `text` with every sensitive span the default classifier finds replaced by its masked form.
/// For a configured classifier use `Classifier::mask_text`.
pub fn mask_text(text: &str) -> String {
    Classifier::builtin().mask_text(text)
}

/// Digits other than the first `head` and last `tail` become `*`; separators stay.
fn keep_digits(value: &str, head: usize, tail: usize) -> String {
    let total = value.chars().filter(char::is_ascii_digit).count();
    // Never reveal more than half of the digits of a short value.
    let (head, tail) = if head + tail > total / 2 {
        (0, if total >= 8 { tail.min(total / 4) } else { 0 })
    } else {
        (head, tail)
    };
    let mut seen = 0;
    value
        .chars()
        .map(|ch| {
            if ch.is_ascii_digit() {
                seen += 1;
                if seen <= head || seen > total - tail {
                    ch
                } else {
                    '*'
                }
            } else if ch.is_alphanumeric() {
                '*'
            } else {
                ch
            }
        })
        .collect()
}

/// Letters and digits other than the first `head` and last `tail` become `*`.
fn keep_alnum(value: &str, head: usize, tail: usize) -> String {
    let total = value.chars().filter(|c| c.is_alphanumeric()).count();
    let (head, tail) = if head + tail > total / 2 {
        (0, if total >= 8 { tail.min(total / 4) } else { 0 })
    } else {
        (head, tail)
    };
    let mut seen = 0;
    value
        .chars()
        .map(|ch| {
            if ch.is_alphanumeric() {
                seen += 1;
                if seen <= head || seen > total - tail {
                    ch
                } else {
                    '*'
                }
            } else {
                ch
            }
        })
        .collect()
}

fn mask_email(value: &str) -> String {
    match value.rsplit_once('@') {
        Some((local, domain)) => {
            let first = local.chars().next().map_or(String::new(), String::from);
            format!("{first}***@{domain}")
        }
        None => mask_secret(value),
    }
}

fn mask_ip(value: &str) -> String {
    if value.contains(':') {
        // IPv6: keep the first group, mask the rest of the hex digits.
        let first_colon = value.find(':').unwrap_or(value.len());
        let (head, rest) = value.split_at(first_colon);
        let rest: String = rest
            .chars()
            .map(|c| if c.is_ascii_hexdigit() { '*' } else { c })
            .collect();
        format!("{head}{rest}")
    } else {
        // IPv4: keep the first two octets (the network), mask host octets.
        let mut out = String::with_capacity(value.len());
        for (i, part) in value.split('.').enumerate() {
            if i > 0 {
                out.push('.');
            }
            if i < 2 {
                out.push_str(part);
            } else {
                let (octet, prefix) = part
                    .split_once('/')
                    .map_or((part, None), |(o, p)| (o, Some(p)));
                out.push_str(&"*".repeat(octet.len().min(3)));
                if let Some(p) = prefix {
                    out.push('/');
                    out.push_str(p);
                }
            }
        }
        out
    }
}

/// Secrets show a short recognisable prefix only when they are long enough that it gives
/// nothing away, and never their tail or length.
fn mask_secret(value: &str) -> String {
    let n = value.chars().count();
    let shown = if n >= 24 { 4 } else { 0 };
    let head: String = value.chars().take(shown).collect();
    format!("{head}********")
}

fn initials(value: &str) -> String {
    value
        .split(' ')
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) if first.is_alphanumeric() => {
                    format!("{first}{}", "*".repeat(chars.count().min(8)))
                }
                Some(first) => format!("{first}{}", "*".repeat(chars.count().min(8))),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_examples() {
        assert_eq!(
            mask(SensitiveKind::CreditCard, "4111 1111 1111 1111"),
            "4111 **** **** 1111"
        );
        assert_eq!(
            mask(SensitiveKind::Email, "john@example.com"),
            "j***@example.com"
        );
        assert_eq!(mask(SensitiveKind::Ssn, "078-05-1123"), "***-**-**23");
        assert_eq!(
            mask(SensitiveKind::IpAddress, "203.0.113.42"),
            "203.0.***.**"
        );
        assert_eq!(
            mask(
                SensitiveKind::Secret,
                "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"
            ),
            "ghp_********"
        );
        assert_eq!(mask(SensitiveKind::Person, "Ada Lovelace"), "A** L*******");
    }

    #[test]
    fn short_values_reveal_little() {
        assert_eq!(mask(SensitiveKind::CreditCard, "1234"), "****");
        assert_eq!(mask(SensitiveKind::Secret, "hunter2"), "********");
    }

    #[test]
    fn mask_text_masks_every_span_and_keeps_the_rest() {
        let t = "user j.doe@example.com paid with 4111-1111-1111-1111 from 198.51.100.7";
        assert_eq!(
            mask_text(t),
            "user j***@example.com paid with 4111-****-****-1111 from 198.51.***.*"
        );
    }

    #[test]
    fn multibyte_values_do_not_panic() {
        assert_eq!(mask(SensitiveKind::Person, "Zoë Ŝmith"), "Z** Ŝ****");
        let _ = mask(SensitiveKind::Email, "ü@é");
    }
}
