//! `gatewatch spec import|list|remove`: the API descriptions traffic is matched against.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use gw_spec::ApiSpec;
use gw_store::{Store, StoredSpec};
use jiff::Timestamp;

use crate::config::{Config, store_path};

#[derive(Args, Debug, Clone)]
pub struct SpecArgs {
    #[command(subcommand)]
    pub action: SpecAction,
    /// Store location (default from config `store.url`).
    #[arg(long, global = true)]
    pub db: Option<PathBuf>,
}

#[derive(Subcommand, Debug, Clone)]
pub enum SpecAction {
    /// Import an OpenAPI 3.0/3.1 or Swagger 2.0 document (JSON or YAML): later runs match
    /// traffic to its operations, and what it does not declare is reported as shadow.
    Import {
        file: PathBuf,
        /// Name of the API (default: the spec's title). Importing the same name replaces it.
        #[arg(long)]
        api: Option<String>,
    },
    /// List the imported specs.
    List,
    /// Forget an imported spec.
    Remove { api: String },
}

/// Every spec traffic is matched against: the config's `specs` files and the imported ones.
pub fn active_specs(config: &Config, store: &dyn Store) -> Result<Vec<ApiSpec>> {
    let mut specs = config.load_specs()?;
    for stored in store.load_specs()? {
        let spec =
            gw_spec::parse_spec(stored.content.as_bytes(), &stored.file).with_context(|| {
                format!(
                    "imported spec \"{}\" ({}) no longer imports",
                    stored.name, stored.file
                )
            })?;
        specs.push(spec);
    }
    Ok(specs)
}

/// Keeps `content` as the spec `name` after checking it imports on its own (without the
/// directory it came from, as every later run will read it).
pub fn import_text(
    store: &mut dyn Store,
    name: &str,
    file: &str,
    content: &str,
) -> Result<(ApiSpec, bool)> {
    let spec = gw_spec::parse_spec(content.as_bytes(), file).with_context(|| {
        format!(
            "{file}: cannot be kept as one document (if it refers to other files, bundle it first)"
        )
    })?;
    let replaced = store.save_spec(&StoredSpec {
        name: name.to_string(),
        file: file.to_string(),
        content: content.to_string(),
        imported_at: Timestamp::now(),
    })?;
    Ok((spec, replaced))
}

pub fn run(config: &Config, args: SpecArgs) -> Result<ExitCode> {
    let db = store_path(config, args.db.as_deref());
    let mut store = gw_store::open_store(&db.display().to_string())
        .with_context(|| format!("{}: cannot open the store", db.display()))?;
    match args.action {
        SpecAction::Import { file, api } => {
            // load_spec first: it names the file and resolves what it can relative to it.
            let full = gw_spec::load_spec(&file)?;
            let content = std::fs::read_to_string(&file)
                .with_context(|| format!("{}: not UTF-8 text", file.display()))?;
            let name = api.unwrap_or_else(|| full.title.clone());
            if name.trim().is_empty() {
                bail!("{}: the spec has no title; pass --api NAME", file.display());
            }
            let (spec, replaced) =
                import_text(store.as_mut(), &name, &file.display().to_string(), &content)?;
            let declared = gw_spec::declared_endpoints(&spec).count();
            let deprecated = spec.operations.iter().filter(|o| o.deprecated).count();
            outln!(
                "{} \"{name}\": {} operations ({declared} declared endpoints, {deprecated} deprecated), {} servers, {} warnings",
                if replaced { "replaced" } else { "imported" },
                spec.operations.len(),
                spec.servers.len(),
                spec.warnings.len()
            )?;
            for w in spec.warnings.iter().take(20) {
                outln!("  warning: {}: {}", w.pointer, w.message)?;
            }
        }
        SpecAction::List => {
            for s in store.load_specs()? {
                outln!("{:<32} {:<48} imported {}", s.name, s.file, s.imported_at)?;
            }
        }
        SpecAction::Remove { api } => {
            if !store.delete_spec(&api)? {
                bail!("no imported spec named \"{api}\" (see `gatewatch spec list`)");
            }
            outln!("removed \"{api}\"")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
