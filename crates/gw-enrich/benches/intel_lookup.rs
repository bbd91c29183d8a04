//! Build time, memory and lookup rate of `IntelSet` at feed scale: 1 M random IPv4 prefixes and
//! 100 k random IPv6 prefixes over four lists, then lookups of random addresses (about 2 in 5
//! IPv4 probes hit a prefix). The same feed is also loaded into `prefix-trie` maps, the
//! alternative rust-stack.md names, so the choice stays measured. Last, the whole enrich stage on
//! a batch of records.
//!
//! Run: `cargo bench -p gw-enrich --bench intel_lookup`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gw_enrich::{Enricher, GeoIp, IntelHandle, IntelSet, IntelSetBuilder, ListCategory};
use gw_model::{Capture, Exchange, Severity, Source, SourceKind};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;
use rand::{Rng, SeedableRng, rngs::StdRng};

const V4_PREFIXES: usize = 1_000_000;
const V6_PREFIXES: usize = 100_000;
const PROBES: usize = 4096;

/// Resident set size in bytes, from `/proc/self/statm` (Linux); `None` elsewhere.
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn random_v4_prefix(rng: &mut StdRng) -> IpNet {
    // Feeds are mostly single hosts with some networks; this mix covers about 40 % of the
    // address space, so random probes both hit and miss.
    let len = if rng.random_bool(0.75) {
        32
    } else {
        rng.random_range(16..=30)
    };
    IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::from(rng.random::<u32>()), len).trunc())
}

fn random_v6_prefix(rng: &mut StdRng) -> IpNet {
    let len = if rng.random_bool(0.5) {
        128
    } else {
        rng.random_range(19..=64)
    };
    // Global unicast 2000::/3, as real IPv6 feeds are.
    let bits = (rng.random::<u128>() >> 3) | (1u128 << 125);
    IpNet::V6(Ipv6Net::new_assert(Ipv6Addr::from(bits), len).trunc())
}

/// The random feed: `(prefix, list index)`, fixed seed.
fn feed() -> Vec<(IpNet, usize)> {
    let mut rng = StdRng::seed_from_u64(42);
    let mut feed = Vec::with_capacity(V4_PREFIXES + V6_PREFIXES);
    for _ in 0..V4_PREFIXES {
        feed.push((random_v4_prefix(&mut rng), rng.random_range(0..4)));
    }
    for _ in 0..V6_PREFIXES {
        feed.push((random_v6_prefix(&mut rng), rng.random_range(0..4)));
    }
    feed
}

fn build_intel_set(feed: &[(IpNet, usize)]) -> IntelSet {
    let mut builder = IntelSetBuilder::default();
    let lists = [
        builder.add_list("c2", ListCategory::Malicious, Severity::High),
        builder.add_list("tor", ListCategory::Tor, Severity::Medium),
        builder.add_list("scanners", ListCategory::Scanner, Severity::Medium),
        builder.add_list("bogons", ListCategory::Bogon, Severity::Low),
    ];
    builder.reserve(V4_PREFIXES, V6_PREFIXES);
    for (net, list) in feed {
        builder.add_prefix(lists[*list], *net);
    }
    builder.build().expect("the bench set builds")
}

/// The alternative rust-stack.md names: a prefix-trie map per family (value = one list index;
/// unlike `IntelSet` it answers only the most specific prefix's list, not the union).
struct TrieBaseline {
    v4: PrefixMap<Ipv4Net, u16>,
    v6: PrefixMap<Ipv6Net, u16>,
}

impl TrieBaseline {
    fn build(feed: &[(IpNet, usize)]) -> Self {
        let mut trie = TrieBaseline {
            v4: PrefixMap::new(),
            v6: PrefixMap::new(),
        };
        for (net, list) in feed {
            match net {
                IpNet::V4(n) => trie.v4.insert(*n, *list as u16),
                IpNet::V6(n) => trie.v6.insert(*n, *list as u16),
            };
        }
        trie
    }

    fn lookup(&self, ip: IpAddr) -> Option<u16> {
        match ip {
            IpAddr::V4(v4) => self.v4.get_lpm(&Ipv4Net::from(v4)).map(|(_, l)| *l),
            IpAddr::V6(v6) => self.v6.get_lpm(&Ipv6Net::from(v6)).map(|(_, l)| *l),
        }
    }
}

/// Runs `build`, printing its time and RSS growth.
fn measured<T>(what: &str, build: impl FnOnce() -> T) -> T {
    let rss_before = rss_bytes();
    let started = Instant::now();
    let built = build();
    let elapsed = started.elapsed();
    let rss_after = rss_bytes();
    println!(
        "intel_lookup: {what}: built {V4_PREFIXES} IPv4 + {V6_PREFIXES} IPv6 prefixes in {:.3} s \
         ({:.2} M prefixes/s); RSS growth {}",
        elapsed.as_secs_f64(),
        (V4_PREFIXES + V6_PREFIXES) as f64 / elapsed.as_secs_f64() / 1e6,
        match (rss_before, rss_after) {
            (Some(b), Some(a)) => format!("{:.1} MB", a.saturating_sub(b) as f64 / 1e6),
            _ => "n/a".to_string(),
        }
    );
    built
}

fn probes(rng: &mut StdRng) -> (Vec<IpAddr>, Vec<IpAddr>) {
    let v4 = (0..PROBES)
        .map(|_| IpAddr::V4(Ipv4Addr::from(rng.random::<u32>())))
        .collect();
    let v6 = (0..PROBES)
        .map(|_| IpAddr::V6(Ipv6Addr::from((rng.random::<u128>() >> 3) | (1u128 << 125))))
        .collect();
    (v4, v6)
}

fn exchanges(ips: &[IpAddr]) -> Vec<Exchange> {
    ips.iter()
        .map(|ip| {
            let source = Source {
                kind: SourceKind::Native,
                capture: Capture::Frontend,
                gateway: None,
                raw_ref: None,
            };
            let mut x = Exchange::new("id", jiff::Timestamp::UNIX_EPOCH, source, "GET", "/");
            x.client.ip = Some(*ip);
            x
        })
        .collect()
}

fn intel_lookup(c: &mut Criterion) {
    let feed = feed();
    let set = measured("IntelSet", || build_intel_set(&feed));
    let stats = set.stats();
    println!(
        "intel_lookup: IntelSet: {} + {} intervals; tables {:.1} MB",
        stats.intervals_v4,
        stats.intervals_v6,
        stats.heap_bytes as f64 / 1e6
    );
    let trie = measured("prefix-trie baseline", || TrieBaseline::build(&feed));
    drop(feed);

    let mut rng = StdRng::seed_from_u64(7);
    let (v4, v6) = probes(&mut rng);
    let hits = v4.iter().filter(|ip| set.lookup(**ip).is_some()).count();
    let trie_hits = v4.iter().filter(|ip| trie.lookup(**ip).is_some()).count();
    assert_eq!(hits, trie_hits, "both structures agree on membership");
    println!("intel_lookup: {hits} of {PROBES} random IPv4 probes are listed");

    let mut group = c.benchmark_group("intel");
    group.throughput(Throughput::Elements(PROBES as u64));
    group.bench_function("lookup_v4", |b| {
        b.iter(|| {
            v4.iter()
                .filter(|ip| black_box(&set).lookup(**ip).is_some())
                .count()
        })
    });
    group.bench_function("lookup_v6", |b| {
        b.iter(|| {
            v6.iter()
                .filter(|ip| black_box(&set).lookup(**ip).is_some())
                .count()
        })
    });
    group.bench_function("is_tor_exit_v4", |b| {
        b.iter(|| {
            v4.iter()
                .filter(|ip| black_box(&set).is_tor_exit(**ip))
                .count()
        })
    });

    group.bench_function("prefix_trie_baseline_v4", |b| {
        b.iter(|| {
            v4.iter()
                .filter(|ip| black_box(&trie).lookup(**ip).is_some())
                .count()
        })
    });
    group.bench_function("prefix_trie_baseline_v6", |b| {
        b.iter(|| {
            v6.iter()
                .filter(|ip| black_box(&trie).lookup(**ip).is_some())
                .count()
        })
    });
    drop(trie);

    let enricher = Enricher::new(Arc::new(IntelHandle::fixed(set)), GeoIp::default());
    let mut batch = exchanges(&v4);
    group.bench_function("enrich_batch_v4", |b| {
        b.iter(|| enricher.enrich_batch(black_box(&mut batch)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = intel_lookup
}
criterion_main!(benches);
