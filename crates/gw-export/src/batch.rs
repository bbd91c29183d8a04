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

/// Bodies of [`pack_indexed`]: each with the positions of the records it holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexedBodies {
    /// `(record positions, body)`, in order.
    pub bodies: Vec<(Vec<usize>, Vec<u8>)>,
    /// `(position, framed size)` of records that alone exceed the limit and are in no body.
    pub oversized: Vec<(usize, usize)>,
}

/// Like [`pack_bodies`], for senders that must know which records each body carries (to retry
/// or dead-letter them): records that alone exceed `limit` are set aside instead of failing the
/// whole set.
pub fn pack_indexed(records: &[Vec<u8>], shape: BodyShape, limit: usize) -> IndexedBodies {
    let frame = shape.open.len() + shape.close.len();
    let mut out = IndexedBodies::default();
    let mut current: Vec<u8> = Vec::new();
    let mut members: Vec<usize> = Vec::new();
    for (position, record) in records.iter().enumerate() {
        if frame + record.len() > limit {
            out.oversized.push((position, frame + record.len()));
            continue;
        }
        let grown = current.len() + shape.separator.len() + record.len() + shape.close.len();
        if !members.is_empty() && grown > limit {
            current.extend_from_slice(shape.close);
            out.bodies
                .push((std::mem::take(&mut members), std::mem::take(&mut current)));
        }
        if members.is_empty() {
            current.extend_from_slice(shape.open);
        } else {
            current.extend_from_slice(shape.separator);
        }
        current.extend_from_slice(record);
        members.push(position);
    }
    if !members.is_empty() {
        current.extend_from_slice(shape.close);
        out.bodies.push((members, current));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexed_packing_matches_pack_bodies_and_sets_oversized_aside() {
        let sizes = [3, 3, 20, 3, 3];
        let recs: Vec<Vec<u8>> = records(&sizes).into_iter().map(|(_, r)| r).collect();
        let packed = pack_indexed(&recs, BodyShape::JSON_ARRAY, 9);
        assert_eq!(packed.oversized, vec![(2, 22)]);
        assert_eq!(
            packed.bodies,
            vec![
                (vec![0, 1], b"[xxx,xxx]".to_vec()),
                (vec![3, 4], b"[xxx,xxx]".to_vec())
            ]
        );
        let without: Vec<(&str, Vec<u8>)> = records(&[3, 3, 3, 3]);
        let plain = pack_bodies(without, BodyShape::JSON_ARRAY, 9, "t").unwrap();
        let bodies: Vec<Vec<u8>> = pack_indexed(
            &[
                recs[0].clone(),
                recs[1].clone(),
                recs[3].clone(),
                recs[4].clone(),
            ],
            BodyShape::JSON_ARRAY,
            9,
        )
        .bodies
        .into_iter()
        .map(|(_, b)| b)
        .collect();
        assert_eq!(bodies, plain);
    }

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
