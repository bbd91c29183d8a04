//! Fixed work for instruction counting of `scan_path`, `scan_query` and `scan_headers` on
//! request parts shaped like gateway traffic: 2-5 path segments (literals, numeric ids, the
//! occasional UUID, email or percent-encoded segment), short queries, a dozen headers.
//! Run: `valgrind --tool=callgrind target/release/examples/request_parts [rounds]` and read
//! the inclusive cost of each function divided by its call count.

use std::hint::black_box;

use gw_classify::{Classifier, Location, StatusClass};

const PATHS: [&str; 16] = [
    "/v2/customers/81723/orders",
    "/v1/users/42",
    "/api/v3/accounts/9f1c2b7e-5d4a-4c3b-9a8e-1f2d3c4b5a69/balance",
    "/v2/orders/100234/items/7",
    "/health",
    "/v1/products?sort=price",
    "/v1/users/ada@example.com/cards",
    "/v2/customers/5523/addresses/2",
    "/v1/search/red%20shoes",
    "/v1/carts/771239/checkout",
    "/oauth/token",
    "/v2/invoices/2024-06-10/summary",
    "/v1/payments/pay_8x9QkL2mZ/refunds",
    "/v1/users/17/sessions",
    "/static/app.js",
    "/v2/customers/81724/orders/991/shipments",
];

const QUERIES: [&str; 6] = [
    "page=2&size=50",
    "sort=price&order=desc",
    "email=ada%40example.com&page=1",
    "q=red+shoes&limit=20",
    "api_key=Zf3D0LXCM3EIMbgJpUNnkRtO&page=2",
    "from=2024-06-01&to=2024-06-10",
];

const HEADERS: [(&str, &str); 12] = [
    ("Host", "api.example.com"),
    ("User-Agent", "okhttp/4.12.0"),
    ("Accept", "application/json"),
    ("Accept-Encoding", "gzip, deflate, br"),
    ("Content-Type", "application/json"),
    ("Authorization", "Bearer abcdef123456XYZabcdef123456XYZ"),
    ("X-Forwarded-For", "203.0.113.7, 10.0.0.1"),
    ("X-Forwarded-Proto", "https"),
    ("X-Request-Id", "0190a4c2-7b1e-7cc1-9a8e-1f2d3c4b5a69"),
    (
        "Traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ),
    ("Cookie", "sid=s00000042; theme=dark"),
    ("Referer", "https://app.example.com/orders"),
];

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000);
    let c = Classifier::builtin();
    let status = StatusClass::from_status(200);
    let mut n = 0usize;
    for _ in 0..rounds {
        for p in PATHS {
            n += black_box(c.scan_path(black_box(p), status)).len();
        }
        for q in QUERIES {
            n += black_box(c.scan_query(black_box(q), Location::Query, status)).len();
        }
        n += black_box(c.scan_headers(black_box(HEADERS), Location::Header, status)).len();
    }
    println!("{rounds} rounds, {n} findings");
}
