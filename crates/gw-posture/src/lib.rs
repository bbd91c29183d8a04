//! Posture assessment for Gatewatch: an audit of imported OpenAPI documents, checks of exported
//! gateway configurations (Azure API Management ARM/Bicep JSON, Kong declarative config, nginx,
//! Envoy), rules over the traffic inventory, risk scoring of endpoints and APIs, and SARIF 2.1.0
//! output.
//!
//! Every check is a small rule in a static registry ([`SPEC_RULES`], [`config::APIM_RULES`],
//! [`config::KONG_RULES`], [`config::NGINX_RULES`], [`config::ENVOY_RULES`],
//! [`INVENTORY_RULES`]) producing [`gw_model::Finding`]s of kind `posture`, fingerprinted by
//! rule + file + JSON pointer. Spec and configuration findings have analytic `config` and carry
//! the Unix epoch as `first_seen`/`last_seen` for the caller to stamp. Inventory findings
//! ([`assess_inventory`]) have analytic `behavioral`, the file `inventory` with pointer
//! `/endpoints/<endpoint id>` (so rule + endpoint id fingerprints them), the endpoint set and its
//! event-time range. The crate is pure and synchronous: it reads the file it is given and
//! nothing else, uses no clock, and sees traffic only through the inventory state it is handed.
//!
//! A finding's first evidence sample has `location = "<file>#<JSON pointer>"` (for nginx, a
//! directive path such as `/http/0/server/1/listen/0`) and, when the node was located in the
//! source, `evidence.metrics.extra` holds [`EXTRA_SOURCE_LINE`] / [`EXTRA_SOURCE_COLUMN`];
//! [`to_sarif`] reads both.
//!
//! ## Adding a rule
//! A rule is a [`Rule`] value — [`RuleMeta`] (stable id, name, severity, OWASP mapping, summary,
//! remediation, references) plus one check function that pushes [`Hit`]s — listed in a static
//! slice. A spec rule is one more entry in [`SPEC_RULES`]; a gateway rule one more entry in its
//! gateway's slice; an inventory rule one more entry in [`INVENTORY_RULES`], a function over an
//! [`EndpointView`] (one endpoint plus the [`InventoryContext`]).
//!
//! ```
//! use gw_posture::{ConfigSource, check_gateway_config, to_sarif};
//! let kong = br#"
//! _format_version: "3.0"
//! services:
//!   - name: orders
//!     url: https://orders.internal:8443
//!     tls_verify: false
//!     routes: [ { name: orders, paths: [/orders], protocols: [https] } ]
//! plugins: [ { name: key-auth }, { name: rate-limiting, config: { minute: 60 } } ]
//! "#;
//! let findings = check_gateway_config(ConfigSource::Bytes { bytes: kong, file_name: "kong.yml" }, None)?;
//! assert_eq!(findings.len(), 1);
//! assert_eq!(findings[0].rule.id, "GW-C-KONG-003");
//! assert_eq!(findings[0].evidence.samples[0].location.as_deref(), Some("kong.yml#/services/0/tls_verify"));
//! let sarif = to_sarif(&findings, "0.1.0");
//! assert_eq!(sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"], 6);
//! # Ok::<(), gw_posture::PostureError>(())
//! ```

pub mod config;
pub mod endpoint_risk;
mod error;
pub mod inventory;
mod locate;
pub mod risk;
mod rule;
pub mod sarif;
pub mod spec_audit;

pub use config::{ConfigSource, GatewayKind, check_gateway_config, detect_kind};
pub use endpoint_risk::{
    ApiRisk, RankedEndpoint, RankedFinding, endpoint_authentication, endpoint_exposure,
    endpoint_risk_input, rank, rank_endpoints, score_api, score_apis, score_endpoint,
    score_endpoint_with_alerts,
};
pub use error::PostureError;
pub use inventory::{
    DEFAULT_BURST_PER_MINUTE, EndpointView, INVENTORY_FILE, INVENTORY_RULES, InventoryContext,
    InventoryRule, assess_inventory,
};
pub use locate::{SourceIndex, locate_pointer, pointer_tokens};
pub use risk::{
    AlertCounts, Authentication, Exposure, RiskFactor, RiskInput, RiskScore, score_risk,
    sensitivity_tier,
};
pub use rule::{
    ConfigRule, EXTRA_SOURCE_COLUMN, EXTRA_SOURCE_LINE, Hit, Rule, RuleMeta, SourcePosition,
    collect_findings, escape_token, fingerprint, split_location,
};
pub use sarif::{all_rule_metas, to_sarif};
pub use spec_audit::{SPEC_RULES, SpecContext, SpecRule, audit_spec, audit_spec_file};
