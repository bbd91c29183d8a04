//! Building one `gatewatch.exchange/1` record for a call to an operation by an actor.

use std::cell::RefCell;
use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use gw_model::{AuthType, Body, Capture, Exchange, Header, Identity, Name, Source, SourceKind};
use jiff::Timestamp;
use rand::Rng;

use crate::keyed::hash3;
use crate::population::Population;
use crate::template::{AuthStyle, OpTemplate};
use crate::values::{push_hex, push_uuid};

/// `{"alg":"HS256","typ":"JWT"}`, base64url.
const JWT_HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
/// Name of the simulated gateway in `source.gateway`.
pub(crate) const GATEWAY_NAME: &str = "gw-sim-edge";

/// The shared, read-only state every generator builds records from.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) seed: u64,
    pub(crate) ops: Vec<OpTemplate>,
    /// JWT issuer per spec index.
    pub(crate) issuers: Vec<String>,
    pub(crate) population: Population,
    /// Recently issued bearer tokens: heavy hitters call many times a day with the same token.
    pub(crate) jwt_cache: RefCell<Vec<Option<CachedJwt>>>,
}

/// Slots of [`World::jwt_cache`] (direct-mapped).
pub(crate) const JWT_CACHE_SLOTS: usize = 4096;

/// A user's bearer token for one API and day.
#[derive(Clone, Debug)]
pub(crate) struct CachedJwt {
    user: u64,
    spec: usize,
    day: i64,
    header: String,
    principal: String,
}

/// Who makes a call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Actor<'a> {
    pub(crate) ip: IpAddr,
    pub(crate) user_agent: &'a str,
    /// The account whose credentials are sent; `None` = no credentials.
    pub(crate) user: Option<u64>,
}

impl World {
    /// A complete, realistic record of `actor` calling operation `op_index` at `at_us`.
    pub(crate) fn call<R: Rng>(
        &self,
        rng: &mut R,
        op_index: usize,
        actor: &Actor<'_>,
        at_us: i64,
    ) -> Exchange {
        let op = &self.ops[op_index];
        let now_s = at_us.div_euclid(1_000_000);
        let mut path = String::with_capacity(64);
        op.render_path(rng, now_s, None, &mut path);
        let mut query = String::new();
        op.render_query(rng, now_s, &mut query);

        let observed_at = Timestamp::from_microsecond(at_us).unwrap_or(Timestamp::UNIX_EPOCH);
        let mut x = Exchange::new(
            String::new(),
            observed_at,
            source(),
            op.method.as_str(),
            path,
        );
        x.client.ip = Some(actor.ip);
        x.client.port = Some(rng.random_range(1025..65_535));
        x.client.user_agent = Some(actor.user_agent.to_string());
        x.server.host = Some(op.host.clone());
        x.server.port = Some(if op.scheme == "http" { 80 } else { 443 });
        x.request.scheme = Some(Name::from(op.scheme.as_str()));
        x.request.http_version = Some(Name::from_static(if rng.random_bool(0.6) {
            "2"
        } else {
            "1.1"
        }));

        let mut headers = Vec::with_capacity(6);
        headers.push(Header {
            name: "host".into(),
            value: op.host.clone(),
        });
        headers.push(Header {
            name: "user-agent".into(),
            value: actor.user_agent.to_string(),
        });
        headers.push(Header {
            name: "accept".into(),
            value: "application/json".into(),
        });
        let mut authenticated = false;
        if let Some(user) = actor.user
            && op.auth != AuthStyle::None
        {
            authenticated = true;
            x.identity = Some(self.attach_credentials(op, user, at_us, &mut headers, &mut query));
        }
        if let Some(template) = &op.request_body {
            let mut body = String::with_capacity(op.request_body_capacity);
            template.render(rng, now_s, &mut body);
            headers.push(Header {
                name: "content-type".into(),
                value: "application/json".into(),
            });
            headers.push(Header {
                name: "content-length".into(),
                value: body.len().to_string(),
            });
            x.request.body = Some(Body::utf8(body));
        }
        x.request.headers = Some(headers);
        x.request.query = (!query.is_empty()).then_some(query);

        let status = self.pick_status(rng, op, authenticated);
        let latency = latency_ms(rng, op.median_latency_ms, status);
        x.duration_ms = Some(latency);
        x.upstream_duration_ms = Some(round3(latency * 0.93));
        if status == op.success_status {
            match &op.success_body {
                Some(t) => {
                    let mut body = String::with_capacity(op.response_body_capacity);
                    t.render(rng, now_s, &mut body);
                    set_response(&mut x, status, Some(body));
                }
                None => set_response(&mut x, status, None),
            }
        } else {
            set_response(&mut x, status, error_body(status));
        }
        finish_sizes(&mut x);
        x
    }

    fn pick_status<R: Rng>(&self, rng: &mut R, op: &OpTemplate, authenticated: bool) -> u16 {
        if op.requires_auth && !authenticated {
            return 401;
        }
        let r: f64 = rng.random();
        let login_failures = if op.is_login { 0.08 } else { 0.0 };
        if r < login_failures {
            return 401;
        }
        if r < 0.935 + login_failures * 0.5 {
            return op.success_status;
        }
        if r < 0.992 {
            if !op.declared_errors.is_empty() && rng.random_bool(0.6) {
                let pick = op.declared_errors[rng.random_range(0..op.declared_errors.len())];
                if pick < 500 {
                    return pick;
                }
            }
            return match rng.random_range(0..10u8) {
                0..=3 if op.has_path_params() => 404,
                0..=4 => 400,
                5 | 6 if op.request_body.is_some() => 422,
                7 if op.requires_auth => 403,
                8 => 429,
                _ => 400,
            };
        }
        match rng.random_range(0..4u8) {
            0 | 1 => 500,
            2 => 502,
            _ => 503,
        }
    }

    /// Adds the credentials `op` expects for account `user` and returns what the gateway knows
    /// of the identity.
    pub(crate) fn attach_credentials(
        &self,
        op: &OpTemplate,
        user: u64,
        at_us: i64,
        headers: &mut Vec<Header>,
        query: &mut String,
    ) -> Identity {
        match &op.auth {
            AuthStyle::BearerJwt | AuthStyle::None => {
                let day = at_us.div_euclid(86_400_000_000);
                let slot = (hash3(user, op.spec_index as u64, day as u64) % JWT_CACHE_SLOTS as u64)
                    as usize;
                let mut cache = self.jwt_cache.borrow_mut();
                let hit = cache
                    .get(slot)
                    .and_then(Option::as_ref)
                    .filter(|c| c.user == user && c.spec == op.spec_index && c.day == day);
                let (header, principal) = match hit {
                    Some(c) => (c.header.clone(), c.principal.clone()),
                    None => {
                        let issuer = &self.issuers[op.spec_index];
                        let sub = self.subject(user);
                        let header =
                            format!("Bearer {}", self.jwt(&sub, issuer, &op.host, user, at_us));
                        let principal = format!("{sub}@{issuer}");
                        if let Some(entry) = cache.get_mut(slot) {
                            *entry = Some(CachedJwt {
                                user,
                                spec: op.spec_index,
                                day,
                                header: header.clone(),
                                principal: principal.clone(),
                            });
                        }
                        (header, principal)
                    }
                };
                headers.push(Header {
                    name: "authorization".into(),
                    value: header,
                });
                Identity {
                    auth_type: Some(AuthType::BearerJwt),
                    principal: Some(principal),
                    ..Identity::default()
                }
            }
            AuthStyle::Basic => {
                let name = self.username(user);
                let mut pw = String::new();
                push_hex(&mut pw, hash3(self.seed, 0xb1, user), 12);
                let value = format!("Basic {}", STANDARD.encode(format!("{name}:{pw}")));
                headers.push(Header {
                    name: "authorization".into(),
                    value,
                });
                Identity {
                    auth_type: Some(AuthType::Basic),
                    principal: Some(name),
                    ..Identity::default()
                }
            }
            AuthStyle::ApiKeyHeader(name)
            | AuthStyle::ApiKeyQuery(name)
            | AuthStyle::ApiKeyCookie(name) => {
                let key = self.api_key(user);
                match &op.auth {
                    AuthStyle::ApiKeyHeader(_) => headers.push(Header {
                        name: Name::from(name.as_str()),
                        value: key,
                    }),
                    AuthStyle::ApiKeyCookie(_) => headers.push(Header {
                        name: "cookie".into(),
                        value: format!("{name}={key}"),
                    }),
                    _ => {
                        if !query.is_empty() {
                            query.push('&');
                        }
                        query.push_str(name);
                        query.push('=');
                        query.push_str(&key);
                    }
                }
                Identity {
                    auth_type: Some(AuthType::ApiKey),
                    consumer_id: Some(self.consumer_id(user)),
                    ..Identity::default()
                }
            }
        }
    }

    /// The identity key (`Identity::actor_key`) `user` has when calling `op`.
    pub(crate) fn actor_key(&self, op: &OpTemplate, user: u64) -> String {
        match &op.auth {
            AuthStyle::Basic => self.username(user),
            AuthStyle::ApiKeyHeader(_) | AuthStyle::ApiKeyQuery(_) | AuthStyle::ApiKeyCookie(_) => {
                self.consumer_id(user)
            }
            AuthStyle::BearerJwt | AuthStyle::None => {
                format!("{}@{}", self.subject(user), self.issuers[op.spec_index])
            }
        }
    }

    pub(crate) fn subject(&self, user: u64) -> String {
        let mut s = String::with_capacity(36);
        push_uuid(
            &mut s,
            hash3(self.seed, 0x5b, user),
            hash3(self.seed, 0x5c, user),
        );
        s
    }

    pub(crate) fn username(&self, user: u64) -> String {
        format!("user{}", 10_000 + user)
    }

    fn consumer_id(&self, user: u64) -> String {
        format!("app-{:06}", user % 1_000_000)
    }

    fn api_key(&self, user: u64) -> String {
        let mut key = String::from("gwk_live_");
        push_hex(&mut key, hash3(self.seed, 0xa1, user), 16);
        push_hex(&mut key, hash3(self.seed, 0xa2, user), 16);
        key
    }

    /// An HS256-shaped JWT: real header and claims, a signature-shaped (not verifiable) tail.
    /// Tokens live for a day, so a user's token changes daily like a real session.
    fn jwt(&self, sub: &str, issuer: &str, audience: &str, user: u64, at_us: i64) -> String {
        let day = at_us.div_euclid(86_400_000_000);
        let iat = day * 86_400 + (hash3(self.seed, 0x17, user) % 3_600) as i64;
        let claims = format!(
            "{{\"sub\":\"{sub}\",\"iss\":\"{issuer}\",\"aud\":\"{audience}\",\"iat\":{iat},\"exp\":{},\"scope\":\"read write\"}}",
            iat + 86_400
        );
        let mut sig = [0u8; 32];
        for (i, chunk) in sig.chunks_mut(8).enumerate() {
            chunk.copy_from_slice(
                &hash3(self.seed ^ day as u64, 0x51 + i as u64, user).to_le_bytes(),
            );
        }
        let mut token = String::with_capacity(256);
        token.push_str(JWT_HEADER);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims.as_bytes(), &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(sig, &mut token);
        token
    }
}

pub(crate) fn source() -> Source {
    Source {
        kind: SourceKind::Native,
        capture: Capture::Frontend,
        gateway: Some(GATEWAY_NAME.to_string()),
        raw_ref: None,
    }
}

/// Sets status, body and response headers.
pub(crate) fn set_response(x: &mut Exchange, status: u16, body: Option<String>) {
    x.response.status = Some(status);
    let mut headers = Vec::with_capacity(3);
    match body {
        Some(body) => {
            headers.push(Header {
                name: "content-type".into(),
                value: "application/json".into(),
            });
            headers.push(Header {
                name: "content-length".into(),
                value: body.len().to_string(),
            });
            x.response.content_type = Some("application/json".to_string());
            x.response.body = Some(Body::utf8(body));
        }
        None => {
            x.response.content_type = None;
            x.response.body = None;
        }
    }
    headers.push(Header {
        name: "server".into(),
        value: "envoy".into(),
    });
    x.response.headers = Some(headers);
}

/// Replaces the request body (JSON) and its content headers.
pub(crate) fn set_request_body(x: &mut Exchange, body: Body) {
    let len = body.size.unwrap_or(body.captured);
    if let Some(headers) = x.request.headers.as_mut() {
        headers.retain(|h| h.name != "content-type" && h.name != "content-length");
        headers.push(Header {
            name: "content-type".into(),
            value: "application/json".into(),
        });
        headers.push(Header {
            name: "content-length".into(),
            value: len.to_string(),
        });
    }
    x.request.body = Some(body);
}

/// A body whose real size is `size` but of which only `content` was captured.
pub(crate) fn truncated_body(content: String, size: u64) -> Body {
    let captured = content.len() as u64;
    Body {
        size: Some(size.max(captured)),
        captured,
        truncated: size > captured,
        encoding: gw_model::BodyEncoding::Utf8,
        content: Some(content),
        redacted: false,
    }
}

/// Recomputes `request.size` and `response.size` (wire bytes including headers).
pub(crate) fn finish_sizes(x: &mut Exchange) {
    let req = &x.request;
    let head = req.method.len()
        + req.path.len()
        + req.query.as_ref().map_or(0, |q| q.len() + 1)
        + 12
        + headers_len(req.headers.as_deref())
        + 2;
    let req_size = head as u64
        + req
            .body
            .as_ref()
            .map_or(0, |b| b.size.unwrap_or(b.captured));
    x.request.size = Some(req_size);
    let res = &x.response;
    let head = 17 + headers_len(res.headers.as_deref()) + 2;
    x.response.size = Some(
        head as u64
            + res
                .body
                .as_ref()
                .map_or(0, |b| b.size.unwrap_or(b.captured)),
    );
}

fn headers_len(headers: Option<&[Header]>) -> usize {
    headers.map_or(0, |hs| {
        hs.iter().map(|h| h.name.len() + h.value.len() + 4).sum()
    })
}

fn error_body(status: u16) -> Option<String> {
    let (code, message) = match status {
        400 => ("bad_request", "The request could not be validated"),
        401 => ("unauthorized", "Missing or invalid credentials"),
        403 => ("forbidden", "You do not have access to this resource"),
        404 => ("not_found", "Resource not found"),
        409 => ("conflict", "The resource was modified concurrently"),
        422 => ("unprocessable_entity", "One or more fields are invalid"),
        429 => ("rate_limited", "Too many requests, retry later"),
        502 => ("bad_gateway", "Upstream returned an invalid response"),
        503 => ("unavailable", "Service temporarily unavailable"),
        _ if status >= 500 => ("internal_error", "An unexpected error occurred"),
        _ => ("error", "The request failed"),
    };
    Some(format!(
        "{{\"error\":\"{code}\",\"message\":\"{message}\",\"status\":{status}}}"
    ))
}

/// Log-normal latency around the operation's median; server errors are slower.
pub(crate) fn latency_ms<R: Rng>(rng: &mut R, median: f64, status: u16) -> f64 {
    // Sum of four uniforms: an approximately normal z without transcendental calls.
    let z = (rng.random::<f64>() + rng.random::<f64>() + rng.random::<f64>() + rng.random::<f64>()
        - 2.0)
        * 1.732;
    let factor = if status >= 500 { 3.0 } else { 1.0 };
    round3(median * factor * (0.45 * z).exp())
}

pub(crate) fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
