//! Background traffic: a non-homogeneous Poisson process whose rate follows a daily and weekly
//! curve, calls by a heavy-tailed client population, operations weighted by popularity. The
//! state is a clock and a random stream; nothing grows with the simulated duration.

use gw_model::Exchange;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::keyed::hash3;
use crate::population::ClientProfile;
use crate::record::{Actor, World, finish_sizes};

const US_PER_HOUR: f64 = 3_600_000_000.0;
const US_PER_DAY: i64 = 86_400_000_000;
/// Traffic on Saturday and Sunday relative to a weekday.
const WEEKEND_FACTOR: f64 = 0.55;
/// Amplitude of the daily curve (peak at 14:00 UTC, trough at 02:00 UTC).
const DAILY_AMPLITUDE: f64 = 0.75;

/// The unnormalised activity factor at `t_us` (microseconds since the Unix epoch).
fn raw_season(t_us: i64) -> f64 {
    let day = t_us.div_euclid(US_PER_DAY);
    let hour = t_us.rem_euclid(US_PER_DAY) as f64 / US_PER_HOUR;
    let daily = 1.0 + DAILY_AMPLITUDE * ((hour - 14.0) * std::f64::consts::TAU / 24.0).cos();
    let weekday = (day + 3).rem_euclid(7); // 1970-01-01 was a Thursday; Monday = 0
    daily * if weekday >= 5 { WEEKEND_FACTOR } else { 1.0 }
}

/// The mean of [`raw_season`] over a week, so the configured rps is the weekly mean rate.
fn weekly_mean() -> f64 {
    let step = 60_000_000i64;
    let n = 7 * US_PER_DAY / step;
    (0..n).map(|i| raw_season(i * step)).sum::<f64>() / n as f64
}

/// Operations by cumulative weight, for sampling.
#[derive(Clone, Debug, Default)]
pub(crate) struct OpTable {
    cumulative: Vec<f64>,
    ops: Vec<usize>,
}

impl OpTable {
    pub(crate) fn new(entries: impl IntoIterator<Item = (usize, f64)>) -> Self {
        let mut t = OpTable::default();
        let mut sum = 0.0;
        for (op, w) in entries {
            if w > 0.0 {
                sum += w;
                t.cumulative.push(sum);
                t.ops.push(op);
            }
        }
        t
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub(crate) fn total(&self) -> f64 {
        self.cumulative.last().copied().unwrap_or(0.0)
    }

    pub(crate) fn sample(&self, u: f64) -> Option<usize> {
        let x = u * self.total();
        let i = self.cumulative.partition_point(|&c| c <= x);
        self.ops
            .get(i.min(self.ops.len().saturating_sub(1)))
            .copied()
    }
}

/// Which operations each kind of client uses.
#[derive(Clone, Debug)]
pub(crate) struct Routing {
    /// One table per spec (index = spec index); empty for specs without operations.
    per_spec: Vec<OpTable>,
    public_specs: Vec<usize>,
    internal_specs: Vec<usize>,
    public_mix: OpTable,
    internal_mix: OpTable,
}

impl Routing {
    pub(crate) fn new(world: &World, spec_count: usize) -> Self {
        let per_spec: Vec<OpTable> = (0..spec_count)
            .map(|s| {
                OpTable::new(
                    world
                        .ops
                        .iter()
                        .enumerate()
                        .filter(|(_, o)| o.spec_index == s)
                        .map(|(i, o)| (i, o.weight)),
                )
            })
            .collect();
        let is_internal = |s: usize| world.ops.iter().any(|o| o.spec_index == s && o.internal);
        let usable: Vec<usize> = (0..spec_count)
            .filter(|&s| !per_spec[s].is_empty())
            .collect();
        let mut public_specs: Vec<usize> = usable
            .iter()
            .copied()
            .filter(|&s| !is_internal(s))
            .collect();
        let mut internal_specs: Vec<usize> =
            usable.iter().copied().filter(|&s| is_internal(s)).collect();
        if public_specs.is_empty() {
            public_specs = usable.clone();
        }
        if internal_specs.is_empty() {
            internal_specs = usable.clone();
        }
        let mix = |specs: &[usize]| {
            OpTable::new(
                world
                    .ops
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| specs.contains(&o.spec_index))
                    .map(|(i, o)| (i, o.weight)),
            )
        };
        let public_mix = mix(&public_specs);
        let internal_mix = mix(&internal_specs);
        Routing {
            per_spec,
            public_specs,
            internal_specs,
            public_mix,
            internal_mix,
        }
    }

    /// The operation a client calls: mostly from its preferred API, sometimes any.
    pub(crate) fn pick<R: Rng>(&self, rng: &mut R, client: &ClientProfile) -> Option<usize> {
        let (specs, mix) = if client.internal {
            (&self.internal_specs, &self.internal_mix)
        } else {
            (&self.public_specs, &self.public_mix)
        };
        let u: f64 = rng.random();
        if rng.random_bool(0.75) && !specs.is_empty() {
            let spec = specs[(client.spec_preference % specs.len() as u64) as usize];
            return self.per_spec[spec].sample(u);
        }
        mix.sample(u)
    }

    /// The public traffic mix (all public operations by weight).
    pub(crate) fn public_mix(&self) -> &OpTable {
        &self.public_mix
    }
}

/// The background stream.
#[derive(Debug)]
pub(crate) struct Background {
    rng: ChaCha8Rng,
    t_us: f64,
    end_us: i64,
    rps: f64,
    norm: f64,
    target_record_bytes: Option<f64>,
    emitted: u64,
    bytes: f64,
}

impl Background {
    pub(crate) fn new(
        seed: u64,
        start_us: i64,
        end_us: i64,
        rps: f64,
        target_record_bytes: Option<f64>,
    ) -> Self {
        Background {
            rng: ChaCha8Rng::seed_from_u64(hash3(seed, 0xb6, 0)),
            t_us: start_us as f64,
            end_us,
            rps,
            norm: weekly_mean(),
            target_record_bytes,
            emitted: 0,
            bytes: 0.0,
        }
    }

    /// The instantaneous rate factor (1.0 = the configured mean rate).
    pub(crate) fn season(&self, t_us: i64) -> f64 {
        raw_season(t_us) / self.norm
    }

    /// The next background record, `None` at the end of the period.
    /// Advances the clock to the next arrival; `None` at the end of the period. The record for
    /// the arrival is built by [`Background::build`] only when the merge takes it, so nothing
    /// waits in a buffer.
    pub(crate) fn advance(&mut self) -> Option<i64> {
        let rate = self.rps * self.season(self.t_us as i64) / 1e6;
        let u: f64 = self.rng.random();
        self.t_us += -(1.0 - u).ln() / rate;
        let at_us = self.t_us as i64;
        if at_us >= self.end_us {
            self.t_us = self.end_us as f64;
            return None;
        }
        Some(at_us)
    }

    /// The record of the arrival at `at_us`.
    pub(crate) fn build(&mut self, world: &World, routing: &Routing, at_us: i64) -> Exchange {
        let mut tries = 0;
        loop {
            tries += 1;
            let index = world.population.zipf_index(self.rng.random());
            let client = world.population.client(index);
            let op = match routing.pick(&mut self.rng, &client) {
                Some(op) => op,
                None if tries < 8 => continue,
                None => routing.public_mix().sample(0.0).unwrap_or(0),
            };
            let actor = Actor {
                ip: client.ip,
                user_agent: client.user_agent,
                user: client.user,
            };
            let mut x = world.call(&mut self.rng, op, &actor, at_us);
            self.shape_size(&mut x);
            return x;
        }
    }

    /// Under a scale profile, GET responses carry the bytes the profile's traffic volume needs:
    /// the body is captured as generated and its real size grows (a gateway's capture limit).
    fn shape_size(&mut self, x: &mut Exchange) {
        self.emitted += 1;
        let natural = x.request.size.unwrap_or(0) + x.response.size.unwrap_or(0);
        self.bytes += natural as f64;
        let Some(target) = self.target_record_bytes else {
            return;
        };
        let deficit = target * self.emitted as f64 - self.bytes;
        if deficit <= 0.0 || x.request.method != "GET" {
            return;
        }
        let Some(body) = x.response.body.as_mut() else {
            return;
        };
        let u: f64 = self.rng.random();
        let extra = (target * 4.0 * u * u).min(deficit).min(4_000_000.0) as u64;
        body.size = Some(body.captured + extra);
        body.truncated = extra > 0;
        if let Some(h) = x
            .response
            .headers
            .as_mut()
            .and_then(|hs| hs.iter_mut().find(|h| h.name == "content-length"))
        {
            h.value = (body.captured + extra).to_string();
        }
        finish_sizes(x);
        self.bytes += extra as f64;
    }

    pub(crate) fn now_us(&self) -> i64 {
        self.t_us as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nights_and_weekends_are_quieter() {
        let monday = 1_717_372_800_000_000i64; // 2024-06-03T00:00Z, a Monday
        let at = |day: i64, hour: i64| raw_season(monday + day * US_PER_DAY + hour * 3_600_000_000);
        assert!(at(0, 3) * 3.0 < at(0, 14));
        assert!(at(5, 14) < at(0, 14) * 0.6);
        let mean = weekly_mean();
        assert!(mean > 0.5 && mean < 1.0, "{mean}");
    }

    #[test]
    fn op_table_samples_by_weight() {
        let t = OpTable::new([(7, 1.0), (9, 3.0), (11, 0.0)]);
        assert_eq!(t.sample(0.1), Some(7));
        assert_eq!(t.sample(0.5), Some(9));
        assert_eq!(t.sample(0.999_999), Some(9));
        assert!(OpTable::new([]).sample(0.5).is_none());
    }
}
