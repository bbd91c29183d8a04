//! The read-only SQL explorer: documented views every back-end provides under the same names,
//! the result of an ad-hoc query, and the saved queries shipped with Gatewatch.
//!
//! `docs/QUERY.md` documents every view's columns. Saved queries use only those views and
//! portable SQL, so they run unchanged on every back-end.

use serde::{Deserialize, Serialize};

/// The views [`crate::Store::query`] may read, on every back-end. Nothing else is readable.
pub const EXPLORER_VIEWS: &[&str] = &[
    "endpoints",
    "parameters",
    "sensitive_fields",
    "findings",
    "alerts",
    "events",
];

/// The rows an explorer query returned.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QueryResult {
    /// Column names, in select order.
    pub columns: Vec<String>,
    /// At most `max_rows` rows; each value is JSON: null, a number, or a string (text as is,
    /// a blob as lowercase hex).
    pub rows: Vec<Vec<serde_json::Value>>,
    /// More rows were available than `max_rows`.
    pub truncated: bool,
}

/// A named query shipped with Gatewatch (`gatewatch query --saved NAME`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SavedQuery {
    /// Kebab-case name.
    pub name: &'static str,
    /// One line on what it finds.
    pub description: &'static str,
    /// One SELECT over the explorer views.
    pub sql: &'static str,
}

/// The saved queries, by name.
pub static SAVED_QUERIES: &[SavedQuery] = &[
    SavedQuery {
        name: "exposed-unauthenticated-sensitive",
        description: "Internet-exposed endpoints that answered unauthenticated calls successfully \
                      and carry sensitive data.",
        sql: "SELECT e.id, e.host, e.method, e.template, e.public_calls,
                     e.unauthenticated_success, e.sensitive_kinds,
                     (SELECT MAX(s.sensitivity) FROM sensitive_fields s
                       WHERE s.endpoint_id = e.id) AS max_sensitivity
                FROM endpoints e
               WHERE e.external = 1
                 AND e.unauthenticated_success > 0
                 AND (e.sensitive_kinds IS NOT NULL
                      OR EXISTS (SELECT 1 FROM sensitive_fields s WHERE s.endpoint_id = e.id))
               ORDER BY e.public_calls DESC, e.id",
    },
    SavedQuery {
        name: "unauthenticated-endpoints",
        description: "Endpoints that answered calls without credentials with a 2xx or 3xx.",
        sql: "SELECT id, host, method, template, calls, unauthenticated_success, auth_types,
                     external
                FROM endpoints
               WHERE unauthenticated_success > 0
               ORDER BY unauthenticated_success DESC, id",
    },
    SavedQuery {
        name: "sensitive-endpoints",
        description: "Endpoints where sensitive data was seen, most sensitive first.",
        sql: "SELECT endpoint_id, host, method, template, COUNT(*) AS fields,
                     MAX(sensitivity) AS max_sensitivity, SUM(count) AS sightings,
                     MAX(last_seen) AS last_seen
                FROM sensitive_fields
               GROUP BY endpoint_id, host, method, template
               ORDER BY max_sensitivity DESC, sightings DESC, endpoint_id",
    },
    SavedQuery {
        name: "shadow-endpoints",
        description: "Endpoints called in traffic but declared by no imported spec.",
        sql: "SELECT id, host, method, template, calls, first_seen, last_seen, external
                FROM endpoints
               WHERE spec_status = 'shadow'
               ORDER BY calls DESC, id",
    },
    SavedQuery {
        name: "dormant-endpoints",
        description: "Known endpoints without traffic for 30 days of event time.",
        sql: "SELECT id, host, method, template, calls, last_seen, matched_by
                FROM endpoints
               WHERE spec_status = 'dormant'
               ORDER BY last_seen, id",
    },
    SavedQuery {
        name: "top-alerted-endpoints",
        description: "Endpoints with the most threat alerts.",
        sql: "SELECT endpoint_id, endpoint_host, endpoint_method, endpoint_template,
                     COUNT(*) AS alerts, SUM(count) AS hits, MAX(severity_rank) AS max_severity_rank
                FROM alerts
               WHERE endpoint_id IS NOT NULL
               GROUP BY endpoint_id, endpoint_host, endpoint_method, endpoint_template
               ORDER BY alerts DESC, hits DESC, endpoint_id
               LIMIT 20",
    },
    SavedQuery {
        name: "open-alerts-by-rule",
        description: "Open threat alerts per rule.",
        sql: "SELECT rule_id, COUNT(*) AS alerts, SUM(count) AS hits,
                     MAX(severity_rank) AS max_severity_rank, MAX(last_seen) AS last_seen
                FROM alerts
               WHERE status = 'open'
               GROUP BY rule_id
               ORDER BY alerts DESC, rule_id",
    },
    SavedQuery {
        name: "sensitive-fields-in-url",
        description: "Sensitive data carried in the path or query string (logged by every proxy).",
        sql: "SELECT endpoint_id, host, method, template, location, field, kind, count,
                     sensitivity, last_seen
                FROM sensitive_fields
               WHERE location IN ('path', 'query')
               ORDER BY sensitivity DESC, count DESC, endpoint_id, field",
    },
];

/// The saved query called `name`.
pub fn saved_query(name: &str) -> Option<&'static SavedQuery> {
    SAVED_QUERIES.iter().find(|q| q.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_query_names_are_unique_and_kebab_case() {
        let mut names: Vec<&str> = SAVED_QUERIES.iter().map(|q| q.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SAVED_QUERIES.len());
        for q in SAVED_QUERIES {
            assert!(
                q.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{}",
                q.name
            );
            assert!(q.sql.trim_start().starts_with("SELECT"), "{}", q.name);
        }
        assert_eq!(
            saved_query("shadow-endpoints").map(|q| q.name),
            Some("shadow-endpoints")
        );
        assert!(saved_query("nope").is_none());
    }
}
