//! The `specs` table: imported API descriptions as source text.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension};

use crate::error::Result;
use crate::sqlite::Ctx;
use crate::store::StoredSpec;

pub(super) fn save(conn: &Connection, location: &str, spec: &StoredSpec) -> Result<bool> {
    let cx = Ctx::new(location, "save_spec");
    if spec.name.trim().is_empty() {
        return Err(cx.invalid_record(format!("spec from {} has an empty name", spec.file)));
    }
    let existed = conn
        .query_row("SELECT 1 FROM specs WHERE name = ?1", [&spec.name], |_| {
            Ok(())
        })
        .optional()
        .map_err(|e| cx.sql(e))?
        .is_some();
    conn.execute(
        "INSERT INTO specs (name, file, content, imported_us) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (name) DO UPDATE SET
            file = excluded.file, content = excluded.content, imported_us = excluded.imported_us",
        rusqlite::params![
            spec.name,
            spec.file,
            spec.content,
            spec.imported_at.as_microsecond()
        ],
    )
    .map_err(|e| cx.sql(e))?;
    Ok(existed)
}

pub(super) fn load(conn: &Connection, location: &str) -> Result<Vec<StoredSpec>> {
    let cx = Ctx::new(location, "load_specs");
    let mut stmt = conn
        .prepare("SELECT name, file, content, imported_us FROM specs ORDER BY name")
        .map_err(|e| cx.sql(e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .map_err(|e| cx.sql(e))?;
    let mut out = Vec::new();
    for row in rows {
        let (name, file, content, us) = row.map_err(|e| cx.sql(e))?;
        let imported_at = Timestamp::from_microsecond(us).map_err(|_| {
            cx.invalid_record(format!("spec {name}: imported_us {us} is not a time"))
        })?;
        out.push(StoredSpec {
            name,
            file,
            content,
            imported_at,
        });
    }
    Ok(out)
}

pub(super) fn delete(conn: &Connection, location: &str, name: &str) -> Result<bool> {
    let cx = Ctx::new(location, "delete_spec");
    let n = conn
        .execute("DELETE FROM specs WHERE name = ?1", [name])
        .map_err(|e| cx.sql(e))?;
    Ok(n > 0)
}
