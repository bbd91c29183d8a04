//! `IntelSet`: every configured IP list merged into one immutable longest-prefix structure.

use std::net::IpAddr;
use std::path::PathBuf;

use gw_model::Severity;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::config::{IntelListConfig, ListCategory, ListFormat, validate_lists};
use crate::error::{EnrichError, LineError};
use crate::format::parse_list;
use crate::reload::FileStamp;
use crate::table::{self, PrefixTable, SetInterner};

/// Index of a list in [`IntelSet::lists`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListId(pub u16);

/// A loaded list: what it is and how loading it went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListInfo {
    pub name: String,
    pub category: ListCategory,
    pub severity: Severity,
    /// File it was read from; `None` for lists added programmatically.
    pub path: Option<PathBuf>,
    /// Format used (`auto` resolved).
    pub format: ListFormat,
    /// Prefixes read (duplicates included).
    pub prefixes: usize,
    /// Lines skipped as unparseable.
    pub skipped_lines: usize,
    /// The first skipped lines with their reasons (`file:line: reason`).
    pub line_errors: Vec<LineError>,
}

/// The answer for an address found in at least one list.
#[derive(Clone, Copy, Debug)]
pub struct IntelMatch<'a> {
    /// The address looked up (IPv4-mapped IPv6 already turned into IPv4).
    ip: IpAddr,
    prefix_len: u8,
    ids: &'a [ListId],
    categories: u8,
    set: &'a IntelSet,
}

impl<'a> IntelMatch<'a> {
    /// The most specific (longest) prefix containing the address, over all lists.
    pub fn prefix(&self) -> IpNet {
        match self.ip {
            IpAddr::V4(v4) => IpNet::V4(Ipv4Net::new_assert(v4, self.prefix_len).trunc()),
            IpAddr::V6(v6) => IpNet::V6(Ipv6Net::new_assert(v6, self.prefix_len).trunc()),
        }
    }

    /// Ids of every list that contains the address (through any of its prefixes), ascending.
    pub fn list_ids(&self) -> &'a [ListId] {
        self.ids
    }

    /// Every list that contains the address, in configuration order.
    pub fn lists(&self) -> impl ExactSizeIterator<Item = &'a ListInfo> + 'a {
        let set = self.set;
        self.ids.iter().map(move |id| set.list(*id))
    }

    /// Whether any list of this category contains the address.
    pub fn has_category(&self, category: ListCategory) -> bool {
        self.categories & category.bit() != 0
    }

    /// Lists of one category that contain the address.
    pub fn lists_in(&self, category: ListCategory) -> impl Iterator<Item = &'a ListInfo> + 'a {
        self.lists().filter(move |l| l.category == category)
    }

    /// The highest severity among the containing lists.
    pub fn max_severity(&self) -> Option<Severity> {
        self.lists().map(|l| l.severity).max()
    }
}

/// All lists merged into one immutable structure. Cheap to share (`Arc`), swapped whole on reload
/// (see [`crate::IntelHandle`]).
#[derive(Debug, Default)]
pub struct IntelSet {
    lists: Vec<ListInfo>,
    sets: Vec<Box<[ListId]>>,
    /// Category bits of each interned set.
    set_categories: Vec<u8>,
    v4: PrefixTable<u32>,
    v6: PrefixTable<u128>,
    pub(crate) stamps: Vec<FileStamp>,
}

impl IntelSet {
    /// A set with no lists: every lookup answers `None`.
    pub fn empty() -> Self {
        IntelSet::default()
    }

    /// Reads and merges the configured lists. A missing or unreadable file is an error naming
    /// it; bad lines are skipped and reported in [`ListInfo::line_errors`].
    pub fn load(configs: &[IntelListConfig]) -> Result<IntelSet, EnrichError> {
        validate_lists(configs)?;
        let mut builder = IntelSetBuilder::default();
        let mut stamps = Vec::with_capacity(configs.len());
        for config in configs {
            let read_error = |source| EnrichError::ReadList {
                name: config.name.clone(),
                path: config.path.clone(),
                source,
            };
            // Stamp before reading: a write racing the read then shows up at the next poll.
            let stamp = FileStamp::of(&config.path).map_err(read_error)?;
            let bytes = std::fs::read(&config.path).map_err(read_error)?;
            stamps.push(stamp);
            let text = String::from_utf8_lossy(&bytes);
            let id = builder.add_list(&config.name, config.category, config.effective_severity());
            let info = &mut builder.lists[usize::from(id.0)];
            info.path = Some(config.path.clone());
            let outcome = parse_list(&text, config.format, &config.path, |net| {
                builder_push(&mut builder.v4, &mut builder.v6, id, net);
            });
            let info = &mut builder.lists[usize::from(id.0)];
            info.format = outcome.format;
            info.prefixes = outcome.prefixes;
            info.skipped_lines = outcome.skipped;
            info.line_errors = outcome.errors;
        }
        let mut set = builder.build()?;
        set.stamps = stamps;
        Ok(set)
    }

    /// Lists containing `ip` and the most specific matching prefix; `None` when no list does.
    /// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are looked up as IPv4.
    #[inline]
    pub fn lookup(&self, ip: IpAddr) -> Option<IntelMatch<'_>> {
        let ip = ip.to_canonical();
        let hit = match ip {
            IpAddr::V4(v4) => self.v4.lookup(u32::from(v4))?,
            IpAddr::V6(v6) => self.v6.lookup(u128::from(v6))?,
        };
        let set = hit.set as usize;
        Some(IntelMatch {
            ip,
            prefix_len: hit.prefix_len,
            ids: self.sets.get(set).map_or(&[], |s| s),
            categories: self.set_categories.get(set).copied().unwrap_or(0),
            set: self,
        })
    }

    /// Whether any list of `category` contains `ip`. No allocation, no prefix construction.
    #[inline]
    pub fn contains_category(&self, ip: IpAddr, category: ListCategory) -> bool {
        let hit = match ip.to_canonical() {
            IpAddr::V4(v4) => self.v4.lookup(u32::from(v4)),
            IpAddr::V6(v6) => self.v6.lookup(u128::from(v6)),
        };
        hit.and_then(|h| self.set_categories.get(h.set as usize))
            .is_some_and(|bits| bits & category.bit() != 0)
    }

    /// Whether a `tor` list contains `ip`.
    #[inline]
    pub fn is_tor_exit(&self, ip: IpAddr) -> bool {
        self.contains_category(ip, ListCategory::Tor)
    }

    /// The loaded lists, indexed by [`ListId`].
    pub fn lists(&self) -> &[ListInfo] {
        &self.lists
    }

    /// One list. Panics only if `id` did not come from this set.
    pub fn list(&self, id: ListId) -> &ListInfo {
        &self.lists[usize::from(id.0)]
    }

    /// A list by name, e.g. to map `Enrichment::intel_lists` back to category and severity.
    pub fn list_by_name(&self, name: &str) -> Option<(ListId, &ListInfo)> {
        self.lists
            .iter()
            .enumerate()
            .find(|(_, l)| l.name == name)
            .map(|(i, l)| (ListId(i as u16), l))
    }

    /// Size figures for logs and `gatewatch config show`.
    pub fn stats(&self) -> IntelStats {
        IntelStats {
            lists: self.lists.len(),
            prefixes: self.lists.iter().map(|l| l.prefixes).sum(),
            skipped_lines: self.lists.iter().map(|l| l.skipped_lines).sum(),
            intervals_v4: self.v4.intervals(),
            intervals_v6: self.v6.intervals(),
            heap_bytes: self.v4.heap_bytes() + self.v6.heap_bytes(),
        }
    }
}

/// Size of a loaded [`IntelSet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntelStats {
    pub lists: usize,
    pub prefixes: usize,
    pub skipped_lines: usize,
    /// Elementary address intervals (covered runs and gaps) in the IPv4 / IPv6 tables.
    pub intervals_v4: usize,
    pub intervals_v6: usize,
    /// Heap bytes of the lookup tables.
    pub heap_bytes: usize,
}

/// Builds an [`IntelSet`] from lists and prefixes given in code (tests, benches, lists fetched
/// by other means).
#[derive(Debug, Default)]
pub struct IntelSetBuilder {
    lists: Vec<ListInfo>,
    v4: Vec<(u32, u8, ListId)>,
    v6: Vec<(u128, u8, ListId)>,
}

impl IntelSetBuilder {
    /// Registers a list and returns its id. Ids are assigned in call order.
    pub fn add_list(&mut self, name: &str, category: ListCategory, severity: Severity) -> ListId {
        let id = ListId(u16::try_from(self.lists.len()).unwrap_or(u16::MAX));
        self.lists.push(ListInfo {
            name: name.to_string(),
            category,
            severity,
            path: None,
            format: ListFormat::Plain,
            prefixes: 0,
            skipped_lines: 0,
            line_errors: Vec::new(),
        });
        id
    }

    /// Adds a prefix (host bits are cleared) to list `id`.
    pub fn add_prefix(&mut self, id: ListId, net: IpNet) {
        if let Some(info) = self.lists.get_mut(usize::from(id.0)) {
            info.prefixes += 1;
        }
        builder_push(&mut self.v4, &mut self.v6, id, net);
    }

    /// Pre-sizes the prefix buffers.
    pub fn reserve(&mut self, v4: usize, v6: usize) {
        self.v4.reserve(v4);
        self.v6.reserve(v6);
    }

    pub fn build(self) -> Result<IntelSet, EnrichError> {
        if self.lists.len() > usize::from(u16::MAX) {
            return Err(EnrichError::Build {
                reason: format!(
                    "{} lists; at most {} are supported",
                    self.lists.len(),
                    u16::MAX
                ),
            });
        }
        let mut interner = SetInterner::default();
        let to_build = |e: table::TableError| EnrichError::Build {
            reason: e.to_string(),
        };
        let v4 = table::build(self.v4, &mut interner).map_err(to_build)?;
        let v6 = table::build(self.v6, &mut interner).map_err(to_build)?;
        let set_categories = interner
            .sets
            .iter()
            .map(|ids| {
                ids.iter().fold(0u8, |bits, id| {
                    bits | self.lists[usize::from(id.0)].category.bit()
                })
            })
            .collect();
        Ok(IntelSet {
            lists: self.lists,
            sets: interner.sets,
            set_categories,
            v4,
            v6,
            stamps: Vec::new(),
        })
    }
}

fn builder_push(
    v4: &mut Vec<(u32, u8, ListId)>,
    v6: &mut Vec<(u128, u8, ListId)>,
    id: ListId,
    net: IpNet,
) {
    match net.trunc() {
        IpNet::V4(n) => v4.push((u32::from(n.network()), n.prefix_len(), id)),
        IpNet::V6(n) => v6.push((u128::from(n.network()), n.prefix_len(), id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn sample() -> IntelSet {
        let mut b = IntelSetBuilder::default();
        let bogons = b.add_list("bogons", ListCategory::Bogon, Severity::Low);
        let c2 = b.add_list("c2", ListCategory::Malicious, Severity::High);
        let tor = b.add_list("tor", ListCategory::Tor, Severity::Medium);
        b.add_prefix(bogons, net("100.64.0.0/10"));
        b.add_prefix(c2, net("100.64.1.0/24"));
        b.add_prefix(c2, net("198.51.100.7/32"));
        b.add_prefix(tor, net("198.51.100.7/32"));
        b.add_prefix(tor, net("2001:db8:77::/48"));
        b.build().unwrap()
    }

    #[test]
    fn lookup_reports_the_longest_prefix_and_every_list() {
        let set = sample();
        let m = set.lookup(ip("100.64.1.9")).unwrap();
        assert_eq!(m.prefix(), net("100.64.1.0/24"));
        let names: Vec<&str> = m.lists().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["bogons", "c2"]);
        assert!(m.has_category(ListCategory::Malicious) && !m.has_category(ListCategory::Tor));
        assert_eq!(m.max_severity(), Some(Severity::High));

        let m = set.lookup(ip("100.65.0.1")).unwrap();
        assert_eq!(m.prefix(), net("100.64.0.0/10"));
        assert_eq!(m.lists().len(), 1);
        assert!(set.lookup(ip("100.128.0.0")).is_none());
    }

    #[test]
    fn tor_membership_for_v4_v6_and_mapped_addresses() {
        let set = sample();
        assert!(set.is_tor_exit(ip("198.51.100.7")));
        assert!(set.is_tor_exit(ip("::ffff:198.51.100.7")));
        assert!(set.is_tor_exit(ip("2001:db8:77:1::1")));
        assert!(!set.is_tor_exit(ip("2001:db8:78::1")));
        assert!(!set.is_tor_exit(ip("100.64.1.9")));
        let m = set.lookup(ip("2001:db8:77:1::1")).unwrap();
        assert_eq!(m.prefix(), net("2001:db8:77::/48"));
        assert_eq!(m.lists_in(ListCategory::Tor).count(), 1);
    }

    #[test]
    fn lists_are_found_by_name() {
        let set = sample();
        let (id, info) = set.list_by_name("c2").unwrap();
        assert_eq!((id, info.category), (ListId(1), ListCategory::Malicious));
        assert!(set.list_by_name("nope").is_none());
    }

    #[test]
    fn the_empty_set_matches_nothing() {
        let set = IntelSet::empty();
        assert!(set.lookup(ip("1.1.1.1")).is_none());
        assert!(!set.is_tor_exit(ip("::1")));
        assert_eq!(set.stats().lists, 0);
    }
}
