//! Size-bounded request bodies: packs serialized records into as few bodies as fit a sink's
//! per-request limit, in order, never dropping one.

use crate::{ExportError, Result};

/// How records are joined into one body: `open`, records separated by `separator`, `close`.
/// A JSON array is `("[", ",", "]")`; Splunk HEC batches are `("", "", "")`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyShape {
    pub open: &'static [u8],
    pub separator: &'static [u8],
    pub close: &'static [u8],
}

impl BodyShape {
    /// `[a,b,c]`.
    pub const JSON_ARRAY: BodyShape = BodyShape {
        open: b"[",
        separator: b",",
        close: b"]",
    };
    /// `abc` (concatenated objects).
    pub const CONCATENATED: BodyShape = BodyShape {
        open: b"",
        separator: b"",
        close: b"",
    };
    /// `a\nb\nc\n` (NDJSON; each record already ends its own line).
    pub const LINES: BodyShape = BodyShape::CONCATENATED;
}

/// Packs `(finding id, serialized record)` pairs into bodies of at most `limit` bytes each,
/// keeping order. A record that alone exceeds the limit is an error naming its finding.
pub fn pack_bodies<'a, I>(
    records: I,
    shape: BodyShape,
    limit: usize,
    format: &'static str,
) -> Result<Vec<Vec<u8>>>
where
    I: IntoIterator<Item = (&'a str, Vec<u8>)>,
{
    let frame = shape.open.len() + shape.close.len();
    let mut bodies = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut in_current = 0usize;
    for (finding_id, record) in records {
        let alone = frame + record.len();
        if alone > limit {
            return Err(ExportError::RecordTooLarge {
                finding_id: finding_id.to_string(),
                format,
                size: alone,
                limit,
            });
        }
        let grown = current.len() + shape.separator.len() + record.len() + shape.close.len();
        if in_current > 0 && grown > limit {
            current.extend_from_slice(shape.close);
            bodies.push(std::mem::take(&mut current));
            in_current = 0;
        }
        if in_current == 0 {
            current.extend_from_slice(shape.open);
        } else {
            current.extend_from_slice(shape.separator);
        }
        current.extend_from_slice(&record);
        in_current += 1;
    }
    if in_current > 0 {
        current.extend_from_slice(shape.close);
        bodies.push(current);
    }
    Ok(bodies)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(sizes: &[usize]) -> Vec<(&'static str, Vec<u8>)> {
        sizes.iter().map(|&n| ("f", vec![b'x'; n])).collect()
    }

    #[test]
    fn json_array_bodies_respect_the_limit_and_keep_every_record() {
        let bodies = pack_bodies(records(&[3, 3, 3, 3]), BodyShape::JSON_ARRAY, 9, "t").unwrap();
        // "[xxx,xxx]" is exactly 9 bytes.
        assert_eq!(bodies, vec![b"[xxx,xxx]".to_vec(), b"[xxx,xxx]".to_vec()]);
        let bodies = pack_bodies(records(&[3, 3, 3]), BodyShape::JSON_ARRAY, 8, "t").unwrap();
        assert_eq!(bodies.len(), 3);
        assert!(bodies.iter().all(|b| b.len() <= 8));
    }

    #[test]
    fn oversized_record_names_its_finding() {
        let err = pack_bodies(
            vec![("ok", vec![b'x'; 2]), ("f-big", vec![b'x'; 20])],
            BodyShape::JSON_ARRAY,
            10,
            "sentinel",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("f-big") && err.contains("22 bytes") && err.contains("10-byte"),
            "{err}"
        );
    }

    #[test]
    fn no_records_no_bodies() {
        assert!(
            pack_bodies(records(&[]), BodyShape::CONCATENATED, 10, "t")
                .unwrap()
                .is_empty()
        );
    }
}
