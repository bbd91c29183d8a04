//! GW-T-TRAVERSAL: path traversal and local file inclusion.
//!
//! After canonical decoding (which already folds overlong UTF-8 and full-width dots and
//! slashes) the value is normalised once more the way lenient file APIs read it: backslash is
//! a separator, control characters and undecodable junk between the dots vanish, and textual
//! hex (`0x2e`) is read as the byte. Then three independent signs are looked for:
//! a `..` next to a separator (the climb itself), a well-known system file or directory as the
//! target (`etc/passwd`, `boot.ini`, `WEB-INF/web.xml` ...) even when the separators in between
//! are garbled, and stream wrappers that turn an include into a file read (`php://filter`).

use std::sync::LazyLock;

use gw_model::{Confidence, Severity};

use super::{INJECTION_OWASP, KeywordSet, Place, RuleMeta, ScanValue, T1190, ValueRule, Verdict};

pub struct PathTraversal;

static META: RuleMeta = RuleMeta {
    id: "GW-T-TRAVERSAL",
    name: "Path traversal / local file inclusion",
    version: 1,
    severity: Severity::High,
    owasp: INJECTION_OWASP,
    mitre: &[T1190, ("TA0007", "T1083")],
    description: "A request value climbs out of a directory (`../`) or names a system file or a file-stream wrapper.",
    remediation: "Resolve file names against an allow-list or an id-to-file map; canonicalize the final path and check it stays under the intended base directory; never pass request values to include/require or file APIs.",
};

/// `(directory word, file words)`: the directory followed within a few bytes by a file word.
const TARGET_PAIRS: &[(&str, &[&str])] = &[
    (
        "etc",
        &[
            "passwd",
            "shadow",
            "issue",
            "hosts",
            "group",
            "hostname",
            "sudoers",
            "crontab",
            "fstab",
            "motd",
            "httpd",
            "apache",
            "nginx",
            "mysql",
            "ssh",
            "master.passwd",
            "resolv.conf",
            "profile",
            "network",
        ],
    ),
    (
        "windows",
        &[
            "system32",
            "win.ini",
            "system.ini",
            "repair",
            "panther",
            "debug",
        ],
    ),
    ("winnt", &["system32", "win.ini", "repair"]),
    ("system32", &["drivers", "config", "cmd.exe", "inetsrv"]),
    (
        "proc",
        &["self", "version", "cpuinfo", "meminfo", "mounts", "net"],
    ),
    ("web-inf", &["web.xml", "classes", "lib"]),
    (
        "var",
        &["log", "www", "mail", "spool", "lib/mysql", "run", "adm"],
    ),
    ("usr", &["local", "lib", "bin", "share", "sbin"]),
    ("root", &[".ssh", ".bash_history", ".history"]),
];

/// Files whose name alone is the target of a file-read attempt.
static TARGET_FILES: LazyLock<KeywordSet> = LazyLock::new(|| {
    KeywordSet::new(&[
        "boot.ini",
        "win.ini",
        "system.ini",
        "web.xml",
        ".htaccess",
        ".htpasswd",
        "id_rsa",
        "id_dsa",
        "authorized_keys",
        "known_hosts",
        ".bash_history",
        "wp-config.php",
        "config.inc.php",
        "web.config",
        "php.ini",
        "httpd.conf",
        "my.cnf",
        "/.env",
        "/.git/config",
        "access_log",
        "error_log",
        "access.log",
        "error.log",
        "global.asa",
        "inetpub/",
        "web-inf",
        "/etc/",
        "/proc/",
        "/dev/",
        "/var/",
    ])
});

const WRAPPERS: &[&str] = &[
    "php://",
    "file://",
    "file:/",
    "zip://",
    "phar://",
    "expect://",
    "glob://",
    "compress.zlib://",
    "compress.bzip2://",
    "data://",
    "jar:file:",
    "netdoc:",
];

/// A separator, a leftover `%`, a drive or wrapper colon, a `..`, a leading dot or textual hex.
fn trigger(b: &[u8]) -> bool {
    b.iter().any(|&c| matches!(c, b'/' | b'\\' | b':' | b'%'))
        || b.first() == Some(&b'.')
        || memchr::memmem::find(b, b"..").is_some()
        || memchr::memmem::find(b, b"0x").is_some()
        || memchr::memmem::find(b, b"web-inf").is_some()
        || memchr::memmem::find(b, b".ini").is_some()
}

/// The value as a lenient file API reads it; see the module docs. A `%` that survived
/// canonical decoding starts an encoding no decoder could read (`%c1%pc`, `%bg%qf`); with its
/// two following characters it stands where the attacker meant a separator.
fn normalise(lower: &str) -> String {
    let mut s = lower.to_string();
    if s.contains("0x") {
        s = s
            .replace("0x2e", ".")
            .replace("0x2f", "/")
            .replace("0x5c", "/");
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => {
                chars.next();
                chars.next();
                out.push('/');
            }
            '\\' => out.push('/'),
            c if c.is_control() || c == '\u{fffd}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Offsets of `..` that touch a separator (`../`, `/..`, `..?/`), as a count.
fn climbs(norm: &str) -> usize {
    let b = norm.as_bytes();
    let mut n = 0;
    let mut i = 0;
    while let Some(off) = memchr::memmem::find(&b[i..], b"..") {
        let at = i + off;
        let mut end = at + 2;
        while end < b.len() && b[end] == b'.' {
            end += 1;
        }
        // Junk some decoders drop between the dots and the separator.
        let mut after = end;
        while after < b.len() && after - end < 3 && matches!(b[after], b'?' | b';' | b'%' | b' ') {
            after += 1;
        }
        let sep_after = after < b.len() && b[after] == b'/';
        let sep_before = at > 0 && b[at - 1] == b'/';
        let at_end = end == b.len();
        if sep_after || (sep_before && at_end) {
            n += 1;
        }
        i = end;
    }
    n
}

fn target_pair(norm: &str) -> Option<(usize, String)> {
    for (dir, files) in TARGET_PAIRS {
        for at in memchr::memmem::find_iter(norm.as_bytes(), dir.as_bytes()) {
            let before_ok = at == 0 || !norm.as_bytes()[at - 1].is_ascii_alphanumeric();
            if !before_ok {
                continue;
            }
            let after = at + dir.len();
            let window_end = (after + 12).min(norm.len());
            let Some(window) = norm.get(after..window_end) else {
                continue;
            };
            // A separator (or garbled bytes standing for one) must sit between the two words.
            if window
                .as_bytes()
                .first()
                .is_some_and(|c| c.is_ascii_alphanumeric())
            {
                continue;
            }
            if let Some(f) = files.iter().find(|f| window.contains(*f)) {
                return Some((at, format!("{dir}/{f}")));
            }
        }
    }
    None
}

/// Words any traversal or file-inclusion target contains; a value with a separator but none
/// of these (and no `..`, `%` or `\`) skips the normalisation.
static HINTS: LazyLock<KeywordSet> = LazyLock::new(|| {
    KeywordSet::new(&[
        "etc",
        "windows",
        "winnt",
        "system32",
        "proc",
        "web-inf",
        "var",
        "usr",
        "root",
        "inetpub",
        ".ht",
        ".ini",
        ".env",
        ".git",
        "id_rsa",
        "id_dsa",
        "/dev",
        ".log",
        "_log",
        ".xml",
        ".conf",
        ".cnf",
        "config",
        "known_hosts",
        "authorized_keys",
        ".bash",
        "boot",
        "global.asa",
        "file:",
        "php:",
        "zip:",
        "phar:",
        "expect:",
        "glob:",
        "compress.",
        "data:",
        "jar:",
        "netdoc:",
        "0x",
    ])
});

impl ValueRule for PathTraversal {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    /// The whole path instead of its segments (a climb spans segments).
    fn applies_to(&self, place: Place) -> bool {
        !matches!(place, Place::PathSegment | Place::XmlBody)
    }

    fn check(&self, v: &ScanValue<'_>) -> Option<Verdict> {
        let b = v.lower.as_bytes();
        if !trigger(b) {
            return None;
        }
        let strong = memchr::memmem::find(b, b"..").is_some()
            || b.iter().any(|&c| c == b'\\' || c == b'%' || c < 0x20)
            || v.lower.contains('\u{fffd}');
        if !strong && HINTS.find_any(v.lower).is_none() {
            return None;
        }
        let norm = normalise(v.lower);
        let depth = climbs(&norm);
        let target = target_pair(&norm);
        let span = 0..v.text.len();
        if let Some(w) = WRAPPERS
            .iter()
            .find(|w| norm.starts_with(*w) || norm.contains(&format!("={w}")))
        {
            let confidence = if *w == "data://" && depth == 0 && target.is_none() {
                Confidence::Medium
            } else {
                Confidence::High
            };
            return Some(Verdict::new(
                confidence,
                format!("file-stream wrapper `{w}`"),
                span,
            ));
        }
        match (depth, target) {
            (0, None) => {}
            (0, Some((_, t))) => {
                return Some(Verdict::new(
                    Confidence::Medium,
                    format!("names system file `{t}`"),
                    span,
                ));
            }
            (d, Some((_, t))) => {
                return Some(Verdict::new(
                    Confidence::High,
                    format!("{d} `../` climb(s) to `{t}`"),
                    span,
                ));
            }
            (d, None) => {
                let confidence = if d >= 2 {
                    Confidence::High
                } else {
                    Confidence::Medium
                };
                return Some(Verdict::new(
                    confidence,
                    format!("{d} `../` climb(s)"),
                    span,
                ));
            }
        }
        // An absolute path to a system file, or `....//` style dot runs with a file name.
        TARGET_FILES.occurrences(&norm).find_map(|(at, f)| {
            // `/etc/`, `/proc/` ... only as the start of an absolute path.
            let absolute_sys = f.starts_with('/') && f.ends_with('/');
            (!absolute_sys || at == 0).then(|| {
                Verdict::new(
                    Confidence::Medium,
                    format!("names system file `{}`", f.trim_matches('/')),
                    span.clone(),
                )
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::check;

    #[test]
    fn climbs_and_encodings() {
        for p in [
            "../../etc/passwd",
            "..%2f..%2f..%2fetc%2fpasswd",
            "%252e%252e%252fsecret",
            "..%c0%af..%c0%afboot.ini",
            "..\\..\\windows\\win.ini",
            "%uff0e%uff0e%u2215%uff0e%uff0e%u2215etc%u2215hosts",
            "/..0x5c..0x5c..0x5cetc/hosts",
            "..%01%u2215..%01%u2215boot.ini",
            "php://filter/convert.base64-encode/resource=index.php",
            "/etc/passwd",
            "etc%bg%qfissue",
        ] {
            assert!(check(&PathTraversal, p).is_some(), "{p}");
        }
    }

    #[test]
    fn dots_in_prose_and_versions_pass() {
        for p in [
            "wait... what?",
            "v1.2.3",
            "a/b/c.txt",
            "https://example.com/docs/page",
            "etc.",
            "Windows 11 system",
        ] {
            assert!(check(&PathTraversal, p).is_none(), "{p}");
        }
    }
}
