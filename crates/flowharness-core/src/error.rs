//! Errors of the library. Every error names where it happened: a file, an
//! entry, a message index, a field path or a step.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem found in a user's input, with the chain of places that lead
/// to it: `fixtures/x.json: entry "0": messages[3]: event.X.mpan: expected string, found null`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// From the outermost place (usually a file) to the innermost (a field path).
    pub location: Vec<String>,
    pub message: String,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic {
            location: Vec::new(),
            message: message.into(),
        }
    }

    /// Adds an outer place in front of the existing ones.
    pub fn within(mut self, place: impl Into<String>) -> Self {
        let place = place.into();
        if !place.is_empty() {
            self.location.insert(0, place);
        }
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for place in &self.location {
            write!(f, "{place}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Any error kept as the source of one of ours.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The library's error type: one variant per failure domain. Bad input
/// (`Io`, `Invalid`, `Usage`) and a service or system that failed
/// (`Unreachable`, `System`) exit 2 with messages of their own, a bug in
/// flowharness (`Internal`) exits 70; findings are not errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file that could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// One or more problems in user input, each with its own location.
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
    /// A command line, option or request that cannot be carried out as
    /// given: a bad flag value, a name that does not exist, a run that has
    /// nothing to do.
    #[error("{0}")]
    Usage(String),
    /// A broker, registry, container engine or other service that did not
    /// answer or failed: `what` says which and at what address.
    #[error("{what}{}", suffix(.source.as_deref()))]
    Unreachable {
        what: String,
        #[source]
        source: Option<BoxError>,
    },
    /// The operating system refused: no free port, no thread, a child
    /// process that could not start.
    #[error("{what}: {source}")]
    System {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A bug in flowharness (a thread that panicked, a value of our own
    /// that would not serialize): its own exit code and a request for a
    /// report.
    #[error("internal error: {what}{} (a bug in flowharness: please report it with the command that ran)", suffix(.source.as_deref()))]
    Internal {
        what: String,
        #[source]
        source: Option<BoxError>,
    },
}

fn suffix(source: Option<&(dyn std::error::Error + Send + Sync + 'static)>) -> String {
    source.map(|e| format!(": {e}")).unwrap_or_default()
}

fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn invalid(diagnostic: Diagnostic) -> Self {
        Error::Invalid(vec![diagnostic])
    }

    /// A service that failed, with what it said.
    pub fn unreachable(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Unreachable {
            what: what.into(),
            source: Some(source.into()),
        }
    }

    /// A service that did not answer, with nothing more to say than `what`.
    pub fn unanswered(what: impl Into<String>) -> Self {
        Error::Unreachable {
            what: what.into(),
            source: None,
        }
    }

    /// The operating system refused `what`.
    pub fn system(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::System {
            what: what.into(),
            source,
        }
    }

    /// A bug: `what` went wrong where it cannot.
    pub fn internal(what: impl Into<String>) -> Self {
        Error::Internal {
            what: what.into(),
            source: None,
        }
    }

    /// A bug, with the error that showed it.
    pub fn internal_from(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Internal {
            what: what.into(),
            source: Some(source.into()),
        }
    }

    /// Prefixes every diagnostic with an outer place (e.g. the file name).
    #[must_use]
    pub fn within(self, place: &str) -> Self {
        match self {
            Error::Invalid(list) => Error::Invalid(list.into_iter().map(|d| d.within(place)).collect()),
            Error::Usage(message) => Error::Usage(format!("{place}: {message}")),
            Error::Unreachable { what, source } => Error::Unreachable {
                what: format!("{place}: {what}"),
                source,
            },
            Error::System { what, source } => Error::System {
                what: format!("{place}: {what}"),
                source,
            },
            other => other,
        }
    }

    /// The diagnostics this error carries (one synthesized for I/O errors).
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Error::Invalid(list) => list.clone(),
            other => vec![Diagnostic::new(other.to_string())],
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Reads a whole file, naming it in the error.
pub fn read_to_string(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

/// Parses JSON text, turning a syntax error into a diagnostic with line and column.
pub fn parse_json(text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| {
        Error::invalid(Diagnostic::new(format!(
            "line {} column {}: invalid JSON: {}",
            e.line(),
            e.column(),
            strip_position(&e.to_string())
        )))
    })
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}
