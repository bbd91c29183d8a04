//! Load generator for `gatewatch serve`'s ingest endpoint: measures sustained acknowledged
//! records/s and acknowledgement latency over HTTP (issue 9's target: 100,000 records/s on
//! loopback with the full pipeline, p50/p99 latency reported).
//!
//! ```text
//! cargo run --release -p gw-server --example loadgen -- \
//!     --url http://127.0.0.1:18080/v1/ingest --token SECRET --file traffic.ndjson \
//!     --batch 500 --concurrency 4 --seconds 20 [--warmup 2] [--gzip]
//! ```
//!
//! The NDJSON file (e.g. from `gatewatch simulate`) is read once and cut into bodies of
//! `--batch` lines; each worker thread owns every `concurrency`-th body and POSTs its bodies in
//! turn until the time is up. So that the store never drops a repeat as a duplicate, every
//! record's top-level `"id"` gets a fixed-width tag `-rNNNNNNNNNN` (a per-run base plus the
//! worker's pass over its bodies) that is rewritten in place before each pass: no body is copied
//! per request. By default (`--time shift`) each pass also moves every record's event time on by
//! the file's span (whole hours): the top-level `observed_at` and, for UUIDv7 ids, the id's
//! millisecond part are rewritten in place, so the server sees event time grow as live traffic
//! does, and the store appends to its time and id indexes. `--time repeat` sends the same hour
//! again every pass (the only mode before session 6; it makes every b-tree insert land at a
//! random place, which live traffic does not). With `--gzip` each request is compressed on the fly (fast level) and the client
//! time spent on it is reported, as it competes with the server for the CPU.
//!
//! 429 and 503 answers are retried with the same body after sleeping for their `Retry-After`;
//! other non-200 answers are counted and the first few are printed. Only requests started after
//! the warm-up count towards the figures; latencies are those of acknowledged (200) requests,
//! from the start of sending to the end of the answer.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const USAGE: &str = "usage: loadgen --url URL --token SECRET --file FILE.ndjson [--batch 500] \
[--concurrency 4] [--seconds 20] [--warmup 2] [--gzip] [--time shift|repeat] \
[--content-type application/x-ndjson]";

/// Digits of the round tag appended to every record id (`-r` + this many digits).
const TAG_DIGITS: usize = 10;
/// Passes one run may make over a worker's bodies before the tag would wrap into the next run's.
const PASSES_PER_RUN: u64 = 100_000;
/// Failures (non-200 answers other than 429/503, transport errors) printed; later ones are
/// only counted.
const PRINTED_FAILURES: usize = 5;
/// Consecutive transport errors after which a worker gives up.
const MAX_CONSECUTIVE_TRANSPORT_ERRORS: u32 = 50;

/// Command-line settings.
#[derive(Debug)]
struct Args {
    url: String,
    token: String,
    file: String,
    batch: usize,
    concurrency: usize,
    seconds: f64,
    warmup: f64,
    gzip: bool,
    /// Move event time on by the file's span every pass (`--time shift`, the default).
    shift_time: bool,
    content_type: String,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        url: String::new(),
        token: String::new(),
        file: String::new(),
        batch: 500,
        concurrency: 4,
        seconds: 20.0,
        warmup: 2.0,
        gzip: false,
        shift_time: true,
        content_type: "application/x-ndjson".into(),
    };
    while let Some(flag) = args.next() {
        if flag == "--gzip" {
            parsed.gzip = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.into());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = |what: &str| -> Result<f64, String> {
            value
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .ok_or_else(|| format!("{what}: expected a non-negative number, found {value:?}"))
        };
        match flag.as_str() {
            "--url" => parsed.url = value.clone(),
            "--token" => parsed.token = value.clone(),
            "--file" => parsed.file = value.clone(),
            "--batch" => parsed.batch = number("--batch")? as usize,
            "--concurrency" => parsed.concurrency = number("--concurrency")? as usize,
            "--seconds" => parsed.seconds = number("--seconds")?,
            "--warmup" => parsed.warmup = number("--warmup")?,
            "--content-type" => parsed.content_type = value.clone(),
            "--time" => {
                parsed.shift_time = match value.as_str() {
                    "shift" => true,
                    "repeat" => false,
                    _ => return Err(format!("--time: expected shift or repeat, found {value:?}")),
                }
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    for (name, empty) in [
        ("--url", parsed.url.is_empty()),
        ("--token", parsed.token.is_empty()),
        ("--file", parsed.file.is_empty()),
    ] {
        if empty {
            return Err(format!("{name} is required\n{USAGE}"));
        }
    }
    if parsed.batch == 0 || parsed.concurrency == 0 || parsed.seconds <= 0.0 {
        return Err("--batch, --concurrency and --seconds must be greater than zero".into());
    }
    Ok(parsed)
}

/// One request body: `records` NDJSON lines, with the byte offsets of each id's round-tag digits
/// and of each record's event time.
#[derive(Debug, Default)]
struct Body {
    bytes: Vec<u8>,
    records: usize,
    tag_digits_at: Vec<usize>,
    times: Vec<EventTime>,
}

/// Where one record's event time sits in its body, so that a pass can move it on in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EventTime {
    /// Offset of the `YYYY-MM-DDTHH` start of the top-level `observed_at` (a UTC `...Z` text).
    hour_at: usize,
    /// That hour as read from the file, in hours since the Unix epoch.
    hour: i64,
    /// Offset and value of the 48-bit millisecond time of the id, when the id is a UUIDv7.
    uuid: Option<(usize, u64)>,
}

/// Length of the `YYYY-MM-DDTHH` prefix a shift rewrites.
const HOUR_PREFIX: usize = 13;

impl Body {
    /// Writes `round` (zero-padded) into every record id's tag, and moves every record's event
    /// time `shift_hours` on from the file's, in place.
    fn set_round(&mut self, round: u64, shift_hours: i64) {
        let digits = format!("{round:0width$}", width = TAG_DIGITS);
        debug_assert_eq!(digits.len(), TAG_DIGITS);
        for &at in &self.tag_digits_at {
            self.bytes[at..at + TAG_DIGITS].copy_from_slice(digits.as_bytes());
        }
        // A file spans a few hours: each is formatted once per pass.
        let mut formatted: Vec<(i64, [u8; HOUR_PREFIX])> = Vec::new();
        for t in &self.times {
            let hour = t.hour + shift_hours;
            let prefix = match formatted.iter().find(|(h, _)| *h == hour) {
                Some((_, p)) => *p,
                None => {
                    let p = hour_prefix(hour);
                    formatted.push((hour, p));
                    p
                }
            };
            self.bytes[t.hour_at..t.hour_at + HOUR_PREFIX].copy_from_slice(&prefix);
            if let Some((at, ms)) = t.uuid {
                let ms = ms.wrapping_add_signed(shift_hours * 3_600_000);
                // 12 hex digits, the 9th after the hyphen; no formatter: this runs per record.
                for (i, pos) in (0..8).chain(9..13).enumerate() {
                    let nibble = (ms >> (44 - 4 * i)) & 0xF;
                    self.bytes[at + pos] = b"0123456789abcdef"[nibble as usize];
                }
            }
        }
    }
}

/// `YYYY-MM-DDTHH` of `hour` hours after the Unix epoch (UTC).
fn hour_prefix(hour: i64) -> [u8; HOUR_PREFIX] {
    let text = jiff::Timestamp::from_second(hour * 3600)
        .map(|t| t.strftime("%Y-%m-%dT%H").to_string())
        .unwrap_or_default();
    let mut out = [b'0'; HOUR_PREFIX];
    if text.len() == HOUR_PREFIX {
        out.copy_from_slice(text.as_bytes());
    }
    out
}

/// The event time of the record `line` (already in `out` at `line_start`, tagged), when it can
/// be moved in place: a top-level `observed_at` in UTC whose hour prefix round-trips.
fn event_time(
    value: &serde_json::Value,
    out: &[u8],
    line_start: usize,
    id_digits_at: Option<usize>,
) -> Option<EventTime> {
    let text = value.get("observed_at")?.as_str()?;
    let b = text.as_bytes();
    let shaped = b.len() > HOUR_PREFIX
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[HOUR_PREFIX] == b':'
        && text.ends_with('Z');
    if !shaped {
        return None;
    }
    let hour = text
        .parse::<jiff::Timestamp>()
        .ok()?
        .as_second()
        .div_euclid(3600);
    if hour_prefix(hour)[..] != b[..HOUR_PREFIX] {
        return None;
    }
    let encoded = serde_json::to_string(text).ok()?;
    let at = line_start + find_key_value(&out[line_start..], "observed_at", encoded.as_bytes())?;
    let hour_at = at + 1 - encoded.len() + 1;
    let uuid = match (value.get("id").and_then(|v| v.as_str()), id_digits_at) {
        (Some(id), Some(digits_at)) => uuid_v7_millis(id).map(|ms| (digits_at - 2 - id.len(), ms)),
        _ => None,
    };
    Some(EventTime {
        hour_at,
        hour,
        uuid,
    })
}

/// The millisecond time of a UUIDv7 in its usual hyphenated form.
fn uuid_v7_millis(id: &str) -> Option<u64> {
    let b = id.as_bytes();
    if b.len() != 36 || b[8] != b'-' || b[13] != b'-' || b[14] != b'7' {
        return None;
    }
    let hex = format!("{}{}", &id[..8], &id[9..13]);
    u64::from_str_radix(&hex, 16).ok()
}

/// Appends `line` to `out` with a round tag after its top-level string `"id"`, returning the
/// offset of the tag's digits in `out` (`None`: line copied as is, there is no such id) and the
/// record as parsed.
/// The original bytes are kept; only when the id cannot be found textually is the line
/// re-serialised.
fn push_tagged_line(
    line: &[u8],
    out: &mut Vec<u8>,
) -> Result<(Option<usize>, serde_json::Value), String> {
    let mut value: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    let Some(id) = value.get("id").and_then(|v| v.as_str()).map(str::to_owned) else {
        out.extend_from_slice(line);
        out.push(b'\n');
        return Ok((None, value));
    };
    let tag = format!("-r{}", "0".repeat(TAG_DIGITS));
    let encoded = serde_json::to_string(&id).map_err(|e| format!("encoding id: {e}"))?;
    if let Some(pos) = find_key_value(line, "id", encoded.as_bytes()) {
        // `pos` is the id's closing quote: the tag goes just inside it.
        out.extend_from_slice(&line[..pos]);
        let digits_at = out.len() + 2;
        out.extend_from_slice(tag.as_bytes());
        out.extend_from_slice(&line[pos..]);
        out.push(b'\n');
        return Ok((Some(digits_at), value));
    }
    let tagged_id = format!("{id}{tag}");
    value["id"] = serde_json::Value::String(tagged_id.clone());
    let text = serde_json::to_vec(&value).map_err(|e| format!("re-encoding: {e}"))?;
    let encoded = serde_json::to_string(&tagged_id).map_err(|e| format!("encoding id: {e}"))?;
    let pos = find_key_value(&text, "id", encoded.as_bytes())
        .ok_or("the re-encoded record has no findable \"id\"")?;
    let digits_at = out.len() + pos - TAG_DIGITS;
    out.extend_from_slice(&text);
    out.push(b'\n');
    Ok((Some(digits_at), value))
}

/// Position of the closing quote of `encoded` (a JSON string with its quotes) where it is the
/// value of a `"key"` key in `line`.
fn find_key_value(line: &[u8], key: &str, encoded: &[u8]) -> Option<usize> {
    let quoted = format!("\"{key}\"");
    let mut from = 0;
    while let Some(rel) = find(&line[from..], encoded) {
        let pos = from + rel;
        let before = line[..pos].trim_ascii_end();
        if let Some(k) = before.strip_suffix(b":")
            && k.trim_ascii_end().ends_with(quoted.as_bytes())
        {
            return Some(pos + encoded.len() - 1);
        }
        from = pos + 1;
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Cuts the NDJSON `text` into bodies of `batch` tagged lines. Also returns how many records
/// had no top-level string id (those repeat verbatim every pass), how many keep their event
/// time every pass (no `observed_at` in the shape [`event_time`] moves), and the hours from the
/// earliest to the latest event time plus one: the shift of one pass.
fn build_bodies(text: &[u8], batch: usize, file: &str) -> Result<Loaded, String> {
    let mut loaded = Loaded::default();
    let mut current = Body::default();
    let (mut first_hour, mut last_hour) = (i64::MAX, i64::MIN);
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let line_start = current.bytes.len();
        let (digits_at, value) = push_tagged_line(line, &mut current.bytes)
            .map_err(|e| format!("{file}:{}: {e}", n + 1))?;
        match digits_at {
            Some(at) => current.tag_digits_at.push(at),
            None => loaded.untagged += 1,
        }
        match event_time(&value, &current.bytes, line_start, digits_at) {
            Some(t) => {
                first_hour = first_hour.min(t.hour);
                last_hour = last_hour.max(t.hour);
                current.times.push(t);
            }
            None => loaded.fixed_time += 1,
        }
        current.records += 1;
        if current.records == batch {
            loaded.bodies.push(std::mem::take(&mut current));
        }
    }
    if current.records > 0 {
        loaded.bodies.push(current);
    }
    loaded.span_hours = if first_hour <= last_hour {
        last_hour - first_hour + 1
    } else {
        1
    };
    Ok(loaded)
}

/// The bodies of a file and what [`build_bodies`] noticed about its records.
#[derive(Debug, Default)]
struct Loaded {
    bodies: Vec<Body>,
    untagged: usize,
    fixed_time: usize,
    span_hours: i64,
}

/// What one worker measured after the warm-up.
#[derive(Debug, Default)]
struct Tally {
    requests: u64,
    acked_records: u64,
    rejected_records: u64,
    raw_bytes: u64,
    wire_bytes: u64,
    throttled: u64,
    errors: u64,
    transport_errors: u64,
    latencies_us: Vec<u64>,
    compress: Duration,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.requests += other.requests;
        self.acked_records += other.acked_records;
        self.rejected_records += other.rejected_records;
        self.raw_bytes += other.raw_bytes;
        self.wire_bytes += other.wire_bytes;
        self.throttled += other.throttled;
        self.errors += other.errors;
        self.transport_errors += other.transport_errors;
        self.latencies_us.extend(other.latencies_us);
        self.compress += other.compress;
    }
}

/// Settings and shared state every worker reads.
struct Plan {
    url: String,
    authorization: String,
    content_type: String,
    gzip: bool,
    run_base: u64,
    /// Hours a pass moves event time on (0 with `--time repeat`).
    shift_hours: i64,
    measure_from: Instant,
    deadline: Instant,
    stop: AtomicBool,
    printed: AtomicUsize,
}

impl Plan {
    fn report_failure(&self, what: &str) {
        if self.printed.fetch_add(1, Ordering::Relaxed) < PRINTED_FAILURES {
            eprintln!("loadgen: {what}");
        }
    }

    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed) && Instant::now() < self.deadline
    }
}

/// Outcome of one POST.
enum Answer {
    Acked,
    Retry(Duration),
    Failed,
    Fatal,
}

fn run_worker(plan: &Plan, mut bodies: Vec<Body>) -> Tally {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(120)))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut tally = Tally::default();
    let mut compressed = Vec::new();
    let mut transport_errors = 0;
    let mut pass = 0;
    'run: while plan.running() {
        if pass >= PASSES_PER_RUN {
            plan.report_failure("a worker made 100000 passes; stopping so ids stay unique");
            break;
        }
        for body in &mut bodies {
            body.set_round(plan.run_base + pass, pass as i64 * plan.shift_hours);
            let payload: &[u8] = if plan.gzip {
                let started = Instant::now();
                compressed = gzip(&body.bytes, std::mem::take(&mut compressed));
                tally.compress += started.elapsed();
                &compressed
            } else {
                &body.bytes
            };
            loop {
                if !plan.running() {
                    break 'run;
                }
                match post(plan, &agent, body, payload, &mut tally) {
                    Answer::Acked => {
                        transport_errors = 0;
                        break;
                    }
                    Answer::Retry(wait) => {
                        let left = plan.deadline.saturating_duration_since(Instant::now());
                        std::thread::sleep(wait.min(left));
                    }
                    Answer::Failed => {
                        // A transport error: the body may not have arrived, send it again.
                        transport_errors += 1;
                        if transport_errors >= MAX_CONSECUTIVE_TRANSPORT_ERRORS {
                            plan.report_failure(
                                "a worker saw 50 transport errors in a row; stopping",
                            );
                            break 'run;
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    Answer::Fatal => {
                        plan.stop.store(true, Ordering::Relaxed);
                        break 'run;
                    }
                }
            }
        }
        pass += 1;
    }
    tally
}

fn gzip(bytes: &[u8], mut out: Vec<u8>) -> Vec<u8> {
    out.clear();
    let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

fn post(
    plan: &Plan,
    agent: &ureq::Agent,
    body: &Body,
    payload: &[u8],
    tally: &mut Tally,
) -> Answer {
    let started = Instant::now();
    let counted = started >= plan.measure_from;
    let mut request = agent
        .post(&plan.url)
        .header("Authorization", &plan.authorization)
        .header("Content-Type", &plan.content_type);
    if plan.gzip {
        request = request.header("Content-Encoding", "gzip");
    }
    let mut response = match request.send(payload) {
        Ok(response) => response,
        Err(e) => {
            // Typically a broken pipe: the server answered early (e.g. 429 "saturated") and
            // closed the connection before the whole body was sent, so the answer is lost.
            tally.transport_errors += u64::from(counted);
            plan.report_failure(&format!("POST {} (retried): {e}", plan.url));
            return Answer::Failed;
        }
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    let text = match response.body_mut().read_to_string() {
        Ok(text) => text,
        Err(e) => {
            tally.transport_errors += u64::from(counted);
            plan.report_failure(&format!(
                "reading the answer to POST {} (retried): {e}",
                plan.url
            ));
            return Answer::Failed;
        }
    };
    let elapsed = started.elapsed();
    match status {
        200 => {
            let summary: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            let Some(accepted) = summary.get("accepted").and_then(|v| v.as_u64()) else {
                tally.errors += u64::from(counted);
                plan.report_failure(&format!(
                    "200 without an \"accepted\" count: {}",
                    clip(&text)
                ));
                return Answer::Acked;
            };
            if counted {
                tally.requests += 1;
                tally.acked_records += accepted;
                tally.rejected_records += body.records.saturating_sub(accepted as usize) as u64;
                tally.raw_bytes += body.bytes.len() as u64;
                tally.wire_bytes += payload.len() as u64;
                tally.latencies_us.push(elapsed.as_micros() as u64);
            }
            Answer::Acked
        }
        429 | 503 => {
            tally.throttled += u64::from(counted);
            Answer::Retry(Duration::from_secs(retry_after.unwrap_or(1)))
        }
        401 | 403 | 404 | 405 | 415 => {
            plan.report_failure(&format!(
                "HTTP {status} (stopping: fix the setup): {}",
                clip(&text)
            ));
            Answer::Fatal
        }
        _ => {
            tally.errors += u64::from(counted);
            plan.report_failure(&format!("HTTP {status}: {}", clip(&text)));
            // The body will not be accepted on a retry either: move on to the next one.
            Answer::Acked
        }
    }
}

fn clip(text: &str) -> &str {
    match text.char_indices().nth(500) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// The `q` quantile (0..=1) of sorted values, nearest rank.
fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn run(args: Args) -> Result<(), String> {
    let text = std::fs::read(&args.file).map_err(|e| format!("reading {}: {e}", args.file))?;
    let Loaded {
        bodies,
        untagged,
        fixed_time,
        span_hours,
    } = build_bodies(&text, args.batch, &args.file)?;
    drop(text);
    let records: usize = bodies.iter().map(|b| b.records).sum();
    let bytes: usize = bodies.iter().map(|b| b.bytes.len()).sum();
    if bodies.len() < args.concurrency {
        return Err(format!(
            "{} holds {records} records: {} bodies of --batch {}, fewer than --concurrency {}; \
             use a smaller --batch or a larger file",
            args.file,
            bodies.len(),
            args.batch,
            args.concurrency
        ));
    }
    println!(
        "loaded {records} records ({:.1} MB) from {} into {} bodies of up to {} records ({:.0} KB each on average)",
        bytes as f64 / 1e6,
        args.file,
        bodies.len(),
        args.batch,
        bytes as f64 / bodies.len() as f64 / 1e3
    );
    if untagged > 0 {
        println!(
            "warning: {untagged} records have no top-level string \"id\"; they repeat verbatim every pass"
        );
    }
    if args.shift_time {
        println!("each pass moves event time {span_hours} h on");
        if fixed_time > 0 {
            println!(
                "warning: {fixed_time} records have no top-level UTC \"observed_at\" to move; they keep their event time every pass"
            );
        }
    }
    let mut per_worker: Vec<Vec<Body>> = (0..args.concurrency).map(|_| Vec::new()).collect();
    for (i, body) in bodies.into_iter().enumerate() {
        per_worker[i % args.concurrency].push(body);
    }
    let now_secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let plan = Arc::new(Plan {
        url: args.url.clone(),
        authorization: format!("Bearer {}", args.token),
        content_type: args.content_type.clone(),
        gzip: args.gzip,
        // A different base each second, so repeated runs against one store do not collide.
        run_base: (now_secs % PASSES_PER_RUN) * PASSES_PER_RUN,
        shift_hours: if args.shift_time { span_hours } else { 0 },
        measure_from,
        deadline: measure_from + Duration::from_secs_f64(args.seconds),
        stop: AtomicBool::new(false),
        printed: AtomicUsize::new(0),
    });
    println!(
        "POST {} with {} workers for {:.0} s after {:.0} s of warm-up{}",
        args.url,
        args.concurrency,
        args.seconds,
        args.warmup,
        if args.gzip { ", gzip (fast)" } else { "" }
    );
    let workers: Vec<_> = per_worker
        .into_iter()
        .map(|bodies| {
            let plan = Arc::clone(&plan);
            std::thread::spawn(move || run_worker(&plan, bodies))
        })
        .collect();
    let mut total = Tally::default();
    for worker in workers {
        total.merge(worker.join().map_err(|_| "a worker thread panicked")?);
    }
    let window = Instant::now()
        .saturating_duration_since(measure_from)
        .as_secs_f64();
    print_report(&mut total, window, args.gzip);
    if plan.stop.load(Ordering::Relaxed) {
        return Err("stopped early: the server refused the requests (see above)".into());
    }
    Ok(())
}

fn print_report(total: &mut Tally, window: f64, gzip: bool) {
    total.latencies_us.sort_unstable();
    let ms = |q: f64| quantile(&total.latencies_us, q) as f64 / 1e3;
    let per_s = |n: u64| if window > 0.0 { n as f64 / window } else { 0.0 };
    println!("measured over {window:.2} s:");
    println!(
        "  records acknowledged: {} ({:.0} records/s), rejected by the server: {}",
        total.acked_records,
        per_s(total.acked_records),
        total.rejected_records
    );
    println!(
        "  requests acknowledged: {} ({:.1}/s), 429/503 answers: {}, other HTTP errors: {}, \
         transport errors (retried): {}",
        total.requests,
        per_s(total.requests),
        total.throttled,
        total.errors,
        total.transport_errors
    );
    println!(
        "  throughput: {:.1} MB/s of NDJSON, {:.1} MB/s on the wire",
        per_s(total.raw_bytes) / 1e6,
        per_s(total.wire_bytes) / 1e6
    );
    println!(
        "  ack latency (ms): p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        ms(0.50),
        ms(0.90),
        ms(0.99),
        ms(1.0)
    );
    if gzip {
        println!(
            "  client gzip time: {:.2} s over all workers (warm-up included)",
            total.compress.as_secs_f64()
        );
    }
}

fn main() -> ExitCode {
    let result = parse_args(std::env::args().skip(1)).and_then(run);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(body: &Body) -> Vec<String> {
        body.bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let v: serde_json::Value = serde_json::from_slice(l).unwrap();
                v["id"].as_str().unwrap_or("").to_owned()
            })
            .collect()
    }

    #[test]
    fn ids_get_a_round_tag_rewritten_in_place() {
        let text = concat!(
            "{\"schema\":\"x\",\"id\":\"a\",\"client\":{\"id\":\"a\"}}\n",
            "\n",
            "{\"request_id\":\"b\", \"id\" : \"b\"}\n",
            "{\"no_id\":1}\n",
        );
        let Loaded {
            mut bodies,
            untagged,
            fixed_time,
            ..
        } = build_bodies(text.as_bytes(), 2, "t.ndjson").unwrap();
        assert_eq!((untagged, fixed_time), (1, 3));
        assert_eq!(bodies.len(), 2);
        assert_eq!(bodies[0].records, 2);
        assert_eq!(bodies[1].records, 1);
        bodies[0].set_round(42, 0);
        assert_eq!(ids(&bodies[0]), ["a-r0000000042", "b-r0000000042"]);
        let first: serde_json::Value =
            serde_json::from_slice(bodies[0].bytes.split(|&b| b == b'\n').next().unwrap()).unwrap();
        assert_eq!(
            first["client"]["id"], "a",
            "only the top-level id is tagged"
        );
        bodies[0].set_round(7, 0);
        assert_eq!(ids(&bodies[0]), ["a-r0000000007", "b-r0000000007"]);
        assert_eq!(ids(&bodies[1]), [""]);
    }

    #[test]
    fn a_pass_moves_event_time_and_uuid_v7_time_by_the_span() {
        let text = concat!(
            r#"{"id":"018fdb65-4cf4-7e19-b82b-b93d6da9326c","observed_at":"2024-06-03T23:59:59.244299Z","x":"observed_at"}"#,
            "\n",
            r#"{"observed_at":"2024-06-04T00:10:00Z","id":"not-a-uuid"}"#,
            "\n",
            r#"{"id":"c","observed_at":"2024-06-04T02:10:00+02:00"}"#,
            "\n",
        );
        let Loaded {
            mut bodies,
            fixed_time,
            span_hours,
            ..
        } = build_bodies(text.as_bytes(), 10, "t.ndjson").unwrap();
        // The third record's time is not in UTC: it is left as it is.
        assert_eq!((fixed_time, span_hours), (1, 2));
        let body = &mut bodies[0];
        let records = |body: &Body| -> Vec<serde_json::Value> {
            body.bytes
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).unwrap())
                .collect()
        };
        body.set_round(5, 2 * span_hours);
        let moved = records(body);
        assert_eq!(moved[0]["observed_at"], "2024-06-04T03:59:59.244299Z");
        assert_eq!(moved[0]["x"], "observed_at");
        assert_eq!(moved[1]["observed_at"], "2024-06-04T04:10:00Z");
        assert_eq!(moved[2]["observed_at"], "2024-06-04T02:10:00+02:00");
        // 4 h = 14,400,000 ms = 0xdbba00 added to the UUIDv7's time, the rest kept.
        let ms = 0x018f_db65_4cf4_u64 + 14_400_000;
        let want = format!(
            "{:08x}-{:04x}-7e19-b82b-b93d6da9326c-r0000000005",
            ms >> 16,
            ms & 0xffff
        );
        assert_eq!(moved[0]["id"], want.as_str());
        assert_eq!(moved[1]["id"], "not-a-uuid-r0000000005");
        body.set_round(6, 0);
        let back = records(body);
        assert_eq!(back[0]["observed_at"], "2024-06-03T23:59:59.244299Z");
        assert_eq!(
            back[0]["id"],
            "018fdb65-4cf4-7e19-b82b-b93d6da9326c-r0000000006"
        );
    }

    #[test]
    fn escaped_ids_fall_back_to_reencoding() {
        // The id is written with a needless escape, so its canonical encoding is not in the line.
        let line = br#"{"id":"x\u0041y","n":1}"#;
        let mut out = Vec::new();
        let at = push_tagged_line(line, &mut out).unwrap().0.unwrap();
        out[at..at + TAG_DIGITS].copy_from_slice(b"0000000003");
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["id"], "xAy-r0000000003");
        assert_eq!(v["n"], 1);
    }

    #[test]
    fn bad_lines_are_named() {
        let err = build_bodies(b"{\"id\":\"a\"}\nnope\n", 10, "t.ndjson").unwrap_err();
        assert!(err.starts_with("t.ndjson:2: not JSON"), "{err}");
    }

    #[test]
    fn quantiles_use_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), 50);
        assert_eq!(quantile(&v, 0.99), 99);
        assert_eq!(quantile(&v, 1.0), 100);
        assert_eq!(quantile(&v, 0.0), 1);
        assert_eq!(quantile(&[], 0.5), 0);
    }

    #[test]
    fn arguments_are_checked() {
        let args = |s: &str| parse_args(s.split_whitespace().map(String::from));
        let a = args("--url http://x/v1/ingest --token t --file f --batch 100 --gzip").unwrap();
        assert_eq!(
            (a.batch, a.concurrency, a.gzip, a.shift_time),
            (100, 4, true, true)
        );
        let a = args("--url u --token t --file f --time repeat").unwrap();
        assert!(!a.shift_time);
        assert!(
            args("--url u --token t --file f --time later")
                .unwrap_err()
                .contains("--time: expected shift or repeat")
        );
        assert!(
            args("--url u --token t")
                .unwrap_err()
                .contains("--file is required")
        );
        assert!(args("--url u --token t --file f --batch 0").is_err());
        assert!(
            args("--url u --token t --file f --bogus 1")
                .unwrap_err()
                .contains("unknown")
        );
        assert!(
            args("--url u --token t --file f --seconds")
                .unwrap_err()
                .contains("needs a value")
        );
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let packed = gzip(b"hello\nworld\n", Vec::new());
        let mut out = String::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "hello\nworld\n");
    }
}
