//! Realistic values: the named generators hints refer to (`uuid`, `mpan`,
//! `i18n`, ...). Each draws from a seeded, portable RNG (ChaCha8), so a
//! seed gives the same values on every machine.

use crate::num::Cast as _;
use fake::Fake as _;
use rand::RngExt;
use serde_json::{Map, Value};

pub use rand::rngs::ChaCha8Rng as Rng;

const DAY_MS: i64 = 86_400_000;

/// A named generator of realistic values.
#[derive(Debug, Clone, PartialEq)]
pub enum Fake {
    Uuid,
    /// A string of this many decimal digits, not starting with 0.
    Digits(usize),
    /// A 13-digit MPAN core with a correct check digit.
    Mpan,
    /// UPPER_SNAKE_CASE words, between min and max of them.
    UpperSnake(usize, usize),
    /// Lower-case words joined by spaces, between min and max of them.
    Words(usize, usize),
    Sentence,
    Name,
    Email,
    Company,
    /// A map from locale to a label in that locale.
    I18nLabel(Vec<String>),
    /// A map from locale to a description in that locale.
    I18nDescription(Vec<String>),
    /// Epoch milliseconds within this many days of now.
    TimestampMillis(i64),
    /// Epoch microseconds within this many days of now.
    TimestampMicros(i64),
    /// Epoch days within this many days of now.
    Date(i64),
}

/// Names accepted in hint files, for `generator = "..."`.
pub const NAMES: &[&str] = &[
    "uuid",
    "digits",
    "mpan",
    "upper_snake",
    "words",
    "sentence",
    "name",
    "email",
    "company",
    "i18n_label",
    "i18n_description",
    "timestamp_millis",
    "timestamp_micros",
    "date",
];

/// Locales used for i18n maps unless a hint names others.
pub const LOCALES: &[&str] = &["en-GB", "fr-FR", "de-DE", "es-ES", "it-IT", "nl-NL"];

/// What a generator yields, for checking it against a field's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Yields {
    String,
    Integer,
    Object,
}

impl Fake {
    pub fn yields(&self) -> Yields {
        match self {
            Fake::I18nLabel(_) | Fake::I18nDescription(_) => Yields::Object,
            Fake::TimestampMillis(_) | Fake::TimestampMicros(_) | Fake::Date(_) => Yields::Integer,
            _ => Yields::String,
        }
    }

    /// One integer value, for integer generators (others give 0).
    pub fn integer(&self, rng: &mut Rng, now_ms: i64) -> i64 {
        match self {
            Fake::TimestampMillis(days) => near(rng, now_ms, *days),
            Fake::TimestampMicros(days) => near(rng, now_ms, *days) * 1000,
            Fake::Date(days) => near(rng, now_ms, *days).div_euclid(DAY_MS),
            _ => 0,
        }
    }

    /// One value, as JSON.
    pub fn sample(&self, rng: &mut Rng, now_ms: i64) -> Value {
        match self {
            Fake::I18nLabel(locales) => i18n(rng, locales, false),
            Fake::I18nDescription(locales) => i18n(rng, locales, true),
            Fake::TimestampMillis(days) => Value::from(near(rng, now_ms, *days)),
            Fake::TimestampMicros(days) => Value::from(near(rng, now_ms, *days) * 1000),
            Fake::Date(days) => Value::from(near(rng, now_ms, *days).div_euclid(DAY_MS)),
            _ => {
                // Room for a UUID, an MPAN or a few words without regrowing.
                let mut s = String::with_capacity(40);
                self.write_str(rng, &mut s);
                Value::String(s)
            }
        }
    }

    /// One value written over `out` ([`Fake::sample`]'s, from the same
    /// draws), reusing its buffer where it already holds a string.
    pub fn sample_into(&self, rng: &mut Rng, now_ms: i64, out: &mut Value) {
        match out {
            Value::String(s) if self.yields() == Yields::String => self.write_str(rng, s),
            out => *out = self.sample(rng, now_ms),
        }
    }

    /// Writes a string value into `out` (cleared first). Integer and object
    /// generators write their JSON text.
    pub fn write_str(&self, rng: &mut Rng, out: &mut String) {
        out.clear();
        match self {
            Fake::Uuid => uuid(rng, out),
            Fake::Digits(n) => digits(rng, *n, out),
            Fake::Mpan => mpan(rng, out),
            Fake::UpperSnake(min, max) => {
                let n = rng.random_range(*min..=(*max).max(*min)).min(CODE_WORDS.len());
                let mut used: Vec<usize> = Vec::with_capacity(n);
                while used.len() < n {
                    let i = rng.random_range(0..CODE_WORDS.len());
                    if !used.contains(&i) {
                        used.push(i);
                    }
                }
                for (k, i) in used.into_iter().enumerate() {
                    if k > 0 {
                        out.push('_');
                    }
                    out.push_str(&CODE_WORDS[i].to_ascii_uppercase());
                }
            }
            Fake::Words(min, max) => {
                let n = rng.random_range(*min..=(*max).max(*min));
                let words: Vec<String> = fake::faker::lorem::en::Words(n..n + 1).fake_with_rng(rng);
                out.push_str(&words.join(" "));
            }
            Fake::Sentence => out.push_str(&fake::faker::lorem::en::Sentence(4..9).fake_with_rng::<String, _>(rng)),
            Fake::Name => out.push_str(&fake::faker::name::en::Name().fake_with_rng::<String, _>(rng)),
            Fake::Email => out.push_str(&fake::faker::internet::en::SafeEmail().fake_with_rng::<String, _>(rng)),
            Fake::Company => out.push_str(&fake::faker::company::en::CompanyName().fake_with_rng::<String, _>(rng)),
            other => out.push_str(&other.sample(rng, 0).to_string()),
        }
    }
}

fn near(rng: &mut Rng, now_ms: i64, days: i64) -> i64 {
    let spread = days.max(0) * DAY_MS;
    now_ms + rng.random_range(-spread..=spread)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A random (version 4) UUID in its hyphenated form.
pub fn uuid(rng: &mut Rng, out: &mut String) {
    let mut bytes: [u8; 16] = rng.random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
}

/// `n` digits, the first not 0.
pub fn digits(rng: &mut Rng, n: usize, out: &mut String) {
    for i in 0..n {
        let d = if i == 0 {
            rng.random_range(1..10u8)
        } else {
            rng.random_range(0..10u8)
        };
        out.push(char::from(b'0' + d));
    }
}

const MPAN_WEIGHTS: [u32; 12] = [3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43];

/// The check digit of the first 12 digits of an MPAN core.
pub fn mpan_check_digit(first12: &[u8; 12]) -> u8 {
    let sum: u32 = first12.iter().zip(MPAN_WEIGHTS).map(|(d, w)| u32::from(*d) * w).sum();
    ((sum % 11) % 10).sat_u8()
}

/// Whether a string is a 13-digit MPAN core with a correct check digit.
pub fn is_valid_mpan(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 13 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut first = [0u8; 12];
    for (d, c) in first.iter_mut().zip(b) {
        *d = c - b'0';
    }
    mpan_check_digit(&first) == b[12] - b'0'
}

/// An MPAN core: a distributor id (10–23), ten digits, the check digit.
pub fn mpan(rng: &mut Rng, out: &mut String) {
    let mut first = [0u8; 12];
    let distributor = rng.random_range(10..=23u8);
    first[0] = distributor / 10;
    first[1] = distributor % 10;
    for d in &mut first[2..] {
        *d = rng.random_range(0..10u8);
    }
    for d in first {
        out.push(char::from(b'0' + d));
    }
    out.push(char::from(b'0' + mpan_check_digit(&first)));
}

/// Words for codes: subscription and option codes read like real ones.
const CODE_WORDS: &[&str] = &[
    "invoice",
    "payment",
    "notification",
    "reminder",
    "statement",
    "tariff",
    "meter",
    "reading",
    "weekly",
    "monthly",
    "single",
    "summary",
    "offer",
    "newsletter",
    "usage",
    "alert",
    "balance",
    "renewal",
    "contract",
    "smart",
];

/// One concept rendered in each locale: (label, description).
struct Concept {
    texts: &'static [(&'static str, &'static str, &'static str)],
}

const CONCEPTS: &[Concept] = &[
    Concept {
        texts: &[
            (
                "en-GB",
                "Invoices notification",
                "Receive a notification for each new invoice",
            ),
            (
                "fr-FR",
                "Notification sur les factures",
                "Recevoir une notification à chaque nouvelle facture",
            ),
            (
                "de-DE",
                "Rechnungsbenachrichtigung",
                "Bei jeder neuen Rechnung benachrichtigt werden",
            ),
            ("es-ES", "Aviso de facturas", "Recibir un aviso por cada nueva factura"),
            (
                "it-IT",
                "Notifica delle fatture",
                "Ricevere una notifica per ogni nuova fattura",
            ),
            ("nl-NL", "Factuurmelding", "Ontvang een melding bij elke nieuwe factuur"),
        ],
    },
    Concept {
        texts: &[
            ("en-GB", "Payment reminder", "Be reminded before each payment is due"),
            (
                "fr-FR",
                "Rappel de paiement",
                "Être prévenu avant chaque échéance de paiement",
            ),
            (
                "de-DE",
                "Zahlungserinnerung",
                "Vor jeder fälligen Zahlung erinnert werden",
            ),
            (
                "es-ES",
                "Recordatorio de pago",
                "Recibir un recordatorio antes de cada pago",
            ),
            (
                "it-IT",
                "Promemoria di pagamento",
                "Ricevere un promemoria prima di ogni pagamento",
            ),
            (
                "nl-NL",
                "Betalingsherinnering",
                "Een herinnering ontvangen voor elke betaling",
            ),
        ],
    },
    Concept {
        texts: &[
            ("en-GB", "Weekly summary", "Receive all invoices on a weekly basis"),
            (
                "fr-FR",
                "Résumé hebdomadaire",
                "Recevoir toutes les factures chaque semaine",
            ),
            (
                "de-DE",
                "Wöchentliche Übersicht",
                "Alle Rechnungen wöchentlich erhalten",
            ),
            ("es-ES", "Resumen semanal", "Recibir todas las facturas cada semana"),
            (
                "it-IT",
                "Riepilogo settimanale",
                "Ricevere tutte le fatture ogni settimana",
            ),
            ("nl-NL", "Wekelijks overzicht", "Alle facturen wekelijks ontvangen"),
        ],
    },
    Concept {
        texts: &[
            (
                "en-GB",
                "Meter reading request",
                "Get asked for a meter reading each month",
            ),
            (
                "fr-FR",
                "Demande de relevé",
                "Être invité à relever le compteur chaque mois",
            ),
            (
                "de-DE",
                "Zählerstandsabfrage",
                "Jeden Monat um den Zählerstand gebeten werden",
            ),
            (
                "es-ES",
                "Solicitud de lectura",
                "Recibir cada mes una solicitud de lectura del contador",
            ),
            (
                "it-IT",
                "Richiesta di lettura",
                "Ricevere ogni mese una richiesta di lettura del contatore",
            ),
            (
                "nl-NL",
                "Meterstandverzoek",
                "Elke maand gevraagd worden om de meterstand",
            ),
        ],
    },
    Concept {
        texts: &[
            ("en-GB", "Tariff news", "Hear about changes to your tariff"),
            (
                "fr-FR",
                "Actualités tarifaires",
                "Être informé des changements de votre tarif",
            ),
            (
                "de-DE",
                "Tarifneuigkeiten",
                "Über Änderungen Ihres Tarifs informiert werden",
            ),
            ("es-ES", "Novedades de tarifa", "Conocer los cambios de su tarifa"),
            (
                "it-IT",
                "Novità sulla tariffa",
                "Essere informati sulle modifiche della tariffa",
            ),
            ("nl-NL", "Tariefnieuws", "Op de hoogte blijven van tariefwijzigingen"),
        ],
    },
];

fn i18n(rng: &mut Rng, locales: &[String], description: bool) -> Value {
    let concept = &CONCEPTS[rng.random_range(0..CONCEPTS.len())];
    let wanted: Vec<&str> = if locales.is_empty() {
        // en-GB and one or two others.
        let mut picked = vec!["en-GB"];
        for _ in 0..rng.random_range(1..=2) {
            let l = LOCALES[rng.random_range(1..LOCALES.len())];
            if !picked.contains(&l) {
                picked.push(l);
            }
        }
        picked
    } else {
        locales.iter().map(String::as_str).collect()
    };
    let mut map = Map::new();
    for locale in wanted {
        let text = concept
            .texts
            .iter()
            .find(|(l, _, _)| *l == locale)
            .map(|(_, label, desc)| if description { *desc } else { *label });
        // A locale we have no text for gets the English one.
        let text = text.unwrap_or(if description {
            concept.texts[0].2
        } else {
            concept.texts[0].1
        });
        map.insert(locale.to_string(), Value::String(text.to_string()));
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn mpans_carry_a_correct_check_digit() {
        // A published example MPAN core.
        assert!(is_valid_mpan("1200023305967"));
        assert!(!is_valid_mpan("1200023305968"));
        assert!(!is_valid_mpan("120002330596"));
        let mut rng = Rng::seed_from_u64(1);
        for _ in 0..1000 {
            let mut s = String::new();
            mpan(&mut rng, &mut s);
            assert!(is_valid_mpan(&s), "{s}");
            let distributor: u8 = s[..2].parse().unwrap();
            assert!((10..=23).contains(&distributor), "{s}");
        }
    }

    #[test]
    fn uuids_are_version_4() {
        let mut rng = Rng::seed_from_u64(2);
        let mut s = String::new();
        uuid(&mut rng, &mut s);
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert!(crate::codec::avro_json::is_uuid(&s));
    }

    #[test]
    fn same_seed_same_values() {
        let gens = [
            Fake::Uuid,
            Fake::Mpan,
            Fake::Name,
            Fake::I18nLabel(vec![]),
            Fake::Date(30),
            Fake::UpperSnake(1, 3),
        ];
        let run = |seed| {
            let mut rng = Rng::seed_from_u64(seed);
            gens.iter()
                .map(|g| g.sample(&mut rng, 1_700_000_000_000))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }

    #[test]
    fn i18n_maps_use_real_locales_and_translations() {
        let mut rng = Rng::seed_from_u64(3);
        let v = Fake::I18nLabel(vec!["fr-FR".into(), "en-GB".into()]).sample(&mut rng, 0);
        let map = v.as_object().unwrap();
        assert_eq!(map.keys().collect::<Vec<_>>(), ["fr-FR", "en-GB"]);
        let en = map["en-GB"].as_str().unwrap();
        assert!(CONCEPTS.iter().any(|c| c.texts[0].1 == en), "{en}");
    }

    #[test]
    fn codes_are_upper_snake_case() {
        let mut rng = Rng::seed_from_u64(4);
        let mut s = String::new();
        Fake::UpperSnake(2, 3).write_str(&mut rng, &mut s);
        assert!(s.chars().all(|c| c.is_ascii_uppercase() || c == '_'), "{s}");
        assert!(s.split('_').count() >= 2, "{s}");
    }
}
