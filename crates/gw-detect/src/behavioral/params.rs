//! Parameter profiles per endpoint: which parameters (name + location) an endpoint takes and
//! which value types each one carries. `GW-T-UNSEEN-PARAM` fires on a parameter never seen
//! while the endpoint was learned; `GW-T-PARAM-TYPE` on a value whose type the parameter
//! (almost) never had. A parameter first seen after learning is adopted once enough distinct
//! actors send it, so one attacker cannot teach the profile.
//!
//! Parameters come from `exchange.params` (discovery) when present; otherwise
//! [`extract_params`] derives them from the path (against the endpoint template), the query,
//! a form body or the top level of a JSON body.

use std::borrow::Cow;

use gw_model::{Confidence, Exchange, Finding, ParamLocation};
use gw_sketch::{BoundedMap, stable_hash};

use super::marks::MarkBook;
use super::{
    Alert, BehavioralConfig, BehavioralConfigError, PARAM_TYPE, StreamClock, UNSEEN_PARAM, Who,
    endpoint_key, event_secs, finding, human, identity_of, location_word, recycle, split_ascii,
    split_once_ascii,
};
use serde::{Deserialize, Serialize};

use crate::{DetectorStats, RuleMeta};

/// Bodies larger than this are not parsed for parameters.
const MAX_BODY_PARSE: usize = 64 * 1024;

/// The value types a parameter profile distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ValueType {
    Integer,
    Number,
    Boolean,
    Uuid,
    String,
    Object,
    Array,
    Null,
}

impl ValueType {
    pub const COUNT: usize = 8;

    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Integer => "integer",
            ValueType::Number => "number",
            ValueType::Boolean => "boolean",
            ValueType::Uuid => "uuid",
            ValueType::String => "string",
            ValueType::Object => "object",
            ValueType::Array => "array",
            ValueType::Null => "null",
        }
    }

    /// Reads a discovery type name; formats this profile does not know count as strings.
    pub fn from_name(name: &str) -> ValueType {
        match name {
            "integer" | "int" | "int32" | "int64" => ValueType::Integer,
            "number" | "float" | "double" => ValueType::Number,
            "boolean" | "bool" => ValueType::Boolean,
            "uuid" => ValueType::Uuid,
            "object" => ValueType::Object,
            "array" => ValueType::Array,
            "null" => ValueType::Null,
            _ => ValueType::String,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The type of a textual value (path segment, query or form value).
pub fn classify_value(v: &str) -> ValueType {
    let b = v.as_bytes();
    if b.is_empty() {
        return ValueType::String;
    }
    let digits = if b[0] == b'-' { &b[1..] } else { b };
    if !digits.is_empty() && digits.len() <= 19 && digits.iter().all(u8::is_ascii_digit) {
        return ValueType::Integer;
    }
    if v == "true" || v == "false" {
        return ValueType::Boolean;
    }
    if is_uuid(b) {
        return ValueType::Uuid;
    }
    if digits.iter().any(u8::is_ascii_digit)
        && digits.iter().all(|c| c.is_ascii_digit() || *c == b'.')
        && digits.iter().filter(|c| **c == b'.').count() == 1
    {
        return ValueType::Number;
    }
    ValueType::String
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// One parameter of a record as the profiles see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtractedParam<'a> {
    pub name: Cow<'a, str>,
    pub location: ParamLocation,
    pub value_type: ValueType,
    /// The raw value for path, query and form parameters (never put into findings).
    pub value: Option<&'a str>,
}

/// Parameters of `x`: path and query parameters (with their values), then body parameters
/// from `exchange.params` when discovery set them, else from a form or top-level JSON body.
pub fn extract_params<'a>(x: &'a Exchange, out: &mut Vec<ExtractedParam<'a>>) {
    out.clear();
    extract_path_and_query(x, out);
    extract_body_params(x, out);
}

/// Path parameters (against the endpoint template) and query parameters of `x`, with values.
pub fn extract_path_and_query<'a>(x: &'a Exchange, out: &mut Vec<ExtractedParam<'a>>) {
    if let Some(e) = &x.endpoint {
        for (t, v) in split_ascii(&e.template, b'/').zip(split_ascii(&x.request.path, b'/')) {
            if let Some(name) = t.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                out.push(ExtractedParam {
                    name: Cow::Borrowed(name),
                    location: ParamLocation::Path,
                    value_type: classify_value(v),
                    value: Some(v),
                });
            }
        }
    }
    if let Some(q) = x.request.query.as_deref() {
        pairs(q, ParamLocation::Query, out);
    }
}

/// Body (and header/cookie) parameters of `x`, appended to `out`.
fn extract_body_params<'a>(x: &'a Exchange, out: &mut Vec<ExtractedParam<'a>>) {
    if !x.params.is_empty() {
        // Discovery knows body and header parameters better than the fallback below.
        for p in &x.params {
            if matches!(p.location, ParamLocation::Path | ParamLocation::Query) {
                continue;
            }
            out.push(ExtractedParam {
                name: Cow::Borrowed(p.name.as_str()),
                location: p.location,
                value_type: ValueType::from_name(&p.value_type),
                value: None,
            });
        }
        return;
    }
    let Some(body) = x.request.body.as_ref().and_then(|b| b.text()) else {
        return;
    };
    if body.len() > MAX_BODY_PARSE {
        return;
    }
    let ct = x.request.header("content-type").unwrap_or("");
    let trimmed = body.trim_start();
    if ct.contains("json") || trimmed.starts_with('{') {
        // Keys borrowed from the body, values left raw: only their first byte is read.
        if let Ok(map) = serde_json::from_str::<
            std::collections::BTreeMap<&str, &serde_json::value::RawValue>,
        >(trimmed)
        {
            for (k, v) in map {
                let raw = v.get();
                let value_type = match raw.as_bytes().first() {
                    Some(b'{') => ValueType::Object,
                    Some(b'[') => ValueType::Array,
                    Some(b't' | b'f') => ValueType::Boolean,
                    Some(b'n') => ValueType::Null,
                    Some(b'"') => {
                        if is_uuid(raw.trim_matches('"').as_bytes()) {
                            ValueType::Uuid
                        } else {
                            ValueType::String
                        }
                    }
                    _ if raw.bytes().any(|c| matches!(c, b'.' | b'e' | b'E')) => ValueType::Number,
                    _ => ValueType::Integer,
                };
                out.push(ExtractedParam {
                    name: Cow::Borrowed(k),
                    location: ParamLocation::Body,
                    value_type,
                    value: None,
                });
            }
        }
    } else if ct.contains("x-www-form-urlencoded") {
        pairs(body, ParamLocation::Body, out);
    }
}

fn pairs<'a>(s: &'a str, location: ParamLocation, out: &mut Vec<ExtractedParam<'a>>) {
    for pair in split_ascii(s, b'&').filter(|p| !p.is_empty()) {
        let (name, value) = split_once_ascii(pair, b'=').unwrap_or((pair, ""));
        let name = name.strip_suffix("[]").unwrap_or(name);
        out.push(ExtractedParam {
            name: Cow::Borrowed(name),
            location,
            value_type: classify_value(value),
            value: Some(value),
        });
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct ParamStat {
    name_hash: u64,
    location: ParamLocation,
    total: u32,
    types: [u32; ValueType::COUNT],
    /// Learned during the learning period, or adopted later.
    adopted: bool,
    /// Distinct actors (hashes) that sent a not-yet-adopted parameter.
    actors: Vec<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct EndpointParams {
    first: i64,
    calls: u64,
    params: Vec<ParamStat>,
}

/// See the module documentation.
#[derive(Serialize, Deserialize)]
pub struct ParamProfileDetector {
    #[serde(skip)]
    cfg: BehavioralConfig,
    clock: StreamClock,
    endpoints: BoundedMap<u64, EndpointParams>,
    emitted: BoundedMap<u64, (i64, u8)>,
    marks: MarkBook,
    /// The parameters of the record being examined (kept for its allocation).
    #[serde(skip)]
    found: Vec<ExtractedParam<'static>>,
    #[serde(skip)]
    stats: DetectorStats,
}

static RULES: [&RuleMeta; 2] = [&UNSEEN_PARAM, &PARAM_TYPE];

impl ParamProfileDetector {
    pub fn new(cfg: BehavioralConfig) -> Result<Self, BehavioralConfigError> {
        cfg.validate()?;
        Ok(ParamProfileDetector {
            clock: StreamClock::new(&cfg)?,
            endpoints: BoundedMap::new(cfg.max_endpoints)?,
            emitted: BoundedMap::new(cfg.max_actors)?,
            marks: MarkBook::new(&cfg.marks)?,
            found: Vec::new(),
            stats: DetectorStats::default(),
            cfg,
        })
    }

    fn examine(&mut self, x: &Exchange, out: &mut Vec<Finding>) {
        let mut found = recycle(std::mem::take(&mut self.found));
        self.examine_params(x, &mut found, out);
        self.found = recycle(found);
    }

    /// [`Self::examine`] with `found` as the buffer of the record's parameters.
    fn examine_params<'a>(
        &mut self,
        x: &'a Exchange,
        found: &mut Vec<ExtractedParam<'a>>,
        out: &mut Vec<Finding>,
    ) {
        let t = event_secs(x);
        self.clock.observe(t);
        let w = self.clock.window.index(t);
        let pcfg = self.cfg.params.clone();
        if !(pcfg.unseen_enabled || pcfg.type_enabled) {
            return;
        }
        extract_params(x, found);
        if found.is_empty() {
            return;
        }
        let endpoint = endpoint_key(x);
        let key = stable_hash(endpoint.as_bytes());
        let who = identity_of(x)
            .map(Who::Identity)
            .or(x.actor_ip().map(Who::Ip))
            .unwrap_or(Who::Population);
        let actor_hash = who.hash_with(&[]);
        let (ep, _) = self.endpoints.entry(&key, t, || EndpointParams {
            first: t,
            calls: 0,
            params: Vec::new(),
        });
        ep.calls += 1;
        ep.first = ep.first.min(t);
        let ready = ep.calls > self.cfg.min_endpoint_calls
            && t - ep.first >= self.cfg.min_learning_secs
            && self.clock.learned_secs(t) >= self.cfg.min_learning_secs;
        let mut alerts: Vec<(&'static RuleMeta, usize, String, f64, Confidence)> = Vec::new();
        for (i, p) in found.iter().enumerate() {
            let name_hash = stable_hash(p.name.as_bytes());
            let slot = ep
                .params
                .iter()
                .position(|s| s.name_hash == name_hash && s.location == p.location);
            let Some(s) = slot else {
                if ready && pcfg.unseen_enabled {
                    alerts.push((
                        &UNSEEN_PARAM,
                        i,
                        format!(
                            "{} parameter never seen in {} learned calls",
                            location_word(p.location),
                            human(ep.calls as f64)
                        ),
                        0.0,
                        Confidence::Medium,
                    ));
                }
                if ep.params.len() < pcfg.max_params_per_endpoint {
                    let mut types = [0; ValueType::COUNT];
                    types[p.value_type.index()] = 1;
                    ep.params.push(ParamStat {
                        name_hash,
                        location: p.location,
                        total: 1,
                        types,
                        adopted: !ready,
                        actors: if ready { vec![actor_hash] } else { Vec::new() },
                    });
                }
                continue;
            };
            let s = &mut ep.params[s];
            if !s.adopted {
                if !s.actors.contains(&actor_hash) {
                    s.actors.push(actor_hash);
                }
                if s.actors.len() >= usize::from(pcfg.adopt_after_actors) {
                    s.adopted = true;
                    s.actors = Vec::new();
                } else if pcfg.unseen_enabled {
                    alerts.push((
                        &UNSEEN_PARAM,
                        i,
                        format!(
                            "{} parameter first seen after learning, sent by {} actor(s) so far",
                            location_word(p.location),
                            s.actors.len()
                        ),
                        0.0,
                        Confidence::Medium,
                    ));
                }
            }
            let ti = p.value_type.index();
            let share = f64::from(s.types[ti]) / f64::from(s.total.max(1));
            if ready
                && pcfg.type_enabled
                && s.adopted
                && s.total >= pcfg.min_param_values
                && share < pcfg.rare_type_share
            {
                let usual = (0..ValueType::COUNT)
                    .max_by_key(|&k| s.types[k])
                    .unwrap_or(0);
                let usual_name = [
                    ValueType::Integer,
                    ValueType::Number,
                    ValueType::Boolean,
                    ValueType::Uuid,
                    ValueType::String,
                    ValueType::Object,
                    ValueType::Array,
                    ValueType::Null,
                ][usual]
                    .as_str();
                alerts.push((
                    &PARAM_TYPE,
                    i,
                    format!(
                        "{} parameter carried a {} value; {} of {} learned values had this type, most were {}",
                        location_word(p.location),
                        p.value_type.as_str(),
                        s.types[ti],
                        human(f64::from(s.total)),
                        usual_name
                    ),
                    share,
                    if s.types[ti] == 0 { Confidence::High } else { Confidence::Medium },
                ));
                continue;
            }
            s.total = s.total.saturating_add(1);
            s.types[ti] = s.types[ti].saturating_add(1);
        }
        let max_emit = self.cfg.max_findings_per_key_window;
        for (rule, i, why, share, confidence) in alerts {
            let p = &found[i];
            let scope = format!("{}:{}", location_word(p.location), p.name);
            let ekey = who.hash_with(&[endpoint.as_bytes(), rule.id.as_bytes(), scope.as_bytes()]);
            let (slot, _) = self.emitted.entry(&ekey, t, || (w, 0));
            if slot.0 != w {
                *slot = (w, 0);
            }
            if slot.1 >= max_emit {
                // Past the findings limit the record still belongs to the alert.
                let fp = super::alert_fingerprint(rule, x, &scope, who);
                self.marks.mark_now(rule, x, fp, confidence, scope, None);
                continue;
            }
            slot.1 += 1;
            let f = finding(
                x,
                Alert {
                    rule,
                    who,
                    show_actor: true,
                    scope: &scope,
                    reason: format!("Parameter `{}`: {why}", p.name),
                    observed: if rule.id == PARAM_TYPE.id { share } else { 1.0 },
                    baseline: None,
                    threshold: (rule.id == PARAM_TYPE.id).then_some(pcfg.rare_type_share),
                    window: None,
                    extra: vec![("param_location", p.location as u8 as f64)],
                    confidence,
                },
            );
            self.marks
                .mark_now(rule, x, f.fingerprint.clone(), confidence, scope, None);
            out.push(f);
        }
    }
}

super::behavioral_detector!(ParamProfileDetector, "behavioral.params", marks);

#[cfg(test)]
mod tests {
    use super::super::test_support::{Rng, quick_config, rec};
    use super::*;
    use crate::Detector;

    #[test]
    fn values_are_typed() {
        assert_eq!(classify_value("42"), ValueType::Integer);
        assert_eq!(classify_value("-7"), ValueType::Integer);
        assert_eq!(classify_value("4.5"), ValueType::Number);
        assert_eq!(classify_value("true"), ValueType::Boolean);
        assert_eq!(
            classify_value("0b6a4c1e-1d2f-4c3b-9a8e-7f6d5c4b3a21"),
            ValueType::Uuid
        );
        assert_eq!(classify_value("1 OR 1=1"), ValueType::String);
        assert_eq!(classify_value(""), ValueType::String);
        assert_eq!(classify_value("1.2.3"), ValueType::String);
    }

    #[test]
    fn params_come_from_path_query_and_json_body() {
        let mut x = rec(
            1,
            0,
            "POST",
            "/v1/users/{id}/notes",
            "/v1/users/42/notes",
            "10.0.0.1",
            201,
        );
        x.request.query = Some("draft=true&tag[]=a".into());
        x.request.body = Some(gw_model::Body::utf8(
            r#"{"text":"hi","pinned":false,"n":3}"#,
        ));
        let mut v = Vec::new();
        extract_params(&x, &mut v);
        let got: Vec<_> = v
            .iter()
            .map(|p| (p.name.as_ref(), p.location, p.value_type))
            .collect();
        assert_eq!(
            got,
            vec![
                ("id", ParamLocation::Path, ValueType::Integer),
                ("draft", ParamLocation::Query, ValueType::Boolean),
                ("tag", ParamLocation::Query, ValueType::String),
                ("n", ParamLocation::Body, ValueType::Integer),
                ("pinned", ParamLocation::Body, ValueType::Boolean),
                ("text", ParamLocation::Body, ValueType::String),
            ]
        );
        assert_eq!(v[0].value, Some("42"));
    }

    #[test]
    fn an_unseen_parameter_and_a_type_change_are_flagged_after_learning() {
        let mut d = ParamProfileDetector::new(quick_config()).unwrap();
        let mut rng = Rng(5);
        let mut out = Vec::new();
        for t in 0..7200i64 {
            let id = rng.below(10_000);
            let mut x = rec(
                t as u64,
                t,
                "GET",
                "/v1/orders/{id}",
                &format!("/v1/orders/{id}"),
                "10.0.0.1",
                200,
            );
            x.request.query = Some(format!("page={}", rng.below(9)));
            d.detect(&[x], &mut out);
        }
        assert!(
            out.is_empty(),
            "{:?}",
            out.iter().map(|f| &f.description).collect::<Vec<_>>()
        );
        let mut x = rec(
            9_000_001,
            7200,
            "GET",
            "/v1/orders/{id}",
            "/v1/orders/abc'--",
            "203.0.113.1",
            200,
        );
        x.request.query = Some("page=1&isAdmin=true".into());
        d.detect(&[x], &mut out);
        let rules: Vec<_> = out.iter().map(|f| f.rule.id.as_str()).collect();
        assert_eq!(
            rules,
            vec!["GW-T-PARAM-TYPE", "GW-T-UNSEEN-PARAM"],
            "in parameter order: path first"
        );
        assert!(
            out[0]
                .description
                .contains("Parameter `id`: path parameter carried a string value"),
            "{}",
            out[0].description
        );
        assert!(
            out[1].description.contains("Parameter `isAdmin`"),
            "{}",
            out[1].description
        );
        assert!(
            !out.iter()
                .any(|f| f.evidence.samples[0].text.contains("abc")),
            "samples never carry values"
        );
    }
}
