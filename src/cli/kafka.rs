//! `flowharness up`, `produce` and `verify --topic`: the commands that talk
//! to a broker (the embedded one unless told otherwise).

use std::io::Write;
use std::time::Duration;

use super::commands::{FINDINGS, OK, stdio};
use super::flows::write_report;
use super::{BrokerArgs, ConnectArgs, ProduceArgs, RegistryArgs, UpArgs, VerifyArgs};
use crate::error::{Error, Result};
use crate::fixture::Fixture;
use crate::flow::FlowSpec;
use crate::flow::checker::{CheckOptions, Checker};
use crate::flow::generator::{FlowGenerator, FlowOptions, Mix};
use crate::generate::time::parse_duration_ms;
use crate::kafka::observer::{self, Decoder, ObserveOptions};
use crate::kafka::producer::ProducerOptions;
use crate::kafka::retention::{BrokerStore, Retention};
use crate::kafka::{Connect, Environment};
use crate::verify::{ProduceRun, RunReport, entry_messages, flow_message, produce_stream};

pub(super) fn duration(flag: &str, text: &str) -> Result<Duration> {
    let ms = parse_duration_ms(text).map_err(|e| Error::Usage(format!("{flag}: {e}")))?;
    u64::try_from(ms)
        .map(Duration::from_millis)
        .map_err(|_| Error::Usage(format!("{flag}: must not be negative")))
}

pub(super) fn connect(args: &ConnectArgs, err: &mut dyn Write) -> Result<Environment> {
    Environment::connect(&connection(args, err)?)
}

/// What `args` ask to connect to; warns when the embedded pair will be
/// reachable from other machines.
fn connection(args: &ConnectArgs, err: &mut dyn Write) -> Result<Connect> {
    let mut properties = args.property.clone();
    if let Some(path) = &args.properties {
        properties.extend(crate::error::read_to_string(path)?.lines().map(str::to_string));
    }
    let listen = args.listen.filter(|ip| !ip.is_loopback());
    let c = Connect {
        bootstrap: args.bootstrap_servers.clone(),
        properties,
        registry_url: args.registry_url.clone(),
        registry_auth: args.registry_auth.clone(),
        timeout: Some(duration("--connect-timeout", &args.connect_timeout)?),
        listen: args.listen,
        containers: args.containers.options(),
        retention: args.retention.as_deref().map(Retention::parse).transpose()?,
        ..Connect::default()
    };
    if let Some(ip) = listen {
        writeln!(
            err,
            "warning: listening on {ip}: the embedded broker and registry are reachable from other machines"
        )
        .map_err(stdio)?;
    }
    Ok(c)
}

/// What the embedded broker keeps: `--retention` in memory, or a
/// `--data-dir`, where retention is the topics' own.
fn store(retention: Option<&str>, data_dir: Option<&std::path::PathBuf>) -> Result<BrokerStore> {
    if let (Some(r), Some(d)) = (retention, data_dir) {
        return Err(Error::Usage(format!(
            "--retention {r} with --data-dir {}: --retention bounds the in-memory log; in a data directory \
             records go by each topic's retention.ms (with cleanup.policy=delete)",
            d.display()
        )));
    }
    Ok(BrokerStore {
        retention: retention.map(Retention::parse).transpose()?.unwrap_or_default(),
        data_dir: data_dir.cloned(),
    })
}

fn kept(store: &BrokerStore) -> String {
    match &store.data_dir {
        Some(d) => format!("data in {} (kept across restarts)", d.display()),
        None => format!("retention {} in memory", store.retention),
    }
}

/// Waits for SIGINT or SIGTERM.
fn until_signalled(what: &str) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::system(format!("{what}: a signal handler"), e))?;
    rt.block_on(async {
        let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    });
    Ok(())
}

/// `flowharness broker`: the embedded broker alone, until SIGINT or SIGTERM.
pub(super) fn broker(args: &BrokerArgs, err: &mut dyn Write) -> Result<i32> {
    let store = store(args.retention.as_deref(), args.data_dir.as_ref())?;
    let broker =
        crate::kafka::embedded::EmbeddedBroker::start(args.listen, args.advertised_listener.as_deref(), &store)?;
    writeln!(
        err,
        "broker listening on {}, advertised as {}, {}",
        args.listen,
        args.advertised_listener.clone().unwrap_or_else(|| broker.bootstrap()),
        kept(&store)
    )
    .map_err(stdio)?;
    until_signalled("broker")?;
    writeln!(err, "broker stopping").map_err(stdio)?;
    broker.stop();
    Ok(OK)
}

/// `flowharness registry`: the embedded schema registry alone, until
/// SIGINT or SIGTERM.
pub(super) fn registry(args: &RegistryArgs, err: &mut dyn Write) -> Result<i32> {
    let registry = crate::registry::EmbeddedRegistry::start(args.listen)?;
    writeln!(err, "registry listening on {}", registry.addr()).map_err(stdio)?;
    until_signalled("registry")?;
    writeln!(err, "registry stopping").map_err(stdio)?;
    drop(registry);
    Ok(OK)
}

pub(super) fn up(args: &UpArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32> {
    let mut c = connection(&args.connect, err)?;
    c.broker_port = args.broker_port;
    c.registry_port = args.registry_port;
    c.advertised_host.clone_from(&args.advertised_host);
    let store = store(args.connect.retention.as_deref(), args.data_dir.as_ref())?;
    c.data_dir = store.data_dir.clone();
    let env = Environment::connect(&c)?;
    for t in &args.topics {
        let (name, partitions) = match t.split_once(':') {
            Some((n, p)) => (
                n,
                p.parse::<i32>()
                    .map_err(|_| Error::Usage(format!("--topic {t}: partitions must be a number")))?,
            ),
            None => (t.as_str(), 3),
        };
        env.cluster.create_topic(name, partitions)?;
    }
    let registry = match &args.advertised_host {
        Some(host) => {
            let mut url =
                url::Url::parse(&env.registry_url()).map_err(|e| Error::Usage(format!("registry url: {e}")))?;
            url.set_host(Some(host))
                .map_err(|e| Error::Usage(format!("--advertised-host {host}: {e}")))?;
            url.to_string().trim_end_matches('/').to_string()
        }
        None => env.registry_url(),
    };
    writeln!(out, "broker:   {}", env.cluster.bootstrap).map_err(stdio)?;
    writeln!(out, "registry: {registry}").map_err(stdio)?;
    if env.broker().kind() == "embedded" {
        writeln!(out, "kept:     {}", kept(&store)).map_err(stdio)?;
    }
    writeln!(out, "export KAFKA_BOOTSTRAP_SERVERS={}", env.cluster.bootstrap).map_err(stdio)?;
    writeln!(out, "export SCHEMA_REGISTRY_URL={registry}").map_err(stdio)?;
    out.flush().map_err(stdio)?;
    match &args.run_for {
        Some(d) => std::thread::sleep(duration("--for", d)?),
        None => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
    }
    Ok(OK)
}

/// The topics a fixture writes to, in the order it names them, with the
/// schema of the first entry on each, and the highest partition named:
/// a first pass over the file, keeping no messages.
type Topics = Vec<(String, crate::schema::Schema)>;

fn fixture_topics(path: &std::path::Path) -> Result<(Topics, i32)> {
    let mut topics: Topics = Vec::new();
    let mut highest = 0;
    Fixture::visit(path, &mut |entry| {
        highest = highest.max(entry.partition.unwrap_or(0));
        if !topics.iter().any(|(t, _)| *t == entry.topic) {
            topics.push((entry.topic.clone(), (*entry.schema).clone()));
        }
    })?;
    if topics.is_empty() {
        return Err(Error::Usage(format!("{}: no entries", path.display())));
    }
    Ok((topics, highest))
}

pub(super) fn produce(args: &ProduceArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32> {
    let spec: Option<FlowSpec> = args.flow.as_deref().map(crate::contract::resolve_flow).transpose()?;
    let producer = ProducerOptions {
        idempotent: !args.no_idempotence,
        acks: args.acks.clone(),
        linger_ms: args.linger_ms,
        compression: args.compression.clone(),
        batch_size: args.batch_size,
        ..ProducerOptions::default()
    };
    let strategy = args.subject_strategy.parse().map_err(Error::Usage)?;
    let timeout = duration("--timeout", &args.timeout)?;
    // What to send is made as it is sent (generated, or read from the
    // fixture a second time): nothing holds every message.
    let (mut topics, seed, partitions, generator) = match (&args.file, &spec) {
        (Some(file), _) => {
            let (topics, highest) = fixture_topics(file)?;
            (topics, None, args.partitions.unwrap_or(3).max(highest + 1), None)
        }
        (None, Some(spec)) => {
            let mix = match &args.mix {
                Some(m) => Mix::parse(spec, m)?,
                None => Mix::uniform(spec),
            };
            let (hints, seed) = super::sample::setup(&args.generate, err)?;
            let options = FlowOptions {
                flows: args.flows,
                mix,
                hints,
                jitter: 0.5,
                time_scale: 1.0,
            };
            let generator = FlowGenerator::new(spec, options)?;
            let topics = spec
                .channels()
                .iter()
                .map(|c| (c.topic.clone(), c.schema.clone()))
                .collect();
            let partitions = args.partitions.or_else(|| spec.partitions()).unwrap_or(3);
            (topics, Some(seed), partitions, Some(generator))
        }
        (None, None) => return Err(Error::Usage("produce needs --flow (to generate) or --file".into())),
    };
    let fixture_topics: Vec<String> = topics.iter().map(|(t, _)| t.clone()).collect();
    if let Some(t) = &args.topic {
        if topics.len() > 1 {
            return Err(Error::Usage(format!(
                "--topic {t}: this run writes to {} topics ({}); their names come from the flow or the fixture",
                topics.len(),
                topics.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        topics[0].0.clone_from(t);
    }
    let mut topics = topics.into_iter();
    let Some((topic, schema)) = topics.next() else {
        return Err(Error::Usage("nothing to produce".into()));
    };
    let others: Vec<(String, crate::schema::Schema)> = topics.collect();
    for (t, _) in &others {
        if !crate::fixture::valid_topic(t) {
            return Err(Error::Usage(format!("invalid topic name {t:?}")));
        }
    }
    if !crate::fixture::valid_topic(&topic) {
        return Err(Error::Usage(format!("invalid topic name {topic:?}")));
    }
    let env = connect(&args.connect, err)?;
    let run = ProduceRun {
        topic: topic.clone(),
        partitions,
        schema,
        others,
        messages: Vec::new(),
        seed,
        strategy,
        producer,
        observe_timeout: timeout,
        keep_observed: false,
    };
    let report = produce_stream(&env, &run, spec.as_ref(), CheckOptions::default(), &mut |send| match (
        &generator, &spec, &args.file,
    ) {
        (Some(g), Some(spec), _) => g
            .generate_into(seed.unwrap_or_default(), &mut |k| send(flow_message(spec, k)))
            .map(|_| ()),
        (_, _, Some(file)) => {
            let mut failed = None;
            Fixture::visit(file, &mut |entry| {
                if failed.is_some() {
                    return;
                }
                let channel = fixture_topics.iter().position(|t| *t == entry.topic).unwrap_or(0);
                if let Err(e) = entry_messages(entry, channel, send) {
                    failed = Some(e);
                }
            })?;
            failed.map_or(Ok(()), Err)
        }
        _ => Ok(()),
    })?;
    let names: Vec<&str> = std::iter::once(topic.as_str())
        .chain(run.others.iter().map(|(t, _)| t.as_str()))
        .collect();
    write_run(&report, &names.join(", "), out)?;
    if let Some(path) = &args.junit {
        crate::report::junit::write(path, &format!("produce {topic}"), &report.check)?;
    }
    Ok(if report.failed() { FINDINGS } else { OK })
}

fn write_run(r: &RunReport, topic: &str, out: &mut dyn Write) -> Result<()> {
    let d = &r.delivery;
    writeln!(
        out,
        "produced {} to {topic} (acknowledged {}, failed {}), schema id {}",
        d.produced, d.acknowledged, d.failed, r.schema_id
    )
    .map_err(stdio)?;
    for f in &d.failures {
        writeln!(out, "delivery failure: {f}").map_err(stdio)?;
    }
    let parts: Vec<String> = if r.observation.per_topic.is_empty() {
        r.observation
            .per_partition
            .iter()
            .map(|(p, n)| format!("{p}: {n}"))
            .collect()
    } else {
        r.observation
            .per_topic
            .iter()
            .flat_map(|(t, parts)| parts.iter().map(move |(p, n)| format!("{t}/{p}: {n}")))
            .collect()
    };
    let timed_out = if r.observation.timed_out { ", timed out" } else { "" };
    writeln!(
        out,
        "observed {} ({}){timed_out}",
        r.observation.messages,
        parts.join(", ")
    )
    .map_err(stdio)?;
    write_report(&r.check, out)?;
    writeln!(out, "lost: {}", r.lost).map_err(stdio)?;
    writeln!(out, "duplicated: {}", r.duplicated).map_err(stdio)?;
    Ok(())
}

/// The topics `verify` reads, one per topic of the flow, in its order.
fn verify_topics(spec: &FlowSpec, args: &[String]) -> Result<Vec<String>> {
    if !spec.is_multi_topic() {
        return match args {
            [one] => Ok(vec![one.split_once('=').map_or(one.as_str(), |(_, a)| a).to_string()]),
            [] => Ok(vec![spec.topic().to_string()]),
            _ => Err(Error::Usage(format!(
                "flow {} lives on one topic: give one --topic",
                spec.name()
            ))),
        };
    }
    let mut actual: Vec<String> = spec.channels().iter().map(|c| c.topic.clone()).collect();
    for a in args {
        let (name, to) = a.split_once('=').unwrap_or((a, a));
        let Some(c) = spec.channel_of(name) else {
            let known: Vec<&str> = spec.channels().iter().map(|c| c.topic.as_str()).collect();
            return Err(Error::Usage(format!(
                "--topic {a}: flow {} has no topic {name:?} (topics: {}; read one from elsewhere with NAME=ACTUAL)",
                spec.name(),
                known.join(", ")
            )));
        };
        actual[c] = to.to_string();
    }
    Ok(actual)
}

/// The partitions `--partitions` or `--shard` give this instance, checked
/// against the partitions the topics have.
fn verify_partitions(args: &VerifyArgs, env: &Environment, topics: &[String]) -> Result<Option<Vec<i32>>> {
    if args.partitions.is_none() && args.shard.is_none() {
        return Ok(None);
    }
    let mut counts = Vec::with_capacity(topics.len());
    for t in topics {
        counts.push((t.as_str(), observer::end_offsets(&env.cluster, t)?.len()));
    }
    let most = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
    if let Some((t, n)) = counts.iter().find(|(_, n)| *n != most) {
        return Err(Error::Usage(format!(
            "--partitions/--shard: topic {t} has {n} partitions and another {most}; a flow's topics must be \
             partitioned alike for its keys to meet on one instance"
        )));
    }
    let all: Vec<i32> = (0..i32::try_from(most).unwrap_or(i32::MAX)).collect();
    let chosen = match (&args.partitions, &args.shard) {
        (Some(list), _) => {
            let chosen = crate::verify::parse_partitions(list)?;
            if let Some(p) = chosen.iter().find(|p| !all.contains(p)) {
                return Err(Error::Usage(format!(
                    "--partitions {list}: partition {p} does not exist ({} has {most})",
                    topics.join(", ")
                )));
            }
            chosen
        }
        (None, Some(shard)) => {
            let s = crate::load::Shard::parse(shard)?;
            all.into_iter()
                .filter(|p| u64::try_from(*p).is_ok_and(|p| p % s.count == s.index))
                .collect()
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(chosen))
}

pub(super) fn verify_topic(args: &VerifyArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32> {
    let spec = crate::contract::resolve_flow(&args.flow)?;
    let topics = verify_topics(&spec, &args.topic)?;
    let timeout = duration("--timeout", &args.timeout)?;
    let env = connect(&args.connect, err)?;
    let partitions = verify_partitions(args, &env, &topics)?;
    let mut reading = Vec::with_capacity(topics.len());
    for t in &topics {
        let start = if args.from_beginning {
            None
        } else {
            Some(observer::end_offsets(&env.cluster, t)?)
        };
        reading.push((t.as_str(), start));
    }
    let options = ObserveOptions {
        start: None,
        expected: None,
        until_end: args.from_beginning,
        timeout,
        run_id: None,
        partitions: partitions.clone(),
    };
    let decoder = Decoder {
        registry: env.registry.clone(),
    };
    let incomplete = args.incomplete.map(|l| {
        if l == super::IncompleteLevel::Error {
            crate::flow::Severity::Error
        } else {
            crate::flow::Severity::Warning
        }
    });
    let mut checker = Checker::new(
        &spec,
        CheckOptions {
            incomplete,
            time_scale: args.time_scale,
            topics: topics.clone(),
            partial: partitions.is_some(),
            dedupe_window: usize::try_from(args.window).unwrap_or(usize::MAX),
            ..CheckOptions::default()
        },
    );
    let topic = topics.join(", ");
    let observation = observer::observe_many(&env.cluster, &reading, &decoder, &options, &mut |o, _| {
        checker.observe(&o)
    })?;
    let report = checker.finish();
    let parts: Vec<String> = if observation.per_topic.is_empty() {
        observation
            .per_partition
            .iter()
            .map(|(p, n)| format!("{p}: {n}"))
            .collect()
    } else {
        observation
            .per_topic
            .iter()
            .flat_map(|(t, parts)| parts.iter().map(move |(p, n)| format!("{t}/{p}: {n}")))
            .collect()
    };
    let share = match &partitions {
        Some(p) => format!(
            " (partitions {} only)",
            p.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
        ),
        None => String::new(),
    };
    writeln!(
        out,
        "read {} from {topic}{share} ({})",
        observation.messages,
        parts.join(", ")
    )
    .map_err(stdio)?;
    write_report(&report, out)?;
    if let (Some(dir), true) = (&args.save_failures, report.errors > 0) {
        super::flows::save_violations(
            dir,
            &args.flow,
            &spec,
            ("flowharness verify", &topic),
            &crate::verify::keys_with_violations(&report),
            &mut |keys| crate::verify::read_keys(&env, &spec, &reading, keys, timeout),
            out,
        )?;
    }
    if let Some(path) = &args.junit {
        crate::report::junit::write(path, &format!("verify {topic} against {}", spec.name()), &report)?;
    }
    Ok(if report.errors > 0 { FINDINGS } else { OK })
}
