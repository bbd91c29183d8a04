//! Imports a spec file and prints what was found: `cargo run -p gw-spec --example spec_stats -- FILE`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: spec_stats FILE");
        return ExitCode::from(2);
    };
    match gw_spec::load_spec(&path) {
        Ok(spec) => {
            let endpoints = gw_spec::declared_endpoints(&spec).count();
            let open = gw_spec::declared_endpoints(&spec)
                .filter(|e| !e.requires_auth)
                .count();
            println!(
                "{path}: {:?} \"{}\" {}: {} operations, {endpoints} endpoints ({open} without auth), {} servers, {} security schemes, {} ref'd schemas, {} warnings",
                spec.spec_version,
                spec.title,
                spec.version,
                spec.operations.len(),
                spec.servers.len(),
                spec.security_schemes.len(),
                spec.schemas.len(),
                spec.warnings.len()
            );
            for w in &spec.warnings {
                println!("  warning {}: {}", w.pointer, w.message);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
