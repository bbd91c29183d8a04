//! Loading the FireHOL snapshots in `shared/data/intel/ipsets` and a TorDNSEL fixture, and
//! checking lookups against an independent linear scan.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use gw_enrich::{EnrichConfig, EnrichError, IntelListConfig, IntelSet, ListCategory, ListFormat};
use gw_model::Severity;
use ipnet::IpNet;
use rand::{Rng, SeedableRng, rngs::StdRng};

fn ipsets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/intel/ipsets")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The four snapshots as an operator would configure them.
fn shared_lists() -> Vec<IntelListConfig> {
    vec![
        IntelListConfig::new(
            "tor_exits",
            ipsets().join("tor_exits.ipset"),
            ListCategory::Tor,
        ),
        IntelListConfig::new(
            "feodo",
            ipsets().join("feodo.ipset"),
            ListCategory::Malicious,
        ),
        IntelListConfig::new(
            "sslbl",
            ipsets().join("sslbl.ipset"),
            ListCategory::Malicious,
        ),
        IntelListConfig::new(
            "cidr_report_bogons",
            ipsets().join("cidr_report_bogons.netset"),
            ListCategory::Bogon,
        ),
    ]
}

/// Prefixes of a FireHOL file read without the crate's parser.
fn reference_prefixes(path: &Path) -> Vec<IpNet> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            if l.contains('/') {
                l.parse::<IpNet>().unwrap()
            } else {
                IpNet::from(l.parse::<IpAddr>().unwrap())
            }
        })
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn the_firehol_snapshots_load_without_skipped_lines() {
    let set = IntelSet::load(&shared_lists()).unwrap();
    let counts: Vec<(&str, usize, usize, ListFormat)> = set
        .lists()
        .iter()
        .map(|l| (l.name.as_str(), l.prefixes, l.skipped_lines, l.format))
        .collect();
    // The entry counts FireHOL writes in each header.
    assert_eq!(
        counts,
        [
            ("tor_exits", 1053, 0, ListFormat::Netset),
            ("feodo", 714, 0, ListFormat::Netset),
            ("sslbl", 103, 0, ListFormat::Netset),
            ("cidr_report_bogons", 3844, 0, ListFormat::Netset),
        ]
    );
    assert_eq!(
        set.list(set.lookup(ip("1.93.0.224")).unwrap().list_ids()[0])
            .name,
        "feodo"
    );
    assert_eq!(set.lists()[1].severity, Severity::High);
}

#[test]
fn every_listed_entry_is_found_in_its_list() {
    let set = IntelSet::load(&shared_lists()).unwrap();
    for (id, config) in shared_lists().iter().enumerate() {
        for net in reference_prefixes(&config.path) {
            for probe in [net.network(), net.broadcast()] {
                let found = set
                    .lookup(probe)
                    .unwrap_or_else(|| panic!("{probe} ({net}) of {} not found", config.name));
                assert!(
                    found.list_ids().iter().any(|l| usize::from(l.0) == id),
                    "{probe} ({net}) not attributed to {}",
                    config.name
                );
                assert!(found.prefix().prefix_len() >= net.prefix_len());
            }
        }
    }
}

#[test]
fn random_addresses_agree_with_a_linear_scan() {
    let configs = shared_lists();
    let set = IntelSet::load(&configs).unwrap();
    let reference: Vec<(usize, IpNet)> = configs
        .iter()
        .enumerate()
        .flat_map(|(id, c)| {
            reference_prefixes(&c.path)
                .into_iter()
                .map(move |n| (id, n))
        })
        .collect();
    let listed: Vec<IpAddr> = reference.iter().map(|(_, n)| n.network()).collect();
    let mut rng = StdRng::seed_from_u64(2016);
    let (mut members, mut non_members) = (0, 0);
    for i in 0..20_000 {
        // Half uniformly random, half next to a listed address (edges of prefixes).
        let probe = if i % 2 == 0 {
            IpAddr::V4(Ipv4Addr::from(rng.random::<u32>()))
        } else {
            let IpAddr::V4(base) = listed[rng.random_range(0..listed.len())] else {
                unreachable!("the snapshots are IPv4")
            };
            let offset = rng.random_range(-2i64..=2);
            IpAddr::V4(Ipv4Addr::from(
                (i64::from(u32::from(base)) + offset).clamp(0, u32::MAX.into()) as u32,
            ))
        };
        let covering: Vec<&(usize, IpNet)> = reference
            .iter()
            .filter(|(_, n)| n.contains(&probe))
            .collect();
        let mut want_ids: Vec<usize> = covering.iter().map(|(id, _)| *id).collect();
        want_ids.sort_unstable();
        want_ids.dedup();
        let want_len = covering.iter().map(|(_, n)| n.prefix_len()).max();
        match set.lookup(probe) {
            Some(found) => {
                members += 1;
                let got: Vec<usize> = found.list_ids().iter().map(|l| usize::from(l.0)).collect();
                assert_eq!(got, want_ids, "{probe}");
                assert_eq!(Some(found.prefix().prefix_len()), want_len, "{probe}");
                assert!(found.prefix().contains(&probe));
            }
            None => {
                non_members += 1;
                assert!(covering.is_empty(), "{probe} missed; in {covering:?}");
            }
        }
    }
    assert!(
        members > 1_000 && non_members > 1_000,
        "{members} / {non_members}"
    );
}

#[test]
fn known_members_and_non_members() {
    let set = IntelSet::load(&shared_lists()).unwrap();
    // From the files: a TOR exit, a Feodo C2, an SSLBL host, a bogon /14.
    assert!(set.is_tor_exit(ip("2.24.162.92")));
    assert!(set.is_tor_exit(ip("::ffff:5.9.110.4")));
    let c2 = set.lookup(ip("5.2.164.38")).unwrap();
    assert!(c2.has_category(ListCategory::Malicious) && !c2.has_category(ListCategory::Tor));
    assert_eq!(c2.max_severity(), Some(Severity::High));
    let ssl = set.lookup(ip("2.89.220.124")).unwrap();
    assert_eq!(
        ssl.lists().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["sslbl"]
    );
    let bogon = set.lookup(ip("2.57.1.2")).unwrap();
    assert_eq!(bogon.prefix(), "2.56.0.0/14".parse::<IpNet>().unwrap());
    assert_eq!(bogon.max_severity(), Some(Severity::Low));
    // Not listed anywhere.
    for clean in [
        "8.8.8.8",
        "1.1.1.1",
        "2.24.162.93",
        "5.2.164.39",
        "2001:db8::1",
    ] {
        assert!(set.lookup(ip(clean)).is_none(), "{clean}");
        assert!(!set.is_tor_exit(ip(clean)), "{clean}");
    }
}

#[test]
fn tordnsel_exit_addresses_fixture() {
    let mut tor = IntelListConfig::new("tor_dnsel", fixture("exit-addresses"), ListCategory::Tor);
    tor.format = ListFormat::Auto;
    let set = IntelSet::load(&[tor]).unwrap();
    let info = &set.lists()[0];
    assert_eq!(info.format, ListFormat::TorExitAddresses);
    assert_eq!(info.prefixes, 4);
    assert_eq!(info.skipped_lines, 1);
    let error = info.line_errors[0].to_string();
    assert!(
        error.ends_with("exit-addresses:18: ExitAddress: \"not.an.ip.address\": not an IP address"),
        "{error}"
    );
    for exit in [
        "162.247.74.201",
        "185.220.101.33",
        "185.220.101.34",
        "2a0b:f4c2::1",
    ] {
        assert!(set.is_tor_exit(ip(exit)), "{exit}");
    }
    assert!(!set.is_tor_exit(ip("185.220.101.35")));
    assert!(!set.is_tor_exit(ip("2a0b:f4c2::2")));
}

#[test]
fn nested_cidrs_and_ipv6_from_a_netset_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("custom.netset");
    std::fs::write(
        &path,
        "# custom\n10.0.0.0/8\n10.20.0.0/16\n10.20.30.0/24\n10.20.30.40\n\
         2001:db8::/32\n2001:db8:aa::/48\n2001:db8:aa:bb::1\n",
    )
    .unwrap();
    let set =
        IntelSet::load(&[IntelListConfig::new("custom", &path, ListCategory::Custom)]).unwrap();
    let prefix = |s: &str| set.lookup(ip(s)).map(|m| m.prefix().to_string());
    assert_eq!(prefix("10.20.30.40").as_deref(), Some("10.20.30.40/32"));
    assert_eq!(prefix("10.20.30.41").as_deref(), Some("10.20.30.0/24"));
    assert_eq!(prefix("10.20.31.1").as_deref(), Some("10.20.0.0/16"));
    assert_eq!(prefix("10.21.0.0").as_deref(), Some("10.0.0.0/8"));
    assert_eq!(prefix("11.0.0.0"), None);
    assert_eq!(
        prefix("2001:db8:aa:bb::1").as_deref(),
        Some("2001:db8:aa:bb::1/128")
    );
    assert_eq!(
        prefix("2001:db8:aa:bb::2").as_deref(),
        Some("2001:db8:aa::/48")
    );
    assert_eq!(prefix("2001:db8:ab::").as_deref(), Some("2001:db8::/32"));
    assert_eq!(prefix("2001:db9::"), None);
}

#[test]
fn a_missing_file_is_an_error_naming_list_and_path() {
    let lists = [IntelListConfig::new(
        "gone",
        "/nonexistent/gone.ipset",
        ListCategory::Malicious,
    )];
    let err = IntelSet::load(&lists).unwrap_err();
    assert!(matches!(err, EnrichError::ReadList { .. }));
    let message = err.to_string();
    assert!(
        message.starts_with("intel list \"gone\": cannot read /nonexistent/gone.ipset: "),
        "{message}"
    );
}

#[test]
fn a_config_file_drives_the_enricher() {
    let toml = format!(
        r#"
        [[lists]]
        name = "tor_exits"
        path = "{dir}/tor_exits.ipset"
        category = "tor"

        [[lists]]
        name = "feodo"
        path = "{dir}/feodo.ipset"
        format = "netset"
        category = "malicious"
        "#,
        dir = ipsets().display()
    );
    let config: EnrichConfig = toml::from_str(&toml).unwrap();
    let enricher = gw_enrich::Enricher::from_config(&config).unwrap();
    let e = enricher.enrichment_for(ip("5.2.164.38"));
    assert_eq!(e.intel_lists, ["feodo"]);
    assert!(!e.tor_exit);
    let e = enricher.enrichment_for(ip("2.24.162.92"));
    assert_eq!(e.intel_lists, ["tor_exits"]);
    assert!(e.tor_exit);
}
