//! nginx: a small directive parser (blocks, quoting, comments, line numbers) and checks over the
//! `http` context: listeners without TLS, upstream TLS verification, rate limiting, weak TLS
//! protocols and unlimited request bodies.
//!
//! `include` directives are not followed (the check reads only the file it is given); directive
//! inheritance (http → server → location) is modelled for the directives the rules read.
//! Finding pointers are paths of directive names with their index among same-named siblings,
//! e.g. `/http/0/server/1/location/0`, and carry the directive's line.

use gw_model::{Confidence, OwaspApi2023 as Owasp, Severity};

use crate::PostureError;
use crate::rule::{ConfigRule, Hit, Rule, RuleMeta};

/// One directive: `name args...;` or `name args... { children }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Directive {
    pub name: String,
    pub args: Vec<String>,
    /// 1-based line of the directive name.
    pub line: usize,
    /// `Some` for block directives.
    pub block: Option<Vec<Directive>>,
    /// Path of the directive, e.g. `/http/0/server/1/listen/0`.
    pub pointer: String,
}

impl Directive {
    pub fn children(&self) -> &[Directive] {
        self.block.as_deref().unwrap_or(&[])
    }
}

/// A parsed nginx configuration file.
#[derive(Debug, Clone)]
pub struct NginxConfig {
    pub directives: Vec<Directive>,
}

struct Lexer<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: usize,
}

enum Token {
    Word(String, usize),
    Semicolon(usize),
    Open(usize),
    Close(usize),
}

impl Lexer<'_> {
    fn next(&mut self, file: &str) -> Result<Option<Token>, PostureError> {
        let b = self.bytes;
        loop {
            while self.pos < b.len() && b[self.pos].is_ascii_whitespace() {
                if b[self.pos] == b'\n' {
                    self.line += 1;
                }
                self.pos += 1;
            }
            if self.pos < b.len() && b[self.pos] == b'#' {
                while self.pos < b.len() && b[self.pos] != b'\n' {
                    self.pos += 1;
                }
                continue;
            }
            break;
        }
        let Some(&c) = b.get(self.pos) else {
            return Ok(None);
        };
        let line = self.line;
        match c {
            b';' => {
                self.pos += 1;
                Ok(Some(Token::Semicolon(line)))
            }
            b'{' => {
                self.pos += 1;
                Ok(Some(Token::Open(line)))
            }
            b'}' => {
                self.pos += 1;
                Ok(Some(Token::Close(line)))
            }
            b'"' | b'\'' => {
                let mut out = Vec::new();
                self.pos += 1;
                loop {
                    match b.get(self.pos) {
                        None => {
                            return Err(PostureError::Syntax {
                                file: file.to_owned(),
                                line,
                                reason: "unterminated quoted string".to_owned(),
                            });
                        }
                        Some(&q) if q == c => {
                            self.pos += 1;
                            break;
                        }
                        Some(b'\\') if self.pos + 1 < b.len() => {
                            out.push(b[self.pos + 1]);
                            self.pos += 2;
                        }
                        Some(&ch) => {
                            if ch == b'\n' {
                                self.line += 1;
                            }
                            out.push(ch);
                            self.pos += 1;
                        }
                    }
                }
                Ok(Some(Token::Word(
                    String::from_utf8_lossy(&out).into_owned(),
                    line,
                )))
            }
            _ => {
                let start = self.pos;
                while self.pos < b.len() {
                    let ch = b[self.pos];
                    if ch.is_ascii_whitespace() || ch == b';' || ch == b'{' || ch == b'}' {
                        break;
                    }
                    // `${var}` keeps its braces inside a word
                    if ch == b'$' && b.get(self.pos + 1) == Some(&b'{') {
                        while self.pos < b.len() && b[self.pos] != b'}' {
                            self.pos += 1;
                        }
                    }
                    if ch == b'\\' {
                        self.pos += 1;
                    }
                    self.pos += 1;
                }
                Ok(Some(Token::Word(
                    String::from_utf8_lossy(&b[start..self.pos.min(b.len())]).into_owned(),
                    line,
                )))
            }
        }
    }
}

impl NginxConfig {
    pub fn parse(text: &str, file: &str) -> Result<Self, PostureError> {
        let mut lexer = Lexer {
            bytes: text.as_bytes(),
            pos: 0,
            line: 1,
        };
        let directives = parse_block(&mut lexer, file, "", true)?;
        Ok(NginxConfig { directives })
    }

    /// Every directive named `name` at any depth, with its ancestors (outermost first).
    pub fn find<'a>(&'a self, name: &str) -> Vec<(&'a Directive, Vec<&'a Directive>)> {
        let mut out = Vec::new();
        fn walk<'a>(
            ds: &'a [Directive],
            name: &str,
            stack: &mut Vec<&'a Directive>,
            out: &mut Vec<(&'a Directive, Vec<&'a Directive>)>,
        ) {
            for d in ds {
                if d.name == name {
                    out.push((d, stack.clone()));
                }
                if let Some(children) = &d.block {
                    stack.push(d);
                    walk(children, name, stack, out);
                    stack.pop();
                }
            }
        }
        walk(&self.directives, name, &mut Vec::new(), &mut out);
        out
    }
}

fn parse_block(
    lx: &mut Lexer<'_>,
    file: &str,
    parent: &str,
    top: bool,
) -> Result<Vec<Directive>, PostureError> {
    let mut out: Vec<Directive> = Vec::new();
    let mut words: Vec<(String, usize)> = Vec::new();
    loop {
        let Some(tok) = lx.next(file)? else {
            if !words.is_empty() {
                return Err(PostureError::Syntax {
                    file: file.to_owned(),
                    line: words[0].1,
                    reason: format!("directive `{}` has no terminating `;`", words[0].0),
                });
            }
            if !top {
                return Err(PostureError::Syntax {
                    file: file.to_owned(),
                    line: lx.line,
                    reason: "unexpected end of file: a `{` block is not closed".to_owned(),
                });
            }
            return Ok(out);
        };
        match tok {
            Token::Word(w, line) => words.push((w, line)),
            Token::Semicolon(line) | Token::Open(line) => {
                let is_block = matches!(tok, Token::Open(_));
                let Some(((name, name_line), args)) = words.split_first().map(|(n, a)| {
                    (
                        n.clone(),
                        a.iter().map(|(w, _)| w.clone()).collect::<Vec<_>>(),
                    )
                }) else {
                    return Err(PostureError::Syntax {
                        file: file.to_owned(),
                        line,
                        reason: format!(
                            "unexpected `{}` without a directive name",
                            if is_block { "{" } else { ";" }
                        ),
                    });
                };
                words.clear();
                let index = out.iter().filter(|d| d.name == name).count();
                let pointer = format!("{parent}/{name}/{index}");
                let block = if is_block {
                    Some(parse_block(lx, file, &pointer, false)?)
                } else {
                    None
                };
                out.push(Directive {
                    name,
                    args,
                    line: name_line,
                    block,
                    pointer,
                });
            }
            Token::Close(line) => {
                if top {
                    return Err(PostureError::Syntax {
                        file: file.to_owned(),
                        line,
                        reason: "unexpected `}`".to_owned(),
                    });
                }
                if let Some((w, l)) = words.first() {
                    return Err(PostureError::Syntax {
                        file: file.to_owned(),
                        line: *l,
                        reason: format!("directive `{w}` has no terminating `;`"),
                    });
                }
                return Ok(out);
            }
        }
    }
}

/// The value of `name` in force at `at` (its own children first, then ancestors inward-out).
fn inherited<'a>(
    name: &str,
    at: &'a Directive,
    ancestors: &[&'a Directive],
) -> Option<&'a Directive> {
    std::iter::once(at)
        .chain(ancestors.iter().rev().copied())
        .find_map(|d| d.children().iter().find(|c| c.name == name))
}

fn servers(c: &NginxConfig) -> Vec<(&Directive, Vec<&Directive>)> {
    c.find("server")
        .into_iter()
        .filter(|(_, anc)| anc.last().is_some_and(|p| p.name == "http"))
        .collect()
}

fn is_local_listen(addr: &str) -> bool {
    addr.starts_with("unix:")
        || addr.starts_with("127.")
        || addr.starts_with("[::1]")
        || addr.starts_with("localhost")
}

/// A server that only sends clients to HTTPS (`return 301 https://...`).
fn redirects_to_https(server: &Directive) -> bool {
    fn returns_https(ds: &[Directive]) -> bool {
        ds.iter().any(|d| match d.name.as_str() {
            "return" | "rewrite" => d.args.iter().any(|a| a.starts_with("https://")),
            "if" => returns_https(d.children()),
            _ => false,
        })
    }
    returns_https(server.children())
        || server
            .children()
            .iter()
            .filter(|d| d.name == "location")
            .any(|l| l.args.last().is_some_and(|a| a == "/") && returns_https(l.children()))
}

const NGINX_DOCS: &str = "https://nginx.org/en/docs/";

/// nginx rules, in id order.
pub static NGINX_RULES: &[ConfigRule<NginxConfig>] = &[
    Rule {
        meta: config_rule_meta!(
            "GW-C-NGINX-001",
            "ListenerWithoutTls",
            High,
            [Api8],
            "A server listens without TLS on a non-loopback address and does not only redirect to HTTPS",
            "Add `ssl` to the `listen` directive (with `ssl_certificate`/`ssl_certificate_key`), or make the plain-HTTP server only `return 301 https://$host$request_uri;`.",
            &[
                "https://nginx.org/en/docs/http/ngx_http_core_module.html#listen",
                NGINX_DOCS
            ]
        ),
        check: nginx001_listener_without_tls,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-NGINX-002",
            "UpstreamTlsVerificationOff",
            Medium,
            [Api8, Api10],
            "A location proxies to an HTTPS upstream without verifying its certificate",
            "Set `proxy_ssl_verify on;` with `proxy_ssl_trusted_certificate` and `proxy_ssl_name`/`proxy_ssl_server_name on;` (grpc: `grpc_ssl_verify on;`).",
            &[
                "https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_ssl_verify",
                NGINX_DOCS
            ]
        ),
        check: nginx002_upstream_tls_verify,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-NGINX-003",
            "NoRateLimiting",
            Medium,
            [Api4, Api6],
            "A proxied location has no request rate limit (`limit_req`) in force",
            "Declare a zone (`limit_req_zone $binary_remote_addr zone=api:10m rate=10r/s;`) and apply `limit_req zone=api burst=20;` to the server or location.",
            &[
                "https://nginx.org/en/docs/http/ngx_http_limit_req_module.html",
                NGINX_DOCS
            ]
        ),
        check: nginx003_no_rate_limiting,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-NGINX-004",
            "WeakTlsProtocols",
            Medium,
            [Api8],
            "`ssl_protocols` enables SSLv2/SSLv3/TLSv1/TLSv1.1",
            "Use `ssl_protocols TLSv1.2 TLSv1.3;`.",
            &[
                "https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_protocols",
                NGINX_DOCS
            ]
        ),
        check: nginx004_weak_tls_protocols,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-NGINX-005",
            "UnlimitedRequestBody",
            Medium,
            [Api4],
            "`client_max_body_size 0` disables the request body size limit",
            "Set `client_max_body_size` to the largest body the API accepts (e.g. `1m`; more only on upload locations).",
            &[
                "https://nginx.org/en/docs/http/ngx_http_core_module.html#client_max_body_size",
                NGINX_DOCS
            ]
        ),
        check: nginx005_unlimited_body,
    },
];

fn nginx001_listener_without_tls(c: &NginxConfig, hits: &mut Vec<Hit>) {
    for (server, ancestors) in servers(c) {
        if redirects_to_https(server) {
            continue;
        }
        let ssl_on = inherited("ssl", server, &ancestors)
            .is_some_and(|d| d.args.first().is_some_and(|a| a == "on"));
        let name = server
            .children()
            .iter()
            .find(|d| d.name == "server_name")
            .and_then(|d| d.args.first())
            .map_or("_", String::as_str);
        let listens: Vec<&Directive> = server
            .children()
            .iter()
            .filter(|d| d.name == "listen")
            .collect();
        if listens.is_empty() {
            hits.push(
                Hit::new(
                    server.pointer.clone(),
                    format!("Server `{name}` listens on plain HTTP port 80 (no listen directive)"),
                    "A server without `listen` listens on *:80 without TLS.",
                )
                .at_line(server.line),
            );
            continue;
        }
        for l in listens {
            let addr = l.args.first().map_or("", String::as_str);
            let tls = ssl_on || l.args.iter().any(|a| a == "ssl" || a == "quic");
            if !tls && !is_local_listen(addr) {
                hits.push(Hit::new(l.pointer.clone(), format!("Server `{name}` listens on `{addr}` without TLS"), format!("`listen {}` serves API traffic in clear text and the server does not redirect to HTTPS.", l.args.join(" "))).at_line(l.line));
            }
        }
    }
}

fn nginx002_upstream_tls_verify(c: &NginxConfig, hits: &mut Vec<Hit>) {
    for (pass, verify, scheme) in [
        ("proxy_pass", "proxy_ssl_verify", "https://"),
        ("grpc_pass", "grpc_ssl_verify", "grpcs://"),
    ] {
        for (d, ancestors) in c.find(pass) {
            let Some(target) = d.args.first().filter(|a| a.starts_with(scheme)) else {
                continue;
            };
            let Some((at, rest)) = ancestors.split_last() else {
                continue;
            };
            match inherited(verify, at, rest) {
                Some(v) if v.args.first().is_some_and(|a| a == "on") => {}
                Some(v) => hits.push(Hit::new(v.pointer.clone(), format!("`{pass} {target}` does not verify the upstream certificate"), format!("`{verify} off` is in force for `{pass} {target}` (line {}).", d.line)).at_line(v.line)),
                None => hits.push(
                    Hit::new(d.pointer.clone(), format!("`{pass} {target}` does not verify the upstream certificate"), format!("No `{verify}` is set, and nginx's default is off: any certificate is accepted from {target}."))
                        .at_line(d.line)
                        .with_confidence(Confidence::Medium),
                ),
            }
        }
    }
}

fn nginx003_no_rate_limiting(c: &NginxConfig, hits: &mut Vec<Hit>) {
    for pass in ["proxy_pass", "grpc_pass", "fastcgi_pass", "uwsgi_pass"] {
        for (d, ancestors) in c.find(pass) {
            let Some((at, rest)) = ancestors.split_last() else {
                continue;
            };
            if ancestors.first().is_none_or(|h| h.name != "http") {
                continue;
            }
            if inherited("limit_req", at, rest).is_none() {
                let place = if at.name == "location" {
                    format!("location {}", at.args.join(" "))
                } else {
                    at.name.clone()
                };
                hits.push(Hit::new(at.pointer.clone(), format!("`{place}` proxies without rate limiting"), format!("`{pass} {}` has no `limit_req` in force in its location, server or http block.", d.args.join(" "))).at_line(at.line));
            }
        }
    }
}

fn nginx004_weak_tls_protocols(c: &NginxConfig, hits: &mut Vec<Hit>) {
    for (d, _) in c
        .find("ssl_protocols")
        .into_iter()
        .chain(c.find("proxy_ssl_protocols"))
    {
        let weak: Vec<&str> = d
            .args
            .iter()
            .map(String::as_str)
            .filter(|a| matches!(*a, "SSLv2" | "SSLv3" | "TLSv1" | "TLSv1.1"))
            .collect();
        if !weak.is_empty() {
            hits.push(
                Hit::new(
                    d.pointer.clone(),
                    format!("`{}` enables {}", d.name, weak.join(", ")),
                    format!(
                        "`{} {}` allows deprecated protocol versions.",
                        d.name,
                        d.args.join(" ")
                    ),
                )
                .at_line(d.line),
            );
        }
    }
}

fn nginx005_unlimited_body(c: &NginxConfig, hits: &mut Vec<Hit>) {
    for (d, _) in c.find("client_max_body_size") {
        if d.args.first().is_some_and(|a| a == "0") {
            hits.push(
                Hit::new(
                    d.pointer.clone(),
                    "Request body size is unlimited",
                    "`client_max_body_size 0` accepts bodies of any size.",
                )
                .at_line(d.line),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_blocks_quotes_comments_and_lines() {
        let text = "# c\nhttp {\n  log_format main '$remote_addr \"x\" ;{}';\n  server {\n    listen 443 ssl; # tls\n    location ~ \"^/a{2}$\" { return 200; }\n  }\n}\n";
        let c = NginxConfig::parse(text, "n.conf").unwrap();
        let http = &c.directives[0];
        assert_eq!(http.name, "http");
        assert_eq!(
            http.children()[0].args,
            vec!["main", "$remote_addr \"x\" ;{}"]
        );
        let server = &http.children()[1];
        assert_eq!(
            (server.line, server.pointer.as_str()),
            (4, "/http/0/server/0")
        );
        assert_eq!(server.children()[0].pointer, "/http/0/server/0/listen/0");
        assert_eq!(server.children()[0].line, 5);
    }

    fn fired(text: &str) -> Vec<(&'static str, String)> {
        let c = NginxConfig::parse(text, "n.conf").unwrap();
        let mut out = Vec::new();
        for rule in NGINX_RULES {
            let mut hits = Vec::new();
            (rule.check)(&c, &mut hits);
            out.extend(hits.into_iter().map(|h| (rule.meta.id, h.pointer)));
        }
        out
    }

    #[test]
    fn redirects_legacy_ssl_and_inherited_settings_are_understood() {
        let text = r#"
http {
  limit_req_zone $binary_remote_addr zone=z:1m rate=1r/s;
  limit_req zone=z;
  server {
    listen 80;
    if ($scheme = http) { return 301 https://$host$request_uri; }
  }
  server {
    listen 8443;
    ssl on;
    grpc_ssl_verify on;
    location /g { grpc_pass grpcs://backend:50051; }
  }
  server {
    location /plain { grpc_pass grpcs://backend:50051; }
  }
}
"#;
        assert_eq!(
            fired(text),
            vec![
                ("GW-C-NGINX-001", "/http/0/server/2".to_owned()),
                (
                    "GW-C-NGINX-002",
                    "/http/0/server/2/location/0/grpc_pass/0".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let err = NginxConfig::parse("http {\n  listen 80\n}\n", "n.conf")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("n.conf:2:") && err.contains("listen"),
            "{err}"
        );
        let err = NginxConfig::parse("http {\n", "n.conf")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not closed"), "{err}");
        let err = NginxConfig::parse("}\n", "n.conf").unwrap_err().to_string();
        assert!(err.starts_with("n.conf:1:"), "{err}");
    }
}
