//! TMF630 list queries over billing's own relational tables (bills, applied rates, on-demand requests).
//!
//! The TMF documents of those resources are rendered from rows, so the shared store's JSONB filtering does not
//! apply. Instead each resource declares the attributes a client may filter and sort on and the column (a
//! fixed SQL expression written in this crate) each maps to; values are parsed to the column's type and bound,
//! never spliced. Anything else — an unknown attribute, a value of the wrong type — is a 400 naming it.
//! Parsing (`offset`, `limit`, `fields`, `sort`, operators) is the shared `bss_tmf::query`.

use bss_common::ApiError;
use bss_tmf::query::{self, ListQuery, Op, Paging};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::{Postgres, QueryBuilder};

/// The 200 of a read by id: the document, projected to `fields=` when the query asks.
pub fn single(document: Value, query: &ListQuery) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(match &query.fields {
        Some(fields) => query::project(document, fields),
        None => document,
    })
}

/// The SQL type of a listable attribute's column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Boolean,
    Date,
    Timestamp,
}

/// One attribute a list can filter and sort on.
#[derive(Debug, Clone, Copy)]
pub struct Attribute {
    /// The TMF attribute path, dot notation (`billingAccount.id`).
    pub path: &'static str,
    /// The SQL expression it maps to (a column of the listed table).
    pub column: &'static str,
    pub ty: ColumnType,
}

/// A listable relational resource.
#[derive(Debug)]
pub struct Listing {
    /// `FROM …` clause (a table name of this crate).
    pub from: &'static str,
    /// The id column, selected by the page query and the last sort key.
    pub id: &'static str,
    pub attributes: &'static [Attribute],
    /// The order when `sort` is absent, e.g. `last_update DESC`.
    pub default_order: &'static str,
    pub paging: Paging,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message.into())
}

impl Listing {
    fn attribute(&self, path: &[String]) -> Result<&Attribute, ApiError> {
        let name = path.join(".");
        self.attributes
            .iter()
            .find(|a| a.path == name)
            .ok_or_else(|| bad(format!("'{name}' cannot be filtered or sorted on here.")))
    }

    /// Parses the request's query string with this listing's paging.
    pub fn parse(&self, raw: &str) -> Result<ListQuery, ApiError> {
        query::parse_list_query(raw, self.paging).map_err(|e| bad(e.to_string()))
    }

    fn push_where(&self, builder: &mut QueryBuilder<Postgres>, query: &ListQuery) -> Result<(), ApiError> {
        builder.push(" WHERE true");
        for filter in &query.filters {
            let attribute = self.attribute(&filter.path)?;
            let op = match filter.op {
                Op::Eq => "=",
                Op::Gt => ">",
                Op::Gte => ">=",
                Op::Lt => "<",
                Op::Lte => "<=",
            };
            builder.push(" AND ").push(attribute.column).push(" ").push(op).push(" ANY(");
            let invalid = |value: &str| bad(format!("'{value}' is not a valid value for '{}'.", attribute.path));
            match attribute.ty {
                ColumnType::Text => {
                    builder.push_bind(filter.values.clone());
                }
                ColumnType::Boolean => {
                    let values = filter
                        .values
                        .iter()
                        .map(|v| match v.as_str() {
                            "true" => Ok(true),
                            "false" => Ok(false),
                            other => Err(invalid(other)),
                        })
                        .collect::<Result<Vec<bool>, _>>()?;
                    builder.push_bind(values);
                }
                ColumnType::Date => {
                    let values = filter
                        .values
                        .iter()
                        .map(|v| {
                            v.parse::<NaiveDate>()
                                .or_else(|_| DateTime::parse_from_rfc3339(v).map(|t| t.date_naive()))
                                .map_err(|_| invalid(v))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    builder.push_bind(values);
                }
                ColumnType::Timestamp => {
                    let values = filter
                        .values
                        .iter()
                        .map(|v| DateTime::parse_from_rfc3339(v).map(|t| t.with_timezone(&Utc)).map_err(|_| invalid(v)))
                        .collect::<Result<Vec<_>, _>>()?;
                    builder.push_bind(values);
                }
            }
            builder.push(")");
        }
        Ok(())
    }

    /// How many rows match the query, and the ids of the page asked for, in order.
    pub async fn page_ids(&self, db: &sqlx::PgPool, query: &ListQuery) -> Result<(i64, Vec<uuid::Uuid>), ApiError> {
        let total: i64 = self.count_query(query)?.build_query_scalar().fetch_one(db).await?;
        let ids = self.page_query(query)?.build_query_scalar().fetch_all(db).await?;
        Ok((total, ids))
    }

    /// `SELECT count(*) …` of the filters.
    pub fn count_query(&self, query: &ListQuery) -> Result<QueryBuilder<Postgres>, ApiError> {
        let mut builder = QueryBuilder::new("SELECT count(*) FROM ");
        builder.push(self.from);
        self.push_where(&mut builder, query)?;
        Ok(builder)
    }

    /// `SELECT <id> …` of one page, sorted (`sort=` keys, then the id so pages are stable).
    pub fn page_query(&self, query: &ListQuery) -> Result<QueryBuilder<Postgres>, ApiError> {
        let mut builder = QueryBuilder::new("SELECT ");
        builder.push(self.id).push(" FROM ").push(self.from);
        self.push_where(&mut builder, query)?;
        builder.push(" ORDER BY ");
        if query.sort.is_empty() {
            builder.push(self.default_order);
        }
        for (i, key) in query.sort.iter().enumerate() {
            let attribute = self.attribute(&key.path)?;
            if i > 0 {
                builder.push(", ");
            }
            builder.push(attribute.column).push(if key.descending { " DESC" } else { " ASC" });
        }
        builder.push(", ").push(self.id);
        builder.push(" LIMIT ").push_bind(i64::from(query.limit)).push(" OFFSET ").push_bind(i64::from(query.offset));
        Ok(builder)
    }
}
