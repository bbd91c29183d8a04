//! A tiny MaxMind DB (format 2.0) writer for tests: an IPv6 search tree with 24-bit records,
//! a data section and the metadata section after the `\xAB\xCD\xEFMaxMind.com` marker.
//! IPv4 networks live at `::a.b.c.d/(96+n)`, as in MaxMind's own databases.
//! Spec: <https://maxmind.github.io/MaxMind-DB/>.

use std::net::IpAddr;

/// A value of the MaxMind DB data section (the subset tests need).
#[derive(Clone, Debug)]
pub enum Value {
    Str(String),
    U16(u16),
    U32(u32),
    U64(u64),
    Map(Vec<(String, Value)>),
    Array(Vec<Value>),
}

pub fn map(entries: &[(&str, Value)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect(),
    )
}

pub fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

#[derive(Clone, Copy)]
enum Record {
    Empty,
    Node(usize),
    Data(usize),
}

pub struct MmdbWriter {
    database_type: String,
    nodes: Vec<[Record; 2]>,
    data: Vec<u8>,
}

impl MmdbWriter {
    pub fn new(database_type: &str) -> Self {
        MmdbWriter {
            database_type: database_type.to_string(),
            nodes: vec![[Record::Empty, Record::Empty]],
            data: Vec::new(),
        }
    }

    /// Maps a network to a value. Insert less specific networks first; a later, more specific
    /// insert splits them. (Enough for tests; not a general-purpose writer.)
    pub fn insert(&mut self, network: &str, value: &Value) {
        let (addr, len) = network.split_once('/').expect("CIDR");
        let addr: IpAddr = addr.parse().expect("IP");
        let len: usize = len.parse().expect("prefix length");
        let (bits, depth) = match addr {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 96 + len),
            IpAddr::V6(v6) => (u128::from(v6), len),
        };
        let offset = self.data.len();
        encode(value, &mut self.data);
        let mut node = 0;
        for i in 0..depth {
            let bit = ((bits >> (127 - i)) & 1) as usize;
            if i + 1 == depth {
                self.nodes[node][bit] = Record::Data(offset);
                break;
            }
            node = match self.nodes[node][bit] {
                Record::Node(next) => next,
                inherited => {
                    // Split: the new node inherits what the record pointed to.
                    self.nodes.push([inherited, inherited]);
                    let next = self.nodes.len() - 1;
                    self.nodes[node][bit] = Record::Node(next);
                    next
                }
            };
        }
    }

    pub fn finish(self) -> Vec<u8> {
        let node_count = self.nodes.len();
        let record = |r: Record| -> u32 {
            match r {
                Record::Empty => node_count as u32,
                Record::Node(i) => i as u32,
                Record::Data(offset) => (node_count + 16 + offset) as u32,
            }
        };
        let mut out = Vec::new();
        for [left, right] in &self.nodes {
            out.extend_from_slice(&record(*left).to_be_bytes()[1..]);
            out.extend_from_slice(&record(*right).to_be_bytes()[1..]);
        }
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
        let metadata = map(&[
            ("binary_format_major_version", Value::U16(2)),
            ("binary_format_minor_version", Value::U16(0)),
            ("build_epoch", Value::U64(1_700_000_000)),
            ("database_type", s(&self.database_type)),
            ("description", map(&[("en", s("Gatewatch test database"))])),
            ("ip_version", Value::U16(6)),
            ("languages", Value::Array(vec![s("en")])),
            ("node_count", Value::U32(node_count as u32)),
            ("record_size", Value::U16(24)),
        ]);
        encode(&metadata, &mut out);
        out
    }
}

/// Control byte(s): type in the top 3 bits (extended types > 7 in a following byte), then the
/// payload size with the 29/30/31 escapes.
fn control(type_id: u8, size: usize, out: &mut Vec<u8>) {
    let (size_bits, extra): (u8, Vec<u8>) = match size {
        0..=28 => (size as u8, vec![]),
        29..=284 => (29, vec![(size - 29) as u8]),
        285..=65_820 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        _ => (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec()),
    };
    if type_id <= 7 {
        out.push(type_id << 5 | size_bits);
    } else {
        out.push(size_bits);
        out.push(type_id - 7);
    }
    out.extend_from_slice(&extra);
}

fn uint(type_id: u8, v: u64, out: &mut Vec<u8>) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    control(type_id, 8 - skip, out);
    out.extend_from_slice(&bytes[skip..]);
}

fn encode(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Str(v) => {
            control(2, v.len(), out);
            out.extend_from_slice(v.as_bytes());
        }
        Value::U16(v) => uint(5, u64::from(*v), out),
        Value::U32(v) => uint(6, u64::from(*v), out),
        Value::U64(v) => uint(9, *v, out),
        Value::Map(entries) => {
            control(7, entries.len(), out);
            for (k, v) in entries {
                encode(&Value::Str(k.clone()), out);
                encode(v, out);
            }
        }
        Value::Array(items) => {
            control(11, items.len(), out);
            for item in items {
                encode(item, out);
            }
        }
    }
}
