//! Protobuf schema compatibility with Confluent's semantics: the two
//! files are diffed (messages and enums by name, fields by number), and
//! every difference is either one Confluent calls compatible or one it
//! does not. BACKWARD diffs the earlier version against the new one;
//! FORWARD the other way round, as Confluent's `ProtobufSchema` does.
//!
//! Covered (Confluent's `Difference.Type`s, plus one of ours):
//! - package changed; messages and enums added, removed or moved (their
//!   message index changes);
//! - enum constants added, renamed or removed;
//! - fields added, removed or renamed; proto2 `required` added or removed;
//! - a field's kind changed: scalar ↔ message ↔ enum, another message or
//!   enum type, or a scalar outside its wire group (int32/int64/uint32/
//!   uint64/bool, sint32/sint64, fixed32/sfixed32, fixed64/sfixed64,
//!   string/bytes; an enum reads as the first group);
//! - single ↔ repeated: fine for strings, bytes and messages, not for
//!   numbers (packed encoding);
//! - `oneof`s: added, removed, a member added or removed, one field moved
//!   into a new oneof (fine), several, or any into an existing one (not);
//! - ours: a new field taking a number the earlier version reserved.
//!
//! Not checked, and said so in the output: options (`json_name`,
//! `packed`, custom options), services, extensions and proto2 default
//! values.

use std::collections::BTreeMap;
use std::fmt;

use prost_reflect::{Cardinality, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor};

use super::compat::Mode;
use super::protobuf::ProtoSchema;

/// What the rules here do not look at: printed beside any answer.
pub const NOT_CHECKED: &str = "options (json_name, packed, custom), services, extensions and proto2 default values";

/// One kind of difference between two versions of a `.proto` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    PackageChanged,
    MessageAdded,
    MessageRemoved,
    MessageMoved,
    EnumAdded,
    EnumRemoved,
    EnumConstAdded,
    EnumConstChanged,
    EnumConstRemoved,
    FieldAdded,
    FieldRemoved,
    FieldNameChanged,
    FieldKindChanged,
    FieldScalarKindChanged,
    FieldNamedTypeChanged,
    FieldNumericLabelChanged,
    FieldStringOrBytesLabelChanged,
    FieldMessageLabelChanged,
    RequiredFieldAdded,
    RequiredFieldRemoved,
    OneofAdded,
    OneofRemoved,
    OneofFieldAdded,
    OneofFieldRemoved,
    FieldMovedToNewOneof,
    MultipleFieldsMovedToOneof,
    FieldMovedToExistingOneof,
    ReservedFieldReused,
}

impl Change {
    pub fn as_str(&self) -> &'static str {
        match self {
            Change::PackageChanged => "PACKAGE_CHANGED",
            Change::MessageAdded => "MESSAGE_ADDED",
            Change::MessageRemoved => "MESSAGE_REMOVED",
            Change::MessageMoved => "MESSAGE_MOVED",
            Change::EnumAdded => "ENUM_ADDED",
            Change::EnumRemoved => "ENUM_REMOVED",
            Change::EnumConstAdded => "ENUM_CONST_ADDED",
            Change::EnumConstChanged => "ENUM_CONST_CHANGED",
            Change::EnumConstRemoved => "ENUM_CONST_REMOVED",
            Change::FieldAdded => "FIELD_ADDED",
            Change::FieldRemoved => "FIELD_REMOVED",
            Change::FieldNameChanged => "FIELD_NAME_CHANGED",
            Change::FieldKindChanged => "FIELD_KIND_CHANGED",
            Change::FieldScalarKindChanged => "FIELD_SCALAR_KIND_CHANGED",
            Change::FieldNamedTypeChanged => "FIELD_NAMED_TYPE_CHANGED",
            Change::FieldNumericLabelChanged => "FIELD_NUMERIC_LABEL_CHANGED",
            Change::FieldStringOrBytesLabelChanged => "FIELD_STRING_OR_BYTES_LABEL_CHANGED",
            Change::FieldMessageLabelChanged => "FIELD_MESSAGE_LABEL_CHANGED",
            Change::RequiredFieldAdded => "REQUIRED_FIELD_ADDED",
            Change::RequiredFieldRemoved => "REQUIRED_FIELD_REMOVED",
            Change::OneofAdded => "ONEOF_ADDED",
            Change::OneofRemoved => "ONEOF_REMOVED",
            Change::OneofFieldAdded => "ONEOF_FIELD_ADDED",
            Change::OneofFieldRemoved => "ONEOF_FIELD_REMOVED",
            Change::FieldMovedToNewOneof => "FIELD_MOVED_TO_NEW_ONEOF",
            Change::MultipleFieldsMovedToOneof => "MULTIPLE_FIELDS_MOVED_TO_ONEOF",
            Change::FieldMovedToExistingOneof => "FIELD_MOVED_TO_EXISTING_ONEOF",
            Change::ReservedFieldReused => "RESERVED_FIELD_REUSED",
        }
    }

    /// Whether a reader on one side still reads the other's data.
    pub fn compatible(&self) -> bool {
        !matches!(
            self,
            Change::PackageChanged
                | Change::MessageRemoved
                | Change::FieldKindChanged
                | Change::FieldScalarKindChanged
                | Change::FieldNamedTypeChanged
                | Change::FieldNumericLabelChanged
                | Change::RequiredFieldAdded
                | Change::RequiredFieldRemoved
                | Change::OneofFieldRemoved
                | Change::MultipleFieldsMovedToOneof
                | Change::FieldMovedToExistingOneof
                | Change::ReservedFieldReused
        )
    }
}

/// One difference, at a path of message and field names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub change: Change,
    pub path: String,
    pub message: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.path, self.change.as_str(), self.message)
    }
}

/// A difference found checking the new file against one earlier version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Index of the earlier version in the list given (0 = oldest).
    pub version: usize,
    /// `backward` (new reads old) or `forward` (old reads new).
    pub direction: &'static str,
    pub difference: Difference,
}

/// Every difference of `new` against the earlier versions (oldest first)
/// that `mode` asks about; callers split them by [`Change::compatible`].
pub fn check(mode: Mode, new: &ProtoSchema, previous: &[ProtoSchema]) -> Vec<Finding> {
    // BACKWARD diffs the earlier version against the new; FORWARD the other way.
    mode.checks(previous.len(), |v, new_reads| match new_reads {
        true => diff(&previous[v], new),
        false => diff(new, &previous[v]),
    })
    .into_iter()
    .map(|(version, direction, difference)| Finding {
        version,
        direction,
        difference,
    })
    .collect()
}

/// The differences from `original` to `update`.
pub fn diff(original: &ProtoSchema, update: &ProtoSchema) -> Vec<Difference> {
    let mut d = Diff::default();
    let (a, b) = (original.message().parent_file(), update.message().parent_file());
    if a.package_name() != b.package_name() {
        d.push(
            Change::PackageChanged,
            "#",
            format!("package {:?} became {:?}", a.package_name(), b.package_name()),
        );
    }
    let (old_types, new_types) = (Types::of(original), Types::of(update));
    for (name, (index, m)) in &old_types.messages {
        match new_types.messages.get(name) {
            None => d.push(Change::MessageRemoved, name, "message removed".into()),
            Some((new_index, n)) => {
                if index != new_index {
                    d.push(
                        Change::MessageMoved,
                        name,
                        format!("message index {index:?} became {new_index:?}"),
                    );
                }
                d.message(name, m, n, &old_types, &new_types);
            }
        }
    }
    for name in new_types
        .messages
        .keys()
        .filter(|n| !old_types.messages.contains_key(*n))
    {
        d.push(Change::MessageAdded, name, "message added".into());
    }
    for (name, e) in &old_types.enums {
        match new_types.enums.get(name) {
            None => d.push(Change::EnumRemoved, name, "enum removed".into()),
            Some(n) => d.enumeration(name, e, n),
        }
    }
    for name in new_types.enums.keys().filter(|n| !old_types.enums.contains_key(*n)) {
        d.push(Change::EnumAdded, name, "enum added".into());
    }
    d.found
}

/// A file's messages and enums (its own and those of the files it
/// imports, Google's left out), by name without the main package.
struct Types {
    package: String,
    messages: BTreeMap<String, (Vec<usize>, MessageDescriptor)>,
    enums: BTreeMap<String, EnumDescriptor>,
}

impl Types {
    fn of(schema: &ProtoSchema) -> Types {
        let file = schema.message().parent_file();
        let mut t = Types {
            package: file.package_name().to_string(),
            messages: BTreeMap::new(),
            enums: BTreeMap::new(),
        };
        let mut files = vec![file.clone()];
        let mut i = 0;
        while i < files.len() {
            let deps: Vec<_> = files[i]
                .dependencies()
                .filter(|f| !f.name().starts_with("google/protobuf/"))
                .filter(|f| !files.iter().any(|g| g.name() == f.name()))
                .collect();
            files.extend(deps);
            i += 1;
        }
        for f in &files {
            for (i, m) in f.messages().enumerate() {
                t.add_message(m, vec![i]);
            }
            for e in f.enums() {
                let name = t.local(e.full_name());
                t.enums.insert(name, e);
            }
        }
        t
    }

    fn add_message(&mut self, m: MessageDescriptor, index: Vec<usize>) {
        if m.is_map_entry() {
            return;
        }
        for (i, child) in m.child_messages().enumerate() {
            let mut at = index.clone();
            at.push(i);
            self.add_message(child, at);
        }
        for e in m.child_enums() {
            let name = self.local(e.full_name());
            self.enums.insert(name, e);
        }
        let name = self.local(m.full_name());
        self.messages.insert(name, (index, m));
    }

    /// A full name without the main file's package.
    fn local(&self, full: &str) -> String {
        match full.strip_prefix(&self.package).and_then(|r| r.strip_prefix('.')) {
            Some(rest) if !self.package.is_empty() => rest.to_string(),
            _ => full.to_string(),
        }
    }
}

#[derive(Default)]
struct Diff {
    found: Vec<Difference>,
}

fn real_oneof(f: &FieldDescriptor) -> Option<String> {
    f.containing_oneof()
        .filter(|o| !o.is_synthetic())
        .map(|o| o.name().to_string())
}

fn kind_name(kind: &Kind, types: &Types) -> String {
    match kind {
        Kind::Message(m) => types.local(m.full_name()),
        Kind::Enum(e) => types.local(e.full_name()),
        other => format!("{other:?}").to_ascii_lowercase(),
    }
}

/// The wire group a scalar belongs to; kinds in one group read each other.
fn wire_group(kind: &Kind) -> Option<u8> {
    Some(match kind {
        Kind::Int32 | Kind::Int64 | Kind::Uint32 | Kind::Uint64 | Kind::Bool | Kind::Enum(_) => 0,
        Kind::Sint32 | Kind::Sint64 => 1,
        Kind::Fixed32 | Kind::Sfixed32 => 2,
        Kind::Fixed64 | Kind::Sfixed64 => 3,
        Kind::String | Kind::Bytes => 4,
        Kind::Float => 5,
        Kind::Double => 6,
        Kind::Message(_) => return None,
    })
}

impl Diff {
    fn push(&mut self, change: Change, path: &str, message: String) {
        self.found.push(Difference {
            change,
            path: path.to_string(),
            message,
        });
    }

    fn enumeration(&mut self, path: &str, a: &EnumDescriptor, b: &EnumDescriptor) {
        let old: BTreeMap<i32, String> = a.values().map(|v| (v.number(), v.name().to_string())).collect();
        let new: BTreeMap<i32, String> = b.values().map(|v| (v.number(), v.name().to_string())).collect();
        for (n, name) in &old {
            match new.get(n) {
                None => self.push(
                    Change::EnumConstRemoved,
                    &format!("{path}.{name}"),
                    format!("constant {n} removed"),
                ),
                Some(other) if other != name => self.push(
                    Change::EnumConstChanged,
                    &format!("{path}.{name}"),
                    format!("constant {n} renamed to {other}"),
                ),
                Some(_) => {}
            }
        }
        for (n, name) in new.iter().filter(|(n, _)| !old.contains_key(n)) {
            self.push(
                Change::EnumConstAdded,
                &format!("{path}.{name}"),
                format!("constant {n} added"),
            );
        }
    }

    fn message(&mut self, path: &str, a: &MessageDescriptor, b: &MessageDescriptor, ta: &Types, tb: &Types) {
        let old: BTreeMap<u32, FieldDescriptor> = a.fields().map(|f| (f.number(), f)).collect();
        let new: BTreeMap<u32, FieldDescriptor> = b.fields().map(|f| (f.number(), f)).collect();
        let old_oneofs: Vec<String> = a
            .oneofs()
            .filter(|o| !o.is_synthetic())
            .map(|o| o.name().into())
            .collect();
        for (n, f) in &old {
            let at = format!("{path}.{}", f.name());
            match new.get(n) {
                None if f.cardinality() == Cardinality::Required => {
                    self.push(Change::RequiredFieldRemoved, &at, format!("required field {n} removed"))
                }
                None => match real_oneof(f) {
                    Some(o) if b.oneofs().any(|x| x.name() == o) => self.push(
                        Change::OneofFieldRemoved,
                        &at,
                        format!("field {n} removed from oneof {o}"),
                    ),
                    _ => self.push(Change::FieldRemoved, &at, format!("field {n} removed")),
                },
                Some(g) => self.field(&at, f, g, ta, tb),
            }
        }
        for (n, g) in new.iter().filter(|(n, _)| !old.contains_key(n)) {
            let at = format!("{path}.{}", g.name());
            if g.cardinality() == Cardinality::Required {
                self.push(Change::RequiredFieldAdded, &at, format!("required field {n} added"));
            } else if a.reserved_ranges().any(|r| r.contains(n)) {
                self.push(
                    Change::ReservedFieldReused,
                    &at,
                    format!("field {n} takes a number the earlier version reserved: data written before may hold another type there"),
                );
            } else {
                match real_oneof(g) {
                    Some(o) if old_oneofs.contains(&o) => {
                        self.push(Change::OneofFieldAdded, &at, format!("field {n} added to oneof {o}"))
                    }
                    _ => self.push(Change::FieldAdded, &at, format!("field {n} added")),
                }
            }
        }
        // Oneofs as wholes, and fields moving into them.
        for o in b.oneofs().filter(|o| !o.is_synthetic()) {
            let members: Vec<FieldDescriptor> = o.fields().collect();
            let existed = old_oneofs.iter().any(|x| x == o.name())
                || members
                    .iter()
                    .any(|g| old.get(&g.number()).and_then(real_oneof).is_some());
            let moved: Vec<&FieldDescriptor> = members
                .iter()
                .filter(|g| old.get(&g.number()).is_some_and(|f| real_oneof(f).is_none()))
                .collect();
            let at = format!("{path}.{}", o.name());
            if !existed {
                self.push(Change::OneofAdded, &at, "oneof added".into());
            }
            let names = || moved.iter().map(|g| g.name()).collect::<Vec<_>>().join(", ");
            match (existed, moved.len()) {
                (_, 0) => {}
                (true, _) => self.push(
                    Change::FieldMovedToExistingOneof,
                    &at,
                    format!("{} moved into a oneof that already had members", names()),
                ),
                (false, 1) => self.push(
                    Change::FieldMovedToNewOneof,
                    &at,
                    format!("{} moved into a new oneof", names()),
                ),
                (false, _) => self.push(
                    Change::MultipleFieldsMovedToOneof,
                    &at,
                    format!("{} moved into one oneof: data may hold several of them", names()),
                ),
            }
        }
        for o in a.oneofs().filter(|o| !o.is_synthetic()) {
            let gone = o.fields().all(|f| new.get(&f.number()).and_then(real_oneof).is_none());
            if gone && !b.oneofs().any(|x| x.name() == o.name()) {
                self.push(
                    Change::OneofRemoved,
                    &format!("{path}.{}", o.name()),
                    "oneof removed".into(),
                );
            }
        }
    }

    fn field(&mut self, at: &str, f: &FieldDescriptor, g: &FieldDescriptor, ta: &Types, tb: &Types) {
        let n = f.number();
        if f.name() != g.name() {
            self.push(
                Change::FieldNameChanged,
                at,
                format!("field {n} renamed to {}", g.name()),
            );
        }
        if let (Some(o), None) = (real_oneof(f), real_oneof(g)) {
            self.push(
                Change::OneofFieldRemoved,
                at,
                format!("field {n} moved out of oneof {o}"),
            );
        }
        let (fr, gr) = (
            f.cardinality() == Cardinality::Required,
            g.cardinality() == Cardinality::Required,
        );
        if fr && !gr {
            self.push(
                Change::RequiredFieldRemoved,
                at,
                format!("field {n} is no longer required"),
            );
        } else if gr && !fr {
            self.push(Change::RequiredFieldAdded, at, format!("field {n} became required"));
        }
        if f.is_map() && g.is_map() {
            let (fk, gk) = (f.kind(), g.kind());
            if let (Kind::Message(fe), Kind::Message(ge)) = (fk, gk) {
                self.kind(
                    &format!("{at}.key"),
                    n,
                    &fe.map_entry_key_field().kind(),
                    &ge.map_entry_key_field().kind(),
                    ta,
                    tb,
                );
                self.kind(
                    &format!("{at}.value"),
                    n,
                    &fe.map_entry_value_field().kind(),
                    &ge.map_entry_value_field().kind(),
                    ta,
                    tb,
                );
            }
            return;
        }
        if f.is_map() != g.is_map() {
            self.push(
                Change::FieldKindChanged,
                at,
                format!("field {n} changed between a map and not a map"),
            );
            return;
        }
        self.kind(at, n, &f.kind(), &g.kind(), ta, tb);
        if f.is_list() != g.is_list() {
            let (change, why) = match g.kind() {
                Kind::String | Kind::Bytes => (Change::FieldStringOrBytesLabelChanged, "length-delimited either way"),
                Kind::Message(_) => (Change::FieldMessageLabelChanged, "length-delimited either way"),
                _ => (Change::FieldNumericLabelChanged, "a repeated number is packed"),
            };
            let (from, to) = if f.is_list() {
                ("repeated", "single")
            } else {
                ("single", "repeated")
            };
            self.push(change, at, format!("field {n} changed from {from} to {to} ({why})"));
        }
    }

    fn kind(&mut self, at: &str, n: u32, a: &Kind, b: &Kind, ta: &Types, tb: &Types) {
        let (an, bn) = (kind_name(a, ta), kind_name(b, tb));
        match (a, b) {
            (Kind::Message(_), Kind::Message(_)) | (Kind::Enum(_), Kind::Enum(_)) if an != bn => self.push(
                Change::FieldNamedTypeChanged,
                at,
                format!("field {n} changed type from {an} to {bn}"),
            ),
            (Kind::Message(_), Kind::Message(_)) | (Kind::Enum(_), Kind::Enum(_)) => {}
            (Kind::Message(_), _) | (_, Kind::Message(_)) => self.push(
                Change::FieldKindChanged,
                at,
                format!("field {n} changed kind from {an} to {bn}"),
            ),
            _ if an == bn => {}
            _ if wire_group(a) == wire_group(b) => {}
            _ => self.push(
                Change::FieldScalarKindChanged,
                at,
                format!("field {n} changed type from {an} to {bn}, which read each other's data wrongly"),
            ),
        }
    }
}
