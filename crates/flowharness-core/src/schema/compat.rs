//! Avro schema compatibility with Confluent's semantics, which are those of
//! Avro Java's `SchemaCompatibility`:
//!
//! - names are compared unqualified, so a namespace change is compatible,
//!   and a reader's aliases (full names) may name the writer's type;
//! - reader fields are matched to writer fields by name, then by the
//!   reader field's aliases; a reader field the writer lacks needs a default;
//! - numeric promotions int→long→float→double and string↔bytes;
//! - every writer union branch must be readable by the reader; a reader
//!   union reads a non-union writer if any branch can. Where none can but
//!   one is meant to (same name), the reasons inside it are reported rather
//!   than a bare MISSING_UNION_BRANCH;
//! - logical types are ignored, as Confluent does;
//! - a named type shared by several fields is checked once per pair of
//!   reader and writer types, so recursion terminates and a change inside a
//!   shared record is always a full answer, never "partial".

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use super::avro::{AvroSchema, Name, Node, NodeId};

/// Confluent's compatibility levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    None,
    Backward,
    Forward,
    Full,
    BackwardTransitive,
    ForwardTransitive,
    FullTransitive,
}

impl Mode {
    pub const ALL: [Mode; 7] = [
        Mode::None,
        Mode::Backward,
        Mode::Forward,
        Mode::Full,
        Mode::BackwardTransitive,
        Mode::ForwardTransitive,
        Mode::FullTransitive,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::None => "NONE",
            Mode::Backward => "BACKWARD",
            Mode::Forward => "FORWARD",
            Mode::Full => "FULL",
            Mode::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Mode::ForwardTransitive => "FORWARD_TRANSITIVE",
            Mode::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    fn transitive(&self) -> bool {
        matches!(
            self,
            Mode::BackwardTransitive | Mode::ForwardTransitive | Mode::FullTransitive
        )
    }

    /// Runs the checks this mode asks for against `n` earlier versions
    /// (oldest first): every one for the transitive modes, else the
    /// latest; `compare(version, true)` where the new version must read
    /// the earlier one (`backward`), `compare(version, false)` where the
    /// earlier one must read the new (`forward`). What each finds is
    /// tagged with its version and direction. Avro's and Protobuf's
    /// checks share this.
    pub fn checks<T>(&self, n: usize, mut compare: impl FnMut(usize, bool) -> Vec<T>) -> Vec<(usize, &'static str, T)> {
        let against: Vec<usize> = match (self, n) {
            (Mode::None, _) | (_, 0) => Vec::new(),
            (m, n) if m.transitive() => (0..n).collect(),
            (_, n) => vec![n - 1],
        };
        let mut found = Vec::new();
        for version in against {
            if self.backward() {
                found.extend(compare(version, true).into_iter().map(|t| (version, "backward", t)));
            }
            if self.forward() {
                found.extend(compare(version, false).into_iter().map(|t| (version, "forward", t)));
            }
        }
        found
    }

    /// Whether the new version must read the earlier ones.
    fn backward(&self) -> bool {
        matches!(
            self,
            Mode::Backward | Mode::BackwardTransitive | Mode::Full | Mode::FullTransitive
        )
    }

    /// Whether the earlier versions must read the new one.
    fn forward(&self) -> bool {
        matches!(
            self,
            Mode::Forward | Mode::ForwardTransitive | Mode::Full | Mode::FullTransitive
        )
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_uppercase().replace('-', "_");
        Mode::ALL.into_iter().find(|m| m.as_str() == wanted).ok_or_else(|| {
            let names: Vec<String> = Mode::ALL
                .iter()
                .map(|m| m.as_str().to_ascii_lowercase().replace('_', "-"))
                .collect();
            format!("unknown compatibility mode {s:?}, expected one of {}", names.join(", "))
        })
    }
}

/// Avro Java's incompatibility types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    NameMismatch,
    FixedSizeMismatch,
    MissingEnumSymbols,
    ReaderFieldMissingDefaultValue,
    TypeMismatch,
    MissingUnionBranch,
}

impl Kind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::NameMismatch => "NAME_MISMATCH",
            Kind::FixedSizeMismatch => "FIXED_SIZE_MISMATCH",
            Kind::MissingEnumSymbols => "MISSING_ENUM_SYMBOLS",
            Kind::ReaderFieldMissingDefaultValue => "READER_FIELD_MISSING_DEFAULT_VALUE",
            Kind::TypeMismatch => "TYPE_MISMATCH",
            Kind::MissingUnionBranch => "MISSING_UNION_BRANCH",
        }
    }
}

/// One reason a reader cannot read a writer's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incompatibility {
    pub kind: Kind,
    /// Field path in the reader's terms, `(root)` for the top.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.path, self.kind.as_str(), self.message)
    }
}

/// An incompatibility found when checking the new schema against one
/// earlier version, in one direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Index of the earlier version in the list given (0 = oldest).
    pub version: usize,
    /// `backward` (new reads old) or `forward` (old reads new).
    pub direction: &'static str,
    pub incompatibility: Incompatibility,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} against version {}: {}",
            self.direction,
            self.version + 1,
            self.incompatibility
        )
    }
}

/// Checks `new` against earlier versions `previous` (oldest first) under
/// `mode`: the transitive modes check every earlier version, the others
/// only the latest. Empty when compatible.
pub fn check(mode: Mode, new: &AvroSchema, previous: &[AvroSchema]) -> Vec<Finding> {
    mode.checks(previous.len(), |v, new_reads| match new_reads {
        true => can_read(new, &previous[v]),
        false => can_read(&previous[v], new),
    })
    .into_iter()
    .map(|(version, direction, incompatibility)| Finding {
        version,
        direction,
        incompatibility,
    })
    .collect()
}

/// Every reason `reader` cannot read data written with `writer`.
pub fn can_read(reader: &AvroSchema, writer: &AvroSchema) -> Vec<Incompatibility> {
    let mut checker = Checker {
        reader,
        writer,
        memo: HashMap::new(),
        found: Vec::new(),
    };
    checker.check(reader.root(), writer.root(), &mut Vec::new());
    checker.found
}

struct Checker<'a> {
    reader: &'a AvroSchema,
    writer: &'a AvroSchema,
    /// Pairs of named types: `None` while being checked (a cycle back to
    /// one assumes compatible), then whether they were compatible.
    memo: HashMap<(NodeId, NodeId), Option<bool>>,
    found: Vec<Incompatibility>,
}

fn path_string(path: &[String]) -> String {
    if path.is_empty() {
        "(root)".to_string()
    } else {
        path.join(".")
    }
}

fn names_match(reader: &Name, reader_aliases: &[String], writer: &Name) -> bool {
    reader.name == writer.name || reader_aliases.iter().any(|a| *a == writer.fullname())
}

impl Checker<'_> {
    fn report(&mut self, kind: Kind, path: &[String], message: String) -> bool {
        self.found.push(Incompatibility {
            kind,
            path: path_string(path),
            message,
        });
        false
    }

    /// Whether the pair is compatible, without reporting anything.
    fn compatible(&self, r: NodeId, w: NodeId) -> bool {
        let mut probe = Checker {
            reader: self.reader,
            writer: self.writer,
            memo: self.memo.clone(),
            found: Vec::new(),
        };
        probe.check(r, w, &mut Vec::new())
    }

    /// The reader branch that is meant to read writer node `w`: the one with
    /// a matching name, or of the same unnamed type.
    fn counterpart(&self, branches: &[NodeId], w: NodeId) -> Option<NodeId> {
        let wn = self.writer.node(w);
        branches.iter().copied().find(|rb| {
            let rn = self.reader.node(*rb);
            match (rn.name(), wn.name()) {
                (Some(r), Some(wname)) => rn.type_name() == wn.type_name() && names_match(r, rn.aliases(), wname),
                (None, None) => rn.type_name() == wn.type_name(),
                _ => false,
            }
        })
    }

    /// Checks a writer node against a reader union: fine when any branch
    /// reads it; otherwise the reasons inside the branch meant for it, or a
    /// missing branch.
    fn read_into_union(&mut self, branches: &[NodeId], w: NodeId, path: &mut Vec<String>) -> bool {
        if branches.iter().any(|rb| self.compatible(*rb, w)) {
            return true;
        }
        match self.counterpart(branches, w) {
            Some(rb) => self.check(rb, w, path),
            None => {
                let message = format!("reader union lacking writer type: {}", self.writer.describe(w));
                self.report(Kind::MissingUnionBranch, path, message)
            }
        }
    }

    /// Checks that `r` reads `w`, reporting every reason it cannot.
    fn check(&mut self, r: NodeId, w: NodeId, path: &mut Vec<String>) -> bool {
        let (rn, wn) = (self.reader.node(r), self.writer.node(w));
        let named = rn.name().is_some() && wn.name().is_some();
        if named {
            match self.memo.get(&(r, w)) {
                Some(None) => return true,
                Some(Some(ok)) => return *ok,
                None => {
                    self.memo.insert((r, w), None);
                }
            }
        }
        let ok = self.check_nodes(r, w, path);
        if named {
            self.memo.insert((r, w), Some(ok));
        }
        ok
    }

    fn check_nodes(&mut self, r: NodeId, w: NodeId, path: &mut Vec<String>) -> bool {
        let (rn, wn) = (self.reader.node(r), self.writer.node(w));
        match (rn, wn) {
            (_, Node::Union(wu)) => {
                let mut ok = true;
                for (i, wb) in wu.branches.iter().enumerate() {
                    path.push(wu.keys[i].short.clone());
                    ok &= match rn {
                        Node::Union(ru) => self.read_into_union(&ru.branches, *wb, path),
                        _ => self.check(r, *wb, path),
                    };
                    path.pop();
                }
                ok
            }
            (Node::Union(ru), _) => self.read_into_union(&ru.branches, w, path),
            (Node::Record(rr), Node::Record(wr)) => {
                if !names_match(&rr.name, &rr.aliases, &wr.name) {
                    let message = format!("expected: {}", wr.name);
                    return self.report(Kind::NameMismatch, path, message);
                }
                let mut ok = true;
                for field in &rr.fields {
                    let writer_field = wr
                        .fields
                        .iter()
                        .find(|f| f.name == field.name)
                        .or_else(|| wr.fields.iter().find(|f| field.aliases.contains(&f.name)));
                    path.push(field.name.clone());
                    ok &= match writer_field {
                        Some(wf) => self.check(field.node, wf.node, path),
                        None if field.default.is_some() => true,
                        None => {
                            let message = format!(
                                "reader field {:?} has no default value and the writer has no such field",
                                field.name
                            );
                            self.report(Kind::ReaderFieldMissingDefaultValue, path, message)
                        }
                    };
                    path.pop();
                }
                ok
            }
            (Node::Enum(re), Node::Enum(we)) => {
                if !names_match(&re.name, &re.aliases, &we.name) {
                    let message = format!("expected: {}", we.name);
                    return self.report(Kind::NameMismatch, path, message);
                }
                let missing: Vec<&str> = we
                    .symbols
                    .iter()
                    .filter(|s| !re.symbols.contains(s))
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() && re.default.is_none() {
                    let message = format!(
                        "reader enum {} lacks symbols [{}] and has no default",
                        re.name,
                        missing.join(", ")
                    );
                    return self.report(Kind::MissingEnumSymbols, path, message);
                }
                true
            }
            (Node::Fixed(rf), Node::Fixed(wf)) => {
                if !names_match(&rf.name, &rf.aliases, &wf.name) {
                    let message = format!("expected: {}", wf.name);
                    return self.report(Kind::NameMismatch, path, message);
                }
                if rf.size != wf.size {
                    let message = format!("expected: {}, found: {}", wf.size, rf.size);
                    return self.report(Kind::FixedSizeMismatch, path, message);
                }
                true
            }
            (Node::Array(ri), Node::Array(wi)) => {
                path.push("[]".to_string());
                let ok = self.check(*ri, *wi, path);
                path.pop();
                ok
            }
            (Node::Map(rv), Node::Map(wv)) => {
                path.push("{}".to_string());
                let ok = self.check(*rv, *wv, path);
                path.pop();
                ok
            }
            (reader, writer) if readable_primitive(reader, writer) => true,
            (reader, writer) => {
                let message = format!(
                    "reader type {} is not compatible with writer type {}",
                    reader.type_name().to_ascii_uppercase(),
                    writer.type_name().to_ascii_uppercase()
                );
                self.report(Kind::TypeMismatch, path, message)
            }
        }
    }
}

fn readable_primitive(reader: &Node, writer: &Node) -> bool {
    use Node::*;
    matches!(
        (reader, writer),
        (Null, Null)
            | (Boolean, Boolean)
            | (Int(_), Int(_))
            | (Long(_), Int(_) | Long(_))
            | (Float, Int(_) | Long(_) | Float)
            | (Double, Int(_) | Long(_) | Float | Double)
            | (Bytes(_), Bytes(_) | String(_))
            | (String(_), String(_) | Bytes(_))
    )
}
