//! `information_schema` tables as subqueries over SQLite's schema.
//!
//! A reference to `information_schema.TABLES` (or COLUMNS, STATISTICS, KEY_COLUMN_USAGE,
//! REFERENTIAL_CONSTRAINTS, SCHEMATA, VIEWS) is replaced by a derived table with MySQL's
//! column names, computed from `sqlite_master` and the `pragma_*` table-valued functions of the
//! current database. Any query over them then works unchanged: WordPress's site-health size
//! query, Laravel's `hasTable`, `getColumns`, `getIndexes` and `getForeignKeys`.
//!
//! Only the current database is described (`TABLE_SCHEMA` is `database()`). Sizes and row
//! counts are 0; constraint names of foreign keys follow MySQL's `<table>_ibfk_<n>` scheme
//! because SQLite does not report them. MySQL types come from the user functions
//! `mysql_column_type`, `mysql_data_type` and `mysql_column_default` (see `USER_FUNCTIONS`).

use sqlparser::ast::{ObjectNamePart, Query, TableAlias, TableFactor};
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;

use super::error::TranslateError;
use super::names::{self, visible_table_condition};

/// The schema name MySQL reserves for its catalog.
pub(crate) const SCHEMA: &str = "information_schema";

/// Replaces `factor` with a subquery when it names an `information_schema` table.
pub(crate) fn replace_table(factor: &mut TableFactor) -> Result<(), TranslateError> {
    let TableFactor::Table { name, alias, .. } = factor else {
        return Ok(());
    };
    let [ObjectNamePart::Identifier(schema), ObjectNamePart::Identifier(table)] = name.0.as_slice()
    else {
        return Ok(());
    };
    if !schema.value.eq_ignore_ascii_case(SCHEMA) {
        return Ok(());
    }
    let subquery = table_query(&table.value)?;
    let alias = alias.take().unwrap_or_else(|| TableAlias {
        explicit: true,
        name: names::ident(&table.value),
        columns: Vec::new(),
        at: None,
    });
    *factor = TableFactor::Derived {
        lateral: false,
        subquery,
        alias: Some(alias),
        sample: None,
    };
    Ok(())
}

fn table_query(table: &str) -> Result<Box<Query>, TranslateError> {
    let sql = match table.to_ascii_uppercase().as_str() {
        "TABLES" => tables(),
        "COLUMNS" => columns(),
        "STATISTICS" => statistics(),
        "KEY_COLUMN_USAGE" => key_column_usage(),
        "REFERENTIAL_CONSTRAINTS" => referential_constraints(),
        "SCHEMATA" => schemata(),
        "VIEWS" => views(),
        _ => return Err(TranslateError::UnknownSystemTable(table.to_owned())),
    };
    Parser::new(&SQLiteDialect {})
        .try_with_sql(&sql)
        .and_then(|mut parser| parser.parse_query())
        .map_err(|_| TranslateError::UnknownSystemTable(table.to_owned()))
}

/// `FROM sqlite_master AS m` restricted to what MySQL clients may see, of `types`.
fn schema_objects(types: &str) -> String {
    format!(
        "FROM sqlite_master AS m WHERE m.type IN ({types}) AND {}",
        visible_table_condition("m.name")
    )
}

fn tables() -> String {
    format!(
        "SELECT 'def' AS TABLE_CATALOG, database() AS TABLE_SCHEMA, m.name AS TABLE_NAME, \
         CASE m.type WHEN 'view' THEN 'VIEW' ELSE 'BASE TABLE' END AS TABLE_TYPE, \
         CASE m.type WHEN 'view' THEN NULL ELSE 'InnoDB' END AS ENGINE, 10 AS VERSION, \
         'Dynamic' AS ROW_FORMAT, 0 AS TABLE_ROWS, 0 AS AVG_ROW_LENGTH, 0 AS DATA_LENGTH, \
         0 AS MAX_DATA_LENGTH, 0 AS INDEX_LENGTH, 0 AS DATA_FREE, NULL AS AUTO_INCREMENT, \
         NULL AS CREATE_TIME, NULL AS UPDATE_TIME, NULL AS CHECK_TIME, \
         'utf8mb4_unicode_ci' AS TABLE_COLLATION, NULL AS CHECKSUM, '' AS CREATE_OPTIONS, \
         '' AS TABLE_COMMENT {}",
        schema_objects("'table', 'view'")
    )
}

/// True (in SQL) for the rowid alias of a table: its only primary-key column, typed INTEGER.
const ROWID_ALIAS: &str = "(p.pk = 1 AND upper(p.type) = 'INTEGER' AND \
     (SELECT count(*) FROM pragma_table_info(m.name) AS k WHERE k.pk > 0) = 1)";

fn columns() -> String {
    let text = "mysql_data_type(p.type, 0) IN \
         ('char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set')";
    format!(
        "SELECT 'def' AS TABLE_CATALOG, database() AS TABLE_SCHEMA, m.name AS TABLE_NAME, \
         p.name AS COLUMN_NAME, p.cid + 1 AS ORDINAL_POSITION, \
         mysql_column_default(p.dflt_value) AS COLUMN_DEFAULT, \
         CASE WHEN p.\"notnull\" OR p.pk > 0 THEN 'NO' ELSE 'YES' END AS IS_NULLABLE, \
         mysql_data_type(p.type, {ROWID_ALIAS}) AS DATA_TYPE, \
         NULL AS CHARACTER_MAXIMUM_LENGTH, NULL AS CHARACTER_OCTET_LENGTH, \
         NULL AS NUMERIC_PRECISION, NULL AS NUMERIC_SCALE, NULL AS DATETIME_PRECISION, \
         CASE WHEN {text} THEN 'utf8mb4' END AS CHARACTER_SET_NAME, \
         CASE WHEN {text} THEN 'utf8mb4_unicode_ci' END AS COLLATION_NAME, \
         mysql_column_type(p.type, {ROWID_ALIAS}) AS COLUMN_TYPE, \
         CASE WHEN p.pk > 0 THEN 'PRI' ELSE '' END AS COLUMN_KEY, \
         CASE WHEN {ROWID_ALIAS} THEN 'auto_increment' ELSE '' END AS EXTRA, \
         'select,insert,update,references' AS PRIVILEGES, '' AS COLUMN_COMMENT, \
         '' AS GENERATION_EXPRESSION, NULL AS SRS_ID \
         FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p \
         WHERE m.type IN ('table', 'view') AND {}",
        visible_table_condition("m.name")
    )
}

fn statistics() -> String {
    let index_name = "CASE WHEN il.origin = 'pk' THEN 'PRIMARY' \
         WHEN substr(il.name, 1, length(m.name) + 2) = m.name || '__' \
         THEN substr(il.name, length(m.name) + 3) ELSE il.name END";
    let visible = visible_table_condition("m.name");
    format!(
        "SELECT 'def' AS TABLE_CATALOG, database() AS TABLE_SCHEMA, m.name AS TABLE_NAME, \
         CASE WHEN il.\"unique\" THEN 0 ELSE 1 END AS NON_UNIQUE, database() AS INDEX_SCHEMA, \
         {index_name} AS INDEX_NAME, ii.seqno + 1 AS SEQ_IN_INDEX, ii.name AS COLUMN_NAME, \
         'A' AS COLLATION, 0 AS CARDINALITY, NULL AS SUB_PART, NULL AS PACKED, '' AS NULLABLE, \
         'BTREE' AS INDEX_TYPE, '' AS COMMENT, '' AS INDEX_COMMENT, 'YES' AS IS_VISIBLE, \
         NULL AS EXPRESSION \
         FROM sqlite_master AS m JOIN pragma_index_list(m.name) AS il \
         JOIN pragma_index_info(il.name) AS ii WHERE m.type = 'table' AND {visible} \
         UNION ALL \
         SELECT 'def', database(), m.name, 0, database(), 'PRIMARY', p.pk, p.name, 'A', 0, \
         NULL, NULL, '', 'BTREE', '', '', 'YES', NULL \
         FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p \
         WHERE m.type = 'table' AND {visible} AND p.pk > 0 AND NOT EXISTS \
         (SELECT 1 FROM pragma_index_list(m.name) AS x WHERE x.origin = 'pk')"
    )
}

const FOREIGN_KEY_NAME: &str = "m.name || '_ibfk_' || (f.id + 1)";

fn key_column_usage() -> String {
    format!(
        "SELECT 'def' AS CONSTRAINT_CATALOG, database() AS CONSTRAINT_SCHEMA, \
         {FOREIGN_KEY_NAME} AS CONSTRAINT_NAME, 'def' AS TABLE_CATALOG, \
         database() AS TABLE_SCHEMA, m.name AS TABLE_NAME, f.\"from\" AS COLUMN_NAME, \
         f.seq + 1 AS ORDINAL_POSITION, f.seq + 1 AS POSITION_IN_UNIQUE_CONSTRAINT, \
         database() AS REFERENCED_TABLE_SCHEMA, f.\"table\" AS REFERENCED_TABLE_NAME, \
         f.\"to\" AS REFERENCED_COLUMN_NAME \
         FROM sqlite_master AS m JOIN pragma_foreign_key_list(m.name) AS f \
         WHERE m.type = 'table' AND {}",
        visible_table_condition("m.name")
    )
}

fn referential_constraints() -> String {
    format!(
        "SELECT 'def' AS CONSTRAINT_CATALOG, database() AS CONSTRAINT_SCHEMA, \
         {FOREIGN_KEY_NAME} AS CONSTRAINT_NAME, 'def' AS UNIQUE_CONSTRAINT_CATALOG, \
         database() AS UNIQUE_CONSTRAINT_SCHEMA, 'PRIMARY' AS UNIQUE_CONSTRAINT_NAME, \
         'NONE' AS MATCH_OPTION, f.on_update AS UPDATE_RULE, f.on_delete AS DELETE_RULE, \
         m.name AS TABLE_NAME, f.\"table\" AS REFERENCED_TABLE_NAME \
         FROM sqlite_master AS m JOIN pragma_foreign_key_list(m.name) AS f \
         WHERE m.type = 'table' AND f.seq = 0 AND {}",
        visible_table_condition("m.name")
    )
}

fn schemata() -> String {
    "SELECT 'def' AS CATALOG_NAME, s.name AS SCHEMA_NAME, \
     'utf8mb4' AS DEFAULT_CHARACTER_SET_NAME, 'utf8mb4_unicode_ci' AS DEFAULT_COLLATION_NAME, \
     NULL AS SQL_PATH, 'NO' AS DEFAULT_ENCRYPTION \
     FROM (SELECT database() AS name UNION ALL SELECT 'information_schema') AS s \
     WHERE s.name IS NOT NULL"
        .to_owned()
}

fn views() -> String {
    format!(
        "SELECT 'def' AS TABLE_CATALOG, database() AS TABLE_SCHEMA, m.name AS TABLE_NAME, \
         substr(m.sql, instr(upper(m.sql), ' AS ') + 4) AS VIEW_DEFINITION, \
         'NONE' AS CHECK_OPTION, 'NO' AS IS_UPDATABLE, 'root@localhost' AS DEFINER, \
         'DEFINER' AS SECURITY_TYPE, 'utf8mb4' AS CHARACTER_SET_CLIENT, \
         'utf8mb4_unicode_ci' AS COLLATION_CONNECTION {}",
        schema_objects("'view'")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_emulated_table_parses() {
        for table in [
            "TABLES",
            "columns",
            "STATISTICS",
            "KEY_COLUMN_USAGE",
            "REFERENTIAL_CONSTRAINTS",
            "SCHEMATA",
            "VIEWS",
        ] {
            assert!(table_query(table).is_ok(), "{table}");
        }
        assert_eq!(
            table_query("ROUTINES").unwrap_err(),
            TranslateError::UnknownSystemTable("ROUTINES".into())
        );
    }
}
