//! Saving and loading the inventory through the [`gw_store::Store`]: changed endpoints are
//! written in batches, and a restart continues from what was stored.

use gw_spec::ApiSpec;
use gw_store::{InventoryWriteReport, Store, StoredEndpoint};

use crate::config::DiscoveryConfig;
use crate::discovery::Discovery;
use crate::error::DiscoverError;
use crate::inventory::EndpointState;

/// The stored form of an endpoint state.
pub fn to_stored(e: &EndpointState) -> Result<StoredEndpoint, DiscoverError> {
    let state = serde_json::to_value(e).map_err(|err| DiscoverError::InvalidStoredEndpoint {
        id: e.id.clone(),
        method: e.method.as_str().to_string(),
        template: e.template.clone(),
        reason: format!("cannot encode the state: {err}"),
    })?;
    Ok(StoredEndpoint {
        id: e.id.clone(),
        api: e.api.clone(),
        host: e.host.clone(),
        method: e.method.as_str().to_string(),
        template: e.template.clone(),
        first_seen: e.first_seen,
        last_seen: e.last_seen,
        calls: e.calls,
        state,
    })
}

/// An endpoint state back from its stored form.
pub fn from_stored(row: StoredEndpoint) -> Result<EndpointState, DiscoverError> {
    let StoredEndpoint {
        id,
        method,
        template,
        state,
        ..
    } = row;
    serde_json::from_value(state).map_err(|err| DiscoverError::InvalidStoredEndpoint {
        id,
        method,
        template,
        reason: format!("unreadable state: {err}"),
    })
}

impl Discovery {
    /// Writes the endpoints changed since the last save (and deletes merged ones) in one batch.
    pub fn save(&mut self, store: &mut dyn Store) -> Result<InventoryWriteReport, DiscoverError> {
        let changes = self.changed_since_last_save();
        if changes.is_empty() {
            return Ok(InventoryWriteReport::default());
        }
        let rows = changes
            .upserts
            .iter()
            .map(to_stored)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(store.save_endpoints(&rows, &changes.removed)?)
    }

    /// A discovery continuing from the inventory stored for `api` (every API for `None`).
    pub fn load(
        config: DiscoveryConfig,
        specs: Vec<ApiSpec>,
        store: &dyn Store,
        api: Option<&str>,
    ) -> Result<Discovery, DiscoverError> {
        let rows = store
            .load_endpoints(api)?
            .into_iter()
            .map(from_stored)
            .collect::<Result<Vec<_>, _>>()?;
        Discovery::restore(config, specs, rows)
    }
}
