//! The intel lists matching the simulator's TOR and malicious-IP scenarios, as FireHOL-style
//! `.ipset` files (comment header, one address per line).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::attacks::{malicious_ips, tor_exit_ips};
use crate::error::SimError;

/// One list written by [`write_intel_lists`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntelList {
    /// List name (file stem), e.g. `sim_tor_exits`.
    pub name: String,
    pub path: PathBuf,
    /// The gw-enrich list category it should be loaded as (`tor`, `malicious`).
    pub category: &'static str,
    pub entries: usize,
}

/// Writes `sim_tor_exits.ipset` (category `tor`) and `sim_malicious.ipset` (category
/// `malicious`) into `dir` (created when missing). The addresses come from ranges the background
/// population never uses, so only the scenario records match.
pub fn write_intel_lists(dir: &Path) -> Result<Vec<IntelList>, SimError> {
    std::fs::create_dir_all(dir).map_err(|source| SimError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let lists = [
        (
            "sim_tor_exits",
            "tor",
            "anonymizers",
            "TOR exit relays used by the tor-exit scenario",
            tor_exit_ips(),
        ),
        (
            "sim_malicious",
            "malicious",
            "malware",
            "known-malicious hosts used by the malicious-ip scenario",
            malicious_ips(),
        ),
    ];
    let mut written = Vec::new();
    for (name, category, firehol_category, what, ips) in lists {
        let path = dir.join(format!("{name}.ipset"));
        std::fs::write(&path, render(name, firehol_category, what, &ips)).map_err(|source| {
            SimError::Io {
                path: path.clone(),
                source,
            }
        })?;
        written.push(IntelList {
            name: name.to_string(),
            path,
            category,
            entries: ips.len(),
        });
    }
    Ok(written)
}

fn render(name: &str, category: &str, what: &str, ips: &[IpAddr]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "#\n# {name}\n#\n# ipv4 hash:ip ipset\n#\n# Gatewatch simulator: {what}."
    );
    let _ = writeln!(
        s,
        "# Synthetic list for simulated traffic; not real threat intelligence.\n#"
    );
    let _ = writeln!(
        s,
        "# Category        : {category}\n# Entries         : {} unique IPs\n#",
        ips.len()
    );
    for ip in ips {
        let _ = writeln!(s, "{ip}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::simulated_country;

    #[test]
    fn lists_are_written_and_disjoint_from_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let lists = write_intel_lists(dir.path()).unwrap();
        assert_eq!(lists.len(), 2);
        for l in &lists {
            let text = std::fs::read_to_string(&l.path).unwrap();
            let ips: Vec<IpAddr> = text
                .lines()
                .filter(|l| !l.starts_with('#'))
                .map(|l| l.parse().unwrap())
                .collect();
            assert_eq!(ips.len(), l.entries);
            assert!(ips.iter().all(|ip| simulated_country(*ip).is_none()));
        }
    }
}
