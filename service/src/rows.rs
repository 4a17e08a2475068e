//! Many rows written at once. PostgreSQL takes them as one array per column
//! (`INSERT … SELECT … FROM UNNEST(…)`): the statement's text is the same whatever the number of
//! rows, so it is prepared once, and it binds a parameter per column instead of one per value,
//! which is most of what building and sending a thousand-row insert costs. SQLite takes them as
//! values, as many rows a statement as its parameter limit allows.

use sea_orm::sea_query::{ArrayType, Value};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityName, EntityTrait,
    FromQueryResult, IdenStatic, IntoActiveModel, Iterable, ModelTrait, PrimaryKeyToColumn,
    Statement,
};

use crate::ROWS_PER_STATEMENT;

type ActiveOf<M> = <<M as ModelTrait>::Entity as EntityTrait>::ActiveModel;

/// Inserts the rows, each with the id the table assigns (whatever `id` they hold), and returns
/// them as stored, in no promised order.
pub async fn insert_returning<M>(db: &impl ConnectionTrait, rows: &[M]) -> Result<Vec<M>, DbErr>
where
    M: ModelTrait + IntoActiveModel<ActiveOf<M>> + FromQueryResult + Clone,
    M::Entity: EntityTrait<Model = M>,
{
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let statement = unnest(rows, &assigned_key::<M::Entity>(), true)?;
            M::Entity::find().from_raw_sql(statement).all(db).await
        }
        _ => {
            let mut stored = Vec::with_capacity(rows.len());
            for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                let inserted = M::Entity::insert_many(chunk.iter().map(without_key))
                    .exec_with_returning(db)
                    .await?;
                stored.extend(inserted);
            }
            Ok(stored)
        }
    }
}

/// Inserts the rows as they are, keys included.
pub async fn insert<M>(db: &impl ConnectionTrait, rows: &[M]) -> Result<(), DbErr>
where
    M: ModelTrait + IntoActiveModel<ActiveOf<M>> + Clone,
    M::Entity: EntityTrait<Model = M>,
{
    if rows.is_empty() {
        return Ok(());
    }
    match db.get_database_backend() {
        DbBackend::Postgres => {
            db.execute_raw(insert_statement(rows)?).await?;
        }
        _ => {
            for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                M::Entity::insert_many(chunk.iter().cloned().map(M::into_active_model))
                    .exec_without_returning(db)
                    .await?;
            }
        }
    }
    Ok(())
}

/// The PostgreSQL statement [`insert`] sends, for a caller that runs it inside a larger one.
pub(crate) fn insert_statement<M: ModelTrait>(rows: &[M]) -> Result<Statement, DbErr> {
    unnest(rows, &[], false)
}

fn assigned_key<E: EntityTrait>() -> Vec<&'static str> {
    E::PrimaryKey::iter()
        .map(|key| key.into_column().as_str())
        .collect()
}

fn without_key<M>(row: &M) -> ActiveOf<M>
where
    M: ModelTrait + IntoActiveModel<ActiveOf<M>> + Clone,
{
    let mut active = row.clone().into_active_model();
    for key in <M::Entity as EntityTrait>::PrimaryKey::iter() {
        active.not_set(key.into_column());
    }
    active
}

/// `INSERT INTO t (a, b) SELECT a, CASE WHEN b_null THEN NULL ELSE b END FROM UNNEST($1, $2,
/// $3) AS r(a, b, b_null)`: a nullable column is sent as its values (a placeholder where null)
/// and which of them are null, since an array parameter holds no nulls here.
fn unnest<M: ModelTrait>(
    rows: &[M],
    skipped: &[&str],
    returning: bool,
) -> Result<Statement, DbErr> {
    let mut values = Vec::new();
    let columns = Unnested::of(rows, skipped, "v", &mut values)?;
    let sql = format!(
        "INSERT INTO \"{}\" ({}) SELECT {} FROM UNNEST({}) AS r({}){}",
        M::Entity::default().table_name(),
        columns.names(),
        columns.selected(),
        columns.arrays(),
        columns.aliases(),
        if returning { " RETURNING *" } else { "" },
    );
    Ok(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
}

/// A table's columns sent as one array each (and, for a nullable one, an array of which values
/// are null): the parts of an `INSERT … SELECT … FROM UNNEST(…)`, for statements that write more
/// than one table at once.
pub(crate) struct Unnested {
    columns: Vec<UnnestedColumn>,
}

pub(crate) struct UnnestedColumn {
    /// The column's name.
    pub name: &'static str,
    /// Its placeholders with their types: the values, then which are null.
    pub arrays: Vec<String>,
    /// What `UNNEST` names the arrays.
    pub aliases: Vec<String>,
    /// The column's value in terms of the aliases.
    pub selected: String,
}

impl Unnested {
    /// The rows' columns but `skipped`, their placeholders numbered after the values already in
    /// `values` (to which theirs are added) and their aliases starting with `prefix`.
    pub(crate) fn of<M: ModelTrait>(
        rows: &[M],
        skipped: &[&str],
        prefix: &str,
        values: &mut Vec<Value>,
    ) -> Result<Self, DbErr> {
        let mut columns = Vec::new();
        for column in <M::Entity as EntityTrait>::Column::iter() {
            let name = column.as_str();
            if skipped.contains(&name) {
                continue;
            }
            let column_values: Vec<Value> = rows.iter().map(|row| row.get(column)).collect();
            let (array, sql_type, nulls) = array_of(name, column.def().is_null(), column_values)?;
            let alias = format!("{prefix}{}", columns.len());
            values.push(array);
            let mut arrays = vec![format!("${}::{sql_type}[]", values.len())];
            let (aliases, selected) = match nulls {
                Some(nulls) => {
                    values.push(nulls);
                    arrays.push(format!("${}::bool[]", values.len()));
                    let selected = format!("CASE WHEN {alias}_null THEN NULL ELSE {alias} END");
                    (vec![alias.clone(), format!("{alias}_null")], selected)
                }
                None => (vec![alias.clone()], alias),
            };
            columns.push(UnnestedColumn {
                name,
                arrays,
                aliases,
                selected,
            });
        }
        Ok(Self { columns })
    }

    /// The column named `name`.
    pub(crate) fn column(&self, name: &str) -> Option<&UnnestedColumn> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The columns' quoted names.
    pub(crate) fn names(&self) -> String {
        let quoted: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("\"{}\"", c.name))
            .collect();
        quoted.join(", ")
    }

    pub(crate) fn selected(&self) -> String {
        self.join(|c| std::slice::from_ref(&c.selected))
    }

    pub(crate) fn arrays(&self) -> String {
        self.join(|c| &c.arrays)
    }

    pub(crate) fn aliases(&self) -> String {
        self.join(|c| &c.aliases)
    }

    fn join(&self, part: impl Fn(&UnnestedColumn) -> &[String]) -> String {
        let parts: Vec<&str> = self
            .columns
            .iter()
            .flat_map(|c| part(c).iter().map(String::as_str))
            .collect();
        parts.join(", ")
    }
}

/// A column's values (at least one) as an array of its type, and for a nullable column which
/// are null (always sent, so that a table's statement has one text).
pub(crate) fn array_of(
    column: &str,
    nullable: bool,
    values: Vec<Value>,
) -> Result<(Value, &'static str, Option<Value>), DbErr> {
    let kind = values[0].array_type();
    let sql_type = match kind {
        ArrayType::Bool => "bool",
        ArrayType::Int => "int4",
        ArrayType::BigInt => "int8",
        ArrayType::String => "text",
        ArrayType::Decimal => "numeric",
        ArrayType::ChronoDateTimeUtc => "timestamptz",
        ArrayType::ChronoDate => "date",
        other => {
            return Err(DbErr::Custom(format!(
                "column {column} holds {other:?} values, which rows are not written as"
            )))
        }
    };
    let nulls: Vec<bool> = values.iter().map(|v| *v == v.as_null()).collect();
    if !nullable && nulls.contains(&true) {
        return Err(DbErr::Custom(format!("column {column} holds no value")));
    }
    // An array parameter holds no nulls: a null is sent as a placeholder of its type.
    let values = values
        .into_iter()
        .zip(&nulls)
        .map(|(v, &null)| if null { v.dummy_value() } else { v })
        .collect();
    let nulls = nullable.then(|| {
        Value::Array(
            ArrayType::Bool,
            Some(Box::new(nulls.into_iter().map(Value::from).collect())),
        )
    });
    Ok((Value::Array(kind, Some(Box::new(values))), sql_type, nulls))
}

#[cfg(test)]
mod tests {
    use super::*;
    use entity::observation;

    fn observation(agency_id: Option<i32>, period_start: bool) -> observation::Model {
        let observed_at = chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(365);
        observation::Model {
            id: 0,
            metric_id: 1,
            agency_id,
            observed_at,
            period_start: period_start.then_some(observed_at),
            synthetic: false,
        }
    }

    #[test]
    fn a_table_is_written_with_one_statement_text_whatever_its_rows_and_nulls() {
        let one = unnest(&[observation(Some(7), true)], &["id"], true).unwrap();
        let mixed = [observation(None, false), observation(Some(8), true)];
        let two = unnest(&mixed, &["id"], true).unwrap();
        assert_eq!(one.sql, two.sql);
        assert!(!one.sql.contains("\"id\""), "{}", one.sql);
        // metric, agency and whether null, instant, period start and whether null, synthetic.
        let values = two.values.unwrap().0;
        assert_eq!(values.len(), 7, "{}", two.sql);
        let nulls = |at: usize| match &values[at] {
            Value::Array(ArrayType::Bool, Some(flags)) => flags.to_vec(),
            other => panic!("not flags: {other:?}"),
        };
        assert_eq!(nulls(2), [Value::from(true), Value::from(false)]);
        assert_eq!(nulls(5), [Value::from(true), Value::from(false)]);
    }
}
