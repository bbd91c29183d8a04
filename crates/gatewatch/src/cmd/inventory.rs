//! `gatewatch inventory`: the API endpoints learned from traffic and declared in specs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use gw_discover::{Discovery, InventoryRow};
use jiff::Timestamp;

use crate::config::{Config, store_path};

#[derive(Args, Debug, Clone)]
pub struct InventoryArgs {
    #[command(subcommand)]
    pub action: Option<InventoryAction>,
    /// `table`, `json` (an array of endpoints) or `csv`.
    #[arg(long, default_value = "table", value_parser = ["table", "json", "csv"])]
    pub format: String,
    /// Only endpoints of this API (e.g. `shop.example.com/api`).
    #[arg(long)]
    pub api: Option<String>,
    /// Only endpoints with this spec status: declared, shadow, zombie, dormant.
    #[arg(long, value_name = "STATUS")]
    pub spec_status: Option<String>,
    /// Only endpoints called from the internet.
    #[arg(long)]
    pub external: bool,
    /// Only endpoints with successful calls without credentials.
    #[arg(long)]
    pub unauthenticated: bool,
    #[arg(long)]
    pub db: Option<PathBuf>,
}

#[derive(Subcommand, Debug, Clone)]
pub enum InventoryAction {
    /// Write an OpenAPI 3.1 document reconstructed from the observed traffic.
    ExportOpenapi {
        /// Only this API.
        #[arg(long)]
        api: Option<String>,
        #[arg(long)]
        db: Option<PathBuf>,
    },
}

pub fn load(config: &Config, db: Option<&std::path::Path>) -> Result<(Discovery, Timestamp)> {
    let path = store_path(config, db);
    if !path.exists() {
        bail!(
            "{}: no store here yet; run `gatewatch ingest` or `gatewatch demo` first, or pass --db",
            path.display()
        );
    }
    let store = gw_store::open_store(&path.display().to_string())
        .with_context(|| format!("{}: cannot open the store", path.display()))?;
    let specs = crate::cmd::spec::active_specs(config, store.as_ref())?;
    let discovery = Discovery::load(config.discovery.clone(), specs, store.as_ref(), None)?;
    // Dormancy is judged in event time: "now" is the latest traffic the store has seen.
    let now = store.event_watermark()?.unwrap_or_else(Timestamp::now);
    Ok((discovery, now))
}

pub fn run(config: &Config, args: InventoryArgs) -> Result<ExitCode> {
    if let Some(InventoryAction::ExportOpenapi { api, db }) = &args.action {
        let (discovery, _) = load(config, db.as_deref())?;
        let doc = gw_discover::export_openapi(discovery.inventory(), api.as_deref());
        outln!("{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let (mut discovery, now) = load(config, args.db.as_deref())?;
    let rows = gw_discover::filter_api(discovery.finish(now), args.api.as_deref());
    let rows: Vec<InventoryRow> = rows
        .into_iter()
        .filter(|r| {
            args.spec_status
                .as_deref()
                .is_none_or(|s| r.spec_status.as_str() == s)
        })
        .filter(|r| !args.external || r.external)
        .filter(|r| !args.unauthenticated || r.auth.iter().any(|a| a == "unauthenticated"))
        .collect();
    match args.format.as_str() {
        "json" => outln!("{}", serde_json::to_string_pretty(&rows)?)?,
        "csv" => out!("{}", gw_discover::render_csv(&rows))?,
        _ => {
            out!("{}", gw_discover::render_table(&rows))?;
            outln!("{} endpoints", rows.len())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
