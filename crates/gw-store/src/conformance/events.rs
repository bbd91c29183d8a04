//! Conformance checks of detection events, sensitive fields and detector state.

use gw_model::{Detection, Event, EventEndpoint};

use super::{ConformanceHarness, DAY, HOUR, at, exchange, finding, ip, open};
use crate::{
    EventFilter, ExchangeStorage, MAX_DETECTOR_STATE_BYTES, RetentionPolicy,
    SensitiveFieldObservation, SensitiveLocation, StoreError,
};

/// A detection of `rule` at `location`, with a masked fragment.
pub fn detection(rule: &str, location: &str, confidence: f64) -> Detection {
    Detection {
        rule_id: rule.into(),
        location: location.into(),
        fragment: Some(format!("{location}=[masked]")),
        confidence,
    }
}

/// An event on exchange `id` at `seconds` past the origin, by `client`, on endpoint `ep_1`,
/// with one detection of `rule` at `query:id` that fed `alert`.
pub fn event(id: &str, seconds: i64, client: &str, rule: &str, alert: &str) -> Event {
    let mut e = Event::new(id, at(seconds));
    e.endpoint = Some(EventEndpoint {
        id: "ep_1".into(),
        host: "api.example.com".into(),
        method: "GET".into(),
        template: "/v1/orders/{id}".into(),
    });
    e.actor.ip = Some(ip(client));
    e.actor.identity = Some(format!("user-{client}@login.example.com"));
    e.actor.user_agent = Some("sqlmap/1.8".into());
    e.detections = vec![detection(rule, "query:id", 0.9)];
    e.alert_ids = vec![alert.into()];
    e
}

fn exchange_ids(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.exchange_id.as_str()).collect()
}

pub fn events_round_trip_and_merge_per_exchange<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let first = event("x1", 10, "203.0.113.7", "GW-T-SQLI", "f-sqli");
    assert_eq!(store.write_events(std::slice::from_ref(&first)).unwrap(), 1);
    assert_eq!(
        store.list_events(&EventFilter::default()).unwrap(),
        vec![first.clone()]
    );

    // The second detector thread reports the same exchange: another rule, the same rule at
    // the same place with a lower confidence and no fragment, another alert, no endpoint.
    let mut second = Event::new("x1", at(10));
    second.actor.ip = Some(ip("203.0.113.7"));
    second.detections = vec![
        detection("GW-T-XSS", "body:$.comment", 0.6),
        Detection {
            fragment: None,
            confidence: 0.4,
            ..detection("GW-T-SQLI", "query:id", 0.4)
        },
    ];
    second.alert_ids = vec!["f-xss".into(), "f-sqli".into()];
    assert_eq!(
        store.write_events(std::slice::from_ref(&second)).unwrap(),
        0,
        "merged"
    );
    drop(store);

    let store = open(&h);
    let mut expected = first.clone();
    expected.merge(second);
    let stored = store.list_events(&EventFilter::default()).unwrap();
    assert_eq!(
        stored,
        vec![expected.clone()],
        "the store merges like Event::merge"
    );
    let e = &stored[0];
    assert_eq!(e.alert_ids, ["f-sqli", "f-xss"]);
    assert_eq!(e.detections.len(), 2);
    assert_eq!(
        e.detections[0].confidence, 0.9,
        "the higher confidence stays"
    );
    assert_eq!(
        e.detections[0].fragment.as_deref(),
        Some("query:id=[masked]")
    );
    assert_eq!(e.endpoint.as_ref().map(|p| p.id.as_str()), Some("ep_1"));
    assert_eq!(store.counts().unwrap().events, 1);
}

pub fn one_batch_may_hold_an_exchange_twice<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let a = event("x1", 10, "203.0.113.7", "GW-T-SQLI", "f1");
    let b = event("x1", 10, "203.0.113.7", "GW-T-XSS", "f2");
    let c = event("x2", 20, "203.0.113.7", "GW-T-XSS", "f2");
    assert_eq!(store.write_events(&[a, b, c]).unwrap(), 2);
    let stored = store.list_events(&EventFilter::default()).unwrap();
    assert_eq!(exchange_ids(&stored), ["x1", "x2"]);
    let rules: Vec<&str> = stored[0]
        .detections
        .iter()
        .map(|d| d.rule_id.as_str())
        .collect();
    assert_eq!(rules, ["GW-T-SQLI", "GW-T-XSS"]);
    assert_eq!(stored[0].alert_ids, ["f1", "f2"]);
}

pub fn event_filters_select_order_and_paginate<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let mut other_endpoint = event("d", 40, "198.51.100.2", "GW-T-SQLI", "f-sqli");
    if let Some(e) = other_endpoint.endpoint.as_mut() {
        e.id = "ep_2".into();
    }
    let batch = [
        event("c", 30, "198.51.100.1", "GW-T-XSS", "f-xss"),
        event("a", 10, "198.51.100.1", "GW-T-SQLI", "f-sqli"),
        event("b", 10, "198.51.100.2", "GW-T-SQLI", "f-sqli"),
        other_endpoint,
    ];
    store.write_events(&batch).unwrap();
    let list = |f: EventFilter| exchange_ids(&store.list_events(&f).unwrap()).join(",");
    assert_eq!(
        list(EventFilter::default()),
        "a,b,c,d",
        "by time, then exchange id"
    );
    let by_alert = EventFilter {
        alert_id: Some("f-sqli".into()),
        ..EventFilter::default()
    };
    assert_eq!(list(by_alert.clone()), "a,b,d");
    assert_eq!(store.count_events(&by_alert).unwrap(), 3);
    let by_rule = EventFilter {
        rule_id: Some("GW-T-XSS".into()),
        ..EventFilter::default()
    };
    assert_eq!(list(by_rule), "c");
    let by_ip = EventFilter {
        ip: Some(ip("198.51.100.1")),
        ..EventFilter::default()
    };
    assert_eq!(list(by_ip), "a,c");
    let by_identity = EventFilter {
        identity: Some("user-198.51.100.2@login.example.com".into()),
        ..EventFilter::default()
    };
    assert_eq!(list(by_identity), "b,d");
    let by_endpoint = EventFilter {
        endpoint_id: Some("ep_2".into()),
        ..EventFilter::default()
    };
    assert_eq!(list(by_endpoint), "d");
    let window = EventFilter {
        since: Some(at(10)),
        until: Some(at(40)),
        ..EventFilter::default()
    };
    assert_eq!(
        list(window.clone()),
        "a,b,c",
        "since is inclusive, until exclusive"
    );
    let page = EventFilter {
        limit: Some(2),
        offset: 1,
        ..window.clone()
    };
    assert_eq!(list(page.clone()), "b,c");
    assert_eq!(
        store.count_events(&page).unwrap(),
        3,
        "count ignores the page"
    );
    let combined = EventFilter {
        alert_id: Some("f-sqli".into()),
        ip: Some(ip("198.51.100.2")),
        ..window
    };
    assert_eq!(list(combined), "b");
    let nothing = EventFilter {
        alert_id: Some("f-none".into()),
        ..EventFilter::default()
    };
    assert_eq!(store.count_events(&nothing).unwrap(), 0);
}

pub fn a_bad_event_batch_writes_nothing<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let good = event("x1", 10, "203.0.113.7", "GW-T-SQLI", "f1");
    let mut bad_confidence = event("x2", 10, "203.0.113.7", "GW-T-SQLI", "f1");
    bad_confidence.detections[0].confidence = 1.5;
    let err = store
        .write_events(&[good.clone(), bad_confidence])
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidRecord { .. }), "{err}");
    assert!(err.to_string().contains("confidence 1.5"), "{err}");
    let mut nan = good.clone();
    nan.detections[0].confidence = f64::NAN;
    assert!(store.write_events(&[nan]).is_err());
    let mut unnamed = good.clone();
    unnamed.exchange_id = String::new();
    let err = store.write_events(&[good.clone(), unnamed]).unwrap_err();
    assert!(err.to_string().contains("event 1 of the batch"), "{err}");
    let mut no_rule = good.clone();
    no_rule.detections[0].rule_id = String::new();
    assert!(store.write_events(&[no_rule]).is_err());
    assert_eq!(store.count_events(&EventFilter::default()).unwrap(), 0);
    assert_eq!(store.write_events(&[]).unwrap(), 0);
}

pub fn retention_deletes_old_events_and_keeps_newer_ones<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let now = 100 * DAY;
    store
        .write_events(&[
            event("recent", now - 29 * DAY, "203.0.113.1", "GW-T-SQLI", "f1"),
            event("at-limit", now - 30 * DAY, "203.0.113.1", "GW-T-SQLI", "f1"),
            event(
                "past-limit",
                now - 30 * DAY - 1,
                "203.0.113.1",
                "GW-T-SQLI",
                "f1",
            ),
            event("ancient", now - 90 * DAY, "203.0.113.1", "GW-T-XSS", "f2"),
        ])
        .unwrap();
    let report = store
        .apply_retention(at(now), &RetentionPolicy::default())
        .unwrap();
    assert_eq!(report.events_deleted, 2, "past-limit and ancient");
    let left = store.list_events(&EventFilter::default()).unwrap();
    assert_eq!(exchange_ids(&left), ["at-limit", "recent"]);
    let f2 = EventFilter {
        alert_id: Some("f2".into()),
        ..EventFilter::default()
    };
    assert_eq!(
        store.count_events(&f2).unwrap(),
        0,
        "alert links go with the event"
    );
    let xss = EventFilter {
        rule_id: Some("GW-T-XSS".into()),
        ..EventFilter::default()
    };
    assert_eq!(
        store.count_events(&xss).unwrap(),
        0,
        "detections go with the event"
    );
    let lowered = RetentionPolicy::new(1, 1).unwrap();
    let report = store.apply_retention(at(now), &lowered).unwrap();
    assert_eq!(report.events_deleted, 2);
    assert_eq!(store.counts().unwrap().events, 0);
    // A store that read the wall clock would delete these (years old).
    store
        .write_events(&[event(
            "old-but-current",
            0,
            "203.0.113.1",
            "GW-T-SQLI",
            "f1",
        )])
        .unwrap();
    let report = store
        .apply_retention(at(HOUR), &RetentionPolicy::default())
        .unwrap();
    assert_eq!(report.events_deleted, 0);
}

pub fn privacy_requests_cover_events<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    // `via-exchange` names another actor IP, but its exchange came from the subject.
    store
        .write_exchanges(
            &[exchange("via-exchange", 5, "198.51.100.7")],
            ExchangeStorage::Metadata,
        )
        .unwrap();
    store
        .upsert_findings(&[finding("f1", "fp-1", 20, "198.51.100.7", "mine")])
        .unwrap();
    store
        .write_events(&[
            event("mine", 20, "198.51.100.7", "GW-T-SQLI", "f1"),
            event("via-exchange", 5, "203.0.113.50", "GW-T-SQLI", "f1"),
            event("other", 30, "203.0.113.9", "GW-T-SQLI", "f1"),
        ])
        .unwrap();

    let exported = store.export_by_ip(ip("198.51.100.7")).unwrap();
    let records: Vec<String> = exported
        .iter()
        .map(|r| {
            let kind = r["record"].as_str().unwrap_or_default();
            let id = match kind {
                "event" => r["event"]["exchange_id"].as_str(),
                other => r[other]["id"].as_str(),
            };
            format!("{kind}:{}", id.unwrap_or_default())
        })
        .collect();
    assert_eq!(
        records,
        [
            "exchange:via-exchange",
            "event:via-exchange",
            "event:mine",
            "finding:f1"
        ]
    );
    assert_eq!(exported[2]["event"]["schema"], gw_model::EVENT_SCHEMA);
    assert_eq!(
        exported[2]["event"]["detections"][0]["rule_id"],
        "GW-T-SQLI"
    );

    let counts = store.delete_by_ip(ip("198.51.100.7")).unwrap();
    assert_eq!(counts.events_deleted, 2);
    assert_eq!(counts.exchanges_deleted, 1);
    assert_eq!(
        exchange_ids(&store.list_events(&EventFilter::default()).unwrap()),
        ["other"]
    );
    assert!(store.export_by_ip(ip("198.51.100.7")).unwrap().is_empty());

    let counts = store
        .delete_by_identity("user-203.0.113.9@login.example.com")
        .unwrap();
    assert_eq!(counts.events_deleted, 1);
    assert_eq!(store.counts().unwrap().events, 0);
    let again = store.delete_by_ip(ip("198.51.100.7")).unwrap();
    assert_eq!(again, Default::default());
}

/// A sensitive-field observation on `ep_1`, `count` times from `from` to `to` seconds.
pub fn sensitive(
    location: SensitiveLocation,
    field: &str,
    kind: &str,
    class: Option<&str>,
    (count, from, to): (u64, i64, i64),
    sensitivity: u8,
) -> SensitiveFieldObservation {
    SensitiveFieldObservation {
        endpoint_id: "ep_1".into(),
        location,
        field: field.into(),
        kind: kind.into(),
        status_class: class.map(str::to_string),
        count,
        first_seen: at(from),
        last_seen: at(to),
        sensitivity,
    }
}

pub fn sensitive_fields_merge_counts_times_and_sensitivity<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let body = SensitiveLocation::ResponseBody;
    let new = store
        .merge_sensitive_fields(&[
            sensitive(
                body,
                "$.customer.email",
                "email",
                Some("2xx"),
                (3, 100, 200),
                1,
            ),
            sensitive(
                body,
                "$.customer.email",
                "email",
                Some("4xx"),
                (1, 150, 150),
                1,
            ),
            sensitive(
                SensitiveLocation::Query,
                "card",
                "credit_card",
                None,
                (1, 50, 50),
                3,
            ),
        ])
        .unwrap();
    assert_eq!(new, 3);
    let new = store
        .merge_sensitive_fields(&[
            sensitive(
                body,
                "$.customer.email",
                "email",
                Some("2xx"),
                (2, 50, 120),
                2,
            ),
            sensitive(
                body,
                "$.customer.email",
                "email",
                Some("2xx"),
                (4, 110, 300),
                0,
            ),
        ])
        .unwrap();
    assert_eq!(new, 0, "both fold into the stored key");
    let mut other = sensitive(body, "$.iban", "iban", Some("2xx"), (1, 10, 10), 2);
    other.endpoint_id = "ep_2".into();
    store.merge_sensitive_fields(&[other]).unwrap();
    drop(store);

    let store = open(&h);
    let all = store.list_sensitive_fields(None).unwrap();
    let keys: Vec<(String, &str, &str, Option<&str>)> = all
        .iter()
        .map(|f| {
            (
                f.endpoint_id.clone(),
                f.location.as_str(),
                f.field.as_str(),
                f.status_class.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("ep_1".to_string(), "query", "card", None),
            (
                "ep_1".to_string(),
                "response_body",
                "$.customer.email",
                Some("2xx")
            ),
            (
                "ep_1".to_string(),
                "response_body",
                "$.customer.email",
                Some("4xx")
            ),
            ("ep_2".to_string(), "response_body", "$.iban", Some("2xx")),
        ]
    );
    let email = &all[1];
    assert_eq!(email.count, 9, "3 + 2 + 4");
    assert_eq!((email.first_seen, email.last_seen), (at(50), at(300)));
    assert_eq!(email.sensitivity, 2, "the highest seen");
    assert_eq!(email.kind, "email");
    assert_eq!(all[0].sensitivity, 3);
    assert_eq!(all[2].count, 1);
    let ep2 = store.list_sensitive_fields(Some("ep_2")).unwrap();
    assert_eq!(ep2.len(), 1);
    assert_eq!(ep2[0].field, "$.iban");
    assert!(
        store
            .list_sensitive_fields(Some("ep_none"))
            .unwrap()
            .is_empty()
    );
}

pub fn a_bad_sensitive_field_batch_writes_nothing<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let good = sensitive(
        SensitiveLocation::Header,
        "x-ssn",
        "ssn",
        None,
        (1, 0, 0),
        3,
    );
    let mut bad = good.clone();
    bad.sensitivity = 7;
    let err = store
        .merge_sensitive_fields(&[good.clone(), bad])
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidRecord { .. }), "{err}");
    assert!(err.to_string().contains("sensitivity 7"), "{err}");
    let mut backwards = good.clone();
    backwards.first_seen = at(10);
    assert!(store.merge_sensitive_fields(&[backwards]).is_err());
    assert!(store.list_sensitive_fields(None).unwrap().is_empty());
    assert_eq!(store.merge_sensitive_fields(&[]).unwrap(), 0);
}

pub fn detector_state_is_replaced_survives_reopen_and_is_bounded<H: ConformanceHarness>() {
    let h = H::create();
    {
        let mut store = open(&h);
        assert_eq!(store.load_detector_state("population").unwrap(), None);
        store
            .save_detector_state("population", b"v1", Some(at(10)))
            .unwrap();
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        store
            .save_detector_state("population", &big, Some(at(20)))
            .unwrap();
        store.save_detector_state("rate", &[], None).unwrap();
    }
    let mut store = open(&h);
    let (state, watermark) = store.load_detector_state("population").unwrap().unwrap();
    assert_eq!(state.len(), 3_000_000);
    assert!(state.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
    assert_eq!(watermark, Some(at(20)));
    assert_eq!(
        store.load_detector_state("rate").unwrap(),
        Some((vec![], None))
    );

    let too_big = vec![0u8; MAX_DETECTOR_STATE_BYTES + 1];
    let err = store
        .save_detector_state("population", &too_big, None)
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidRecord { .. }), "{err}");
    assert!(err.to_string().contains("256 MiB"), "{err}");
    drop(too_big);
    assert!(store.save_detector_state(" ", b"x", None).is_err());
    let (state, _) = store.load_detector_state("population").unwrap().unwrap();
    assert_eq!(
        state.len(),
        3_000_000,
        "the refused state did not replace the stored one"
    );
}
