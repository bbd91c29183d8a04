//! Normalization every decoded record gets before it is stored or printed: the client IP
//! behind trusted proxies, the caller's identity, and the removal of every credential.
//!
//! Order matters: identity is derived from the credentials first (JWT claims, basic-auth user,
//! a keyed fingerprint of the key or token), then the credentials are replaced by
//! [`gw_model::REDACTED`]. A record leaves [`Normalizer::normalize`] with no credential in its
//! headers, cookies, query string or upstream URL.
//!
//! ## Client IP rule
//!
//! The chain is `forwarded_for` (left to right) followed by the direct peer `client.ip`. Walking
//! from the right, every hop inside a trusted-proxy CIDR is skipped; the first hop that is not
//! trusted is `client.resolved_ip`. The chain comes from the decoder, else from the
//! `X-Forwarded-For` headers (in order), else from RFC 7239 `Forwarded: for=`; hops that are not
//! IP addresses (`unknown`, obfuscated names) are skipped. X-Forwarded-For is attacker-controlled text, so it is only
//! believed when the direct peer is itself a trusted proxy: with no trusted proxies configured
//! (the default) or an untrusted peer, `resolved_ip` is the peer. When every hop is trusted the
//! leftmost one is the best answer. Without a known peer nothing is resolved.
//!
//! ## Performance
//!
//! This runs on every record. A record with nothing to redact is normalized without allocating;
//! the HMAC key schedule is computed once and cloned per fingerprint, and the digests and JWT
//! claims of the credentials seen last are remembered in fixed-size tables
//! (`credential_memo.rs`), since one client repeats one credential on every request.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use gw_model::{AuthType, Exchange, Header, Identity, REDACTED};
use hmac::{Hmac, Mac};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::credential_memo::{self, CredentialMemo};

/// Normalization settings (the `[normalize]` table of the config).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NormalizeConfig {
    /// Proxies and load balancers in front of the gateway whose X-Forwarded-For hops are
    /// believed (CIDRs; a single address is `/32` or `/128`). Empty: X-Forwarded-For is recorded
    /// but never trusted, and the direct peer is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Request headers that carry API keys (case-insensitive). Their values are fingerprinted
    /// and redacted.
    pub api_key_headers: Vec<String>,
    /// Query parameters that carry API keys, tokens or signatures (case-insensitive). Their
    /// values are fingerprinted and redacted; the rest of the query is kept byte for byte.
    pub api_key_query_params: Vec<String>,
    /// Further headers whose values are redacted entirely (no identity is derived from them).
    pub redact_headers: Vec<String>,
}

impl Default for NormalizeConfig {
    fn default() -> Self {
        let strings = |names: &[&str]| names.iter().map(|s| s.to_string()).collect();
        NormalizeConfig {
            trusted_proxies: Vec::new(),
            api_key_headers: strings(&[
                "x-api-key",
                "api-key",
                "apikey",
                "x-apikey",
                "ocp-apim-subscription-key",
                "x-functions-key",
                "x-goog-api-key",
                "x-auth-token",
                "x-access-token",
                "x-api-token",
            ]),
            api_key_query_params: strings(&[
                "api_key",
                "apikey",
                "api-key",
                "key",
                "access_token",
                "id_token",
                "refresh_token",
                "token",
                "subscription-key",
                "subscription_key",
                "code",
                "sig",
                "signature",
                "client_secret",
                "password",
            ]),
            redact_headers: strings(&["x-amz-security-token", "x-csrf-token", "x-xsrf-token"]),
        }
    }
}

/// A configuration the normalizer cannot run with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NormalizeConfigError {
    #[error("ingest.normalize.{list}: entry {index} is empty; expected a header or parameter name")]
    EmptyName { list: &'static str, index: usize },
}

/// Headers whose whole value is a credential.
const AUTH_HEADERS: &[&str] = &["authorization", "proxy-authorization"];

/// The record label naming a weakness of the request's JWT: `alg_none` (unsigned) or `no_exp`
/// (no expiry claim). Read by gw-discover's inventory (same key there).
pub const JWT_WEAKNESS_LABEL: &str = "gw.jwt_weakness";

/// Applies [`NormalizeConfig`] to records; cheap to share between threads.
#[derive(Clone)]
pub struct Normalizer {
    trusted: Vec<IpNet>,
    api_key_headers: Vec<String>,
    api_key_params: Vec<String>,
    redact_headers: Vec<String>,
    /// HMAC-SHA256 with the install key already absorbed.
    keyed: Hmac<Sha256>,
    /// Recent credential digests, shared by clones (they have the same key).
    fingerprints: Arc<CredentialMemo<[u8; 32]>>,
    /// Claims of recent bearer tokens (`None`: not a JWT), shared by clones.
    jwt_claims: Arc<CredentialMemo<Option<JwtClaims>>>,
}

impl std::fmt::Debug for Normalizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Normalizer")
            .field("trusted", &self.trusted)
            .field("api_key_headers", &self.api_key_headers)
            .field("api_key_params", &self.api_key_params)
            .field("redact_headers", &self.redact_headers)
            .finish_non_exhaustive()
    }
}

impl Normalizer {
    /// `install_key` is the per-install secret the store generates on first run and keeps;
    /// fingerprints are only comparable between records normalized with the same key.
    pub fn new(
        config: &NormalizeConfig,
        install_key: &[u8; 32],
    ) -> Result<Self, NormalizeConfigError> {
        let names =
            |list: &'static str, v: &[String]| -> Result<Vec<String>, NormalizeConfigError> {
                v.iter()
                    .enumerate()
                    .map(|(index, n)| {
                        let n = n.trim();
                        if n.is_empty() {
                            Err(NormalizeConfigError::EmptyName { list, index })
                        } else {
                            Ok(n.to_ascii_lowercase())
                        }
                    })
                    .collect()
            };
        let keyed = <Hmac<Sha256> as Mac>::new_from_slice(install_key)
            .expect("HMAC accepts any key length");
        // The memos' hash seed is derived from the install key, never equal to a fingerprint.
        let mut seed_mac = keyed.clone();
        seed_mac.update(b"gatewatch fingerprint cache seed");
        let seed_bytes = seed_mac.finalize().into_bytes();
        let seed = u64::from_le_bytes(seed_bytes[..8].try_into().expect("8 of 32 bytes"));
        Ok(Normalizer {
            trusted: config.trusted_proxies.iter().map(IpNet::trunc).collect(),
            api_key_headers: names("api_key_headers", &config.api_key_headers)?,
            api_key_params: names("api_key_query_params", &config.api_key_query_params)?,
            redact_headers: names("redact_headers", &config.redact_headers)?,
            keyed,
            fingerprints: Arc::new(CredentialMemo::new(credential_memo::SLOTS, seed)),
            jwt_claims: Arc::new(CredentialMemo::new(credential_memo::SLOTS, seed)),
        })
    }

    /// Resolves the client IP, derives the identity and redacts every credential, in place.
    pub fn normalize(&self, x: &mut Exchange) {
        self.resolve_client(x);
        self.derive_identity(x);
        self.redact(x);
    }

    /// `hmac-sha256:<hex>` of a credential under the install key.
    pub fn fingerprint(&self, credential: &[u8]) -> String {
        let digest = self
            .fingerprints
            .get_or_compute(credential, |c| self.hmac(c));
        const HEX: &[u8; 16] = b"0123456789abcdef";
        const PREFIX: &[u8] = b"hmac-sha256:";
        // Filled on the stack and copied once: pushing char by char checks capacity 64 times.
        let mut text = [0u8; PREFIX.len() + 64];
        text[..PREFIX.len()].copy_from_slice(PREFIX);
        for (pair, b) in text[PREFIX.len()..].chunks_exact_mut(2).zip(digest) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 15)];
        }
        String::from_utf8(text.to_vec()).expect("a prefix and hex digits are ASCII")
    }

    /// `decode_jwt`, remembered per token.
    fn jwt(&self, token: &str) -> Option<JwtClaims> {
        // `{` always encodes to a leading `e`: other tokens are rejected before hashing.
        if !token.starts_with('e') {
            return None;
        }
        self.jwt_claims
            .get_or_compute(token.as_bytes(), |_| decode_jwt(token))
    }

    /// HMAC-SHA256 of a credential under the install key, uncached.
    fn hmac(&self, credential: &[u8]) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        mac.update(credential);
        mac.finalize().into_bytes().into()
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    fn resolve_client(&self, x: &mut Exchange) {
        let headers = x.request.headers.as_deref().unwrap_or_default();
        if x.client.forwarded_for.is_empty() {
            for h in headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("x-forwarded-for"))
            {
                x.client
                    .forwarded_for
                    .extend(h.value.split(',').filter_map(parse_hop));
            }
        }
        if x.client.forwarded_for.is_empty() {
            // RFC 7239 `Forwarded: for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"`.
            for h in headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("forwarded"))
            {
                let hops = h.value.split(',').filter_map(|element| {
                    element.split(';').find_map(|pair| {
                        let (k, v) = pair.trim().split_once('=')?;
                        k.trim()
                            .eq_ignore_ascii_case("for")
                            .then(|| parse_hop(v))
                            .flatten()
                    })
                });
                x.client.forwarded_for.extend(hops);
            }
        }
        if x.client.user_agent.is_none()
            && let Some(ua) = headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("user-agent"))
            && !ua.value.is_empty()
        {
            x.client.user_agent = Some(ua.value.clone());
        }
        if x.client.resolved_ip.is_none() {
            x.client.resolved_ip = self.resolve_ip(x.client.ip, &x.client.forwarded_for);
        }
    }

    /// The rule in the module documentation.
    pub fn resolve_ip(&self, peer: Option<IpAddr>, forwarded_for: &[IpAddr]) -> Option<IpAddr> {
        let peer = peer?;
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        let mut leftmost = peer;
        for &hop in forwarded_for.iter().rev() {
            if !self.is_trusted(hop) {
                return Some(hop);
            }
            leftmost = hop;
        }
        Some(leftmost)
    }

    fn derive_identity(&self, x: &mut Exchange) {
        let derived = self.identity_from_request(x);
        let Some(derived) = derived else {
            return;
        };
        let identity = x.identity.get_or_insert_with(Identity::default);
        if identity.auth_type.is_none() {
            identity.auth_type = Some(derived.auth_type);
        }
        if identity.principal.is_none() {
            identity.principal = derived.principal;
        }
        if identity.credential_fp.is_none() {
            identity.credential_fp = derived.credential_fp;
        }
        if let Some(jwt) = derived.jwt {
            if let Some(weakness) = jwt.weakness() {
                x.labels
                    .insert(JWT_WEAKNESS_LABEL.into(), weakness.to_owned());
            }
            if let Some(alg) = jwt.alg {
                x.extra
                    .insert("jwt.alg".into(), serde_json::Value::String(alg));
            }
            if let Some(aud) = jwt.aud {
                x.extra.insert("jwt.aud".into(), aud);
            }
            if let Some(azp) = jwt.azp {
                x.extra
                    .insert("jwt.azp".into(), serde_json::Value::String(azp));
            }
        }
    }

    /// What the request's credentials say, in order of strength: Authorization, an API-key
    /// header, an API-key query parameter, a client certificate; `None` when the record has no
    /// headers at all (an access log cannot tell "no credential" from "not logged").
    fn identity_from_request(&self, x: &Exchange) -> Option<Derived> {
        let headers = x.request.headers.as_deref();
        if let Some(auth) = headers.and_then(|h| {
            h.iter()
                .find(|h| h.name.eq_ignore_ascii_case("authorization"))
        }) {
            return Some(self.identity_of_authorization(&auth.value));
        }
        if let Some(h) = headers.and_then(|h| h.iter().find(|h| self.is_api_key_header(&h.name))) {
            return Some(self.identity_of_api_key(h.value.as_bytes()));
        }
        if let Some(q) = x.request.query.as_deref()
            && let Some(d) = self.identity_of_query(q)
        {
            return Some(d);
        }
        if let Some(subject) = x
            .client
            .tls
            .as_ref()
            .and_then(|t| t.peer_subject.as_deref())
        {
            return Some(Derived {
                auth_type: AuthType::Mtls,
                principal: Some(subject.to_string()),
                credential_fp: Some(self.fingerprint(subject.as_bytes())),
                jwt: None,
            });
        }
        headers.map(|_| Derived {
            auth_type: AuthType::None,
            principal: None,
            credential_fp: None,
            jwt: None,
        })
    }

    fn identity_of_authorization(&self, value: &str) -> Derived {
        let value = value.trim();
        if is_redacted(value) {
            // The gateway removed it before us: a credential was sent, of an unknown kind.
            return Derived::unknown();
        }
        let (scheme, credential) = match value.split_once(' ') {
            Some((s, c)) => (s, c.trim()),
            None => ("", value),
        };
        if scheme.eq_ignore_ascii_case("bearer") {
            return self.identity_of_bearer(credential);
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(credential)
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            let principal = decoded
                .as_deref()
                .and_then(|d| d.split_once(':'))
                .map(|(user, _)| user.to_string())
                .filter(|u| !u.is_empty());
            let fp_input = decoded.as_deref().unwrap_or(credential);
            return Derived {
                auth_type: AuthType::Basic,
                principal,
                credential_fp: Some(self.fingerprint(fp_input.as_bytes())),
                jwt: None,
            };
        }
        if ["apikey", "api-key", "key", "token"]
            .iter()
            .any(|s| scheme.eq_ignore_ascii_case(s))
        {
            return self.identity_of_api_key(credential.as_bytes());
        }
        // Digest, AWS SigV4, SharedAccessSignature …: signed per request, so no stable
        // fingerprint; the kind is recorded as unknown.
        Derived::unknown()
    }

    fn identity_of_bearer(&self, token: &str) -> Derived {
        let fp = Some(self.fingerprint(token.as_bytes()));
        match self.jwt(token) {
            Some(jwt) => Derived {
                auth_type: AuthType::BearerJwt,
                principal: jwt.principal.clone(),
                credential_fp: fp,
                jwt: Some(jwt),
            },
            None => Derived {
                auth_type: AuthType::BearerOpaque,
                principal: None,
                credential_fp: fp,
                jwt: None,
            },
        }
    }

    fn identity_of_api_key(&self, key: &[u8]) -> Derived {
        if is_redacted(std::str::from_utf8(key).unwrap_or_default().trim()) {
            return Derived {
                auth_type: AuthType::ApiKey,
                principal: None,
                credential_fp: None,
                jwt: None,
            };
        }
        Derived {
            auth_type: AuthType::ApiKey,
            principal: None,
            credential_fp: Some(self.fingerprint(key)),
            jwt: None,
        }
    }

    fn identity_of_query(&self, query: &str) -> Option<Derived> {
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if value.is_empty() || is_redacted(value) {
                continue;
            }
            if self.is_api_key_param(name) || looks_like_jwt(value) {
                let decoded = percent_encoding::percent_decode_str(value).collect::<Vec<u8>>();
                let text = String::from_utf8_lossy(&decoded);
                if let Some(jwt) = self.jwt(&text) {
                    return Some(Derived {
                        auth_type: AuthType::BearerJwt,
                        principal: jwt.principal.clone(),
                        credential_fp: Some(self.fingerprint(&decoded)),
                        jwt: Some(jwt),
                    });
                }
                return Some(self.identity_of_api_key(&decoded));
            }
        }
        None
    }

    fn is_api_key_header(&self, name: &str) -> bool {
        self.api_key_headers
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
            || (looks_like_credential_header(name)
                && !self
                    .redact_headers
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(name)))
    }

    fn is_api_key_param(&self, name: &str) -> bool {
        self.api_key_params
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
    }

    fn redact(&self, x: &mut Exchange) {
        if let Some(headers) = x.request.headers.as_mut() {
            self.redact_headers(headers);
        }
        if let Some(headers) = x.response.headers.as_mut() {
            self.redact_headers(headers);
        }
        if let Some(q) = x.request.query.as_mut()
            && let Some(clean) = self.redact_query(q)
        {
            *q = clean;
        }
        if let Some(url) = x.upstream.as_mut().and_then(|u| u.url.as_mut()) {
            self.redact_url(url);
        }
        self.redact_extra(&mut x.extra);
    }

    /// Redacts the credentials in the query of a URL or request target, keeping the rest.
    fn redact_url(&self, url: &mut String) {
        let Some((base, rest)) = url.split_once('?') else {
            return;
        };
        let (query, fragment) = rest
            .split_once('#')
            .map_or((rest, None), |(q, f)| (q, Some(f)));
        if let Some(clean) = self.redact_query(query) {
            let mut out = format!("{base}?{clean}");
            if let Some(f) = fragment {
                out.push('#');
                out.push_str(f);
            }
            *url = out;
        }
    }

    /// Unmapped source fields can carry credentials too (APIM `BackendRequestHeaders`, a
    /// redirect URL with a code, a custom field holding a token): values whose name is a
    /// credential header, that are tokens, or URLs with credential parameters are redacted.
    fn redact_extra(&self, extra: &mut serde_json::Map<String, serde_json::Value>) {
        for (key, value) in extra.iter_mut() {
            let serde_json::Value::String(v) = value else {
                continue;
            };
            if v == REDACTED {
                continue;
            }
            let name = key.rsplit('.').next().unwrap_or(key);
            // Traefik names header fields `request_<Header>` / `origin_<Header>` / `downstream_<Header>`.
            let name = ["request_", "origin_", "downstream_"]
                .iter()
                .find_map(|p| {
                    name.get(..p.len())
                        .filter(|h| h.eq_ignore_ascii_case(p))
                        .map(|_| &name[p.len()..])
                })
                .unwrap_or(name);
            if self.is_credential_header(name) || looks_like_jwt(v) || has_auth_scheme(v) {
                v.clear();
                v.push_str(REDACTED);
            } else if v.contains('?') {
                self.redact_url(v);
            }
        }
    }

    fn is_credential_header(&self, name: &str) -> bool {
        name.eq_ignore_ascii_case("cookie")
            || name.eq_ignore_ascii_case("set-cookie")
            || AUTH_HEADERS.iter().any(|n| n.eq_ignore_ascii_case(name))
            || self.is_api_key_header(name)
            || self
                .redact_headers
                .iter()
                .any(|n| n.eq_ignore_ascii_case(name))
    }

    fn redact_headers(&self, headers: &mut [Header]) {
        for h in headers {
            let name = h.name.as_str();
            if name.eq_ignore_ascii_case("cookie") {
                if let Some(clean) = redact_cookie(&h.value) {
                    h.value = clean;
                }
            } else if name.eq_ignore_ascii_case("set-cookie") {
                if let Some(clean) = redact_set_cookie(&h.value) {
                    h.value = clean;
                }
            } else if (AUTH_HEADERS.iter().any(|n| n.eq_ignore_ascii_case(name))
                || self.is_api_key_header(name)
                || self
                    .redact_headers
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(name)))
                && h.value != REDACTED
            {
                // Reuses the value's buffer: no allocation for the usual longer credential.
                h.value.clear();
                h.value.push_str(REDACTED);
            }
        }
    }

    /// The query with every credential value replaced, or `None` when there is none (the
    /// common case, without allocating). Parameter names, order and separators are kept.
    pub fn redact_query(&self, query: &str) -> Option<String> {
        let needs = |pair: &str| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            !value.is_empty()
                && value != REDACTED
                && (self.is_api_key_param(name) || looks_like_jwt(value))
        };
        if !query.split('&').any(needs) {
            return None;
        }
        let mut out = String::with_capacity(query.len() + 16);
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            if needs(pair) {
                let name = pair.split_once('=').map_or(pair, |(n, _)| n);
                out.push_str(name);
                out.push('=');
                out.push_str(REDACTED);
            } else {
                out.push_str(pair);
            }
        }
        Some(out)
    }
}

/// What the credentials of one request say.
struct Derived {
    auth_type: AuthType,
    principal: Option<String>,
    credential_fp: Option<String>,
    jwt: Option<JwtClaims>,
}

impl Derived {
    fn unknown() -> Self {
        Derived {
            auth_type: AuthType::Unknown,
            principal: None,
            credential_fp: None,
            jwt: None,
        }
    }
}

/// `Bearer …` / `Basic …`: an Authorization value wherever it turns up.
fn has_auth_scheme(v: &str) -> bool {
    ["bearer ", "basic "]
        .iter()
        .any(|s| v.get(..s.len()).is_some_and(|p| p.eq_ignore_ascii_case(s)))
}

/// A value the gateway or an earlier stage already removed (Kong writes `REDACTED`).
fn is_redacted(v: &str) -> bool {
    v == REDACTED || v == "REDACTED" || v == "***" || v.eq_ignore_ascii_case("[redacted]")
}

/// `Cookie: a=1; b=2` → `a=[REDACTED]; b=[REDACTED]`: every cookie may be a session credential;
/// the names stay for the parameter inventory.
fn redact_cookie(value: &str) -> Option<String> {
    let needs = value.split(';').any(|c| {
        let v = c.split_once('=').map_or("", |(_, v)| v.trim());
        !v.is_empty() && v != REDACTED
    });
    if !needs {
        return None;
    }
    let mut out = String::with_capacity(value.len() + 16);
    for (i, c) in value.split(';').enumerate() {
        if i > 0 {
            out.push(';');
        }
        match c.split_once('=') {
            Some((name, _)) => {
                out.push_str(name);
                out.push('=');
                out.push_str(REDACTED);
            }
            None if c.trim().is_empty() => out.push_str(c),
            // A bare token without `=` is a value too.
            None => {
                out.push(' ');
                out.push_str(REDACTED);
            }
        }
    }
    Some(out)
}

/// `Set-Cookie: sid=abc; Path=/; HttpOnly` → `sid=[REDACTED]; Path=/; HttpOnly`.
fn redact_set_cookie(value: &str) -> Option<String> {
    let (first, attributes) = value
        .split_once(';')
        .map_or((value, None), |(f, a)| (f, Some(a)));
    let (name, v) = first.split_once('=').unwrap_or(("", first));
    if v.trim().is_empty() || v == REDACTED {
        return None;
    }
    let mut out = format!("{name}={REDACTED}");
    if let Some(a) = attributes {
        out.push(';');
        out.push_str(a);
    }
    Some(out)
}

/// Hop text → IP: trims, drops ports (`203.0.113.7:5100`, `[2001:db8::1]:443`) and quotes;
/// obfuscated or garbage hops (`unknown`, `_hidden`) are skipped.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if hop.is_empty() {
        return None;
    }
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (ip, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    ip.parse().ok()
}

/// IPv4-mapped IPv6 (`::ffff:10.0.0.1`) is the IPv4 address for trust decisions.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The JWT claims kept on the record (never the token).
#[derive(Debug, Clone, PartialEq)]
struct JwtClaims {
    alg: Option<String>,
    /// `sub@iss`, `sub`, or the client id of a client-credentials token.
    principal: Option<String>,
    aud: Option<serde_json::Value>,
    azp: Option<String>,
    /// Whether the payload has an `exp` claim.
    has_exp: bool,
}

impl JwtClaims {
    /// The worst weakness of the token: unsigned (`alg: none`, any case) before no expiry.
    fn weakness(&self) -> Option<&'static str> {
        if self
            .alg
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case("none"))
        {
            Some("alg_none")
        } else if !self.has_exp {
            Some("no_exp")
        } else {
            None
        }
    }
}

const B64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Cheap pre-check before decoding: `eyJ` is base64url for `{"`.
fn looks_like_jwt(v: &str) -> bool {
    v.starts_with("eyJ") && v.bytes().filter(|&b| b == b'.').count() == 2
}

/// Decodes a JWT's header and payload without verifying anything (`alg: none` included).
/// Anything that is not three base64url parts with JSON objects in the first two is `None`.
fn decode_jwt(token: &str) -> Option<JwtClaims> {
    #[derive(Deserialize)]
    struct JoseHeader {
        alg: Option<String>,
    }
    #[derive(Deserialize)]
    struct Payload {
        sub: Option<serde_json::Value>,
        iss: Option<String>,
        aud: Option<serde_json::Value>,
        azp: Option<String>,
        client_id: Option<String>,
        appid: Option<String>,
        exp: Option<serde_json::Value>,
    }
    // `{` always encodes to a leading `e`: anything else is not a JWT, without decoding.
    if !token.starts_with('e') {
        return None;
    }
    let mut parts = token.split('.');
    let (h, p, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || h.is_empty() || p.is_empty() {
        return None;
    }
    let header: JoseHeader = serde_json::from_slice(&B64URL.decode(h).ok()?).ok()?;
    let payload: Payload = serde_json::from_slice(&B64URL.decode(p).ok()?).ok()?;
    let sub = payload.sub.as_ref().and_then(|s| match s {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let subject = sub
        .or_else(|| payload.azp.clone())
        .or(payload.client_id)
        .or(payload.appid);
    let principal = match (subject, payload.iss) {
        (Some(s), Some(iss)) => Some(format!("{s}@{iss}")),
        (s, _) => s,
    };
    Some(JwtClaims {
        alg: header.alg,
        principal,
        aud: payload.aud,
        azp: payload.azp,
        has_exp: payload.exp.is_some_and(|e| !e.is_null()),
    })
}

/// Custom credential headers follow a few naming habits (`x-admin-key`, `x-partner-token`,
/// `x-client-secret`); a header named like that is treated as an API key even when it is not
/// in the configured list, so a credential is never stored because its header was unusual.
/// Names that only describe keys (`x-key-id`, `idempotency-key`, `x-cache-key`) do not count.
fn looks_like_credential_header(name: &str) -> bool {
    const NOT_CREDENTIALS: &[&str] = &[
        "idempotency-key",
        "x-idempotency-key",
        "x-cache-key",
        "x-request-key",
        "x-correlation-key",
        "sec-websocket-key",
    ];
    const SUFFIXES: &[&str] = &[
        "-key", "_key", "-token", "_token", "-secret", "_secret", "-apikey", "-api-key",
    ];
    // Runs for every header of every record: compares in place instead of lowercasing a copy.
    let name = name.as_bytes();
    let ends_with = |suffix: &&str| {
        name.len() >= suffix.len()
            && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    };
    SUFFIXES.iter().any(ends_with)
        && !NOT_CREDENTIALS
            .iter()
            .any(|n| n.as_bytes().eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gw_model::{Capture, Source, SourceKind, Tls, Upstream};

    const KEY: [u8; 32] = [7; 32];

    fn normalizer(trusted: &[&str]) -> Normalizer {
        let config = NormalizeConfig {
            trusted_proxies: trusted.iter().map(|c| c.parse().unwrap()).collect(),
            ..NormalizeConfig::default()
        };
        Normalizer::new(&config, &KEY).unwrap()
    }

    fn record(headers: &[(&str, &str)], query: Option<&str>) -> Exchange {
        let mut x = Exchange::new(
            "id",
            jiff::Timestamp::UNIX_EPOCH,
            Source {
                kind: SourceKind::Native,
                capture: Capture::Frontend,
                gateway: None,
                raw_ref: None,
            },
            "GET",
            "/v1/orders",
        );
        x.request.headers = Some(headers.iter().map(|(n, v)| Header::new(*n, *v)).collect());
        x.request.query = query.map(str::to_string);
        x
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    fn jwt(header: &str, payload: &str) -> String {
        format!("{}.{}.c2lnbmF0dXJl", b64(header), b64(payload))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn xff_is_ignored_without_trusted_proxies() {
        let n = normalizer(&[]);
        let mut x = record(&[("x-forwarded-for", "198.51.100.1, 203.0.113.9")], None);
        x.client.ip = Some(ip("10.0.0.5"));
        n.normalize(&mut x);
        assert_eq!(
            x.client.forwarded_for,
            vec![ip("198.51.100.1"), ip("203.0.113.9")]
        );
        assert_eq!(x.client.resolved_ip, Some(ip("10.0.0.5")));
    }

    #[test]
    fn xff_walks_right_to_left_over_trusted_hops() {
        let n = normalizer(&["10.0.0.0/8", "203.0.113.9/32"]);
        let mut x = record(
            &[
                ("X-Forwarded-For", "198.51.100.1, 192.0.2.77"),
                ("x-forwarded-for", "203.0.113.9"),
            ],
            None,
        );
        x.client.ip = Some(ip("10.0.0.5"));
        n.normalize(&mut x);
        assert_eq!(
            x.client.forwarded_for.len(),
            3,
            "repeated headers join in order"
        );
        assert_eq!(
            x.client.resolved_ip,
            Some(ip("192.0.2.77")),
            "a spoofed leftmost hop is not believed"
        );
    }

    #[test]
    fn an_untrusted_peer_makes_xff_worthless() {
        let n = normalizer(&["10.0.0.0/8"]);
        assert_eq!(
            n.resolve_ip(Some(ip("203.0.113.50")), &[ip("1.1.1.1")]),
            Some(ip("203.0.113.50"))
        );
        assert_eq!(n.resolve_ip(None, &[ip("1.1.1.1")]), None);
        assert_eq!(
            n.resolve_ip(Some(ip("10.0.0.1")), &[ip("10.0.0.2")]),
            Some(ip("10.0.0.2")),
            "all trusted → leftmost"
        );
    }

    #[test]
    fn ipv6_hops_ports_and_garbage() {
        let n = normalizer(&["2001:db8:ffff::/48", "10.0.0.0/8"]);
        let mut x = record(
            &[(
                "x-forwarded-for",
                "unknown, [2001:db8::7]:443, _hidden, 198.51.100.4:5100, not-an-ip, 2001:db8:ffff::1",
            )],
            None,
        );
        x.client.ip = Some(ip("::ffff:10.1.2.3"));
        n.normalize(&mut x);
        assert_eq!(
            x.client.forwarded_for,
            vec![
                ip("2001:db8::7"),
                ip("198.51.100.4"),
                ip("2001:db8:ffff::1")
            ]
        );
        assert_eq!(
            x.client.resolved_ip,
            Some(ip("198.51.100.4")),
            "mapped IPv4 peer is trusted as IPv4"
        );
        assert_eq!(
            x.request.header("x-forwarded-for"),
            Some(
                "unknown, [2001:db8::7]:443, _hidden, 198.51.100.4:5100, not-an-ip, 2001:db8:ffff::1"
            ),
            "the raw header is kept"
        );
    }

    #[test]
    fn rfc7239_forwarded_is_read_when_there_is_no_xff() {
        let n = normalizer(&["10.0.0.0/8"]);
        let mut x = record(
            &[(
                "forwarded",
                "for=192.0.2.60;proto=https, for=\"[2001:db8:cafe::17]:4711\", for=unknown, by=10.0.0.1;for=10.0.0.9",
            )],
            None,
        );
        x.client.ip = Some(ip("10.0.0.1"));
        n.normalize(&mut x);
        assert_eq!(
            x.client.forwarded_for,
            vec![ip("192.0.2.60"), ip("2001:db8:cafe::17"), ip("10.0.0.9")]
        );
        assert_eq!(x.client.resolved_ip, Some(ip("2001:db8:cafe::17")));
    }

    #[test]
    fn decoder_chains_are_not_overwritten_and_user_agent_is_filled() {
        let n = normalizer(&[]);
        let mut x = record(
            &[
                ("x-forwarded-for", "198.51.100.1"),
                ("user-agent", "okhttp/4.12.0"),
            ],
            None,
        );
        x.client.forwarded_for = vec![ip("192.0.2.1")];
        n.normalize(&mut x);
        assert_eq!(x.client.forwarded_for, vec![ip("192.0.2.1")]);
        assert_eq!(x.client.user_agent.as_deref(), Some("okhttp/4.12.0"));
    }

    fn assert_gone(x: &Exchange, secret: &str) {
        let json = serde_json::to_string(x).unwrap();
        assert!(!json.contains(secret), "{secret} survived in {json}");
    }

    #[test]
    fn jwt_claims_are_kept_and_the_token_is_not() {
        let token = jwt(
            r#"{"alg":"RS256","typ":"JWT"}"#,
            r#"{"sub":"8841","iss":"https://login.example.com","aud":["orders","billing"],"azp":"mobile"}"#,
        );
        let n = normalizer(&[]);
        let mut x = record(&[("authorization", &format!("Bearer {token}"))], None);
        n.normalize(&mut x);
        let id = x.identity.as_ref().unwrap();
        assert_eq!(id.auth_type, Some(AuthType::BearerJwt));
        assert_eq!(
            id.principal.as_deref(),
            Some("8841@https://login.example.com")
        );
        assert_eq!(id.credential_fp, Some(n.fingerprint(token.as_bytes())));
        assert_eq!(x.extra["jwt.aud"], serde_json::json!(["orders", "billing"]));
        assert_eq!(x.extra["jwt.alg"], "RS256");
        assert_eq!(x.request.header("authorization"), Some(REDACTED));
        assert_gone(&x, &token);
        assert_gone(&x, &b64(r#"{"alg":"RS256","typ":"JWT"}"#));
    }

    #[test]
    fn alg_none_tokens_still_decode_and_garbage_is_opaque() {
        let n = normalizer(&[]);
        let none = format!(
            "{}.{}.",
            b64(r#"{"alg":"none"}"#),
            b64(r#"{"sub":"admin"}"#)
        );
        let mut x = record(&[("authorization", &format!("bearer {none}"))], None);
        n.normalize(&mut x);
        assert_eq!(
            x.identity.as_ref().unwrap().auth_type,
            Some(AuthType::BearerJwt)
        );
        assert_eq!(
            x.identity.as_ref().unwrap().principal.as_deref(),
            Some("admin")
        );
        assert_eq!(x.extra["jwt.alg"], "none");

        for garbage in [
            "abc.def.ghi",
            "eyJ!!.eyJ??.x",
            "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.x",
            "onlyonepart",
            "a.b.c.d",
        ] {
            let mut x = record(&[("authorization", &format!("Bearer {garbage}"))], None);
            n.normalize(&mut x);
            let id = x.identity.as_ref().unwrap();
            assert_eq!(id.auth_type, Some(AuthType::BearerOpaque), "{garbage}");
            assert_eq!(id.principal, None);
            assert_gone(&x, garbage);
        }
    }

    #[test]
    fn jwt_weaknesses_are_labelled() {
        let n = normalizer(&[]);
        let label = |token: String| {
            let mut x = record(&[("authorization", &format!("Bearer {token}"))], None);
            n.normalize(&mut x);
            assert_gone(&x, &token);
            x.labels.get(JWT_WEAKNESS_LABEL).cloned()
        };
        let unsigned = format!(
            "{}.{}.",
            b64(r#"{"alg":"None"}"#),
            b64(r#"{"sub":"admin","exp":1900000000}"#)
        );
        assert_eq!(label(unsigned).as_deref(), Some("alg_none"));
        let unsigned_no_exp = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(r#"{"sub":"a"}"#));
        assert_eq!(
            label(unsigned_no_exp).as_deref(),
            Some("alg_none"),
            "the worse weakness wins"
        );
        let no_exp = jwt(r#"{"alg":"RS256"}"#, r#"{"sub":"1","iss":"idp"}"#);
        assert_eq!(label(no_exp).as_deref(), Some("no_exp"));
        let null_exp = jwt(r#"{"alg":"RS256"}"#, r#"{"sub":"1","exp":null}"#);
        assert_eq!(label(null_exp).as_deref(), Some("no_exp"));
        let sound = jwt(r#"{"alg":"ES256"}"#, r#"{"sub":"1","exp":1900000000}"#);
        assert_eq!(label(sound), None);
        // opaque tokens and API keys say nothing about JWTs
        assert_eq!(label("opaque-token-value".into()), None);
        let mut x = record(&[("x-api-key", "k-123")], None);
        n.normalize(&mut x);
        assert!(x.labels.is_empty());
    }

    #[test]
    fn basic_auth_keeps_the_user_only() {
        let n = normalizer(&[]);
        let cred = base64::engine::general_purpose::STANDARD.encode("alice:s3cr3t-pw");
        let mut x = record(&[("Authorization", &format!("Basic {cred}"))], None);
        n.normalize(&mut x);
        let id = x.identity.as_ref().unwrap();
        assert_eq!(id.auth_type, Some(AuthType::Basic));
        assert_eq!(id.principal.as_deref(), Some("alice"));
        assert_eq!(id.credential_fp, Some(n.fingerprint(b"alice:s3cr3t-pw")));
        assert_gone(&x, &cred);
        assert_gone(&x, "s3cr3t-pw");
    }

    #[test]
    fn headers_that_only_describe_keys_are_not_credentials() {
        for name in [
            "idempotency-key",
            "Sec-WebSocket-Key",
            "x-key-id",
            "accept",
            "x-keyboard",
        ] {
            assert!(!looks_like_credential_header(name), "{name}");
        }
    }

    #[test]
    fn api_key_headers_and_query_parameters() {
        let n = normalizer(&[]);
        for header in [
            "x-api-key",
            "Ocp-Apim-Subscription-Key",
            "x-functions-key",
            "apikey",
            "x-admin-key",
            "X-Partner-Token",
            "x-client-secret",
        ] {
            let mut x = record(&[(header, "k-1234567890abcdef")], None);
            n.normalize(&mut x);
            let id = x.identity.as_ref().unwrap();
            assert_eq!(id.auth_type, Some(AuthType::ApiKey), "{header}");
            assert_eq!(id.credential_fp, Some(n.fingerprint(b"k-1234567890abcdef")));
            assert_gone(&x, "k-1234567890abcdef");
        }
        let mut x = record(
            &[("accept", "*/*")],
            Some("page=2&api_key=k-1234567890abcdef&sort=asc&subscription-key=&x=%20y"),
        );
        n.normalize(&mut x);
        assert_eq!(
            x.request.query.as_deref(),
            Some("page=2&api_key=[REDACTED]&sort=asc&subscription-key=&x=%20y")
        );
        let id = x.identity.as_ref().unwrap();
        assert_eq!(id.auth_type, Some(AuthType::ApiKey));
        assert_eq!(
            id.credential_fp,
            Some(n.fingerprint(b"k-1234567890abcdef")),
            "same key, same fingerprint as in a header"
        );
    }

    #[test]
    fn tokens_in_the_query_and_upstream_url_are_redacted() {
        let n = normalizer(&[]);
        let token = jwt(r#"{"alg":"HS256"}"#, r#"{"sub":"42","iss":"idp"}"#);
        let mut x = record(&[], Some(&format!("access_token={token}&q=1")));
        x.upstream = Some(Upstream {
            url: Some(format!("/orders?code=oauth-code-123&jwt_like={token}")),
            ..Upstream::default()
        });
        n.normalize(&mut x);
        let id = x.identity.as_ref().unwrap();
        assert_eq!(
            (id.auth_type, id.principal.as_deref()),
            (Some(AuthType::BearerJwt), Some("42@idp"))
        );
        assert_eq!(
            x.request.query.as_deref(),
            Some("access_token=[REDACTED]&q=1")
        );
        assert_eq!(
            x.upstream.as_ref().unwrap().url.as_deref(),
            Some("/orders?code=[REDACTED]&jwt_like=[REDACTED]")
        );
        assert_gone(&x, &token);
        assert_gone(&x, "oauth-code-123");
    }

    #[test]
    fn credentials_in_unmapped_fields_are_redacted() {
        let n = normalizer(&[]);
        let token = jwt(r#"{"alg":"HS256"}"#, r#"{"sub":"1"}"#);
        let mut x = record(&[("accept", "*/*")], None);
        for (k, v) in [
            (
                "apim.BackendRequestHeaders.Authorization",
                "SharedAccessSignature sr=x&sig=backend-sig-1",
            ),
            ("apim.BackendRequestHeaders.x-api-key", "backend-key-2"),
            ("traefik.request_Cookie", "sid=cookie-3"),
            ("custom.forwarded_auth", "Bearer opaque-4"),
            ("custom.claims", token.as_str()),
            (
                "alb.redirect_url",
                "https://app.example.com/cb?code=oauth-5&state=s#top",
            ),
            ("kong.route.name", "orders"),
        ] {
            x.extra.insert(k.into(), v.into());
        }
        n.normalize(&mut x);
        for secret in [
            "backend-sig-1",
            "backend-key-2",
            "cookie-3",
            "opaque-4",
            token.as_str(),
            "oauth-5",
        ] {
            assert_gone(&x, secret);
        }
        assert_eq!(
            x.extra["alb.redirect_url"],
            "https://app.example.com/cb?code=[REDACTED]&state=s#top"
        );
        assert_eq!(x.extra["kong.route.name"], "orders");
    }

    #[test]
    fn cookies_set_cookies_and_other_credentials() {
        let n = normalizer(&[]);
        let mut x = record(
            &[
                ("cookie", "sid=abcdef123456; theme=dark; csrftoken=zzz999"),
                ("proxy-authorization", "Basic cHJveHk6cHc="),
                ("x-amz-security-token", "FwoGZXIvYXdzEJr"),
            ],
            None,
        );
        x.response.headers = Some(vec![Header::new(
            "set-cookie",
            "sid=abcdef123456; Path=/; HttpOnly; Secure",
        )]);
        n.normalize(&mut x);
        assert_eq!(
            x.request.header("cookie"),
            Some("sid=[REDACTED]; theme=[REDACTED]; csrftoken=[REDACTED]")
        );
        assert_eq!(
            x.response.header("set-cookie"),
            Some("sid=[REDACTED]; Path=/; HttpOnly; Secure")
        );
        for secret in ["abcdef123456", "zzz999", "cHJveHk6cHc=", "FwoGZXIvYXdzEJr"] {
            assert_gone(&x, secret);
        }
        assert_eq!(
            x.identity.as_ref().unwrap().auth_type,
            Some(AuthType::None),
            "cookies are not classified"
        );
    }

    #[test]
    fn auth_type_from_mtls_none_and_what_the_gateway_said() {
        let n = normalizer(&[]);
        let mut x = record(&[("accept", "*/*")], None);
        x.client.tls = Some(Tls {
            peer_subject: Some("CN=partner-42,O=Example".into()),
            ..Tls::default()
        });
        n.normalize(&mut x);
        assert_eq!(x.identity.as_ref().unwrap().auth_type, Some(AuthType::Mtls));
        assert_eq!(
            x.identity.as_ref().unwrap().principal.as_deref(),
            Some("CN=partner-42,O=Example")
        );

        let mut x = record(&[("accept", "*/*")], None);
        n.normalize(&mut x);
        assert_eq!(x.identity.as_ref().unwrap().auth_type, Some(AuthType::None));

        let mut x = record(&[], None);
        x.request.headers = None;
        n.normalize(&mut x);
        assert!(
            x.identity.is_none(),
            "an access log without headers says nothing about auth"
        );

        let mut x = record(&[("authorization", "REDACTED")], None);
        x.identity = Some(Identity {
            consumer_id: Some("c62c".into()),
            ..Identity::default()
        });
        n.normalize(&mut x);
        let id = x.identity.as_ref().unwrap();
        assert_eq!(
            (id.auth_type, id.consumer_id.as_deref()),
            (Some(AuthType::Unknown), Some("c62c"))
        );
        assert_eq!(
            x.request.header("authorization"),
            Some(REDACTED),
            "Kong's marker becomes ours"
        );
    }

    #[test]
    fn fingerprints_are_stable_per_key_and_differ_between_keys() {
        let a = normalizer(&[]);
        let b = Normalizer::new(&NormalizeConfig::default(), &[8; 32]).unwrap();
        assert_eq!(a.fingerprint(b"key-1"), a.fingerprint(b"key-1"));
        assert_ne!(a.fingerprint(b"key-1"), a.fingerprint(b"key-2"));
        assert_ne!(a.fingerprint(b"key-1"), b.fingerprint(b"key-1"));
        let fp = a.fingerprint(b"key-1");
        assert!(
            fp.starts_with("hmac-sha256:") && fp.len() == 12 + 64,
            "{fp}"
        );
    }

    #[test]
    fn cached_fingerprints_equal_the_uncached_hmac() {
        let n = normalizer(&[]);
        let other = Normalizer::new(&NormalizeConfig::default(), &[9; 32]).unwrap();
        for credential in [&b"key-one"[..], b"key-two", b"", b"svc:pw"] {
            let hex: String = n
                .hmac(credential)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let want = format!("hmac-sha256:{hex}");
            // First call fills the cache, the second reads it; a clone shares it.
            assert_eq!(n.fingerprint(credential), want);
            assert_eq!(n.fingerprint(credential), want);
            assert_eq!(n.clone().fingerprint(credential), want);
            assert_ne!(
                other.fingerprint(credential),
                want,
                "key matters on a hit too"
            );
        }
        assert_ne!(n.fingerprint(b"key-one"), n.fingerprint(b"key-two"));
    }

    #[test]
    fn remembered_jwt_claims_equal_a_fresh_decode() {
        let n = normalizer(&[]);
        let with_exp = jwt(r#"{"alg":"RS256"}"#, r#"{"sub":"u1","iss":"idp","exp":9}"#);
        let no_exp = jwt(r#"{"alg":"RS256"}"#, r#"{"sub":"u2","aud":["a","b"]}"#);
        for token in [
            &with_exp,
            &no_exp,
            &"eyJ.not.json".to_string(),
            &"opaque".to_string(),
        ] {
            let fresh = decode_jwt(token);
            assert_eq!(n.jwt(token), fresh, "{token}");
            assert_eq!(n.jwt(token), fresh, "{token} remembered");
        }
        let run = |token: &str| {
            let auth = format!("Bearer {token}");
            let mut x = record(&[("authorization", auth.as_str())], None);
            n.normalize(&mut x);
            (x.identity, x.labels, x.extra)
        };
        let first = run(&no_exp);
        assert_eq!(run(&no_exp), first);
        assert_eq!(
            first.1.get(JWT_WEAKNESS_LABEL).map(String::as_str),
            Some("no_exp")
        );
        assert_eq!(first.0.unwrap().principal.as_deref(), Some("u2"));
        assert!(!run(&with_exp).1.contains_key(JWT_WEAKNESS_LABEL));
    }

    #[test]
    fn credential_header_names_are_matched_without_case() {
        for name in [
            "X-Partner-Token",
            "x-admin-key",
            "X_CLIENT_SECRET",
            "x-svc-ApiKey",
        ] {
            assert!(looks_like_credential_header(name), "{name}");
        }
        for name in [
            "Idempotency-Key",
            "SEC-WEBSOCKET-KEY",
            "x-keyring",
            "key",
            "ключ-key-ü",
        ] {
            assert_eq!(
                looks_like_credential_header(name),
                name.ends_with("-key") && !name.eq_ignore_ascii_case("sec-websocket-key"),
                "{name}"
            );
        }
    }

    #[test]
    fn a_record_without_credentials_is_left_as_it_was() {
        let n = normalizer(&[]);
        let mut x = record(&[("accept", "application/json")], Some("page=2&size=50"));
        x.client.ip = Some(ip("192.0.2.1"));
        let before = x.clone();
        n.normalize(&mut x);
        assert_eq!(x.request, before.request);
        assert_eq!(n.redact_query("page=2&size=50"), None);
    }

    #[test]
    fn config_is_strict_and_has_defaults() {
        let c: NormalizeConfig =
            serde_json::from_str(r#"{"trusted_proxies":["10.0.0.0/8","2001:db8::/32"]}"#).unwrap();
        assert_eq!(c.trusted_proxies.len(), 2);
        assert_eq!(
            c.api_key_headers,
            NormalizeConfig::default().api_key_headers
        );
        assert!(serde_json::from_str::<NormalizeConfig>(r#"{"trusted_proxy":[]}"#).is_err());
        let bad = NormalizeConfig {
            api_key_headers: vec!["x-api-key".into(), " ".into()],
            ..NormalizeConfig::default()
        };
        assert_eq!(
            Normalizer::new(&bad, &KEY).unwrap_err(),
            NormalizeConfigError::EmptyName {
                list: "api_key_headers",
                index: 1
            }
        );
    }
}
