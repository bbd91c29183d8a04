//! Country and ASN lookups against small `.mmdb` files written by the test-only writer in
//! `support/mmdb_writer.rs`, with the field layout of GeoLite2 Country and ASN.

mod support {
    pub mod mmdb_writer;
}

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gw_enrich::{EnrichError, Enricher, GeoIp, GeoIpConfig, IntelHandle, IntelSet};
use gw_model::IpClass;
use support::mmdb_writer::{MmdbWriter, Value, map, s};

fn ip(v: &str) -> IpAddr {
    v.parse().unwrap()
}

fn country(iso: &str) -> Value {
    map(&[
        ("continent", map(&[("code", s("EU"))])),
        (
            "country",
            map(&[
                ("geoname_id", Value::U32(2_921_044)),
                ("iso_code", s(iso)),
                ("names", map(&[("en", s("Somewhere"))])),
            ]),
        ),
        ("registered_country", map(&[("iso_code", s(iso))])),
    ])
}

fn write_databases(dir: &Path) -> (PathBuf, PathBuf) {
    let mut countries = MmdbWriter::new("GeoLite2-Country");
    countries.insert("81.2.0.0/16", &country("GB"));
    countries.insert("81.2.69.0/24", &country("DE"));
    countries.insert("2a02:2e0::/29", &country("DE"));
    // Anycast-style record with only a registered country.
    countries.insert(
        "89.160.20.0/24",
        &map(&[("registered_country", map(&[("iso_code", s("SE"))]))]),
    );
    let country_path = dir.join("country.mmdb");
    std::fs::write(&country_path, countries.finish()).unwrap();

    let mut asns = MmdbWriter::new("GeoLite2-ASN");
    let asn = |n: u32, org: &str| {
        map(&[
            ("autonomous_system_number", Value::U32(n)),
            ("autonomous_system_organization", s(org)),
        ])
    };
    asns.insert("81.2.0.0/16", &asn(20_712, "Andrews & Arnold Ltd"));
    asns.insert("2a02:2e0::/29", &asn(8_881, "1&1 Versatel"));
    let asn_path = dir.join("asn.mmdb");
    std::fs::write(&asn_path, asns.finish()).unwrap();
    (country_path, asn_path)
}

fn open(dir: &Path) -> GeoIp {
    let (country_db, asn_db) = write_databases(dir);
    GeoIp::open(&GeoIpConfig {
        country_db: Some(country_db),
        asn_db: Some(asn_db),
    })
    .unwrap()
}

#[test]
fn country_and_asn_for_ipv4_and_ipv6() {
    let dir = tempfile::tempdir().unwrap();
    let geo = open(dir.path());
    assert_eq!(geo.country(ip("81.2.1.1")), Some("GB"));
    assert_eq!(
        geo.country(ip("81.2.69.160")),
        Some("DE"),
        "the more specific network wins"
    );
    assert_eq!(geo.country(ip("::ffff:81.2.69.160")), Some("DE"));
    assert_eq!(geo.country(ip("2a02:2e0:3fe:1001::1")), Some("DE"));
    assert_eq!(
        geo.country(ip("89.160.20.128")),
        Some("SE"),
        "falls back to registered_country"
    );
    assert_eq!(geo.country(ip("8.8.8.8")), None);
    assert_eq!(geo.country(ip("2001:4860::8888")), None);
    assert_eq!(geo.asn(ip("81.2.69.160")), Some(20_712));
    assert_eq!(geo.asn(ip("2a02:2e0::5")), Some(8_881));
    assert_eq!(geo.asn(ip("89.160.20.128")), None);
    assert_eq!(geo.lookup_errors(), 0);
}

#[test]
fn the_enricher_puts_country_and_asn_on_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let enricher = Enricher::new(
        Arc::new(IntelHandle::fixed(IntelSet::empty())),
        open(dir.path()),
    );
    let e = enricher.enrichment_for(ip("81.2.69.160"));
    assert_eq!(e.country.as_deref(), Some("DE"));
    assert_eq!(e.asn, Some(20_712));
    assert_eq!(e.ip_class, Some(IpClass::Public));
    assert!(e.intel_lists.is_empty() && !e.tor_exit);
    // Private space is not looked up.
    let e = enricher.enrichment_for(ip("10.1.2.3"));
    assert_eq!(
        (e.country, e.asn, e.ip_class),
        (None, None, Some(IpClass::Private))
    );
}

#[test]
fn a_missing_or_corrupt_database_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("GeoLite2-Country.mmdb");
    let err = GeoIp::open(&GeoIpConfig {
        country_db: Some(missing),
        asn_db: None,
    })
    .unwrap_err();
    assert!(matches!(
        err,
        EnrichError::GeoIp {
            role: "country",
            ..
        }
    ));
    assert!(err.to_string().contains("GeoLite2-Country.mmdb"), "{err}");

    let corrupt = dir.path().join("asn.mmdb");
    std::fs::write(&corrupt, b"<html>rate limited</html>").unwrap();
    let err = GeoIp::open(&GeoIpConfig {
        country_db: None,
        asn_db: Some(corrupt),
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("GeoIP ASN database ") && err.contains("asn.mmdb"),
        "{err}"
    );
}

#[test]
fn no_databases_means_no_geo_fields() {
    let geo = GeoIp::open(&GeoIpConfig::default()).unwrap();
    assert!(!geo.is_enabled());
    assert_eq!(geo.country(ip("81.2.69.160")), None);
    assert_eq!(geo.asn(ip("81.2.69.160")), None);
}

#[test]
fn replaced_databases_are_picked_up_by_the_enricher() {
    let dir = tempfile::tempdir().unwrap();
    let enricher = Enricher::new(
        Arc::new(IntelHandle::fixed(IntelSet::empty())),
        open(dir.path()),
    );
    assert!(!enricher.reload_geoip_if_changed().unwrap());
    assert_eq!(
        enricher
            .enrichment_for(ip("81.2.69.160"))
            .country
            .as_deref(),
        Some("DE")
    );

    // A new release moves the network to another country; written aside, renamed over.
    let mut countries = MmdbWriter::new("GeoLite2-Country");
    countries.insert("81.2.0.0/16", &country("FR"));
    let staged = dir.path().join("country.mmdb.new");
    std::fs::write(&staged, countries.finish()).unwrap();
    std::fs::rename(&staged, dir.path().join("country.mmdb")).unwrap();

    assert!(enricher.reload_geoip_if_changed().unwrap());
    assert_eq!(
        enricher
            .enrichment_for(ip("81.2.69.160"))
            .country
            .as_deref(),
        Some("FR")
    );
    assert_eq!(enricher.enrichment_for(ip("81.2.69.160")).asn, Some(20_712));

    // A broken release is refused and the loaded databases stay.
    std::fs::write(dir.path().join("country.mmdb"), b"truncated").unwrap();
    let err = enricher.reload_geoip_if_changed().unwrap_err().to_string();
    assert!(err.contains("country.mmdb"), "{err}");
    assert_eq!(
        enricher
            .enrichment_for(ip("81.2.69.160"))
            .country
            .as_deref(),
        Some("FR")
    );
}
