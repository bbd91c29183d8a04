//! Deterministic ~2 KB JSON response bodies shared by `benches/classify.rs` and
//! `examples/cpu_throughput.rs`, so both measure the same input.

/// Deterministic pseudo-random numbers (fixed seed) for varied bodies.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// An order-list response of about 2 KB; `with_pii` adds contact and payment fields.
pub fn body(rng: &mut Lcg, with_pii: bool) -> String {
    let mut items = Vec::new();
    let mut len = 0;
    let mut i = 0;
    while len < 1900 {
        let id = rng.next_u64() % 1_000_000;
        let price = rng.next_u64() % 10_000;
        let item = if with_pii && i % 3 == 0 {
            format!(
                r#"{{"id":{id},"sku":"SKU-{:05}","name":"Stainless steel bottle 750 ml","price":{}.{:02},"currency":"EUR","created_at":"2024-06-1{}T09:13:20Z","customer":{{"email":"user{id}@example.com","phone":"+44 20 7946 {:04}","card_last4":"{:04}"}},"status":"shipped"}}"#,
                rng.next_u64() % 100_000,
                price / 100,
                price % 100,
                rng.next_u64() % 10,
                rng.next_u64() % 10_000,
                rng.next_u64() % 10_000
            )
        } else {
            format!(
                r#"{{"id":{id},"sku":"SKU-{:05}","name":"Organic cotton t-shirt, size M","price":{}.{:02},"currency":"EUR","created_at":"2024-06-1{}T09:13:20Z","tags":["summer","sale"],"quantity":{},"status":"shipped"}}"#,
                rng.next_u64() % 100_000,
                price / 100,
                price % 100,
                rng.next_u64() % 10,
                rng.next_u64() % 5 + 1
            )
        };
        len += item.len() + 1;
        items.push(item);
        i += 1;
    }
    format!(
        r#"{{"page":1,"page_size":{},"next":"/v1/orders?page=2","orders":[{}]}}"#,
        items.len(),
        items.join(",")
    )
}
