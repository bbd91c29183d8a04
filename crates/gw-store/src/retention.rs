//! How long personal data may stay in the store, and what a retention pass removed.
//!
//! The limits are product promises (ARCHITECTURE.md, "What is stored"): client IPs at most
//! 30 days, bodies at most 48 hours. An operator may lower them, never raise them. Ages are
//! measured in event time: "now" is the event-time watermark, so replaying old logs ages data
//! exactly as watching them live would.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};

/// Upper bound of [`RetentionPolicy::client_ip_days`].
pub const MAX_CLIENT_IP_DAYS: u32 = 30;
/// Upper bound of [`RetentionPolicy::body_hours`].
pub const MAX_BODY_HOURS: u32 = 48;

const MICROS_PER_HOUR: i64 = 3_600_000_000;
const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// Retention limits, as read from the `[retention]` config table.
///
/// A value of 0 keeps nothing of that kind past the next retention pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionPolicy {
    /// Exchanges and detection events (which hold client IPs) and the IPs in findings are kept
    /// at most this many days after their event time. At most [`MAX_CLIENT_IP_DAYS`].
    pub client_ip_days: u32,
    /// Captured bodies are kept at most this many hours after their event time.
    /// At most [`MAX_BODY_HOURS`].
    pub body_hours: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            client_ip_days: MAX_CLIENT_IP_DAYS,
            body_hours: MAX_BODY_HOURS,
        }
    }
}

impl RetentionPolicy {
    /// A validated policy.
    pub fn new(client_ip_days: u32, body_hours: u32) -> Result<Self> {
        let policy = RetentionPolicy {
            client_ip_days,
            body_hours,
        };
        policy.validate()?;
        Ok(policy)
    }

    /// Refuses a limit above the product maximum, naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.client_ip_days > MAX_CLIENT_IP_DAYS {
            return Err(StoreError::InvalidPolicy {
                field: "client_ip_days",
                value: self.client_ip_days,
                max: MAX_CLIENT_IP_DAYS,
                unit: "days",
            });
        }
        if self.body_hours > MAX_BODY_HOURS {
            return Err(StoreError::InvalidPolicy {
                field: "body_hours",
                value: self.body_hours,
                max: MAX_BODY_HOURS,
                unit: "hours",
            });
        }
        Ok(())
    }

    /// Records observed strictly before this instant (microseconds since the epoch) have held
    /// their client IPs too long. Data exactly at the limit is kept.
    pub fn client_ip_cutoff_us(&self, now: Timestamp) -> i64 {
        now.as_microsecond()
            .saturating_sub(i64::from(self.client_ip_days) * MICROS_PER_DAY)
    }

    /// Bodies observed strictly before this instant (microseconds since the epoch) are too old.
    pub fn body_cutoff_us(&self, now: Timestamp) -> i64 {
        now.as_microsecond()
            .saturating_sub(i64::from(self.body_hours) * MICROS_PER_HOUR)
    }
}

/// What one retention pass removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionReport {
    /// Stored bodies older than `body_hours`.
    pub bodies_deleted: u64,
    /// Exchange rows (each holds client IPs) older than `client_ip_days`.
    pub exchanges_deleted: u64,
    /// Findings last seen more than `client_ip_days` ago whose actor IP was cleared.
    pub finding_ips_cleared: u64,
    /// Detection events (each holds a client IP) older than `client_ip_days`.
    pub events_deleted: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_product_maxima() {
        let p = RetentionPolicy::default();
        assert_eq!((p.client_ip_days, p.body_hours), (30, 48));
        p.validate().unwrap();
    }

    #[test]
    fn a_limit_above_the_maximum_names_its_field() {
        let err = RetentionPolicy::new(31, 48).unwrap_err().to_string();
        assert!(
            err.contains("`client_ip_days` is 31") && err.contains("30 days"),
            "{err}"
        );
        let err = RetentionPolicy::new(30, 49).unwrap_err().to_string();
        assert!(
            err.contains("`body_hours` is 49") && err.contains("48 hours"),
            "{err}"
        );
        RetentionPolicy::new(0, 0).unwrap();
    }

    #[test]
    fn config_rejects_unknown_keys_and_fills_defaults() {
        let p: RetentionPolicy = serde_json::from_str(r#"{"body_hours": 12}"#).unwrap();
        assert_eq!(p, RetentionPolicy::new(30, 12).unwrap());
        let err = serde_json::from_str::<RetentionPolicy>(r#"{"ip_days": 3}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `ip_days`"), "{err}");
    }

    #[test]
    fn cutoffs_count_back_from_event_time() {
        let now = Timestamp::from_second(100 * 86_400).unwrap();
        let p = RetentionPolicy::new(30, 48).unwrap();
        assert_eq!(p.client_ip_cutoff_us(now), 70 * MICROS_PER_DAY);
        assert_eq!(p.body_cutoff_us(now), 98 * MICROS_PER_DAY);
        let early = Timestamp::MIN;
        assert!(p.client_ip_cutoff_us(early) <= early.as_microsecond());
    }
}
