use sea_orm::entity::prelude::*;

/// An article a figure was taken from.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "source")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Stable identifier, e.g. `article-001`.
    #[sea_orm(unique)]
    pub code: String,
    /// The article's file name under `shared/articles/`.
    pub file_name: String,
    pub title: Option<String>,
    pub outlet: String,
    /// True when the outlet is not named in the text and was inferred from it.
    pub outlet_inferred: bool,
    pub published_on: Option<Date>,
    /// True when the publication date was inferred rather than printed.
    pub published_on_inferred: bool,
    /// BCP 47 tag of the article's language.
    pub language: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
