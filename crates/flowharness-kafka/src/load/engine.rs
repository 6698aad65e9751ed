//! The open-model loop: flows start when the schedule says, whether or not
//! earlier ones finished; each flow's events go out at their own offsets
//! (the flow's time compressed by the time scale); accounts in flight are
//! never given a second flow, and `max_in_flight` bounds memory.

use crate::num::Cast as _;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::SeedableRng;

use super::metrics::Tick;
use super::rate::Schedule;
use super::sink::{Acks, Sink};
use super::templates::Pool;
use crate::generate::fakes::Rng;

/// How the loop runs.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub schedule: Schedule,
    /// The run's length when the schedule has none of its own.
    pub duration: Duration,
    /// Stop starting flows after this many.
    pub max_flows: Option<u64>,
    pub accounts: u64,
    /// `(i, n)`: this instance takes the accounts whose index is i mod n.
    pub shard: (u64, u64),
    pub seed: u64,
    /// Flow time per wall time (86400: a day a second); 0 sends a flow's
    /// events back to back.
    pub time_scale: f64,
    pub max_in_flight: u64,
    pub flush_timeout: Duration,
}

/// What the loop did.
#[derive(Debug, Clone, Default)]
pub struct EngineResult {
    pub flows_started: u64,
    pub flows_finished: u64,
    pub flows_in_flight: u64,
    pub by_path: BTreeMap<usize, u64>,
    pub events_sent: u64,
    pub seconds: f64,
    /// When the last flow started.
    pub starting_seconds: f64,
    pub interrupted: bool,
    pub timeline: Vec<Tick>,
    pub peak_in_flight: u64,
}

struct Active {
    template: u32,
    account: u64,
    next: u16,
    start_us: u64,
    key: Vec<u8>,
    ids: Vec<u8>,
}

struct Accounts {
    /// Local indices in flight, one bit each.
    busy: Vec<u64>,
    local: u64,
    cursor: u64,
}

impl Accounts {
    fn is_busy(&self, i: u64) -> bool {
        self.busy[(i / 64).sat_usize()] & (1 << (i % 64)) != 0
    }
    fn set(&mut self, i: u64, busy: bool) {
        let word = &mut self.busy[(i / 64).sat_usize()];
        if busy {
            *word |= 1 << (i % 64);
        } else {
            *word &= !(1 << (i % 64));
        }
    }
    /// The next free account (a local index), round robin.
    fn take(&mut self) -> Option<u64> {
        for _ in 0..self.local.min(4096) {
            let i = self.cursor;
            self.cursor = (self.cursor + 1) % self.local;
            if !self.is_busy(i) {
                self.set(i, true);
                return Some(i);
            }
        }
        None
    }
}

/// Flows started per turn of the loop when the rate is unlimited.
const UNPACED_BATCH: u32 = 256;

fn offset_us(at_ms: i64, time_scale: f64) -> u64 {
    if time_scale <= 0.0 {
        return 0;
    }
    (at_ms.max(0).to_f64() * 1000.0 / time_scale).sat_u64()
}

/// Runs the loop until the schedule (or duration) ends and every started
/// flow has sent its last event, or until `stop` is set. `tick` is called
/// once a second.
pub fn run(
    pool: &Pool,
    options: &EngineOptions,
    sink: &mut dyn Sink,
    acks: &Arc<Acks>,
    stop: &AtomicBool,
    tick: &mut dyn FnMut(&Tick),
) -> EngineResult {
    let multi_topic = pool.templates.iter().flat_map(|t| &t.events).any(|e| e.channel > 0);
    let origin = acks.origin;
    let wall_origin_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis().sat_i64())
        - origin.elapsed().as_millis().sat_i64();
    let (shard_i, shard_n) = options.shard;
    let local = options.accounts.saturating_sub(shard_i).div_ceil(shard_n.max(1)).max(1);
    let mut accounts = Accounts {
        busy: vec![0; local.div_ceil(64).sat_usize()],
        local,
        cursor: 0,
    };
    let paced = !matches!(options.schedule, Schedule::Unlimited);
    let end_us = match options.schedule.seconds() {
        Some(s) => (s * 1e6).sat_u64(),
        None => options.duration.as_micros().sat_u64(),
    };
    let mut rng = Rng::seed_from_u64(options.seed);
    let mut slots: Vec<Option<Active>> = Vec::new();
    let mut free: Vec<u32> = Vec::new();
    let mut heap: BinaryHeap<Reverse<(u64, u32)>> = BinaryHeap::new();
    let mut out = EngineResult::default();
    let mut buf = Vec::with_capacity(512);
    let mut id_text = Vec::new();
    let mut exhausted = false;
    let mut next_tick_us = 1_000_000;
    let mut second = Tick::default();
    let mut last_acked = 0;
    let mut last_failed = 0;
    loop {
        let now_us = origin.elapsed().as_micros().sat_u64();
        if stop.load(Ordering::Relaxed) {
            out.interrupted = true;
            break;
        }
        // Flows whose start is due. Unpaced, a few at a time: the heap of
        // events due stays small and in cache.
        let mut started_now = 0u32;
        while !exhausted && out.flows_in_flight < options.max_in_flight && (paced || started_now < UNPACED_BATCH) {
            started_now += 1;
            if options.max_flows.is_some_and(|m| out.flows_started >= m) {
                exhausted = true;
                break;
            }
            let due_us = if paced {
                match options.schedule.time_of(out.flows_started) {
                    Some(t) => (t * 1e6).sat_u64(),
                    None => {
                        exhausted = true;
                        break;
                    }
                }
            } else {
                if now_us >= end_us {
                    exhausted = true;
                    break;
                }
                now_us
            };
            if due_us > now_us {
                break;
            }
            let Some(local_account) = accounts.take() else { break };
            let t = pool.pick(&mut rng);
            let template = &pool.templates[t];
            let mut active = Active {
                template: t.sat_u32(),
                account: local_account,
                next: 0,
                start_us: due_us,
                key: Vec::new(),
                ids: Vec::new(),
            };
            pool.key(shard_i + local_account * shard_n, &mut active.key);
            template.fresh_ids(&mut rng, &mut active.ids);
            let first = due_us + offset_us(template.events[0].at_ms, options.time_scale);
            let slot = match free.pop() {
                Some(s) => {
                    slots[s.sat_usize()] = Some(active);
                    s
                }
                None => {
                    slots.push(Some(active));
                    (slots.len() - 1).sat_u32()
                }
            };
            heap.push(Reverse((first, slot)));
            out.flows_started += 1;
            out.starting_seconds = now_us.to_f64() / 1e6;
            out.flows_in_flight += 1;
            out.peak_in_flight = out.peak_in_flight.max(out.flows_in_flight);
            *out.by_path.entry(template.path).or_default() += 1;
            second.flows_started += 1;
        }
        // Events whose time has come.
        let mut sent_now = 0u32;
        while let Some(Reverse((due, slot))) = heap.peek().copied() {
            if due > now_us {
                break;
            }
            heap.pop();
            let Some(active) = slots[slot.sat_usize()].as_mut() else {
                continue;
            };
            let template = &pool.templates[active.template.sat_usize()];
            let i = usize::from(active.next);
            template.stamp(i, &active.key, &active.ids, &mut rng, &mut buf);
            let intended = if paced { due } else { now_us };
            if multi_topic {
                sink.select(template.events[i].channel);
            }
            if let Some(name) = &pool.id_header {
                template.flow_id_text(i, &active.ids, &mut id_text);
                sink.flow_header(name, &id_text);
            }
            sink.send(
                &active.key,
                &buf,
                wall_origin_ms + (intended / 1000).sat_i64(),
                intended,
            );
            out.events_sent += 1;
            second.events_sent += 1;
            active.next += 1;
            if usize::from(active.next) < template.events.len() {
                let next = active.start_us + offset_us(template.events[i + 1].at_ms, options.time_scale);
                heap.push(Reverse((next.max(due), slot)));
            } else {
                accounts.set(active.account, false);
                slots[slot.sat_usize()] = None;
                free.push(slot);
                out.flows_in_flight -= 1;
                out.flows_finished += 1;
            }
            sent_now += 1;
            if sent_now.is_multiple_of(1024) {
                sink.poll();
            }
        }
        sink.poll();
        if now_us >= next_tick_us {
            let acked = acks.acknowledged.load(Ordering::Relaxed);
            let failed = acks.failed.load(Ordering::Relaxed);
            let [p50, p90, p99, max] = {
                let mut l = acks.latency.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let r = if l.1.is_empty() {
                    [0.0; 4]
                } else {
                    [0.5, 0.9, 0.99, 1.0].map(|q| l.1.value_at_quantile(q).to_f64() / 1000.0)
                };
                l.1.reset();
                r
            };
            second.t = next_tick_us / 1_000_000;
            second.target_flow_rate = options.schedule.rate_at((next_tick_us.to_f64() / 1e6) - 0.5);
            second.events_acknowledged = acked - last_acked;
            second.errors = failed - last_failed;
            second.flows_in_flight = out.flows_in_flight;
            second.ack_p50_ms = p50;
            second.ack_p90_ms = p90;
            second.ack_p99_ms = p99;
            second.ack_max_ms = max;
            (last_acked, last_failed) = (acked, failed);
            tick(&second);
            out.timeline.push(std::mem::take(&mut second));
            next_tick_us += 1_000_000;
        }
        if exhausted && heap.is_empty() {
            break;
        }
        // Sleep until the next thing is due, a millisecond at most.
        let next_start = if exhausted || out.flows_in_flight >= options.max_in_flight {
            u64::MAX
        } else if paced {
            options
                .schedule
                .time_of(out.flows_started)
                .map_or(u64::MAX, |t| (t * 1e6).sat_u64())
        } else {
            now_us
        };
        let next_event = heap.peek().map_or(u64::MAX, |Reverse((d, _))| *d);
        let next = next_start.min(next_event).min(next_tick_us);
        let now_us = origin.elapsed().as_micros().sat_u64();
        if next > now_us + 100 {
            std::thread::sleep(Duration::from_micros((next - now_us).min(1000)));
        }
    }
    out.seconds = origin.elapsed().as_secs_f64();
    sink.finish(options.flush_timeout);
    out
}
