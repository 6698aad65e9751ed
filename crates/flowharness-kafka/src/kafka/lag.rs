//! A consumer group's lag on a topic: how far a service under test is from
//! having processed everything, so "has my service caught up" can be
//! asserted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};

use super::cluster::Cluster;
use super::observer::end_offsets;
use crate::error::Result;

/// Per partition: the end offset minus the group's committed offset (the
/// whole partition when the group committed nothing), never below zero.
pub fn group_lag(cluster: &Cluster, group: &str, topic: &str) -> Result<BTreeMap<i32, i64>> {
    let consumer = cluster.consumer(group, &[])?;
    let ends = end_offsets(cluster, topic)?;
    let mut partitions = TopicPartitionList::new();
    for (p, _) in &ends {
        partitions.add_partition(topic, *p);
    }
    let committed = consumer
        .committed_offsets(partitions, cluster.timeout)
        .map_err(|e| cluster.error(&format!("committed offsets of group {group}"), e))?;
    Ok(ends
        .iter()
        .map(|(p, end)| {
            let at = committed.find_partition(topic, *p).map(|e| e.offset());
            let done = match at {
                Some(Offset::Offset(n)) => n,
                _ => 0,
            };
            (*p, (end - done).max(0))
        })
        .collect())
}

/// Waits until the group's total lag on `topic` is zero; the last lag seen
/// when it is not within `within`.
pub fn wait_for_zero_lag(
    cluster: &Cluster,
    group: &str,
    topic: &str,
    within: Duration,
) -> Result<std::result::Result<(), i64>> {
    let every = Duration::from_millis(200);
    Ok(
        match wait_until_caught_up(cluster, group, topic, within, every, &mut || None)? {
            Waited::CaughtUp => Ok(()),
            Waited::Lagging(lag) | Waited::Stopped(_, lag) => Err(lag),
        },
    )
}

/// How waiting for a consumer group ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waited {
    CaughtUp,
    /// Still this far behind when the time was up.
    Lagging(i64),
    /// The consumer stopped first (what `stopped` said), this far behind.
    Stopped(String, i64),
}

/// Waits until the group's total lag on `topic` is zero, checking every
/// `every`, for at most `within`; `stopped` says when the consumer is gone
/// (its process exited), so waiting on is pointless.
pub fn wait_until_caught_up(
    cluster: &Cluster,
    group: &str,
    topic: &str,
    within: Duration,
    every: Duration,
    stopped: &mut dyn FnMut() -> Option<String>,
) -> Result<Waited> {
    let deadline = Instant::now() + within;
    loop {
        let total: i64 = group_lag(cluster, group, topic)?.values().sum();
        if total == 0 {
            return Ok(Waited::CaughtUp);
        }
        if let Some(why) = stopped() {
            return Ok(Waited::Stopped(why, total));
        }
        if Instant::now() >= deadline {
            return Ok(Waited::Lagging(total));
        }
        std::thread::sleep(every);
    }
}

/// Reads `topic` in consumer group `group` and commits what it read, until
/// nothing more arrives for a second (or `within` passes): a stand-in for
/// a service that keeps up. Returns how many messages it read.
pub fn consume_and_commit(cluster: &Cluster, group: &str, topic: &str, within: Duration) -> Result<u64> {
    let consumer = cluster.consumer(group, &[])?;
    consumer
        .subscribe(&[topic])
        .map_err(|e| cluster.error(&format!("subscribe to {topic}"), e))?;
    let deadline = Instant::now() + within;
    let mut read = 0;
    let mut last = Instant::now();
    while Instant::now() < deadline && (read == 0 || last.elapsed() < Duration::from_secs(1)) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(_)) => {
                read += 1;
                last = Instant::now();
            }
            Some(Err(e)) => tracing::warn!("group {group}: {e}"),
            None => {}
        }
    }
    if read > 0 {
        consumer
            .commit_consumer_state(rdkafka::consumer::CommitMode::Sync)
            .map_err(|e| cluster.error(&format!("group {group}: commit"), e))?;
    }
    Ok(read)
}

/// The group's total lag on `topic`, about once a second until `stop`:
/// (seconds since `origin`, lag). A failed sample is left out.
pub fn sample_lag(cluster: &Cluster, group: &str, topic: &str, origin: Instant, stop: &AtomicBool) -> Vec<(f64, i64)> {
    let mut samples = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let began = Instant::now();
        if let Ok(lag) = group_lag(cluster, group, topic) {
            samples.push((origin.elapsed().as_secs_f64(), lag.values().sum()));
        }
        let rest = Duration::from_secs(1).saturating_sub(began.elapsed());
        let until = Instant::now() + rest;
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    samples
}
