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
//! Per-field extension hooks are not called on this path: the schemas that execute have none
//! (see `schema::build_schema`).

use std::borrow::Cow;

use async_graphql::connection::Connection;
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{resolve_container, ContainerType};
use async_graphql::{
    Context, ContextSelectionSet, ObjectType, OutputType, Positioned, ServerResult, Value,
};
use futures_util::future::join_all;

use super::PageCursor;

/// An object of the schema answered by [`resolve_plain`]: the same type to clients (name, fields,
/// descriptions), cheaper to execute. For objects at most one of whose fields waits.
pub(crate) struct Plain<T>(pub T);

impl<T: ContainerType> OutputType for Plain<T> {
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
pub(crate) async fn resolve_plain<'a, T: ContainerType>(
    ctx: &ContextSelectionSet<'a>,
    root: &'a T,
) -> ServerResult<Value> {
    let Some(fields) = plain_fields(ctx) else {
        return resolve_container(ctx, root).await;
    };
    let mut object = IndexMap::with_capacity(fields.len());
    for field in fields {
        let answer = if field.node.name.node == "__typename" {
            Ok(Some(Value::String(
                root.introspection_type_name().into_owned(),
            )))
        } else {
            root.resolve_field(&ctx.with_field(field)).await
        };
        // As async-graphql does: a field that failed is reported and left out.
        match answer {
            Ok(value) => {
                object.insert(
                    field.node.response_key().node.clone(),
                    value.unwrap_or_default(),
                );
            }
            Err(error) => ctx.add_error(error),
        }
    }
    Ok(if object.is_empty() {
        Value::Null
    } else {
        Value::Object(object)
    })
}

/// The fields of the selection when each is a field without directives and with its own response
/// key; none when anything needs the general executor.
fn plain_fields<'a>(ctx: &ContextSelectionSet<'a>) -> Option<Vec<&'a Positioned<Field>>> {
    let items = &ctx.item.node.items;
    let mut fields: Vec<&Positioned<Field>> = Vec::with_capacity(items.len());
    for item in items {
        let Selection::Field(field) = &item.node else {
            return None;
        };
        let key = &field.node.response_key().node;
        if !field.node.directives.is_empty()
            || fields
                .iter()
                .any(|seen| seen.node.response_key().node == *key)
        {
            return None;
        }
        fields.push(field);
    }
    Some(fields)
}

/// A Relay connection of service pages, its edges and nodes answered by [`resolve_plain`]
/// (async-graphql's own connection resolves each edge by its general executor); the same type
/// to clients.
pub(crate) struct PageConnection<N: ContainerType, F: ObjectType>(
    pub Connection<PageCursor, Plain<N>, F>,
);

impl<N: ContainerType, F: ObjectType> OutputType for PageConnection<N, F> {
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

impl<N: ContainerType, F: ObjectType> ContainerType for PageConnection<N, F> {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        if ctx.item.node.name.node != "edges" {
            return self.0.resolve_field(ctx).await;
        }
        let edges = ctx.with_selection_set(&ctx.item.node.selection_set);
        // As async-graphql resolves a list: every item at its index, the first error for all.
        let answers = join_all(self.0.edges.iter().enumerate().map(|(index, edge)| {
            let edges = edges.clone();
            async move {
                let at_index = edges.with_index(index);
                resolve_plain(&at_index, edge)
                    .await
                    .map_err(|error| at_index.set_error_path(error))
            }
        }))
        .await;
        Ok(Some(Value::List(
            answers.into_iter().collect::<ServerResult<_>>()?,
        )))
    }
}
