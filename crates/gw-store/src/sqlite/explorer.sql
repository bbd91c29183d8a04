-- The read-only explorer views of the SQLite back-end, created as TEMP views on the explorer's
-- own connection: TEMP is searched before MAIN, so the documented names (`findings`, ...) may
-- equal table names, and the views exist for explorer queries only. docs/QUERY.md documents
-- the columns; every back-end provides the same names and columns.
-- Only JSON extraction (json_extract, json_each, json_type) and group_concat are specific to
-- SQLite; everything else is plain SQL.

CREATE TEMP VIEW endpoints AS
SELECT e.id                                                        AS id,
       e.api                                                       AS api,
       e.host                                                      AS host,
       e.method                                                    AS method,
       e.template                                                  AS template,
       json_extract(e.state, '$.matched_by')                       AS matched_by,
       json_extract(e.state, '$.spec.operation_id')                AS operation_id,
       json_extract(e.state, '$.first_seen')                       AS first_seen,
       json_extract(e.state, '$.last_seen')                        AS last_seen,
       e.calls                                                     AS calls,
       COALESCE(json_extract(e.state, '$.status_classes."2xx"'), 0) AS calls_2xx,
       COALESCE(json_extract(e.state, '$.status_classes."4xx"'), 0) AS calls_4xx,
       COALESCE(json_extract(e.state, '$.status_classes."5xx"'), 0) AS calls_5xx,
       COALESCE(json_extract(e.state, '$.exposure.public_calls'), 0) AS public_calls,
       CASE WHEN COALESCE(json_extract(e.state, '$.exposure.public_calls'), 0) > 0
            THEN 1 ELSE 0 END                                      AS external,
       json_extract(e.state, '$.exposure.first_public_seen')       AS external_since,
       (SELECT group_concat(a.key, ',') FROM json_each(e.state, '$.auth') a
         WHERE a.key <> 'unknown')                                 AS auth_types,
       COALESCE(json_extract(e.state, '$.unauthenticated_success'), 0) AS unauthenticated_success,
       CASE WHEN e.last_seen_us IS NULL
              OR e.last_seen_us <= (SELECT s.value FROM main.settings s
                                     WHERE s.key = 'event_watermark_us') - 2592000000000
            THEN 'dormant'
            WHEN json_extract(e.state, '$.spec.deprecated') = 1 THEN 'zombie'
            WHEN json_type(e.state, '$.spec') = 'object' THEN 'declared'
            ELSE 'shadow' END                                      AS spec_status,
       json_extract(e.state, '$.spec.requires_auth')               AS spec_requires_auth,
       (SELECT group_concat(k.key, ',') FROM json_each(e.state, '$.sensitive') k)
                                                                   AS sensitive_kinds
  FROM main.inventory_endpoints e;

CREATE TEMP VIEW parameters AS
SELECT e.id                                   AS endpoint_id,
       e.api                                  AS api,
       e.host                                 AS host,
       e.method                               AS method,
       e.template                             AS template,
       json_extract(p.value, '$.name')        AS name,
       json_extract(p.value, '$.in')          AS location,
       (SELECT group_concat(t.value, ',') FROM json_each(p.value, '$.types') t) AS types,
       COALESCE(json_extract(p.value, '$.calls'), 0) AS calls
  FROM main.inventory_endpoints e, json_each(e.state, '$.params') p;

CREATE TEMP VIEW sensitive_fields AS
SELECT s.endpoint_id                 AS endpoint_id,
       i.host                        AS host,
       i.method                      AS method,
       i.template                    AS template,
       s.location                    AS location,
       s.field                       AS field,
       s.kind                        AS kind,
       NULLIF(s.status_class, '')    AS status_class,
       s.count                       AS count,
       s.first_seen                  AS first_seen,
       s.last_seen                   AS last_seen,
       s.sensitivity                 AS sensitivity,
       CASE s.sensitivity WHEN 0 THEN 'low' WHEN 1 THEN 'medium' WHEN 2 THEN 'high'
                          ELSE 'critical' END AS sensitivity_name
  FROM main.sensitive_field_stats s
  LEFT JOIN main.inventory_endpoints i ON i.id = s.endpoint_id;

CREATE TEMP VIEW findings AS
SELECT f.id                                        AS id,
       f.kind                                      AS kind,
       f.rule_id                                   AS rule_id,
       json_extract(f.body, '$.rule.name')         AS rule_name,
       json_extract(f.body, '$.severity')          AS severity,
       f.severity_rank                             AS severity_rank,
       json_extract(f.body, '$.confidence')        AS confidence,
       f.status                                    AS status,
       json_extract(f.body, '$.title')             AS title,
       json_extract(f.body, '$.endpoint.id')       AS endpoint_id,
       json_extract(f.body, '$.endpoint.host')     AS endpoint_host,
       json_extract(f.body, '$.endpoint.method')   AS endpoint_method,
       json_extract(f.body, '$.endpoint.template') AS endpoint_template,
       f.actor_ip                                  AS actor_ip,
       f.actor_identity                            AS actor_identity,
       json_extract(f.body, '$.first_seen')        AS first_seen,
       json_extract(f.body, '$.last_seen')         AS last_seen,
       f.count                                     AS count,
       (SELECT COUNT(*) FROM main.event_alerts a WHERE a.alert_id = f.id) AS events
  FROM main.findings f;

CREATE TEMP VIEW alerts AS
SELECT * FROM temp.findings WHERE kind = 'threat';

CREATE TEMP VIEW events AS
SELECT r.exchange_id        AS exchange_id,
       r.observed_at        AS observed_at,
       r.endpoint_id        AS endpoint_id,
       r.endpoint_host      AS host,
       r.endpoint_method    AS method,
       r.endpoint_template  AS template,
       r.actor_ip           AS actor_ip,
       r.actor_identity     AS actor_identity,
       r.actor_user_agent   AS user_agent,
       d.rule_id            AS rule_id,
       d.location           AS location,
       d.fragment           AS fragment,
       d.confidence         AS confidence,
       (SELECT group_concat(x.alert_id, ',')
          FROM (SELECT a.alert_id FROM main.event_alerts a
                 WHERE a.exchange_id = r.exchange_id ORDER BY a.alert_id) x) AS alert_ids
  FROM main.event_records r
  JOIN main.event_detections d ON d.exchange_id = r.exchange_id;
