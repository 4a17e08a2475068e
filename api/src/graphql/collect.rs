//! Fields collected as the GraphQL specification collects them, and answers in the order asked.
//!
//! async-graphql resolves each occurrence of a response key separately (a field selected twice,
//! or once directly and once through a fragment) and merges the answers as they finish, and it
//! writes an object's fields in the order they finish. The same request could then get different
//! answers: a field that failed in one occurrence and not in the other came back as `null` or as
//! an object depending on timing, and fields came back in any order. Here a validated document
//! is rewritten so that each response key appears once in each selection set, with the
//! selections of all its occurrences merged (fragments inlined, `@skip` and `@include` decided
//! with the request's variables), and answers are put back in the order the document asks.

use std::collections::HashMap;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationType, Selection, SelectionSet,
    TypeKind, TypeSystemDefinition,
};
use async_graphql::parser::Positioned;
use async_graphql::{Name, Value, Variables};

/// The type each field of each object type returns, read once from the schema's SDL.
#[derive(Debug, Default)]
pub struct FieldTypes(HashMap<String, HashMap<String, String>>);

impl FieldTypes {
    pub fn of(sdl: &str) -> Self {
        let Ok(document) = async_graphql::parser::parse_schema(sdl) else {
            return Self::default();
        };
        let mut types = HashMap::new();
        for definition in document.definitions {
            let TypeSystemDefinition::Type(definition) = definition else {
                continue;
            };
            let TypeKind::Object(object) = &definition.node.kind else {
                continue;
            };
            let fields = object
                .fields
                .iter()
                .map(|field| {
                    let mut ty = &field.node.ty.node;
                    while let async_graphql::parser::types::BaseType::List(inner) = &ty.base {
                        ty = inner;
                    }
                    (field.node.name.node.to_string(), ty.base.to_string())
                })
                .collect();
            types.insert(definition.node.name.node.to_string(), fields);
        }
        Self(types)
    }

    fn field(&self, object: &str, field: &str) -> Option<&str> {
        self.0.get(object)?.get(field).map(String::as_str)
    }
}

/// Whether async-graphql could answer `document` differently from one run to the next: it
/// spreads fragments, uses inline fragments, or selects a response key twice somewhere.
pub fn needs_collecting(document: &ExecutableDocument) -> bool {
    // Compared with the keys before each, as selection sets are short: nothing is allocated.
    fn repeats(set: &SelectionSet) -> bool {
        set.items.iter().enumerate().any(|(at, item)| match &item.node {
            Selection::Field(field) => {
                let key = &field.node.response_key().node;
                let twice = set.items[..at].iter().any(|before| {
                    matches!(&before.node, Selection::Field(seen) if seen.node.response_key().node == *key)
                });
                twice || repeats(&field.node.selection_set.node)
            }
            _ => true,
        })
    }
    !document.fragments.is_empty()
        || document
            .operations
            .iter()
            .any(|(_, operation)| repeats(&operation.node.selection_set.node))
}

/// The operation `document` runs, rewritten with every response key once per selection set;
/// `None` when it cannot be rewritten with certainty (a subscription, introspection, a directive
/// other than `@skip` and `@include` on a fragment, a field the schema does not know): it then
/// runs as it is.
pub fn collect_fields(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    types: &FieldTypes,
) -> Option<ExecutableDocument> {
    let (name, operation) = match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => (None, operation),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            let (name, operation) = operations.get_key_value(name)?;
            (Some(name.clone()), operation)
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            let (name, operation) = operations.iter().next()?;
            (Some(name.clone()), operation)
        }
        _ => return None,
    };
    let root = match operation.node.ty {
        OperationType::Query => "QueryRoot",
        OperationType::Mutation => "MutationRoot",
        OperationType::Subscription => return None,
    };
    let collector = Collector {
        document,
        variables,
        types,
    };
    let selection_set = collector.collect(&operation.node.selection_set, root, 0)?;
    let mut operation = operation.clone();
    operation.node.selection_set = selection_set;
    Some(ExecutableDocument {
        operations: match name {
            Some(name) => DocumentOperations::Multiple(HashMap::from([(name, operation)])),
            None => DocumentOperations::Single(operation),
        },
        fragments: HashMap::new(),
    })
}

struct Collector<'a> {
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    types: &'a FieldTypes,
}

/// Deeper than any document the limits let through: a guard, not a limit.
const MAX_NESTING: usize = 128;

impl Collector<'_> {
    fn collect(
        &self,
        set: &Positioned<SelectionSet>,
        object: &str,
        nesting: usize,
    ) -> Option<Positioned<SelectionSet>> {
        if nesting > MAX_NESTING {
            return None;
        }
        let mut fields: Vec<Positioned<Field>> = Vec::new();
        self.gather(&set.node, object, &mut fields, nesting)?;
        for field in &mut fields {
            if field.node.selection_set.node.items.is_empty() {
                continue;
            }
            let name = field.node.name.node.as_str();
            if name.starts_with("__") {
                return None;
            }
            let child = self.types.field(object, name)?;
            field.node.selection_set =
                self.collect(&field.node.selection_set, child, nesting + 1)?;
        }
        Some(Positioned::new(
            SelectionSet {
                items: fields
                    .into_iter()
                    .map(|field| {
                        let pos = field.pos;
                        Positioned::new(Selection::Field(field), pos)
                    })
                    .collect(),
            },
            set.pos,
        ))
    }

    /// Adds the fields `set` selects on `object` to `fields`, merging each into an earlier field
    /// of the same response key.
    fn gather(
        &self,
        set: &SelectionSet,
        object: &str,
        fields: &mut Vec<Positioned<Field>>,
        nesting: usize,
    ) -> Option<()> {
        if nesting > MAX_NESTING {
            return None;
        }
        for item in &set.items {
            if !self.included(item.node.directives())? {
                continue;
            }
            match &item.node {
                Selection::Field(field) => {
                    let key = field.node.response_key().node.clone();
                    let earlier = fields
                        .iter_mut()
                        .find(|f| f.node.response_key().node == key);
                    match earlier {
                        Some(earlier) => {
                            // Validation refused different fields under one key: this is the
                            // same field asked twice.
                            if earlier.node.name.node != field.node.name.node
                                || !same_arguments(&earlier.node, &field.node)
                            {
                                return None;
                            }
                            earlier
                                .node
                                .selection_set
                                .node
                                .items
                                .extend(field.node.selection_set.node.items.iter().cloned());
                        }
                        None => {
                            let mut field = field.clone();
                            field.node.directives.clear();
                            fields.push(field);
                        }
                    }
                }
                Selection::InlineFragment(fragment) => {
                    if let Some(condition) = &fragment.node.type_condition {
                        if condition.node.on.node.as_str() != object {
                            return None;
                        }
                    }
                    self.gather(
                        &fragment.node.selection_set.node,
                        object,
                        fields,
                        nesting + 1,
                    )?;
                }
                Selection::FragmentSpread(spread) => {
                    let fragment = self
                        .document
                        .fragments
                        .get(&spread.node.fragment_name.node)?;
                    if fragment.node.type_condition.node.on.node.as_str() != object
                        || !fragment.node.directives.is_empty()
                    {
                        return None;
                    }
                    self.gather(
                        &fragment.node.selection_set.node,
                        object,
                        fields,
                        nesting + 1,
                    )?;
                }
            }
        }
        Some(())
    }

    /// Whether `@skip` and `@include` let a selection through; `None` for any other directive
    /// or an `if` that is not a boolean.
    fn included(
        &self,
        directives: &[Positioned<async_graphql::parser::types::Directive>],
    ) -> Option<bool> {
        let mut included = true;
        for directive in directives {
            let skip = match directive.node.name.node.as_str() {
                "skip" => true,
                "include" => false,
                _ => return None,
            };
            let condition = directive
                .node
                .get_argument("if")?
                .node
                .clone()
                .into_const_with(|name| self.variables.get(&name).cloned().ok_or(()))
                .ok()?;
            let Value::Boolean(condition) = condition else {
                return None;
            };
            included &= condition != skip;
        }
        Some(included)
    }
}

fn same_arguments(a: &Field, b: &Field) -> bool {
    a.arguments.len() == b.arguments.len()
        && a.arguments.iter().all(|(name, value)| {
            b.arguments.iter().any(|(other, other_value)| {
                other.node == name.node && other_value.node == value.node
            })
        })
}

/// Puts the fields of every object in `data` in the order `set` asks for them (fragment-free,
/// each response key once: a collected document, or one that needed no collecting).
///
/// It runs on every answer, over every item of every list, so it allocates nothing: an object
/// already in order (almost every one) is only walked.
pub fn order(data: &mut Value, set: &SelectionSet) {
    match data {
        Value::List(items) => items.iter_mut().for_each(|item| order(item, set)),
        Value::Object(object) => {
            let fields = || {
                set.items.iter().filter_map(|item| match &item.node {
                    Selection::Field(field) => Some(&field.node),
                    _ => None,
                })
            };
            // Most objects hold every field asked, in order: matched pairwise, with no search.
            let in_step = object.len() == fields().count()
                && object
                    .keys()
                    .zip(fields())
                    .all(|(key, field)| field.response_key().node == *key);
            if in_step {
                for (value, field) in object.values_mut().zip(fields()) {
                    order_within(value, field);
                }
                return;
            }
            let position = |key: &Name| fields().position(|f| f.response_key().node == *key);
            if !object.keys().map(position).is_sorted() {
                object.sort_by(|a, _, b, _| position(a).cmp(&position(b)));
            }
            for (key, value) in object.iter_mut() {
                if let Some(field) = fields().find(|f| f.response_key().node == *key) {
                    order_within(value, field);
                }
            }
        }
        _ => {}
    }
}

/// Orders the answer of one field by its own selection, if it has one.
fn order_within(value: &mut Value, field: &Field) {
    let child = &field.selection_set.node;
    if !child.items.is_empty() {
        order(value, child);
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    fn types() -> FieldTypes {
        FieldTypes::of(&crate::graphql::schema_sdl())
    }

    fn collected(text: &str, variables: serde_json::Value) -> String {
        let document = parse_query(text).unwrap();
        let collected =
            collect_fields(&document, None, &Variables::from_json(variables), &types()).unwrap();
        let DocumentOperations::Single(operation) = collected.operations else {
            panic!("one operation");
        };
        fn render(set: &SelectionSet) -> String {
            set.items
                .iter()
                .map(|item| match &item.node {
                    Selection::Field(field) => {
                        let children = &field.node.selection_set.node;
                        let key = field.node.response_key().node.as_str();
                        if children.items.is_empty() {
                            key.to_owned()
                        } else {
                            format!("{key} {{ {} }}", render(children))
                        }
                    }
                    _ => "fragment".to_owned(),
                })
                .collect::<Vec<_>>()
                .join(" ")
        }
        render(&operation.node.selection_set.node)
    }

    #[test]
    fn occurrences_of_a_key_are_merged_and_fragments_inlined_in_document_order() {
        assert_eq!(
            collected(
                "{ platforms { code metrics { code } } ...P platforms { metrics { kind } ... on Platform { name } } }
                 fragment P on QueryRoot { sources { code } platforms { code } }",
                serde_json::json!({})
            ),
            "platforms { code metrics { code kind } name } sources { code }"
        );
    }

    #[test]
    fn skip_and_include_are_decided_with_the_variables() {
        assert_eq!(
            collected(
                "query($no: Boolean!) { platforms { code @skip(if: $no) name @include(if: $no) } sources @include(if: true) { code } }",
                serde_json::json!({ "no": true })
            ),
            "platforms { name } sources { code }"
        );
    }

    #[test]
    fn what_cannot_be_rewritten_with_certainty_is_left_as_it_is() {
        let variables = Variables::default();
        for text in [
            "{ a: platforms { code } a: sources { code } }",
            "{ platform(code: \"e-cabinet\") { code } platform(code: \"x\") { code } }",
            "{ platforms { ... on Metric { code } } }",
            "{ platforms { code @deprecated } }",
            "{ __schema { types { name } } }",
            "subscription { observationRecorded { sequence } }",
        ] {
            let document = parse_query(text).unwrap();
            assert!(
                collect_fields(&document, None, &variables, &types()).is_none(),
                "{text}"
            );
        }
    }

    #[test]
    fn answers_follow_the_order_the_document_asks() {
        let document = parse_query("{ b a { y x } }").unwrap();
        let DocumentOperations::Single(operation) = &document.operations else {
            panic!("one operation");
        };
        let mut data =
            Value::from_json(serde_json::json!({ "a": [{ "x": 1, "y": 2 }], "b": 3 })).unwrap();
        order(&mut data, &operation.node.selection_set.node);
        assert_eq!(
            serde_json::to_string(&data).unwrap(),
            r#"{"b":3,"a":[{"y":2,"x":1}]}"#
        );
    }

    #[test]
    fn objects_in_order_have_their_own_fields_ordered_and_a_missing_field_changes_nothing() {
        let ordered = |text: &str, data: serde_json::Value| {
            let document = parse_query(text).unwrap();
            let DocumentOperations::Single(operation) = &document.operations else {
                panic!("one operation");
            };
            let mut data = Value::from_json(data).unwrap();
            order(&mut data, &operation.node.selection_set.node);
            serde_json::to_string(&data).unwrap()
        };
        assert_eq!(
            ordered(
                "{ a { y x } b }",
                serde_json::json!({ "a": [{ "x": 1, "y": 2 }], "b": 3 })
            ),
            r#"{"a":[{"y":2,"x":1}],"b":3}"#
        );
        // A field that failed is left out of its object; the others keep the document's order.
        assert_eq!(
            ordered(
                "{ c a { y x } b }",
                serde_json::json!({ "b": 3, "a": { "x": 1, "y": 2 } })
            ),
            r#"{"a":{"y":2,"x":1},"b":3}"#
        );
    }
}
