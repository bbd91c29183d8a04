//! The `gatewatch` binary: CLI, configuration loading and wiring of the stages.

/// `println!` that returns the write error instead of panicking (e.g. on a closed pipe).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// `print!` that returns the write error instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)
    }};
}

mod cmd;
mod config;
mod events;
mod progress;
mod session;
mod stages;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: records cross threads (decoded on the HTTP or
/// ingest thread, freed by the store writer), and glibc's arenas made every cross-thread free
/// and its consolidation a visible share of `serve`'s CPU (docs/PERFORMANCE.md, session 4).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::config::Config;

/// Gatewatch: API discovery, posture and runtime threat detection from the traffic your
/// gateway already logs. Everything runs locally; state is kept in one SQLite file.
#[derive(Parser, Debug)]
#[command(name = "gatewatch", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// Configuration file (default: ./gatewatch.toml when present, else built-in defaults).
    #[arg(long, global = true, env = "GATEWATCH_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run Gatewatch on a simulated day of traffic with attacks and show what it finds (start here).
    Demo(cmd::demo::DemoArgs),
    /// Read gateway logs or captures, normalize them and store what is learned.
    ///
    /// Formats: native NDJSON/JSON arrays of gatewatch.exchange/1, HAR 1.2, NGINX combined and
    /// JSON, Envoy/Istio JSON, Kong http-log, Azure APIM GatewayLogs and log-to-eventhub
    /// payloads, AWS API Gateway and ALB access logs, Traefik JSON. `--format auto` (the
    /// default) detects the format from the first records; gzip is read transparently; `-` is
    /// stdin. Bad records never stop the run: each is counted by reason and, with --rejects,
    /// written with file:line, field, reason and the (masked) original input.
    Ingest(cmd::ingest::IngestArgs),
    /// Import, list or remove the OpenAPI / Swagger specs traffic is matched against.
    Spec(cmd::spec::SpecArgs),
    /// The API inventory: endpoints learned from traffic and declared in specs, with calls,
    /// auth seen, external exposure, sensitive data and spec status (declared, shadow, zombie,
    /// dormant); `inventory export-openapi` reconstructs an OpenAPI document from traffic.
    Inventory(cmd::inventory::InventoryArgs),
    /// List threat alerts (newest first), export them (--format ocsf|cef|json|...), or change
    /// their status: ack, suppress --reason, resolve, reopen.
    Alerts(cmd::alerts::FindingsArgs),
    /// Like `alerts`, over every finding kind (threat, posture, inventory).
    Findings(cmd::alerts::FindingsArgs),
    /// Detection events: every record a per-record detector fired on, with the rule, place,
    /// masked fragment and the alerts it fed (`--alert ID` lists an alert's full evidence).
    Events(cmd::events::EventsArgs),
    /// Check gateway configuration exports (APIM, Kong, nginx) and audit OpenAPI specs; findings
    /// ranked, as a table, NDJSON or SARIF; `--fail-on high` for CI gates.
    Posture(cmd::posture::PostureArgs),
    /// Read-only SQL over the documented views (endpoints, parameters, sensitive_fields,
    /// findings, alerts, events) — `query --list` shows the saved queries, `query --saved NAME`
    /// runs one (e.g. exposed-unauthenticated-sensitive). Write statements are refused.
    Query(cmd::query::QueryArgs),
    /// Gateway blocklists from open threat alerts.
    Blocklist(cmd::alerts::BlocklistArgs),
    /// Find sensitive data (emails, cards, IBANs, national ids, secrets...) in text lines.
    ///
    /// Reads NDJSON lines `{"id": ..., "text": ...}` (or plain text lines, whose id is the line
    /// number) on stdin and prints one line per input: `{"id": ..., "findings": [{"kind",
    /// "start", "end", "confidence"}]}` with byte offsets into the text. A malformed line gets an
    /// error line and the run goes on. Uses the `[classify]` settings of the config.
    Classify {
        /// Output format (NDJSON is the only one).
        #[arg(long, default_value = "json", value_parser = ["json"])]
        format: String,
    },
    /// Generate realistic, labelled API traffic (gatewatch.exchange/1 NDJSON) from OpenAPI specs
    /// or the built-in sample APIs, with attack scenarios and their ground truth.
    Simulate(cmd::simulate::SimulateArgs),
    /// Measure throughput on simulated traffic held in memory: `bench` times the whole
    /// pipeline with a per-stage breakdown, `bench ingest` parse + normalize on one thread.
    Bench(cmd::bench::BenchArgs),
    /// Run the HTTP ingest server: POST /v1/ingest (native NDJSON or JSON array),
    /// /v1/ingest/kong, /v1/ingest/apim, /v1/ingest/envoy, with bearer tokens (`[server]`),
    /// an fsynced spool (acknowledged batches survive a crash), /metrics, /healthz, /readyz.
    /// `serve hash-token SECRET` prints the hash to configure for a token.
    Serve(cmd::serve::ServeArgs),
    /// Dead letters of the delivery sinks: `delivery status` counts them per sink,
    /// `delivery replay` sends them again once the receiver is fixed.
    Delivery(cmd::delivery::DeliveryArgs),
    /// Print the JSON Schema of a Gatewatch record format.
    Schema {
        /// Which record: `exchange` (gatewatch.exchange/1), `finding` (gatewatch.finding/1) or
        /// `event` (gatewatch.event/1).
        #[arg(value_parser = ["exchange", "finding", "event"])]
        record: String,
    },
    /// Show or check the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Print the effective configuration (file + GATEWATCH_* overrides + defaults) as TOML.
    Show,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        // The reader went away (`gatewatch alerts | head`): not an error of ours.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatewatch: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Demo(args) => cmd::demo::run(&config, args),
        Command::Ingest(args) => cmd::ingest::run(&config, args),
        Command::Classify { format: _ } => {
            let classifier = gw_classify::Classifier::new(&config.classify)?;
            let stdin = std::io::stdin().lock();
            let stdout = std::io::BufWriter::new(std::io::stdout().lock());
            gw_classify::run_classify_stream(stdin, stdout, &classifier)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate(args) => cmd::simulate::run(args),
        Command::Alerts(args) => {
            cmd::alerts::run(&config, args, Some(gw_model::FindingKind::Threat))
        }
        Command::Findings(args) => cmd::alerts::run(&config, args, None),
        Command::Events(args) => cmd::events::run(&config, args),
        Command::Query(args) => cmd::query::run(&config, args),
        Command::Spec(args) => cmd::spec::run(&config, args),
        Command::Inventory(args) => cmd::inventory::run(&config, args),
        Command::Posture(args) => cmd::posture::run(&config, args),
        Command::Blocklist(args) => cmd::alerts::run_blocklist(&config, args),
        Command::Bench(args) => cmd::bench::run(&config, args),
        Command::Serve(args) => cmd::serve::run(&config, args),
        Command::Delivery(args) => cmd::delivery::run(&config, args),
        Command::Schema { record } => {
            let schema = match record.as_str() {
                "exchange" => gw_model::json_schema::<gw_model::Exchange>(),
                "event" => gw_model::json_schema::<gw_model::Event>(),
                _ => gw_model::json_schema::<gw_model::Finding>(),
            };
            outln!("{}", serde_json::to_string_pretty(&schema)?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(ConfigCommand::Show) => {
            out!("{}", config.to_toml())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
