//! `gatewatch events`: the detection events beneath the alerts — every record a per-record
//! detector fired on — filtered by alert, rule, client IP, identity, endpoint and time.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use gw_model::Event;
use gw_store::EventFilter;
use jiff::Timestamp;

use crate::config::{Config, store_path};

#[derive(Args, Debug, Clone)]
pub struct EventsArgs {
    /// Store location (default from config `store.url`).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Only the events that fed this alert (finding id), i.e. the alert's full evidence.
    #[arg(long)]
    pub alert: Option<String>,
    /// Only events with a detection of this rule id (e.g. GW-T-SQLI).
    #[arg(long)]
    pub rule: Option<String>,
    /// Only events from this client IP.
    #[arg(long)]
    pub ip: Option<IpAddr>,
    /// Only events of this identity (principal, consumer or credential fingerprint).
    #[arg(long)]
    pub identity: Option<String>,
    /// Only events on this endpoint id.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Only events at or after this event time (RFC 3339, e.g. 2026-11-21T10:00:00Z).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<Timestamp>,
    /// Only events before this event time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<Timestamp>,
    /// `table`, or `json` (NDJSON gatewatch.event/1).
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// At most this many, oldest first.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// Skip this many first (pagination).
    #[arg(long, default_value_t = 0)]
    pub offset: u32,
}

fn parse_time(s: &str) -> Result<Timestamp, String> {
    s.parse::<Timestamp>()
        .map_err(|e| format!("not an RFC 3339 time like 2026-11-21T10:00:00Z: {e}"))
}

pub fn run(config: &Config, args: EventsArgs) -> Result<ExitCode> {
    if args.limit == 0 {
        bail!("--limit must be at least 1");
    }
    let db = store_path(config, args.db.as_deref());
    let store = gw_store::open_store(&db.display().to_string())
        .with_context(|| format!("{}: cannot open the store", db.display()))?;
    let filter = EventFilter {
        alert_id: args.alert.clone(),
        rule_id: args.rule.clone(),
        ip: args.ip,
        identity: args.identity.clone(),
        endpoint_id: args.endpoint.clone(),
        since: args.since,
        until: args.until,
        limit: Some(args.limit),
        offset: args.offset,
    };
    let total = store.count_events(&EventFilter {
        limit: None,
        offset: 0,
        ..filter.clone()
    })?;
    let events = store.list_events(&filter)?;
    if args.format == "json" {
        for e in &events {
            outln!("{}", serde_json::to_string(e)?)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    print_table(&events)?;
    let shown_to = u64::from(args.offset) + events.len() as u64;
    if total > shown_to || args.offset > 0 {
        outln!(
            "{} of {total} events shown (from {}); use --offset/--limit to page",
            events.len(),
            args.offset
        )?;
    } else {
        outln!("{total} events")?;
    }
    if let Some(alert) = &args.alert
        && total == 0
        && store.get_finding(alert)?.is_none()
    {
        bail!("no alert with id {alert} in {}", db.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(events: &[Event]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    outln!(
        "{:<20}  {:<16}  {:<28}  {:<18}  {:<22}  {}",
        "TIME",
        "ACTOR",
        "ENDPOINT",
        "RULE",
        "LOCATION",
        "FRAGMENT (masked)"
    )?;
    for e in events {
        let actor = e
            .actor
            .ip
            .map(|ip| ip.to_string())
            .or_else(|| e.actor.identity.clone())
            .unwrap_or_else(|| "-".into());
        let endpoint = e
            .endpoint
            .as_ref()
            .map(|ep| format!("{} {}", ep.method, ep.template))
            .unwrap_or_else(|| "-".into());
        for (i, d) in e.detections.iter().enumerate() {
            let time = if i == 0 {
                e.observed_at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
            } else {
                String::new()
            };
            outln!(
                "{:<20}  {:<16}  {:<28}  {:<18}  {:<22}  {}",
                time,
                clip(if i == 0 { &actor } else { "" }, 16),
                clip(if i == 0 { &endpoint } else { "" }, 28),
                d.rule_id,
                clip(&d.location, 22),
                clip(d.fragment.as_deref().unwrap_or(""), 60)
            )?;
        }
    }
    Ok(())
}

/// At most `max` characters, with an ellipsis when cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
