//! The attack scenarios: names, the rule each should trigger, and the ground-truth record.

use std::net::IpAddr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One attack scenario the simulator can inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    PopulationSpike,
    IpSpike,
    IdentitySpike,
    EndpointSpray,
    ParamEnumeration,
    DistributedEnumeration,
    LargeRequest,
    LargeResponse,
    LatencySpike,
    UnseenParam,
    ParamType,
    Sqli,
    Xss,
    Cmdi,
    Traversal,
    Ssrf,
    BruteForce,
    CredentialStuffing,
    TorExit,
    MaliciousIp,
    SuspiciousUa,
    ShadowAccess,
}

impl Scenario {
    pub const ALL: [Scenario; 22] = [
        Scenario::PopulationSpike,
        Scenario::IpSpike,
        Scenario::IdentitySpike,
        Scenario::EndpointSpray,
        Scenario::ParamEnumeration,
        Scenario::DistributedEnumeration,
        Scenario::LargeRequest,
        Scenario::LargeResponse,
        Scenario::LatencySpike,
        Scenario::UnseenParam,
        Scenario::ParamType,
        Scenario::Sqli,
        Scenario::Xss,
        Scenario::Cmdi,
        Scenario::Traversal,
        Scenario::Ssrf,
        Scenario::BruteForce,
        Scenario::CredentialStuffing,
        Scenario::TorExit,
        Scenario::MaliciousIp,
        Scenario::SuspiciousUa,
        Scenario::ShadowAccess,
    ];

    /// The kebab-case name used by `--attacks` and in the truth file.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::PopulationSpike => "population-spike",
            Scenario::IpSpike => "ip-spike",
            Scenario::IdentitySpike => "identity-spike",
            Scenario::EndpointSpray => "endpoint-spray",
            Scenario::ParamEnumeration => "param-enumeration",
            Scenario::DistributedEnumeration => "distributed-enumeration",
            Scenario::LargeRequest => "large-request",
            Scenario::LargeResponse => "large-response",
            Scenario::LatencySpike => "latency-spike",
            Scenario::UnseenParam => "unseen-param",
            Scenario::ParamType => "param-type",
            Scenario::Sqli => "sqli",
            Scenario::Xss => "xss",
            Scenario::Cmdi => "cmdi",
            Scenario::Traversal => "traversal",
            Scenario::Ssrf => "ssrf",
            Scenario::BruteForce => "brute-force",
            Scenario::CredentialStuffing => "credential-stuffing",
            Scenario::TorExit => "tor-exit",
            Scenario::MaliciousIp => "malicious-ip",
            Scenario::SuspiciousUa => "suspicious-ua",
            Scenario::ShadowAccess => "shadow-access",
        }
    }

    /// The detection rule id the scenario should trigger.
    pub fn kind(self) -> &'static str {
        match self {
            Scenario::PopulationSpike => "GW-T-POPULATION-SPIKE",
            Scenario::IpSpike => "GW-T-IP-SPIKE",
            Scenario::IdentitySpike => "GW-T-IDENTITY-SPIKE",
            Scenario::EndpointSpray => "GW-T-ENDPOINT-SPRAY",
            Scenario::ParamEnumeration => "GW-T-PARAM-ENUMERATION",
            Scenario::DistributedEnumeration => "GW-T-DISTRIBUTED-ENUMERATION",
            Scenario::LargeRequest => "GW-T-LARGE-REQUEST",
            Scenario::LargeResponse => "GW-T-LARGE-RESPONSE",
            Scenario::LatencySpike => "GW-T-LATENCY-SPIKE",
            Scenario::UnseenParam => "GW-T-UNSEEN-PARAM",
            Scenario::ParamType => "GW-T-PARAM-TYPE",
            Scenario::Sqli => "GW-T-SQLI",
            Scenario::Xss => "GW-T-XSS",
            Scenario::Cmdi => "GW-T-CMDI",
            Scenario::Traversal => "GW-T-TRAVERSAL",
            Scenario::Ssrf => "GW-T-SSRF",
            Scenario::BruteForce => "GW-T-BRUTE-FORCE",
            Scenario::CredentialStuffing => "GW-T-CREDENTIAL-STUFFING",
            Scenario::TorExit => "GW-T-TOR-EXIT",
            Scenario::MaliciousIp => "GW-T-MALICIOUS-IP",
            Scenario::SuspiciousUa => "GW-T-SUSPICIOUS-UA",
            Scenario::ShadowAccess => "GW-T-SHADOW-ACCESS",
        }
    }

    pub fn from_name(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Position in [`Scenario::ALL`]; keys the scenario's own random stream and time slot, so
    /// selecting a subset does not move the others.
    pub(crate) fn ordinal(self) -> usize {
        Scenario::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }
}

/// Ground truth for one injected scenario: one JSON line of the `--truth` file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TruthEntry {
    pub scenario: String,
    /// The rule id that should fire (`GW-T-SQLI`).
    pub kind: String,
    /// The attack window: every labelled record has `start <= observed_at <= end`.
    pub start: Timestamp,
    pub end: Timestamp,
    pub actor: TruthActor,
    /// The targeted endpoint; `None` when the scenario touches many endpoints (spray, spikes).
    pub endpoint: Option<TruthEndpoint>,
    /// Ids of every record the scenario produced, in output order.
    pub record_ids: Vec<String>,
    pub count: u64,
}

/// Who attacked: one IP and/or one identity; `null` when the scenario is distributed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthActor {
    pub ip: Option<IpAddr>,
    /// `Identity::actor_key` of the records: JWT `sub@iss`, or the API consumer id.
    pub identity: Option<String>,
}

/// An endpoint as the spec declares it (host + method + full path template).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthEndpoint {
    pub method: String,
    pub template: String,
    pub host: String,
}
