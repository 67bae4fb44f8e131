//! What the CloudTrail and OCSF sources need of a dialect beyond the native source: JSON
//! held as text, lists (of resources) and turning one record into one row per resource.

use super::dialect::Dialect;

impl Dialect {
    /// The text at `path` (`$.a.b`) of the JSON text `doc`, when it is a JSON string
    /// (DuckDB; Trino and Spark also give a number or true/false as text); else NULL.
    pub fn json_text(self, doc: &str, path: &str) -> String {
        let path = self.quote(path);
        match self {
            Dialect::Duckdb => format!(
                "CASE WHEN json_type({doc}, {path}) = 'VARCHAR' THEN json_extract_string({doc}, {path}) END"
            ),
            Dialect::Trino => format!("json_extract_scalar({doc}, {path})"),
            Dialect::Spark => format!("get_json_object({doc}, {path})"),
        }
    }

    /// Whether the value at `path` of the JSON text `doc` is JSON `true`.
    pub fn json_true(self, doc: &str, path: &str) -> String {
        let path = self.quote(path);
        match self {
            Dialect::Duckdb => {
                format!("coalesce(CAST(json_extract({doc}, {path}) AS VARCHAR) = 'true', FALSE)")
            }
            Dialect::Trino => {
                format!("coalesce(json_format(json_extract({doc}, {path})) = 'true', FALSE)")
            }
            Dialect::Spark => format!("coalesce(get_json_object({doc}, {path}) = 'true', FALSE)"),
        }
    }

    /// The non-NULL `key` text of each object of the JSON list at `path` of `doc`.
    pub fn json_texts(self, doc: &str, path: &str, key: &str) -> String {
        let list = match self {
            Dialect::Duckdb => format!(
                "CAST(json_extract_string({doc}, {}) AS VARCHAR[])",
                self.quote(&format!("{path}[*].{key}"))
            ),
            Dialect::Trino => format!(
                "transform(TRY_CAST(json_extract({doc}, {}) AS ARRAY(JSON)), x -> json_extract_scalar(x, {}))",
                self.quote(path),
                self.quote(&format!("$.{key}"))
            ),
            Dialect::Spark => format!(
                "from_json(get_json_object({doc}, {}), 'array<struct<{key}:string>>').{key}",
                self.quote(path)
            ),
        };
        self.non_null(&list)
    }

    /// `field` of each struct of the list `list` (a column), the NULLs left out.
    pub fn fields_of(self, list: &str, field: &str) -> String {
        let each = match self {
            Dialect::Duckdb => format!("list_transform({list}, lambda r: r.{field})"),
            Dialect::Trino | Dialect::Spark => format!("transform({list}, r -> r.{field})"),
        };
        self.non_null(&each)
    }

    /// The list without its NULLs (an empty list for a NULL one).
    fn non_null(self, list: &str) -> String {
        match self {
            Dialect::Duckdb => format!(
                "coalesce(list_filter({list}, lambda x: x IS NOT NULL), CAST([] AS VARCHAR[]))"
            ),
            Dialect::Trino => format!(
                "coalesce(filter({list}, x -> x IS NOT NULL), CAST(ARRAY[] AS ARRAY(VARCHAR)))"
            ),
            Dialect::Spark => format!(
                "coalesce(filter({list}, x -> x IS NOT NULL), CAST(array() AS ARRAY<STRING>))"
            ),
        }
    }

    /// The `n`th item (from 1) of a list, NULL past its end.
    pub fn item(self, list: &str, n: &str) -> String {
        match self {
            Dialect::Duckdb => format!("({list})[{n}]"),
            Dialect::Trino => format!("element_at({list}, {n})"),
            Dialect::Spark => format!("try_element_at({list}, {n})"),
        }
    }

    /// How many items a list has.
    pub fn length(self, list: &str) -> String {
        match self {
            Dialect::Duckdb => format!("len({list})"),
            Dialect::Trino => format!("cardinality({list})"),
            Dialect::Spark => format!("size({list})"),
        }
    }

    /// The text after the last `sep` of `text` (all of it without one).
    pub fn last_part(self, text: &str, sep: &str) -> String {
        let sep = self.quote(sep);
        match self {
            Dialect::Duckdb => format!("split({text}, {sep})[-1]"),
            Dialect::Trino | Dialect::Spark => format!("element_at(split({text}, {sep}), -1)"),
        }
    }

    /// `FROM table AS alias` joined to the positions 1 to max(length of `list`, 1), as
    /// column `pos`: one row per item of the list, and one for an empty list.
    pub fn each_position(self, table: &str, alias: &str, list: &str) -> String {
        let n = format!("greatest({}, 1)", self.length(&format!("{alias}.{list}")));
        match self {
            Dialect::Duckdb => {
                format!("{table} AS {alias}, generate_series(1, {n}) AS positions(pos)")
            }
            Dialect::Trino => {
                format!("{table} AS {alias} CROSS JOIN UNNEST(sequence(1, {n})) AS positions(pos)")
            }
            Dialect::Spark => {
                format!(
                    "{table} AS {alias} LATERAL VIEW explode(sequence(1, {n})) positions AS pos"
                )
            }
        }
    }

    /// A column name that is also a keyword (`timestamp`), quoted.
    pub fn ident(self, name: &str) -> String {
        match self {
            Dialect::Spark => format!("`{name}`"),
            Dialect::Duckdb | Dialect::Trino => format!("\"{name}\""),
        }
    }

    /// Whether all of `text` matches the regular expression `re`.
    pub fn regex_full(self, text: &str, re: &str) -> String {
        let re = self.quote(&format!("^{re}$"));
        match self {
            Dialect::Duckdb => format!("regexp_matches({text}, {re})"),
            Dialect::Trino => format!("regexp_like({text}, {re})"),
            Dialect::Spark => format!("({text} RLIKE {re})"),
        }
    }

    /// The value of `key` in the map `map`, NULL without it.
    pub fn map_value(self, map: &str, key: &str) -> String {
        let key = self.quote(key);
        match self {
            Dialect::Duckdb => format!("{map}[{key}]"),
            Dialect::Trino => format!("element_at({map}, {key})"),
            Dialect::Spark => format!("try_element_at({map}, {key})"),
        }
    }
}
