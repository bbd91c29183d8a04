//! What to simulate: the run's parameters, the attack selection and the scale profiles.

use std::path::PathBuf;

use gw_spec::ApiSpec;
use jiff::{SignedDuration, Timestamp};

use crate::error::SimError;
use crate::scenario::Scenario;

/// Parameters of one simulation run. `Default` gives one day at 20 requests/s from 2,000
/// clients over the built-in APIs, every attack, seed 1, starting 2024-06-03T00:00:00Z (a Monday).
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// APIs to generate traffic for; empty = [`crate::builtin_specs`].
    pub specs: Vec<ApiSpec>,
    /// Start of the simulated period (event time of the first records).
    pub start: Timestamp,
    /// Length of the simulated period.
    pub duration: SignedDuration,
    /// Mean background requests per second over the period (the daily and weekly curve moves
    /// the instantaneous rate around this mean).
    pub rps: f64,
    /// Size of the client population.
    pub clients: u64,
    /// Which attack scenarios to inject.
    pub attacks: AttackSelection,
    pub seed: u64,
    /// A scale profile; when set it replaces `duration`, `rps` and `clients` (scaled by `scale`).
    pub profile: Option<Profile>,
    /// Fraction of the profile to generate (`0 < scale <= 1`); ignored without a profile.
    pub scale: f64,
    /// Directory of attack payload lists (`payloadsallthethings/sqli.txt` ...). `None` = the
    /// first of `../shared/data/injection` and `./shared/data/injection` that exists, else the
    /// small built-in set.
    pub payload_dir: Option<PathBuf>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            specs: Vec::new(),
            start: Timestamp::from_second(1_717_372_800).expect("a valid constant timestamp"),
            duration: SignedDuration::from_hours(24),
            rps: 20.0,
            clients: 2_000,
            attacks: AttackSelection::All,
            seed: 1,
            profile: None,
            scale: 1.0,
            payload_dir: None,
        }
    }
}

/// The attack scenarios to inject.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum AttackSelection {
    /// Background traffic only.
    None,
    #[default]
    All,
    /// These scenarios (in the canonical order of [`Scenario::ALL`] whatever the input order).
    Only(Vec<Scenario>),
}

impl AttackSelection {
    /// Parses `all`, `none` or a comma-separated list of scenario names (`sqli,ip-spike`).
    pub fn parse(list: &str) -> Result<AttackSelection, SimError> {
        match list.trim() {
            "all" => return Ok(AttackSelection::All),
            "none" | "" => return Ok(AttackSelection::None),
            _ => {}
        }
        let mut chosen = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let scenario = Scenario::from_name(name).ok_or_else(|| SimError::UnknownScenario {
                name: name.to_string(),
                known: Scenario::ALL
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
            if !chosen.contains(&scenario) {
                chosen.push(scenario);
            }
        }
        chosen.sort();
        Ok(AttackSelection::Only(chosen))
    }

    /// The selected scenarios in canonical order.
    pub fn scenarios(&self) -> Vec<Scenario> {
        match self {
            AttackSelection::None => Vec::new(),
            AttackSelection::All => Scenario::ALL.to_vec(),
            AttackSelection::Only(list) => {
                let mut list = list.clone();
                list.sort();
                list.dedup();
                list
            }
        }
    }
}

/// A scale scenario reproducing the shape of a real deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Four weeks, 400 million requests, about 5 million distinct client IPs in 60+ countries,
    /// about 1.2 TiB of request + response bytes.
    Defender4w,
}

impl Profile {
    pub fn parse(name: &str) -> Result<Profile, SimError> {
        match name {
            "defender-4w" => Ok(Profile::Defender4w),
            _ => Err(SimError::UnknownProfile {
                name: name.to_string(),
            }),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Profile::Defender4w => "defender-4w",
        }
    }

    /// The full-scale shape: (duration, total requests, clients, total bytes).
    pub fn shape(self) -> ProfileShape {
        match self {
            Profile::Defender4w => ProfileShape {
                duration: SignedDuration::from_hours(24 * 28),
                requests: 400_000_000,
                clients: 5_000_000,
                bytes: 1_319_413_953_331, // 1.2 TiB
            },
        }
    }
}

/// The shape a [`Profile`] reproduces at scale 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProfileShape {
    pub duration: SignedDuration,
    pub requests: u64,
    pub clients: u64,
    /// Request + response bytes (`request.size + response.size`) over the period.
    pub bytes: u64,
}

/// Parses a `--duration` value: a number with a unit `s`, `m`, `h`, `d` or `w` (`24h`, `7d`,
/// `1.5h`), or anything jiff reads as a duration (`PT36H`, `2h 30m`).
pub fn parse_duration(text: &str) -> Result<SignedDuration, SimError> {
    let t = text.trim();
    let invalid = |reason: &str| SimError::InvalidConfig {
        field: "duration",
        reason: format!("{text:?}: {reason}"),
    };
    let unit_seconds = match t.chars().last() {
        Some('s') => Some(1.0),
        Some('m') => Some(60.0),
        Some('h') => Some(3_600.0),
        Some('d') => Some(86_400.0),
        Some('w') => Some(604_800.0),
        _ => None,
    };
    let simple =
        unit_seconds.and_then(|unit| t[..t.len() - 1].parse::<f64>().ok().map(|n| n * unit));
    let duration = match simple {
        Some(secs) if secs.is_finite() && secs > 0.0 && secs < 1e12 => {
            SignedDuration::from_secs_f64(secs)
        }
        Some(_) => return Err(invalid("must be positive")),
        None => t
            .parse::<SignedDuration>()
            .map_err(|e| invalid(&format!("expected e.g. 24h, 7d or 4w ({e})")))?,
    };
    if duration.is_positive() {
        Ok(duration)
    } else {
        Err(invalid("must be positive"))
    }
}

/// The effective run parameters after applying a profile.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Effective {
    pub(crate) start_us: i64,
    pub(crate) duration_us: i64,
    pub(crate) rps: f64,
    pub(crate) clients: u64,
    /// Mean bytes (request + response) a record should account for; `None` = natural sizes.
    pub(crate) target_record_bytes: Option<f64>,
}

impl SimConfig {
    pub(crate) fn effective(&self) -> Result<Effective, SimError> {
        let start_us = self.start.as_microsecond();
        let (duration, rps, clients, target) = match self.profile {
            Some(profile) => {
                if !(self.scale > 0.0 && self.scale <= 1.0) {
                    return Err(SimError::InvalidConfig {
                        field: "scale",
                        reason: format!("expected a fraction in (0, 1], found {}", self.scale),
                    });
                }
                let shape = profile.shape();
                let secs = shape.duration.as_secs_f64();
                let rps = shape.requests as f64 * self.scale / secs;
                let clients = ((shape.clients as f64 * self.scale).round() as u64).max(1);
                (
                    shape.duration,
                    rps,
                    clients,
                    Some(shape.bytes as f64 / shape.requests as f64),
                )
            }
            None => (self.duration, self.rps, self.clients, None),
        };
        if duration.as_secs_f64() <= 0.0 {
            return Err(SimError::InvalidConfig {
                field: "duration",
                reason: format!("must be positive, found {duration}"),
            });
        }
        if !(rps.is_finite() && rps > 0.0) {
            return Err(SimError::InvalidConfig {
                field: "rps",
                reason: format!("must be a positive number, found {rps}"),
            });
        }
        if clients == 0 {
            return Err(SimError::InvalidConfig {
                field: "clients",
                reason: "must be at least 1".to_string(),
            });
        }
        Ok(Effective {
            start_us,
            duration_us: duration.as_micros().clamp(1, i64::MAX as i128) as i64,
            rps,
            clients,
            target_record_bytes: target,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_parse_and_reject_unknown_names() {
        assert_eq!(AttackSelection::parse("all").unwrap(), AttackSelection::All);
        assert_eq!(
            AttackSelection::parse("none").unwrap(),
            AttackSelection::None
        );
        let s = AttackSelection::parse("xss, sqli,xss").unwrap();
        assert_eq!(s.scenarios(), vec![Scenario::Sqli, Scenario::Xss]);
        let err = AttackSelection::parse("sqli,nope").unwrap_err().to_string();
        assert!(
            err.contains("\"nope\"") && err.contains("credential-stuffing"),
            "{err}"
        );
    }

    #[test]
    fn durations_parse() {
        assert_eq!(
            parse_duration("24h").unwrap(),
            SignedDuration::from_hours(24)
        );
        assert_eq!(
            parse_duration("7d").unwrap(),
            SignedDuration::from_hours(168)
        );
        assert_eq!(
            parse_duration("4w").unwrap(),
            SignedDuration::from_hours(672)
        );
        assert_eq!(
            parse_duration("90s").unwrap(),
            SignedDuration::from_secs(90)
        );
        assert_eq!(
            parse_duration("1.5h").unwrap(),
            SignedDuration::from_mins(90)
        );
        assert_eq!(
            parse_duration("PT2H").unwrap(),
            SignedDuration::from_hours(2)
        );
        assert!(parse_duration("-1h").is_err());
        let err = parse_duration("soon").unwrap_err().to_string();
        assert!(err.contains("\"soon\""), "{err}");
    }

    #[test]
    fn the_profile_scales_rate_and_population() {
        let c = SimConfig {
            profile: Some(Profile::Defender4w),
            scale: 0.01,
            ..SimConfig::default()
        };
        let e = c.effective().unwrap();
        assert_eq!(e.clients, 50_000);
        let total = e.rps * e.duration_us as f64 / 1e6;
        assert!((total - 4_000_000.0).abs() < 1.0, "{total}");
        let bad = SimConfig {
            profile: Some(Profile::Defender4w),
            scale: 2.0,
            ..SimConfig::default()
        };
        assert!(bad.effective().is_err());
    }
}
