//! A writer for scenarios tagged `@expected-failure`: their last step
//! failing is what they are for (a suite catching a planted bug), so it is
//! reported as passed, with what it caught logged beside it. A tagged
//! scenario whose steps all pass fails, because the bug went unnoticed;
//! one that fails earlier (the service did not start, say) fails as usual. It sits inside cucumber's normalizer, before the console,
//! JUnit and JSON writers, so all of them report the same outcome.

use std::collections::HashMap;
use std::sync::Arc;

use cucumber::event::{Cucumber, Feature, RetryableScenario, Rule, Scenario, Source, Step, StepError};
use cucumber::{Event, World, Writer, parser, writer};

/// The tag that marks a scenario expected to fail.
pub const TAG: &str = "expected-failure";

/// Wraps `writer`; see the module docs.
#[derive(Debug)]
pub struct ExpectFailure<Wr> {
    writer: Wr,
    /// Per tagged scenario: what its steps did so far.
    scenarios: HashMap<usize, Seen>,
}

/// What the steps of a tagged scenario did.
#[derive(Debug, Default)]
struct Seen {
    /// The last step failed, as the tag says it should.
    caught: bool,
    /// A step before the last failed (or was skipped), so the last never ran.
    failed_early: bool,
    last: Option<Source<cucumber::gherkin::Step>>,
}

impl<Wr> ExpectFailure<Wr> {
    pub fn new(writer: Wr) -> Self {
        ExpectFailure {
            writer,
            scenarios: HashMap::new(),
        }
    }
}

fn tagged(
    f: &cucumber::gherkin::Feature,
    r: Option<&cucumber::gherkin::Rule>,
    sc: &cucumber::gherkin::Scenario,
) -> bool {
    let tags = f.tags.iter().chain(r.into_iter().flat_map(|r| &r.tags)).chain(&sc.tags);
    tags.map(|t| t.trim_start_matches('@')).any(|t| t == TAG)
}

type Parts<W> = (
    Source<cucumber::gherkin::Feature>,
    Option<Source<cucumber::gherkin::Rule>>,
    Source<cucumber::gherkin::Scenario>,
    RetryableScenario<W>,
);

/// Splits a scenario event into its parts; other events come back as they were.
fn split<W>(ev: Cucumber<W>) -> Result<Parts<W>, Box<Cucumber<W>>> {
    match ev {
        Cucumber::Feature(f, Feature::Scenario(sc, e)) => Ok((f, None, sc, e)),
        Cucumber::Feature(f, Feature::Rule(r, Rule::Scenario(sc, e))) => Ok((f, Some(r), sc, e)),
        other => Err(Box::new(other)),
    }
}

impl<W, Wr> Writer<W> for ExpectFailure<Wr>
where
    W: World,
    Wr: Writer<W>,
{
    type Cli = Wr::Cli;

    async fn handle_event(&mut self, event: parser::Result<Event<Cucumber<W>>>, cli: &Self::Cli) {
        let Ok(event) = event else {
            return self.writer.handle_event(event, cli).await;
        };
        let (value, meta) = event.split();
        let (f, r, sc, e) = match split(value) {
            Ok(parts) => parts,
            Err(other) => return self.writer.handle_event(Ok(meta.insert(*other)), cli).await,
        };
        if !tagged(&f, r.as_deref(), &sc) {
            let value = Cucumber::scenario(f, r, sc, e);
            return self.writer.handle_event(Ok(meta.insert(value)), cli).await;
        }
        let id = std::ptr::from_ref::<cucumber::gherkin::Scenario>(&sc).addr();
        let retries = e.retries;
        let send = |ev: Scenario<W>| {
            Ok(Event::new(Cucumber::scenario(
                f.clone(),
                r.clone(),
                sc.clone(),
                ev.with_retries(retries),
            )))
        };
        match e.event {
            Scenario::Step(step, Step::Failed(Some(captures), location, _, error))
                if sc.steps.last().is_some_and(|last| last.position == step.position) =>
            {
                self.scenarios.entry(id).or_default().caught = true;
                let text = error.to_string();
                let mut lines: Vec<&str> = text.lines().take(6).collect();
                if text.lines().count() > lines.len() {
                    lines.push("…");
                }
                let caught = format!("expected failure, caught: {}\n", lines.join("\n"));
                self.writer.handle_event(send(Scenario::Log(caught)), cli).await;
                self.writer
                    .handle_event(send(Scenario::Step(step, Step::Passed(captures, location))), cli)
                    .await;
            }
            Scenario::Finished => {
                let seen = self.scenarios.remove(&id).unwrap_or_default();
                if seen.failed_early {
                    // The scenario failed on that step: say why it is not the expected failure.
                    let note = format!(
                        "expected failure: a step before the last failed, so the failure the @{TAG} tag expects of the last step was never reached\n"
                    );
                    self.writer.handle_event(send(Scenario::Log(note)), cli).await;
                } else if !seen.caught
                    && let Some(last) = seen.last
                {
                    let mut step = (*last).clone();
                    step.keyword = "Then ".into();
                    step.value = format!("a step fails, as the @{TAG} tag says");
                    let step = Source::new(step);
                    let error = StepError::Panic(Arc::new(format!(
                        "the scenario is tagged @{TAG}, and every step passed: the bug it plants went unnoticed"
                    )));
                    self.writer
                        .handle_event(send(Scenario::Step(step.clone(), Step::Started)), cli)
                        .await;
                    self.writer
                        .handle_event(send(Scenario::Step(step, Step::Failed(None, None, None, error))), cli)
                        .await;
                }
                self.writer.handle_event(send(Scenario::Finished), cli).await;
            }
            other => {
                if let Scenario::Step(step, event) = &other {
                    let seen = self.scenarios.entry(id).or_default();
                    seen.last = Some(step.clone());
                    if matches!(event, Step::Failed(..) | Step::Skipped) {
                        seen.failed_early = true;
                    }
                }
                self.writer.handle_event(send(other), cli).await;
            }
        }
    }
}

impl<W, Wr, Val> writer::Arbitrary<W, Val> for ExpectFailure<Wr>
where
    W: World,
    Self: Writer<W>,
    Wr: writer::Arbitrary<W, Val>,
{
    async fn write(&mut self, val: Val) {
        self.writer.write(val).await;
    }
}

impl<W, Wr> writer::Stats<W> for ExpectFailure<Wr>
where
    Wr: writer::Stats<W>,
    Self: Writer<W>,
{
    fn passed_steps(&self) -> usize {
        self.writer.passed_steps()
    }
    fn skipped_steps(&self) -> usize {
        self.writer.skipped_steps()
    }
    fn failed_steps(&self) -> usize {
        self.writer.failed_steps()
    }
    fn retried_steps(&self) -> usize {
        self.writer.retried_steps()
    }
    fn parsing_errors(&self) -> usize {
        self.writer.parsing_errors()
    }
    fn hook_errors(&self) -> usize {
        self.writer.hook_errors()
    }
    fn execution_has_failed(&self) -> bool {
        self.writer.execution_has_failed()
    }
}
