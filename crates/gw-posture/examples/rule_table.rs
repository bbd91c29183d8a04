//! Prints every posture rule as a Markdown table (id, severity, OWASP, what it checks):
//! `cargo run -p gw-posture --example rule_table`.

fn main() {
    println!("| id | name | severity | OWASP API 2023 | checks |");
    println!("|---|---|---|---|---|");
    for m in gw_posture::all_rule_metas() {
        let owasp: Vec<&str> = m.owasp.iter().map(|o| o.code()).collect();
        println!(
            "| {} | {} | {} | {} | {} |",
            m.id,
            m.name,
            m.severity.as_str(),
            owasp.join(", "),
            m.summary
        );
    }
}
