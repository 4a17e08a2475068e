//! What one document may ask of the server, measured on the document as it will execute:
//! fragments count once for every place they are spread, so a small document that spreads its
//! fragments into each other cannot multiply its work past the limits.
//!
//! The measure is cheap and bounded whatever the document: tokens are counted on the text before
//! it is parsed, and each fragment is measured once (in dependency order, not by following
//! spreads), with counts that saturate instead of growing with the expansion. async-graphql's own
//! checks (recursion, directives, complexity, validation) walk fragments at every spread, so they
//! only ever see documents that passed this one.

use std::collections::{HashMap, HashSet, VecDeque};

use async_graphql::parser::types::{ExecutableDocument, Field, Selection, SelectionSet};
use async_graphql::{ErrorExtensionValues, ServerError, Value, Variables};

use crate::config::Limits;
use crate::messages::Message;

/// Why a document is refused before it runs, with the code a client can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRefusal {
    pub code: &'static str,
    pub message: Message,
    /// The argument or variable at fault, when one is.
    pub argument: Option<String>,
}

impl DocumentRefusal {
    pub fn new(code: &'static str, message: Message) -> Self {
        Self {
            code,
            message,
            argument: None,
        }
    }

    /// A value no database could store as sent.
    fn unstorable(argument: String) -> Self {
        Self {
            code: "BAD_USER_INPUT",
            message: crate::message!(TEXT_UNSTORABLE, argument = &argument),
            argument: Some(argument),
        }
    }

    /// The refusal as a request error (no path), as GraphQL execution reports one: in English
    /// until `error::ensure_codes` puts it in the request's language.
    pub fn into_server_error(self) -> ServerError {
        let mut error = ServerError::new(self.message.to_string(), None);
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", self.code);
        if let Some(argument) = &self.argument {
            extensions.set("argument", argument.as_str());
        }
        error.extensions = Some(extensions);
        error.source = Some(std::sync::Arc::new(self));
        error
    }
}

/// Refuses variables holding text that the database cannot store (PostgreSQL refuses the NUL
/// character in text; SQLite would keep it), so that both answer alike.
pub fn check_variables(variables: &Variables) -> Result<(), DocumentRefusal> {
    for (name, value) in variables.iter() {
        if holds_nul(value) {
            return Err(DocumentRefusal::unstorable(format!("${name}")));
        }
    }
    Ok(())
}

/// Whether a value, or any value inside it, is text with a NUL character.
fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::List(items) => items.iter().any(holds_nul),
        Value::Object(fields) => fields
            .iter()
            .any(|(name, value)| name.contains('\0') || holds_nul(value)),
        _ => false,
    }
}

/// Refuses a text with more lexical tokens than allowed, before any parsing: parsing and
/// validating cost grows with the tokens, whatever they are.
pub fn check_tokens(text: &str, limits: &Limits) -> Result<(), DocumentRefusal> {
    match count_tokens(text, limits.max_tokens) {
        Some(_) => Ok(()),
        None => Err(DocumentRefusal::new(
            "TOO_MANY_TOKENS",
            crate::message!(TOO_MANY_TOKENS, max = limits.max_tokens),
        )),
    }
}

/// The GraphQL tokens in `text` (names, numbers, strings, punctuators), or `None` as soon as
/// there are more than `max`. Characters that are no token count as one each: the parser will
/// refuse them.
fn count_tokens(text: &str, max: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut count = 0usize;
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => {
                at += 1;
                continue;
            }
            b'#' => {
                while at < bytes.len() && bytes[at] != b'\n' && bytes[at] != b'\r' {
                    at += 1;
                }
                continue;
            }
            b'"' if bytes[at..].starts_with(b"\"\"\"") => {
                at += 3;
                while at < bytes.len() && !bytes[at..].starts_with(b"\"\"\"") {
                    at += if bytes[at..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                at += 3;
            }
            b'"' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' && bytes[at] != b'\n' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                at += 1;
            }
            b'.' if bytes[at..].starts_with(b"...") => at += 3,
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                at += 1;
                while at < bytes.len()
                    && matches!(bytes[at], b'_' | b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9')
                {
                    at += 1;
                }
            }
            b'0'..=b'9' | b'-' => {
                at += 1;
                while at < bytes.len()
                    && matches!(bytes[at], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    at += 1;
                }
            }
            _ => at += 1,
        }
        count += 1;
        if count > max {
            return None;
        }
    }
    Some(count)
}

/// What a document asks for once its fragments are expanded: fields and aliases it would
/// resolve, how deep its fields nest (introspection's own nesting aside: the standard
/// introspection query nests `ofType` nine levels, and the schema it walks is small and fixed),
/// and whether it introspects at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shape {
    pub fields: u64,
    pub aliases: u64,
    pub depth: u64,
    pub introspects: bool,
}

impl Shape {
    /// Two selections side by side.
    fn beside(self, other: Shape) -> Shape {
        Shape {
            fields: self.fields.saturating_add(other.fields),
            aliases: self.aliases.saturating_add(other.aliases),
            depth: self.depth.max(other.depth),
            introspects: self.introspects || other.introspects,
        }
    }
}

/// Measures `document`; refuses it if a fragment spreads itself (directly or through others) or
/// a selection carries more directives than allowed.
fn measure(document: &ExecutableDocument, limits: &Limits) -> Result<Shape, DocumentRefusal> {
    let mut measure = Measure {
        fragments: HashMap::new(),
        max_directives: limits.max_directives,
    };
    measure.fragments_in_dependency_order(document)?;
    document
        .operations
        .iter()
        .try_fold(Shape::default(), |shape, (_, operation)| {
            Ok(shape.beside(measure.selection_set(&operation.node.selection_set.node)?))
        })
}

/// Refuses a document whose executed shape is over the limits.
pub fn check_document(
    document: &ExecutableDocument,
    limits: &Limits,
) -> Result<Shape, DocumentRefusal> {
    let shape = measure(document, limits)?;
    let over = |found: u64, allowed: usize| found > allowed as u64;
    if over(shape.fields, limits.max_fields) {
        return Err(DocumentRefusal::new(
            "TOO_MANY_FIELDS",
            crate::message!(
                TOO_MANY_FIELDS,
                count = shown(shape.fields),
                max = limits.max_fields
            ),
        ));
    }
    if over(shape.aliases, limits.max_aliases) {
        return Err(DocumentRefusal::new(
            "TOO_MANY_ALIASES",
            crate::message!(
                TOO_MANY_ALIASES,
                count = shown(shape.aliases),
                max = limits.max_aliases
            ),
        ));
    }
    if over(shape.depth, limits.max_depth) {
        return Err(DocumentRefusal::new(
            "QUERY_TOO_DEEP",
            crate::message!(QUERY_TOO_DEEP, depth = shape.depth, max = limits.max_depth),
        ));
    }
    if shape.introspects && !limits.introspection {
        return Err(DocumentRefusal::new(
            "INTROSPECTION_DISABLED",
            crate::message!(INTROSPECTION_DISABLED),
        ));
    }
    Ok(shape)
}

/// Whether `field` is one of the root's introspection fields (`__schema`, `__type`).
pub(crate) fn is_introspection(field: &Field) -> bool {
    matches!(field.name.node.as_str(), "__schema" | "__type")
}

/// A saturated count reads as a bound ("> …") rather than as a number nobody sent.
fn shown(count: u64) -> String {
    if count == u64::MAX {
        format!("> {}", u64::MAX / 2)
    } else {
        count.to_string()
    }
}

struct Measure<'a> {
    fragments: HashMap<&'a str, Shape>,
    max_directives: usize,
}

impl<'a> Measure<'a> {
    /// Measures every fragment once, each after the fragments it spreads; a cycle leaves some
    /// fragments that never become ready.
    fn fragments_in_dependency_order(
        &mut self,
        document: &'a ExecutableDocument,
    ) -> Result<(), DocumentRefusal> {
        let mut waiting_on: HashMap<&'a str, usize> = HashMap::new();
        let mut spread_by: HashMap<&'a str, Vec<&'a str>> = HashMap::new();
        for (name, fragment) in &document.fragments {
            let mut spreads = HashSet::new();
            spreads_in(&fragment.node.selection_set.node, &mut spreads);
            spreads.retain(|spread| document.fragments.contains_key(*spread));
            waiting_on.insert(name.as_str(), spreads.len());
            for spread in spreads {
                spread_by.entry(spread).or_default().push(name.as_str());
            }
        }
        let mut ready: VecDeque<&'a str> = waiting_on
            .iter()
            .filter(|(_, waiting)| **waiting == 0)
            .map(|(name, _)| *name)
            .collect();
        while let Some(name) = ready.pop_front() {
            let fragment = &document.fragments[name];
            let shape = self.selection_set(&fragment.node.selection_set.node)?;
            self.fragments.insert(name, shape);
            for dependent in spread_by.get(name).into_iter().flatten() {
                let waiting = waiting_on
                    .get_mut(dependent)
                    .expect("every fragment is counted");
                *waiting -= 1;
                if *waiting == 0 {
                    ready.push_back(dependent);
                }
            }
        }
        if self.fragments.len() < document.fragments.len() {
            let mut cyclic: Vec<&str> = waiting_on
                .keys()
                .filter(|name| !self.fragments.contains_key(*name))
                .copied()
                .collect();
            cyclic.sort_unstable();
            return Err(DocumentRefusal::new(
                "GRAPHQL_VALIDATION_FAILED",
                crate::message!(FRAGMENT_CYCLE, names = cyclic.join(", ")),
            ));
        }
        Ok(())
    }

    fn selection_set(&self, set: &SelectionSet) -> Result<Shape, DocumentRefusal> {
        let mut shape = Shape::default();
        for item in &set.items {
            let directives = item.node.directives().len();
            if directives > self.max_directives {
                return Err(DocumentRefusal::new(
                    "TOO_MANY_DIRECTIVES",
                    crate::message!(
                        TOO_MANY_DIRECTIVES,
                        count = directives,
                        max = self.max_directives
                    ),
                ));
            }
            let arguments = match &item.node {
                Selection::Field(field) => field.node.arguments.as_slice(),
                _ => &[],
            };
            let directive_arguments = item
                .node
                .directives()
                .iter()
                .flat_map(|directive| directive.node.arguments.iter());
            for (name, value) in arguments.iter().chain(directive_arguments) {
                // Variables count as null here: they are checked with the request's variables.
                let literal = value
                    .node
                    .clone()
                    .into_const_with(|_| Ok::<_, ()>(Value::Null));
                if literal.is_ok_and(|literal| holds_nul(&literal)) {
                    return Err(DocumentRefusal::unstorable(name.node.to_string()));
                }
            }
            let selected = match &item.node {
                Selection::Field(field) => {
                    let below = self.selection_set(&field.node.selection_set.node)?;
                    let introspection = is_introspection(&field.node);
                    Shape {
                        fields: below.fields.saturating_add(1),
                        aliases: below
                            .aliases
                            .saturating_add(u64::from(field.node.alias.is_some())),
                        depth: if introspection { 0 } else { below.depth + 1 },
                        introspects: introspection || below.introspects,
                    }
                }
                Selection::InlineFragment(fragment) => {
                    self.selection_set(&fragment.node.selection_set.node)?
                }
                // An unknown fragment is left for validation to name.
                Selection::FragmentSpread(spread) => self
                    .fragments
                    .get(spread.node.fragment_name.node.as_str())
                    .copied()
                    .unwrap_or_default(),
            };
            shape = shape.beside(selected);
        }
        Ok(shape)
    }
}

/// The fragments a selection set spreads, itself and through its fields and inline fragments.
fn spreads_in<'a>(set: &'a SelectionSet, found: &mut HashSet<&'a str>) {
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => spreads_in(&field.node.selection_set.node, found),
            Selection::InlineFragment(fragment) => {
                spreads_in(&fragment.node.selection_set.node, found)
            }
            Selection::FragmentSpread(spread) => {
                found.insert(spread.node.fragment_name.node.as_str());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    fn shape(text: &str) -> Result<Shape, DocumentRefusal> {
        measure(&parse_query(text).unwrap(), &Limits::default())
    }

    #[test]
    fn fragments_count_once_for_every_place_they_are_spread() {
        let shape = shape(
            "{ ...A ...A } fragment A on QueryRoot { x: platforms { code } ...B ...B }
             fragment B on QueryRoot { y: sources { code } }",
        )
        .unwrap();
        // A = 2 + 2 × B(2) = 6 fields, 1 + 2 aliases; spread twice.
        assert_eq!((shape.fields, shape.aliases, shape.depth), (12, 6, 2));
    }

    #[test]
    fn a_document_that_doubles_at_every_level_saturates_instead_of_expanding() {
        let mut text = String::from("{ ...F0 }");
        for level in 0..80 {
            text.push_str(&format!(
                " fragment F{level} on QueryRoot {{ a: __typename ...F{next} ...F{next} }}",
                next = level + 1
            ));
        }
        text.push_str(" fragment F80 on QueryRoot { __typename }");
        let shape = shape(&text).unwrap();
        assert_eq!(shape.fields, u64::MAX);
        assert_eq!(shape.aliases, u64::MAX);
        let refused = check_document(&parse_query(&text).unwrap(), &Limits::default());
        assert_eq!(refused.unwrap_err().code, "TOO_MANY_FIELDS");
    }

    #[test]
    fn fragments_that_spread_each_other_in_a_cycle_are_refused() {
        let refused = shape(
            "{ ...A } fragment A on QueryRoot { ...B } fragment B on QueryRoot { code ...A }",
        )
        .unwrap_err();
        assert_eq!(refused.code, "GRAPHQL_VALIDATION_FAILED");
        assert!(
            refused.message.to_string().contains("A, B"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn introspection_nesting_does_not_count_toward_depth() {
        let text = format!(
            "{{ __schema {{ types {{ fields {{ type {}name{} }} }} }} }}",
            "{ ofType ".repeat(9),
            " }".repeat(9)
        );
        let shape = shape(&text).unwrap();
        assert_eq!(shape.depth, 0);
        assert!(shape.introspects);
        let deep = format!(
            "{{ platforms {}code{} }}",
            "{ metrics { platform ".repeat(7),
            " } }".repeat(7)
        );
        assert_eq!(self::shape(&deep).unwrap().depth, 15);
        assert!(
            !self::shape("{ platforms { __typename } }")
                .unwrap()
                .introspects
        );
    }

    #[test]
    fn directives_are_counted_per_selection() {
        let many = format!(
            "{{ platforms {} {{ code }} }}",
            "@skip(if: false) ".repeat(6)
        );
        assert_eq!(shape(&many).unwrap_err().code, "TOO_MANY_DIRECTIVES");
        assert!(shape("{ platforms @skip(if: false) @include(if: true) { code } }").is_ok());
    }

    #[test]
    fn text_the_database_cannot_store_is_refused_naming_the_argument() {
        let refused = shape("{ platform(code: \"a\\u0000b\") { code } }").unwrap_err();
        assert_eq!(
            (refused.code, refused.argument.as_deref()),
            ("BAD_USER_INPUT", Some("code"))
        );
        let variables = Variables::from_json(serde_json::json!({
            "input": [{ "quote": "fine" }, { "quote": "a\u{0}b" }]
        }));
        let refused = check_variables(&variables).unwrap_err();
        assert_eq!(refused.argument.as_deref(), Some("$input"));
        assert!(check_variables(&Variables::from_json(serde_json::json!({ "s": "fine" }))).is_ok());
    }

    #[test]
    fn tokens_are_counted_on_the_text_and_counting_stops_at_the_limit() {
        assert_eq!(count_tokens("{ platforms { code } }", 100), Some(6));
        assert_eq!(
            count_tokens(
                "query Q($a: Int = -1.5e3) { x(s: \"a \\\" b\", t: \"\"\"x\"\"\") ...F } # c",
                100
            ),
            Some(23)
        );
        assert_eq!(count_tokens(&"code ".repeat(1_000_000), 10_000), None);
    }
}
