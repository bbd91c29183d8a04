//! HTTP methods as a small closed set, so per-node endpoint lists stay tiny and a scanner
//! sending made-up methods cannot grow the inventory.

use serde::{Deserialize, Serialize};

/// A request method; anything outside the standard set is [`Method::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Put,
    Post,
    Delete,
    Options,
    Head,
    Patch,
    Trace,
    Connect,
    Query,
    Other,
}

impl Method {
    /// Parses a method case-insensitively; unknown names are [`Method::Other`].
    pub fn parse(name: &str) -> Method {
        match name {
            "GET" => return Method::Get,
            "POST" => return Method::Post,
            _ => {}
        }
        const TABLE: [(&str, Method); 10] = [
            ("GET", Method::Get),
            ("PUT", Method::Put),
            ("POST", Method::Post),
            ("DELETE", Method::Delete),
            ("OPTIONS", Method::Options),
            ("HEAD", Method::Head),
            ("PATCH", Method::Patch),
            ("TRACE", Method::Trace),
            ("CONNECT", Method::Connect),
            ("QUERY", Method::Query),
        ];
        TABLE
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or(Method::Other, |(_, m)| *m)
    }

    /// Upper-case name (`OTHER` for non-standard methods).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Head => "HEAD",
            Method::Patch => "PATCH",
            Method::Trace => "TRACE",
            Method::Connect => "CONNECT",
            Method::Query => "QUERY",
            Method::Other => "OTHER",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Method;

    #[test]
    fn methods_parse_case_insensitively_and_unknown_ones_fold() {
        assert_eq!(Method::parse("get"), Method::Get);
        assert_eq!(Method::parse("PATCH"), Method::Patch);
        assert_eq!(Method::parse("FOO"), Method::Other);
        assert_eq!(Method::parse("get").as_str(), "GET");
        assert_eq!(
            serde_json::to_string(&Method::Delete).unwrap(),
            "\"DELETE\""
        );
    }
}
