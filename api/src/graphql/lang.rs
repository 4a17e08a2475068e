//! The language names are given in: a field's `lang` argument, else the request's
//! `Accept-Language`, else Vietnamese.

use async_graphql::{Context, Enum};

use crate::messages::Lang;

/// A language a field can be asked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "Lang", remote = "crate::messages::Lang")]
pub enum LangChoice {
    /// Vietnamese.
    Vi,
    /// English.
    En,
}

/// The language a field answers in.
pub fn resolve(ctx: &Context<'_>, explicit: Option<LangChoice>) -> Lang {
    explicit
        .map(Lang::from)
        .or_else(|| ctx.data_opt::<Lang>().copied())
        .unwrap_or_default()
}
