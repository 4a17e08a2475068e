//! Objects answered without async-graphql's general object executor where a query asks them for
//! plain fields only.
//!
//! async-graphql resolves every object by boxing a future per field, polling them in a
//! `FuturesUnordered` and merging the answers key by key: general enough for fragments,
//! directives and repeated keys, and most of the cost of a page of small objects. Dashboards ask
//! for plain fields, and after the engine expands fragments so do most queries; for those the
//! fields are resolved by the object's own resolvers, one after the other, straight into the
//! answer's map. Anything else (a directive, a repeated response key, a fragment) goes to
//! async-graphql's executor, so answers and errors are the same either way.
//!
//! One after the other, not joined: a joined future moved each field's future (2.3 KB for a
//! figure) into the join, a tenth of a page's cost. It suits objects whose fields answer from
//! memory but at most one (a page's edges beside its `totalCount`, a figure's `revisions`):
//! objects of a list still run together, so relations batch as before, but two fields of one
//! object that each wait for the database would wait in turn.
//!
//! Lists of such objects ([`PlainList`], and a page's edges) are joined by chunks rather than as
//! async-graphql joins a long list (see [`PlainList`]).
//!
//! A list whose objects write every field asked, relations included, reads those relations for
//! all of them first ([`WrittenFields::read_ahead`]: platforms' operators and metrics from the
//! reference rows, the metrics' latest readings in one query) and is then written in one pass,
//! with no future per object or per field.
//!
//! Per-field and per-item extension hooks are not called on this path: the schemas that execute
//! have none (see `schema::build_schema`).

use std::borrow::Cow;

use async_graphql::connection::{Connection, CursorType, Edge, EmptyFields};
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{resolve_container, ContainerType};
use async_graphql::{
    Context, ContextSelectionSet, ObjectType, OutputType, Positioned, ServerResult, Value,
};
use futures_util::future::join_all;

use super::loaders::ReadAhead;
use super::written::{self, writes_json, FieldWriter, ObjectAnswer, WrittenFields};
use super::PageCursor;

/// An object of the schema answered by [`resolve_plain`]: the same type to clients (name, fields,
/// descriptions), cheaper to execute. For objects at most one of whose fields waits.
pub(crate) struct Plain<T>(pub T);

impl<T: ContainerType + WrittenFields> OutputType for Plain<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve_plain(ctx, &self.0).await
    }
}

/// The selected fields of `root`, each by the object's own resolver, or the whole object by
/// async-graphql's executor when the selection is more than plain fields.
pub(crate) async fn resolve_plain<'a, T: ContainerType + WrittenFields>(
    ctx: &ContextSelectionSet<'a>,
    root: &'a T,
) -> ServerResult<Value> {
    let fields = plain_fields(ctx);
    let fields = fields.as_deref();
    let json = writes_json(ctx);
    if let Some(fields) = fields.filter(|_| json) {
        if let Some(ahead) = T::read_ahead(ctx, std::slice::from_ref(root), fields).await {
            let mut out = Vec::with_capacity(written::OBJECT_BYTES);
            if write_object(root, fields.iter().copied(), Some(&ahead), &mut out) {
                return Ok(Value::Binary(out.into()));
            }
        }
    }
    resolve_selected(ctx, root, fields, json).await
}

/// `root` by its plain `fields` if the selection is only those, else by async-graphql's
/// executor.
async fn resolve_selected<'a, T: ContainerType + WrittenFields>(
    ctx: &ContextSelectionSet<'a>,
    root: &'a T,
    fields: Option<&[&'a Positioned<Field>]>,
    json: bool,
) -> ServerResult<Value> {
    match fields {
        Some(fields) => resolve_fields(ctx, root, fields, json).await,
        None => resolve_container(ctx, root).await,
    }
}

/// `fields` of `root`, each by the object's own resolver, in order; written as JSON if `json`.
async fn resolve_fields<'a, T: ContainerType + WrittenFields>(
    ctx: &ContextSelectionSet<'a>,
    root: &'a T,
    fields: &[&'a Positioned<Field>],
    json: bool,
) -> ServerResult<Value> {
    let mut object = ObjectAnswer::new(json, fields.len());
    for &field in fields {
        if object.written_field(root, &field.node) {
            continue;
        }
        let key = &field.node.response_key().node;
        let answer = if field.node.name.node == "__typename" {
            Ok(Some(Value::String(
                root.introspection_type_name().into_owned(),
            )))
        } else {
            root.resolve_field(&ctx.with_field(field)).await
        };
        // As async-graphql does: a field that failed is reported and left out.
        match answer {
            Ok(value) => object.field(key, value.unwrap_or_default()),
            Err(error) => ctx.add_error(error),
        }
    }
    Ok(object.finish())
}

/// `root` as a JSON object of its `fields`, each written by `root` itself ([`WrittenFields`]),
/// relations too if they were read `ahead`; false, having written nothing, as soon as one is
/// not. Synchronous: no future, no answer of its own to copy, for objects whose every field
/// asked is written.
fn write_object<'f, T: OutputType + WrittenFields>(
    root: &T,
    fields: impl IntoIterator<Item = &'f Positioned<Field>>,
    ahead: Option<&ReadAhead>,
    out: &mut Vec<u8>,
) -> bool {
    write_fields(
        fields,
        T::type_name,
        |field, out| write_one(root, ahead, field, out),
        out,
    )
}

fn write_one<T: WrittenFields>(
    root: &T,
    ahead: Option<&ReadAhead>,
    field: &Field,
    out: &mut Vec<u8>,
) -> bool {
    match ahead {
        Some(ahead) => root.write_field_ahead(ahead, field, out),
        None => root.write_field(field, out),
    }
}

/// An object of the type `type_name` names, as a JSON object of its `fields`, each written by
/// `write`; false, having written nothing, as soon as one is not.
fn write_fields<'f>(
    fields: impl IntoIterator<Item = &'f Positioned<Field>>,
    type_name: fn() -> Cow<'static, str>,
    mut write: impl FnMut(&Field, &mut Vec<u8>) -> bool,
    out: &mut Vec<u8>,
) -> bool {
    let before = out.len();
    let mut first = true;
    for field in fields {
        written::push_member_key(out, first, &field.node.response_key().node);
        first = false;
        let written = if field.node.name.node == "__typename" {
            written::write_string(out, &type_name());
            true
        } else {
            write(&field.node, out)
        };
        if !written {
            out.truncate(before);
            return false;
        }
    }
    if first {
        return false;
    }
    out.push(b'}');
    true
}

/// `root` as a JSON object of what `selection` asks, when it asks plain fields only and `root`
/// writes each; false, having written nothing, otherwise. Nothing is allocated: a page's edges
/// write their figures one after the other.
pub(crate) fn write_selected<T: OutputType + WrittenFields>(
    root: &T,
    selection: &SelectionSet,
    out: &mut Vec<u8>,
) -> bool {
    is_plain(selection) && write_object(root, fields_of(selection), None, out)
}

/// As [`write_selected`], relations included: they were read `ahead`.
pub(crate) fn write_selected_ahead<T: OutputType + WrittenFields>(
    root: &T,
    ahead: &ReadAhead,
    selection: &SelectionSet,
    out: &mut Vec<u8>,
) -> bool {
    is_plain(selection) && write_object(root, fields_of(selection), Some(ahead), out)
}

/// A row of the reference snapshot as an object of `T` (a wrapper of such rows), written in
/// place by `write` (what `T` writes of its row) rather than from a copy of the row in a `T`.
pub(crate) fn write_row<T: OutputType>(
    selection: &SelectionSet,
    write: impl FnMut(&Field, &mut Vec<u8>) -> bool,
    out: &mut Vec<u8>,
) -> bool {
    is_plain(selection) && write_fields(fields_of(selection), T::type_name, write, out)
}

/// Rows of the reference snapshot as a JSON list of objects of `T`, each written in place as
/// [`write_row`] writes one.
pub(crate) fn write_rows<'r, T: OutputType, R: 'r>(
    rows: impl IntoIterator<Item = &'r R>,
    selection: &SelectionSet,
    write: impl FnMut(&R, &Field, &mut Vec<u8>) -> bool,
    out: &mut Vec<u8>,
) -> bool {
    if !is_plain(selection) {
        return false;
    }
    let fields: Vec<_> = fields_of(selection).collect();
    write_items(rows, &fields, T::type_name, write, out)
}

/// Whether `T` writes every field `selection` asks, relations read ahead included
/// ([`WrittenFields::writes`]).
pub(crate) fn writes_selected<T: WrittenFields>(selection: &SelectionSet) -> bool {
    is_plain(selection) && fields_of(selection).all(writes::<T>)
}

/// Whether `T` writes every one of the plain `fields`, relations read ahead included.
pub(crate) fn writes_all<T: WrittenFields>(fields: &[&Positioned<Field>]) -> bool {
    fields.iter().all(|field| writes::<T>(field))
}

fn writes<T: WrittenFields>(field: &Positioned<Field>) -> bool {
    field.node.name.node == "__typename" || T::writes(&field.node)
}

/// The fields of the selection when each is a field without directives and with its own response
/// key; none when anything needs the general executor.
fn plain_fields<'a>(ctx: &ContextSelectionSet<'a>) -> Option<Vec<&'a Positioned<Field>>> {
    let selection = &ctx.item.node;
    is_plain(selection).then(|| fields_of(selection).collect())
}

/// Whether each item of the selection is a field without directives and with its own response
/// key.
pub(crate) fn is_plain(selection: &SelectionSet) -> bool {
    let items = &selection.items;
    items.iter().enumerate().all(|(at, item)| {
        let Selection::Field(field) = &item.node else {
            return false;
        };
        let key = &field.node.response_key().node;
        field.node.directives.is_empty()
            && !fields_of_items(&items[..at]).any(|seen| seen.node.response_key().node == *key)
    })
}

pub(crate) fn fields_of(selection: &SelectionSet) -> impl Iterator<Item = &Positioned<Field>> {
    fields_of_items(&selection.items)
}

fn fields_of_items(items: &[Positioned<Selection>]) -> impl Iterator<Item = &Positioned<Field>> {
    items.iter().filter_map(|item| match &item.node {
        Selection::Field(field) => Some(field),
        _ => None,
    })
}

/// A Relay connection of service pages, its edges and nodes answered by [`resolve_plain`]
/// (async-graphql's own connection resolves each edge by its general executor); the same type
/// to clients.
pub(crate) struct PageConnection<N: ContainerType + WrittenFields, F: ObjectType>(
    pub Connection<PageCursor, Plain<N>, F>,
);

impl<N: ContainerType + WrittenFields, F: ObjectType> OutputType for PageConnection<N, F> {
    fn type_name() -> Cow<'static, str> {
        Connection::<PageCursor, Plain<N>, F>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Connection::<PageCursor, Plain<N>, F>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve_plain(ctx, self).await
    }
}

impl<N: ContainerType + WrittenFields, F: ObjectType> ContainerType for PageConnection<N, F> {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        if ctx.item.node.name.node != "edges" {
            return self.0.resolve_field(ctx).await;
        }
        let edges = ctx.with_selection_set(&ctx.item.node.selection_set);
        resolve_plain_list(&edges, &self.0.edges).await.map(Some)
    }
}

/// Its edges, when each edge's fields are laid out (see [`Layout`]); the page's other fields
/// are left to its resolvers.
impl<N: ContainerType + WrittenFields, F: ObjectType> WrittenFields for PageConnection<N, F> {
    fn write_field(&self, field: &Field, out: &mut Vec<u8>) -> bool {
        field.name.node == "edges"
            && Layout::<Edge<PageCursor, Plain<N>, EmptyFields>>::of(&field.selection_set.node)
                .is_some_and(|edge| edge.write_list(&self.0.edges, out))
    }
}

/// An edge writes its node when every field asked of the node is written.
impl<N: ContainerType + WrittenFields, F: ObjectType> WrittenFields
    for Edge<PageCursor, Plain<N>, F>
{
    fn write_field(&self, field: &Field, out: &mut Vec<u8>) -> bool {
        field.name.node == "node" && write_selected(&self.node.0, &field.selection_set.node, out)
    }

    /// Its node, by the node's layout, and its cursor.
    fn field_writer<'f>(field: &'f Field) -> Option<FieldWriter<'f, Self>>
    where
        Self: 'f,
    {
        match field.name.node.as_str() {
            "node" => {
                let node = Layout::<N>::of(&field.selection_set.node)?;
                Some(Box::new(move |edge: &Self, out: &mut Vec<u8>| {
                    node.write(&edge.node.0, out)
                }))
            }
            "cursor" => Some(Box::new(|edge: &Self, out: &mut Vec<u8>| {
                written::write_string(out, &edge.cursor.encode_cursor());
                true
            })),
            _ => None,
        }
    }
}

/// A list of objects answered by [`resolve_plain`]; the same type to clients as a `Vec` of
/// [`Plain`] objects.
///
/// async-graphql joins a list's items through a `FuturesOrdered` past 30 of them, which moves
/// each item's future into a task of its own. Here they are joined by chunks of 30, each on
/// `join_all`'s small path (the futures side by side in one slice), and the chunks joined
/// together: every item still runs with the others, so that relations batch as before.
pub(crate) struct PlainList<T>(pub Vec<T>);

/// Items `join_all` joins side by side; past this it uses a `FuturesOrdered`.
const SIDE_BY_SIDE: usize = 30;

impl<T: ContainerType + WrittenFields> OutputType for PlainList<T> {
    fn type_name() -> Cow<'static, str> {
        Vec::<Plain<T>>::type_name()
    }

    fn qualified_type_name() -> String {
        Vec::<Plain<T>>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Vec::<Plain<T>>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve_plain_list(ctx, &self.0).await
    }
}

/// Every item as [`resolve_plain`] answers it, at its index, the first error for all, as async-graphql
/// resolves a list; joined by chunks (see [`PlainList`]). The items share their selection and
/// their request, read once for all.
async fn resolve_plain_list<'a, T: ContainerType + WrittenFields>(
    ctx: &ContextSelectionSet<'a>,
    items: &'a [T],
) -> ServerResult<Value> {
    let json = writes_json(ctx);
    if json {
        if let Some(written) = Layout::<T>::of(&ctx.item.node).and_then(|at| at.list(items)) {
            return Ok(written);
        }
    }
    let fields = plain_fields(ctx);
    let fields = fields.as_deref();
    if let Some(fields) = fields.filter(|_| json) {
        let ahead = T::read_ahead(ctx, items, fields).await;
        if let Some(written) = write_list(items, fields, ahead.as_ref()) {
            return Ok(written);
        }
    }
    let mut chunks = items
        .chunks(SIDE_BY_SIDE)
        .enumerate()
        .map(|(chunk, items)| {
            join_all(items.iter().enumerate().map(move |(index, item)| {
                let index = chunk * SIDE_BY_SIDE + index;
                async move {
                    let at_index = ctx.with_index(index);
                    resolve_selected(&at_index, item, fields, json)
                        .await
                        .map_err(|error| at_index.set_error_path(error))
                }
            }))
        });
    let answers = if items.len() <= SIDE_BY_SIDE {
        match chunks.next() {
            Some(only) => only.await,
            None => Vec::new(),
        }
    } else {
        join_all(chunks).await.into_iter().flatten().collect()
    };
    let answers = answers.into_iter().collect::<ServerResult<_>>()?;
    Ok(written::list(json, answers))
}

/// Objects of `T` asked the same plain fields, each of which `T` writes by a
/// [`FieldWriter`]: their JSON laid out once for a list (keys, commas, `__typename`), and each
/// field's writer chosen once, rather than matched by name in every object of the list.
pub(crate) struct Layout<'f, T> {
    /// The text before each value, and the value's writer.
    values: Vec<(Vec<u8>, FieldWriter<'f, T>)>,
    /// The text after the last value.
    end: Vec<u8>,
}

impl<'f, T: OutputType + WrittenFields + 'f> Layout<'f, T> {
    /// The layout of what `selection` asks; none when it asks more than plain fields or a
    /// field that `T` has no writer for.
    pub fn of(selection: &'f SelectionSet) -> Option<Self> {
        if !is_plain(selection) {
            return None;
        }
        let mut values = Vec::new();
        let mut text = Vec::new();
        for (at, field) in fields_of(selection).enumerate() {
            written::push_member_key(&mut text, at == 0, &field.node.response_key().node);
            if field.node.name.node == "__typename" {
                written::write_string(&mut text, &T::type_name());
            } else {
                values.push((std::mem::take(&mut text), T::field_writer(&field.node)?));
            }
        }
        if text.is_empty() && values.is_empty() {
            return None;
        }
        text.push(b'}');
        Some(Self { values, end: text })
    }

    /// `item` as a JSON object; false, having written nothing, when a writer refuses it.
    pub fn write(&self, item: &T, out: &mut Vec<u8>) -> bool {
        let before = out.len();
        for (text, write) in &self.values {
            out.extend_from_slice(text);
            if !write(item, out) {
                out.truncate(before);
                return false;
            }
        }
        out.extend_from_slice(&self.end);
        true
    }

    /// `items` as a JSON list; none when a writer refuses one.
    fn list(&self, items: &[T]) -> Option<Value> {
        let mut out = Vec::with_capacity(items.len() * written::OBJECT_BYTES + 2);
        self.write_list(items, &mut out)
            .then(|| Value::Binary(out.into()))
    }

    /// `items` as a JSON list appended to `out`; false, having written nothing, when a writer
    /// refuses one.
    fn write_list(&self, items: &[T], out: &mut Vec<u8>) -> bool {
        let before = out.len();
        out.push(b'[');
        for (index, item) in items.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            if !self.write(item, out) {
                out.truncate(before);
                return false;
            }
        }
        out.push(b']');
        true
    }
}

/// Every item written by [`write_object`], as one JSON list; none when an item is not.
fn write_list<T: ContainerType + WrittenFields>(
    items: &[T],
    fields: &[&Positioned<Field>],
    ahead: Option<&ReadAhead>,
) -> Option<Value> {
    let mut out = Vec::with_capacity(items.len() * written::OBJECT_BYTES + 2);
    let write = |item: &T, field: &Field, out: &mut Vec<u8>| write_one(item, ahead, field, out);
    write_items(items, fields, T::type_name, write, &mut out).then(|| Value::Binary(out.into()))
}

/// Every item as a JSON object of `fields` of the type `type_name` names, each field written by
/// `write`, as a JSON list appended to `out`; false, having written nothing, when an item is not
/// written.
fn write_items<'r, R: 'r>(
    items: impl IntoIterator<Item = &'r R>,
    fields: &[&Positioned<Field>],
    type_name: fn() -> Cow<'static, str>,
    mut write: impl FnMut(&R, &Field, &mut Vec<u8>) -> bool,
    out: &mut Vec<u8>,
) -> bool {
    let before = out.len();
    out.push(b'[');
    for (index, item) in items.into_iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        let write = |field: &Field, out: &mut Vec<u8>| write(item, field, out);
        if !write_fields(fields.iter().copied(), type_name, write, out) {
            out.truncate(before);
            return false;
        }
    }
    out.push(b']');
    true
}
