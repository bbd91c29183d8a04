//! Attack scenarios as finite streams merged into the background: each is planned once (target
//! endpoint, actors, window, record count) and then yields records in time order. A stream's
//! state is a cursor; its size does not depend on the simulated duration.

use std::net::{IpAddr, Ipv4Addr};

use gw_model::{Exchange, Header};
use jiff::Timestamp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::background::{OpTable, Routing};
use crate::encode::component;
use crate::keyed::hash3;
use crate::payloads::{Family, Payloads};
use crate::population::unit;
use crate::record::{
    Actor, World, finish_sizes, latency_ms, round3, set_request_body, set_response, truncated_body,
};
use crate::scenario::{Scenario, TruthActor, TruthEndpoint, TruthEntry};
use crate::template::{AuthStyle, OpTemplate, PathPart};
use crate::values::{ValueKind, push_alnum, push_email};

const MINUTE_US: i64 = 60_000_000;
/// Bodies larger than this are captured truncated, like a gateway's capture limit.
const CAPTURE_LIMIT: usize = 64 * 1024;

/// User agents of automated attackers that do not announce themselves.
const PLAIN_TOOL_UAS: &[&str] = &[
    "python-requests/2.31.0",
    "curl/8.5.0",
    "Go-http-client/1.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
];
/// Self-announcing scanners and a script URL as a user agent.
const SCANNER_UAS: &[&str] = &[
    "sqlmap/1.7.2#stable (https://sqlmap.org)",
    "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000003)",
    "javascript:alert(document.domain)",
    "Mozilla/5.0 (compatible; Nuclei - Open-source project (github.com/projectdiscovery/nuclei))",
    "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
    "WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)",
];
const UNSEEN_PARAMS: &[&str] = &[
    "debug=true",
    "admin=1",
    "include_deleted=true",
    "_internal=1",
    "role=admin",
    "fields=password_hash",
];
/// Values of the wrong JSON type for a string field.
const WRONG_TYPED_JSON: &[&str] = &[
    "12345",
    "true",
    "[1,2,3]",
    "{\"$ne\":null}",
    "null",
    "-1.5e10",
    "[]",
    "{}",
];
const WRONG_TYPED_VALUES: &[&str] = &[
    "abc", "1e309", "true", "null", "[]", "12abc", "-", "NaN", "0x1F", "{}",
];

/// The attacker address `j` of scenario `ordinal` (91.240.0.0/16: never used by the background).
pub(crate) fn attacker_ip(ordinal: usize, j: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(91, 240, ordinal as u8, 10 + (j % 240) as u8))
}

/// TOR exit addresses the simulator lists and uses (185.220.101.16 - .47).
pub(crate) fn tor_exit_ips() -> Vec<IpAddr> {
    (16..48)
        .map(|h| IpAddr::V4(Ipv4Addr::new(185, 220, 101, h)))
        .collect()
}

/// Known-malicious addresses the simulator lists and uses (45.143.203.8 - .39).
pub(crate) fn malicious_ips() -> Vec<IpAddr> {
    (8..40)
        .map(|h| IpAddr::V4(Ipv4Addr::new(45, 143, 203, h)))
        .collect()
}

/// Where an injection payload goes.
#[derive(Clone, Debug)]
enum Slot {
    Query(String),
    Body(String),
    /// A body field that receives a raw JSON value (of the wrong type) instead of a string.
    BodyRaw(String),
    Path,
}

/// Scenario-specific plan details.
#[derive(Clone, Debug)]
enum Plan {
    /// Normal calls to one operation from the population (spikes, latency).
    Population {
        op: usize,
        latency: bool,
    },
    /// One actor over a traffic mix.
    Mix {
        ops: OpTable,
        ip: IpAddr,
        user_agent: &'static str,
        user: Option<u64>,
    },
    /// One identity from many addresses.
    IdentityMix {
        ops: Vec<usize>,
        ips: Vec<IpAddr>,
        user: u64,
    },
    /// One address over every declared operation.
    Spray {
        ops: Vec<usize>,
        ip: IpAddr,
    },
    /// Successive ids on one operation, from one or many addresses.
    Enumerate {
        op: usize,
        ips: Vec<IpAddr>,
        base: i64,
    },
    LargeRequest {
        op: usize,
        ip: IpAddr,
        user: u64,
    },
    LargeResponse {
        op: usize,
        ip: IpAddr,
        user: u64,
    },
    UnseenParam {
        op: usize,
        ip: IpAddr,
        user: u64,
    },
    ParamType {
        op: usize,
        slot: Slot,
        ip: IpAddr,
        user: u64,
    },
    Inject {
        op: usize,
        slot: Slot,
        payloads: Vec<String>,
        ip: IpAddr,
        user: u64,
        user_agent: &'static str,
    },
    Login {
        op: usize,
        ips: Vec<IpAddr>,
        user_field: String,
        pass_field: String,
        single_victim: bool,
    },
    Scanner {
        ops: OpTable,
        ip: IpAddr,
    },
    Shadow {
        op: usize,
        ip: IpAddr,
        user: u64,
    },
}

/// One planned scenario and its cursor.
#[derive(Debug)]
pub(crate) struct AttackStream {
    start_us: i64,
    window_us: i64,
    count: u64,
    next_k: u64,
    key: u64,
    rng: ChaCha8Rng,
    plan: Plan,
    /// Index of this stream's entry in the simulator's truth list.
    pub(crate) truth_index: usize,
}

/// The inputs planning needs.
pub(crate) struct PlanCtx<'a> {
    pub(crate) world: &'a World,
    pub(crate) routing: &'a Routing,
    pub(crate) payloads: &'a Payloads,
    pub(crate) start_us: i64,
    pub(crate) duration_us: i64,
    pub(crate) rps: f64,
    pub(crate) shadow_op: usize,
}

impl AttackStream {
    /// The event time of the next record, `None` when the stream is done.
    pub(crate) fn next_time(&self) -> Option<i64> {
        (self.next_k < self.count).then(|| self.time_of(self.next_k))
    }

    fn time_of(&self, k: u64) -> i64 {
        let jitter = unit(hash3(self.key, 0x7e, k)) * 0.999;
        self.start_us + ((k as f64 + jitter) / self.count as f64 * self.window_us as f64) as i64
    }

    /// Planned record count.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// Produces the next record (call only when [`AttackStream::next_time`] is `Some`).
    pub(crate) fn generate(&mut self, world: &World) -> Exchange {
        let k = self.next_k;
        let at = self.time_of(k);
        self.next_k += 1;
        let rng = &mut self.rng;
        match &self.plan {
            Plan::Population { op, latency } => {
                let client = world
                    .population
                    .client(rng.random_range(0..world.population.size()));
                let actor = Actor {
                    ip: client.ip,
                    user_agent: client.user_agent,
                    user: client.user,
                };
                let mut x = world.call(rng, *op, &actor, at);
                if *latency {
                    let slow = round3(rng.random_range(2_000.0..9_000.0));
                    x.duration_ms = Some(slow);
                    x.upstream_duration_ms = Some(round3(slow * 0.98));
                    if rng.random_bool(0.15) {
                        set_response(
                            &mut x,
                            504,
                            Some("{\"error\":\"upstream_timeout\",\"status\":504}".to_string()),
                        );
                        finish_sizes(&mut x);
                    }
                }
                x
            }
            Plan::Mix {
                ops,
                ip,
                user_agent,
                user,
            } => {
                let op = ops.sample(rng.random()).unwrap_or(0);
                world.call(
                    rng,
                    op,
                    &Actor {
                        ip: *ip,
                        user_agent,
                        user: *user,
                    },
                    at,
                )
            }
            Plan::IdentityMix { ops, ips, user } => {
                let op = ops[rng.random_range(0..ops.len())];
                let ip = ips[rng.random_range(0..ips.len())];
                let ua = "okhttp/4.12.0";
                world.call(
                    rng,
                    op,
                    &Actor {
                        ip,
                        user_agent: ua,
                        user: Some(*user),
                    },
                    at,
                )
            }
            Plan::Spray { ops, ip } => {
                let op = ops[(k as usize) % ops.len()];
                let mut x = world.call(
                    rng,
                    op,
                    &Actor {
                        ip: *ip,
                        user_agent: "Go-http-client/1.1",
                        user: None,
                    },
                    at,
                );
                if x.response.status == Some(world.ops[op].success_status) && rng.random_bool(0.5) {
                    set_response(
                        &mut x,
                        404,
                        Some("{\"error\":\"not_found\",\"status\":404}".to_string()),
                    );
                    finish_sizes(&mut x);
                }
                x
            }
            Plan::Enumerate { op, ips, base } => {
                let j = (k as usize) % ips.len();
                let ip = ips[j];
                let user = enumerator_account(self.key, j);
                let actor = Actor {
                    ip,
                    user_agent: PLAIN_TOOL_UAS[j % 2],
                    user: Some(user),
                };
                let mut x = world.call(rng, *op, &actor, at);
                let id_value = enumerated_value(&world.ops[*op], base + k as i64, rng);
                let mut path = String::new();
                world.ops[*op].render_path(rng, at / 1_000_000, Some(&id_value), &mut path);
                x.request.path = path;
                let status = match rng.random_range(0..20u8) {
                    0..=10 => world.ops[*op].success_status,
                    11..=17 => 404,
                    _ => 403,
                };
                if x.response.status != Some(status) {
                    let current = x.response.body.as_ref().and_then(|b| b.content.clone());
                    let body = (status >= 400)
                        .then(|| format!("{{\"error\":\"denied\",\"status\":{status}}}"));
                    set_response(&mut x, status, body.or(current));
                }
                finish_sizes(&mut x);
                x
            }
            Plan::LargeRequest { op, ip, user } => {
                let mut x = world.call(
                    rng,
                    *op,
                    &Actor {
                        ip: *ip,
                        user_agent: PLAIN_TOOL_UAS[0],
                        user: Some(*user),
                    },
                    at,
                );
                let real = rng.random_range(2_000_000..8_000_000u64);
                let mut content = String::with_capacity(CAPTURE_LIMIT);
                content.push_str("{\"data\":\"");
                while content.len() < CAPTURE_LIMIT {
                    push_alnum(rng, &mut content, 64);
                }
                set_request_body(&mut x, truncated_body(content, real));
                set_response(
                    &mut x,
                    413,
                    Some("{\"error\":\"payload_too_large\",\"status\":413}".to_string()),
                );
                if rng.random_bool(0.5) {
                    set_response(
                        &mut x,
                        world.ops[*op].success_status,
                        Some("{\"status\":\"accepted\"}".to_string()),
                    );
                }
                finish_sizes(&mut x);
                x
            }
            Plan::LargeResponse { op, ip, user } => {
                let mut x = world.call(
                    rng,
                    *op,
                    &Actor {
                        ip: *ip,
                        user_agent: PLAIN_TOOL_UAS[0],
                        user: Some(*user),
                    },
                    at,
                );
                let mut content = String::with_capacity(CAPTURE_LIMIT + 4096);
                content.push('[');
                if let Some(t) = &world.ops[*op].success_body {
                    while content.len() < CAPTURE_LIMIT {
                        if content.len() > 1 {
                            content.push(',');
                        }
                        t.render(rng, at / 1_000_000, &mut content);
                    }
                }
                let real = rng.random_range(40_000_000..160_000_000u64);
                set_response(&mut x, 200, None);
                x.response.content_type = Some("application/json".to_string());
                if let Some(hs) = x.response.headers.as_mut() {
                    hs.insert(
                        0,
                        Header {
                            name: "content-type".into(),
                            value: "application/json".into(),
                        },
                    );
                    hs.insert(
                        1,
                        Header {
                            name: "content-length".into(),
                            value: real.to_string(),
                        },
                    );
                }
                x.response.body = Some(truncated_body(content, real));
                let secs = real as f64 / 25_000_000.0;
                x.duration_ms = Some(round3(secs * 1000.0));
                x.upstream_duration_ms = Some(round3(secs * 990.0));
                finish_sizes(&mut x);
                x
            }
            Plan::UnseenParam { op, ip, user } => {
                let mut x = world.call(
                    rng,
                    *op,
                    &Actor {
                        ip: *ip,
                        user_agent: PLAIN_TOOL_UAS[3],
                        user: Some(*user),
                    },
                    at,
                );
                let extra = UNSEEN_PARAMS[(k as usize) % UNSEEN_PARAMS.len()];
                x.request.query = Some(match x.request.query.take() {
                    Some(q) => format!("{q}&{extra}"),
                    None => extra.to_string(),
                });
                finish_sizes(&mut x);
                x
            }
            Plan::ParamType { op, slot, ip, user } => {
                let mut x = world.call(
                    rng,
                    *op,
                    &Actor {
                        ip: *ip,
                        user_agent: PLAIN_TOOL_UAS[0],
                        user: Some(*user),
                    },
                    at,
                );
                let values = if matches!(slot, Slot::BodyRaw(_)) {
                    WRONG_TYPED_JSON
                } else {
                    WRONG_TYPED_VALUES
                };
                let value = values[(k as usize) % values.len()];
                place(world, rng, *op, slot, value, at, &mut x);
                set_response(
                    &mut x,
                    400,
                    Some("{\"error\":\"bad_request\",\"status\":400}".to_string()),
                );
                finish_sizes(&mut x);
                x
            }
            Plan::Inject {
                op,
                slot,
                payloads,
                ip,
                user,
                user_agent,
            } => {
                let mut x = world.call(
                    rng,
                    *op,
                    &Actor {
                        ip: *ip,
                        user_agent,
                        user: Some(*user),
                    },
                    at,
                );
                let offset = (self.key % payloads.len().max(1) as u64) as usize;
                let payload = payloads
                    .get((offset + k as usize) % payloads.len().max(1))
                    .map_or("'", String::as_str);
                place(world, rng, *op, slot, payload, at, &mut x);
                let status = match rng.random_range(0..20u8) {
                    0..=7 => 400,
                    8..=10 => 500,
                    11 => 403,
                    _ => world.ops[*op].success_status,
                };
                if x.response.status != Some(status) {
                    let body = (status >= 400)
                        .then(|| format!("{{\"error\":\"request_failed\",\"status\":{status}}}"));
                    set_response(
                        &mut x,
                        status,
                        body.or_else(|| Some("{\"results\":[]}".to_string())),
                    );
                }
                finish_sizes(&mut x);
                x
            }
            Plan::Login {
                op,
                ips,
                user_field,
                pass_field,
                single_victim,
            } => {
                let ip = ips[(k as usize) % ips.len()];
                let ua = if *single_victim {
                    PLAIN_TOOL_UAS[0]
                } else {
                    PLAIN_TOOL_UAS[(k as usize) % PLAIN_TOOL_UAS.len()]
                };
                let mut x = world.call(
                    rng,
                    *op,
                    &Actor {
                        ip,
                        user_agent: ua,
                        user: None,
                    },
                    at,
                );
                let mut name = String::new();
                if *single_victim {
                    name.push_str("maria.garcia@gmail.com");
                } else {
                    push_email(rng, &mut name);
                }
                let mut password = String::new();
                push_alnum(rng, &mut password, 10);
                let body =
                    serde_json::json!({ user_field.as_str(): name, pass_field.as_str(): password })
                        .to_string();
                set_request_body(&mut x, gw_model::Body::utf8(body));
                let success = if *single_victim {
                    k + 1 == self.count
                } else {
                    rng.random_bool(0.02)
                };
                if success {
                    set_response(&mut x, 200, Some("{\"status\":\"ok\"}".to_string()));
                } else {
                    set_response(
                        &mut x,
                        401,
                        Some("{\"error\":\"invalid_credentials\",\"status\":401}".to_string()),
                    );
                }
                x.duration_ms = Some(latency_ms(rng, 90.0, 200));
                finish_sizes(&mut x);
                x
            }
            Plan::Scanner { ops, ip } => {
                let op = ops.sample(rng.random()).unwrap_or(0);
                let ua = SCANNER_UAS[(k as usize) % SCANNER_UAS.len()];
                world.call(
                    rng,
                    op,
                    &Actor {
                        ip: *ip,
                        user_agent: ua,
                        user: None,
                    },
                    at,
                )
            }
            Plan::Shadow { op, ip, user } => world.call(
                rng,
                *op,
                &Actor {
                    ip: *ip,
                    user_agent: PLAIN_TOOL_UAS[0],
                    user: Some(*user),
                },
                at,
            ),
        }
    }
}

/// Puts `value` into the slot of a record of operation `op`.
fn place<R: Rng>(
    world: &World,
    rng: &mut R,
    op: usize,
    slot: &Slot,
    value: &str,
    at: i64,
    x: &mut Exchange,
) {
    match slot {
        Slot::Query(name) => {
            let mut query = String::new();
            for pair in x
                .request
                .query
                .as_deref()
                .unwrap_or("")
                .split('&')
                .filter(|p| !p.is_empty())
            {
                let key = pair.split('=').next().unwrap_or("");
                if key != component(name) {
                    query.push_str(pair);
                    query.push('&');
                }
            }
            query.push_str(&component(name));
            query.push('=');
            query.push_str(&component(value));
            x.request.query = Some(query);
        }
        Slot::Body(field) => {
            let current = x
                .request
                .body
                .as_ref()
                .and_then(|b| b.content.as_deref())
                .unwrap_or("{}");
            let mut doc: serde_json::Value =
                serde_json::from_str(current).unwrap_or_else(|_| serde_json::json!({}));
            if !doc.is_object() {
                doc = serde_json::json!({});
            }
            if let Some(obj) = doc.as_object_mut() {
                obj.insert(field.clone(), serde_json::Value::String(value.to_string()));
            }
            set_request_body(x, gw_model::Body::utf8(doc.to_string()));
        }
        Slot::BodyRaw(field) => {
            let current = x
                .request
                .body
                .as_ref()
                .and_then(|b| b.content.as_deref())
                .unwrap_or("{}");
            let mut doc: serde_json::Value =
                serde_json::from_str(current).unwrap_or_else(|_| serde_json::json!({}));
            if !doc.is_object() {
                doc = serde_json::json!({});
            }
            let raw = serde_json::from_str(value)
                .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
            if let Some(obj) = doc.as_object_mut() {
                obj.insert(field.clone(), raw);
            }
            set_request_body(x, gw_model::Body::utf8(doc.to_string()));
        }
        Slot::Path => {
            let mut path = String::new();
            world.ops[op].render_path(rng, at / 1_000_000, Some(&component(value)), &mut path);
            x.request.path = path;
        }
    }
}

/// The account enumerator address `j` is logged in as (outside the background user ids).
fn enumerator_account(key: u64, j: usize) -> u64 {
    1_000_000_000 + hash3(key, 0x11, j as u64) % 1_000_000
}

fn enumerated_value<R: Rng>(op: &OpTemplate, n: i64, rng: &mut R) -> String {
    let uuid_like = op.path.iter().any(|p| {
        matches!(
            p,
            PathPart::Param {
                kind: ValueKind::Uuid,
                ..
            }
        )
    });
    if uuid_like {
        let mut s = String::new();
        crate::values::push_uuid(&mut s, rng.random(), rng.random());
        s
    } else {
        n.to_string()
    }
}

/// Plans `scenario`; `Err` names why the APIs offer no target for it.
pub(crate) fn plan(
    scenario: Scenario,
    ctx: &PlanCtx<'_>,
    seed: u64,
    truth_index: usize,
) -> Result<(AttackStream, TruthEntry), String> {
    let o = scenario.ordinal();
    let key = hash3(seed, 0xa77, o as u64);
    let mut rng = ChaCha8Rng::seed_from_u64(key);
    let world = ctx.world;
    let ops = &world.ops;
    let ip0 = attacker_ip(o, 0);
    let attacker_user = 2_000_000_000 + o as u64;
    let popular = popular_get_ops(ctx);
    let share =
        |op: usize| ops[op].weight / ctx.routing.public_mix().total().max(f64::MIN_POSITIVE);
    let none = || "the APIs declare no operation this scenario can target".to_string();
    let (plan, count, window_min, actor, endpoint): (Plan, u64, i64, TruthActor, Option<usize>) =
        match scenario {
            Scenario::PopulationSpike => {
                let op = *popular.first().ok_or_else(none)?;
                let count = (6.0 * ctx.rps * share(op) * 600.0).clamp(300.0, 100_000.0) as u64;
                (
                    Plan::Population { op, latency: false },
                    count,
                    10,
                    TruthActor::default(),
                    Some(op),
                )
            }
            Scenario::LatencySpike => {
                let op = *popular.get(1).or(popular.first()).ok_or_else(none)?;
                let count = (1.5 * ctx.rps * share(op) * 900.0).clamp(150.0, 50_000.0) as u64;
                (
                    Plan::Population { op, latency: true },
                    count,
                    15,
                    TruthActor::default(),
                    Some(op),
                )
            }
            Scenario::IpSpike => {
                let mix = ctx.routing.public_mix().clone();
                (
                    Plan::Mix {
                        ops: mix,
                        ip: ip0,
                        user_agent: PLAIN_TOOL_UAS[0],
                        user: Some(attacker_user),
                    },
                    1_200,
                    10,
                    TruthActor {
                        ip: Some(ip0),
                        identity: None,
                    },
                    None,
                )
            }
            Scenario::IdentitySpike => {
                let spec_ops = jwt_ops_of_busiest_spec(ops);
                let first = *spec_ops.first().ok_or_else(none)?;
                let user = (world.population.size() / 3..world.population.size())
                    .map(|i| world.population.client(i))
                    .find(|c| c.user.is_some() && !c.internal)
                    .and_then(|c| c.user)
                    .unwrap_or(attacker_user);
                let ips = (0..25).map(|j| attacker_ip(o, j)).collect();
                let identity = world.actor_key(&ops[first], user);
                (
                    Plan::IdentityMix {
                        ops: spec_ops,
                        ips,
                        user,
                    },
                    1_200,
                    10,
                    TruthActor {
                        ip: None,
                        identity: Some(identity),
                    },
                    None,
                )
            }
            Scenario::EndpointSpray => {
                let all: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].weight > 0.0).collect();
                if all.is_empty() {
                    return Err(none());
                }
                let count = (all.len() as u64 * 3).max(60);
                (
                    Plan::Spray { ops: all, ip: ip0 },
                    count,
                    5,
                    TruthActor {
                        ip: Some(ip0),
                        identity: None,
                    },
                    None,
                )
            }
            Scenario::ParamEnumeration | Scenario::DistributedEnumeration => {
                let candidates = enumerable_ops(ops);
                let distributed = scenario == Scenario::DistributedEnumeration;
                let op = *if distributed {
                    candidates.get(1).or(candidates.first())
                } else {
                    candidates.first()
                }
                .ok_or_else(none)?;
                let ips: Vec<IpAddr> = if distributed {
                    (0..40).map(|j| attacker_ip(o, j)).collect()
                } else {
                    vec![ip0]
                };
                let base = rng.random_range(1_000..50_000);
                let actor = if distributed {
                    TruthActor::default()
                } else {
                    let user = enumerator_account(key, 0);
                    TruthActor {
                        ip: Some(ip0),
                        identity: (ops[op].auth != AuthStyle::None)
                            .then(|| world.actor_key(&ops[op], user)),
                    }
                };
                let (count, window) = if distributed { (800, 30) } else { (600, 15) };
                (
                    Plan::Enumerate { op, ips, base },
                    count,
                    window,
                    actor,
                    Some(op),
                )
            }
            Scenario::LargeRequest => {
                let op = (0..ops.len())
                    .filter(|&i| {
                        ops[i].request_body.is_some() && !ops[i].is_login && ops[i].weight > 0.0
                    })
                    .max_by(|&a, &b| ops[a].weight.total_cmp(&ops[b].weight))
                    .ok_or_else(none)?;
                (
                    Plan::LargeRequest {
                        op,
                        ip: ip0,
                        user: attacker_user,
                    },
                    12,
                    20,
                    single(world, op, ip0, attacker_user),
                    Some(op),
                )
            }
            Scenario::LargeResponse => {
                let op = *list_ops(ops).first().ok_or_else(none)?;
                (
                    Plan::LargeResponse {
                        op,
                        ip: ip0,
                        user: attacker_user,
                    },
                    10,
                    30,
                    single(world, op, ip0, attacker_user),
                    Some(op),
                )
            }
            Scenario::UnseenParam => {
                let op = *popular.first().ok_or_else(none)?;
                (
                    Plan::UnseenParam {
                        op,
                        ip: ip0,
                        user: attacker_user,
                    },
                    40,
                    20,
                    single(world, op, ip0, attacker_user),
                    Some(op),
                )
            }
            Scenario::ParamType => {
                let (op, slot) = typed_slot(ops).ok_or_else(none)?;
                (
                    Plan::ParamType {
                        op,
                        slot,
                        ip: ip0,
                        user: attacker_user,
                    },
                    40,
                    20,
                    single(world, op, ip0, attacker_user),
                    Some(op),
                )
            }
            Scenario::Sqli
            | Scenario::Xss
            | Scenario::Cmdi
            | Scenario::Traversal
            | Scenario::Ssrf => {
                let family = match scenario {
                    Scenario::Sqli => Family::Sqli,
                    Scenario::Xss => Family::Xss,
                    Scenario::Cmdi => Family::Cmdi,
                    Scenario::Traversal => Family::Traversal,
                    _ => Family::Ssrf,
                };
                let (op, slot) = injection_slot(ops, family).ok_or_else(none)?;
                let payloads = ctx.payloads.get(family).to_vec();
                let user_agent = PLAIN_TOOL_UAS[o % PLAIN_TOOL_UAS.len()];
                (
                    Plan::Inject {
                        op,
                        slot,
                        payloads,
                        ip: ip0,
                        user: attacker_user,
                        user_agent,
                    },
                    60,
                    20,
                    single(world, op, ip0, attacker_user),
                    Some(op),
                )
            }
            Scenario::BruteForce | Scenario::CredentialStuffing => {
                let op = login_op(ops).ok_or_else(none)?;
                let fields = &ops[op].body_fields;
                let find = |needles: &[&str], fallback: &str| {
                    fields
                        .iter()
                        .find(|f| needles.iter().any(|n| f.to_ascii_lowercase().contains(n)))
                        .cloned()
                        .unwrap_or_else(|| fallback.to_string())
                };
                let user_field = find(&["user", "email", "login"], "username");
                let pass_field = find(&["pass"], "password");
                let single_victim = scenario == Scenario::BruteForce;
                let ips: Vec<IpAddr> = if single_victim {
                    vec![ip0]
                } else {
                    (0..30).map(|j| attacker_ip(o, j)).collect()
                };
                let actor = if single_victim {
                    TruthActor {
                        ip: Some(ip0),
                        identity: None,
                    }
                } else {
                    TruthActor::default()
                };
                let (count, window) = if single_victim { (300, 10) } else { (450, 20) };
                (
                    Plan::Login {
                        op,
                        ips,
                        user_field,
                        pass_field,
                        single_victim,
                    },
                    count,
                    window,
                    actor,
                    Some(op),
                )
            }
            Scenario::TorExit | Scenario::MaliciousIp => {
                let ip = if scenario == Scenario::TorExit {
                    tor_exit_ips()[0]
                } else {
                    malicious_ips()[0]
                };
                let ua = if scenario == Scenario::TorExit {
                    PLAIN_TOOL_UAS[3]
                } else {
                    PLAIN_TOOL_UAS[0]
                };
                let mix = ctx.routing.public_mix().clone();
                if mix.is_empty() {
                    return Err(none());
                }
                (
                    Plan::Mix {
                        ops: mix,
                        ip,
                        user_agent: ua,
                        user: Some(attacker_user),
                    },
                    50,
                    30,
                    TruthActor {
                        ip: Some(ip),
                        identity: None,
                    },
                    None,
                )
            }
            Scenario::SuspiciousUa => {
                let mix = ctx.routing.public_mix().clone();
                if mix.is_empty() {
                    return Err(none());
                }
                (
                    Plan::Scanner { ops: mix, ip: ip0 },
                    40,
                    20,
                    TruthActor {
                        ip: Some(ip0),
                        identity: None,
                    },
                    None,
                )
            }
            Scenario::ShadowAccess => {
                let op = ctx.shadow_op;
                (
                    Plan::Shadow {
                        op,
                        ip: ip0,
                        user: attacker_user,
                    },
                    60,
                    30,
                    TruthActor {
                        ip: Some(ip0),
                        identity: None,
                    },
                    Some(op),
                )
            }
        };
    let (start_us, window_us) = window(ctx, o, window_min * MINUTE_US);
    let stream = AttackStream {
        start_us,
        window_us,
        count,
        next_k: 0,
        key,
        rng,
        plan,
        truth_index,
    };
    let ts = |us: i64| Timestamp::from_microsecond(us).unwrap_or(Timestamp::UNIX_EPOCH);
    let truth = TruthEntry {
        scenario: scenario.name().to_string(),
        kind: scenario.kind().to_string(),
        start: ts(start_us),
        end: ts(start_us + window_us),
        actor,
        endpoint: endpoint.map(|op| TruthEndpoint {
            method: ops[op].method.clone(),
            template: ops[op].template.clone(),
            host: ops[op].host.clone(),
        }),
        record_ids: Vec::new(),
        count: 0,
    };
    Ok((stream, truth))
}

/// A deterministic slot in the second half of the period: scenario `o` of 22 gets its own
/// place, so selecting a subset does not move the others.
fn window(ctx: &PlanCtx<'_>, o: usize, wanted_us: i64) -> (i64, i64) {
    let half = ctx.duration_us / 2;
    let window_us = wanted_us.min(half * 9 / 10).max(1);
    let slots = Scenario::ALL.len() as f64;
    let center = ctx.start_us + half + ((o as f64 + 0.5) / slots * half as f64) as i64;
    let start = (center - window_us / 2).clamp(
        ctx.start_us + half,
        ctx.start_us + ctx.duration_us - window_us - 1,
    );
    (start, window_us)
}

fn single(world: &World, op: usize, ip: IpAddr, user: u64) -> TruthActor {
    let identity =
        (world.ops[op].auth != AuthStyle::None).then(|| world.actor_key(&world.ops[op], user));
    TruthActor {
        ip: Some(ip),
        identity,
    }
}

/// Public GET operations, most popular first.
fn popular_get_ops(ctx: &PlanCtx<'_>) -> Vec<usize> {
    let ops = &ctx.world.ops;
    let mut list: Vec<usize> = (0..ops.len())
        .filter(|&i| ops[i].method == "GET" && ops[i].weight > 0.0 && !ops[i].internal)
        .collect();
    if list.is_empty() {
        list = (0..ops.len()).filter(|&i| ops[i].weight > 0.0).collect();
    }
    list.sort_by(|&a, &b| ops[b].weight.total_cmp(&ops[a].weight).then(a.cmp(&b)));
    list
}

/// GET operations with an id in the path, integer ids first.
fn enumerable_ops(ops: &[OpTemplate]) -> Vec<usize> {
    let id_kind = |o: &OpTemplate, want: &ValueKind| {
        o.path
            .iter()
            .any(|p| matches!(p, PathPart::Param { kind, .. } if kind == want))
    };
    let mut list: Vec<usize> = (0..ops.len())
        .filter(|&i| {
            ops[i].method == "GET" && ops[i].weight > 0.0 && id_kind(&ops[i], &ValueKind::IntId)
        })
        .collect();
    list.extend((0..ops.len()).filter(|&i| {
        ops[i].method == "GET"
            && ops[i].weight > 0.0
            && !id_kind(&ops[i], &ValueKind::IntId)
            && ops[i].has_path_params()
    }));
    list
}

/// GET operations returning a collection (no path parameter), most popular first.
fn list_ops(ops: &[OpTemplate]) -> Vec<usize> {
    let mut list: Vec<usize> = (0..ops.len())
        .filter(|&i| {
            ops[i].method == "GET"
                && ops[i].weight > 0.0
                && !ops[i].has_path_params()
                && ops[i].success_body.is_some()
        })
        .collect();
    // Authenticated collections (customer data) first: that is what gets exfiltrated.
    list.sort_by(|&a, &b| {
        (ops[b].requires_auth, ops[b].weight)
            .partial_cmp(&(ops[a].requires_auth, ops[a].weight))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    list
}

fn login_op(ops: &[OpTemplate]) -> Option<usize> {
    (0..ops.len()).find(|&i| ops[i].is_login).or_else(|| {
        (0..ops.len()).find(|&i| {
            ops[i].method == "POST"
                && ops[i]
                    .body_fields
                    .iter()
                    .any(|f| f.to_ascii_lowercase().contains("pass"))
        })
    })
}

/// The operations of the spec with the most JWT-protected operations.
fn jwt_ops_of_busiest_spec(ops: &[OpTemplate]) -> Vec<usize> {
    let jwt = |o: &OpTemplate| o.auth == AuthStyle::BearerJwt && o.weight > 0.0;
    let best_spec = (0..=ops.iter().map(|o| o.spec_index).max().unwrap_or(0)).max_by_key(|&s| {
        (
            ops.iter().filter(|o| o.spec_index == s && jwt(o)).count(),
            usize::MAX - s,
        )
    });
    let mut list: Vec<usize> = (0..ops.len())
        .filter(|&i| Some(ops[i].spec_index) == best_spec && jwt(&ops[i]))
        .collect();
    if list.is_empty() {
        list = (0..ops.len()).filter(|&i| ops[i].weight > 0.0).collect();
    }
    list
}

/// A parameter declared as a number: query first, then path.
fn typed_slot(ops: &[OpTemplate]) -> Option<(usize, Slot)> {
    let numeric = |k: &ValueKind| {
        matches!(
            k,
            ValueKind::IntId | ValueKind::Int { .. } | ValueKind::Float { .. }
        )
    };
    for (i, op) in ops.iter().enumerate().filter(|(_, o)| o.weight > 0.0) {
        if let Some(q) = op.query.iter().find(|q| numeric(&q.kind)) {
            return Some((i, Slot::Query(q.name.clone())));
        }
    }
    for (i, op) in ops.iter().enumerate().filter(|(_, o)| o.weight > 0.0) {
        if op
            .path
            .iter()
            .any(|p| matches!(p, PathPart::Param { kind, .. } if numeric(kind)))
        {
            return Some((i, Slot::Path));
        }
    }
    for (i, op) in ops.iter().enumerate().filter(|(_, o)| o.weight > 0.0) {
        if let Some(f) = op.numeric_body_fields.first() {
            return Some((i, Slot::Body(f.clone())));
        }
    }
    // No number anywhere: a string body field receives arrays, objects, numbers.
    let active = |o: &&OpTemplate| o.weight > 0.0 && !o.is_login;
    ops.iter()
        .enumerate()
        .filter(|(_, o)| active(o))
        .find_map(|(i, o)| o.body_fields.first().map(|f| (i, Slot::BodyRaw(f.clone()))))
}

/// Where a payload of `family` goes: a parameter whose name suits the family, else any string
/// query parameter, else a string body field, else a path parameter.
fn injection_slot(ops: &[OpTemplate], family: Family) -> Option<(usize, Slot)> {
    let hints: &[&str] = match family {
        Family::Ssrf => &["url", "uri", "callback", "webhook", "link", "image"],
        Family::Traversal => &["file", "path", "doc", "template", "name"],
        Family::Cmdi => &["host", "ip", "domain", "cmd", "target", "format"],
        Family::Sqli => &["q", "search", "query", "filter", "sort", "name"],
        Family::Xss => &["comment", "review", "message", "text", "name", "q"],
    };
    let stringy = |k: &ValueKind| {
        k.is_string()
            && !matches!(
                k,
                ValueKind::Uuid | ValueKind::Date | ValueKind::DateTime | ValueKind::OneOf { .. }
            )
    };
    let active = |o: &&OpTemplate| o.weight > 0.0 && !o.is_login;
    // Hints in order of preference, each searched across every operation.
    for hint in hints {
        let hinted = |name: &str| {
            let lower = name.to_ascii_lowercase();
            lower == *hint || (hint.len() > 2 && lower.contains(hint))
        };
        for (i, op) in ops.iter().enumerate().filter(|(_, o)| active(o)) {
            if let Some(q) = op
                .query
                .iter()
                .find(|q| hinted(&q.name) && stringy(&q.kind))
            {
                return Some((i, Slot::Query(q.name.clone())));
            }
            if let Some(f) = op.body_fields.iter().find(|f| hinted(f)) {
                return Some((i, Slot::Body(f.clone())));
            }
        }
    }
    for (i, op) in ops.iter().enumerate().filter(|(_, o)| active(o)) {
        if let Some(q) = op.query.iter().find(|q| stringy(&q.kind)) {
            return Some((i, Slot::Query(q.name.clone())));
        }
    }
    for (i, op) in ops.iter().enumerate().filter(|(_, o)| active(o)) {
        if let Some(f) = op.body_fields.first() {
            return Some((i, Slot::Body(f.clone())));
        }
    }
    (0..ops.len())
        .find(|&i| ops[i].weight > 0.0 && ops[i].has_path_params())
        .map(|i| (i, Slot::Path))
}
