//! Who is reporting: the product, vendor, version and host stamped on every exported record.

/// Identity of the reporting Gatewatch instance, stamped on every exported record.
///
/// Passed in rather than read from the environment so that output is deterministic and golden
/// files do not change with the build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Producer {
    /// `gatewatch`.
    pub product_name: String,
    /// `Gatewatch project`.
    pub vendor_name: String,
    /// The binary's version, e.g. `0.1.0`.
    pub product_version: String,
    /// Host name of the reporting instance (syslog HOSTNAME, HEC `host`, CEF `dvchost`).
    pub hostname: Option<String>,
    /// OCSF schema version written to `metadata.version`; default [`Producer::OCSF_VERSION`].
    pub ocsf_version: String,
}

impl Producer {
    /// The OCSF release the emitted events follow (they also carry every attribute that
    /// 1.1–1.3 required, so older validators accept them).
    pub const OCSF_VERSION: &'static str = "1.8.0";

    /// Gatewatch as the product, at `product_version`, with no host name.
    pub fn new(product_version: &str) -> Self {
        Producer {
            product_name: "gatewatch".to_string(),
            vendor_name: "Gatewatch project".to_string(),
            product_version: product_version.to_string(),
            hostname: None,
            ocsf_version: Self::OCSF_VERSION.to_string(),
        }
    }

    /// Sets the reporting host name.
    pub fn with_hostname(mut self, hostname: &str) -> Self {
        self.hostname = Some(hostname.to_string());
        self
    }
}
