//! `Enricher`: fills `Exchange::enrich` from the actor IP.

use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};
use gw_model::{Enrichment, Exchange, IpClass};

use crate::config::{EnrichConfig, ListCategory};
use crate::error::EnrichError;
use crate::geoip::GeoIp;
use crate::intel::IntelSet;
use crate::ip_class::ip_class;
use crate::reload::IntelHandle;

/// The enrich stage: IP class, intel lists, TOR, country and ASN for each record's
/// [`Exchange::actor_ip`].
///
/// Share one `Enricher` (it is `Sync`) across workers. Intel lists reload through
/// [`Enricher::intel`], the GeoIP databases through [`Enricher::reload_geoip_if_changed`] /
/// [`Enricher::reload_geoip`]; both swap atomically while batches are being enriched.
#[derive(Debug)]
pub struct Enricher {
    intel: Arc<IntelHandle>,
    geoip: ArcSwap<GeoIp>,
}

impl Enricher {
    /// Loads lists and databases from the configuration.
    pub fn from_config(config: &EnrichConfig) -> Result<Enricher, EnrichError> {
        config.validate()?;
        Ok(Enricher {
            intel: Arc::new(IntelHandle::load(config.lists.clone())?),
            geoip: ArcSwap::from_pointee(GeoIp::open(&config.geoip)?),
        })
    }

    pub fn new(intel: Arc<IntelHandle>, geoip: GeoIp) -> Enricher {
        Enricher {
            intel,
            geoip: ArcSwap::from_pointee(geoip),
        }
    }

    /// The reloadable intel set.
    pub fn intel(&self) -> &Arc<IntelHandle> {
        &self.intel
    }

    /// The current GeoIP databases.
    pub fn geoip(&self) -> Guard<Arc<GeoIp>> {
        self.geoip.load()
    }

    /// Reopens the GeoIP databases from the same paths and swaps them in. On error the previous
    /// databases stay in use.
    pub fn reload_geoip(&self) -> Result<(), EnrichError> {
        let reopened = GeoIp::open(&self.geoip.load().config())?;
        self.geoip.store(Arc::new(reopened));
        Ok(())
    }

    /// Reopens the GeoIP databases if a file changed on disk; returns whether it did. Costs one
    /// `stat` per database when nothing changed.
    pub fn reload_geoip_if_changed(&self) -> Result<bool, EnrichError> {
        if !self.geoip.load().changed_on_disk() {
            return Ok(false);
        }
        self.reload_geoip().map(|()| true)
    }

    /// Enriches a batch against one snapshot of the intel set (one atomic load per batch).
    pub fn enrich_batch(&self, batch: &mut [Exchange]) {
        let (intel, geoip) = (self.intel.current(), self.geoip.load());
        for exchange in batch {
            enrich_with(&intel, &geoip, exchange);
        }
    }

    /// Enriches one record. Prefer [`Enricher::enrich_batch`] on the hot path.
    pub fn enrich(&self, exchange: &mut Exchange) {
        enrich_with(&self.intel.current(), &self.geoip.load(), exchange);
    }

    /// The enrichment of one address. Allocates only for what matched (country code, list
    /// names).
    pub fn enrichment_for(&self, ip: IpAddr) -> Enrichment {
        let mut out = Enrichment::default();
        fill(&self.intel.current(), &self.geoip.load(), ip, &mut out);
        out
    }
}

fn enrich_with(intel: &IntelSet, geoip: &GeoIp, exchange: &mut Exchange) {
    let Some(ip) = exchange.actor_ip() else {
        return;
    };
    // Reuse an existing value (and its list-name buffer) instead of replacing it.
    let enrich = exchange.enrich.get_or_insert_with(Enrichment::default);
    fill(intel, geoip, ip, enrich);
}

fn fill(intel: &IntelSet, geoip: &GeoIp, ip: IpAddr, out: &mut Enrichment) {
    let class = ip_class(ip);
    out.ip_class = Some(class);
    out.intel_lists.clear();
    out.tor_exit = false;
    if let Some(found) = intel.lookup(ip) {
        out.tor_exit = found.has_category(ListCategory::Tor);
        out.intel_lists
            .extend(found.lists().map(|list| list.name.clone()));
    }
    // Private and reserved space has no country or ASN; skip the database walk.
    if class == IpClass::Public && geoip.is_enabled() {
        let country = geoip.country(ip);
        if out.country.as_deref() != country {
            out.country = country.map(str::to_owned);
        }
        out.asn = geoip.asn(ip);
    } else {
        out.country = None;
        out.asn = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::IntelSetBuilder;
    use gw_model::{Capture, Severity, Source, SourceKind};

    fn exchange(ip: &str) -> Exchange {
        let source = Source {
            kind: SourceKind::Native,
            capture: Capture::Frontend,
            gateway: None,
            raw_ref: None,
        };
        let mut x = Exchange::new("id", jiff::Timestamp::UNIX_EPOCH, source, "GET", "/");
        x.client.ip = Some(ip.parse().unwrap());
        x
    }

    fn enricher() -> Enricher {
        let mut b = IntelSetBuilder::default();
        let tor = b.add_list("tor_exits", ListCategory::Tor, Severity::Medium);
        let c2 = b.add_list("feodo", ListCategory::Malicious, Severity::High);
        b.add_prefix(tor, "185.220.101.0/24".parse().unwrap());
        b.add_prefix(c2, "185.220.101.7/32".parse().unwrap());
        Enricher::new(
            Arc::new(IntelHandle::fixed(b.build().unwrap())),
            GeoIp::default(),
        )
    }

    #[test]
    fn a_batch_gets_class_lists_and_tor() {
        let e = enricher();
        let mut batch = vec![
            exchange("185.220.101.7"),
            exchange("10.0.0.1"),
            exchange("8.8.8.8"),
        ];
        batch[1].client.resolved_ip = Some("185.220.101.9".parse().unwrap());
        e.enrich_batch(&mut batch);
        let hit = batch[0].enrich.as_ref().unwrap();
        assert_eq!(hit.intel_lists, ["tor_exits", "feodo"]);
        assert!(hit.tor_exit);
        assert_eq!(hit.ip_class, Some(IpClass::Public));
        // the resolved client IP, not the proxy, is the actor
        let resolved = batch[1].enrich.as_ref().unwrap();
        assert_eq!(resolved.intel_lists, ["tor_exits"]);
        let clean = batch[2].enrich.as_ref().unwrap();
        assert!(clean.intel_lists.is_empty() && !clean.tor_exit);
        assert_eq!(clean.country, None);
    }

    #[test]
    fn re_enriching_replaces_stale_values() {
        let e = enricher();
        let mut x = exchange("185.220.101.7");
        e.enrich(&mut x);
        x.client.ip = Some("192.168.1.1".parse().unwrap());
        e.enrich(&mut x);
        let enrich = x.enrich.unwrap();
        assert!(enrich.intel_lists.is_empty() && !enrich.tor_exit);
        assert_eq!(enrich.ip_class, Some(IpClass::Private));
    }

    #[test]
    fn a_record_without_an_ip_is_left_alone() {
        let e = enricher();
        let mut x = exchange("1.1.1.1");
        x.client.ip = None;
        e.enrich(&mut x);
        assert_eq!(x.enrich, None);
    }
}
