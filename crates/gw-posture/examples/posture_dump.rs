//! Prints the posture findings of one spec or gateway configuration as NDJSON-ish lines:
//! `cargo run -p gw-posture --example posture_dump -- <file> [spec|apim|kong|nginx]`.

use gw_posture::{GatewayKind, audit_spec_file, check_gateway_config};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let file = args
        .next()
        .ok_or("usage: posture_dump <file> [spec|apim|kong|nginx]")?;
    let kind = args.next();
    let findings = match kind.as_deref() {
        Some("spec") => audit_spec_file(&file)?,
        Some(k) => check_gateway_config(
            std::path::Path::new(&file),
            Some(GatewayKind::from_name(k).ok_or("unknown kind")?),
        )?,
        None => check_gateway_config(std::path::Path::new(&file), None)?,
    };
    for f in &findings {
        println!(
            "{} {:<8} {}\n    {}\n    at {}",
            f.rule.id,
            f.severity.as_str(),
            f.title,
            f.description,
            f.evidence.samples[0].text
        );
    }
    Ok(())
}
