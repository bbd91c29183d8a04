//! API discovery and inventory for Gatewatch.
//!
//! This crate owns turning traffic into an inventory: path templating learned online from
//! concrete paths ([`learn`]: `/users/42/orders/7` → `/users/{userId}/orders/{orderId}`), the
//! router that maps every record to an endpoint — the declared operation when a spec covers it,
//! the learned template otherwise — the per-endpoint inventory state (traffic, parameters,
//! authentication, exposure, sensitive data, spec status), its persistence through
//! [`gw_store::Store`], the inventory views printed by the CLI and the OpenAPI document
//! reconstructed from traffic. It sets the derived `endpoint` and `params` fields of each
//! [`gw_model::Exchange`] so later stages key on endpoints.
//!
//! It must not: read the wall clock (dormancy is evaluated at an event time the caller passes),
//! hold values from traffic (only names, types, counts and shapes), grow with the number of
//! records (every structure is bounded by endpoints), or parse API descriptions (that is
//! gw-spec) or raise findings (posture rules consume the inventory).
//!
//! Partitioning: the pipeline partitions records by API (host + first path segment) and gives
//! each partition its own [`Discovery`]; templating state for a host's first segment is then
//! local to one worker. See [`merge_inventories`] for the install-wide view.

mod config;
mod discovery;
mod error;
mod fxhash;
mod inventory;
pub mod learn;
mod method;
mod openapi;
mod persist;
mod render;
mod router;
mod schema;
mod segment;

pub use config::DiscoveryConfig;
pub use discovery::{ANY_HOST, Discovery, InventoryChanges, UNKNOWN_HOST, merge_inventories};
pub use error::DiscoverError;
pub use inventory::{
    EndpointState, Exposure, ObservedParam, SpecStatus, StatusClasses, classify_ip, endpoint_id,
    learned_api,
};
pub use inventory::{JWT_WEAKNESS_LABEL, RateObservation, WeakAuth, verbose_error_patterns};
pub use learn::LearnedPath;
pub use method::Method;
pub use openapi::export_openapi;
pub use persist::{from_stored, to_stored};
pub use render::{InventoryRow, filter_api, render_csv, render_table, sort_rows};
pub use router::SpecDeclaration;
pub use schema::InferredSchema;
pub use segment::{SegmentClass, TypeSet, ValueType, classify_segment, value_type};
