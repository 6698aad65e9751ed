//! The embedded broker's record log: record batches kept in memory as the
//! producer sent them (compressed, one owned copy each), per partition in
//! offset order, with the oldest dropped first once the retention's size or
//! age bound is passed.
//!
//! A fetch finds its first batch by binary search, so reading stays as fast
//! at the millionth batch as at the first (tansu's memory engine lists every
//! stored batch on each fetch, so a consumer falls further behind as the log
//! grows).

use crate::num::Cast as _;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tansu_sans_io::ErrorCode;
use tansu_sans_io::record::deflated::Batch;
use tansu_storage::Topition;

use super::retention::Retention;

/// The batch header's bytes before `batch_length` counts (offset, length).
const HEADER: u64 = 12;

#[derive(Debug)]
struct Stored {
    base: i64,
    last: i64,
    max_timestamp: i64,
    size: u64,
    batch: Batch,
}

#[derive(Debug)]
struct Partition {
    batches: VecDeque<Stored>,
    /// The next offset to assign.
    high: i64,
    /// The first offset still kept.
    log_start: i64,
    live: bool,
}

impl Partition {
    fn new() -> Partition {
        Partition {
            batches: VecDeque::new(),
            high: 0,
            log_start: 0,
            live: true,
        }
    }
}

/// An idempotent producer's place in one partition.
#[derive(Debug, Clone, Copy)]
struct Sequence {
    epoch: i16,
    next: i32,
}

#[derive(Debug, Default)]
struct State {
    index: HashMap<Topition, usize>,
    partitions: Vec<(Topition, Partition)>,
    /// Every kept batch in the order it was appended: (partition, base offset, when).
    order: VecDeque<(usize, i64, Instant)>,
    bytes: u64,
    dropped_batches: u64,
    dropped_bytes: u64,
    sequences: HashMap<(i64, usize), Sequence>,
}

/// What the log holds and has dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogStats {
    pub bytes: u64,
    pub batches: u64,
    pub dropped_batches: u64,
    pub dropped_bytes: u64,
}

/// The offsets of a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offsets {
    pub log_start: i64,
    pub high: i64,
}

/// The log of every partition of the embedded broker.
#[derive(Debug)]
pub struct MemoryLog {
    retention: Retention,
    state: Mutex<State>,
}

fn size_of(batch: &Batch) -> u64 {
    u64::try_from(batch.batch_length).map_or(batch.record_data.len().sat_u64() + 61, |l| l + HEADER)
}

impl MemoryLog {
    pub fn new(retention: Retention) -> MemoryLog {
        MemoryLog {
            retention,
            state: Mutex::new(State::default()),
        }
    }

    pub fn retention(&self) -> Retention {
        self.retention
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves the log consistent (every
        // change is a push or a pop), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Appends a batch, returning its base offset. An idempotent producer's
    /// batch is checked against the sequence it should carry.
    pub fn append(&self, topition: &Topition, mut batch: Batch) -> Result<i64, ErrorCode> {
        self.append_at(topition, &mut batch, Instant::now())
    }

    fn append_at(&self, topition: &Topition, batch: &mut Batch, now: Instant) -> Result<i64, ErrorCode> {
        let count = batch.last_offset_delta.max(0).sat_i64() + 1;
        let mut state = self.lock();
        let state = &mut *state;
        let id = match state.index.get(topition) {
            Some(&id) => id,
            None => {
                state.partitions.push((topition.clone(), Partition::new()));
                let id = state.partitions.len() - 1;
                state.index.insert(topition.clone(), id);
                id
            }
        };
        if batch.is_idempotent() {
            let key = (batch.producer_id, id);
            match state.sequences.get_mut(&key) {
                Some(seq) if batch.producer_epoch < seq.epoch => return Err(ErrorCode::ProducerFenced),
                Some(seq) if batch.producer_epoch == seq.epoch => {
                    if batch.base_sequence < seq.next {
                        return Err(ErrorCode::DuplicateSequenceNumber);
                    }
                    if batch.base_sequence > seq.next {
                        return Err(ErrorCode::OutOfOrderSequenceNumber);
                    }
                    seq.next = seq.next.wrapping_add(count.sat_i32());
                }
                _ => {
                    state.sequences.insert(
                        key,
                        Sequence {
                            epoch: batch.producer_epoch,
                            next: batch.base_sequence.wrapping_add(count.sat_i32()),
                        },
                    );
                }
            }
        }
        let partition = &mut state.partitions[id].1;
        let base = partition.high;
        batch.base_offset = base;
        // The batch may be a slice of the whole request: keep a copy of its
        // own bytes only.
        batch.record_data = Bytes::copy_from_slice(&batch.record_data);
        let size = size_of(batch);
        partition.batches.push_back(Stored {
            base,
            last: base + count - 1,
            max_timestamp: batch.max_timestamp,
            size,
            batch: batch.clone(),
        });
        partition.high = base + count;
        state.order.push_back((id, base, now));
        state.bytes += size;
        Self::enforce_locked(state, self.retention, now);
        Ok(base)
    }

    /// Drops what the retention no longer keeps.
    pub fn enforce(&self) {
        let mut state = self.lock();
        Self::enforce_locked(&mut state, self.retention, Instant::now());
    }

    fn enforce_locked(state: &mut State, retention: Retention, now: Instant) {
        loop {
            let Some(&(id, base, at)) = state.order.front() else {
                return;
            };
            let over_size = retention.max_bytes.is_some_and(|max| state.bytes > max);
            let too_old = retention.max_age.is_some_and(|max| now.duration_since(at) > max);
            if !over_size && !too_old {
                return;
            }
            state.order.pop_front();
            let partition = &mut state.partitions[id].1;
            // An entry whose batch is gone already (deleted records or
            // topic) is passed over.
            if partition.batches.front().is_some_and(|s| s.base == base)
                && let Some(gone) = partition.batches.pop_front()
            {
                partition.log_start = partition.log_start.max(gone.last + 1);
                state.bytes -= gone.size;
                state.dropped_batches += 1;
                state.dropped_bytes += gone.size;
            }
        }
    }

    /// The batches from the one holding `offset` on, up to `max_bytes` (at
    /// least one batch when there is one). An offset below the log start
    /// reads from the log start.
    pub fn fetch(&self, topition: &Topition, offset: i64, max_bytes: u32) -> Vec<Batch> {
        let state = self.lock();
        let Some(&id) = state.index.get(topition) else {
            return Vec::new();
        };
        let partition = &state.partitions[id].1;
        if offset >= partition.high {
            return Vec::new();
        }
        let first = partition.batches.partition_point(|s| s.last < offset);
        let mut out = Vec::new();
        let mut budget = u64::from(max_bytes);
        for stored in partition.batches.range(first..) {
            if !out.is_empty() && stored.size > budget {
                break;
            }
            budget = budget.saturating_sub(stored.size);
            out.push(stored.batch.clone());
        }
        out
    }

    pub fn offsets(&self, topition: &Topition) -> Offsets {
        let state = self.lock();
        state
            .index
            .get(topition)
            .map_or(Offsets { log_start: 0, high: 0 }, |&id| {
                let p = &state.partitions[id].1;
                Offsets {
                    log_start: p.log_start,
                    high: p.high,
                }
            })
    }

    /// The offset of the first batch whose newest record is at or after
    /// `at`, or the high watermark when there is none.
    pub fn offset_for_time(&self, topition: &Topition, at: SystemTime) -> i64 {
        let ms = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis()
            .sat_i64();
        let state = self.lock();
        let Some(&id) = state.index.get(topition) else {
            return 0;
        };
        let p = &state.partitions[id].1;
        p.batches
            .iter()
            .find(|s| s.max_timestamp >= ms)
            .map_or(p.high, |s| s.base.max(p.log_start))
    }

    /// Deletes the records before `offset` (-1: all), returning the new log
    /// start, or `None` for an unknown partition.
    pub fn delete_before(&self, topition: &Topition, offset: i64) -> Option<i64> {
        let mut state = self.lock();
        let state = &mut *state;
        let &id = state.index.get(topition)?;
        let partition = &mut state.partitions[id].1;
        let offset = if offset < 0 {
            partition.high
        } else {
            offset.min(partition.high)
        };
        while partition.batches.front().is_some_and(|s| s.last < offset) {
            let Some(gone) = partition.batches.pop_front() else {
                break;
            };
            state.bytes -= gone.size;
        }
        partition.log_start = partition.log_start.max(offset);
        Some(partition.log_start)
    }

    /// Forgets every partition of `topic`.
    pub fn drop_topic(&self, topic: &str) {
        let mut state = self.lock();
        let state = &mut *state;
        let ids: Vec<usize> = state
            .index
            .iter()
            .filter(|(t, _)| t.topic() == topic)
            .map(|(_, &id)| id)
            .collect();
        for id in ids {
            let (topition, partition) = &mut state.partitions[id];
            state.index.remove(topition);
            state.bytes -= partition.batches.iter().map(|s| s.size).sum::<u64>();
            partition.batches = VecDeque::new();
            partition.live = false;
            state.sequences.retain(|(_, p), _| *p != id);
        }
    }

    pub fn stats(&self) -> LogStats {
        let state = self.lock();
        LogStats {
            bytes: state.bytes,
            batches: state
                .partitions
                .iter()
                .filter(|(_, p)| p.live)
                .map(|(_, p)| p.batches.len().sat_u64())
                .sum(),
            dropped_batches: state.dropped_batches,
            dropped_bytes: state.dropped_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(records: i32, data: usize) -> Batch {
        Batch {
            base_offset: 0,
            batch_length: 49 + data.sat_i32(),
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: records - 1,
            base_timestamp: 1_000,
            max_timestamp: 1_000,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            record_count: records.sat_u32(),
            record_data: Bytes::from(vec![7u8; data]),
        }
    }

    fn tp(topic: &str, p: i32) -> Topition {
        Topition::new(topic, p)
    }

    #[test]
    fn offsets_are_assigned_per_partition_and_fetch_finds_the_batch_holding_an_offset() {
        let log = MemoryLog::new(Retention::UNBOUNDED);
        assert_eq!(log.append(&tp("a", 0), batch(3, 10)), Ok(0));
        assert_eq!(log.append(&tp("a", 0), batch(2, 10)), Ok(3));
        assert_eq!(log.append(&tp("a", 1), batch(1, 10)), Ok(0));
        assert_eq!(log.offsets(&tp("a", 0)), Offsets { log_start: 0, high: 5 });
        let from_4: Vec<i64> = log
            .fetch(&tp("a", 0), 4, 1 << 20)
            .iter()
            .map(|b| b.base_offset)
            .collect();
        assert_eq!(from_4, vec![3]);
        let from_1: Vec<i64> = log
            .fetch(&tp("a", 0), 1, 1 << 20)
            .iter()
            .map(|b| b.base_offset)
            .collect();
        assert_eq!(from_1, vec![0, 3]);
        assert!(log.fetch(&tp("a", 0), 5, 1 << 20).is_empty());
        assert!(log.fetch(&tp("b", 0), 0, 1 << 20).is_empty());
        // A small budget still returns one batch.
        assert_eq!(log.fetch(&tp("a", 0), 0, 1).len(), 1);
    }

    #[test]
    fn the_size_bound_drops_the_oldest_batches_of_any_partition() {
        let one = size_of(&batch(1, 1000));
        let log = MemoryLog::new(Retention {
            max_bytes: Some(one * 3),
            max_age: None,
        });
        for i in 0..10 {
            log.append(&tp("t", i % 2), batch(1, 1000)).unwrap();
        }
        let stats = log.stats();
        assert_eq!(stats.batches, 3);
        assert!(stats.bytes <= one * 3);
        assert_eq!(stats.dropped_batches, 7);
        // Partition 0 got batches 0,2,4,6,8 (offsets 0..5); only offset 4 is kept.
        assert_eq!(log.offsets(&tp("t", 0)), Offsets { log_start: 4, high: 5 });
        assert_eq!(log.offsets(&tp("t", 1)), Offsets { log_start: 3, high: 5 });
        // Reading from before the log start reads from the log start.
        let kept: Vec<i64> = log
            .fetch(&tp("t", 0), 0, 1 << 20)
            .iter()
            .map(|b| b.base_offset)
            .collect();
        assert_eq!(kept, vec![4]);
    }

    #[test]
    fn the_age_bound_drops_what_was_appended_too_long_ago() {
        let log = MemoryLog::new(Retention {
            max_bytes: None,
            max_age: Some(Duration::from_secs(60)),
        });
        let start = Instant::now();
        for i in 0..5u64 {
            log.append_at(&tp("t", 0), &mut batch(1, 10), start + Duration::from_secs(i * 30))
                .unwrap();
        }
        // At t = 120 s, the batches of t = 0 and 30 s are older than 60 s.
        assert_eq!(log.offsets(&tp("t", 0)), Offsets { log_start: 2, high: 5 });
    }

    #[test]
    fn idempotent_batches_are_checked_for_duplicates_and_gaps() {
        let log = MemoryLog::new(Retention::UNBOUNDED);
        let idem = |seq: i32, epoch: i16| Batch {
            producer_id: 9,
            producer_epoch: epoch,
            base_sequence: seq,
            ..batch(2, 10)
        };
        assert_eq!(log.append(&tp("t", 0), idem(0, 0)), Ok(0));
        assert_eq!(
            log.append(&tp("t", 0), idem(0, 0)),
            Err(ErrorCode::DuplicateSequenceNumber)
        );
        assert_eq!(
            log.append(&tp("t", 0), idem(5, 0)),
            Err(ErrorCode::OutOfOrderSequenceNumber)
        );
        assert_eq!(log.append(&tp("t", 0), idem(2, 0)), Ok(2));
        assert_eq!(log.append(&tp("t", 0), idem(0, 1)), Ok(4));
        assert_eq!(log.append(&tp("t", 0), idem(4, 0)), Err(ErrorCode::ProducerFenced));
    }

    #[test]
    fn deleted_records_and_topics_leave_the_accounting_right() {
        let log = MemoryLog::new(Retention::UNBOUNDED);
        for _ in 0..4 {
            log.append(&tp("t", 0), batch(2, 100)).unwrap();
            log.append(&tp("u", 0), batch(1, 100)).unwrap();
        }
        assert_eq!(log.delete_before(&tp("t", 0), 3), Some(3));
        assert_eq!(log.offsets(&tp("t", 0)), Offsets { log_start: 3, high: 8 });
        assert_eq!(log.fetch(&tp("t", 0), 0, 1 << 20)[0].base_offset, 2);
        assert_eq!(log.delete_before(&tp("t", 0), -1), Some(8));
        assert!(log.fetch(&tp("t", 0), 0, 1 << 20).is_empty());
        assert_eq!(log.delete_before(&tp("nope", 0), 1), None);
        log.drop_topic("u");
        assert_eq!(log.stats().bytes, 0);
        assert_eq!(log.stats().batches, 0);
        // A topic made again starts from offset 0.
        assert_eq!(log.append(&tp("u", 0), batch(1, 100)), Ok(0));
        assert_eq!(log.stats().batches, 1);
    }

    #[test]
    fn a_timestamp_lookup_finds_the_first_batch_at_or_after_it() {
        let log = MemoryLog::new(Retention::UNBOUNDED);
        for ts in [1_000, 2_000, 3_000] {
            let b = Batch {
                max_timestamp: ts,
                ..batch(1, 10)
            };
            log.append(&tp("t", 0), b).unwrap();
        }
        let at = |ms: u64| SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        assert_eq!(log.offset_for_time(&tp("t", 0), at(1_500)), 1);
        assert_eq!(log.offset_for_time(&tp("t", 0), at(9_000)), 3);
    }
}
