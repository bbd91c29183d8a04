//! `gatewatch query`: read-only SQL over the documented views (`endpoints`, `parameters`,
//! `sensitive_fields`, `findings`, `alerts`, `events`), and saved queries for the common
//! questions. Write statements are refused by the store.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use gw_store::{QueryResult, SAVED_QUERIES};

use crate::config::{Config, store_path};

#[derive(Args, Debug, Clone)]
pub struct QueryArgs {
    /// The SQL to run (one read-only statement), e.g.
    /// "SELECT method, template, calls FROM endpoints ORDER BY calls DESC LIMIT 10".
    #[arg(required_unless_present_any = ["saved", "list"], conflicts_with_all = ["saved", "list"])]
    pub sql: Option<String>,
    /// Run a saved query by name (see --list).
    #[arg(long, value_name = "NAME")]
    pub saved: Option<String>,
    /// List the saved queries.
    #[arg(long)]
    pub list: bool,
    /// Store location (default from config `store.url`).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// `table`, `json` (one object per row, NDJSON) or `csv`.
    #[arg(long, default_value = "table", value_parser = ["table", "json", "csv"])]
    pub format: String,
    /// At most this many rows.
    #[arg(long, default_value_t = 1000)]
    pub max_rows: usize,
}

pub fn run(config: &Config, args: QueryArgs) -> Result<ExitCode> {
    if args.list {
        for q in SAVED_QUERIES {
            outln!("{:<36} {}", q.name, q.description)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let sql = match (&args.saved, &args.sql) {
        (Some(name), _) => match SAVED_QUERIES.iter().find(|q| q.name == name.as_str()) {
            Some(q) => q.sql.to_string(),
            None => bail!(
                "no saved query named {name:?}; saved queries: {}",
                SAVED_QUERIES
                    .iter()
                    .map(|q| q.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        (None, Some(sql)) => sql.clone(),
        (None, None) => bail!("give the SQL to run, --saved NAME or --list"),
    };
    if args.max_rows == 0 {
        bail!("--max-rows must be at least 1");
    }
    let db = store_path(config, args.db.as_deref());
    let store = gw_store::open_store(&db.display().to_string())
        .with_context(|| format!("{}: cannot open the store", db.display()))?;
    let result = store.query(&sql, args.max_rows)?;
    match args.format.as_str() {
        "json" => print_json(&result)?,
        "csv" => print_csv(&result)?,
        _ => print_table(&result)?,
    }
    if result.truncated {
        eprintln!(
            "gatewatch: only the first {} rows are shown (--max-rows)",
            args.max_rows
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn print_json(r: &QueryResult) -> Result<()> {
    for row in &r.rows {
        let obj: serde_json::Map<String, serde_json::Value> =
            r.columns.iter().cloned().zip(row.iter().cloned()).collect();
        outln!("{}", serde_json::Value::Object(obj))?;
    }
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn print_csv(r: &QueryResult) -> Result<()> {
    let header: Vec<String> = r.columns.iter().map(|c| csv_field(c)).collect();
    outln!("{}", header.join(","))?;
    for row in &r.rows {
        let cells: Vec<String> = row.iter().map(|v| csv_field(&cell(v))).collect();
        outln!("{}", cells.join(","))?;
    }
    Ok(())
}

/// Columns padded to their widest cell (capped so one long value does not push the rest off).
fn print_table(r: &QueryResult) -> Result<()> {
    const MAX_WIDTH: usize = 60;
    let rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|v| {
                    let s = cell(v).replace(['\n', '\r', '\t'], " ");
                    if s.chars().count() > MAX_WIDTH {
                        let mut cut: String = s.chars().take(MAX_WIDTH - 1).collect();
                        cut.push('…');
                        cut
                    } else {
                        s
                    }
                })
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = r.columns.iter().map(|c| c.chars().count()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let header: Vec<String> = r.columns.iter().map(|c| c.to_uppercase()).collect();
    outln!("{}", line(&header))?;
    for row in &rows {
        outln!("{}", line(row))?;
    }
    outln!("({} rows)", rows.len())?;
    Ok(())
}
